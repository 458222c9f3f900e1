package softmax

import (
	"fmt"
	"unsafe"
)

// Float is the element type of every function: float32 runs on the SIMD
// kernel set Impl reports; float64 on SIMD kernels too where the CPU has
// them (AVX2, NEON), for the passes Impl lists, and on generic ones for the
// rest.
type Float interface{ ~float32 | ~float64 }

// Label is the type of a class index; a negative label marks a row to ignore.
// Labels of 4 or 8 bytes (int, int32, int64) reach the SIMD sets' batch
// kernels as they are; int8 and int16 labels are widened to int32, 256
// rows at a time, in one of 16 static buffers (about 5% more time on rows
// of 10; a call that finds all 16 in use by other goroutines takes the
// rows one at a time). Unsigned types are not labels, since they cannot
// mark a row to ignore: convert []uint8 class indices to []int32 (or
// []int16) once, outside the training loop.
type Label interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64
}

func is32[F Float]() bool { return unsafe.Sizeof(F(0)) == 4 }

// as32 and as64 view a []F as the concrete slice type its kernels take.
func as32[F Float](s []F) []float32 {
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
}

func as64[F Float](s []F) []float64 {
	return unsafe.Slice((*float64)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
}

// Softmax stores softmax(x) in dst: dst[i] = exp(x[i]−max) / Σ exp(x[k]−max).
// dst may be x. −Inf entries get exactly 0; a row of only −Inf gives all 0;
// a NaN or +Inf anywhere gives all NaN. It panics if len(dst) != len(x).
func Softmax[F Float](dst, x []F) {
	checkSame("Softmax", "dst", "x", len(dst), len(x))
	if is32[F]() {
		softmaxRow(active32, as32(dst), as32(x))
	} else {
		softmaxRow(active64, as64(dst), as64(x))
	}
}

// LogSoftmax stores log(softmax(x)) in dst: dst[i] = x[i] − max − log Σ
// exp(x[k]−max), computed without forming softmax(x), so it stays accurate
// where softmax underflows. dst may be x. −Inf entries give −Inf; a row of
// only −Inf gives all −Inf; a NaN or +Inf anywhere gives all NaN.
// It panics if len(dst) != len(x).
func LogSoftmax[F Float](dst, x []F) {
	checkSame("LogSoftmax", "dst", "x", len(dst), len(x))
	if is32[F]() {
		logSoftmaxRow(active32, as32(dst), as32(x))
	} else {
		logSoftmaxRow(active64, as64(dst), as64(x))
	}
}

// LogSumExp returns log Σ exp(x[i]) = max + log Σ exp(x[i]−max), which never
// overflows. It is −Inf for an empty x or one of only −Inf entries, and NaN
// when x holds a NaN or +Inf. Rows whose result cancels to far below
// log Σ (log-probabilities, whose LogSumExp is near 0) are summed again in
// double-double to keep the result's accuracy: about a hundred times the
// time of other rows (the package doc's Accuracy section says when).
func LogSumExp[F Float](x []F) F {
	if is32[F]() {
		return F(logSumExp(active32, as32(x)))
	}
	return F(logSumExp(active64, as64(x)))
}

// SoftmaxBackward stores the gradient with respect to the logits of a loss
// whose gradient with respect to p = softmax(x) is dy: dx = p ⊙ (dy − ⟨p, dy⟩).
// dx may be p or dy. It panics unless len(dx) == len(p) == len(dy).
func SoftmaxBackward[F Float](dx, p, dy []F) {
	checkSame("SoftmaxBackward", "dx", "p", len(dx), len(p))
	checkSame("SoftmaxBackward", "dy", "p", len(dy), len(p))
	if is32[F]() {
		softmaxBackwardRow(active32, as32(dx), as32(p), as32(dy))
	} else {
		softmaxBackwardRow(active64, as64(dx), as64(p), as64(dy))
	}
}

// LogSoftmaxBackward stores the gradient with respect to the logits of a
// loss whose gradient with respect to logp = LogSoftmax(x) is dy:
// dx = dy − exp(logp)·Σ dy. dx may be logp or dy. It panics unless
// len(dx) == len(logp) == len(dy).
func LogSoftmaxBackward[F Float](dx, logp, dy []F) {
	checkSame("LogSoftmaxBackward", "dx", "logp", len(dx), len(logp))
	checkSame("LogSoftmaxBackward", "dy", "logp", len(dy), len(logp))
	if is32[F]() {
		logSoftmaxBackwardRow(active32, as32(dx), as32(logp), as32(dy))
	} else {
		logSoftmaxBackwardRow(active64, as64(dx), as64(logp), as64(dy))
	}
}

// Jacobian stores the n×n Jacobian of softmax at p = softmax(x), row-major:
// dst[i*n+j] = ∂p_i/∂x_j = p_i(δ_ij − p_j). dst must not overlap p. It
// panics if len(dst) != n*n, n = len(p).
func Jacobian[F Float](dst, p []F) {
	n := len(p)
	// n*n wraps for n >= 65536 on 32-bit platforms: compare by division.
	if len(dst) != n*n || n > 0 && len(dst)/n != n {
		panic(fmt.Sprintf("softmax.Jacobian: len(dst)=%d, want len(p)*len(p) = %d*%d = %d", len(dst), n, n, uint64(n)*uint64(n)))
	}
	for i, pi := range p {
		row := dst[i*n : (i+1)*n]
		for j, pj := range p {
			d := -float64(pj)
			if i == j {
				d = 1 - float64(pj)
			}
			row[j] = F(float64(pi) * d)
		}
	}
}

// SoftmaxRows applies Softmax to each row of the row-major batch x (len(x)/cols
// rows of cols values) and stores the rows in dst. dst may be x. It panics
// if cols <= 0, len(x) is not a multiple of cols, or len(dst) != len(x).
func SoftmaxRows[F Float](dst, x []F, cols int) {
	checkSame("SoftmaxRows", "dst", "x", len(dst), len(x))
	checkRows("SoftmaxRows", "x", len(x), cols)
	if is32[F]() {
		softmaxRows(active32, as32(dst), as32(x), cols)
	} else {
		softmaxRows(active64, as64(dst), as64(x), cols)
	}
}

// LogSoftmaxRows applies LogSoftmax to each row of the row-major batch x.
// dst may be x. It panics as SoftmaxRows does.
func LogSoftmaxRows[F Float](dst, x []F, cols int) {
	checkSame("LogSoftmaxRows", "dst", "x", len(dst), len(x))
	checkRows("LogSoftmaxRows", "x", len(x), cols)
	if is32[F]() {
		logSoftmaxRows(active32, as32(dst), as32(x), cols)
	} else {
		logSoftmaxRows(active64, as64(dst), as64(x), cols)
	}
}

// SoftmaxBackwardRows applies SoftmaxBackward to each row. It panics if
// cols <= 0, a length is not a multiple of cols, or the lengths differ.
func SoftmaxBackwardRows[F Float](dx, p, dy []F, cols int) {
	checkSame("SoftmaxBackwardRows", "dx", "p", len(dx), len(p))
	checkSame("SoftmaxBackwardRows", "dy", "p", len(dy), len(p))
	checkRows("SoftmaxBackwardRows", "p", len(p), cols)
	if is32[F]() {
		softmaxBackwardRows(active32, as32(dx), as32(p), as32(dy), cols)
	} else {
		softmaxBackwardRows(active64, as64(dx), as64(p), as64(dy), cols)
	}
}

// LogSoftmaxBackwardRows applies LogSoftmaxBackward to each row. It panics
// as SoftmaxBackwardRows does.
func LogSoftmaxBackwardRows[F Float](dx, logp, dy []F, cols int) {
	checkSame("LogSoftmaxBackwardRows", "dx", "logp", len(dx), len(logp))
	checkSame("LogSoftmaxBackwardRows", "dy", "logp", len(dy), len(logp))
	checkRows("LogSoftmaxBackwardRows", "logp", len(logp), cols)
	if is32[F]() {
		logSoftmaxBackwardRows(active32, as32(dx), as32(logp), as32(dy), cols)
	} else {
		logSoftmaxBackwardRows(active64, as64(dx), as64(logp), as64(dy), cols)
	}
}

// CrossEntropy returns the mean over rows of −log softmax(row)[label], for
// the row-major logits (len(labels) rows of cols values). A negative label
// marks a row to ignore: it adds nothing, is not counted in the mean, and
// its logits cannot change the result (a NaN there does not reach the loss). With no rows left the loss is 0. A row whose
// logits hold NaN or +Inf makes the loss NaN; a label whose logit is −Inf
// makes it +Inf. It panics if cols <= 0, len(logits) != len(labels)*cols,
// or a label >= cols.
func CrossEntropy[F Float, L Label](logits []F, labels []L, cols int) F {
	rows := checkRows("CrossEntropy", "logits", len(logits), cols)
	kept := checkLabels("CrossEntropy", labels, rows, cols)
	if is32[F]() {
		return F(crossEntropy(active32, nil, as32(logits), labels, cols, kept))
	}
	return F(crossEntropy(active64, nil, as64(logits), labels, cols, kept))
}

// CrossEntropyGrad returns CrossEntropy(logits, labels, cols) and stores its
// gradient with respect to the logits in grad: (softmax(row) − onehot(label))/m,
// m the number of rows not ignored. Ignored rows get a zero gradient. A
// label whose logit is −Inf makes the loss +Inf but leaves the gradient
// finite: the row's softmax (all zeros if every logit is −Inf) minus the
// one-hot, over m. grad may be logits. It panics as CrossEntropy does, and
// if len(grad) != len(logits).
func CrossEntropyGrad[F Float, L Label](grad, logits []F, labels []L, cols int) F {
	checkSame("CrossEntropyGrad", "grad", "logits", len(grad), len(logits))
	rows := checkRows("CrossEntropyGrad", "logits", len(logits), cols)
	kept := checkLabels("CrossEntropyGrad", labels, rows, cols)
	if is32[F]() {
		return F(crossEntropy(active32, as32(grad), as32(logits), labels, cols, kept))
	}
	return F(crossEntropy(active64, as64(grad), as64(logits), labels, cols, kept))
}

// SoftCrossEntropyGrad is cross-entropy against dense targets, each row a
// distribution (label smoothing, distillation): it returns the mean over all
// rows of −Σ y·log softmax(row) (a row of zero targets adds 0 but is
// counted: there are no ignored rows) and stores the gradient (softmax(row)·Σy − y)/rows
// in grad. A zero target never multiplies a −Inf log-probability (0·log 0 = 0);
// a nonzero one adds y·(+Inf) to its row's loss. A NaN target makes its row's
// loss and gradient NaN. Targets need not sum to 1 (the gradient scales p by
// their sum, p as Softmax returns it: 0 below 2^-126, so with targets
// summing to more than rows such an element's p·Σy/rows is not kept even
// where it would be a normal float32) and are not checked; where they have mixed signs, the loss is
// a sum that cancels, within 4 ULP plus 2^-50 of Σ|y·log p| rather than 4 ULP.
// grad may be logits or targets. It panics if cols <= 0, a length is not a
// multiple of cols, or the lengths differ.
func SoftCrossEntropyGrad[F Float](grad, logits, targets []F, cols int) F {
	checkSame("SoftCrossEntropyGrad", "grad", "logits", len(grad), len(logits))
	checkSame("SoftCrossEntropyGrad", "targets", "logits", len(targets), len(logits))
	rows := checkRows("SoftCrossEntropyGrad", "logits", len(logits), cols)
	if rows == 0 {
		return 0
	}
	if is32[F]() {
		return F(softCrossEntropy(active32, as32(grad), as32(logits), as32(targets), cols))
	}
	return F(softCrossEntropy(active64, as64(grad), as64(logits), as64(targets), cols))
}
