package softmax

// kernels is one kernel set: the building blocks that the public functions
// compose (softmax.go). Every set implements the same contract; the generic
// set (softmax_generic.go) is the reference every other set is tested
// against. The public functions validate arguments and handle the special
// rows (all −Inf, +Inf, NaN max) before any kernel runs, so kernels see
// equal lengths and a finite m. Every kernel accepts length 0.
//
// Accuracy is owned end to end by the tests (every output >= 2^-126 within
// 4 ULP of a float64 reference); the per-kernel notes say what the
// composition relies on.
type kernels[F Float] struct {
	name string

	// max returns the largest element of x (−Inf when len(x) == 0). A NaN element may
	// be skipped or returned: callers detect NaN through expSum's result.
	max func(x []F) F

	// expSum computes e[i] = exp(x[i] − m) for m >= every non-NaN x[i],
	// compensating the rounding of x[i] − m (an error-free difference), and
	// returns the sum of all e[i] split in two, as float64:
	//   ones = the number of e[i] that are exactly 1 (x[i] == m, or so close
	//          that exp rounds to 1),
	//   rest = the sum of every other e[i], accumulated so that its relative
	//          error stays near float32's (or float64's) unit roundoff even
	//          when there are millions of terms.
	// The split keeps log(ones + rest) accurate when rest is tiny (a
	// confident distribution): log1p(rest) instead of log(1 + rest).
	// e[i] is exactly 0 when x[i] − m is below the exp cutoff (for float32,
	// ln 2^-126 ≈ −87.3365), including x[i] = −Inf or x[i] − m overflowing
	// to −Inf; a NaN x[i] makes e[i] NaN and rest NaN.
	// When len(dst) == len(x) the e[i] are stored to dst (dst may be x);
	// when len(dst) == 0 nothing is stored.
	expSum func(dst, x []F, m F) (rest, ones float64)

	// expSumOnes, when not nil, is a faster expSum for the rows it takes
	// (ok): it stores e[i] = exp(x[i] − m)·f when len(dst) == len(x), for
	// a factor f of its choice in [1, 2^(1/8)] (1 where it reduces x − m
	// exactly), with expSum's cutoff and NaN rules, and returns the split
	// sum of exp(x[i] − m) with ones = the number of x[i] == m exactly
	// and rest = the sum of the others, of an accuracy close to expSum's
	// (amd64: each term within 0.6 ULP of float32, against 0.75).
	// lo is a lower bound on x as for expSumTotal (−Inf: unknown).
	// splitSum picks it.
	expSumOnes func(dst, x []F, m, lo F) (rest, ones, f float64, ok bool)

	// expSumTotal, when not nil, replaces expSum with a store in Softmax:
	// it stores e[i] = exp(x[i] − m + mu) to dst (len(dst) == len(x), dst
	// may be x) for a mu of its choice, 0 <= mu < ln2/8 up to roundings,
	// with the same accuracy, cutoff (x[i] − m below it gives 0) and NaN
	// rules as expSum, and returns s = Σ e[i] and mu. Softmax divides by
	// s, so the factor exp(mu) cancels: it frees the kernel from the
	// error-free x − m (amd64 reduces x itself against M·ln2 = m − mu).
	// Softmax needs no split sum either. lo is a lower bound on x (as
	// maxMin returns it, or −Inf when unknown): when lo − m is at or above
	// the cutoff no e[i] can be forced to 0, and the kernel may skip the
	// cutoff. When x holds a NaN, lo may be anything: the total is NaN
	// then whatever the other e[i] are. Sets without it leave it nil.
	// (generic64 has it for its total rounded once, with mu = 0.)
	expSumTotal func(dst, x []F, m, lo F) (s, mu float64)

	// maxMin, when not nil, returns max(x) as max does and the smallest
	// element of x (+Inf when len(x) == 0) in one pass; with a NaN in x
	// the smallest may be wrong (see expSumTotal). Softmax uses it with
	// expSumTotal; sets without it leave it nil.
	maxMin func(x []F) (max, min F)

	// softmaxRows, when not nil, applies Softmax to the leading rows of the
	// row-major x (cols columns each; len(dst) == len(x), dst may be x)
	// and returns how many rows it stored, possibly 0: it stops before the
	// first row it leaves to the general composition (a special row, a
	// spread that reaches the exp cutoff, more columns than it takes, a
	// row too near the end of the slices) and writes nothing of that row.
	// The rows it does agree with Softmax's within the accuracy bar.
	// SoftmaxRows calls it again after each row it does itself, and
	// Softmax calls it with the whole x as one row; sets without it leave
	// it nil. (amd64: the small-row kernel up to 16 columns, blocks of
	// rows up to 512, pairs of rows on the table kernels above.)
	softmaxRows func(dst, x []F, cols int) int

	// logSoftmaxRows, when not nil, is softmaxRows's contract for
	// LogSoftmax: the leading rows it takes agree with logSoftmaxRow
	// within the accuracy bar. (amd64: rows up to 16 columns, and blocks
	// of rows up to 512 with logSoftmaxRow's bits.)
	logSoftmaxRows func(dst, x []F, cols int) int

	// crossEntropyRows, when not nil, does crossEntropyRow's work for the
	// rows of the row-major x (cols columns each) from row from on: for a
	// row with a label >= 0 it adds the row's loss to the sum it returns
	// and, when len(g) != 0, stores the row's gradient (softmax − onehot)
	// divided by scale; a row with a negative label gets a zero gradient.
	// It returns the row it stopped at (every row, or the first row it
	// leaves to crossEntropyRow) and the sum of the losses of the rows it
	// did, within the accuracy bar of crossEntropyRow's. (amd64: rows up
	// to 16 columns, and blocks of rows up to 512 with crossEntropyRow's
	// gradient bits; labels of 4 or 8 bytes.)
	crossEntropyRows func(g, x []F, labels labelView, cols, from int, scale float64) (int, float64)

	// softCrossEntropyRows, when not nil, is crossEntropyRows for dense
	// targets y (softCrossEntropyRow's work; every row kept).
	softCrossEntropyRows func(g, x, y []F, cols, from int, scale float64) (int, float64)

	// softGrad, when not nil, does softCrossEntropyRow's last pass, with
	// the row's max m and l = log Σ exp(x − m) known: it stores
	// g[i] = (exp(x[i] − m)·sa − y[i])/scale (g may be x) and returns
	// Σ y[i]·(l − (x[i] − m)) over the y[i] != 0, within the accuracy bar
	// of generic's scalar passes.
	softGrad func(g, x, y []F, m F, l, sa, scale float64) float64

	// expSumPrecise, when not nil, is expSum without a store for
	// softCrossEntropyRow, with each e[i] to float64's precision, rest
	// compensated, and ones counting only the e[i] that are exactly 1:
	// p·Σy − y cancels where the targets match the probabilities, and a
	// sum good to a float32 rounding (or a plain float64 sum of many
	// equal terms, 2^-41 at 2^16, or an e within 2^-25 of 1 counted as 1)
	// shows there. Sets without it use expSum (generic64's is all that).
	// (amd64, neon: with softGrad, whose exp is as precise.)
	expSumPrecise func(x []F, m F) (rest, ones float64)

	// softmaxBackwardRows and logSoftmaxBackwardRows, when not nil, are
	// softmaxRows's contract for the backward passes (no row is special
	// there: they stop only at a width they do not take). (amd64: the
	// small-row kernels up to 16 columns, then both passes of each row in
	// one kernel call for any width, with the row compositions' bits.)
	softmaxBackwardRows    func(dx, p, dy []F, cols int) int
	logSoftmaxBackwardRows func(dx, logp, dy []F, cols int) int

	// logSumExpSmall, when not nil, returns logSumExpRow's m and l for a
	// finite row of up to 16 elements (amd64), and ok false for any other
	// row, which logSumExpRow then does itself.
	logSumExpSmall func(x []F) (m F, l float64, ok bool)

	// expDiv, when not nil, stores dst[i] = exp(x[i] − m)/s rounded once;
	// Softmax then uses expSum without a store plus expDiv (two exp passes,
	// one rounding) instead of expSum with a store plus div (one exp pass,
	// two roundings). The generic float32 set uses it to stay within 1 ULP;
	// SIMD sets leave it nil because the second exp pass costs more than
	// the extra rounding is worth against the 4 ULP bar.
	expDiv func(dst, x []F, m F, s float64)

	// div stores dst[i] = x[i] / s (dst may be x), within 0.5 ULP of the
	// quotient plus the rounding of s's reciprocal in float64: multiplying
	// by 1/s computed in float64 is fine for float32.
	div func(dst, x []F, s float64)

	// sub stores dst[i] = (x[i] − m) − l evaluated so that x[i] − m loses
	// nothing to rounding (dst may be x): for float32, in float64 arithmetic
	// and rounded once. x[i] = −Inf gives −Inf.
	sub func(dst, x []F, m F, l float64)

	// sum returns Σ x[i] and dot returns Σ a[i]·b[i], both compensated
	// as generic's addComp sums, the pair renormalized after each add
	// (products of float32 values are exact in float64; float64 ones carry
	// their FMA error): their error is a rounding of the result plus
	// n·2^-104 of Σ|terms| however much the terms cancel. len 0 gives
	// 0. sum is ±Inf or NaN where the plain sum is (LogSoftmaxBackward's
	// dy − exp(logp)·Σ dy needs the compensation). dot returns the
	// unevaluated pair s + c, which mulSub subtracts whole: dy − ⟨p, dy⟩
	// cancels where SoftmaxBackward's output is small (p = (1, 8.8e-27),
	// dy = (1, 1) gives dx[0] = −8.8e-27, which fl(s + c) = 1 loses); c
	// is NaN when a product is infinite or NaN.
	sum func(x []F) float64
	dot func(a, b []F) (s, c float64)

	// mulSub stores dx[i] = p[i]·((dy[i] − s) − c), evaluated with float64
	// intermediates for float32 (where dy − s is exact when it cancels)
	// and rounded once, for float64 with dy − s error-free (dx may be p
	// or dy).
	mulSub func(dx, p, dy []F, s, c float64)

	// expMulSub stores dx[i] = dy[i] − exp(logp[i])·s with float64
	// intermediates for float32 (dx may be logp or dy). exp(−Inf) is 0.
	expMulSub func(dx, logp, dy []F, s float64)
}
