package softmax

import (
	"math"
	"runtime"
	"sync"
	"testing"

	"github.com/gosimd/softmax/internal/gen"
	"github.com/gosimd/softmax/internal/ref"
	"github.com/gosimd/softmax/internal/ulp"
)

// The public functions: rows, named element types, Jacobian, the parallel
// variants, allocations and concurrent use.

type myFloat float32

type batch struct {
	rows, cols int
	x, dy      []float64 // float32-exact values
	labels     []int
}

func newBatch(rows, cols int, seed uint64) batch {
	rng := newRand(seed)
	b := batch{rows: rows, cols: cols}
	b.x = rounded32(gen.Logits(rng, rows*cols, 4, 20))
	b.dy = rounded32(gen.Logits(rng, rows*cols, 1, 0))
	for r := range rows {
		l := rng.IntN(cols)
		if r%5 == 4 {
			l = -1
		}
		b.labels = append(b.labels, l)
	}
	return b
}

func (b batch) eachRow(f func(r int, x []float64) []float64) []float64 {
	var out []float64
	for r := range b.rows {
		out = append(out, f(r, b.x[r*b.cols:(r+1)*b.cols])...)
	}
	return out
}

func checkAll32[F ~float32](t *testing.T, what string, got []F, want []float64) {
	t.Helper()
	tol := float64(tolFor(active32))
	for i := range want {
		if e := ulp.Err32(float32(got[i]), want[i]); e > tol || e != e {
			t.Fatalf("%s: element %d = %g, want %g (%.2f ULP)", what, i, got[i], want[i], e)
		}
	}
}

func TestRowsPublic(t *testing.T) {
	for _, shape := range [][2]int{{1, 1}, {3, 1}, {7, 10}, {4, 33}, {2, 1000}} {
		b := newBatch(shape[0], shape[1], uint64(shape[0]*shape[1]))
		x := f32(b.x)
		dst := make([]float32, len(x))

		SoftmaxRows(dst, x, b.cols)
		checkAll32(t, "SoftmaxRows", dst, b.eachRow(func(_ int, r []float64) []float64 { return ref.Softmax(r, ref.Fast) }))
		// A named element type takes the same path.
		named := make([]myFloat, len(x))
		xn := make([]myFloat, len(x))
		for i, v := range x {
			xn[i] = myFloat(v)
		}
		SoftmaxRows(named, xn, b.cols)
		checkAll32(t, "SoftmaxRows[myFloat]", named, b.eachRow(func(_ int, r []float64) []float64 { return ref.Softmax(r, ref.Fast) }))

		LogSoftmaxRows(dst, x, b.cols)
		logp := b.eachRow(func(_ int, r []float64) []float64 { return ref.LogSoftmax(r, ref.Fast) })
		checkAll32(t, "LogSoftmaxRows", dst, logp)

		p := rounded32(b.eachRow(func(_ int, r []float64) []float64 { return ref.Softmax(r, ref.Fast) }))
		SoftmaxBackwardRows(dst, f32(p), f32(b.dy), b.cols)
		var want []float64
		for r := range b.rows {
			i, j := r*b.cols, (r+1)*b.cols
			want = append(want, ref.SoftmaxBackward(p[i:j], b.dy[i:j])...)
		}
		checkAll32(t, "SoftmaxBackwardRows", dst, want)

		// float64 rows against the double-double reference.
		d64 := make([]float64, len(x))
		SoftmaxRows(d64, b.x, b.cols)
		want = b.eachRow(func(_ int, r []float64) []float64 { return ref.Softmax(r, ref.Precise) })
		check64(t, "SoftmaxRows[float64]", d64, want)
		LogSoftmaxRows(d64, b.x, b.cols)
		check64(t, "LogSoftmaxRows[float64]", d64, b.eachRow(func(_ int, r []float64) []float64 { return ref.LogSoftmax(r, ref.Precise) }))
		lp := b.eachRow(func(_ int, r []float64) []float64 { return ref.LogSoftmax(r, ref.Precise) })
		LogSoftmaxBackwardRows(d64, lp, b.dy, b.cols)
		want = nil
		for r := range b.rows {
			i, j := r*b.cols, (r+1)*b.cols
			want = append(want, ref.LogSoftmaxBackward(lp[i:j], b.dy[i:j], ref.Precise)...)
		}
		for i := range want {
			// exp(logp)·Σdy can cancel against dy; allow 4 ULP of each term.
			r := i / b.cols
			sdy := ref.Sum(b.dy[r*b.cols : (r+1)*b.cols])
			term := math.Abs(math.Exp(lp[i]) * sdy)
			if d := math.Abs(d64[i] - want[i]); d > 4*(ulp.Of64(want[i])+ulp.Of64(term)) {
				t.Fatalf("LogSoftmaxBackwardRows[float64]: element %d = %g, want %g", i, d64[i], want[i])
			}
		}

		loss := CrossEntropyGrad(dst, x, b.labels, b.cols)
		wantLoss, wantGrad := ref.CrossEntropy(b.x, b.labels, b.cols, ref.Fast)
		checkAll32(t, "CrossEntropyGrad", dst, wantGrad)
		checkAll32(t, "CrossEntropyGrad/loss", []float32{loss}, []float64{wantLoss})
		checkAll32(t, "CrossEntropy", []float32{CrossEntropy(x, b.labels, b.cols)}, []float64{wantLoss})
		loss64 := CrossEntropyGrad(d64, b.x, b.labels, b.cols)
		wantLoss, wantGrad = ref.CrossEntropy(b.x, b.labels, b.cols, ref.Precise)
		check64(t, "CrossEntropyGrad[float64]", d64, wantGrad)
		check64(t, "CrossEntropyGrad[float64]/loss", []float64{loss64}, []float64{wantLoss})

		y := rounded32(b.eachRow(func(r int, _ []float64) []float64 {
			return ref.Softmax(gen.Logits(newRand(uint64(r)), b.cols, 1, 0), ref.Fast)
		}))
		soft := SoftCrossEntropyGrad(dst, x, f32(y), b.cols)
		wantLoss, _ = ref.SoftCrossEntropy(b.x, y, b.cols, ref.Fast)
		checkAll32(t, "SoftCrossEntropyGrad/loss", []float32{soft}, []float64{wantLoss})
	}
}

func TestLogSumExpPublic(t *testing.T) {
	x := []float32{1000, 1000}
	if got, want := LogSumExp(x), 1000+math.Ln2; math.Abs(float64(got)-want) > 1e-4 {
		t.Fatalf("LogSumExp(1000, 1000) = %g, want %g", got, want)
	}
	if got := LogSumExp([]float64{-1000, -1000}); math.Abs(got-(-1000+math.Ln2)) > 1e-12 {
		t.Fatalf("LogSumExp(-1000, -1000) = %g", got)
	}
	// A confident row: the result differs from the max by a tiny amount,
	// kept to full relative accuracy.
	got := LogSumExp([]float64{0, -40}) - 0
	if want := math.Log1p(math.Exp(-40)); math.Abs(got-want) > 4*ulp.Of64(want) {
		t.Fatalf("LogSumExp(0, -40) = %g, want %g", got, want)
	}
}

func TestJacobian(t *testing.T) {
	for _, n := range []int{0, 1, 2, 5, 17, 64} {
		p := ref.Softmax(gen.Logits(newRand(uint64(n)), n, 1, 0), ref.Precise)
		want := ref.Jacobian(p)
		got := make([]float64, n*n)
		Jacobian(got, p)
		check64(t, "Jacobian[float64]", got, want)
		p32 := rounded32(p)
		got32 := make([]float32, n*n)
		Jacobian(got32, f32(p32))
		checkAll32(t, "Jacobian", got32, ref.Jacobian(p32))
		// Each row of the Jacobian sums to 0: softmax always sums to 1.
		for i := range n {
			s := 0.0
			for j := range n {
				s += got[i*n+j]
			}
			if math.Abs(s) > 1e-15 {
				t.Fatalf("Jacobian n=%d row %d sums to %g", n, i, s)
			}
		}
	}
}

func TestParallel(t *testing.T) {
	for _, shape := range [][2]int{{1, 3}, {1, 1 << 17}, {3, 70000}, {64, 1000}, {1000, 10}, {2, 1 << 16}} {
		b := newBatch(shape[0], shape[1], 5)
		x := f32(b.x)
		want := make([]float32, len(x))
		SoftmaxRows(want, x, b.cols)
		for _, workers := range []int{0, 1, 2, 3, 8} {
			got := make([]float32, len(x))
			SoftmaxRowsParallel(got, x, b.cols, workers)
			checkAll32(t, "SoftmaxRowsParallel", got, widen(want))
			if shape[0] >= workersFor(workers, len(x)) { // whole rows: SoftmaxRows' kernels, bit for bit
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("SoftmaxRowsParallel %dx%d, %d workers: [%d] = %g, SoftmaxRows %g", shape[0], shape[1], workers, i, got[i], want[i])
					}
				}
			}

			g1, g2 := make([]float32, len(x)), make([]float32, len(x))
			l1 := CrossEntropyGrad(g1, x, b.labels, b.cols)
			l2 := CrossEntropyGradParallel(g2, x, b.labels, b.cols, workers)
			checkAll32(t, "CrossEntropyGradParallel", g2, widen(g1))
			checkAll32(t, "CrossEntropyGradParallel/loss", []float32{l2}, []float64{float64(l1)})
		}
	}
	// float64, split by whole rows: SoftmaxRows' bits.
	b := newBatch(64, 1000, 6)
	want64, got64 := make([]float64, len(b.x)), make([]float64, len(b.x))
	SoftmaxRows(want64, b.x, b.cols)
	SoftmaxRowsParallel(got64, b.x, b.cols, 3)
	for i := range got64 {
		if math.Float64bits(got64[i]) != math.Float64bits(want64[i]) {
			t.Fatalf("SoftmaxRowsParallel[float64] 64x1000, 3 workers: [%d] = %g, SoftmaxRows %g", i, got64[i], want64[i])
		}
	}
	// Special rows take the serial path inside the parallel one.
	x := make([]float32, 1<<16)
	x[100] = float32(math.NaN())
	SoftmaxRowsParallel(x, x, len(x), 4)
	for i, v := range x {
		if v == v {
			t.Fatalf("SoftmaxRowsParallel of a row with NaN: element %d = %g", i, v)
		}
	}
	for i := range x {
		x[i] = float32(math.Inf(-1))
	}
	g := make([]float32, len(x))
	if l := CrossEntropyGradParallel(g, x, []int{3}, len(x), 4); !math.IsInf(float64(l), 1) || g[3] != -1 || g[4] != 0 {
		t.Fatalf("masked row: loss %g, grad[3] %g, grad[4] %g", l, g[3], g[4])
	}
	SoftmaxRowsParallel(x, x, len(x), 4)
	for i, v := range x {
		if v != 0 {
			t.Fatalf("SoftmaxRowsParallel of an all −Inf row: element %d = %g", i, v)
		}
	}
}

func TestZeroAllocs(t *testing.T) {
	b := newBatch(4, 300, 9)
	x, dy := f32(b.x), f32(b.dy)
	d := make([]float32, len(x))
	x64, d64 := b.x, make([]float64, len(x))
	jac := make([]float32, 300*300)
	labels32, labels64, labels8 := []int32{3, -1, 0, 9}, []int{3, -1, 0, 9}, []int8{3, -1, 0, 9}
	fns := map[string]func(){
		"Softmax":                func() { Softmax(d, x) },
		"LogSoftmax":             func() { LogSoftmax(d, x) },
		"LogSumExp":              func() { LogSumExp(x) },
		"SoftmaxBackward":        func() { SoftmaxBackward(d, x, dy) },
		"LogSoftmaxBackward":     func() { LogSoftmaxBackward(d, x, dy) },
		"Jacobian":               func() { Jacobian(jac, x[:300]) },
		"SoftmaxRows":            func() { SoftmaxRows(d, x, 300) },
		"LogSoftmaxRows":         func() { LogSoftmaxRows(d, x, 300) },
		"SoftmaxBackwardRows":    func() { SoftmaxBackwardRows(d, x, dy, 300) },
		"LogSoftmaxBackwardRows": func() { LogSoftmaxBackwardRows(d, x, dy, 300) },
		"CrossEntropy":           func() { CrossEntropy(x, b.labels, 300) },
		"CrossEntropyGrad":       func() { CrossEntropyGrad(d, x, b.labels, 300) },
		"SoftCrossEntropyGrad":   func() { SoftCrossEntropyGrad(d, x, dy, 300) },
		"SoftmaxRows[float64]":   func() { SoftmaxRows(d64, x64, 300) },
		"CrossEntropyGrad[f64]":  func() { CrossEntropyGrad(d64, x64, b.labels, 300) },
		"LogSumExp[float64]":     func() { LogSumExp(x64) },
		// The parallel functions on work they do not split.
		"SoftmaxRowsParallel workers=1":      func() { SoftmaxRowsParallel(d, x, 300, 1) },
		"SoftmaxRowsParallel small":          func() { SoftmaxRowsParallel(d, x, 300, 0) },
		"CrossEntropyGradParallel workers=1": func() { CrossEntropyGradParallel(d, x, b.labels, 300, 1) },
		"CrossEntropyGradParallel small":     func() { CrossEntropyGradParallel(d, x, b.labels, 300, 0) },
		// Rows shorter than 16: the small-row kernel, AVX2's through a
		// padded copy on the stack.
		"Softmax n=10":                  func() { Softmax(d[:10], x[:10]) },
		"SoftmaxRows cols=10":           func() { SoftmaxRows(d[:1200], x[:1200], 10) },
		"SoftmaxRows cols=40":           func() { SoftmaxRows(d[:1200], x[:1200], 40) }, // amd64: blocks of rows
		"SoftmaxRows cols=3x1":          func() { SoftmaxRows(d[:3], x[:3], 1) },
		"LogSoftmax n=10":               func() { LogSoftmax(d[:10], x[:10]) },
		"LogSumExp n=10":                func() { LogSumExp(x[:10]) },
		"LogSoftmaxRows cols=10":        func() { LogSoftmaxRows(d[:1200], x[:1200], 10) },
		"CrossEntropyGrad cols=10":      func() { CrossEntropyGrad(d[:40], x[:40], labels64, 10) },
		"CrossEntropy cols=10 int32":    func() { CrossEntropy(x[:40], labels32, 10) },
		"CrossEntropyGrad cols=10 int8": func() { CrossEntropyGrad(d[:40], x[:40], labels8, 10) }, // the widening
		// After garbage collections, which empty sync.Pools: the widening's
		// buffer allocated here when it was pooled.
		"CrossEntropyGrad int8 after GC": func() { runtime.GC(); runtime.GC(); CrossEntropyGrad(d[:40], x[:40], labels8, 10) },
		"SoftCrossEntropyGrad cols=10":   func() { SoftCrossEntropyGrad(d[:1200], x[:1200], dy[:1200], 10) },
		"SoftmaxBackwardRows cols=10":    func() { SoftmaxBackwardRows(d[:1200], x[:1200], dy[:1200], 10) },
		"LogSoftmaxBackwardRows cols=3":  func() { LogSoftmaxBackwardRows(d[:6], x[:6], dy[:6], 3) },
	}
	for name, f := range fns {
		if a := testing.AllocsPerRun(20, f); a != 0 {
			t.Errorf("%s: %g allocations per call, want 0", name, a)
		}
	}
}

// TestConcurrent calls the functions from many goroutines at once; with
// -race it also proves there is no shared mutable state.
func TestConcurrent(t *testing.T) {
	b := newBatch(8, 1000, 13)
	x := f32(b.x)
	want := make([]float32, len(x))
	SoftmaxRows(want, x, b.cols)
	wantLoss := CrossEntropy(x, b.labels, b.cols)
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := make([]float32, len(x))
			for range 20 {
				SoftmaxRows(got, x, b.cols)
				for i := range got {
					if got[i] != want[i] {
						errs <- "SoftmaxRows differs under concurrency"
						return
					}
				}
				if CrossEntropy(x, b.labels, b.cols) != wantLoss {
					errs <- "CrossEntropy differs under concurrency"
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

// TestParallelManyChunks: one long float64 row over 256 chunks. Their sums
// were added plainly, whose roundings grow with the count: 4 ULP from the
// reference at 2^22 entries, 8 at 2^24 (the serial path: 1). Compensated,
// the chunked result stays within 2 ULP of the serial one.
func TestParallelManyChunks(t *testing.T) {
	if testing.Short() {
		t.Skip("2^22 float64 entries: 0.5 s, and seconds under qemu")
	}
	rng := newRand(10)
	x := make([]float64, 1<<22)
	for i := range x {
		x[i] = rng.NormFloat64() * 3
	}
	want, got := make([]float64, len(x)), make([]float64, len(x))
	SoftmaxRows(want, x, len(x))
	SoftmaxRowsParallel(got, x, len(x), 256)
	worst := 0.0
	for i := range got {
		worst = math.Max(worst, ulp.Err64(got[i], want[i]))
	}
	if worst > 2 {
		t.Fatalf("SoftmaxRowsParallel, 256 chunks: %.1f ULP from SoftmaxRows", worst)
	}
	label := []int{int(rng.IntN(len(x)))}
	l1 := CrossEntropyGrad(want, x, label, len(x))
	l2 := CrossEntropyGradParallel(got, x, label, len(x), 256)
	if e := ulp.Err64(l2, l1); e > 2 {
		t.Fatalf("CrossEntropyGradParallel, 256 chunks: loss %.1f ULP from serial", e)
	}
	for i := range got {
		worst = math.Max(worst, ulp.Err64(got[i], want[i]))
	}
	if worst > 2 {
		t.Fatalf("CrossEntropyGradParallel, 256 chunks: %.1f ULP from serial", worst)
	}
}

// TestMergeSums: a rest of 1 and then 1000 chunks of 2^-54, each of which a
// plain add rounds away (a tie to even), must come to 1 + 1000·2^-54.
func TestMergeSums(t *testing.T) {
	sums := [][2]float64{{1, 3}}
	for range 1000 {
		sums = append(sums, [2]float64{0x1p-54, 1})
	}
	if s := mergeSums(sums); s[0] != 1+1000*0x1p-54 || s[1] != 1003 {
		t.Fatalf("mergeSums = %v, want [%v 1003]", s, 1+1000*0x1p-54)
	}
	nan := [][2]float64{{1, 1}, {math.NaN(), 1}, {2, 0}}
	if s := mergeSums(nan); s[0] == s[0] {
		t.Fatalf("mergeSums with a NaN rest = %v, want NaN", s)
	}
}

// TestPart: the parallel split covers [0, n) in order, parts within one
// of each other, also where p*n overflows an int32.
func TestPart(t *testing.T) {
	for _, c := range [][2]int{{1, 0}, {1, 7}, {3, 7}, {7, 3}, {8, 1 << 16}, {64, 1<<28 + 5}, {5, math.MaxInt32}} {
		w, n := c[0], c[1]
		next := 0
		for p := range w {
			lo, hi := part(p, w, n)
			if lo != next || hi < lo || hi-lo > n/w+1 || hi-lo < n/w {
				t.Fatalf("part(%d, %d, %d) = [%d, %d), want a part of size n/w or n/w+1 from %d", p, w, n, lo, hi, next)
			}
			next = hi
		}
		if next != n {
			t.Fatalf("parts of %d into %d end at %d", n, w, next)
		}
	}
}
