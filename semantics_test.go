package softmax

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gosimd/softmax/internal/gen"
	"github.com/gosimd/softmax/internal/guard"
	"github.com/gosimd/softmax/internal/ref"
	"github.com/gosimd/softmax/internal/ulp"
)

// The rules of DESIGN.md "Semantics every path shares", on every set.

var (
	inf  = math.Inf(1)
	ninf = math.Inf(-1)
)

// specialRows are rows built around the special values, over lengths that
// cross every vector width and tail.
func specialRows() [][]float64 {
	rng := newRand(7)
	var rows [][]float64
	for _, n := range []int{1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 100, 129, 300} {
		base := rounded32(gen.Logits(rng, n, 3, 0))
		at := func(i int, v float64) []float64 {
			r := append([]float64(nil), base...)
			r[i] = v
			return r
		}
		all := func(v float64) []float64 {
			r := make([]float64, n)
			for i := range r {
				r[i] = v
			}
			return r
		}
		rows = append(rows,
			all(ninf), all(0), all(-3e38), all(3e38), all(1e-40),
			at(0, math.NaN()), at(n-1, math.NaN()), at(n/2, math.NaN()),
			at(0, inf), at(n-1, inf), at(n/2, inf),
			at(n-1, ninf), at(n/2, ninf),
		)
		nanMasked := all(ninf)
		nanMasked[n-1] = math.NaN()
		infMasked := all(ninf)
		infMasked[n/2] = inf
		rows = append(rows, nanMasked, infMasked)
		for _, vals := range [][]float64{gen.Finite(), gen.Specials(), {ninf}} {
			r := append([]float64(nil), base...)
			gen.Sprinkle(rng, r, rounded32(vals), 3)
			rows = append(rows, r)
		}
		// The exp cutoff: one element at 0, the rest just around −87.34.
		cut := all(0)
		for i := 1; i < n; i++ {
			cut[i] = float64(float32(-87.3365 + float64(i%7-3)*0.002))
		}
		rows = append(rows, cut)
	}
	return rows
}

func TestSpecialRows32(t *testing.T) {
	forEachSet(t, func(t *testing.T, k *kernels[float32]) {
		for _, row := range specialRows() {
			n := len(row)
			x, free := vec32(row, placementFor(n))
			dst := make([]float32, n)
			softmaxRow(k, dst, x)
			want := ref.Softmax(row, ref.Fast)
			check32(t, k, "Softmax special", dst, want)
			exact(t, k, "Softmax", row, dst, want)
			logSoftmaxRow(k, dst, x)
			want = ref.LogSoftmax(row, ref.Fast)
			check32(t, k, "LogSoftmax special", dst, want)
			exact(t, k, "LogSoftmax", row, dst, want)
			lse := logSumExp(k, x)
			check32(t, k, "LogSumExp special", []float32{lse}, []float64{ref.LogSumExp(row, ref.Fast)})

			label := []int{n - 1}
			g := make([]float32, n)
			wantLoss, wantGrad := ref.CrossEntropy(row, label, n, ref.Fast)
			loss := crossEntropy(k, g, x, label, n, 1)
			check32(t, k, "CrossEntropyGrad special", g, wantGrad)
			check32(t, k, "CrossEntropyGrad/loss special", []float32{loss}, []float64{wantLoss})
			free()
		}
	})
}

// exact asserts the outputs that must match bit for bit in kind: a −Inf
// input in a finite row gives exactly 0 (Softmax) or −Inf (LogSoftmax), and
// NaN outputs are NaN exactly where the reference's are.
func exact(t *testing.T, k *kernels[float32], fn string, row []float64, got []float32, want []float64) {
	t.Helper()
	for i := range row {
		g := float64(got[i])
		switch {
		case (want[i] != want[i]) != (g != g):
			t.Fatalf("%s [set %s]: element %d = %g, want %g (row %v)", fn, k.name, i, g, want[i], row)
		case want[i] == 0 && math.IsInf(row[i], -1) && g != 0:
			t.Fatalf("%s [set %s]: masked element %d = %g, want exactly 0", fn, k.name, i, g)
		case math.IsInf(want[i], -1) && !math.IsInf(g, -1):
			t.Fatalf("%s [set %s]: element %d = %g, want -Inf", fn, k.name, i, g)
		}
	}
}

func TestSpecialRows64(t *testing.T) {
	for _, k := range sets64 {
		for _, row := range specialRows() {
			n := len(row)
			dst := make([]float64, n)
			softmaxRow(k, dst, row)
			check64(t, k.name+"/Softmax special", dst, ref.Softmax(row, ref.Precise))
			logSoftmaxRow(k, dst, row)
			check64(t, k.name+"/LogSoftmax special", dst, ref.LogSoftmax(row, ref.Precise))
			check64(t, k.name+"/LogSumExp special", []float64{logSumExp(k, row)}, []float64{ref.LogSumExp(row, ref.Precise)})
		}
	}
}

// TestTinyTerms64: float64 rows whose every term but the max's is below
// float64's normal range — subnormal (bits lost) or below 2^-1075 (all
// lost) — while their sum, log Σ ≈ rest, is normal: LogSoftmax and the
// losses at the max, their gradients there, and LogSumExp of a row with
// max 0 are then that sum. Summed as math.Exp gives them, the row
// [0, −705, 1000 × −746] is 8 ULP off and [0, 2^17 × −720] thousands.
func TestTinyTerms64(t *testing.T) {
	type tiny struct {
		d     float64 // the entries below the max
		count int
	}
	rows := [][]tiny{
		{{-705, 1}, {-746, 1000}},
		{{-705, 1}, {-746, 1 << 12}},
		{{-720, 1 << 17}},
		{{-712.25, 100}},
		{{-709.5, 3}, {-730, 5000}, {-760, 10000}},
		{{-708.3, 2}, {-708.4, 2}, {-1e300, 2}, {math.Inf(-1), 1}},
	}
	for i, parts := range rows {
		if testing.Short() && parts[0].count > 1000 {
			continue // 2^17 entries: seconds of reference under qemu
		}
		// A max of −3e-307 makes LogSumExp cancel: its double-double path.
		for _, c := range []float64{0, -3e-307, 1000.5, -3e5} {
			if c != 0 && len(parts) == 1 && parts[0].count > 1000 {
				continue // the reference takes a while on 2^17 entries
			}
			x := []float64{c}
			for _, p := range parts {
				for range p.count {
					x = append(x, c+p.d)
				}
			}
			n := len(x)
			what := fmt.Sprintf("row %d + %g, n=%d", i, c, n)
			dst := make([]float64, n)
			LogSoftmax(dst, x)
			check64(t, "LogSoftmax "+what, dst, ref.LogSoftmax(x, ref.Precise))
			if c <= 0 && c > -1 {
				check64(t, "LogSumExp "+what, []float64{LogSumExp(x)}, []float64{ref.LogSumExp(x, ref.Precise)})
			}
			loss := CrossEntropyGrad(dst, x, []int{0}, n)
			wantLoss, wantGrad := ref.CrossEntropy(x, []int{0}, n, ref.Precise)
			check64(t, "CrossEntropyGrad/loss "+what, []float64{loss}, []float64{wantLoss})
			check64(t, "CrossEntropyGrad "+what, dst, wantGrad)
			y := make([]float64, n)
			y[0] = 1
			loss = SoftCrossEntropyGrad(dst, x, y, n)
			wantLoss, wantGrad = ref.SoftCrossEntropy(x, y, n, ref.Precise)
			check64(t, "SoftCrossEntropyGrad/loss "+what, []float64{loss}, []float64{wantLoss})
			// p·Σy − y cancels at the max: the difference bound (doc.go).
			terms := make([]float64, n)
			for j, p := range ref.Softmax(x, ref.Precise) {
				terms[j] = p + y[j]
			}
			checkTerms64(t, "SoftCrossEntropyGrad "+what, dst, wantGrad, terms)
			// In place, and the parallel chunks.
			g := append([]float64(nil), x...)
			if loss = CrossEntropyGrad(g, g, []int{0}, n); ulp.Err64(loss, wantLoss) > tol64 {
				t.Fatalf("CrossEntropyGrad in place %s: loss %g, want %g", what, loss, wantLoss)
			}
			loss = CrossEntropyGradParallel(dst, x, []int{0}, n, 2)
			check64(t, "CrossEntropyGradParallel/loss "+what, []float64{loss}, []float64{wantLoss})
			check64(t, "CrossEntropyGradParallel "+what, dst, wantGrad)
		}
	}
}

// TestUnderflowEdge64: the smallest probabilities. x − m rounds to
// −745.1332191019412, below ln 2^-1075 (where math.Exp gives 0), but its
// rounding error lifts the exact difference above it: exp is 2^-1074 after
// rounding, and so is the output (s is near 1). Generic's exp64 took
// math.Exp(hi) there and gave 0. Every set must give 2^-1074, and 0 one
// step further down.
func TestUnderflowEdge64(t *testing.T) {
	hi := math.Float64frombits(0xc0872b773b9396b8) // 3.7 + hi rounds to 3.7 − 745.1332191019412
	for _, k := range sets64 {
		for _, c := range []struct {
			x    float64
			want float64
		}{{hi, 5e-324}, {math.Nextafter(hi, math.Inf(-1)), 0}} {
			row := []float64{3.7, c.x}
			w := ref.Softmax(row, ref.Precise)
			dst := make([]float64, 2)
			softmaxRow(k, dst, row)
			if dst[1] != c.want || w[1] != c.want {
				t.Errorf("%s: Softmax(3.7, %v)[1] = %v, want %v (reference %v)", k.name, c.x, dst[1], c.want, w[1])
			}
		}
	}
}

// TestTinyTerms64Backward: LogSoftmaxBackward's dy − exp(logp)·Σdy where
// exp(logp) is subnormal (logp in [−790, −708.3]) and Σdy large: the bits
// math.Exp loses there, times Σdy, were up to 16 ULPs of a small output
// (dy near 2^-1020).
func TestTinyTerms64Backward(t *testing.T) {
	rng := newRand(67)
	for n := 2; n <= 40; n++ {
		logp := make([]float64, n)
		dy := make([]float64, n)
		for i := range logp {
			logp[i] = -708.3 - 82*rng.Float64()
			dy[i] = math.Ldexp(rng.Float64()-0.5, -1010-rng.IntN(14))
		}
		dy[0] = []float64{1000, -3e5, 1e-300, 0x1p-77}[n%4] // Σdy
		if n%5 == 0 {
			dy[1] = math.Exp(logp[1]) * dy[0] // cancels against its term
		}
		dx := make([]float64, n)
		LogSoftmaxBackward(dx, logp, dy)
		want := ref.LogSoftmaxBackward(logp, dy, ref.Precise)
		sdy := ref.Sum(dy)
		terms := make([]float64, n)
		for i := range terms {
			terms[i] = math.Abs(math.Exp(logp[i]) * sdy)
		}
		checkTerms64(t, fmt.Sprintf("LogSoftmaxBackward n=%d", n), dx, want, terms)
	}
}

func TestMaskedRowsPublic(t *testing.T) {
	x := []float32{float32(ninf), float32(ninf), float32(ninf)}
	dst := make([]float32, 3)
	Softmax(dst, x)
	for i, v := range dst {
		if v != 0 {
			t.Fatalf("Softmax of an all −Inf row: dst[%d] = %g, want 0", i, v)
		}
	}
	LogSoftmax(dst, x)
	for i, v := range dst {
		if !math.IsInf(float64(v), -1) {
			t.Fatalf("LogSoftmax of an all −Inf row: dst[%d] = %g, want −Inf", i, v)
		}
	}
	if v := LogSumExp(x); !math.IsInf(float64(v), -1) {
		t.Fatalf("LogSumExp of an all −Inf row = %g, want −Inf", v)
	}
	if v := LogSumExp[float64](nil); !math.IsInf(v, -1) {
		t.Fatalf("LogSumExp(nil) = %g, want −Inf", v)
	}
}

func TestIgnoredRowsNeverRead(t *testing.T) {
	// Row 1 sits in pages nothing may touch: reading it faults.
	cols := guard.PageSize() / 4
	logits, protect, free := guard.Pages[float32](3 * cols)
	defer free()
	rng := newRand(3)
	for i := range logits {
		logits[i] = float32(rng.NormFloat64())
	}
	protect(cols, 2*cols)
	grad := make([]float32, 3*cols)
	for i := range grad {
		grad[i] = 42
	}
	labels := []int32{5, -1, 7}
	loss := CrossEntropyGrad(grad, logits, labels, cols)
	if loss != loss || loss <= 0 {
		t.Fatalf("loss = %g", loss)
	}
	for i, g := range grad[cols : 2*cols] {
		if g != 0 {
			t.Fatalf("ignored row: grad[%d] = %g, want 0", cols+i, g)
		}
	}
	if l2 := CrossEntropy(logits, labels, cols); l2 != loss {
		t.Fatalf("CrossEntropy = %g, CrossEntropyGrad = %g", l2, loss)
	}
}

func TestIgnoredRowsNaN(t *testing.T) {
	nan := float32(math.NaN())
	logits := []float64{1, 2, 3, float64(nan), float64(nan), float64(nan), 0, 0, 5}
	labels := []int{2, -3, 0}
	want, wantGrad := ref.CrossEntropy(logits, labels, 3, ref.Fast)
	forEachSet(t, func(t *testing.T, k *kernels[float32]) {
		x, _ := vec32(logits, placement{})
		g := make([]float32, 9)
		loss := crossEntropy(k, g, x, labels, 3, checkLabels("test", labels, 3, 3))
		check32(t, k, "CrossEntropyGrad ignored", []float32{loss}, []float64{want})
		check32(t, k, "CrossEntropyGrad ignored", g, wantGrad)
	})
	// All rows ignored: loss 0 and a zero gradient.
	g := []float64{9, 9, 9}
	if l := CrossEntropyGrad(g, []float64{1, 2, 3}, []int8{-1}, 3); l != 0 || g[0] != 0 || g[1] != 0 || g[2] != 0 {
		t.Fatalf("all ignored: loss %g grad %v, want 0 and zeros", l, g)
	}
}

// TestSoftTargetsMasked: soft targets on rows whose logits are all or
// partly −Inf. Each nonzero target at a −Inf logit adds −y·log 0 = y·(+Inf)
// to the loss, so targets of both signs there give NaN, as a NaN target
// does, in whatever order they come.
func TestSoftTargetsMasked(t *testing.T) {
	nan := math.NaN()
	for _, cols := range []int{2, 16, 17} {
		for _, masked := range []bool{true, false} {
			x := make([]float64, cols)
			for i := range x {
				if masked || i == 0 {
					x[i] = ninf
				}
			}
			for _, pair := range [][2]float64{{1, -1}, {-1, 1}, {nan, 1}, {1, nan}, {0.25, 0.75}, {0, 1}, {-0.5, 0}} {
				y := make([]float64, cols)
				y[0], y[cols-1] = pair[0], pair[1]
				what := fmt.Sprintf("cols=%d masked=%v y=%v", cols, masked, pair)
				wantLoss, wantGrad := ref.SoftCrossEntropy(x, y, cols, ref.Precise)
				g := make([]float64, cols)
				loss := softCrossEntropy(&generic64, g, x, y, cols)
				check64(t, "SoftCrossEntropyGrad/loss masked "+what, []float64{loss}, []float64{wantLoss})
				check64(t, "SoftCrossEntropyGrad masked "+what, g, wantGrad)
				forEachSet(t, func(t *testing.T, k *kernels[float32]) {
					x32, y32 := f32(x), f32(y)
					g := make([]float32, cols)
					loss := softCrossEntropy(k, g, x32, y32, cols)
					check32(t, k, "SoftCrossEntropyGrad/loss masked "+what, []float32{float32(loss)}, []float64{wantLoss})
					check32(t, k, "SoftCrossEntropyGrad masked "+what, g, wantGrad)
				})
			}
		}
	}
}

func TestEmpty(t *testing.T) {
	Softmax[float32](nil, nil)
	LogSoftmax[float64](nil, []float64{})
	SoftmaxRows[float32](nil, nil, 4)
	LogSoftmaxRows[float32](nil, nil, 4)
	SoftmaxBackward[float32](nil, nil, nil)
	LogSoftmaxBackward[float64](nil, nil, nil)
	SoftmaxBackwardRows[float32](nil, nil, nil, 2)
	LogSoftmaxBackwardRows[float32](nil, nil, nil, 2)
	Jacobian[float32](nil, nil)
	SoftmaxRowsParallel[float32](nil, nil, 3, 4)
	if l := CrossEntropy[float32, int]([]float32{}, nil, 5); l != 0 {
		t.Fatalf("CrossEntropy with no rows = %g, want 0", l)
	}
	if l := CrossEntropyGrad[float64, int](nil, nil, nil, 5); l != 0 {
		t.Fatalf("CrossEntropyGrad with no rows = %g, want 0", l)
	}
	if l := CrossEntropyGradParallel[float32, int](nil, nil, nil, 5, 0); l != 0 {
		t.Fatalf("CrossEntropyGradParallel with no rows = %g, want 0", l)
	}
	if l := SoftCrossEntropyGrad[float32](nil, nil, nil, 5); l != 0 {
		t.Fatalf("SoftCrossEntropyGrad with no rows = %g, want 0", l)
	}
}

// TestInPlace checks that dst == x gives bit for bit what a separate dst does.
func TestInPlace(t *testing.T) {
	rng := newRand(11)
	for _, n := range []int{1, 5, 16, 17, 100, 1000, 4099} {
		x := rounded32(gen.Logits(rng, n, 4, 10))
		dy := rounded32(gen.Logits(rng, n, 1, 0))
		forEachSet(t, func(t *testing.T, k *kernels[float32]) {
			type op struct {
				name string
				f    func(dst, a, b []float32)
			}
			ops := []op{
				{"Softmax", func(d, a, _ []float32) { softmaxRow(k, d, a) }},
				{"LogSoftmax", func(d, a, _ []float32) { logSoftmaxRow(k, d, a) }},
				{"SoftmaxBackward/p", func(d, a, b []float32) { softmaxBackwardRow(k, d, a, b) }},
				{"LogSoftmaxBackward/logp", func(d, a, b []float32) { logSoftmaxBackwardRow(k, d, a, b) }},
				{"CrossEntropyGrad", func(d, a, _ []float32) { crossEntropy(k, d, a, []int{n / 2}, n, 1) }},
				{"SoftCrossEntropyGrad", func(d, a, b []float32) { softCrossEntropy(k, d, a, b, n) }},
			}
			for _, o := range ops {
				a, b := f32(x), f32(dy)
				sep := make([]float32, n)
				o.f(sep, a, b)
				o.f(a, a, b)
				for i := range sep {
					if math.Float32bits(sep[i]) != math.Float32bits(a[i]) {
						t.Fatalf("%s n=%d in place: element %d = %g, separate dst gives %g", o.name, n, i, a[i], sep[i])
					}
				}
			}
		})
	}
}

// TestInPlaceTargets checks that SoftCrossEntropyGrad with grad == targets
// gives bit for bit what a separate grad does, on batches of short rows
// (the small-row kernels), blocks and long rows, float32 and float64.
func TestInPlaceTargets(t *testing.T) {
	rng := newRand(12)
	for _, cols := range []int{1, 3, 10, 16, 17, 64, 513, 4099} {
		const rows = 5
		x := gen.Logits(rng, rows*cols, 4, 10)
		y := make([]float64, rows*cols)
		for i := range y {
			y[i] = rng.Float64() / float64(cols)
		}
		t.Run(fmt.Sprintf("cols=%d", cols), func(t *testing.T) {
			forEachSet(t, func(t *testing.T, k *kernels[float32]) {
				inPlaceTargets(t, k, f32(x), f32(y), cols)
			})
			for _, k := range sets64 {
				inPlaceTargets(t, k, x, y, cols)
			}
		})
	}
}

func inPlaceTargets[F Float](t *testing.T, k *kernels[F], x, y []F, cols int) {
	t.Helper()
	sep := make([]F, len(x))
	want := softCrossEntropy(k, sep, x, y, cols)
	in := slices.Clone(y)
	got := softCrossEntropy(k, in, x, in, cols)
	if math.Float64bits(got) != math.Float64bits(want) {
		t.Fatalf("%T %s in place on targets: loss %g, separate grad gives %g", x[0], k.name, got, want)
	}
	for i := range sep {
		if math.Float64bits(float64(sep[i])) != math.Float64bits(float64(in[i])) {
			t.Fatalf("%T %s in place on targets: element %d = %g, separate grad gives %g", x[0], k.name, i, in[i], sep[i])
		}
	}
}

func f32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// TestCutoffAlike: the exp cutoff zeroes the same terms on every set. Rows
// hold their max m and elements at the threshold (expThreshold(m), the
// smallest x with x − m >= ln 2^-126) and one or two float32 steps either
// side of it, for maxima on both sides of the table kernels' range. A set
// that keeps a term generic drops (or the reverse) shows in which outputs
// are 0, and, over many such terms, in LogSoftmax of the max, which is
// −Σ of them.
func TestCutoffAlike(t *testing.T) {
	forEachSet(t, func(t *testing.T, k *kernels[float32]) {
		for _, m := range []float32{0, 3.5, -100, 150, 200, 1e4} {
			th := expThreshold(m)
			down := func(v float32) float32 { return math.Nextafter32(v, float32(ninf)) }
			near := []float32{th, down(th), down(down(th)), math.Nextafter32(th, float32(inf))}
			for n := 2; n <= 40; n++ {
				const rows = 3
				x := make([]float64, rows*n)
				for i := range x {
					x[i] = float64(near[(i*5+i/n)%len(near)])
				}
				labels := make([]int, rows)
				for r := range rows {
					labels[r] = (r * 7) % n
					x[r*n+labels[r]] = float64(m)
				}
				xs := f32(x)
				got, want := make([]float32, len(x)), make([]float32, len(x))
				alike := func(fn string) {
					t.Helper()
					for i := range got {
						if (got[i] == 0) != (want[i] == 0) || (got[i] != got[i]) != (want[i] != want[i]) {
							t.Fatalf("%s [set %s] m=%v n=%d: element %d = %g, generic %g", fn, k.name, m, n, i, got[i], want[i])
						}
					}
				}
				var wantS, wantL []float64
				for r := range rows {
					wantS = append(wantS, ref.Softmax(x[r*n:(r+1)*n], ref.Fast)...)
					wantL = append(wantL, ref.LogSoftmax(x[r*n:(r+1)*n], ref.Fast)...)
				}
				softmaxRows(k, got, xs, n)
				softmaxRows(&generic32, want, xs, n)
				alike("SoftmaxRows")
				check32(t, k, "SoftmaxRows cutoff", got, wantS)
				softmaxRow(k, got, xs)
				softmaxRow(&generic32, want, xs)
				alike("Softmax")
				logSoftmaxRows(k, got, xs, n)
				logSoftmaxRows(&generic32, want, xs, n)
				alike("LogSoftmaxRows")
				check32(t, k, "LogSoftmaxRows cutoff", got, wantL)
				wantLoss, wantGrad := ref.CrossEntropy(x, labels, n, ref.Fast)
				loss := crossEntropy(k, got, xs, labels, n, rows)
				crossEntropy(&generic32, want, xs, labels, n, rows)
				alike("CrossEntropyGrad")
				check32(t, k, "CrossEntropyGrad cutoff", got, wantGrad)
				check32(t, k, "CrossEntropyGrad/loss cutoff", []float32{loss}, []float64{wantLoss})
				in := f32(x) // in place: the terms below the cutoff are read before e is stored
				if l := crossEntropy(k, in, in, labels, n, rows); math.Float32bits(l) != math.Float32bits(loss) {
					t.Fatalf("CrossEntropyGrad [set %s] m=%v n=%d: loss in place %g, else %g", k.name, m, n, l, loss)
				}
				for i := range in {
					if math.Float32bits(in[i]) != math.Float32bits(got[i]) {
						t.Fatalf("CrossEntropyGrad [set %s] m=%v n=%d: in place [%d] = %g, else %g", k.name, m, n, i, in[i], got[i])
					}
				}
				y := f32(rounded32(wantS))
				softCrossEntropy(k, got, xs, y, n)
				softCrossEntropy(&generic32, want, xs, y, n)
				alike("SoftCrossEntropyGrad")
				for r := range rows {
					got[r] = logSumExp(k, xs[r*n:(r+1)*n])
					check32(t, k, "LogSumExp cutoff", got[r:r+1], []float64{ref.LogSumExp(x[r*n:(r+1)*n], ref.Precise)})
				}
			}
		}
		// A row long enough for CrossEntropyGradParallel's chunks, where
		// the loss at the max is the sum of 2^16 terms at the cutoff.
		n := 1 << 16
		if interpreted(k) {
			n = 1 << 15 // 2·minChunk: two chunks
		}
		x := make([]float64, n)
		for i := range x {
			x[i] = float64(math.Nextafter32(expThreshold(0), float32(ninf)))
		}
		x[n/3] = 0
		labels := []int{n / 3}
		wantLoss, wantGrad := ref.CrossEntropy(x, labels, n, ref.Fast)
		for _, inPlace := range []bool{false, true} {
			xs := f32(x)
			g := make([]float32, n)
			if inPlace {
				g = xs
			}
			loss := crossEntropyParallel(k, g, xs, labels, n, 1, 4)
			check32(t, k, "CrossEntropyGradParallel cutoff", g, wantGrad)
			check32(t, k, "CrossEntropyGradParallel/loss cutoff", []float32{float32(loss)}, []float64{wantLoss})
		}
	})
}

// TestNaNBits: a NaN loss is the same NaN on every path and label type
// (the block kernels once passed their own negative NaN through the log,
// so the bits depended on the set and on whether labels were 4 or 8
// bytes wide).
func TestNaNBits(t *testing.T) {
	rng := newRand(71)
	forEachSet(t, func(t *testing.T, k *kernels[float32]) {
		for _, cols := range []int{5, 17, 64, 300} {
			const rows = 3
			x := f32(gen.Logits(rng, rows*cols, 3, 0))
			x[cols+cols/2] = float32(math.NaN()) // row 1, neither its max nor its min
			g := make([]float32, len(x))
			want := crossEntropy(&generic32, g, x, []int{0, 1, 2}, cols, rows)
			for _, loss := range []float32{
				crossEntropy(k, g, x, []int{0, 1, 2}, cols, rows),
				crossEntropy(k, g, x, []int32{0, 1, 2}, cols, rows),
				crossEntropy(k, g, x, []int8{0, 1, 2}, cols, rows),
				crossEntropy(k, nil, x, []int32{0, 1, 2}, cols, rows),
			} {
				if math.Float32bits(loss) != math.Float32bits(want) {
					t.Fatalf("cols=%d: loss %#x, generic %#x", cols, math.Float32bits(loss), math.Float32bits(want))
				}
			}
		}
	})
}

// TestLabelWidths: labels of 1 and 2 bytes, widened a chunk of 256 rows at
// a time for the batch kernels, give the gradient of int labels bit for
// bit and its loss within a float32 ULP (the compensated sum adds the
// chunks' rows in another grouping), over chunk edges, with ignored rows.
func TestLabelWidths(t *testing.T) {
	rng := newRand(73)
	forEachSet(t, func(t *testing.T, k *kernels[float32]) {
		for _, s := range [][2]int{{600, 10}, {300, 24}, {5, 64}, {3, 700}} {
			rows, cols := s[0], s[1]
			if interpreted(k) && rows > 100 {
				rows = 100
			}
			x := f32(gen.Logits(rng, rows*cols, 3, 0))
			li, l8, l16 := make([]int, rows), make([]int8, rows), make([]int16, rows)
			for r := range li {
				li[r] = rng.IntN(min(cols, 127)+1) - 1 // −1: ignored
				l8[r], l16[r] = int8(li[r]), int16(li[r])
			}
			kept := 0
			for _, l := range li {
				if l >= 0 {
					kept++
				}
			}
			want := make([]float32, len(x))
			wantLoss := crossEntropy(k, want, x, li, cols, kept)
			for name, f := range map[string]func(g []float32) float32{
				"int8":  func(g []float32) float32 { return crossEntropy(k, g, x, l8, cols, kept) },
				"int16": func(g []float32) float32 { return crossEntropy(k, g, x, l16, cols, kept) },
			} {
				g := make([]float32, len(x))
				loss := f(g)
				for i := range g {
					if math.Float32bits(g[i]) != math.Float32bits(want[i]) && !(g[i] != g[i] && want[i] != want[i]) {
						t.Fatalf("%s labels %dx%d: grad[%d] = %v, int labels %v", name, rows, cols, i, g[i], want[i])
					}
				}
				if e := ulp.Err32(loss, float64(wantLoss)); e > 1 {
					t.Fatalf("%s labels %dx%d: loss %v, int labels %v", name, rows, cols, loss, wantLoss)
				}
			}
			// With every widening buffer in use (by other goroutines), the
			// rows go one at a time: what int labels give without the
			// set's batch kernels, bit for bit.
			rowsOnly := *k
			rowsOnly.crossEntropyRows = nil
			wantLoss = crossEntropy(&rowsOnly, want, x, li, cols, kept)
			var taken []int
			for {
				i, ok := claimLabelBuf()
				if !ok {
					break
				}
				taken = append(taken, i)
			}
			g := make([]float32, len(x))
			loss := crossEntropy(k, g, x, l8, cols, kept)
			for _, i := range taken {
				releaseLabelBuf(i)
			}
			if len(taken) != len(labelBufs) {
				t.Fatalf("claimed %d widening buffers, want all %d free", len(taken), len(labelBufs))
			}
			for i := range g {
				if math.Float32bits(g[i]) != math.Float32bits(want[i]) && !(g[i] != g[i] && want[i] != want[i]) {
					t.Fatalf("int8 labels, buffers taken, %dx%d: grad[%d] = %v, one-row path %v", rows, cols, i, g[i], want[i])
				}
			}
			if math.Float32bits(loss) != math.Float32bits(wantLoss) {
				t.Fatalf("int8 labels, buffers taken, %dx%d: loss %v, one-row path %v", rows, cols, loss, wantLoss)
			}
		}
	})
}

// TestLabelBufs: the widening buffers' claims under contention, each
// buffer held by one goroutine at a time (with -race, also that their
// use is ordered).
func TestLabelBufs(t *testing.T) {
	var wg sync.WaitGroup
	var held [len(labelBufs)]atomic.Int32
	var bad atomic.Int32
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range 2000 {
				i, ok := claimLabelBuf()
				if !ok {
					continue
				}
				if held[i].Add(1) != 1 {
					bad.Add(1)
				}
				labelBufs[i][0] = int32(g + n)
				held[i].Add(-1)
				releaseLabelBuf(i)
			}
		}()
	}
	wg.Wait()
	if bad.Load() != 0 || labelTaken.Load() != 0 {
		t.Fatalf("%d double claims; %b still taken", bad.Load(), labelTaken.Load())
	}
}

// TestSoftGradFlushed pins the documented flush in the soft-target
// gradient: an element whose p is below 2^-126 gets exactly −y/rows on
// every set, even where targets summing to more than rows would make
// p·Σy/rows an output above 2^-126 (here 4·e^-87.5 = 4.0e-38).
func TestSoftGradFlushed(t *testing.T) {
	for _, n := range []int{2, 3, 17, 40} {
		x := make([]float32, n)
		y := make([]float32, n)
		for i := range x {
			x[i] = -87.5
		}
		x[0], y[0], y[n-1] = 0, 4, 0.5
		forEachSet(t, func(t *testing.T, k *kernels[float32]) {
			g := make([]float32, n)
			softCrossEntropy(k, g, x, y, n)
			for i := 1; i < n; i++ {
				if want := -y[i]; g[i] != want {
					t.Fatalf("n=%d: g[%d] = %g, want %g (p flushed to 0)", n, i, g[i], want)
				}
			}
		})
	}
}
