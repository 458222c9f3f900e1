//go:build !purego

package softmax

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gosimd/softmax/internal/gen"
	"github.com/gosimd/softmax/internal/ref"
)

// The small-row kernels of LogSoftmax and cross-entropy (asm/amd64/
// smalllog.go) against the float64 reference, on every width they take
// and just past it, with the rows of kernelRows (special values, the exp
// cutoff, far outliers), at misaligned offsets next to guard pages, in
// place; which outputs are 0, −Inf or NaN as generic's.

func TestKernelLogSoftmaxRows(t *testing.T) {
	forAMDSets(t, func(t *testing.T, k *kernels[float32]) {
		if k.logSoftmaxRows == nil {
			t.Skip("no whole-row kernel")
		}
		rng := newRand(23)
		worst, block := 0.0, 0.0 // block: logBlockRows's rows
		// Blocks (of blockMax rows at 128 columns, fewer wider), and past
		// blockCols the general rows.
		for _, cols := range rowWidths(31, 64, 100, 128, 129, blockCols, blockCols+1) {
			for _, rows := range rowCounts(cols) {
				for trial := 0; trial < 6; trial++ {
					x := kernelRows(rng, rows, cols)
					off := rng.IntN(16)
					xs := place(t, x, off, trial%2 == 0)
					got := place(t, make([]float32, len(x)), (off+5)%16, trial%2 == 1)
					logSoftmaxRows(k, got, xs, cols)
					gen := make([]float32, len(x))
					logSoftmaxRows(&generic32, gen, x, cols)
					for r := range rows {
						row := x[r*cols : (r+1)*cols]
						want := ref.LogSoftmax(widen(row), ref.Fast)
						for i := range row {
							g, w := got[r*cols+i], gen[r*cols+i]
							what := func() string { return fmt.Sprintf("cols=%d rows=%d row %d %v: [%d]", cols, rows, r, row, i) }
							if sameKind(g, w) {
								t.Fatalf("%s = %v, generic %v", what(), g, w)
							}
							if w != w || math.IsInf(float64(w), 0) || math.Abs(want[i]) < 0x1p-126 {
								continue
							}
							e := errULP(g, want[i])
							if cols <= smallCols {
								worst = max(worst, e)
							} else if cols <= blockCols {
								block = max(block, e)
							}
							if e > 4 {
								t.Fatalf("%s = %v, want %v (%.2f ULP)", what(), g, want[i], e)
							}
						}
					}
					in := place(t, x, (off+9)%16, trial%2 == 1)
					logSoftmaxRows(k, in, in, cols)
					sameBits(t, fmt.Sprintf("in place cols=%d rows=%d", cols, rows), in, got)
					onlyRowsDone(t, fmt.Sprintf("cols=%d rows=%d", cols, rows), len(x), cols, got, func(d []float32) int {
						return k.logSoftmaxRows(d, x, cols)
					})
					if cols > smallCols && cols <= blockCols {
						// logSoftmaxRow's bits.
						old := blockCols
						blockCols = 0
						rowOut := make([]float32, len(x))
						logSoftmaxRows(k, rowOut, xs, cols)
						blockCols = old
						sameBits(t, fmt.Sprintf("logSoftmaxRow's cols=%d rows=%d", cols, rows), got, rowOut)
					}
				}
			}
		}
		krecord(k, "logSoftmaxRows", worst)
		krecord(k, "logBlockRows", block)
		t.Logf("worst %.3f ULP; blocks %.3f", worst, block)
		takesRegularRows(t, rng, 2, func(d, x []float32, cols, _ int) int { return k.logSoftmaxRows(d, x, cols) })
	})
}

// rowWidths are the whole-row kernel tests' widths: every one up to two
// past the small-row kernels', then wider.
func rowWidths(wider ...int) []int {
	var w []int
	for cols := 1; cols <= smallCols+2; cols++ {
		w = append(w, cols)
	}
	return append(w, wider...)
}

// rowCounts are the whole-row kernel tests' batch sizes for rows of cols
// columns (fewer past the small-row kernels' in -short runs).
func rowCounts(cols int) []int {
	if cols > smallCols+2 && testing.Short() {
		return []int{3, 17}
	}
	return []int{1, 2, 3, 5, 17, 40}
}

// takesRegularRows checks that a whole-row kernel, run(dst, x, cols, rows),
// takes every regular row of every width from minCols on: 40 rows, and a
// single row alone (AVX2's padded copies, whose 16-element window would
// pass the slices' end). (The kernels with a log leave rows of one column
// to the general path: their Σ e besides the max is 0, below 2^-76.)
func takesRegularRows(t *testing.T, rng *rand.Rand, minCols int, run func(d, x []float32, cols, rows int) int) {
	t.Helper()
	for cols := minCols; cols <= smallCols; cols++ {
		x := logits32(rng, 40*cols, 2, 0)
		d := make([]float32, len(x))
		if n := run(d, x, cols, 40); n != 40 {
			t.Fatalf("cols=%d: the kernel did %d of 40 regular rows", cols, n)
		}
		if n := run(d[:cols], x[:cols], cols, 1); n != 1 {
			t.Fatalf("cols=%d: the kernel did %d of 1 regular row", cols, n)
		}
	}
}

// sameKind reports whether g and w differ in being 0, −Inf or NaN.
func sameKind(g, w float32) bool {
	return (g == 0) != (w == 0) || (g != g) != (w != w) || math.IsInf(float64(g), -1) != math.IsInf(float64(w), -1)
}

// onlyRowsDone runs a whole-row kernel alone on a fresh dst and checks
// that it wrote exactly the rows it reports, as want holds them.
func onlyRowsDone(t *testing.T, what string, n, cols int, want []float32, kernel func(dst []float32) int) {
	t.Helper()
	d := make([]float32, n)
	for i := range d {
		d[i] = 12345
	}
	done := kernel(d)
	if done < 0 || done > n/cols {
		t.Fatalf("%s: the kernel did %d rows", what, done)
	}
	sameBits(t, what+": rows done", d[:done*cols], want[:done*cols])
	for i := done * cols; i < len(d); i++ {
		if d[i] != 12345 {
			t.Fatalf("%s: did %d rows but wrote element %d", what, done, i)
		}
	}
}

func TestKernelCrossEntropyRows(t *testing.T) {
	forAMDSets(t, func(t *testing.T, k *kernels[float32]) {
		if k.crossEntropyRows == nil {
			t.Skip("no whole-row kernel")
		}
		rng := newRand(29)
		worstLoss, worstGrad := 0.0, 0.0
		blockLoss, blockGrad := 0.0, 0.0 // ceBlockRows's rows
		// Blocks (of blockMax rows at 128 columns, fewer wider), and past
		// blockCols the general rows.
		for _, cols := range rowWidths(31, 64, 100, 128, 129, blockCols, blockCols+1) {
			for _, rows := range rowCounts(cols) {
				for trial := 0; trial < 6; trial++ {
					x := kernelRows(rng, rows, cols)
					labels := make([]int, rows)
					for r := range labels {
						labels[r] = rng.IntN(cols)
						switch rng.IntN(6) {
						case 0:
							labels[r] = -1
						case 1: // the label at the max: a tiny loss, and p − 1 cancels
							labels[r] = argmax(widen(x[r*cols : (r+1)*cols]))
						}
					}
					kept := checkLabels("test", labels, rows, cols)
					what := fmt.Sprintf("cols=%d rows=%d labels %v", cols, rows, labels)
					off := rng.IntN(16)
					xs := place(t, x, off, trial%2 == 0)
					g := place(t, make([]float32, len(x)), (off+5)%16, trial%2 == 1)
					loss := crossEntropy(k, g, xs, labels, cols, kept)
					gen := make([]float32, len(x))
					genLoss := crossEntropy(&generic32, gen, x, labels, cols, kept)
					wantLoss, wantGrad := ref.CrossEntropy(widen(x), labels, cols, ref.Fast)
					if sameKind(loss, genLoss) || math.IsInf(float64(loss), 1) != math.IsInf(float64(genLoss), 1) {
						t.Fatalf("%s: loss %v, generic %v", what, loss, genLoss)
					}
					if !math.IsInf(wantLoss, 0) && wantLoss == wantLoss && math.Abs(wantLoss) >= 0x1p-126 {
						e := errULP(loss, wantLoss)
						if cols <= smallCols {
							worstLoss = max(worstLoss, e)
						} else if cols <= blockCols {
							blockLoss = max(blockLoss, e)
						}
						if e > 4 {
							t.Fatalf("%s: loss %v, want %v (%.2f ULP)", what, loss, wantLoss, e)
						}
					}
					for i := range g {
						if sameKind(g[i], gen[i]) {
							t.Fatalf("%s: grad[%d] = %v, generic %v", what, i, g[i], gen[i])
						}
						if gen[i] != gen[i] || math.Abs(wantGrad[i]) < 0x1p-126 {
							continue
						}
						e := errULP(g[i], wantGrad[i])
						if cols <= smallCols {
							worstGrad = max(worstGrad, e)
						} else if cols <= blockCols {
							blockGrad = max(blockGrad, e)
						}
						if e > 4 {
							t.Fatalf("%s: grad[%d] = %v, want %v (%.2f ULP)", what, i, g[i], wantGrad[i], e)
						}
					}
					// The loss alone, int32 labels (the kernel's other
					// width) and in place: the same bits.
					if l := crossEntropy(k, nil, xs, labels, cols, kept); !same32(l, loss) {
						t.Fatalf("%s: loss without the gradient %v, with it %v", what, l, loss)
					}
					l32 := make([]int32, rows)
					for r, l := range labels {
						l32[r] = int32(l)
					}
					g2 := make([]float32, len(x))
					if l := crossEntropy(k, g2, xs, l32, cols, kept); !same32(l, loss) {
						t.Fatalf("%s: loss with int32 labels %v, with int %v", what, l, loss)
					}
					sameBits(t, what+": int32 labels", g2, g)
					in := place(t, x, (off+9)%16, trial%2 == 1)
					if l := crossEntropy(k, in, in, labels, cols, kept); !same32(l, loss) {
						t.Fatalf("%s: loss in place %v, else %v", what, l, loss)
					}
					sameBits(t, what+": in place", in, g)
					if cols > smallCols && cols <= blockCols {
						// crossEntropyRow's gradient bits, and its loss
						// but for the order of the compensated sum.
						old := blockCols
						blockCols = 0
						rowG := make([]float32, len(x))
						rowLoss := crossEntropy(k, rowG, xs, labels, cols, kept)
						blockCols = old
						sameBits(t, what+": crossEntropyRow's gradient", g, rowG)
						if !same32(loss, rowLoss) && errULP(loss, float64(rowLoss)) > 1 {
							t.Fatalf("%s: loss %v, crossEntropyRow's %v", what, loss, rowLoss)
						}
					}
				}
			}
		}
		krecord(k, "crossEntropyRows/loss", worstLoss)
		krecord(k, "crossEntropyRows", worstGrad)
		krecord(k, "ceBlockRows/loss", blockLoss)
		krecord(k, "ceBlockRows", blockGrad)
		t.Logf("worst %.3f ULP (loss %.3f); blocks %.3f (loss %.3f)", worstGrad, worstLoss, blockGrad, blockLoss)
		// Labels of 8 bytes for the batch, of 4 for the single row.
		takesRegularRows(t, rng, 2, func(d, x []float32, cols, rows int) int {
			v := labelView{l64: make([]int64, rows)}
			if rows == 1 {
				v = labelView{l32: make([]int32, 1)}
			}
			n, _ := k.crossEntropyRows(d, x, v, cols, 0, float64(rows))
			return n
		})
	})
}

func TestKernelSoftCrossEntropyRows(t *testing.T) {
	forAMDSets(t, func(t *testing.T, k *kernels[float32]) {
		if k.softCrossEntropyRows == nil {
			t.Skip("no whole-row kernel")
		}
		rng := newRand(31)
		worstLoss, worstGrad := 0.0, 0.0
		for cols := 1; cols <= smallCols+2; cols++ {
			for _, rows := range []int{1, 2, 3, 5, 17, 40} {
				for trial := 0; trial < 6; trial++ {
					x := kernelRows(rng, rows, cols)
					y := make([]float32, len(x))
					for r := range rows {
						row := y[r*cols : (r+1)*cols]
						switch rng.IntN(6) {
						case 0: // one-hot
							row[rng.IntN(cols)] = 1
						case 1: // not a distribution
							for i := range row {
								row[i] = float32(rng.NormFloat64())
							}
						case 2: // a special target
							row[rng.IntN(cols)] = []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}[rng.IntN(3)]
						default: // smoothed one-hot, zero where the logit is −Inf
							for i := range row {
								row[i] = 0.1 / float32(cols)
								if math.IsInf(float64(x[r*cols+i]), -1) {
									row[i] = 0
								}
							}
							row[rng.IntN(cols)] += 0.9
						}
					}
					what := fmt.Sprintf("cols=%d rows=%d", cols, rows)
					off := rng.IntN(16)
					xs := place(t, x, off, trial%2 == 0)
					ys := place(t, y, (off+3)%16, trial%2 == 1)
					g := place(t, make([]float32, len(x)), (off+5)%16, trial%2 == 1)
					loss := softCrossEntropy(k, g, xs, ys, cols)
					gen := make([]float32, len(x))
					genLoss := softCrossEntropy(&generic32, gen, x, y, cols)
					wantLoss, wantGrad := ref.SoftCrossEntropy(widen(x), widen(y), cols, ref.Fast)
					if l, w := float32(loss), float32(genLoss); sameKind(l, w) || math.IsInf(float64(l), 1) != math.IsInf(float64(w), 1) {
						t.Fatalf("%s: loss %v, generic %v", what, loss, genLoss)
					}
					if !math.IsInf(wantLoss, 0) && wantLoss == wantLoss {
						// The loss's terms y·(l − d) may cancel where y < 0:
						// 4 ULP of Σ|y·(l − d)|/rows.
						tol := 4 * ulpOf(absLoss(x, y, cols))
						worstLoss = max(worstLoss, math.Abs(loss-wantLoss)/ulpOf(absLoss(x, y, cols)))
						if math.Abs(loss-wantLoss) > tol {
							t.Fatalf("%s: loss %v, want %v", what, loss, wantLoss)
						}
					}
					terms := make([]float64, len(y))
					for i := range terms {
						terms[i] = math.Abs(float64(y[i])) / float64(rows)
					}
					for i := range g {
						if sameKind(g[i], gen[i]) {
							t.Fatalf("%s: grad[%d] = %v, generic %v", what, i, g[i], gen[i])
						}
						if gen[i] != gen[i] || math.IsInf(float64(gen[i]), 0) || math.IsInf(wantGrad[i], 0) || wantGrad[i] != wantGrad[i] {
							continue // (a special target: generic's outputs are the bar)
						}
						e := errULP(g[i], wantGrad[i])
						if e > 4 {
							e = math.Abs(float64(g[i])-wantGrad[i]) / (ulpOf(wantGrad[i]) + ulpOf(terms[i]))
						}
						if cols <= smallCols { // (wider rows: the general path, which the accuracy tests record)
							worstGrad = max(worstGrad, e)
						}
						if !(e <= 4) {
							t.Fatalf("%s: grad[%d] = %v, want %v, term %v (%.2f ULP)", what, i, g[i], wantGrad[i], terms[i], e)
						}
					}
					in := place(t, x, (off+9)%16, trial%2 == 1)
					if l := softCrossEntropy(k, in, in, ys, cols); math.Float64bits(l) != math.Float64bits(loss) && !(l != l && loss != loss) {
						t.Fatalf("%s: loss in place %v, else %v", what, l, loss)
					}
					sameBits(t, what+": in place", in, g)
				}
			}
		}
		krecord(k, "softCrossEntropyRows/loss", worstLoss)
		krecord(k, "softCrossEntropyRows", worstGrad)
		t.Logf("worst %.3f ULP (loss %.3f)", worstGrad, worstLoss)
		takesRegularRows(t, rng, 2, func(d, x []float32, cols, rows int) int {
			n, _ := k.softCrossEntropyRows(d, x, make([]float32, len(x)), cols, 0, float64(rows))
			return n
		})
	})
}

// ulpOf is a float32 ULP at |v| (the smallest normal's for tiny v).
func ulpOf(v float64) float64 {
	_, e := math.Frexp(math.Max(math.Abs(v), 0x1p-126))
	return math.Ldexp(1, e-24)
}

// absLoss is the mean over rows of Σ|y·(l − d)|, the scale of the soft
// cross-entropy loss's rounding.
func absLoss(x, y []float32, cols int) float64 {
	var s float64
	rows := len(x) / cols
	for r := range rows {
		row := widen(x[r*cols : (r+1)*cols])
		lse := ref.LogSumExp(row, ref.Fast)
		for i, v := range row {
			if y[r*cols+i] != 0 {
				s += math.Abs(float64(y[r*cols+i]) * (lse - v))
			}
		}
	}
	return s / float64(rows)
}

// TestKernelBackwardRows: the backward passes' small-row kernels against
// the reference, with checkTerms32's bar where LogSoftmaxBackward's
// outputs cancel (dy − exp(logp)·Σdy; SoftmaxBackward's dy − ⟨p, dy⟩
// has none: its terms are 0), and special values in dy and logp.
func TestKernelBackwardRows(t *testing.T) {
	forAMDSets(t, func(t *testing.T, k *kernels[float32]) {
		if k.softmaxBackwardRows == nil || k.logSoftmaxBackwardRows == nil {
			t.Skip("no whole-row kernels")
		}
		rng := newRand(37)
		// The whole-row kernels on wider rows.
		for _, cols := range rowWidths(31, 64, 100, 129, 512, 1000) {
			for _, rows := range rowCounts(cols) {
				for trial := 0; trial < 6; trial++ {
					x := kernelRows(rng, rows, cols)
					var p, logp, dy []float64
					for r := range rows {
						row := widen(x[r*cols : (r+1)*cols])
						p = append(p, rounded32(ref.Softmax(row, ref.Fast))...)
						logp = append(logp, rounded32(ref.LogSoftmax(row, ref.Fast))...)
						d := rounded32(gen.Logits(rng, cols, []float64{1, 100, 1e-3}[rng.IntN(3)], 0))
						if rng.IntN(8) == 0 {
							d[rng.IntN(cols)] = []float64{math.NaN(), math.Inf(1), math.Inf(-1), float64(float32(3e38))}[rng.IntN(4)] // (a float32: the kernels see that)
						}
						dy = append(dy, d...)
					}
					what := fmt.Sprintf("cols=%d rows=%d", cols, rows)
					off := rng.IntN(16)
					for _, log := range []bool{false, true} {
						in := p
						if log {
							in = logp
						}
						xs := place(t, f32(in), off, trial%2 == 0)
						ys := place(t, f32(dy), (off+3)%16, trial%2 == 1)
						got := place(t, make([]float32, len(in)), (off+5)%16, trial%2 == 1)
						gen := make([]float32, len(in))
						if log {
							logSoftmaxBackwardRows(k, got, xs, ys, cols)
							logSoftmaxBackwardRows(&generic32, gen, f32(in), f32(dy), cols)
						} else {
							softmaxBackwardRows(k, got, xs, ys, cols)
							softmaxBackwardRows(&generic32, gen, f32(in), f32(dy), cols)
						}
						if cols > smallCols {
							// The row compositions' bits.
							old := bwdCols
							bwdCols = 0
							rowOut := make([]float32, len(in))
							if log {
								logSoftmaxBackwardRows(k, rowOut, xs, ys, cols)
							} else {
								softmaxBackwardRows(k, rowOut, xs, ys, cols)
							}
							bwdCols = old
							sameBits(t, what+": one row at a time", got, rowOut)
						}
						for r := range rows {
							i, j := r*cols, (r+1)*cols
							var want, terms []float64
							if log {
								// Precise: Fast flushes exp(logp) below 2^-126 to 0, which
								// no set does backwards; with Σdy near 3e38 it shows.
								want = ref.LogSoftmaxBackward(in[i:j], dy[i:j], ref.Precise)
								sdy := ref.Sum(dy[i:j])
								for _, v := range in[i:j] {
									terms = append(terms, roundTerm(math.Exp(v)*sdy))
								}
							} else {
								want = ref.SoftmaxBackward(in[i:j], dy[i:j])
								terms = dotTerms(in[i:j], dy[i:j], cols)
							}
							for c := range want {
								g, w := got[i+c], gen[i+c]
								if sameKind(g, w) || math.IsInf(float64(g), 1) != math.IsInf(float64(w), 1) {
									t.Fatalf("%s log=%v row %d: [%d] = %v, generic %v", what, log, r, c, g, w)
								}
								if w != w || math.IsInf(float64(w), 0) || math.IsInf(want[c], 0) || want[c] != want[c] || math.IsInf(terms[c], 0) || terms[c] != terms[c] {
									continue
								}
								e := errULP(g, want[c])
								if e > 4 {
									e = math.Abs(float64(g)-want[c]) / (ulpOf(want[c]) + ulpOf(terms[c]))
								}
								if !(e <= 4) {
									t.Fatalf("%s log=%v row %d: [%d] = %v, want %v, term %v (%.2f ULP)", what, log, r, c, g, want[c], terms[c], e)
								}
							}
						}
						// In place (dx is dy): the same bits.
						yi := place(t, f32(dy), (off+7)%16, trial%2 == 0)
						if log {
							logSoftmaxBackwardRows(k, yi, xs, yi, cols)
						} else {
							softmaxBackwardRows(k, yi, xs, yi, cols)
						}
						sameBits(t, what+": in place", yi, got)
					}
				}
			}
		}
		takesRegularRows(t, rng, 1, func(d, x []float32, cols, _ int) int { return k.softmaxBackwardRows(d, x, x, cols) })
		takesRegularRows(t, rng, 1, func(d, x []float32, cols, _ int) int { return k.logSoftmaxBackwardRows(d, x, x, cols) })
	})
}

// TestKernelLogSumExpSmall: LogSumExp of rows of up to 16 elements (the
// small-row kernel) and just past it, against the reference; specials as
// generic's.
func TestKernelLogSumExpSmall(t *testing.T) {
	forAMDSets(t, func(t *testing.T, k *kernels[float32]) {
		if k.logSumExpSmall == nil {
			t.Skip("no small-row kernel")
		}
		rng := newRand(41)
		worst := 0.0
		for n := 1; n <= smallCols+2; n++ {
			for trial := 0; trial < 200; trial++ {
				x := kernelRows(rng, 1, n)
				xs := place(t, x, trial%16, trial%2 == 0)
				got, gen := logSumExp(k, xs), logSumExp(&generic32, x)
				want := ref.LogSumExp(widen(x), ref.Fast)
				if sameKind(got, gen) || math.IsInf(float64(got), 1) != math.IsInf(float64(gen), 1) {
					t.Fatalf("n=%d %v: %v, generic %v", n, x, got, gen)
				}
				if gen != gen || math.IsInf(float64(gen), 0) || math.Abs(want) < 0x1p-126 {
					continue
				}
				e := errULP(got, want)
				if n <= smallCols {
					worst = max(worst, e)
				}
				if e > 4 {
					t.Fatalf("n=%d %v: %v, want %v (%.2f ULP)", n, x, got, want, e)
				}
			}
		}
		krecord(k, "logSumExpSmall", worst)
		t.Logf("worst %.3f ULP", worst)
		for n := 2; n <= smallCols; n++ { // n = 1: see takesRegularRows
			if _, _, ok := k.logSumExpSmall(logits32(rng, n, 2, 0)); !ok {
				t.Fatalf("n=%d: the kernel left a regular row", n)
			}
		}
	})
}
