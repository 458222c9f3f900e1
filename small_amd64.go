//go:build !purego

package softmax

// The Go side of the small-row kernels (asm/amd64/small.go, smalllog.go,
// smallbwd.go): whole rows of up to 16 columns, many rows per call. The
// AVX2 kernels read and write a 16-element window from each row's start,
// so they get the rows whose window lies inside the slices, and the last
// few rows (or a single short vector) go through padded copies.

// smallCols is the widest row the small-row kernels take.
const smallCols = 16

// smallKind names a small-row kernel, for the padded copies.
type smallKind int

const (
	kindSoftmax smallKind = iota
	kindLogSoftmax
	kindCrossEntropy
	kindSoftCrossEntropy
	kindBackward
	kindLogBackward
)

// smallArgs are a small-row batch: the output (empty for a loss alone),
// the rows x, the second input y (targets, dy) and labels where the kernel
// takes them, the width and the gradient's scale.
type smallArgs struct {
	dst, x, y []float32
	labels    labelView
	cols      int
	scale     float64
}

// smallRun runs a small-row kernel from row from on: kernel(from, rows)
// does rows rows from row from and returns how many it did and their
// losses; AVX2's rows whose window passes the slices' end go to k.padded.
// It returns the row it stopped at (every row, or the first one the
// kernel leaves to the general path) and the losses of the rows done.
func (k *asmKernels) smallRun(kind smallKind, a smallArgs, from int, kernel func(from, rows int) (int, float64)) (int, float64) {
	if a.cols > smallCols {
		return from, 0
	}
	n := len(a.x) / a.cols
	end := n
	if k.padded != nil {
		end = windowRows(len(a.x), a.cols)
	}
	var loss float64
	if from < end {
		done, l := kernel(from, end-from)
		from += done
		loss = l
		if from < end {
			return from, loss
		}
	}
	if k.padded == nil || from == n {
		return from, loss
	}
	from, l := k.padded(kind, a, from)
	return from, loss + l
}

// single reports whether x is one row of up to smallCols columns that the
// kernel can take straight from the slices (AVX-512, or AVX2 when the row
// is the whole window): Softmax and LogSoftmax of one short vector then
// skip smallRun, whose layers took a third of the call (Softmax of 16
// elements: 56 against 37 ns on a Zen 3).
func (k *asmKernels) single(x []float32, cols int) bool {
	return len(x) == cols && cols <= smallCols && (k.padded == nil || cols == smallCols)
}

// windowRows is how many rows of cols columns, from the start of a slice
// of n elements, have their 16-element window inside it.
func windowRows(n, cols int) int {
	if n < smallCols {
		return 0
	}
	return min(n/cols, (n-smallCols)/cols+1)
}

// softmaxRows is the contract's softmaxRows: the small-row kernel up to
// smallCols columns, the table kernels two rows at a time beyond
// (table_amd64.go).
func (k *asmKernels) softmaxRows(dst, x []float32, cols int) int {
	if cols > smallCols {
		return k.rows(dst, x, cols)
	}
	if k.single(x, cols) {
		return k.small(dst[:cols], x, cols, 1)
	}
	done, _ := k.smallRun(kindSoftmax, smallArgs{dst: dst, x: x, cols: cols}, 0, func(from, rows int) (int, float64) {
		i := from * cols
		return k.small(dst[i:len(x)], x[i:], cols, rows), 0
	})
	return done
}

func (k *asmKernels) logSoftmaxRows(dst, x []float32, cols int) int {
	if cols > smallCols && cols <= blockCols && len(x) >= 2*cols {
		return k.logBlockRows(dst, x, cols)
	}
	if k.single(x, cols) {
		return k.logSmall(dst[:cols], x, cols, 1)
	}
	done, _ := k.smallRun(kindLogSoftmax, smallArgs{dst: dst, x: x, cols: cols}, 0, func(from, rows int) (int, float64) {
		i := from * cols
		return k.logSmall(dst[i:len(x)], x[i:], cols, rows), 0
	})
	return done
}

// logSumExpSmall is the contract's logSumExpSmall.
func (k *asmKernels) logSumExpSmall(x []float32) (float32, float64, bool) {
	if len(x) == 0 || len(x) > smallCols {
		return 0, 0, false
	}
	m, l, ok := k.lseSmall(x, len(x))
	return float32(m), l, ok != 0
}

// lseAVX2 is the AVX2 set's lseSmall: a row shorter than the kernel's
// 16-element window goes through a copy on the stack (the kernel is called
// directly, go:noescape, so the copy stays there).
func lseAVX2(x []float32, n int) (m, l float64, ok int) {
	if len(x) >= smallCols {
		return logSumExpSmallAVX2(x, n)
	}
	var b [smallCols]float32
	copy(b[:], x)
	return logSumExpSmallAVX2(b[:], n)
}

func (k *asmKernels) crossEntropyRows(g, x []float32, labels labelView, cols, from int, scale float64) (int, float64) {
	if cols > smallCols && cols <= blockCols && len(x) >= (from+2)*cols {
		return k.ceBlockRows(g, x, labels, cols, from, scale)
	}
	a := smallArgs{dst: g, x: x, labels: labels, cols: cols, scale: scale}
	return k.smallRun(kindCrossEntropy, a, from, func(from, rows int) (int, float64) {
		i := from * cols
		var gr []float32
		if len(g) != 0 {
			gr = g[i:]
		}
		v := labels.rows(from, from+rows)
		return k.ceSmall(gr, x[i:], v.l64, v.l32, cols, scale)
	})
}

func (k *asmKernels) softCrossEntropyRows(g, x, y []float32, cols, from int, scale float64) (int, float64) {
	a := smallArgs{dst: g, x: x, y: y, cols: cols, scale: scale}
	return k.smallRun(kindSoftCrossEntropy, a, from, func(from, rows int) (int, float64) {
		i := from * cols
		return k.softSmall(g[i:len(x)], x[i:], y[i:len(x)], cols, rows, scale)
	})
}

func (k *asmKernels) softmaxBackwardRows(dx, p, dy []float32, cols int) int {
	if cols > smallCols && cols <= bwdCols {
		n := len(p) / cols
		k.block.bwd(dx[:n*cols], p[:n*cols], dy[:n*cols], cols, n)
		return n
	}
	done, _ := k.smallRun(kindBackward, smallArgs{dst: dx, x: p, y: dy, cols: cols}, 0, func(from, rows int) (int, float64) {
		i := from * cols
		return k.bwdSmall(dx[i:len(p)], p[i:], dy[i:len(p)], cols, rows), 0
	})
	return done
}

func (k *asmKernels) logSoftmaxBackwardRows(dx, logp, dy []float32, cols int) int {
	if cols > smallCols && cols <= bwdCols {
		n := len(logp) / cols
		k.block.lbwd(dx[:n*cols], logp[:n*cols], dy[:n*cols], cols, n)
		return n
	}
	done, _ := k.smallRun(kindLogBackward, smallArgs{dst: dx, x: logp, y: dy, cols: cols}, 0, func(from, rows int) (int, float64) {
		i := from * cols
		return k.lbwdSmall(dx[i:len(logp)], logp[i:], dy[i:len(logp)], cols, rows), 0
	})
	return done
}

// paddedAVX2 is the AVX2 set's padded: each row from row from on is copied
// into 16-element buffers for the kernel. The buffers stay on the stack
// because the kernels are called directly (go:noescape).
func paddedAVX2(kind smallKind, a smallArgs, from int) (int, float64) {
	var xb, yb, db [smallCols]float32
	var loss float64
	cols := a.cols
	n := len(a.x) / cols
	for r := from; r < n; r++ {
		i, j := r*cols, (r+1)*cols
		copy(xb[:], a.x[i:j])
		if a.y != nil {
			copy(yb[:], a.y[i:j])
		}
		var done int
		var l float64
		switch kind {
		case kindSoftmax:
			done = softmaxSmallAVX2(db[:], xb[:], cols, 1)
		case kindLogSoftmax:
			done = logSoftmaxSmallAVX2(db[:], xb[:], cols, 1)
		case kindCrossEntropy:
			d := db[:0]
			if len(a.dst) != 0 {
				d = db[:]
			}
			v := a.labels.rows(r, r+1)
			done, l = crossEntropySmallAVX2(d, xb[:], v.l64, v.l32, cols, a.scale)
		case kindSoftCrossEntropy:
			done, l = softCrossEntropySmallAVX2(db[:], xb[:], yb[:], cols, 1, a.scale)
		case kindBackward:
			done = softmaxBackwardSmallAVX2(db[:], xb[:], yb[:], cols, 1)
		case kindLogBackward:
			done = logSoftmaxBackwardSmallAVX2(db[:], xb[:], yb[:], cols, 1)
		}
		if done == 0 {
			return r, loss
		}
		loss += l
		if len(a.dst) != 0 {
			copy(a.dst[i:j], db[:cols])
		}
	}
	return n, loss
}
