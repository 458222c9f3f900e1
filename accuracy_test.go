package softmax

import (
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"testing"

	"github.com/gosimd/softmax/internal/gen"
	"github.com/gosimd/softmax/internal/ref"
	"github.com/gosimd/softmax/internal/ulp"
)

// Accuracy of every function on every set, against the references in
// internal/ref, over lengths 0..300 and powers of two ±1 up to 2^20, logit
// spreads σ ∈ {0.1, 1, 4, 30} around random means in ±50, and placements
// that cycle through guard pages on either side and start offsets 0..15.

var spreads = []float64{0.1, 1, 4, 30}

// lengths are every n in 0..300, then 2^k−1, 2^k, 2^k+1 up to 2^20 (2^14
// with -short, which the emulated CI runs use).
func lengths() []int {
	var ns []int
	for n := range 301 {
		ns = append(ns, n)
	}
	top := 20
	if testing.Short() {
		top = 14
	}
	for k := 9; k <= top; k++ {
		ns = append(ns, 1<<k-1, 1<<k, 1<<k+1)
	}
	return ns
}

// accCase is one input row of the accuracy sweep.
type accCase struct {
	n     int
	sigma float64
	mean  float64
	place placement
	x     []float64 // the logits, already rounded to float32 values
	seed  uint64
}

func (c accCase) String() string {
	return fmt.Sprintf("n=%d σ=%g mean=%.1f %v", c.n, c.sigma, c.mean, c.place)
}

func accCases(maxN int) []accCase {
	rng := newRand(1)
	var cs []accCase
	for i, n := range lengths() {
		if n > maxN {
			continue
		}
		c := accCase{n: n, sigma: spreads[i%len(spreads)], mean: rng.Float64()*100 - 50, place: placementFor(i), seed: uint64(i)}
		c.x = gen.Logits(rng, n, c.sigma, c.mean)
		for j := range c.x {
			c.x[j] = float64(float32(c.x[j]))
		}
		cs = append(cs, c)
	}
	return cs
}

// distribution returns a random probability vector (float32 values).
func distribution(rng *rand.Rand, n int) []float64 {
	p := ref.Softmax(gen.Logits(rng, n, 2, 0), ref.Fast)
	for i := range p {
		p[i] = float64(float32(p[i]))
	}
	return p
}

func rounded32(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(float32(x))
	}
	return out
}

func TestAccuracyForward32(t *testing.T) {
	forEachSet(t, func(t *testing.T, k *kernels[float32]) {
		for _, c := range accCases(1 << 20) {
			x, freeX := vec32(c.x, c.place)
			dst, freeD := alloc[float32](c.n, placementFor(int(c.seed)+1))
			what := func(f string) string { return f + " " + c.String() }

			softmaxRow(k, dst, x)
			check32(t, k, what("Softmax"), dst, ref.Softmax(c.x, ref.Fast))

			logSoftmaxRow(k, dst, x)
			check32(t, k, what("LogSoftmax"), dst, ref.LogSoftmax(c.x, ref.Fast))

			got := logSumExp(k, x)
			check32(t, k, what("LogSumExp"), []float32{got}, []float64{ref.LogSumExp(c.x, ref.Fast)})
			freeX()
			freeD()
		}
	})
}

func TestAccuracyBackward32(t *testing.T) {
	forEachSet(t, func(t *testing.T, k *kernels[float32]) {
		for _, c := range accCases(1 << 16) {
			rng := newRand(c.seed)
			pv := distribution(rng, c.n)
			dyv := rounded32(gen.Logits(rng, c.n, 1, 0))
			p, free1 := vec32(pv, c.place)
			dy, free2 := vec32(dyv, placementFor(int(c.seed)+1))
			dx, free3 := alloc[float32](c.n, placementFor(int(c.seed)+2))

			softmaxBackwardRow(k, dx, p, dy)
			checkTerms32(t, k, "SoftmaxBackward "+c.String(), dx, ref.SoftmaxBackward(pv, dyv), dotTerms(pv, dyv, c.n))

			// dx = dy − exp(logp)·Σdy cancels where the two terms are
			// close; the float64 exp's rounding then shows relative to
			// the term (roundTerm).
			logp := rounded32(ref.LogSoftmax(c.x, ref.Fast))
			lp, free4 := vec32(logp, c.place)
			logSoftmaxBackwardRow(k, dx, lp, dy)
			want := ref.LogSoftmaxBackward(logp, dyv, ref.Fast)
			terms := make([]float64, c.n)
			sdy := ref.Sum(dyv)
			for i := range terms {
				terms[i] = roundTerm(math.Exp(logp[i]) * sdy)
			}
			checkTerms32(t, k, "LogSoftmaxBackward "+c.String(), dx, want, terms)
			free1()
			free2()
			free3()
			free4()
		}
	})
}

// checkTerms32 is check32 for outputs that are differences: the error may
// be tol ULPs of the output plus tol ULPs of terms[i] (the callers pass
// roundTerm's: float64's rounding of the difference's terms).
func checkTerms32(t *testing.T, k *kernels[float32], what string, got []float32, want, terms []float64) {
	t.Helper()
	tol := tolFor(k)
	maxE, maxR := 0.0, -1.0
	for i := range want {
		e := ulp.Err32(got[i], want[i])
		finite := !math.IsInf(want[i], 0) && !math.IsInf(float64(got[i]), 0) && want[i] == want[i] && got[i] == got[i]
		rescaled := e > tol && finite
		if rescaled {
			// Rescale: error in ULPs of the output plus ULPs of the term.
			// (Err32 is +Inf where want is below 2^-126 and got is not:
			// a difference that cancels to 0 exactly still has the
			// term's slack; with a zero term, the rescaled error stays
			// as large.)
			u := ulp.Of32(want[i]) + ulp.Of32(terms[i])
			e = math.Abs(float64(got[i])-want[i]) / u
		}
		if e > tol || e != e {
			t.Fatalf("%s [set %s]: element %d = %g, want %g, term %g (%.2f ULP > %g)", what, k.name, i, got[i], want[i], terms[i], e, tol)
		}
		if rescaled {
			maxR = math.Max(maxR, e)
		} else {
			maxE = math.Max(maxE, e)
		}
	}
	key := k.name + "/" + what[:indexSpace(what)]
	record(key, maxE)
	if maxR > 0 {
		record(key+" (in ULPs of output + term)", maxR)
	}
}

func indexSpace(s string) int {
	for i, r := range s {
		if r == ' ' {
			return i
		}
	}
	return len(s)
}

func TestAccuracyCrossEntropy32(t *testing.T) {
	forEachSet(t, func(t *testing.T, k *kernels[float32]) {
		for _, c := range accCases(1 << 16) {
			if c.n == 0 {
				continue
			}
			rng := newRand(c.seed)
			const rows = 3
			logits := append(append(rounded32(gen.Logits(rng, c.n, c.sigma, c.mean)), c.x...), rounded32(gen.Logits(rng, c.n, c.sigma, -c.mean))...)
			labels := []int{rng.IntN(c.n), rng.IntN(c.n), rng.IntN(c.n)}
			if c.seed%4 == 1 {
				labels[1] = -1
			}
			if c.seed%8 == 3 { // the label at the max: the loss is tiny, the grad p − 1 cancels
				labels[1] = argmax(c.x)
			}
			x, free1 := vec32(logits, c.place)
			g, free2 := alloc[float32](len(logits), placementFor(int(c.seed)+1))
			wantLoss, wantGrad := ref.CrossEntropy(logits, labels, c.n, ref.Fast)
			kept := checkLabels("test", labels, rows, c.n)

			loss := crossEntropy(k, g, x, labels, c.n, kept)
			check32(t, k, "CrossEntropyGrad/loss "+c.String(), []float32{loss}, []float64{wantLoss})
			check32(t, k, "CrossEntropyGrad "+c.String(), g, wantGrad)
			loss = crossEntropy(k, nil, x, labels, c.n, kept)
			check32(t, k, "CrossEntropy "+c.String(), []float32{loss}, []float64{wantLoss})

			// Soft targets: smoothed one-hot rows, and on every other case
			// the row's own probabilities (rounded to float32), where
			// p·Σy − y cancels to the rounding of p.
			y := make([]float64, len(logits))
			for r, l := range labels {
				if c.seed%2 == 1 {
					copy(y[r*c.n:], ref.Softmax(logits[r*c.n:(r+1)*c.n], ref.Fast))
					continue
				}
				for j := range c.n {
					y[r*c.n+j] = float64(float32(0.1 / float64(c.n)))
				}
				if l >= 0 {
					y[r*c.n+l] += 0.9
				}
			}
			y = rounded32(y)
			yt, free3 := vec32(y, placementFor(int(c.seed)+2))
			wantLoss, wantGrad = ref.SoftCrossEntropy(logits, y, c.n, ref.Fast)
			soft := softCrossEntropy(k, g, x, yt, c.n)
			check32(t, k, "SoftCrossEntropyGrad/loss "+c.String(), []float32{float32(soft)}, []float64{wantLoss})
			terms := make([]float64, len(y))
			for i := range terms {
				terms[i] = roundTerm(2 * y[i] / rows)
			}
			checkTerms32(t, k, "SoftCrossEntropyGrad "+c.String(), g, wantGrad, terms)
			free1()
			free2()
			free3()
		}
	})
}

func argmax(x []float64) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// TestAccuracy64 runs the same sweep for float64 against the double-double
// reference, on shorter rows (the reference is slow), on every float64 set.
func TestAccuracy64(t *testing.T) {
	for _, k := range sets64 {
		for _, c := range accCases(4097) {
			accuracy64(t, k, c)
		}
	}
}

func accuracy64(t *testing.T, k *kernels[float64], c accCase) {
	t.Helper()
	{
		rng := newRand(c.seed)
		x, free1 := vec64(c.x, c.place)
		dst, free2 := alloc[float64](c.n, placementFor(int(c.seed)+1))
		// Give the float64 logits bits below float32's.
		for i := range x {
			x[i] += c.x[i] * 0x1p-30 * rng.Float64()
		}
		xs := append([]float64(nil), x...)

		softmaxRow(k, dst, x)
		check64(t, k.name+"/Softmax "+c.String(), dst, ref.Softmax(xs, ref.Precise))
		logSoftmaxRow(k, dst, x)
		check64(t, k.name+"/LogSoftmax "+c.String(), dst, ref.LogSoftmax(xs, ref.Precise))
		check64(t, k.name+"/LogSumExp "+c.String(), []float64{logSumExp(k, x)}, []float64{ref.LogSumExp(xs, ref.Precise)})

		p := ref.Softmax(gen.Logits(rng, c.n, 2, 0), ref.Precise)
		dy := gen.Logits(rng, c.n, 1, 0)
		softmaxBackwardRow(k, dst, p, dy)
		checkTerms64(t, k.name+"/SoftmaxBackward "+c.String(), dst, ref.SoftmaxBackward(p, dy), dotTerms64(p, dy, c.n))

		if c.n > 0 {
			labels := []int{rng.IntN(c.n)}
			if c.seed%3 == 0 {
				labels[0] = argmax(xs)
			}
			loss := crossEntropy(k, dst, x, labels, c.n, 1)
			wantLoss, wantGrad := ref.CrossEntropy(xs, labels, c.n, ref.Precise)
			check64(t, k.name+"/CrossEntropyGrad/loss "+c.String(), []float64{loss}, []float64{wantLoss})
			check64(t, k.name+"/CrossEntropyGrad "+c.String(), dst, wantGrad)

			// Soft targets: a distribution, or the probabilities
			// themselves (the gradient cancels to roundings of p).
			y := ref.Softmax(gen.Logits(rng, c.n, 1, 0), ref.Precise)
			pr := ref.Softmax(xs, ref.Precise)
			if c.seed%2 == 0 {
				y = pr
			}
			loss = softCrossEntropy(k, dst, x, y, c.n)
			wantLoss, wantGrad = ref.SoftCrossEntropy(xs, y, c.n, ref.Precise)
			check64(t, k.name+"/SoftCrossEntropyGrad/loss "+c.String(), []float64{loss}, []float64{wantLoss})
			terms := make([]float64, c.n)
			for j := range terms {
				terms[j] = y[j] + pr[j]
			}
			checkTerms64(t, k.name+"/SoftCrossEntropyGrad "+c.String(), dst, wantGrad, terms)

			logp := ref.LogSoftmax(xs, ref.Precise)
			logSoftmaxBackwardRow(k, dst, logp, dy)
			sdy := ref.Sum(dy)
			for j := range terms {
				terms[j] = math.Abs(math.Exp(logp[j]) * sdy)
			}
			checkTerms64(t, k.name+"/LogSoftmaxBackward "+c.String(), dst, ref.LogSoftmaxBackward(logp, dy, ref.Precise), terms)
		}
		free1()
		free2()
	}
}

// TestLongRow checks the longest rows DESIGN.md promises: 2^24 logits of
// spread 30, where a float32 running sum would be off by thousands of ULPs.
// The probabilities must sum to 1 within 4 ULP too.
func TestLongRow(t *testing.T) {
	if testing.Short() {
		t.Skip("a 2^24 row takes seconds; run without -short")
	}
	type row struct {
		x           []float32
		want        []float64
		wantLSE     float64
		what, whatL string
	}
	rows := map[int]*row{}
	forEachSet(t, func(t *testing.T, k *kernels[float32]) {
		n := longRow(k)
		r := rows[n]
		if r == nil {
			xs := rounded32(gen.Logits(newRand(24), n, 30, 10))
			r = &row{f32(xs), ref.Softmax(xs, ref.Fast), ref.LogSumExp(xs, ref.Fast),
				fmt.Sprintf("Softmax n=2^%d", bits.Len(uint(n))-1), fmt.Sprintf("LogSumExp n=2^%d", bits.Len(uint(n))-1)}
			rows[n] = r
		}
		dst := make([]float32, n)
		softmaxRow(k, dst, r.x)
		check32(t, k, r.what, dst, r.want)
		sum := 0.0
		for _, v := range dst {
			sum += float64(v)
		}
		if e := ulp.Err32(float32(sum), 1); math.Abs(sum-1) > 4*0x1p-24 {
			t.Fatalf("Σ softmax over %d elements = %.10f (%.1f ULP from 1)", n, sum, e)
		}
		check32(t, k, r.whatL, []float32{logSumExp(k, r.x)}, []float64{r.wantLSE})
	})
}

// TestLogSumExpCancellation: rows shifted so that max + log Σ nearly
// cancels (the result is tiny against both terms, down to 2^-40 of them),
// where the error of the sum and of its log is magnified; and
// log-probabilities (a row's rounded LogSoftmax), whose LogSumExp is the
// rounding of their normalization, 1e-8 or less against terms near 10.
// Within 4 ULP of the double-double reference (ref.Precise: ref.Fast's
// float64 log is itself tens of ULPs off there), which needs
// logSumExpDD.
func TestLogSumExpCancellation(t *testing.T) {
	rng := newRand(17)
	forEachSet(t, func(t *testing.T, k *kernels[float32]) {
		for i := range 400 {
			n := 2 + i%97
			xs := gen.Logits(rng, n, spreads[i%4], 0)
			shift := ref.LogSumExp(xs, ref.Fast) - (rng.Float64()-0.5)*math.Ldexp(1, -i%40)
			for j := range xs {
				xs[j] = float64(float32(xs[j] - shift))
			}
			got := logSumExp(k, f32(xs))
			check32(t, k, fmt.Sprintf("LogSumExp cancelling n=%d", n), []float32{got}, []float64{ref.LogSumExp(xs, ref.Precise)})
		}
		// A max of −0.9·log Σ where log Σ is made of terms below the exp
		// cutoff alone (withTail's), so the double-double path must add
		// them back too: it gave the max itself, −5.4e-36 for 6.1e-37.
		for _, d := range []float32{-87.5, -88, -90, -100} {
			for _, n := range []int{50, 1000, 20000} {
				xs := make([]float64, n+1)
				xs[0] = float64(float32(-0.9 * float64(n) * math.Exp(float64(d))))
				for j := 1; j <= n; j++ {
					xs[j] = float64(d)
				}
				check32(t, k, fmt.Sprintf("LogSumExp below the cutoff d=%g n=%d", d, n), []float32{logSumExp(k, f32(xs))}, []float64{ref.LogSumExp(xs, ref.Precise)})
			}
		}
		ns := append(lengths()[1:301:301], 1000, 4097)
		for i, n := range ns {
			sigma := []float64{0.5, 2, 8}[i%3]
			lp := rounded32(ref.LogSoftmax(gen.Logits(rng, n, sigma, 0), ref.Fast))
			x, free := vec32(lp, placementFor(i))
			got := logSumExp(k, x)
			check32(t, k, fmt.Sprintf("LogSumExp log-probabilities n=%d σ=%g", n, sigma), []float32{got}, []float64{ref.LogSumExp(lp, ref.Precise)})
			free()
		}
		// A confident classifier's log-probabilities: the max within 1e-8
		// of 0, the rest near −20. x − m is then inexact in float64 (their
		// exponents are over 29 apart), and its rounding, e^-20·2^-53·20,
		// is hundreds of ULPs of a LogSumExp near 1e-20.
		for i := range 300 {
			n := 2 + i%5
			xs := make([]float64, n)
			for j := 1; j < n; j++ {
				xs[j] = -12 - 14*rng.Float64()
			}
			lp := rounded32(ref.LogSoftmax(xs, ref.Fast))
			check32(t, k, fmt.Sprintf("LogSumExp confident log-probabilities n=%d", n), []float32{logSumExp(k, f32(lp))}, []float64{ref.LogSumExp(lp, ref.Precise)})
		}
	})
}

// TestAdversarialRows builds, for each set, rows where its own exp errs the
// most: one element from the 256 with the largest upward error and the rest
// from the 256 with the largest downward error (and the reverse), so that
// the error of e and the error of the sum add up in p = e/Σe. The errors
// are those of expSum (LogSoftmax, the loss) and, for sets that have it,
// of expSumTotal (Softmax's own exp, whose reduction differs), each
// measured with the max at 0 as the rows have it.
func TestAdversarialRows(t *testing.T) {
	forEachSet(t, func(t *testing.T, k *kernels[float32]) {
		const n = 1 << 16
		x := make([]float32, n)
		for i := range x {
			x[i] = -float32(i) / n * 4
		}
		extremes := func(e []float32, mu float64) (low, high []int) {
			idx, _ := byExpError(x, e, mu)
			return idx[:256], idx[n-256:]
		}
		e := make([]float32, n)
		k.expSum(e, x, 0)
		low, high := extremes(e, 0)
		adversarialRows(t, k, x, low, high, "adversarial")
		if k.expSumTotal != nil {
			_, mu := k.expSumTotal(e, x, 0, x[n-1])
			low, high = extremes(e, mu)
			adversarialRows(t, k, x, low, high, "adversarial-total")
		}
	})
}

// byExpError returns the indices of x ordered by the relative error of
// e[i] against exp(x[i] + mu), the most downward first, and the errors.
func byExpError(x, e []float32, mu float64) (idx []int, rel []float64) {
	idx = make([]int, len(x))
	rel = make([]float64, len(x))
	for i := range x {
		w := math.Exp(float64(x[i]) + mu)
		rel[i] = (float64(e[i]) - w) / w
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return rel[idx[a]] < rel[idx[b]] })
	return idx, rel
}

// adversarialRows checks rows of x's elements: 0 (the max), one from one
// list, the rest from the other.
func adversarialRows(t *testing.T, k *kernels[float32], x []float32, low, high []int, what string) {
	rng := newRand(5)
	for it := range 2000 {
		m := 2 + rng.IntN(60)
		one, rest := high, low
		if it%2 == 1 {
			one, rest = low, high
		}
		v := make([]float64, m) // v[0] = 0 is the max
		for i := 1; i < m; i++ {
			v[i] = float64(x[rest[rng.IntN(len(rest))]])
		}
		at := 1 + rng.IntN(m-1)
		v[at] = float64(x[one[rng.IntN(len(one))]])
		if it%4 >= 2 { // the same row shifted: d changes by a rounding at most
			s := float64(float32(rng.NormFloat64() * 10))
			for i := range v {
				v[i] = float64(float32(v[i] + s))
			}
		}
		xv := f32(v)
		got := make([]float32, m)
		softmaxRow(k, got, xv)
		check32(t, k, "Softmax "+what, got, ref.Softmax(v, ref.Fast))
		logSoftmaxRow(k, got, xv)
		check32(t, k, "LogSoftmax "+what, got, ref.LogSoftmax(v, ref.Fast))
		for _, label := range []int{at, 0} {
			wantLoss, wantGrad := ref.CrossEntropy(v, []int{label}, m, ref.Fast)
			loss := crossEntropy(k, got, xv, []int{label}, m, 1)
			check32(t, k, "CrossEntropyGrad "+what, got, wantGrad)
			check32(t, k, "CrossEntropyGrad/loss "+what, []float32{loss}, []float64{wantLoss})
		}
	}
}

// TestLogSumExpCancellation64: float64 rows shifted so that max + log Σ
// cancels, the result down to 2^-37 of log Σ, where math.Log's error and
// the exps' (an ULP of log Σ each) are many ULPs of the result (29 at
// 2^-8 of it before the double-double path), and rows with a negative
// max just above −2·log Σ, where the result is smaller than log Σ but
// does not cancel far. (Below 2^-42 of log Σ the double-double's own
// 2^-95 shows: float64 log-probabilities, DESIGN.md's exception.)
func TestLogSumExpCancellation64(t *testing.T) {
	rng := newRand(61)
	for i := range 600 {
		n := 2 + i%97
		xs := gen.Logits(rng, n, spreads[i%4], 0)
		l := ref.LogSumExp(xs, ref.Precise)
		r := (1 + rng.Float64()) / 2 * math.Ldexp(l, -i%37)
		if i%2 == 0 {
			r = -r
		}
		shift := l - r
		if i%3 == 0 {
			shift = xs[argmax(xs)] + l*rng.Float64()
		}
		for j := range xs {
			xs[j] -= shift
		}
		check64(t, fmt.Sprintf("LogSumExp cancelling n=%d", n), []float64{logSumExp(&generic64, xs)}, []float64{ref.LogSumExp(xs, ref.Precise)})
	}
}

// TestBackwardSpan: LogSoftmaxBackward's dy − exp(logp)·Σdy and the soft
// gradient's (p·Σy − y)/rows where dy (or y) spans more than a
// double-double's 106 bits and cancels, against the exact sums
// (ref.sumOf): every set is within the contract's slack (sumTerm: the
// compensated sum's n·2^-104 of Σ|dy|), which a plain float64 sum, off by
// 2^-53 of Σ|dy|, is not. An audit's dy first: 2^100 + 2^40 + 2^-20 −
// 2^100 − 2^40, whose 2^-20 a double-double loses.
func TestBackwardSpan(t *testing.T) {
	rows := [][]float64{{0x1p100, 0x1p40, 0x1p-20, -0x1p100, -0x1p40}, {-0x1p100, 0x1p100, 0x1p40}}
	rng := newRand(61)
	for _, n := range []int{2, 3, 7, 16, 33, 100, 301} {
		for range 4 {
			dy := make([]float64, n)
			for i := range dy {
				dy[i] = float64(float32(math.Ldexp(rng.Float64()+0.5, rng.IntN(240)-120)))
			}
			// Pairs that cancel exactly around the rest.
			for i := 0; i+1 < n; i += 3 {
				dy[i+1] = -dy[i]
			}
			rows = append(rows, dy)
		}
	}
	forEachSet(t, func(t *testing.T, k *kernels[float32]) {
		for _, dy := range rows {
			n := len(dy)
			logp := rounded32(ref.LogSoftmax(gen.Logits(newRand(uint64(n)), n, 2, 0), ref.Fast))
			dx := make([]float32, n)
			logSoftmaxBackwardRow(k, dx, f32(logp), f32(dy))
			want := ref.LogSoftmaxBackward(logp, dy, ref.Precise)
			sdy := ref.Sum(dy)
			terms := make([]float64, n)
			for i, v := range logp {
				terms[i] = roundTerm(math.Exp(v)*sdy) + sumTerm(math.Exp(v), dy, 0x1p-80)
			}
			checkTerms32(t, k, fmt.Sprintf("LogSoftmaxBackward n=%d", n), dx, want, terms)

			// Soft targets y = dy over rows of zero logits (p = 1/n).
			x := make([]float64, n)
			g := make([]float32, n)
			softCrossEntropy(k, g, f32(x), f32(dy), n)
			_, wantGrad := ref.SoftCrossEntropy(x, dy, n, ref.Fast)
			for i := range terms {
				terms[i] = roundTerm(dy[i]+sdy/float64(n)) + sumTerm(1/float64(n), dy, 0x1p-80)
			}
			checkTerms32(t, k, fmt.Sprintf("SoftCrossEntropyGrad n=%d", n), g, wantGrad, terms)

			// Over random logits, y rotated: the small-row kernels add y's
			// lanes in another order for each rotation (an audit found one
			// that plain adds lose).
			x = rounded32(gen.Logits(newRand(uint64(n)+1), n, 20, -50))
			p := ref.Softmax(x, ref.Precise)
			for rot := range min(n, 16) {
				y := append(slices.Clone(dy[rot:]), dy[:rot]...)
				softCrossEntropy(k, g, f32(x), f32(y), n)
				_, wantGrad := ref.SoftCrossEntropy(x, y, n, ref.Fast)
				for i := range terms {
					terms[i] = roundTerm(y[i]+p[i]*sdy) + sumTerm(p[i], y, 0x1p-80)
				}
				checkTerms32(t, k, fmt.Sprintf("SoftCrossEntropyGrad n=%d rotated %d", n, rot), g, wantGrad, terms)
			}
		}
	})
}

// TestSoftLossMixedSigns: SoftCrossEntropyGrad's loss Σ y·(l − d) with
// targets of both signs is a sum that cancels, within 4 ULP plus 2^-50 of
// Σ|y·log p| (softmax.go); an audit's float64 row was 8 ULP off, within
// that. Float32 and float64 sets, against the double-double reference.
func TestSoftLossMixedSigns(t *testing.T) {
	rng := newRand(67)
	type row struct{ x, y []float64 }
	rows := []row{{
		[]float64{-6.671875, -8.109375, -2.25, -11.671875, -4.71875, 9.0625, 4.828125},
		[]float64{0.9375, 0.0625, 1.125, -0.8125, -0.5625, -0.4375, -0.6875},
	}}
	for range 300 {
		n := 2 + rng.IntN(30)
		x, y := make([]float64, n), make([]float64, n)
		for i := range x {
			x[i] = float64(float32(rng.NormFloat64() * 6))
			y[i] = float64(float32(rng.Float64()*2 - 0.8))
		}
		rows = append(rows, row{x, y})
	}
	slack := func(r row) float64 {
		lp := ref.LogSoftmax(r.x, ref.Precise)
		a := 0.0
		for i := range lp {
			a += math.Abs(r.y[i] * lp[i])
		}
		return a * 0x1p-50
	}
	for _, k := range sets64 {
		for _, r := range rows {
			g := make([]float64, len(r.x))
			got := softCrossEntropy(k, g, r.x, r.y, len(r.x))
			want, _ := ref.SoftCrossEntropy(r.x, r.y, len(r.x), ref.Precise)
			if d := math.Abs(got - want); d > 4*ulp.Of64(want)+slack(r) {
				t.Fatalf("%s: loss of %v, %v = %v, want %v (%.3g of the slack)", k.name, r.x, r.y, got, want, d/(4*ulp.Of64(want)+slack(r)))
			}
		}
	}
	forEachSet(t, func(t *testing.T, k *kernels[float32]) {
		for _, r := range rows {
			g := make([]float32, len(r.x))
			got := softCrossEntropy(k, g, f32(r.x), f32(r.y), len(r.x))
			want, _ := ref.SoftCrossEntropy(r.x, r.y, len(r.x), ref.Fast)
			if d := math.Abs(float64(float32(got)) - want); d > 4*ulp.Of32(want)+slack(r) {
				t.Fatalf("loss of %v, %v = %v, want %v", r.x, r.y, float32(got), want)
			}
		}
	})
}

// TestSumCancellation: the contract's sum and dot are compensated on every
// set (as generic's addComp): with big terms that cancel in pairs and
// small ones that remain, sum's error is a rounding of the result (plus
// n·2^-104 of Σ|x|), not of Σ|x| as a plain float64 sum's, and dot's pair
// s + c is within n·2^-104 of Σ|a·b| of the exact dot. LogSoftmaxBackward's
// dy − exp(logp)·Σ dy and SoftmaxBackward's dy − ⟨p, dy⟩ need them where
// the terms span many binades.
func TestSumCancellation(t *testing.T) {
	forEachSet(t, func(t *testing.T, k *kernels[float32]) {
		rng := newRand(43)
		for n := 1; n <= 300; n++ {
			v := make([]float64, n)
			exact := new(big.Float).SetPrec(4096)
			abs := 0.0
			for i := range v {
				v[i] = float64(float32(math.Ldexp(rng.Float64()+0.5, rng.IntN(120)-60)))
				if i%2 == 1 && v[i-1] > 1 {
					v[i] = -v[i-1]
				}
				exact.Add(exact, big.NewFloat(v[i]))
				abs += math.Abs(v[i])
			}
			want, _ := exact.Float64()
			x, free := vec32(v, placementFor(n))
			if got := k.sum(x); math.Abs(got-want) > 0x1p-52*math.Abs(want)+float64(n)*0x1p-104*abs {
				t.Fatalf("sum n=%d [set %s]: %v, exact %v", n, k.name, got, want)
			}
			// dot: the same terms as products v[i]·w[i], w[i] = w[i−1]
			// where v[i] = −v[i−1] (the pair cancels exactly).
			w := make([]float64, n)
			exact.SetFloat64(0)
			abs = 0
			for i := range w {
				w[i] = float64(float32(math.Ldexp(rng.Float64()+0.5, rng.IntN(60)-30)))
				if i%2 == 1 && v[i] == -v[i-1] {
					w[i] = w[i-1]
				}
				exact.Add(exact, new(big.Float).Mul(big.NewFloat(v[i]), big.NewFloat(w[i])))
				abs += math.Abs(v[i] * w[i])
			}
			y, freeY := vec32(w, placementFor(n+1))
			s, c := k.dot(x, y)
			got := new(big.Float).SetPrec(4096).Add(big.NewFloat(s), big.NewFloat(c))
			e, _ := got.Sub(got, exact).Float64()
			if math.Abs(e) > float64(n)*0x1p-104*abs {
				t.Fatalf("dot n=%d [set %s]: %v + %v, off the exact dot by %v", n, k.name, s, c, e)
			}
			freeY()
			free()
		}
	})
}

// TestSumDrift: the bound of TestSumCancellation over long sums whose
// compensation grows. After a 1, terms just under 2^-53 all vanish from s
// into c, which grows to n·2^-54; the terms of 1.5·2^-95 between them are
// then below half an ULP of c and are lost, unless the pair is renormalized
// after each add (generic, amd64 and neon alike): without that, n = 2^20
// loses 8 (avx512, 32 lanes), 20 (avx2), 44 (neon) and 380 (generic)
// times n·2^-104 of Σ|x|.
func TestSumDrift(t *testing.T) {
	const n = 1 << 20
	const large, small = 0x1.fffffep-54, 0x1.8p-95
	x := make([]float32, n)
	ones := make([]float32, n)
	nb, ns := 0, 0
	for i := range x {
		ones[i] = 1
		switch {
		case i == 0:
			x[i] = 1
		case (uint32(i)*2654435761)>>9%2 == 0: // an irregular mix in every lane
			x[i], nb = large, nb+1
		default:
			x[i], ns = small, ns+1
		}
	}
	exact := new(big.Float).SetPrec(256).SetInt64(1)
	exact.Add(exact, new(big.Float).Mul(big.NewFloat(float64(nb)), big.NewFloat(large)))
	exact.Add(exact, new(big.Float).Mul(big.NewFloat(float64(ns)), big.NewFloat(small)))
	bound := n * 0x1p-104 * (1 + float64(nb)*large + float64(ns)*small)
	off := func(s, c float64) float64 {
		got := new(big.Float).SetPrec(256).Add(big.NewFloat(s), big.NewFloat(c))
		e, _ := got.Sub(got, exact).Float64()
		return math.Abs(e)
	}
	forEachSet(t, func(t *testing.T, k *kernels[float32]) {
		if e := off(k.dot(x, ones)); e > bound {
			t.Errorf("dot [set %s]: off the exact dot by %g, %.3g times n·2^-104·Σ|a·b|", k.name, e, e/bound)
		}
		// sum rounds s + c: the rounding of the result is allowed too.
		if e := off(k.sum(x), 0); e > bound+0x1p-53 {
			t.Errorf("sum [set %s]: off the exact sum by %g", k.name, e)
		}
	})
	x64, ones64 := widen(x), widen(ones)
	for _, k := range sets64 {
		if e := off(k.dot(x64, ones64)); e > bound {
			t.Errorf("dot [float64 set %s]: off the exact dot by %g, %.3g times n·2^-104·Σ|a·b|", k.name, e, e/bound)
		}
		if e := off(k.sum(x64), 0); e > bound+0x1p-53 {
			t.Errorf("sum [float64 set %s]: off the exact sum by %g", k.name, e)
		}
	}
}

// TestBackwardCancellation: SoftmaxBackward where dy − ⟨p, dy⟩ cancels
// far below float64's precision: float32 probabilities whose sum is 1
// plus a tail under 2^-53 (the softmax of logits 60 and more apart),
// against constant gradients, which makes dx = −p·c·(Σp − 1), and the same
// with one gradient nudged by an ULP. Every output within 4 ULP, which
// needs ⟨p, dy⟩ as a pair (the kernel contract's dot): a float64 dot
// rounds the tail away and gives 0.
func TestBackwardCancellation(t *testing.T) {
	forEachSet(t, func(t *testing.T, k *kernels[float32]) {
		rng := newRand(47)
		for n := 1; n <= 300; n++ {
			x := make([]float64, n)
			for i := 1; i < n; i++ {
				x[i] = float64(float32(-60 - 30*rng.Float64()))
			}
			p := rounded32(ref.Softmax(x, ref.Fast))
			if n%3 == 0 && n > 3 {
				// Probabilities that sum to 1 exactly but for
				// subnormal ones: dy − ⟨p, dy⟩ cancels below the
				// double-double dot's precision (dotTerms' slack),
				// yet the outputs are normal floats.
				// a + b = t, a multiple of 2^-24 (so 1 − t is a
				// float32), a and b in [2^-8, 2^-7) (multiples of
				// 2^-31): ⟨p, dy⟩'s partial sums round.
				t := float64(0x18000+rng.IntN(0x6000)) * 0x1p-24
				a := math.Round((t-0x1p-7+(0x1p-7*2-t)*rng.Float64())*0x1p31) * 0x1p-31
				p = append([]float64{1 - t, a, t - a}, make([]float64, n-3)...)
				for i := 3; i < n; i++ {
					p[i] = float64(float32(1e-40 * rng.Float64()))
				}
			}
			for _, c := range []float64{1, -3.75, 1e-20, -9379.529296875} {
				dy := make([]float64, n)
				for i := range dy {
					dy[i] = float64(float32(c))
				}
				if n%2 == 0 {
					dy[rng.IntN(n)] = float64(math.Nextafter32(float32(c), 0))
				}
				want := ref.SoftmaxBackward(p, dy)
				terms := dotTerms(p, dy, n)
				what := fmt.Sprintf("n=%d c=%g", n, c)
				pv, free1 := vec32(p, placementFor(n))
				yv, free2 := vec32(dy, placementFor(n+1))
				dx := make([]float32, n)
				softmaxBackwardRow(k, dx, pv, yv)
				checkTerms32(t, k, "SoftmaxBackward "+what, dx, want, terms)
				// The same row as rows of one batch (the small-row kernel
				// up to 16 columns).
				rows := make([]float32, 3*n)
				for r := range 3 {
					copy(rows[r*n:], pv)
				}
				softmaxBackwardRows(k, rows, rows, append(append(append([]float32{}, yv...), yv...), yv...), n)
				checkTerms32(t, k, "SoftmaxBackwardRows "+what, rows[2*n:], want, terms)
				free1()
				free2()
			}
		}
	})
}

// TestBackwardCancellation64 is TestBackwardCancellation for float64: the
// softmax of a row whose entries are all equal but one, 35 above them
// (probabilities near 1 and 6e-16), against constant gradients. dy −
// ⟨p, dy⟩ is then a rounding of Σp, and the outputs are within 4 ULP of the
// double-double reference plus dotTerms64's slack only because the dot's
// pair stays renormalized (a plain Neumaier pair was 44 ULP off at 5000).
// Every float64 set.
func TestBackwardCancellation64(t *testing.T) {
	rng := newRand(53)
	for _, n := range []int{2, 3, 5, 17, 100, 1000, 5000} {
		x := make([]float64, n)
		for i := range x {
			x[i] = -6553.468911663751
		}
		x[rng.IntN(n)] += 35 + rng.Float64()
		p := ref.Softmax(x, ref.Precise)
		for _, c := range []float64{1, -384, 1e-20, -9379.529296875} {
			dy := make([]float64, n)
			for i := range dy {
				dy[i] = c
			}
			if n%2 == 0 {
				dy[rng.IntN(n)] = math.Nextafter(c, 0)
			}
			dx := make([]float64, n)
			for _, k := range sets64 {
				softmaxBackwardRow(k, dx, p, dy)
				checkTerms64(t, fmt.Sprintf("SoftmaxBackward [set %s] n=%d c=%g", k.name, n, c), dx, ref.SoftmaxBackward(p, dy), dotTerms64(p, dy, n))
			}
		}
	}
}

// TestLogSoftmaxBackwardCancellation: dy = exp(logp)·S rounded to float32,
// so that dx = dy − exp(logp)·Σdy cancels down to dy's rounding and the
// exp's own error shows relative to the term (roundTerm's slack): neon's
// float64 exp, a degree-10 Taylor series (2^-42), was past it on 34 of
// 40000 such outputs, 2^-41.65 of the term at logp = −7.970262 (now a
// fitted polynomial, 2^-49).
func TestLogSoftmaxBackwardCancellation(t *testing.T) {
	forEachSet(t, func(t *testing.T, k *kernels[float32]) {
		rng := newRand(71)
		rows := 20000
		if interpreted(k) {
			rows = 2000
		}
		var lps, dys []float64
		lps = append(lps, float64(float32(-0.00034564815)), float64(float32(-7.970262)))
		dys = append(dys, float64(float32(5.5377703)), float64(float32(0.0019144509)))
		for range rows {
			x := []float64{0, -16 * rng.Float64()}
			lp := rounded32(ref.LogSoftmax(x, ref.Fast))
			s := 1 + 9*rng.Float64()
			lps = append(lps, lp...)
			for _, v := range lp {
				dys = append(dys, float64(float32(math.Exp(v)*s)))
			}
		}
		dx := make([]float32, len(lps))
		logSoftmaxBackwardRows(k, dx, f32(lps), f32(dys), 2)
		var want, terms []float64
		for r := 0; r < len(lps); r += 2 {
			want = append(want, ref.LogSoftmaxBackward(lps[r:r+2], dys[r:r+2], ref.Precise)...)
			sdy := dys[r] + dys[r+1]
			terms = append(terms, roundTerm(math.Exp(lps[r])*sdy), roundTerm(math.Exp(lps[r+1])*sdy))
		}
		checkTerms32(t, k, "LogSoftmaxBackwardRows cancelling", dx, want, terms)
		// One row at a time: the general kernels, not a small-row one.
		lp32, dy32 := f32(lps), f32(dys)
		for r := 0; r < len(lps); r += 2 {
			logSoftmaxBackwardRow(k, dx[r:r+2], lp32[r:r+2], dy32[r:r+2])
		}
		checkTerms32(t, k, "LogSoftmaxBackward cancelling", dx, want, terms)
	})
}

// TestDDExpNeg: logSumExpDD's exp against the reference's double-double
// exp (an independent reduction: k·ln2 and (e^(r/1024))^1024) over the
// range float32 rows give it and the float64 range with a low part (x − m
// from twoDiff), to 2^-92 relative where the result is far above
// float64's subnormals, to the subnormal spacing below.
func TestDDExpNeg(t *testing.T) {
	rng := newRand(59)
	for i := 0; i < 40000; i++ {
		d, lo := float64(float32(expCutoff32*rng.Float64())), 0.0
		if i%2 == 1 {
			d = -746 * rng.Float64()
			lo = d * 0x1p-53 * (rng.Float64() - 0.5)
		}
		if i < 6 {
			d = []float64{0, expCutoff32, -math.Ln2 / 128, -708.4, -745.1, -745.2}[i]
		}
		got := ddExpNeg(d, lo)
		want := ref.Exp(ref.DD{Hi: d, Lo: lo})
		diff := math.Abs((got.hi - want.Hi) + (got.lo - want.Lo))
		if e := diff / want.Hi; !(e <= 0x1p-92) && !(want.Hi < 0x1p-960 && diff <= 0x1p-1074) {
			t.Fatalf("ddExpNeg(%v, %v) = %v + %v, want %v + %v (relative %g)", d, lo, got.hi, got.lo, want.Hi, want.Lo, e)
		}
	}
}

// TestLogSumExpCrafted: rows whose exps cancel against the max far below
// log Σ, found by red-team sweeps, judged by the 400-bit reference: a
// confident classifier's log-probabilities (log Σ ≈ 1e-22, 1728 ULP off
// when the double-double sum was 1 + rest) and rows whose logits were
// picked so that Σ exp matches expm1(−m).
func TestLogSumExpCrafted(t *testing.T) {
	h := func(s string) float64 {
		v, err := strconv.ParseFloat(s, 32)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	rows32 := [][]float64{
		{float64(math.Float32frombits(0x9b6a7cbb)), float64(math.Float32frombits(0xc247fa3d))},
		{float64(math.Float32frombits(0xa29cf42c)), float64(math.Float32frombits(0xc21ffe95))},
		{-2.1562776e-23, -54.516174, -54.409084, -54.33958, -54.558315, -54.374577, -54.257534, -54.51163, -54.26717, -54.310616},
		{h("-0x1p-24"), h("-0x1.0a2b24p+04"), h("-0x1.14bc32p+05"), h("-0x1.7a8f12p+05")},
		{h("-0x1p-30"), h("-0x1.4cb5eep+04"), h("-0x1.14cc0cp+05"), h("-0x1.8440fcp+05")},
		{h("-0x1p-40"), h("-0x1.bb9d3cp+04"), h("-0x1.60ed88p+05"), h("-0x1.c6c14ap+05")},
		{h("-0x1p-12"), h("-0x1.0a2c24p+03"), h("-0x1.9cf0d4p+04"), h("-0x1.39cbcep+05"), h("-0x1.a0d238p+05")},
		{h("-0x1.24924ap-30"), h("-0x1.4a92fcp+04"), h("-0x1.14dc0cp+05"), h("-0x1.819d7ep+05"), h("-0x1.e5e8cep+05"), h("-0x1.291434p+06")},
	}
	for i := range rows32 {
		rows32[i] = rounded32(rows32[i])
	}
	forEachSet(t, func(t *testing.T, k *kernels[float32]) {
		for _, x := range rows32 {
			want, _ := ref.BigLogSumExp(x)
			w, _ := want.Float64()
			check32(t, k, fmt.Sprintf("LogSumExp crafted %v", x), []float32{logSumExp(k, f32(x))}, []float64{w})
		}
	})
	rows64 := [][]float64{
		{-2.3172576712296595e-16, -36},
		{-4.244205471839155e-18, -40},
		{-1.928748008564725e-22, -50},
		{-2.3154455440185315e-16, -36},
		{-9.357622960124771e-14, -30.000000000000092},
		{-2.061153620242396e-09, -20.000000002061153},
	}
	// log Σ near 2^-1005 (N entries near −705 under a max of about
	// −N·e^-705), results near 2^-1022: unscaled, the double-double's low
	// words were subnormal, 5 to 221 ULP off.
	p := func(s string) float64 { v, _ := strconv.ParseFloat(s, 64); return v }
	rows64 = append(rows64,
		append([]float64{p("-0x1.3cd71fc6a5ecp-1014")}, fill64(10, p("-0x1.6078e60471dc8p+09"))...),
		append([]float64{p("-0x1.982828059283bp-1016")}, fill64(16, p("-0x1.61479a5df95d5p+09"))...))
	for _, n := range []int{10, 256, 1000} {
		for _, a := range []int{8, 16, 30} {
			v := -705 + float64(a)/7
			m := -float64(n) * math.Exp(v) * (1 - math.Ldexp(1, -a))
			rows64 = append(rows64, append([]float64{m}, fill64(n, v)...))
		}
	}
	for _, x := range rows64 {
		want, _ := ref.BigLogSumExp(x)
		w, _ := want.Float64()
		check64(t, fmt.Sprintf("LogSumExp crafted %v…", x[:2]), []float64{logSumExp(&generic64, x)}, []float64{w})
	}
}

func fill64(n int, v float64) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = v
	}
	return s
}

// TestLogSumExpGreedy builds rows that cancel as far as float32 logits
// allow: m = −2^-k·u, then each logit the float32 just below log of what
// is left of 1 − e^m (in 400-bit arithmetic), so that Σ exp(x) → 1 and
// every step leaves 2^-24 of the last; four or five of them take
// LogSumExp to 2^-100 of log Σ and beyond, where only triple-double keeps
// the 4 ULP.
func TestLogSumExpGreedy(t *testing.T) {
	rng := newRand(83)
	var rows [][]float64
	for i := range 120 {
		m := float64(float32(-math.Ldexp(1+rng.Float64(), -[]int{4, 9, 16, 24, 40}[i%5])))
		left := new(big.Float).Sub(big.NewFloat(1), ref.BigExp(new(big.Float).SetFloat64(m)))
		x := []float64{m}
		for range 2 + i%4 {
			lf, _ := left.Float64()
			if lf <= 0 {
				break
			}
			v := float32(math.Log(lf))
			for ref.BigExp(new(big.Float).SetFloat64(float64(v))).Cmp(left) > 0 {
				v = math.Nextafter32(v, float32(math.Inf(-1)))
			}
			if float64(v)-m < 2*expCutoff32 {
				break
			}
			x = append(x, float64(v))
			left.Sub(left, ref.BigExp(new(big.Float).SetFloat64(float64(v))))
		}
		rows = append(rows, x)
	}
	checked := 0
	for _, x := range rows {
		want, l := ref.BigLogSumExp(x)
		w, _ := want.Float64()
		lf, _ := l.Float64()
		if math.Abs(w) < 0x1p-126 {
			continue // no promise below float32's normal range
		}
		if math.Abs(w) < 0x1p-70*lf {
			checked++
		}
		forEachSet(t, func(t *testing.T, k *kernels[float32]) {
			check32(t, k, fmt.Sprintf("LogSumExp greedy %v", x), []float32{logSumExp(k, f32(x))}, []float64{w})
		})
	}
	if checked < 30 {
		t.Fatalf("only %d rows beyond 2^-70 of log Σ", checked)
	}
}
