//go:build !purego

package softmax

import "math"

// SoftmaxRows, LogSoftmaxRows, the cross-entropy and the backward passes
// on medium rows: a block of rows at a time, each pass (max, exp and sum,
// scale or subtract) over the whole block in one kernel call
// (asm/amd64/rows.go), and the rows' scalars between the passes in
// arrays. A pass over one row of a few hundred columns is a short
// dependency chain that the core cannot overlap with the next row's when
// each is its own call (SoftmaxRows's rows of 64 took 100 ns on a Zen 3,
// 60 of them waiting); within one call the rows' passes are independent.

// blockKernels are a set's block kernels: maxMin, expSumTotal (with and
// without the cutoff), div, expSumOnes (with and without the store and
// the cutoff) and sub on each row of a block of up to blockMax rows, and
// the backward passes. The rows' scalars pass by value, in arrays: through the func
// values here, slices of arrays on the stack would escape to the heap.
type blockKernels struct {
	maxMin     func(x []float32, cols, rows int) (m, lo [blockMax]float32)
	total      func(dst, x []float32, cols, rows int, c, t [blockMax]float32, pf uintptr) [blockMax]float64
	totalNoCut func(dst, x []float32, cols, rows int, c [blockMax]float32, pf uintptr) [blockMax]float64
	div        func(x []float32, cols, rows int, rhi, rlo [blockMax]float32)
	ones       func(dst, x []float32, cols, rows int, c, m [blockMax]float32) (rest [blockMax]float64, ones [blockMax]int32)
	onesNS     func(x []float32, cols, rows int, c, m [blockMax]float32) (rest [blockMax]float64, ones [blockMax]int32)
	// onesCut and onesCutNS are ones and onesNS with the cutoff (each
	// row's threshold expThreshold(m), which they compute), for blocks
	// with a row that has an element below it: a masked (−Inf) logit, say.
	onesCut   func(dst, x []float32, cols, rows int, c, m [blockMax]float32) (rest [blockMax]float64, ones [blockMax]int32)
	onesCutNS func(x []float32, cols, rows int, c, m [blockMax]float32) (rest [blockMax]float64, ones [blockMax]int32)
	sub       func(dst, x []float32, cols, rows int, m [blockMax]float32, l [blockMax]float64)
	// bwd and lbwd do SoftmaxBackward's and LogSoftmaxBackward's passes
	// row after row, any number of rows in one call: the two passes of a
	// row have nothing but their reduction between them.
	bwd, lbwd func(dx, p, dy []float32, cols, rows int)
}

const (
	// blockElems bounds a block's elements, so that its x and dst stay
	// in the L1 cache (32 KiB and more) from one pass to the next.
	blockElems = 2048
	// blockMax is the most rows of a block (asm/amd64/rows.go's).
	blockMax = 16
)

// blockCols is the widest row that the blocks take: wider rows go one or
// two at a time, where a row's passes are long enough to hide the chains.
// On a Zen 3 (128 KiB batches, 8 to 10 interleaved runs) blocks took 33%
// less time on SoftmaxRows's rows of 24, 27% on rows of 64, 4–16% less on
// rows of 128 to 512 (within the noise), and no less from 768 columns on,
// nor did LogSoftmaxRows's or the cross-entropy's (README, Performance).
// A single row goes the one-row way: there the blocks' arrays and Go
// loops cost Softmax of 17 to 256 elements 30–40% more (one call each).
// A variable for tests.
var blockCols = 512

// bwdCols is the widest row that the backward kernels take whole, row
// after row: every row, since they have no scalars between passes. On a
// Zen 3 (8 interleaved runs) they took 7% less time than one call per pass
// on rows of 1000 and 4096 too, as well as 14–44% less on rows of 24 to
// 512. A variable for tests.
var bwdCols = math.MaxInt

// blockRows is rows (table_amd64.go) for rows of up to blockCols columns:
// the same kernels' arithmetic, so the same results bit for bit, a block
// at a time.
func (k *asmKernels) blockRows(dst, x []float32, cols int) int {
	n := len(x) / cols
	per := min(blockMax, max(1, blockElems/cols))
	var c, t, hi, rl [blockMax]float32
	for i := 0; i < n; i += per {
		r := min(per, n-i)
		xb := x[i*cols : (i+r)*cols]
		m, lo := k.block.maxMin(xb, cols, r)
		cut, stop := false, false
		for j := range r {
			mj := m[j]
			if !(mj < tableMaxAbs && mj > -tableMaxAbs) {
				r, stop = j, true // the rows before it, then the general path
				break
			}
			c[j], _ = tableBias(mj, k.tableLen)
			t[j] = expThreshold(mj)
			cut = cut || !(lo[j] >= t[j]) // (maxMin skips NaNs; a NaN lo would take the cutoff too)
		}
		if r > 0 {
			xb, db := xb[:r*cols], dst[i*cols:(i+r)*cols]
			pf := uintptr(len(xb) * 4) // the next block's x, which maxMin reads next
			var s [blockMax]float64
			if cut {
				s = k.block.total(db, xb, cols, r, c, t, pf)
			} else {
				s = k.block.totalNoCut(db, xb, cols, r, c, pf)
			}
			nanRow := false
			for j := range r {
				if s[j] != s[j] {
					nanRow = true
					hi[j], rl[j] = 0, 0
					continue
				}
				hi[j], rl[j], _ = recip(s[j]) // 1 <= s <= 1.05·cols: always in range
			}
			k.block.div(db, cols, r, hi, rl)
			if nanRow {
				for j := range r {
					if s[j] != s[j] {
						fill(db[j*cols:(j+1)*cols], nan)
					}
				}
			}
		}
		if stop {
			return i + r
		}
	}
	return n
}

// ceBlockRows is the set's crossEntropyRows for rows of up to blockCols
// columns, from row from on: crossEntropyRow's arithmetic (the bits of its
// gradient), a block at a time. It stops at the first row that
// crossEntropyRow would take another way: a negative label, a max that is
// not finite or beyond tableMaxAbs, or, in place (g is x), an element
// below the exp cutoff. Other rows with such elements (masked logits)
// take the cutoff's kernel and withTail, as there.
func (k *asmKernels) ceBlockRows(g, x []float32, labels labelView, cols, from int, scale float64) (int, float64) {
	n := len(x) / cols
	per := min(blockMax, max(1, blockElems/cols))
	var (
		loss, comp float64
		c, xl      [blockMax]float32
		hi, rl     [blockMax]float32
		mu         [blockMax]float64
		label      [blockMax]int
		tail       [blockMax]bool
		inPlace    = aliased(g, x)
	)
	for i := from; i < n; i += per {
		r := min(per, n-i)
		xb := x[i*cols : (i+r)*cols]
		m, lo := k.block.maxMin(xb, cols, r)
		stop, cut := false, false
		for j := range r {
			l, mj := labels.at(i+j), m[j]
			if l < 0 || !(mj < tableMaxAbs && mj > -tableMaxAbs) {
				r, stop = j, true
				break
			}
			tail[j] = !(lo[j] >= expThreshold(mj)) // (maxMin skips NaNs; a NaN lo would take the cutoff too)
			if tail[j] && inPlace {
				r, stop = j, true // crossEntropyRow sums it before storing
				break
			}
			cut = cut || tail[j]
			label[j], xl[j] = l, xb[j*cols+l] // x before g, which may be x, is written
			c[j], mu[j] = tableBias(mj, k.tableLen)
		}
		if r > 0 {
			xb := xb[:r*cols]
			var gb []float32
			var rest [blockMax]float64
			var ones [blockMax]int32
			switch {
			case len(g) != 0 && cut:
				gb = g[i*cols : (i+r)*cols]
				rest, ones = k.block.onesCut(gb, xb, cols, r, c, m)
			case len(g) != 0:
				gb = g[i*cols : (i+r)*cols]
				rest, ones = k.block.ones(gb, xb, cols, r, c, m)
			case cut:
				rest, ones = k.block.onesCutNS(xb, cols, r, c, m)
			default:
				rest, ones = k.block.onesNS(xb, cols, r, c, m)
			}
			// One loop per step: each loop's rows are independent, so the
			// core overlaps their exp, log and divisions, where one loop
			// would chain each row's behind the last (16–21% of a row
			// of 24–64 on a Zen 3).
			var f, s, lr [blockMax]float64
			odd := false // a row of NaN, or whose reciprocal div cannot take
			for j := range r {
				f[j] = expMu(mu[j])
			}
			for j := range r {
				rest[j] /= f[j]
				if tail[j] {
					rest[j] = withTail(xb[j*cols:(j+1)*cols], m[j], rest[j])
				}
				s[j] = float64(ones[j]) + rest[j]
				var ok bool
				if hi[j], rl[j], ok = recip(s[j] * scale * f[j]); !ok { // NaN too
					hi[j], rl[j], odd = 1, 0, true // e·1 + e·0: e, exactly
				}
			}
			for j := range r {
				lr[j] = (float64(m[j]) - float64(xl[j])) + logOf[float32](rest[j], float64(ones[j]))
				if lr[j] != lr[j] {
					lr[j] = nan // crossEntropyRow's NaN, not the kernel's negative one
				}
			}
			for j := range r {
				loss, comp = addComp(loss, comp, lr[j])
			}
			if len(g) != 0 {
				k.block.div(gb, cols, r, hi, rl)
				for j := range r {
					row := gb[j*cols : (j+1)*cols]
					switch {
					case odd && s[j] != s[j]:
						fill(row, nan)
						continue
					case odd && hi[j] == 1 && rl[j] == 0:
						div32(row, row, s[j]*scale*f[j])
					}
					// p − 1 at the label, as crossEntropyRow.
					e := expAt(xl[j], m[j])
					row[label[j]] = float32(((e - float64(ones[j])) - rest[j]) / s[j] / scale)
				}
			}
		}
		if stop {
			return i + r, loss + comp
		}
	}
	return n, loss + comp
}

// logBlockRows is the set's logSoftmaxRows for rows of up to blockCols
// columns: logSoftmaxRow's arithmetic (its bits), a block at a time. It
// stops at the first row that logSoftmaxRow would take another way: a max
// that is not finite or beyond tableMaxAbs. Rows with an element below the
// exp cutoff (a masked logit) take the cutoff's kernel and withTail, as
// there; they went alone before, 2–3 times as slow as unmasked rows of
// 64 (a causal mask, on a Zen 3).
func (k *asmKernels) logBlockRows(dst, x []float32, cols int) int {
	n := len(x) / cols
	per := min(blockMax, max(1, blockElems/cols))
	var (
		c  [blockMax]float32
		mu [blockMax]float64
	)
	for i := 0; i < n; i += per {
		r := min(per, n-i)
		xb := x[i*cols : (i+r)*cols]
		m, lo := k.block.maxMin(xb, cols, r)
		stop, cut := false, false
		for j := range r {
			mj := m[j]
			if !(mj < tableMaxAbs && mj > -tableMaxAbs) {
				r, stop = j, true
				break
			}
			c[j], mu[j] = tableBias(mj, k.tableLen)
			cut = cut || !(lo[j] >= expThreshold(mj)) // (maxMin skips NaNs; a NaN lo would take the cutoff too)
		}
		if r > 0 {
			xb, db := xb[:r*cols], dst[i*cols:(i+r)*cols]
			var rest [blockMax]float64
			var ones [blockMax]int32
			if cut {
				rest, ones = k.block.onesCutNS(xb, cols, r, c, m)
			} else {
				rest, ones = k.block.onesNS(xb, cols, r, c, m)
			}
			var l [blockMax]float64
			for j := range r {
				l[j] = expMu(mu[j])
			}
			for j := range r {
				rj := rest[j] / l[j]
				l[j] = logOf[float32](withTail(xb[j*cols:(j+1)*cols], m[j], rj), float64(ones[j]))
			}
			k.block.sub(db, xb, cols, r, m, l)
			for j := range r {
				if l[j] != l[j] { // a NaN the max skipped
					fill(db[j*cols:(j+1)*cols], nan)
				}
			}
		}
		if stop {
			return i + r
		}
	}
	return n
}
