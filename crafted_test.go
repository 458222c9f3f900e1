package softmax

import (
	"math"
	"sort"
	"testing"

	"github.com/gosimd/softmax/internal/ref"
)

// TestCraftedRows builds, for each set, rows that line up every error of
// its own exp against the accuracy bar, as an outside audit did (it found
// 4.35 ULP in Softmax before the table exp corrected T's rounding and the
// sums stopped adding pairs of e in float32): one element whose e errs
// most upward, its p just below a power of two (where the reference's ULP
// halves), among a bulk of two values whose e err most downward, laid out
// in runs of 1, 8 and 16 (the vectors' lanes) so that every way a kernel
// pairs its terms meets the same errors. Softmax, SoftmaxRows, the
// cross-entropy gradient and, on long rows, their parallel forms (a row
// in chunks: 5.0 ULP when the chunks took the split kernels) take each
// row, with its max at 0 and at −300 (past the table kernels' range,
// where the row is shifted first).
func TestCraftedRows(t *testing.T) {
	forEachSet(t, func(t *testing.T, k *kernels[float32]) {
		for _, m := range []float32{0, -300} {
			pairs, up := expExtremes(k, m)
			for i, ab := range pairs {
				for j, plus := range up {
					for _, run := range []int{1, 8, 16} {
						bulks := []int{60, 700}
						if i+j == 0 && run == 8 && !interpreted(k) && !testing.Short() {
							bulks = append(bulks, 3*minChunk) // chunked
						}
						for _, bulk := range bulks {
							for _, below := range []float64{0.3, 1.2} { // ULPs below a power of two
								x := craftRow(ab[0]-m, ab[1]-m, plus-m, bulk, run, below)
								if x == nil {
									continue
								}
								for i := range x {
									x[i] += m // exact for the swept values
								}
								checkCrafted(t, k, x)
							}
						}
					}
				}
			}
		}
	})
}

// expExtremes sweeps x over m + [−3, −1/4], on a grid fine enough and
// exact at m, through the set's Softmax exp (expSumTotal, or expSum) and
// returns the pairs of x whose e err most downward, counting the rounding
// of e_a + e_b in float32 (a kernel that adds lanes in pairs rounds there
// too), and the x whose e err most upward, relative to exp(x − m + mu).
func expExtremes(k *kernels[float32], m float32) (pairs [][2]float32, up []float32) {
	n := 1 << 20
	if interpreted(k) || testing.Short() { // -short: CI's runs under qemu
		n = 1 << 16
	}
	step := math.Max(2.75/float64(n), ulpAt(m-3))
	n = int(2.75 / step)
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(float64(m) - 3 + float64(i)*step)
	}
	e := make([]float32, n)
	mu := 0.0
	if k.expSumTotal != nil {
		_, mu = k.expSumTotal(e, x, m, x[0])
	} else {
		k.expSum(e, x, m)
	}
	d := make([]float32, n) // x − m, exact
	for i := range x {
		d[i] = x[i] - m
	}
	idx, rel := byExpError(d, e, mu)
	type pair struct {
		a, b  int
		score float64
	}
	var ps []pair
	for i := range 64 {
		for j := i; j < 64; j++ {
			a, b := idx[i], idx[j]
			s := float64(e[a]) + float64(e[b])
			ps = append(ps, pair{a, b, (rel[a]+rel[b])/2 + (float64(float32(s))-s)/s})
		}
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].score < ps[j].score })
	for _, p := range ps[:4] {
		pairs = append(pairs, [2]float32{x[p.a], x[p.b]})
	}
	for i := range 4 {
		up = append(up, x[idx[n-1-i]])
	}
	return pairs, up
}

// ulpAt is the spacing of float32s at |v|, a power of two.
func ulpAt(v float32) float64 {
	return math.Ldexp(1, math.Ilogb(math.Abs(float64(v)))-23)
}

// craftRow returns [0, bulk values a and b in alternating runs of run, a
// filler, plus], the filler chosen so that softmax(row)[last] is below a
// power of two by about below float32 ULPs (of the binade under it); nil
// where no filler in (−87, 0] does that.
func craftRow(a, b, plus float32, bulk, run int, below float64) []float32 {
	ea, eb, ep := math.Exp(float64(a)), math.Exp(float64(b)), math.Exp(float64(plus))
	s0 := 1 + ep + float64(bulk)*(ea+eb)/2
	p := math.Ldexp(1, int(math.Floor(math.Log2(ep/s0))))
	s := ep / (p * (1 - below*0x1p-24)) // the sum that puts p(plus) there
	x, sum := []float32{0}, 1+ep
	for i := 0; ; i++ {
		v := a
		if (i/run)%2 == 1 {
			v = b
		}
		ev := math.Exp(float64(v))
		if sum+ev >= s {
			break
		}
		x = append(x, v)
		sum += ev
	}
	f := s - sum
	if !(f > 1e-37 && f <= 1) {
		return nil
	}
	return append(x, float32(math.Log(f)), plus)
}

func checkCrafted(t *testing.T, k *kernels[float32], x []float32) {
	t.Helper()
	n := len(x)
	v := widen(x)
	want := ref.Softmax(v, ref.Fast)
	got := make([]float32, n)
	softmaxRow(k, got, x)
	check32(t, k, "Softmax crafted", got, want)

	const rows = 3 // blocks or pairs of rows, and one alone
	xs := make([]float32, 0, rows*n)
	for range rows {
		xs = append(xs, x...)
	}
	gs := make([]float32, rows*n)
	softmaxRows(k, gs, xs, n)
	for r := range rows {
		check32(t, k, "SoftmaxRows crafted", gs[r*n:(r+1)*n], want)
	}

	labels := []int{0, n - 1, 0}
	crossEntropy(k, gs, xs, labels, n, rows)
	for r, l := range labels {
		_, wantGrad := ref.CrossEntropy(v, []int{l}, n, ref.Fast)
		for i := range wantGrad {
			wantGrad[i] /= rows
		}
		check32(t, k, "CrossEntropyGrad crafted", gs[r*n:(r+1)*n], wantGrad)
	}

	if n >= 2*minChunk { // a row in chunks, on goroutines
		softmaxRowsParallel(k, got, x, n, 4)
		check32(t, k, "SoftmaxRowsParallel crafted", got, want)
		_, wantGrad := ref.CrossEntropy(v, []int{n - 1}, n, ref.Fast)
		crossEntropyParallel(k, got, x, []int{n - 1}, n, 1, 4)
		check32(t, k, "CrossEntropyGradParallel crafted", got, wantGrad)
	}
}
