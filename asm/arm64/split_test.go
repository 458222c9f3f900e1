package main

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// splitMax is the kernel's split of m (expSumKernel's prologue).
func splitMax(m float32) (mh, ml float32) {
	mh = m
	if float32(math.Abs(float64(m))) < splitMax32[0] {
		mh = float32(math.Trunc(float64(m*splitMax32[1]))) * splitMax32[2]
	}
	return mh, m - mh
}

// TestSplitMaxExact checks the identity expSum's reduction rests on: with
// s = fl(x − mh), z = fl(s + mh), lo = fl(x − z), s + lo = x − mh exactly,
// and ml = m − mh exactly, for every x with x − m above the exp cutoff, x
// <= m: edge binades of x and m, and random ones with every mantissa bit.
func TestSplitMaxExact(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	exact := func(vs ...float32) *big.Float {
		s := new(big.Float).SetPrec(600)
		for _, v := range vs {
			s.Add(s, new(big.Float).SetPrec(600).SetFloat64(float64(v)))
		}
		return s
	}
	var ms []float32
	for _, m := range []float32{0, 1e-40, -1e-40, 1e-30, 0x1p-16, 0x1.fffffep-17, 1, -1, 87.3, -87.3, 127.99999, -127.99999, 128, -128, 128.00002, 200, -200, 3e38, -3e38, 0x1.fffffep6, -0x1.fffffep6} {
		ms = append(ms, m)
	}
	for range 3000 {
		ms = append(ms, float32(r.NormFloat64()*math.Pow(2, float64(r.IntN(12)-4))))
	}
	checked := 0
	for _, m := range ms {
		mh, ml := splitMax(m)
		if exact(mh, ml).Cmp(exact(m)) != 0 {
			t.Fatalf("split(%v) = %v + %v", m, mh, ml)
		}
		xs := []float32{m, math.Nextafter32(m, float32(math.Inf(-1)))}
		for range 200 {
			d := -r.Float64() * 87.4
			if r.IntN(4) == 0 {
				d = -r.Float64() * math.Pow(2, -float64(r.IntN(30)))
			}
			x := float32(float64(m) + d)
			if x > m {
				x = m
			}
			// Random low bits, and the binade edges of x.
			xs = append(xs, x, math.Float32frombits(math.Float32bits(x)^uint32(r.IntN(256))))
			if e := math.Floor(math.Log2(math.Abs(float64(x)))); !math.IsInf(e, 0) {
				p := float32(math.Copysign(math.Pow(2, e), float64(x)))
				xs = append(xs, p, math.Nextafter32(p, 0), math.Nextafter32(p, float32(math.Inf(1))))
			}
		}
		for _, x := range xs {
			if x > m || float64(x)-float64(m) < -87.34 || x != x {
				continue
			}
			s := x - mh
			z := s + mh
			lo := x - z
			if exact(s, lo).Cmp(exact(x, -mh)) != 0 {
				t.Fatalf("m=%v (mh %v) x=%v: s=%v lo=%v, s+lo != x−mh", m, mh, x, s, lo)
			}
			checked++
		}
	}
	t.Logf("%d (x, m) pairs exact", checked)
}
