//go:build !purego

package softmax

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/gosimd/softmax/internal/guard"
	"github.com/gosimd/softmax/internal/ulp"
)

// Kernel-level tests of the neon set against the generic kernels: every
// length 0..300 and some long ones, start offsets 0..3 (misaligned), data
// against guard pages, special values, in place. The package-level tests
// check the composed functions against the references; these pin down each
// kernel on its own, so a failure names the kernel.

func neonLengths() []int {
	n := make([]int, 0, 320)
	for i := 0; i <= 300; i++ {
		n = append(n, i)
	}
	return append(n, 1023, 1024, 1025, 4097, 65536+13)
}

// neonInput fills n float32 values: kind 0 normal·spread, 1 with special
// values sprinkled in, 2 many equal to the max, 3 near the exp cutoff.
func neonInput(r *rand.Rand, n, kind int, spread float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64() * spread)
	}
	switch kind {
	case 1:
		specials := []float32{float32(math.Inf(-1)), 0, -0, 3e38, -3e38, 1e-40, -1e-40, float32(math.NaN()), float32(math.Inf(1))}
		for i := range x {
			if r.IntN(7) == 0 {
				x[i] = specials[r.IntN(len(specials))]
			}
		}
	case 2:
		for i := range x {
			if r.IntN(3) == 0 {
				x[i] = 5
			}
		}
	case 3:
		for i := range x {
			x[i] = float32(-87.3365 + r.Float64()*0.001 - 0.0005)
		}
		if n > 0 {
			x[r.IntN(n)] = 0
		}
	}
	return x
}

// placed copies x into a slice at offset off (in float32s) from a 16-byte
// boundary, or against a guard page at the end or start (off < 0).
func placed(x []float32, off int) ([]float32, func()) {
	if off < 0 && guard.Supported {
		s, free := guard.Slice[float32](len(x), off == -1)
		copy(s, x)
		return s, free
	}
	if off < 0 {
		off = 0
	}
	buf := make([]float32, len(x)+off+4)
	s := buf[off : off+len(x) : off+len(x)]
	copy(s, x)
	return s, func() {}
}

var neonOffsets = []int{0, 1, 2, 3, -1, -2}

func neonSet(t *testing.T) *kernels[float32] {
	for _, k := range sets32 {
		if k.name == "neon" {
			return k
		}
	}
	t.Skip("the neon set is not available here")
	return nil
}

func same32(a, b float32) bool { return a == b || (a != a && b != b) }

// ulpVs returns the ULP distance of got from want (a float64), as
// ulp.Err32, and whether it is within tol.
func ulpVs(got float32, want float64, tol float64) (float64, bool) {
	e := ulp.Err32(got, want)
	return e, e <= tol
}

func TestNEONMax(t *testing.T) {
	k := neonSet(t)
	r := rand.New(rand.NewPCG(1, 1))
	for _, n := range neonLengths() {
		for kind := range 4 {
			x := neonInput(r, n, kind, 10)
			for _, off := range neonOffsets {
				xs, free := placed(x, off)
				got, want := k.max(xs), generic32.max(xs)
				hasNaN := false
				for _, v := range xs {
					hasNaN = hasNaN || v != v
				}
				if !(got == want || (hasNaN && got != got)) {
					t.Fatalf("n=%d kind=%d off=%d: max = %v, generic %v", n, kind, off, got, want)
				}
				free()
			}
		}
	}
}

func TestNEONExpSum(t *testing.T) {
	k := neonSet(t)
	r := rand.New(rand.NewPCG(2, 2))
	worstE, worstS := 0.0, 0.0
	for _, n := range neonLengths() {
		for kind := range 4 {
			for _, spread := range []float64{1, 30, 1e4} {
				x := neonInput(r, n, kind, spread)
				for i, v := range x {
					if math.IsInf(float64(v), 1) {
						x[i] = float32(math.NaN()) // m >= every x: the contract
					}
				}
				m := generic32.max(x)
				if m != m || math.IsInf(float64(m), 0) {
					m = 0 // as classify does for the all −Inf/NaN rows
					for _, v := range x {
						if v == v && v > m {
							m = v
						}
					}
				}
				wantDst := make([]float32, n)
				wrest, wones := generic32.expSum(wantDst, x, m)
				for oi, off := range neonOffsets {
					xs, free := placed(x, off)
					dst, freeDst := placed(make([]float32, n), neonOffsets[(oi+1)%len(neonOffsets)])
					inPlace := oi == 2
					if inPlace {
						dst = xs
					}
					rest, ones := k.expSum(dst, xs, m)
					for i := range dst {
						d := float64(x[i]) - float64(m)
						want := 0.0
						if d >= expCutoff32 {
							want = math.Exp(d)
						}
						if x[i] != x[i] {
							want = math.NaN()
						}
						e, ok := ulpVs(dst[i], want, 2.5)
						// The same e are 0 as on generic (the exact cutoff).
						if !ok || (wantDst[i] == 0) != (dst[i] == 0) {
							t.Fatalf("n=%d kind=%d spread=%g off=%d: e[%d] = exp(%v − %v) = %v, want %v (%.2f ULP)", n, kind, spread, off, i, x[i], m, dst[i], want, e)
						}
						worstE = math.Max(worstE, e)
					}
					if (rest != rest) != (wrest != wrest) {
						t.Fatalf("n=%d kind=%d off=%d: rest = %v, generic %v", n, kind, off, rest, wrest)
					}
					if rest == rest {
						tot, wtot := rest+ones, wrest+wones
						rel := math.Abs(tot-wtot) / wtot * 0x1p24
						if wtot == 0 {
							rel = math.Abs(tot) * 0x1p126
						}
						if rel > 1 {
							t.Fatalf("n=%d kind=%d spread=%g off=%d: sum %v+%v, generic %v+%v (%.2f × 2^-24)", n, kind, spread, off, rest, ones, wrest, wones, rel)
						}
						worstS = math.Max(worstS, rel)
						if math.Abs(ones-wones) > 0.1*wones+1 {
							t.Fatalf("n=%d kind=%d: ones %v, generic %v", n, kind, ones, wones)
						}
					}
					// Without a store: the same sums, nothing written.
					if !inPlace {
						r2, o2 := k.expSum(nil, xs, m)
						if !(r2 == rest || (r2 != r2 && rest != rest)) || o2 != ones {
							t.Fatalf("n=%d: expSum(nil) = %v, %v; with dst %v, %v", n, r2, o2, rest, ones)
						}
					}
					free()
					freeDst()
				}
			}
		}
	}
	t.Logf("neon expSum: worst e %.3f ULP, worst sum %.3f × 2^-24 relative", worstE, worstS)
}

// TestNEONExpSumFineBits targets the exact x − m: maxima and logits with
// every mantissa bit set, of every size, where fl(x − m) is far from x − m.
func TestNEONExpSumFineBits(t *testing.T) {
	k := neonSet(t)
	r := rand.New(rand.NewPCG(8, 8))
	worstE := 0.0
	for it := range 4000 {
		m := float32(r.NormFloat64() * math.Pow(2, float64(r.IntN(16)-6)))
		n := 1 + r.IntN(40)
		x := make([]float32, n)
		for i := range x {
			d := -r.Float64() * 87.3
			if i%3 == 0 {
				d = -r.Float64() * math.Pow(2, -float64(r.IntN(20)))
			}
			x[i] = float32(float64(m) + d)
			x[i] = math.Float32frombits(math.Float32bits(x[i]) ^ uint32(r.IntN(64)))
			if x[i] > m {
				x[i] = m
			}
		}
		if it%2 == 0 {
			x[0] = m
		}
		e := make([]float32, n)
		k.expSum(e, x, m)
		for i := range x {
			d := float64(x[i]) - float64(m) // exact: both are near each other or m is small
			want := 0.0
			if d >= expCutoff32 {
				want = math.Exp(d)
			}
			u := ulp.Err32(e[i], want)
			if u > 1.5 {
				t.Fatalf("exp(%v − %v) = %v, want %v (%.2f ULP)", x[i], m, e[i], want, u)
			}
			worstE = math.Max(worstE, u)
		}
	}
	t.Logf("neon exp with fine bits: worst %.3f ULP", worstE)
}

// elementwise checks one elementwise kernel against its generic twin.
func elementwise(t *testing.T, name string, inputs int, tol float64, run func(k *kernels[float32], dst []float32, in [][]float32)) {
	k := neonSet(t)
	r := rand.New(rand.NewPCG(3, uint64(len(name))))
	worstU := 0.0
	for _, n := range neonLengths() {
		for kind := range 3 {
			in := make([][]float32, inputs)
			for j := range in {
				in[j] = neonInput(r, n, kind*(1-j%2), 3) // specials in the first input
			}
			want := make([]float32, n)
			run(&generic32, want, in)
			for oi, off := range neonOffsets {
				ins := make([][]float32, inputs)
				frees := make([]func(), 0, inputs+1)
				for j := range in {
					s, free := placed(in[j], neonOffsets[(oi+j)%len(neonOffsets)])
					ins[j], frees = s, append(frees, free)
				}
				dst, free := placed(make([]float32, n), neonOffsets[(oi+inputs)%len(neonOffsets)])
				frees = append(frees, free)
				if oi >= 4 { // in place, over each input in turn
					dst = ins[(oi-4)%inputs]
				}
				run(k, dst, ins)
				for i := range dst {
					e, ok := ulpVs(dst[i], float64(want[i]), tol)
					if !ok && !same32(dst[i], want[i]) {
						t.Fatalf("%s n=%d kind=%d off=%d: [%d] = %v, generic %v (%.2f ULP); inputs %v", name, n, kind, off, i, dst[i], want[i], e, func() []float32 {
							v := make([]float32, inputs)
							for j := range in {
								v[j] = in[j][i]
							}
							return v
						}())
					}
					if !math.IsInf(e, 0) {
						worstU = math.Max(worstU, e)
					}
				}
				for _, f := range frees {
					f()
				}
			}
		}
	}
	t.Logf("neon %s: worst %.3f ULP from generic", name, worstU)
}

func TestNEONDiv(t *testing.T) {
	for _, s := range []float64{1, 3, 0.7, 12345.678, 1e-30} {
		elementwise(t, "div", 1, 1, func(k *kernels[float32], dst []float32, in [][]float32) { k.div(dst, in[0], s) })
	}
}

func TestNEONSub(t *testing.T) {
	for _, ml := range [][2]float64{{0, 0}, {3, 1e-20}, {-2.5, 0.75}, {1e4, 3.25}} {
		elementwise(t, "sub", 1, 1, func(k *kernels[float32], dst []float32, in [][]float32) {
			k.sub(dst, in[0], float32(ml[0]), ml[1])
		})
	}
}

func TestNEONMulSub(t *testing.T) {
	for _, sc := range [][2]float64{{0, 0}, {0.3, 1e-20}, {-7.5, -3e-17}} {
		elementwise(t, "mulSub", 2, 1, func(k *kernels[float32], dst []float32, in [][]float32) {
			k.mulSub(dst, in[0], in[1], sc[0], sc[1])
		})
	}
}

func TestNEONExpMulSub(t *testing.T) {
	for _, s := range []float64{0, 1, -2.25, 1e30, 1e-30} {
		elementwise(t, "expMulSub", 2, 1, func(k *kernels[float32], dst []float32, in [][]float32) {
			k.expMulSub(dst, in[0], in[1], s)
		})
	}
	// exp over its whole float64 range: big logp, logp near the limits.
	k := neonSet(t)
	var lp, dy []float32
	for _, v := range []float64{-1000, -745, -708.5, -708, -707.9, -700, -88, -87.5, -20, -1, 0, 1, 20, 88, 89, 100, 700, 709, 709.78, 709.79, 710, 1e30, 3e38, math.Inf(1), math.Inf(-1), math.NaN()} {
		for _, y := range []float64{0, 1, -1e-40, 1e38} {
			lp = append(lp, float32(v))
			dy = append(dy, float32(y))
		}
	}
	// Where math.Exp turns 0 or +Inf, float32 by float32: with s = ±Inf only
	// whether e is 0, finite or infinite shows, and it must match.
	for _, edge := range []float32{-744.7277, 709.7827, -708} {
		f := edge
		for range 64 {
			f = math.Nextafter32(f, float32(math.Inf(-1)))
		}
		for range 128 {
			lp = append(lp, f)
			dy = append(dy, 0)
			f = math.Nextafter32(f, float32(math.Inf(1)))
		}
	}
	for _, s := range []float64{0, 1, -1, 1e-300, 1e45, -1e45, 1e-45, math.Inf(1), math.Inf(-1)} {
		got, want := make([]float32, len(lp)), make([]float32, len(lp))
		k.expMulSub(got, lp, dy, s)
		generic32.expMulSub(want, lp, dy, s)
		for i := range got {
			if e := ulp.Err32(got[i], float64(want[i])); e > 1 {
				t.Errorf("expMulSub(logp=%v, dy=%v, s=%v) = %v, generic %v", lp[i], dy[i], s, got[i], want[i])
			}
		}
	}
}

func TestNEONSumDot(t *testing.T) {
	k := neonSet(t)
	r := rand.New(rand.NewPCG(4, 4))
	for _, n := range neonLengths() {
		for kind := range 2 {
			a, b := neonInput(r, n, kind, 100), neonInput(r, n, 0, 1)
			var absA, absAB float64
			for i := range a {
				absA += math.Abs(float64(a[i]))
				absAB += math.Abs(float64(a[i]) * float64(b[i]))
			}
			for oi, off := range neonOffsets {
				as, fa := placed(a, off)
				bs, fb := placed(b, neonOffsets[(oi+1)%len(neonOffsets)])
				for _, c := range []struct {
					what      string
					got, want float64
					scale     float64
				}{
					{"sum", k.sum(as), generic32.sum(as), absA},
					{"dot", pairSum(k.dot(as, bs)), pairSum(generic32.dot(as, bs)), absAB},
				} {
					bad := math.Abs(c.got-c.want) > 0x1p-45*c.scale
					if c.want != c.want || math.IsInf(c.want, 0) {
						bad = !(c.got == c.want || (c.got != c.got && c.want != c.want))
					}
					if bad {
						t.Fatalf("%s n=%d kind=%d off=%d: %v, generic %v", c.what, n, kind, off, c.got, c.want)
					}
				}
				fa()
				fb()
			}
		}
	}
}

// TestNEONPicked asserts the dispatch: on arm64 the neon set is the one the
// public functions use, unless SOFTMAX_IMPL asks for another.
func TestNEONPicked(t *testing.T) {
	if os.Getenv("SOFTMAX_IMPL") != "" {
		t.Skip("SOFTMAX_IMPL is set")
	}
	if Impl() != "neon" || sets32[0].name != "neon" {
		t.Fatalf("Impl() = %q, sets %v; want neon first", Impl(), setNames())
	}
	if active64.name != "neon" {
		t.Fatalf("float64 set %q, want neon", active64.name)
	}
}

// TestNEONLongRow checks a row of 2^24 logits against float64 arithmetic:
// the float32 sum error must not grow with n.
func TestNEONLongRow(t *testing.T) {
	if testing.Short() {
		t.Skip("long row: skipped in -short")
	}
	k := neonSet(t)
	const n = 1 << 24
	r := rand.New(rand.NewPCG(6, 6))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64() * 2)
	}
	m := k.max(x)
	var s float64
	for _, v := range x {
		s += math.Exp(float64(v) - float64(m))
	}
	p := make([]float32, n)
	softmaxRow(k, p, x)
	worstU, total := 0.0, 0.0
	for i := 0; i < n; i++ {
		total += float64(p[i])
		if i%16 == 0 {
			worstU = math.Max(worstU, ulp.Err32(p[i], math.Exp(float64(x[i])-float64(m))/s))
		}
	}
	if worstU > tolSIMD32 || math.Abs(total-1) > 4*0x1p-24 {
		t.Fatalf("n=2^24: worst %.2f ULP, Σp − 1 = %g", worstU, total-1)
	}
	t.Logf("n=2^24: worst %.3f ULP (every 16th element), Σp − 1 = %.3g", worstU, total-1)
}

// TestNEONWildInputs runs the composed functions on rows mixing random bit
// patterns (NaN, ±Inf, subnormals, ±3e38) with ordinary logits and checks
// that neon and generic agree: the same NaN, ±Inf and zero outputs, and the
// others within the accuracy bars of both.
func TestNEONWildInputs(t *testing.T) {
	k := neonSet(t)
	r := rand.New(rand.NewPCG(7, 7))
	wild := func(n int) []float32 {
		x := make([]float32, n)
		mode := r.IntN(4)
		for i := range x {
			switch {
			case mode == 0 || r.IntN(8) == 0:
				x[i] = math.Float32frombits(r.Uint32())
			case mode == 1:
				x[i] = float32(math.Inf(-1))
				if r.IntN(4) == 0 {
					x[i] = float32(r.NormFloat64() * 100)
				}
			default:
				x[i] = float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(8))))
			}
		}
		return x
	}
	agree := func(what string, x []float32, got, want []float32, tol float64) {
		t.Helper()
		for i := range got {
			g, w := got[i], want[i]
			switch {
			case same32(g, w):
			case w != w || g != g || math.IsInf(float64(w), 0) || math.IsInf(float64(g), 0):
				t.Fatalf("%s(%v)[%d] = %v, generic %v", what, x, i, g, w)
			case math.Abs(float64(w)) < 0x1p-126 && math.Abs(float64(g)) < 0x1p-125:
			case ulp.Err32(g, float64(w)) > tol:
				t.Fatalf("%s(%v)[%d] = %v, generic %v (%.2f ULP)", what, x, i, g, w, ulp.Err32(g, float64(w)))
			}
		}
	}
	for range 20000 {
		n := 1 + r.IntN(40)
		x := wild(n)
		got, want := make([]float32, n), make([]float32, n)
		softmaxRow(k, got, x)
		softmaxRow(&generic32, want, x)
		agree("Softmax", x, got, want, tolSIMD32+tolGeneric32)
		logSoftmaxRow(k, got, x)
		logSoftmaxRow(&generic32, want, x)
		agree("LogSoftmax", x, got, want, tolSIMD32+tolGeneric32)
		// LogSumExp = m + log Σ: when the two cancel, float32 e's carry only
		// the log's accuracy, so the error is measured against the log.
		if lg, lw := logSumExp(k, x), logSumExp(&generic32, x); !same32(lg, lw) {
			l := float64(lw) - float64(generic32.max(x))
			scale := math.Max(math.Abs(float64(lw)), math.Abs(l))
			_, exp := math.Frexp(scale)
			off := math.Abs(float64(lg)-float64(lw)) / math.Ldexp(1, exp-24)
			if lg != lg || lw != lw || math.IsInf(float64(lg), 0) || math.IsInf(float64(lw), 0) || off > tolSIMD32+tolGeneric32 {
				t.Fatalf("LogSumExp(%v) = %v, generic %v", x, lg, lw)
			}
		}
		label := r.IntN(n)
		lg := float32(crossEntropyRow(k, got, x, label, 3))
		lw := float32(crossEntropyRow(&generic32, want, x, label, 3))
		agree("CrossEntropyGrad", x, got, want, tolSIMD32+tolGeneric32)
		agree("CrossEntropy", x, []float32{lg}, []float32{lw}, tolSIMD32+tolGeneric32)
		// Backward: the same special outputs; values may differ by the
		// cancellation in dy − s, so only their kind is compared.
		dy := wild(n)
		softmaxBackwardRow(k, got, x, dy)
		softmaxBackwardRow(&generic32, want, x, dy)
		for i := range got {
			if (got[i] != got[i]) != (want[i] != want[i]) || (math.IsInf(float64(got[i]), 0) || math.IsInf(float64(want[i]), 0)) && got[i] != want[i] {
				t.Fatalf("SoftmaxBackward(%v, %v)[%d] = %v, generic %v", x, dy, i, got[i], want[i])
			}
		}
		logSoftmaxBackwardRow(k, got, x, dy)
		logSoftmaxBackwardRow(&generic32, want, x, dy)
		for i := range got {
			if (got[i] != got[i]) != (want[i] != want[i]) || (math.IsInf(float64(got[i]), 0) || math.IsInf(float64(want[i]), 0)) && got[i] != want[i] {
				t.Fatalf("LogSoftmaxBackward(%v, %v)[%d] = %v, generic %v", x, dy, i, got[i], want[i])
			}
		}
	}
}

// TestNEONSoft: the soft-target kernels against generic's exp32 (both to
// float64's precision): expSumPrecise's rest within 2^-44, its ones and
// NaN exactly; softGrad's gradient within 1 ULP plus 2^-40 of its terms
// (where e·sa − y cancels), its loss within 2^-40 of Σ|terms|; every
// length, misaligned and next to guard pages, specials, values at the
// cutoff.
func TestNEONSoft(t *testing.T) {
	k := neonSet(t)
	r := rand.New(rand.NewPCG(9, 9))
	const l, sa, scale = 1.25, 0.7, 3.0
	for _, n := range neonLengths() {
		for kind := range 4 {
			x := neonInput(r, n, kind, 4)
			m := float32(math.Inf(-1))
			for _, v := range x {
				if v > m && !math.IsInf(float64(v), 1) {
					m = v
				}
			}
			if math.IsInf(float64(m), 0) {
				continue
			}
			for i, v := range x {
				if math.IsInf(float64(v), 1) || v > m {
					x[i] = m
				}
			}
			y := neonInput(r, n, 0, 1)
			for i := range y {
				y[i] = float32(math.Abs(float64(y[i])))
				if i%5 == 0 {
					y[i] = 0
				}
			}
			for oi, off := range neonOffsets {
				xs, fx := placed(x, off)
				ys, fy := placed(y, neonOffsets[(oi+1)%len(neonOffsets)])
				g, fg := placed(make([]float32, n), neonOffsets[(oi+2)%len(neonOffsets)])
				what := fmt.Sprintf("n=%d kind=%d off=%d", n, kind, off)
				rest, ones := k.expSumPrecise(xs, m)
				wr, wo := expSumPrecise32(x, m)
				if (rest != rest) != (wr != wr) || wr == wr && (ones != wo || math.Abs(rest-wr) > 0x1p-44*wr) {
					t.Fatalf("expSumPrecise %s: %v, %v; generic %v, %v", what, rest, ones, wr, wo)
				}
				loss := k.softGrad(g, xs, ys, m, l, sa, scale)
				var want, abs float64
				for i := range x {
					if y[i] != 0 {
						v := float64(y[i]) * (l - (float64(x[i]) - float64(m)))
						want, abs = want+v, abs+math.Abs(v)
					}
					e := exp32(x[i], m)
					w := (e*sa - float64(y[i])) / scale
					if d := math.Abs(float64(g[i]) - w); !(d <= ulp.Of32(w)+0x1p-40*(e*sa+float64(y[i]))/scale) && !same32(g[i], float32(w)) {
						t.Fatalf("softGrad %s: g[%d] = %v, want %v (x %v, y %v)", what, i, g[i], w, x[i], y[i])
					}
				}
				if d := math.Abs(loss - want); !(d <= 0x1p-40*abs) && !(loss == want || want != want && loss != loss) {
					t.Fatalf("softGrad %s: loss %v, want %v", what, loss, want)
				}
				fx()
				fy()
				fg()
			}
		}
	}
}
