//go:build !purego

package softmax

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/gosimd/softmax/internal/guard"
	"github.com/gosimd/softmax/internal/ulp"
	"github.com/klauspost/cpuid/v2"
)

// Kernel-level tests of the amd64 sets against the generic kernels and a
// float64 reference: every length 0..300 and larger ones, every start
// offset 0..15, data against guard pages on both sides, in place, special
// values. They run each set the CPU supports, and in full runs the avx512
// set under the interpreter where the CPU lacks it (emuset_amd64_test.go).

// amdSets are the amd64 SIMD sets this CPU runs, and the interpreted
// avx512 set where it has no AVX-512.
func amdSets() []*kernels[float32] { return append(archSets32(), emuSets32()...) }

func forAMDSets(t *testing.T, f func(t *testing.T, k *kernels[float32])) {
	sets := amdSets()
	if len(sets) == 0 {
		t.Skip("no AVX2/AVX-512 on this CPU")
	}
	for _, k := range sets {
		t.Run("impl="+k.name, func(t *testing.T) { f(t, k) })
	}
}

// kworst records the worst ULP error per set and kernel.
var kworst = struct {
	sync.Mutex
	m map[string]float64
}{m: map[string]float64{}}

func krecord(k *kernels[float32], kernel string, e float64) {
	key := k.name + "." + kernel
	kworst.Lock()
	if e > kworst.m[key] {
		kworst.m[key] = e
	}
	kworst.Unlock()
}

// kernelLens: every length 0..300, powers of two ±1 up to 2^16.
func kernelLens(short bool) []int {
	var ns []int
	for n := 0; n <= 300; n++ {
		ns = append(ns, n)
	}
	top := 16
	if short {
		top = 12
	}
	for e := 9; e <= top; e++ {
		ns = append(ns, 1<<e-1, 1<<e, 1<<e+1)
	}
	return ns
}

// errULP is ulp.Err32, stricter at zero: a kernel must give exactly 0
// where the reference is 0 (masked entries, the exp cutoff).
func errULP(got float32, want float64) float64 {
	if want == 0 && got != 0 {
		return math.Inf(1)
	}
	return ulp.Err32(got, want)
}

// place copies v into a buffer at element offset off (0..15) whose end
// touches a guard page, or whose start does (front), so any access outside
// the slice faults.
func place(t *testing.T, v []float32, off int, front bool) []float32 {
	if !guard.Supported {
		s := make([]float32, len(v)+off)[off:]
		copy(s, v)
		return s
	}
	var s []float32
	var free func()
	if front {
		s, free = guard.Slice[float32](len(v)+off, false)
		s = s[off:]
	} else {
		s, free = guard.Slice[float32](len(v)+off, true)
		s = s[:len(v)]
	}
	t.Cleanup(free)
	copy(s, v)
	return s
}

func logits32(rng *rand.Rand, n int, sigma, mean float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(mean + sigma*rng.NormFloat64())
	}
	return x
}

var kspreads = []struct{ sigma, mean float64 }{{0.1, 0}, {1, 50}, {4, -50}, {30, 0}, {30, 50}, {1e-3, 1}}

func TestKernelMax(t *testing.T) {
	forAMDSets(t, func(t *testing.T, k *kernels[float32]) {
		rng := rand.New(rand.NewPCG(1, 2))
		for _, n := range kernelLens(testing.Short()) {
			for off := 0; off < 16; off += 1 + 4*(n/64) {
				x := logits32(rng, n, 10, -20)
				if n > 0 && rng.IntN(2) == 0 {
					x[rng.IntN(n)] = 1e30 // max anywhere, also in tails
				}
				if n > 0 && rng.IntN(2) == 0 {
					x[rng.IntN(n)] = -1e30 // min anywhere, also in tails
				}
				for _, front := range []bool{false, true} {
					xs := place(t, x, off, front)
					g := k.max(xs)
					if w := maxGeneric(x); g != w {
						t.Fatalf("n=%d off=%d: max %v, want %v", n, off, g, w)
					}
					checkMaxMin(t, k, xs, fmt.Sprintf("n=%d off=%d", n, off))
				}
			}
		}
		for _, c := range [][]float32{
			{float32(math.Inf(-1))}, {float32(math.Inf(-1)), -3e38}, {-1e-45}, {0, float32(math.Copysign(0, -1))},
		} {
			if g, w := k.max(c), maxGeneric(c); g != w {
				t.Errorf("max(%v) = %v, want %v", c, g, w)
			}
			checkMaxMin(t, k, c, fmt.Sprint(c))
		}
		// All −Inf, every tail length: −Inf, not the 0 a masked load gives.
		for n := 1; n < 40; n++ {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(math.Inf(-1))
			}
			if g := k.max(x); !math.IsInf(float64(g), -1) {
				t.Fatalf("max of %d × −Inf = %v", n, g)
			}
			checkMaxMin(t, k, x, fmt.Sprintf("%d × −Inf", n))
			for i := range x {
				x[i] = float32(math.Inf(1))
			}
			checkMaxMin(t, k, x, fmt.Sprintf("%d × +Inf", n))
		}
		checkMaxMin(t, k, nil, "empty")
		// A NaN may be skipped or returned, nothing else.
		x := []float32{1, float32(math.NaN()), 3, 2}
		if g := k.max(x); g == g && g != 3 {
			t.Errorf("max with NaN = %v", g)
		}
	})
}

// checkMaxMin checks maxMin (when the set has it) against the generic max
// and min, for x without NaN.
func checkMaxMin(t *testing.T, k *kernels[float32], x []float32, what string) {
	t.Helper()
	if k.maxMin == nil {
		return
	}
	wmin := float32(math.Inf(1))
	for _, v := range x {
		wmin = min(wmin, v)
	}
	gmax, gmin := k.maxMin(x)
	if wmax := maxGeneric(x); gmax != wmax || gmin != wmin {
		t.Fatalf("%s: maxMin = %v, %v, want %v, %v", what, gmax, gmin, wmax, wmin)
	}
}

// expRef is the exact exp(x − m) with the float32 cutoff, in float64.
func expRef(x, m float32) float64 {
	d := float64(x) - float64(m)
	if d < expCutoff32 {
		return 0
	}
	return math.Exp(d)
}

// checkExpSum runs expSum with and without a store and checks every e[i],
// the split sum and which outputs are 0 / NaN against generic.
func checkExpSum(t *testing.T, k *kernels[float32], x []float32, m float32, off int, what string) {
	t.Helper()
	n := len(x)
	xs := place(t, x, off, off%2 == 1)
	dst := place(t, make([]float32, n), (off+3)%16, off%2 == 0)
	rest, ones := k.expSum(dst, xs, m)
	rest2, ones2 := k.expSum(nil, xs, m)
	if !same64(rest, rest2) || ones != ones2 {
		t.Fatalf("%s: store and no-store differ: (%v,%v) vs (%v,%v)", what, rest, ones, rest2, ones2)
	}
	gd := make([]float32, n)
	grest, gones := generic32.expSum(gd, x, m)
	// ones counts at least the x[i] == m (e = 1) and at most the e[i]
	// that round to 1 (generic's count); rest is the exact sum of the others.
	var want, wantRest, eqs float64
	nan := false
	worst := 0.0
	for i := range x {
		e := expRef(x[i], m)
		if x[i] != x[i] {
			e, nan = math.NaN(), true
		}
		want += e
		if x[i] == m {
			eqs++
		} else {
			wantRest += e
		}
		if (dst[i] == 0) != (gd[i] == 0) || (dst[i] != dst[i]) != (gd[i] != gd[i]) {
			t.Fatalf("%s: e[%d] = %v, generic %v (x=%v m=%v)", what, i, dst[i], gd[i], x[i], m)
		}
		if err := errULP(dst[i], e); err > worst {
			worst = err
			if err > 2.5 {
				t.Fatalf("%s: e[%d] = %v, want %v: %.2f ULP (x=%v m=%v)", what, i, dst[i], e, err, x[i], m)
			}
		}
	}
	krecord(k, "expSum e[i]", worst)
	checkExpSumOnes(t, k, xs, x, m, gd, off, what)
	totals := checkExpSumTotal(t, k, xs, x, m, gd, off, what)
	if nan {
		if rest == rest {
			t.Fatalf("%s: rest = %v with a NaN input", what, rest)
		}
		for _, s := range totals {
			if s == s {
				t.Fatalf("%s: total = %v with a NaN input", what, s)
			}
		}
		return
	}
	if ones < eqs || ones > gones+2 {
		t.Fatalf("%s: ones = %v, want between %v (x == m) and %v (e rounds to 1, generic)", what, ones, eqs, gones)
	}
	wantRest -= ones - eqs // the e that round to 1, if counted as ones
	// The total against the exact sum: the e[i] carry ~1.5 ULP each, the
	// blockwise sum a few units of 2^-24 more.
	s := ones + rest
	if want == 0 {
		if s != 0 {
			t.Fatalf("%s: sum %v, want 0", what, s)
		}
		return
	}
	rel := math.Abs(s-want) / want
	krecord(k, "expSum sum (2^-24 units)", rel/0x1p-24)
	if rel > 0x1p-22 {
		t.Fatalf("%s: sum %v, want %v (rel %.3g); generic %v", what, s, want, rel, grest+gones)
	}
	for _, s := range totals {
		rel := math.Abs(s-want) / want
		if want == 0 {
			rel = s
		}
		krecord(k, "expSumTotal sum (2^-24 units)", rel/0x1p-24)
		if rel > 0x1p-22 {
			t.Fatalf("%s: total %v, want %v (rel %.3g)", what, s, want, rel)
		}
	}
	// rest alone stays accurate when it is tiny next to ones.
	if wantRest > 0 {
		wr := wantRest
		if r := math.Abs(rest-wr) / wr; r > 0x1p-22 {
			t.Fatalf("%s: rest %v, want %v (rel %.3g)", what, rest, wr, r)
		}
	}
}

// checkExpSumOnes runs expSumOnes (when the set has it) with and without
// a store into a guarded dst, with the lower bound unknown (−Inf: the
// cutoff's kernels) and with the row's min (the kernels without it where
// the spread allows): it must take the rows with |m| below tableMaxAbs,
// and with a store every row with a finite m (shifted past it), store
// e[i] = exp(x[i] − m)·f within 1.5 ULP (0 and NaN where generic's gd has
// them), return the same in all four ways (with and without the store
// where both take the row) and store the same bits, count exactly the
// x[i] == m, and sum the others to within 2^-22.
func checkExpSumOnes(t *testing.T, k *kernels[float32], xs, x []float32, m float32, gd []float32, off int, what string) {
	t.Helper()
	if k.expSumOnes == nil {
		return
	}
	n := len(x)
	_, lo := k.maxMin(xs)
	var dst []float32
	var rest, ones, f float64
	for i, l := range []float32{float32(math.Inf(-1)), lo} {
		d := place(t, make([]float32, n), (off+5)%16, off%2 == 0)
		for i := range d {
			d[i] = 12345 // every element must be written
		}
		r1, o1, f1, ok1 := k.expSumOnes(d, xs, m, l)
		r2, o2, f2, ok2 := k.expSumOnes(nil, xs, m, l)
		want1, want2 := finite(m), m < tableMaxAbs && m > -tableMaxAbs
		if ok1 != want1 || ok2 != want2 {
			t.Fatalf("%s: expSumOnes(lo=%v) ok = %v, %v (no store) for m = %v, want %v, %v", what, l, ok1, ok2, m, want1, want2)
		}
		if !ok1 {
			return
		}
		if ok2 && (!same64(r1, r2) || o1 != o2 || f1 != f2) {
			t.Fatalf("%s: expSumOnes(lo=%v) with and without a store: (%v,%v,%v) vs (%v,%v,%v)", what, l, r1, o1, f1, r2, o2, f2)
		}
		if i == 0 {
			dst, rest, ones, f = d, r1, o1, f1
			continue
		}
		if !same64(r1, rest) || o1 != ones || f1 != f {
			t.Fatalf("%s: expSumOnes(lo=%v) = (%v,%v,%v), (%v,%v,%v) with lo=−Inf", what, l, r1, o1, f1, rest, ones, f)
		}
		for i := range d {
			if math.Float32bits(d[i]) != math.Float32bits(dst[i]) && !(d[i] != d[i] && dst[i] != dst[i]) {
				t.Fatalf("%s: expSumOnes e[%d] = %v with lo=%v, %v with lo=−Inf", what, i, d[i], l, dst[i])
			}
		}
	}
	if !(f >= 1 && f <= math.Exp2(0.125)) {
		t.Fatalf("%s: expSumOnes f = %v, want in [1, 2^(1/8)]", what, f)
	}
	var wantRest, eqs float64
	nan := false
	worst := 0.0
	for i := range x {
		if (dst[i] == 0) != (gd[i] == 0) || (dst[i] != dst[i]) != (gd[i] != gd[i]) {
			t.Fatalf("%s: expSumOnes e[%d] = %v, generic %v (x=%v m=%v)", what, i, dst[i], gd[i], x[i], m)
		}
		e := expRef(x[i], m)
		switch {
		case x[i] != x[i]:
			e, nan = math.NaN(), true
		case x[i] == m:
			eqs++
		default:
			wantRest += e
		}
		if err := errULP(dst[i], e*f); err > worst {
			worst = err
			if err > 1.5 {
				t.Fatalf("%s: expSumOnes e[%d] = %v, want %v: %.2f ULP (x=%v m=%v)", what, i, dst[i], e*f, err, x[i], m)
			}
		}
	}
	krecord(k, "expSumOnes e[i]", worst)
	if nan {
		if rest == rest {
			t.Fatalf("%s: expSumOnes rest = %v with a NaN input", what, rest)
		}
		return
	}
	if ones != eqs {
		t.Fatalf("%s: expSumOnes ones = %v, want %v (the x == m)", what, ones, eqs)
	}
	rel := math.Abs(rest - wantRest)
	if wantRest != 0 {
		rel /= wantRest
	}
	krecord(k, "expSumOnes rest (2^-24 units)", rel/0x1p-24)
	if rel > 0x1p-22 {
		t.Fatalf("%s: expSumOnes rest %v, want %v (rel %.3g)", what, rest, wantRest, rel)
	}
}

// checkExpSumTotal runs expSumTotal (when the set has it) on xs with the
// lower bound unknown (−Inf: the cutoff path) and with the row's min from
// maxMin (the no-cutoff path where the spread allows), into a guarded dst,
// and checks every e[i] against the exact exp (its own polynomial: within
// 1.5 ULP), which e are 0 or NaN against generic's gd, and that both paths
// store the same bits. It returns the totals.
func checkExpSumTotal(t *testing.T, k *kernels[float32], xs, x []float32, m float32, gd []float32, off int, what string) []float64 {
	t.Helper()
	if k.expSumTotal == nil {
		return nil
	}
	n := len(x)
	_, lo := k.maxMin(xs)
	var totals []float64
	var first []float32
	worst := 0.0
	for _, l := range []float32{float32(math.Inf(-1)), lo} {
		dst := place(t, make([]float32, n), (off+11)%16, off%2 == 1)
		for i := range dst {
			dst[i] = 12345 // every element must be written
		}
		s, mu := k.expSumTotal(dst, xs, m, l)
		if !(mu > -0x1p-40 && mu <= math.Ln2/8) {
			t.Fatalf("%s: expSumTotal(lo=%v) mu = %v, want in [0, ln2/8]", what, l, mu)
		}
		scale := math.Exp(mu)
		totals = append(totals, s/scale) // the sum of exp(x − m)
		for i := range dst {
			if (dst[i] == 0) != (gd[i] == 0) || (dst[i] != dst[i]) != (gd[i] != gd[i]) {
				t.Fatalf("%s: expSumTotal(lo=%v) e[%d] = %v, generic %v (x=%v m=%v)", what, l, i, dst[i], gd[i], x[i], m)
			}
			e := expRef(x[i], m) * scale
			if x[i] != x[i] {
				e = math.NaN()
			}
			if err := errULP(dst[i], e); err > worst {
				worst = err
				if err > 1.5 {
					t.Fatalf("%s: expSumTotal(lo=%v) e[%d] = %v, want %v: %.2f ULP (x=%v m=%v)", what, l, i, dst[i], e, err, x[i], m)
				}
			}
			if first != nil && math.Float32bits(dst[i]) != math.Float32bits(first[i]) && !(dst[i] != dst[i] && first[i] != first[i]) {
				t.Fatalf("%s: expSumTotal e[%d] = %v with lo=%v, %v with lo=−Inf", what, i, dst[i], l, first[i])
			}
		}
		first = dst
	}
	krecord(k, "expSumTotal e[i]", worst)
	return totals
}

func same64(a, b float64) bool { return a == b || (a != a && b != b) }

func TestKernelExpSum(t *testing.T) {
	forAMDSets(t, func(t *testing.T, k *kernels[float32]) {
		rng := rand.New(rand.NewPCG(3, 4))
		for _, n := range kernelLens(testing.Short()) {
			for _, sp := range kspreads {
				x := logits32(rng, n, sp.sigma, sp.mean)
				off := rng.IntN(16)
				checkExpSum(t, k, x, maxGeneric(x), off, fmt.Sprintf("n=%d σ=%v μ=%v off=%d", n, sp.sigma, sp.mean, off))
			}
		}
	})
}

// TestKernelExpSweep: both exps (expSumTotal's table, expSum's split
// kernels) on every float32 x in [threshold, m] at a stride (997 natively,
// 50000 values per max interpreted), for maxima on both sides of the
// table kernels' limit. Each e within 1.25 ULP, and the spread of their
// relative errors within 3.4·2^-24: p = e/Σe sees one e's error against
// the sum's, so the spread plus the division's half ULP is Softmax's bar.
// (An exhaustive run measured 0.89 ULP and a spread of 2.85 for avx2's
// table exp, and 1.01 and 3.15 for avx512's at stride 41.)
func TestKernelExpSweep(t *testing.T) {
	forAMDSets(t, func(t *testing.T, k *kernels[float32]) {
		for _, m := range []float32{0, 43.21, -175.9, 200} {
			// float32s in order: o(v) counts them from 0 up and down.
			o := func(v float32) int64 {
				b := int64(math.Float32bits(v) & 0x7fffffff)
				if v < 0 {
					return -b
				}
				return b
			}
			from := func(i int64) float32 {
				if i < 0 {
					return -math.Float32frombits(uint32(-i))
				}
				return math.Float32frombits(uint32(i))
			}
			lo, hi := o(expThreshold(m)), o(m)
			stride := int64(997)
			if interpreted(k) {
				stride = (hi-lo)/50000 + 1
			}
			var x []float32
			for i := lo; i <= hi; i += stride {
				x = append(x, from(i))
			}
			x = append(x, m) // m stays the max
			dst := make([]float32, len(x))
			for _, total := range []bool{true, false} {
				mu := 0.0
				if total {
					_, mu = k.expSumTotal(dst, x, m, x[0])
				} else {
					k.expSum(dst, x, m)
				}
				worst, lo, hi := 0.0, 0.0, 0.0
				for i, v := range x {
					want := math.Exp(float64(v) - float64(m) + mu)
					if e := errULP(dst[i], want); e > worst {
						worst = e
						if e > 1.25 {
							t.Fatalf("m=%v total=%v: exp(%v − m) = %v, want %v (%.3f ULP)", m, total, v, dst[i], want, e)
						}
					}
					r := (float64(dst[i]) - want) / want * 0x1p24
					lo, hi = min(lo, r), max(hi, r)
				}
				if hi-lo > 3.4 {
					t.Fatalf("m=%v total=%v: relative errors from %.3f to %.3f (×2^-24)", m, total, lo, hi)
				}
				t.Logf("m=%v total=%v: %d values, worst %.3f ULP, relative %.3f to %.3f ×2^-24", m, total, len(x), worst, lo, hi)
			}
		}
	})
}

func TestKernelExpSumSpecial(t *testing.T) {
	ninf := float32(math.Inf(-1))
	nan := float32(math.NaN())
	forAMDSets(t, func(t *testing.T, k *kernels[float32]) {
		rng := rand.New(rand.NewPCG(5, 6))
		// Values around the cutoff for many m: x = m + c ± a few ULPs, where
		// x − m is often inexact in float32.
		// 175.99 and 176: either side of the table kernels' limit (tableMaxAbs).
		for _, m := range []float32{0, 1, -1, 0.1, 3.3, 43.7, 50, 87.33, 100, -100, 175.99, -175.99, 176, -176, 1e4, -1e4, 1e-3, 0x1p-126} {
			var x []float32
			c := float32(float64(m) + expCutoff32)
			for d := -40; d <= 40; d++ {
				v := c
				for range max(d, -d) {
					if d > 0 {
						v = math.Nextafter32(v, float32(math.Inf(1)))
					} else {
						v = math.Nextafter32(v, ninf)
					}
				}
				if v <= m {
					x = append(x, v)
				}
			}
			x = append(x, m)
			for n := 1; n <= len(x); n += 1 + n/8 {
				checkExpSum(t, k, x[:n], m, n%16, fmt.Sprintf("cutoff m=%v n=%d", m, n))
			}
		}
		// −Inf, overflowing x − m, NaN, huge kspreads, subnormals.
		cases := [][]float32{
			{ninf, ninf, 0},
			{-3e38, 3e38},
			{3e38, -3e38, 0, -1, 3e38},
			{1e-40, -1e-40, 0, 0x1p-126},
			{-87.33, -87.34, 0, -103.9, -88},
			{ninf, nan, 0},
		}
		for _, c := range cases {
			for n := 1; n < 40; n++ {
				x := make([]float32, n)
				for i := range x {
					x[i] = c[rng.IntN(len(c))]
				}
				m := maxGeneric(x)
				if math.IsInf(float64(m), 0) || m != m {
					m = 0
				}
				hasNaN := false
				for _, v := range x {
					hasNaN = hasNaN || v != v
				}
				if !hasNaN && math.IsInf(float64(maxGeneric(x)), -1) {
					m = 0
				}
				checkExpSum(t, k, x, m, n%16, fmt.Sprintf("special %v n=%d", c, n))
			}
		}
		// NaN in every position of every tail.
		for n := 1; n <= 70; n++ {
			for p := 0; p < n; p++ {
				x := logits32(rng, n, 1, 0)
				x[p] = nan
				r, _ := k.expSum(nil, x, 10)
				d := make([]float32, n)
				r2, _ := k.expSum(d, x, 10)
				if r == r || r2 == r2 || d[p] == d[p] {
					t.Fatalf("n=%d NaN at %d: rest %v %v, e %v", n, p, r, r2, d[p])
				}
			}
		}
		// A confident row: rest ≪ ones keeps its relative accuracy.
		for _, n := range []int{7, 100, 4097} {
			x := make([]float32, n)
			for i := range x {
				x[i] = -20 - float32(i%13)
			}
			x[n/2] = 0
			checkExpSum(t, k, x, 0, 0, fmt.Sprintf("confident n=%d", n))
		}
		// In place.
		for _, n := range []int{0, 1, 7, 8, 9, 31, 32, 33, 127, 128, 129, 1000} {
			x := logits32(rng, n, 3, 0)
			m := maxGeneric(x)
			want := make([]float32, n)
			k.expSum(want, x, m)
			k.expSum(x, x, m)
			for i := range x {
				if x[i] != want[i] {
					t.Fatalf("in place n=%d: e[%d] %v vs %v", n, i, x[i], want[i])
				}
			}
		}
	})
}

// TestKernelExpSumLong checks the sum of long rows (the float32 block sums).
func TestKernelExpSumLong(t *testing.T) {
	forAMDSets(t, func(t *testing.T, k *kernels[float32]) {
		lens := []int{1 << 20, 1<<20 + 13}
		if !testing.Short() && longRow(k) > 1<<20 {
			lens = append(lens, longRow(k))
		}
		rng := rand.New(rand.NewPCG(7, 8))
		for _, n := range lens {
			for _, sp := range []struct{ sigma, mean float64 }{{0.01, 0}, {1, 0}, {4, 10}} {
				x := logits32(rng, n, sp.sigma, sp.mean)
				m := maxGeneric(x)
				rest, ones := k.expSum(nil, x, m)
				// The exact sum, compensated.
				var s, c float64
				for _, v := range x {
					s, c = addComp(s, c, expRef(v, m))
				}
				want := s + c
				rel := math.Abs(ones+rest-want) / want
				krecord(k, "expSum sum (2^-24 units)", rel/0x1p-24)
				if rel > 0x1p-23 {
					t.Errorf("n=%d σ=%v: sum %v, want %v (rel %.3g = %.2f·2^-24)", n, sp.sigma, ones+rest, want, rel, rel/0x1p-24)
				}
			}
		}
	})
}

func TestKernelDiv(t *testing.T) {
	forAMDSets(t, func(t *testing.T, k *kernels[float32]) {
		rng := rand.New(rand.NewPCG(9, 10))
		for _, n := range kernelLens(testing.Short()) {
			x := logits32(rng, n, 1, 0)
			for _, s := range []float64{1, 3, 1.0000001, 12345.678, 1e-20, 1e20, 1e-40, 1e40, math.Inf(1)} {
				off := rng.IntN(16)
				xs := place(t, x, off, off%2 == 0)
				d := place(t, make([]float32, n), (off+5)%16, off%2 == 1)
				k.div(d, xs, s)
				worst := 0.0
				for i := range x {
					want := float64(x[i]) / s
					e := errULP(d[i], want)
					if math.Abs(want) < 0x1p-126 {
						// generic's rounding there: agree on zero-ness.
						g := float32(float64(x[i]) * (1 / s))
						if (g == 0) != (d[i] == 0) {
							e = math.Inf(1)
						}
					}
					if e > worst {
						worst = e
					}
					if e > 1 {
						t.Fatalf("n=%d s=%v: %v/s = %v, want %v (%.2f ULP)", n, s, x[i], d[i], want, e)
					}
				}
				krecord(k, "div", worst)
			}
		}
		// Special x and s: the same kind of result (NaN, ±Inf, 0) as generic.
		vals := []float32{1, -2, 0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 3e38, 1e-40}
		xs := make([]float32, 64)
		for i := range xs {
			xs[i] = vals[i%len(vals)]
		}
		got, want := make([]float32, len(xs)), make([]float32, len(xs))
		for _, s := range []float64{1, 2, 0.5, 3, -3, 1.0 / 3, 0.75, 1e-30, 1e30, 0, math.Inf(1), math.Inf(-1), math.NaN(), 1e-300, 1e300} {
			k.div(got, xs, s)
			div32(want, xs, s)
			for i := range xs {
				g, w := got[i], want[i]
				if (g != g) != (w != w) || (math.IsInf(float64(g), 0) || math.IsInf(float64(w), 0)) && g != w || (g == 0) != (w == 0) {
					t.Fatalf("div x=%v s=%v: %v, generic %v", xs[i], s, g, w)
				}
			}
		}
		// In place.
		x := logits32(rng, 100, 1, 0)
		want = make([]float32, 100)
		k.div(want, x, 7)
		k.div(x, x, 7)
		for i := range x {
			if x[i] != want[i] {
				t.Fatalf("in place: %v vs %v", x[i], want[i])
			}
		}
	})
}

// sub, mulSub: float64 arithmetic rounded once, as generic: bit for bit.
func TestKernelSubMulSub(t *testing.T) {
	ninf := float32(math.Inf(-1))
	forAMDSets(t, func(t *testing.T, k *kernels[float32]) {
		rng := rand.New(rand.NewPCG(11, 12))
		for _, n := range kernelLens(testing.Short()) {
			x := logits32(rng, n, 10, 0)
			y := logits32(rng, n, 1, 0)
			if n > 3 {
				x[1], x[n-1] = ninf, float32(math.NaN())
				y[2] = float32(math.Inf(1))
			}
			off := rng.IntN(16)
			xs := place(t, x, off, off%2 == 0)
			ys := place(t, y, (off+7)%16, off%2 == 1)
			got := place(t, make([]float32, n), (off+1)%16, off%2 == 1)
			want := make([]float32, n)
			m, l := float32(3.25), 1.0/3
			k.sub(got, xs, m, l)
			generic32.sub(want, x, m, l)
			sameBits(t, fmt.Sprintf("sub n=%d", n), got, want)
			s, c := rng.NormFloat64(), rng.NormFloat64()*0x1p-50
			k.mulSub(got, xs, ys, s, c)
			generic32.mulSub(want, x, y, s, c)
			sameBits(t, fmt.Sprintf("mulSub n=%d", n), got, want)
			// in place, both ways
			cp := append([]float32(nil), x...)
			k.mulSub(cp, cp, y, s, c)
			sameBits(t, "mulSub in place p", cp, want)
			cp = append([]float32(nil), y...)
			k.mulSub(cp, x, cp, s, c)
			sameBits(t, "mulSub in place dy", cp, want)
			cp = append([]float32(nil), x...)
			k.sub(cp, cp, m, l)
			generic32.sub(want, x, m, l)
			sameBits(t, "sub in place", cp, want)
		}
	})
}

func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		g, w := got[i], want[i]
		if g != w && !(g != g && w != w) {
			t.Fatalf("%s: [%d] = %v, want %v", what, i, g, w)
		}
	}
}

func TestKernelExpMulSub(t *testing.T) {
	forAMDSets(t, func(t *testing.T, k *kernels[float32]) {
		rng := rand.New(rand.NewPCG(13, 14))
		for _, n := range kernelLens(testing.Short()) {
			lp := logits32(rng, n, 5, -5)
			dy := logits32(rng, n, 1, 0)
			specials := []float32{float32(math.Inf(-1)), float32(math.NaN()), float32(math.Inf(1)), 0, -800, -707, -708, -720, -745, -745.2, -746, 88, 100, 709.4, 709.7, 709.9, -1e-30}
			for i := range lp {
				if rng.IntN(10) == 0 {
					lp[i] = specials[rng.IntN(len(specials))]
				}
			}
			s := 1 + rng.Float64()
			switch n % 7 {
			case 0:
				s = 0
			case 1:
				s = math.Inf(1) // an overflowing Σdy: e·∞ is ±∞ unless e is 0
			case 2:
				s = math.Inf(-1)
			}
			off := rng.IntN(16)
			got := place(t, make([]float32, n), off, off%2 == 0)
			k.expMulSub(got, place(t, lp, (off+2)%16, true), place(t, dy, (off+9)%16, false), s)
			worst := 0.0
			gen := make([]float32, n)
			generic32.expMulSub(gen, lp, dy, s)
			for i := range lp {
				want := float64(dy[i]) - math.Exp(float64(lp[i]))*s
				if g, w := got[i], gen[i]; (g != g) != (w != w) || (math.IsInf(float64(g), 0) || math.IsInf(float64(w), 0)) && g != w || (g == 0) != (w == 0) {
					t.Fatalf("n=%d: dy=%v logp=%v s=%v: %v, generic %v", n, dy[i], lp[i], s, g, w)
				}
				e := errULP(got[i], want)
				if e > worst {
					worst = e
				}
				if e > 1 {
					t.Fatalf("n=%d: dy=%v logp=%v s=%v: %v, want %v (%.2f ULP)", n, dy[i], lp[i], s, got[i], want, e)
				}
			}
			krecord(k, "expMulSub", worst)
		}
	})
}

func TestKernelSumDot(t *testing.T) {
	forAMDSets(t, func(t *testing.T, k *kernels[float32]) {
		rng := rand.New(rand.NewPCG(15, 16))
		for _, n := range kernelLens(testing.Short()) {
			a := logits32(rng, n, 1, 0.5)
			b := logits32(rng, n, 1, -0.5)
			off := rng.IntN(16)
			as, bs := place(t, a, off, off%2 == 0), place(t, b, (off+3)%16, off%2 == 1)
			var abs, absd float64
			for i := range a {
				abs += math.Abs(float64(a[i]))
				absd += math.Abs(float64(a[i]) * float64(b[i]))
			}
			if g, w := k.sum(as), sumGeneric(a); math.Abs(g-w) > 0x1p-50*abs {
				t.Fatalf("sum n=%d: %v, want %v", n, g, w)
			}
			// Both pairs carry the dot to about 2^-100 of Σ|a·b|; gs − ws
			// is exact where they agree to float64's precision.
			gs, gc := k.dot(as, bs)
			ws, wc := dotDD(a, b)
			if d := (gs - ws) + (gc - wc); math.Abs(d) > 0x1p-95*absd {
				t.Fatalf("dot n=%d: %v + %v, want %v + %v", n, gs, gc, ws, wc)
			}
		}
		// NaN, ±Inf and overflow: the same kind of result as generic.
		nan, inf := float32(math.NaN()), float32(math.Inf(1))
		vals := []float32{1, -2, 0, nan, inf, -inf, 3e38, -3e38}
		for i := 0; i < 2000; i++ {
			n := 1 + rng.IntN(40)
			a, b := make([]float32, n), make([]float32, n)
			for j := range a {
				a[j], b[j] = vals[rng.IntN(len(vals))], vals[rng.IntN(len(vals))]
			}
			for _, c := range []struct {
				what      string
				got, want float64
			}{
				{"sum", k.sum(a), sumGeneric(a)},
				{"dot", pairSum(k.dot(a, b)), pairSum(dotDD(a, b))},
			} {
				if (c.got != c.got) != (c.want != c.want) || (math.IsInf(c.got, 0) || math.IsInf(c.want, 0)) && c.got != c.want {
					t.Fatalf("%s(%v, %v) = %v, generic %v", c.what, a, b, c.got, c.want)
				}
			}
		}
	})
}

// TestKernelExpSumPrecise: expSumPrecise against generic's (exp32, precise
// to about 2^-51, compensated sums): rest within 2^-44 of it, ones the
// same count, NaN where it is NaN; every
// length, misaligned next to guard pages, with −Inf, NaN, the max
// repeated, values within 2^-25 of it, values around the cutoff, and one
// value repeated (where the sum must be compensated).
func TestKernelExpSumPrecise(t *testing.T) {
	ninf, nan := float32(math.Inf(-1)), float32(math.NaN())
	forAMDSets(t, func(t *testing.T, k *kernels[float32]) {
		rng := rand.New(rand.NewPCG(51, 52))
		for _, n := range kernelLens(testing.Short()) {
			for trial := range 4 {
				x := logits32(rng, n, []float64{0.5, 4, 30, 1}[trial], 10*rng.NormFloat64())
				m := maxGeneric(x)
				if trial == 3 { // one term repeated: a plain sum's roundings add up
					for i := 1; i < n; i++ {
						x[i] = m - 1.5
					}
				}
				for i := 0; i < n/7; i++ {
					switch j := rng.IntN(n); rng.IntN(4) {
					case 0:
						x[j] = m
					case 1:
						x[j] = m * float32(1-0x1p-26*float64(rng.IntN(4)))
						x[j] = min(x[j], m)
					case 2:
						x[j] = m + float32(expCutoff32) + float32(rng.NormFloat64())
					case 3:
						x[j] = ninf
					}
				}
				if n > 0 && trial == 2 && rng.IntN(3) == 0 {
					x[rng.IntN(n)] = nan
				}
				off := rng.IntN(16)
				rest, ones := k.expSumPrecise(place(t, x, off, off%2 == 0), m)
				wr, wo := expSumPrecise32(x, m)
				what := fmt.Sprintf("n=%d trial=%d off=%d", n, trial, off)
				switch {
				case wr != wr:
					if rest == rest {
						t.Fatalf("%s: rest %v, want NaN", what, rest)
					}
				case ones != wo || math.Abs(rest-wr) > 0x1p-44*wr:
					t.Fatalf("%s: rest, ones = %v, %v; want %v, %v", what, rest, ones, wr, wo)
				}
			}
		}
	})
}

// TestRequiresLines checks that each set's CPU feature list is exactly what
// its generated functions list in their "// Requires:" lines.
func TestRequiresLines(t *testing.T) {
	src, err := os.ReadFile("softmax_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`// func [a-zA-Z]+(AVX2|AVX512)\(.*\n// Requires: (.*)\n`)
	need := map[string]map[string]bool{"AVX2": {}, "AVX512": {}}
	for _, m := range re.FindAllStringSubmatch(string(src), -1) {
		for _, f := range strings.Split(m[2], ", ") {
			if f == "MMX+" {
				// avo files PREFETCHh under AMD's MMX extensions, whose
				// CPUID bit Intel leaves clear; SSE brought them to every
				// x86-64 CPU, and the sets check SSE.
				f = "SSE"
			}
			need[m[1]][f] = true
		}
	}
	for set, feats := range map[string][]cpuid.FeatureID{"AVX2": avx2Features, "AVX512": avx512Features} {
		var have, want []string
		for _, f := range feats {
			have = append(have, f.String())
		}
		for f := range need[set] {
			want = append(want, f)
		}
		sort.Strings(have)
		sort.Strings(want)
		if strings.Join(have, ",") != strings.Join(want, ",") {
			t.Errorf("%s set checks %v, generated code requires %v", set, have, want)
		}
	}
}

// TestDispatchAMD64 checks that the sets offered match the CPU, best first.
func TestDispatchAMD64(t *testing.T) {
	var want []string
	if cpuid.CPU.Supports(avx512Features...) {
		want = append(want, "avx512")
	}
	if cpuid.CPU.Supports(avx2Features...) {
		want = append(want, "avx2")
	}
	want = append(want, "generic")
	if got := setNames(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("sets %v, want %v", got, want)
	}
	if os.Getenv("SOFTMAX_IMPL") == "" && Impl() != want[0] {
		t.Errorf("Impl() = %s, want %s", Impl(), want[0])
	}
	// float64: avx2 where the CPU has it (AVX-512 CPUs too), unless
	// SOFTMAX_IMPL=generic.
	want64 := "generic"
	if cpuid.CPU.Supports(avx2Features...) && os.Getenv("SOFTMAX_IMPL") != "generic" {
		want64 = "avx2"
	}
	if active64.name != want64 {
		t.Errorf("float64 set %s, want %s", active64.name, want64)
	}
	t.Logf("CPU %s: sets %v", cpuid.CPU.BrandName, setNames())
}

func TestKernelWorstULP(t *testing.T) {
	kworst.Lock()
	defer kworst.Unlock()
	var keys []string
	for k := range kworst.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("%-36s %.3f", k, kworst.m[k])
	}
}

// BenchmarkKernel times each kernel of each amd64 set (and generic) alone,
// in elements per second: impl=<set>/kernel=<name>/n=<len>.
func BenchmarkKernel(b *testing.B) {
	sets := append(amdSets(), &generic32)
	for _, k := range sets {
		for _, n := range []int{1000, 4096, 32000, 1 << 19} { // 1<<19: 2 MiB, past most L2 caches
			rng := rand.New(rand.NewPCG(1, uint64(n)))
			x := logits32(rng, n, 4, 0)
			y := logits32(rng, n, 1, 0)
			dst := make([]float32, n)
			m := maxGeneric(x)
			run := func(name string, f func()) {
				b.Run(fmt.Sprintf("impl=%s/kernel=%s/n=%d", k.name, name, n), func(b *testing.B) {
					b.SetBytes(int64(4 * n))
					for b.Loop() {
						f()
					}
				})
			}
			run("max", func() { k.max(x) })
			run("expSum", func() { k.expSum(nil, x, m) })
			run("expSumStore", func() { k.expSum(dst, x, m) })
			if k.expSumTotal != nil {
				_, lo := k.maxMin(x)
				run("maxMin", func() { k.maxMin(x) })
				run("expSumTotal", func() { k.expSumTotal(dst, x, m, float32(math.Inf(-1))) })
				run("expSumTotalNoCut", func() { k.expSumTotal(dst, x, m, lo) })
			}
			run("div", func() { k.div(dst, x, 3) })
			run("sub", func() { k.sub(dst, x, m, 2) })
			run("sum", func() { k.sum(x) })
			run("dot", func() { k.dot(x, y) })
			run("mulSub", func() { k.mulSub(dst, x, y, 0.5, 0x1p-60) })
			run("expMulSub", func() { k.expMulSub(dst, y, x, 0.5) })
		}
	}
}

// TestAVX2OnlyVEX checks that no AVX2 kernel uses X16–X31/Y16–Y31, which
// need EVEX (AVX-512) encodings: avo's register allocator takes them when
// 16 run out, and its Requires lines do not say so.
func TestAVX2OnlyVEX(t *testing.T) {
	src, err := os.ReadFile("softmax_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	high := regexp.MustCompile(`\b[XYZ](1[6-9]|2[0-9]|3[01])\b|\bZ[0-9]+\b|\bK[1-7]\b`)
	fn := ""
	for i, line := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(line, "TEXT ") {
			fn = line
		}
		if strings.Contains(fn, "AVX2(SB)") && high.MatchString(line) {
			t.Errorf("line %d of softmax_amd64.s, in %s: %s", i+1, fn, strings.TrimSpace(line))
		}
	}
}

// TestAVX512NoVL checks that the avx512 kernels need no AVX512VL, which
// the set does not require: an XMM or YMM register numbered 16–31 only
// EVEX encodes, and on a 128- or 256-bit vector operation that is an
// AVX512VL instruction (a CPU with AVX-512F but not VL, such as Knights
// Landing, would fault). Such a register may appear next to a ZMM (a
// conversion or an extract from one) or in a scalar instruction.
func TestAVX512NoVL(t *testing.T) {
	src, err := os.ReadFile("softmax_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	high := regexp.MustCompile(`\b[XY](1[6-9]|2[0-9]|3[01])\b`)
	zmm := regexp.MustCompile(`\bZ[0-9]+\b`)
	scalar := regexp.MustCompile(`^(VMOVD|VMOVQ|V[A-Z0-9]*S[SD])\b`)
	fn := ""
	for i, line := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(line, "TEXT ") {
			fn = line
		}
		ins := strings.TrimSpace(line)
		isScalar := scalar.MatchString(ins) && !strings.HasPrefix(ins, "VBROADCAST")
		if strings.Contains(fn, "AVX512(SB)") && high.MatchString(ins) && !zmm.MatchString(ins) && !isScalar {
			t.Errorf("line %d of softmax_amd64.s, in %s: %s", i+1, fn, ins)
		}
	}
}

// scalarWork is Go code that compiles to SSE scalar float instructions: if
// a kernel returned with dirty upper YMM/ZMM state, every one of these
// would pay the AVX–SSE transition (or false-dependency) penalty.
//
//go:noinline
func scalarWork(v float64, n int) float64 {
	for i := 0; i < n; i++ {
		v = v*0.999999 + 1e-7
	}
	return v
}

// BenchmarkNoTransitionPenalty alternates a kernel call with scalar float
// Go code. With every kernel ending in VZEROUPPER, kernel+scalar costs what
// kernel and scalar cost apart; a dirty upper state would add about 100 ns
// per call on CPUs with the transition penalty.
func BenchmarkNoTransitionPenalty(b *testing.B) {
	x := logits32(rand.New(rand.NewPCG(1, 1)), 64, 1, 0)
	dst := make([]float32, len(x))
	for _, k := range amdSets() {
		m := k.max(x)
		kernel := func() { k.expSum(dst, x, m) }
		b.Run("impl="+k.name+"/part=kernel", func(b *testing.B) {
			for b.Loop() {
				kernel()
			}
		})
		b.Run("impl="+k.name+"/part=scalar", func(b *testing.B) {
			v := 1.0
			for b.Loop() {
				v = scalarWork(v, 20)
			}
		})
		b.Run("impl="+k.name+"/part=both", func(b *testing.B) {
			v := 1.0
			for b.Loop() {
				kernel()
				v = scalarWork(v, 20)
			}
		})
	}
}

// TestVZEROUPPER checks the generated code statically: every RET of a
// kernel that touches YMM/ZMM registers has a VZEROUPPER before it in the
// same basic block, and no legacy SSE instruction (MOVSS, MOVSD, ...) runs
// between the first YMM/ZMM write and the VZEROUPPER (in program order, a
// conservative approximation of every path).
func TestVZEROUPPER(t *testing.T) {
	src, err := os.ReadFile("softmax_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	fn, clean, dirty, rets := "", false, false, 0
	legacy := regexp.MustCompile(`^\s+(MOV|CVT|ADD|SUB|MUL|DIV|UCOMI|COMI|SQRT|MAX|MIN|AND|OR|XOR|UNPCK|SHUF)[A-Z]*\s.*\bX[0-9]+\b`)
	for i, line := range strings.Split(string(src), "\n") {
		f := strings.Fields(line)
		if dirty && legacy.MatchString(line) {
			t.Errorf("line %d: legacy SSE with dirty upper state in %s: %s", i+1, fn, strings.TrimSpace(line))
		}
		switch {
		case strings.HasPrefix(line, "TEXT "):
			fn, clean, dirty = line, false, false
		case len(f) == 0:
		case strings.HasSuffix(f[0], ":") || strings.HasPrefix(f[0], "J"):
			clean = false // a label or a jump starts a new block
		case f[0] == "VZEROUPPER":
			clean, dirty = true, false
		case f[0] == "RET":
			rets++
			if !clean {
				t.Errorf("line %d: RET without VZEROUPPER before it in %s", i+1, fn)
			}
		default:
			if strings.HasPrefix(f[0], "V") && regexp.MustCompile(`\b[YZ][0-9]+\b`).MatchString(line) {
				clean, dirty = false, true
			}
		}
	}
	if rets < 18 {
		t.Errorf("found %d RETs, want one per kernel", rets)
	}
}

// TestSplitMaxExact checks the error-free x − m of the exp kernels in Go:
// hi = fl(x − mh), z = fl(hi + mh), lo = fl(x − z) gives hi + lo − ml = x − m
// exactly for every x with x − m above the exp cutoff, for m of every size.
func TestSplitMaxExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	for i := 0; i < 200000; i++ {
		var m float32
		switch i % 4 {
		case 0:
			m = float32(rng.NormFloat64() * 10)
		case 1:
			m = float32(rng.NormFloat64() * 200)
		case 2:
			m = float32(math.Ldexp(rng.Float64(), rng.IntN(40)-30))
		default:
			m = -float32(math.Ldexp(rng.Float64(), rng.IntN(40)-30))
		}
		mh, ml := splitMax(m)
		if float64(mh)+float64(ml) != float64(m) {
			t.Fatalf("splitMax(%v) = %v + %v", m, mh, ml)
		}
		var x float32
		switch rng.IntN(3) {
		case 0:
			x = m - float32(rng.Float64()*87.3)
		case 1:
			x = float32(math.Ldexp(rng.NormFloat64(), rng.IntN(60)-50))
		default:
			x = math.Float32frombits(math.Float32bits(m) - uint32(rng.IntN(1000)))
		}
		if x > m || float64(x)-float64(m) < expCutoff32 {
			continue
		}
		hi := x - mh
		z := hi + mh
		lo := x - z
		exact := func(vs ...float32) *big.Float {
			s := new(big.Float).SetPrec(1000)
			for _, v := range vs {
				s.Add(s, new(big.Float).SetFloat64(float64(v)))
			}
			return s
		}
		if got, want := exact(hi, lo, -ml), exact(x, -m); got.Cmp(want) != 0 {
			t.Fatalf("m=%v x=%v: hi+lo−ml = %v, want %v", m, x, got, want)
		}
	}
}

// TestKernelSoftmaxRows checks the set's softmaxRows through the
// composition SoftmaxRows uses: every cols 1..16 (the small-row kernel)
// and wider rows (the table kernels' pairs of rows), batches whose rows mix
// regular rows with every kind they must leave to softmaxRow (NaN, ±Inf,
// all −Inf, a spread reaching the cutoff, |max| >= 128 or 176), against
// guard pages, in place.
// Regular rows are judged against the exact softmax; every output's
// kind (0, NaN) must match generic's.
// kernelRows returns rows×cols logits for the whole-row kernels: each row
// from one of kspreads, most with one element made special (NaN, ±Inf),
// or the row all −Inf, or an element at the edges of the kernels' checks.
func kernelRows(rng *rand.Rand, rows, cols int) []float32 {
	ninf, pinf, nan := float32(math.Inf(-1)), float32(math.Inf(1)), float32(math.NaN())
	x := make([]float32, rows*cols)
	for r := 0; r < rows; r++ {
		row := x[r*cols : (r+1)*cols]
		sp := kspreads[rng.IntN(len(kspreads))]
		copy(row, logits32(rng, cols, sp.sigma, sp.mean))
		j := rng.IntN(cols)
		switch rng.IntN(16) {
		case 0:
			row[j] = nan
		case 1:
			row[j] = pinf
		case 2:
			row[j] = ninf
		case 3:
			for i := range row {
				row[i] = ninf
			}
		case 4:
			row[j] = maxGeneric(row) - 87.3365 // at the cutoff
		case 5:
			row[j] = maxGeneric(row) - 87.34 // below it
		case 6:
			row[j] = 127.99
		case 7:
			row[j] = -128 - float32(rng.Float64()*1e3)
		case 8:
			row[j] = 128
		case 9:
			row[j] = 175.99
		case 10:
			row[j] = 176 + float32(rng.Float64()*1e4)
		case 11:
			row[0] = maxGeneric(row) - 87.24 // the first element far below the max (softmaxSmall's bias)
		case 12:
			m := maxGeneric(row)
			row[0], row[j] = m, m-87.24 // the first element the max, another far below
		}
	}
	return x
}

func TestKernelSoftmaxRows(t *testing.T) {
	forAMDSets(t, func(t *testing.T, k *kernels[float32]) {
		if k.softmaxRows == nil {
			t.Skip("no whole-row kernel")
		}
		rng := rand.New(rand.NewPCG(19, 20))
		worst := 0.0
		// Blocks (of blockMax rows at 128 columns, fewer wider), blockCols
		// and past it (pairs), pairCols and past it (single rows).
		for _, cols := range []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 31, 64, 100, 128, 129, 257, blockCols, blockCols + 1, pairCols, pairCols + 1} {
			rowCounts := []int{1, 2, 3, 5, 17, 40}
			if cols > 1000 {
				rowCounts = []int{1, 2, 3}
			}
			for _, rows := range rowCounts {
				for trial := 0; trial < 6; trial++ {
					x := kernelRows(rng, rows, cols)
					off := rng.IntN(16)
					xs := place(t, x, off, trial%2 == 0)
					got := place(t, make([]float32, len(x)), (off+5)%16, trial%2 == 1)
					softmaxRows(k, got, xs, cols)
					gen := make([]float32, len(x))
					for r := 0; r < rows; r++ {
						softmaxRow(&generic32, gen[r*cols:(r+1)*cols], x[r*cols:(r+1)*cols])
					}
					for r := 0; r < rows; r++ {
						row := x[r*cols : (r+1)*cols]
						m := maxGeneric(row)
						var s float64
						for _, v := range row {
							s += expRef(v, m)
						}
						for i, v := range row {
							g, w := got[r*cols+i], gen[r*cols+i]
							what := func() string { return fmt.Sprintf("cols=%d rows=%d row %d %v: [%d]", cols, rows, r, row, i) }
							if (g == 0) != (w == 0) || (g != g) != (w != w) {
								t.Fatalf("%s = %v, generic %v", what(), g, w)
							}
							if w != w || s == 0 || math.IsInf(float64(m), 0) {
								continue
							}
							e := errULP(g, expRef(v, m)/s)
							worst = max(worst, e)
							if e > 4 {
								t.Fatalf("%s = %v, want %v (%.2f ULP)", what(), g, expRef(v, m)/s, e)
							}
						}
					}
					// In place: the same bits.
					in := place(t, x, (off+9)%16, trial%2 == 1)
					softmaxRows(k, in, in, cols)
					sameBits(t, fmt.Sprintf("in place cols=%d rows=%d", cols, rows), in, got)
					if cols > smallCols && cols <= blockCols {
						// The pair loop's bits: the block kernels run its loops.
						pair := make([]float32, len(x))
						old := blockCols
						blockCols = 0
						softmaxRows(k, pair, xs, cols)
						blockCols = old
						sameBits(t, fmt.Sprintf("pair loop cols=%d rows=%d", cols, rows), pair, got)
					}
					// The kernel alone writes only the rows it reports.
					d := make([]float32, len(x))
					for i := range d {
						d[i] = 12345
					}
					n := k.softmaxRows(d, x, cols)
					if n < 0 || n > rows {
						t.Fatalf("cols=%d rows=%d: softmaxRows did %d rows", cols, rows, n)
					}
					sameBits(t, "rows done", d[:n*cols], got[:n*cols])
					for i := n * cols; i < len(d); i++ {
						if d[i] != 12345 {
							t.Fatalf("cols=%d rows=%d: did %d rows but wrote element %d", cols, rows, n, i)
						}
					}
				}
			}
		}
		krecord(k, "softmaxRows", worst)
		t.Logf("worst %.3f ULP", worst)
		// Regular rows: the kernel takes all of them (AVX2's last rows,
		// whose 16-element windows would pass the slice's end, and single
		// short rows through a padded copy).
		takesRegularRows(t, rng, 1, func(d, x []float32, cols, _ int) int { return k.softmaxRows(d, x, cols) })
	})
}
