package softmax

import (
	"math"
	"math/bits"
	"sync/atomic"
	"unsafe"
)

// The compositions of kernels behind the public functions. Each takes the
// kernel set explicitly so that tests and benchmarks can run every set; the
// public functions pass the active one. Arguments are already checked.

// rowKind classifies a row by its max m before any exp is taken.
type rowKind int

const (
	rowFinite rowKind = iota // the usual case
	rowNaN                   // a NaN or +Inf: every output NaN
	rowMasked                // every entry −Inf: the "safe softmax" row
)

// classify finds the row's max and what kind of row it is. A max of −Inf
// means every entry is −Inf or NaN; a sum of exp(x − 0) tells which.
func classify[F Float](k *kernels[F], x []F) (F, rowKind) {
	return classifyMax(k, x, k.max(x))
}

// classifyMin is classify that also returns a lower bound lo on x: its
// smallest element where the set has maxMin (any value when x holds a
// NaN), else −Inf.
func classifyMin[F Float](k *kernels[F], x []F) (m, lo F, kind rowKind) {
	if k.maxMin == nil {
		m, kind = classify(k, x)
		return m, F(math.Inf(-1)), kind
	}
	m, lo = k.maxMin(x)
	m, kind = classifyMax(k, x, m)
	return m, lo, kind
}

// classifyMax is classify for a row whose max m is already known.
func classifyMax[F Float](k *kernels[F], x []F, m F) (F, rowKind) {
	switch {
	case m != m || math.IsInf(float64(m), 1):
		return m, rowNaN
	case math.IsInf(float64(m), -1):
		if rest, _ := k.expSum(nil, x, 0); rest != rest {
			return m, rowNaN
		}
		return m, rowMasked
	}
	return m, rowFinite
}

// splitSum is expSum through the set's expSumOnes where it takes the row;
// the e stored to dst carry the factor f (1 from expSum).
func splitSum[F Float](k *kernels[F], dst, x []F, m, lo F) (rest, ones, f float64) {
	if k.expSumOnes != nil {
		if rest, ones, f, ok := k.expSumOnes(dst, x, m, lo); ok {
			return rest, ones, f
		}
	}
	rest, ones = k.expSum(dst, x, m)
	return rest, ones, 1
}

// logOf returns log(ones + rest) accurately when rest is tiny: the split
// sum of expSum keeps the exact ones apart for this. float32 rows take
// log1p from math.Log (assembly on amd64), which is 2–3 times as fast as
// math.Log1p: a fifth of a cross-entropy row of 32 columns.
func logOf[F Float](rest, ones float64) float64 {
	switch {
	case ones != 1:
		return math.Log(ones + rest)
	case is32[F]():
		return log1pFast(rest)
	}
	return math.Log1p(rest)
}

// log1pFast is log(1 + r) for r >= 0 (or NaN) to within a few float64 ULPs:
// log(u)·r/(u − 1) with u = fl(1 + r) corrects the rounding of 1 + r
// (Goldberg, "What every computer scientist should know about
// floating-point arithmetic", theorem 4).
func log1pFast(r float64) float64 {
	u := 1 + r
	if u == 1 {
		return r // r < 2^-53: log1p(r) = r(1 − r/2 + …) rounds to r
	}
	return math.Log(u) * (r / (u - 1))
}

// withTail returns the row's rest (the sum of the e other than the ones)
// with the terms that the exp cutoff zeroes added back, for float32 rows
// where they can show: below 2^-76 every term in rest is too (x − m <
// −52), and then up to n flushed terms, each just under 2^-126, can be
// most of log(ones + rest) ≈ rest, which is an output (LogSoftmax and
// the loss at the max, LogSumExp near 0) and well above 2^-126 when they
// are many: the row [0, −88, −88, −88] has LogSumExp 3·e^-88 = 1.8e-38.
// Above 2^-76 they are below 2^-26 of it for any n up to 2^24. Terms
// below e^(2·cutoff) = 2^-252 are left out: 2^31 of them are below
// float32's smallest subnormal. The e stored for Softmax keep the cutoff:
// those outputs are below 2^-126.
func withTail[F Float](x []F, m F, rest float64) float64 {
	if !is32[F]() || !(rest < 0x1p-76) {
		return rest
	}
	t := 0.0
	for _, v := range x {
		// Every other x has x − m near 0 (a one), or is −Inf.
		d := float64(v) - float64(m)
		switch {
		case d >= -40 || d < 2*expCutoff32:
		case d >= expCutoff32:
			t += expNeg(d)
		default:
			h := expNeg(d / 2) // d/2 is exact and at or above the cutoff
			t += h * h
		}
	}
	return t
}

// aliased reports whether g, when not empty, starts where x does (dst and
// x may be the same slice; other overlaps are undefined).
func aliased[F Float](g, x []F) bool {
	return len(g) != 0 && len(x) != 0 && &g[0] == &x[0]
}

// special fills dst for a row whose every output is fixed — NaN for a NaN
// row, masked for an all −Inf row — and reports whether it did.
func special[F Float](dst []F, kind rowKind, masked float64) bool {
	switch kind {
	case rowNaN:
		fill(dst, nan)
	case rowMasked:
		fill(dst, masked)
	default:
		return false
	}
	return true
}

func fill[F Float](dst []F, v float64) {
	for i := range dst {
		dst[i] = F(v)
	}
}

var nan = math.NaN()

func softmaxRow[F Float](k *kernels[F], dst, x []F) {
	if len(x) == 0 {
		return
	}
	if k.softmaxRows != nil && k.softmaxRows(dst, x, len(x)) == 1 {
		return
	}
	if k.expSumTotal != nil && k.maxMin != nil {
		softmaxRowTotal(k, dst, x)
		return
	}
	m, kind := classify(k, x)
	if special(dst, kind, 0) {
		return
	}
	if k.expDiv != nil {
		rest, ones := k.expSum(nil, x, m)
		if rest != rest {
			fill(dst, nan)
			return
		}
		k.expDiv(dst, x, m, ones+rest)
		return
	}
	rest, ones := k.expSum(dst, x, m)
	if rest != rest {
		fill(dst, nan)
		return
	}
	k.div(dst, dst, ones+rest)
}

// softmaxRows is SoftmaxRows: the set's whole-row kernel where it has one
// and takes the rows, softmaxRow for the others.
func softmaxRows[F Float](k *kernels[F], dst, x []F, cols int) {
	rows := len(x) / cols
	for r := 0; r < rows; r++ {
		if k.softmaxRows != nil {
			r += k.softmaxRows(dst[r*cols:], x[r*cols:], cols)
			if r == rows {
				return
			}
		}
		softmaxRow(k, dst[r*cols:(r+1)*cols], x[r*cols:(r+1)*cols])
	}
}

// softmaxRowTotal is softmaxRow on a set with maxMin and expSumTotal: the
// same outputs with the total sum only, and without the cutoff when the
// row's spread cannot reach it.
func softmaxRowTotal[F Float](k *kernels[F], dst, x []F) {
	m, lo := k.maxMin(x)
	m, kind := classifyMax(k, x, m)
	if special(dst, kind, 0) {
		return
	}
	s, _ := k.expSumTotal(dst, x, m, lo)
	if s != s {
		fill(dst, nan)
		return
	}
	k.div(dst, dst, s)
}

// logSumExpRow returns the row's max m and l = log Σ exp(x − m), so that
// LogSumExp = m + l; kind tells the special rows apart.
func logSumExpRow[F Float](k *kernels[F], x []F) (F, float64, rowKind) {
	if k.logSumExpSmall != nil {
		if m, l, ok := k.logSumExpSmall(x); ok {
			return m, l, rowFinite
		}
	}
	m, lo, kind := classifyMin(k, x)
	if kind != rowFinite {
		return m, 0, kind
	}
	rest, ones, _ := splitSum(k, nil, x, m, lo)
	if rest != rest {
		return m, nan, rowNaN
	}
	return m, logOf[F](withTail(x, m, rest), ones), rowFinite
}

func logSumExp[F Float](k *kernels[F], x []F) F {
	if len(x) == 0 {
		return F(math.Inf(-1))
	}
	m, l, kind := logSumExpRow(k, x)
	switch kind {
	case rowNaN:
		return F(nan)
	case rowMasked:
		return F(math.Inf(-1))
	}
	r := float64(m) + l
	if !is32[F]() && math.Abs(r) < l {
		// float64: l's error (math.Log's, and that of the sum, each up
		// to about an ULP of l) is more than an ULP of r once r is
		// smaller than l: the row is summed again, as a pair, and in
		// double-double where r is smaller still (logSumExp64).
		return F(logSumExp64(as64(x), float64(m), r))
	}
	if math.Abs(r) < l/2 && k.expSumPrecise != nil {
		// m + l cancels (m < 0, l ≈ −m) and magnifies the error of l,
		// which expSum sums from float32 exps (SIMD sets) or without
		// compensation. expSumPrecise's float64 exps and compensated sum
		// leave l within about 2^-45 + 2^-52·l, which is within a
		// float32 ULP of m + l unless that is smaller still: then
		// (log-probabilities, whose LogSumExp is their normalization's
		// rounding) the row is summed again in double-double. Only
		// LogSumExp itself cancels.
		rest, ones := k.expSumPrecise(x, m)
		l = logOf[F](withTail(x, m, rest), ones)
		if r = float64(m) + l; math.Abs(r) < 0x1p-19+0x1p-26*l && is32[F]() {
			return F(logSumExpDD(as32(x), float32(m)))
		}
	}
	return F(float64(m) + l)
}

func logSoftmaxRow[F Float](k *kernels[F], dst, x []F) {
	if len(x) == 0 {
		return
	}
	if k.logSoftmaxRows != nil && k.logSoftmaxRows(dst, x, len(x)) == 1 {
		return
	}
	m, l, kind := logSumExpRow(k, x)
	if !special(dst, kind, math.Inf(-1)) {
		k.sub(dst, x, m, l)
	}
}

// logSoftmaxRows is LogSoftmaxRows: the set's whole-row kernel where it
// has one and takes the rows, logSoftmaxRow for the others.
func logSoftmaxRows[F Float](k *kernels[F], dst, x []F, cols int) {
	rows := len(x) / cols
	for r := 0; r < rows; r++ {
		if k.logSoftmaxRows != nil {
			r += k.logSoftmaxRows(dst[r*cols:], x[r*cols:], cols)
			if r == rows {
				return
			}
		}
		logSoftmaxRow(k, dst[r*cols:(r+1)*cols], x[r*cols:(r+1)*cols])
	}
}

// softmaxBackwardRows and logSoftmaxBackwardRows are the public batch
// functions: the set's whole-row kernel where it takes the rows, the row
// compositions for the others.
func softmaxBackwardRows[F Float](k *kernels[F], dx, p, dy []F, cols int) {
	rows := len(p) / cols
	for r := 0; r < rows; r++ {
		if k.softmaxBackwardRows != nil {
			r += k.softmaxBackwardRows(dx[r*cols:], p[r*cols:], dy[r*cols:], cols)
			if r == rows {
				return
			}
		}
		i, j := r*cols, (r+1)*cols
		softmaxBackwardRow(k, dx[i:j], p[i:j], dy[i:j])
	}
}

func logSoftmaxBackwardRows[F Float](k *kernels[F], dx, logp, dy []F, cols int) {
	rows := len(logp) / cols
	for r := 0; r < rows; r++ {
		if k.logSoftmaxBackwardRows != nil {
			r += k.logSoftmaxBackwardRows(dx[r*cols:], logp[r*cols:], dy[r*cols:], cols)
			if r == rows {
				return
			}
		}
		i, j := r*cols, (r+1)*cols
		logSoftmaxBackwardRow(k, dx[i:j], logp[i:j], dy[i:j])
	}
}

func softmaxBackwardRow[F Float](k *kernels[F], dx, p, dy []F) {
	s, c := k.dot(p, dy)
	k.mulSub(dx, p, dy, s, c)
}

func logSoftmaxBackwardRow[F Float](k *kernels[F], dx, logp, dy []F) {
	k.expMulSub(dx, logp, dy, k.sum(dy))
}

// expAt is exp(x − m) for one element, as the generic kernels compute it.
func expAt[F Float](x, m F) float64 {
	if is32[F]() {
		return exp32(float32(x), float32(m))
	}
	return exp64(float64(x), float64(m))
}

// crossEntropyRow returns the loss −log softmax(x)[label] of one row and,
// when len(g) == len(x), stores the row's gradient (softmax(x) − onehot)/scale.
func crossEntropyRow[F Float](k *kernels[F], g, x []F, label int, scale float64) float64 {
	xl := x[label] // read before g, which may be x, is written
	m, lo, kind := classifyMin(k, x)
	switch kind {
	case rowNaN:
		fill(g, nan)
		return nan
	case rowMasked:
		// Every probability is 0: the label's is too.
		fill(g, 0)
		if len(g) != 0 {
			g[label] = F(-1 / scale)
		}
		return math.Inf(1)
	}
	// withTail where a term may be below the cutoff (lo below the
	// threshold, or not known). In place, e stored over x would hide the
	// x it reads: the row is summed first and e stored by a second pass.
	tail := is32[F]() && !(float32(lo) >= expThreshold(float32(m)))
	store := len(g) != 0 && k.expDiv == nil
	later := store && tail && aliased(g, x)
	var rest, ones float64
	f := 1.0 // the factor of the e stored to g
	if store && !later {
		rest, ones, f = splitSum(k, g, x, m, lo)
	} else {
		rest, ones, _ = splitSum(k, nil, x, m, lo)
	}
	if rest != rest {
		fill(g, nan)
		return nan
	}
	if tail {
		rest = withTail(x, m, rest)
	}
	if later {
		_, _, f = splitSum(k, g, x, m, lo)
	}
	s := ones + rest
	loss := (float64(m) - float64(xl)) + logOf[F](rest, ones)
	if len(g) == 0 {
		return loss
	}
	if k.expDiv != nil {
		k.expDiv(g, x, m, s*scale)
	} else {
		k.div(g, g, s*scale*f) // g holds e·f
	}
	// p − 1 at the label, without the cancellation of computing p first:
	// (e − s)/s with s = ones + rest and e − ones exact.
	e := expAt(xl, m)
	g[label] = F(((e - ones) - rest) / s / scale)
	return loss
}

func crossEntropy[F Float, L Label](k *kernels[F], grad, logits []F, labels []L, cols, kept int) F {
	if kept == 0 {
		fill(grad, 0)
		return 0
	}
	scale := float64(kept)
	loss, c := crossEntropySum(k, grad, logits, labels, cols, scale)
	return F((loss + c) / scale)
}

// crossEntropySum does crossEntropy's rows (grad may be empty) and returns
// the sum of their losses as a compensated pair (addComp); ignored rows get a zero
// gradient.
func crossEntropySum[F Float, L Label](k *kernels[F], grad, logits []F, labels []L, cols int, scale float64) (loss, c float64) {
	if k.crossEntropyRows == nil || unsafe.Sizeof(L(0)) >= 4 {
		return crossEntropyFrom(k, grad, logits, labels, cols, scale, 0, 0)
	}
	// Labels of 1 or 2 bytes, which the set's batch kernels do not read:
	// widened to int32 a chunk at a time (on a Zen 3, CrossEntropyGrad of
	// 8192 rows of 10 with int16 labels took 1.73 ms by the one-row path,
	// now 0.45–0.48 against int labels' 0.41–0.45).
	i, ok := claimLabelBuf()
	if !ok { // every buffer in use: the one-row path
		return crossEntropyFrom(k, grad, logits, labels, cols, scale, 0, 0)
	}
	defer releaseLabelBuf(i)
	buf := &labelBufs[i]
	for r0 := 0; r0 < len(labels); r0 += len(buf) {
		n := min(len(buf), len(labels)-r0)
		for i, l := range labels[r0 : r0+n] {
			buf[i] = int32(l)
		}
		var g []F
		if len(grad) != 0 {
			g = grad[r0*cols : (r0+n)*cols]
		}
		loss, c = crossEntropyFrom(k, g, logits[r0*cols:(r0+n)*cols], buf[:n], cols, scale, loss, c)
	}
	return loss, c
}

// labelBufs are the buffers crossEntropySum widens labels in, one per
// call in flight, each claimed by a bit of labelTaken. Static, not pooled:
// on the stack a buffer would escape through the kernels' func values, and
// a sync.Pool drops its buffers at garbage collections, after which a call
// would allocate.
var (
	labelBufs  [16][256]int32
	labelTaken atomic.Uint32
)

// claimLabelBuf claims a free buffer of labelBufs and returns its index,
// or false when all are in use.
func claimLabelBuf() (int, bool) {
	for {
		t := labelTaken.Load()
		if t == 1<<len(labelBufs)-1 {
			return 0, false
		}
		i := bits.TrailingZeros32(^t)
		if labelTaken.CompareAndSwap(t, t|1<<i) {
			return i, true
		}
	}
}

func releaseLabelBuf(i int) { labelTaken.And(^uint32(1 << i)) }

// crossEntropyFrom is crossEntropySum for labels the set's batch kernels
// read (or a set without them), adding to the compensated pair loss, c.
func crossEntropyFrom[F Float, L Label](k *kernels[F], grad, logits []F, labels []L, cols int, scale, loss, c float64) (float64, float64) {
	lv := viewLabels(labels)
	for r := 0; r < len(labels); r++ {
		if k.crossEntropyRows != nil && lv.ok() {
			var part float64
			r, part = k.crossEntropyRows(grad, logits, lv, cols, r, scale)
			loss, c = addComp(loss, c, part)
			if r == len(labels) {
				break
			}
		}
		l := labels[r]
		var g []F
		if len(grad) != 0 {
			g = grad[r*cols : (r+1)*cols]
		}
		if l < 0 {
			fill(g, 0)
			continue
		}
		loss, c = addComp(loss, c, crossEntropyRow(k, g, logits[r*cols:(r+1)*cols], int(l), scale))
	}
	return loss, c
}

// softCrossEntropyRow returns −Σ y·log softmax(x) for one row and stores
// the gradient (p·Σy − y)/scale: the set's softGrad pass where it has one,
// else scalar passes for the loss and the update. The loss is read before
// g is written, so g may be x.
func softCrossEntropyRow[F Float](k *kernels[F], g, x, y []F, scale float64) float64 {
	sy := k.sum(y)
	m, kind := classify(k, x)
	switch kind {
	case rowNaN:
		fill(g, nan)
		return nan
	case rowMasked:
		// Every p is 0: each nonzero target adds y·(+Inf), so targets of
		// both signs give NaN, as a NaN target does, whatever their order.
		if sy != sy {
			fill(g, nan)
			return nan
		}
		loss := 0.0
		for j := range y {
			if y[j] != 0 {
				loss += math.Inf(1) * float64(y[j])
			}
			g[j] = F(-float64(y[j]) / scale)
		}
		return loss
	}
	var rest, ones float64
	if k.expSumPrecise != nil {
		rest, ones = k.expSumPrecise(x, m)
	} else {
		rest, ones = k.expSum(nil, x, m)
	}
	if rest != rest || sy != sy {
		fill(g, nan)
		return nan
	}
	rest = withTail(x, m, rest)
	l := logOf[F](rest, ones)
	if k.softGrad != nil {
		return k.softGrad(g, x, y, m, l, sy/(ones+rest), scale)
	}
	return softGradRow(g, x, y, m, l, sy/(ones+rest), scale)
}

// softGradRow is softGrad in scalar passes: for sets without one, and for
// the elements a set's softGrad leaves. a is Σy/Σe.
func softGradRow[F Float](g, x, y []F, m F, l, a, scale float64) float64 {
	// loss = Σ y·(l − d) with d = x − m <= 0: no cancellation when y >= 0.
	var loss, c float64
	for j := range y {
		if yj := float64(y[j]); yj != 0 {
			// float64(): rounded before the add, which Go would
			// otherwise fuse into an FMA on arm64 (and not on amd64).
			loss, c = addComp(loss, c, float64(yj*(l-diff(x[j], m))))
		}
	}
	// g = (p·Σy − y)/scale with p = e/s, e again per element (expAt):
	// where p·Σy − y cancels, a float32 e (a set's expSum store) would
	// show its rounding.
	for j := range y {
		g[j] = F((float64(expAt(x[j], m)*a) - float64(y[j])) / scale) // no FMA, as above
	}
	return loss + c
}

// diff is x − m in float64: exact for float32 unless their exponents are
// more than 29 apart, and within 2^-53 of it otherwise, which the loss's
// terms l − d (d <= 0 <= l: no cancellation) keep.
func diff[F Float](x, m F) float64 { return float64(x) - float64(m) }

func softCrossEntropy[F Float](k *kernels[F], grad, logits, targets []F, cols int) float64 {
	rows := len(logits) / cols
	var loss, c float64
	for r := 0; r < rows; r++ {
		if k.softCrossEntropyRows != nil {
			var part float64
			r, part = k.softCrossEntropyRows(grad, logits, targets, cols, r, float64(rows))
			loss, c = addComp(loss, c, part)
			if r == rows {
				break
			}
		}
		i, j := r*cols, (r+1)*cols
		loss, c = addComp(loss, c, softCrossEntropyRow(k, grad[i:j], logits[i:j], targets[i:j], float64(rows)))
	}
	return (loss + c) / float64(rows)
}

// labelView is a []L of 4- or 8-byte labels, as the kernels read them
// (the kernel tables are not generic in L); ok is false for other sizes.
type labelView struct {
	l64 []int64
	l32 []int32
}

func viewLabels[L Label](labels []L) labelView {
	p := unsafe.Pointer(unsafe.SliceData(labels))
	switch unsafe.Sizeof(L(0)) {
	case 8:
		return labelView{l64: unsafe.Slice((*int64)(p), len(labels))}
	case 4:
		return labelView{l32: unsafe.Slice((*int32)(p), len(labels))}
	}
	return labelView{}
}

func (v labelView) ok() bool { return v.l64 != nil || v.l32 != nil }

// at returns row i's label.
func (v labelView) at(i int) int {
	if v.l64 != nil {
		return int(v.l64[i])
	}
	return int(v.l32[i])
}

// rows returns the labels of rows i to j.
func (v labelView) rows(i, j int) labelView {
	if v.l64 != nil {
		return labelView{l64: v.l64[i:j]}
	}
	return labelView{l32: v.l32[i:j]}
}
