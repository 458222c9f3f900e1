package softmax

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/gosimd/softmax/internal/ref"
)

// Fuzz targets: the bytes are raw float32 bit patterns (so NaN, ±Inf,
// subnormals and ±3e38 all occur), and every set is compared with the
// reference. Run one with: go test -run '^$' -fuzz '^FuzzSoftmax$' -fuzztime=30s

// maxFuzzLen caps a fuzzed row: past a few blocks of every vector width
// longer rows add no new paths, only reference time (and fewer executions).
const maxFuzzLen = 1024

func decode(data []byte) []float64 {
	x := make([]float64, min(len(data)/4, maxFuzzLen))
	for i := range x {
		x[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:])))
	}
	return x
}

func encode(v ...float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// seeds are rows every target starts from: special values, tails of every
// vector width, the exp cutoff, huge spreads.
func seeds(f *testing.F, add func(data []byte)) {
	ninf, pinf, nan := float32(math.Inf(-1)), float32(math.Inf(1)), float32(math.NaN())
	add(encode(1, 2, 3))
	add(encode(0))
	add(encode(ninf, ninf, ninf))
	add(encode(ninf, 1, ninf, 2))
	add(encode(nan, ninf))
	add(encode(1, pinf, 3, 4, 5, 6, 7, 8, 9))
	add(encode(3e38, -3e38, 0, 1e-40))
	add(encode(0, -87.33, -87.34, -87.3365, -103.9, 88.7))
	row := make([]float32, 67)
	for i := range row {
		row[i] = float32(i%13) * 7.5
	}
	add(encode(row...))
	add(encode(row[:33]...))
}

func FuzzSoftmax(f *testing.F) {
	seeds(f, func(b []byte) { f.Add(b) })
	f.Fuzz(func(t *testing.T, data []byte) {
		xs := decode(data)
		want := ref.Softmax(xs, ref.Fast)
		forEachSet(t, func(t *testing.T, k *kernels[float32]) {
			x := f32(xs)
			dst := make([]float32, len(x))
			softmaxRow(k, dst, x)
			check32(t, k, "Softmax", dst, want)
			exact(t, k, "Softmax", xs, dst, want)
		})
	})
}

func FuzzLogSoftmax(f *testing.F) {
	seeds(f, func(b []byte) { f.Add(b) })
	f.Fuzz(func(t *testing.T, data []byte) {
		xs := decode(data)
		want := ref.LogSoftmax(xs, ref.Fast)
		wantLSE := ref.LogSumExp(xs, ref.Fast)
		forEachSet(t, func(t *testing.T, k *kernels[float32]) {
			x := f32(xs)
			dst := make([]float32, len(x))
			logSoftmaxRow(k, dst, x)
			check32(t, k, "LogSoftmax", dst, want)
			exact(t, k, "LogSoftmax", xs, dst, want)
			check32(t, k, "LogSumExp", []float32{logSumExp(k, x)}, []float64{wantLSE})
		})
	})
}

func FuzzCrossEntropyGrad(f *testing.F) {
	seeds(f, func(b []byte) { f.Add(b, uint8(0), uint8(1)) })
	f.Fuzz(func(t *testing.T, data []byte, label uint8, rows uint8) {
		xs := decode(data)
		r := int(rows%4) + 1
		if len(xs) < r {
			return
		}
		cols := len(xs) / r
		xs = xs[:r*cols]
		labels := make([]int, r)
		for i := range labels {
			labels[i] = (int(label) + 7*i) % (cols + 1)
			if labels[i] == cols {
				labels[i] = -1 // an ignored row
			}
		}
		wantLoss, wantGrad := ref.CrossEntropy(xs, labels, cols, ref.Fast)
		kept := checkLabels("fuzz", labels, r, cols)
		forEachSet(t, func(t *testing.T, k *kernels[float32]) {
			x := f32(xs)
			g := make([]float32, len(x))
			loss := crossEntropy(k, g, x, labels, cols, kept)
			check32(t, k, "CrossEntropyGrad", g, wantGrad)
			check32(t, k, "CrossEntropyGrad/loss", []float32{loss}, []float64{wantLoss})
		})
	})
}

func FuzzSoftmaxBackward(f *testing.F) {
	seeds(f, func(b []byte) { f.Add(b, b) })
	f.Fuzz(func(t *testing.T, logits, grads []byte) {
		p := rounded32(ref.Softmax(decode(logits), ref.Fast))
		dy, ok := fuzzSecond(grads, len(p), false)
		if !ok {
			return
		}
		for _, v := range p {
			if v != v {
				return // NaN probabilities are not a distribution
			}
		}
		want := ref.SoftmaxBackward(p, dy)
		forEachSet(t, func(t *testing.T, k *kernels[float32]) {
			dx := make([]float32, len(p))
			softmaxBackwardRow(k, dx, f32(p), f32(dy))
			checkTerms32(t, k, "SoftmaxBackward", dx, want, dotTerms(p, dy, len(p)))
		})
	})
}

// fuzzRows splits the decoded row by the selector: below 128 into
// sel%12 + 1 rows (up to 12, so that the small-row kernels' batches of 8
// and the pair loop both fill and leave a remainder), else into rows of
// sel%20 + 1 columns (many short rows, the small-row kernels' own case).
// It returns cols 0 when there is not one row of one column.
func fuzzRows(xs []float64, sel uint8) ([]float64, int) {
	cols := 1 + int(sel)%20
	if sel < 128 {
		cols = len(xs) / (int(sel)%12 + 1)
	}
	if cols == 0 || len(xs) < cols {
		return nil, 0
	}
	return xs[:len(xs)/cols*cols], cols
}

// fuzzSecond decodes a target's second input (gradients, targets) for n
// values, made usable: finite and at most 1e6 in magnitude, so that the
// sums the passes take stay finite (others become small values that vary
// with i), and non-negative when nonneg (targets). ok is false when there
// are fewer than n values.
func fuzzSecond(data []byte, n int, nonneg bool) (v []float64, ok bool) {
	return tame(decode(data), n, nonneg)
}

// tame is fuzzSecond on values already decoded (FuzzFloat64's float64s).
func tame(v []float64, n int, nonneg bool) ([]float64, bool) {
	if len(v) < n {
		return nil, false
	}
	v = v[:n]
	for i, x := range v {
		switch {
		case math.IsInf(x, 0) || x != x || math.Abs(x) > 1e6:
			v[i] = math.Mod(float64(i), 7) - 3
			if nonneg {
				v[i] = math.Mod(float64(i), 5) / 8
			}
		case nonneg:
			v[i] = math.Abs(x)
		}
	}
	return v, true
}

func FuzzSoftmaxRows(f *testing.F) {
	seeds(f, func(b []byte) {
		f.Add(b, uint8(2))
		f.Add(b, uint8(128+2)) // rows of 3
	})
	f.Fuzz(func(t *testing.T, data []byte, rows uint8) {
		xs, cols := fuzzRows(decode(data), rows)
		if cols == 0 {
			return
		}
		var want, wantLog []float64
		for r := 0; r < len(xs); r += cols {
			want = append(want, ref.Softmax(xs[r:r+cols], ref.Fast)...)
			wantLog = append(wantLog, ref.LogSoftmax(xs[r:r+cols], ref.Fast)...)
		}
		forEachSet(t, func(t *testing.T, k *kernels[float32]) {
			x := f32(xs)
			dst := make([]float32, len(x))
			softmaxRows(k, dst, x, cols)
			check32(t, k, "SoftmaxRows", dst, want)
			exact(t, k, "SoftmaxRows", xs, dst, want)
			logSoftmaxRows(k, dst, x, cols)
			check32(t, k, "LogSoftmaxRows", dst, wantLog)
			exact(t, k, "LogSoftmaxRows", xs, dst, wantLog)
		})
	})
}

// FuzzBackwardRows: both backward passes on rows of probabilities (and
// their logs) that a fuzzed forward row gives, with fuzzed gradients.
func FuzzBackwardRows(f *testing.F) {
	seeds(f, func(b []byte) { f.Add(b, b, uint8(2)) })
	f.Fuzz(func(t *testing.T, logits, grads []byte, rows uint8) {
		xs, cols := fuzzRows(decode(logits), rows)
		dy, ok := fuzzSecond(grads, len(xs), false)
		if cols == 0 || !ok {
			return
		}
		var p, logp, want, wantLog, termsLog []float64
		for r := 0; r < len(xs); r += cols {
			pr := rounded32(ref.Softmax(xs[r:r+cols], ref.Fast))
			lr := rounded32(ref.LogSoftmax(xs[r:r+cols], ref.Fast))
			for _, v := range pr {
				if v != v {
					return // NaN probabilities are not a distribution
				}
			}
			d := dy[r : r+cols]
			p, logp = append(p, pr...), append(logp, lr...)
			want = append(want, ref.SoftmaxBackward(pr, d)...)
			// ref.Precise: the sets compute exp(logp) unflushed.
			wantLog = append(wantLog, ref.LogSoftmaxBackward(lr, d, ref.Precise)...)
			sdy := ref.Sum(d)
			for _, v := range lr {
				termsLog = append(termsLog, roundTerm(math.Exp(v)*sdy)+sumTerm(math.Exp(v), d, 0x1p-80))
			}
		}
		terms := dotTerms(p, dy, cols)
		forEachSet(t, func(t *testing.T, k *kernels[float32]) {
			dx := make([]float32, len(xs))
			softmaxBackwardRows(k, dx, f32(p), f32(dy), cols)
			checkTerms32(t, k, "SoftmaxBackwardRows", dx, want, terms)
			logSoftmaxBackwardRows(k, dx, f32(logp), f32(dy), cols)
			checkTerms32(t, k, "LogSoftmaxBackwardRows", dx, wantLog, termsLog)
		})
	})
}

// FuzzSoftCrossEntropyGrad: fuzzed logits against fuzzed targets, made
// non-negative and finite (a scaled distribution: the loss then has no
// cancellation; the gradient's p·Σy − y may, and gets roundTerm's slack).
func FuzzSoftCrossEntropyGrad(f *testing.F) {
	seeds(f, func(b []byte) { f.Add(b, b, uint8(1)) })
	f.Fuzz(func(t *testing.T, logits, targets []byte, rows uint8) {
		xs, cols := fuzzRows(decode(logits), rows)
		ys, ok := fuzzSecond(targets, len(xs), true)
		if cols == 0 || !ok {
			return
		}
		wantLoss, wantGrad := ref.SoftCrossEntropy(xs, ys, cols, ref.Fast)
		n := float64(len(xs) / cols)
		terms := make([]float64, len(xs))
		for r := 0; r < len(xs); r += cols {
			p := ref.Softmax(xs[r:r+cols], ref.Fast)
			sy := ref.Sum(ys[r : r+cols])
			for j := range p {
				terms[r+j] = roundTerm((ys[r+j]+p[j]*sy)/n) + sumTerm(p[j]/n, ys[r:r+cols], 0x1p-80)
			}
		}
		forEachSet(t, func(t *testing.T, k *kernels[float32]) {
			g := make([]float32, len(xs))
			loss := softCrossEntropy(k, g, f32(xs), f32(ys), cols)
			check32(t, k, "SoftCrossEntropyGrad/loss", []float32{float32(loss)}, []float64{wantLoss})
			checkTerms32(t, k, "SoftCrossEntropyGrad", g, wantGrad, terms)
		})
	})
}

// roundTerm is the slack of a difference one of whose terms is term,
// computed in float64 (LogSoftmaxBackward's exp(logp)·Σdy, the soft
// gradient's p·Σy): its rounding there (exp to about 2^-51 on generic,
// 2^-49 on neon's expMulSub), which shows where the difference cancels
// below it; checkTerms32's 4 float32 ULPs of term·2^-22 are at most 2^-43
// of the term, README's bound. A float32 rounding of the term (2^-24 of
// it) is far outside.
func roundTerm(term float64) float64 { return math.Abs(term) * 0x1p-22 }

// sumTerm is the slack of a difference whose term is e·Σv, with Σv the
// contract's compensated sum (LogSoftmaxBackward's Σdy, the soft
// gradient's Σy): within n·2^-104 of Σ|v| (TestSumCancellation), as
// SoftmaxBackward's dot is (dotTerms), which shows where v's terms cancel
// across more than 2^100 (TestBackwardSpan). For checkTerms32 unit is
// 2^-80 (4 float32 ULPs of e·n·Σ|v|·2^-80 are at least e·n·2^-102 of it),
// for checkTerms64 2^-52.
func sumTerm(e float64, v []float64, unit float64) float64 {
	a := 0.0
	for _, x := range v {
		a += math.Abs(x)
	}
	return math.Abs(e) * float64(len(v)) * a * unit
}

// dotTerms are checkTerms32's terms for SoftmaxBackward's outputs
// p[i]·(dy[i] − ⟨p, dy⟩), rows of cols: the contract's dot pair is within
// n·2^-104 of Σ|p·dy| (TestSumCancellation, TestSumDrift), and so is the
// reference's double-double dot, which shows where dy[i] − ⟨p, dy⟩ cancels
// further than that (dy constant, p summing to 1 within 2^-120: subnormal
// probabilities). 4 float32 ULPs of p[i]·n·Σ|p·dy|·2^-80 are at least
// p[i]·n·2^-102 of it, both errors.
func dotTerms(p, dy []float64, cols int) []float64 { return dotTermsAt(p, dy, cols, 0x1p-80) }

// dotTerms64 are dotTerms for float64 outputs (checkTerms64): 4 float64
// ULPs of p[i]·n·Σ|p·dy|·2^-52 are at least p[i]·n·2^-103 of it.
func dotTerms64(p, dy []float64, cols int) []float64 { return dotTermsAt(p, dy, cols, 0x1p-52) }

func dotTermsAt(p, dy []float64, cols int, unit float64) []float64 {
	terms := make([]float64, len(p))
	for r := 0; r < len(p); r += cols {
		a := 0.0
		for j := r; j < r+cols; j++ {
			a += math.Abs(p[j] * dy[j])
		}
		if math.IsInf(a, 0) || a != a {
			continue // the row's outputs are ±Inf or NaN: no slack
		}
		for j := r; j < r+cols; j++ {
			terms[j] = math.Abs(p[j]) * float64(cols) * a * unit
		}
	}
	return terms
}
