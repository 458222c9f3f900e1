package ref

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// TestLogSumExpAgainstBigFloat checks Precise LogSumExp where m + log Σ
// cancels, down to results of 2^-40 of log Σ, and with log Σ itself tiny
// (log-probabilities of a confident classifier, which a DD 1 + rest rounds
// at 2^-106 of 1: 1728 float32 ULPs off before Log1p).
func TestLogSumExpAgainstBigFloat(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var rows [][]float64
	for i := range 200 {
		a := -12 - 75*rng.Float64() // the other class's log-probability, about
		if i%2 == 0 {
			a = float64(float32(a))
		}
		m := -math.Log1p(math.Exp(a))
		if i%4 < 2 {
			m = float64(float32(m))
		}
		rows = append(rows, []float64{m, a})
	}
	for i := range 200 {
		n := 2 + i%6
		x := make([]float64, n)
		for j := range x {
			x[j] = -rng.Float64() * 15
		}
		x[0] = 0
		_, l := BigLogSumExp(x)
		lf, _ := l.Float64()
		shift := lf * (1 - math.Ldexp(rng.Float64(), -(i%40)))
		for j := range x {
			x[j] -= shift
		}
		rows = append(rows, x)
	}
	for _, x := range rows {
		r, l := BigLogSumExp(x)
		got := LogSumExp(x, Precise)
		lf, _ := l.Float64()
		d := new(big.Float).Sub(bf(got), r)
		df, _ := d.Float64()
		rf, _ := r.Float64()
		// A float64 rounding of r plus 2^-90 of log Σ.
		if bound := 0.5*math.Abs(rf)*0x1p-52 + lf*0x1p-90; math.Abs(df) > bound {
			t.Fatalf("LogSumExp(%v) = %v, want %v (off by %g, %s the bound)", x, got, rf, df, fmt.Sprintf("%.1fx", math.Abs(df)/bound))
		}
	}
}

// TestSumOfCancelling: the backward references' Σ dy is within 2^-64 of
// the exact sum where the terms cancel: an audit's dy
// (2^100 + 2^40 + 2^-20 − 2^100 − 2^40, 0 in a sequential double-double)
// and rows whose binades' double-double adds drop the smallest part
// (found by a random search: 2^-20 lost), against math/big.
func TestSumOfCancelling(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	rows := [][]float64{
		{0x1p100, 0x1p40, 0x1p-20, -0x1p100, -0x1p40},
		{-9.5367431640625e-07, 2.0625, 4.6116860184273715e+18, -2.787593149816328e+42, 1.2676506002282294e+30, 2.7875931498150602e+42},
		{-2.305843009213694e+18, -9.536743164053826e-07, -5.070602400912918e+30, 4, -4.467570830351532e+18, 5.070602400919691e+30},
	}
	for range 300 {
		n := 2 + rng.IntN(40)
		v := make([]float64, n)
		for i := range v {
			v[i] = math.Ldexp(float64(float32(rng.Float64()+0.5)), rng.IntN(300)-150)
			if i%3 == 2 {
				v[i] = -v[i-1] - v[i-2]*float64(rng.IntN(2))
			}
		}
		rng.Shuffle(n, func(i, j int) { v[i], v[j] = v[j], v[i] })
		rows = append(rows, v)
	}
	for _, v := range rows {
		exact := new(big.Float).SetPrec(4096)
		for _, x := range v {
			exact.Add(exact, new(big.Float).SetFloat64(x))
		}
		got := sumOf(v)
		d := new(big.Float).SetPrec(4096).Sub(exact, new(big.Float).SetFloat64(got.Hi))
		d.Sub(d, new(big.Float).SetFloat64(got.Lo))
		e, _ := d.Float64()
		want, _ := exact.Float64()
		if math.Abs(e) > 0x1p-64*math.Abs(want) {
			t.Fatalf("sumOf(%v) = %v + %v, exact %v", v, got.Hi, got.Lo, want)
		}
	}
}
