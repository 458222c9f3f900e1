//go:build !purego

package softmax

import (
	"math"
	"unsafe"

	"github.com/klauspost/cpuid/v2"
)

// The Go side of Softmax's table kernels (asm/amd64/exptotal.go): their
// per-row bias, the contract's expSumTotal, and the loop that SoftmaxRows
// and Softmax take on rows wider than the small-row kernel's.

// tableMaxAbs bounds |m| for the table kernels: every x they do not cut
// off is within 264 of 0, where x·log2e stays in their bias's binade and
// the products N·ln2hi are exact.
const tableMaxAbs = 176

// tableBias returns the table kernels' bias c = 1.5·2^(23−log2 l) − M for
// M = m·log2e rounded down to a multiple of 1/l, and mu = m − M·ln2, in
// [0, ln2/l): the kernels store exp(x − m + mu).
func tableBias(m float32, l float64) (c float32, mu float64) {
	il := 1 / l // exact (l is a power of 2), and off the chain from m
	bm := tableM(m, l, il)
	return float32(0x1.8p23*il - bm), float64(m) - bm*math.Ln2
}

// expMu is exp(mu) for tableBias's mu, in [0, ln2/8) for every set: its
// Taylor series to mu⁹/9!, whose remainder there is below 2^-56, by
// Horner's rule (within 2 float64 ULP of math.Exp). A quarter of
// math.Exp's time; the rows of a block take one each.
func expMu(mu float64) float64 {
	const (
		c2 = 1.0 / 2
		c3 = 1.0 / 6
		c4 = 1.0 / 24
		c5 = 1.0 / 120
		c6 = 1.0 / 720
		c7 = 1.0 / 5040
		c8 = 1.0 / 40320
		c9 = 1.0 / 362880
	)
	return 1 + mu*(1+mu*(c2+mu*(c3+mu*(c4+mu*(c5+mu*(c6+mu*(c7+mu*(c8+mu*c9))))))))
}

// tableM is tableBias's M: m·log2e rounded down to a multiple of 1/l, with
// il = 1/l, exact in float64. Callers pass |m| < tableMaxAbs, so m·log2e·l
// is far inside int64's range and the conversion floors it without
// math.Floor's call; with il, no division waits for m either (together a
// fifth of the per-row cost of rows of 32 on a Zen 3).
func tableM(m float32, l, il float64) float64 {
	v := float64(m) * math.Log2E * l
	f := float64(int64(v)) // towards zero
	if f > v {
		f--
	}
	return f * il
}

// expSumTotal is the set's expSumTotal: the table kernels, which compute
// e[i] = exp(x[i] − M·ln2) straight from x, for rows with |m| below
// tableMaxAbs (where their reduction is exact), without the cutoff
// compare when the row's smallest element lo is at or above the threshold
// (then no e[i] is forced to 0; a NaN makes the total NaN either way).
// Other rows are shifted first (shift).
func (k *asmKernels) expSumTotal(dst, x []float32, m, lo float32) (s, mu float64) {
	if !(m < tableMaxAbs && m > -tableMaxAbs) {
		if !finite(m) {
			rest, ones := k.expSumSplit(dst, x, m)
			return ones + rest, 0
		}
		x, m, lo = k.shift(dst, x, m, lo)
	}
	r := tableRow{dst: dst[:len(x)], x: x, m: m, lo: lo}
	r.c, mu = tableBias(m, k.tableLen)
	r.t = expThreshold(m)
	k.exp(&r)
	return r.s, mu
}

// expSumOnes is the set's expSumOnes: expSum's split sum from the table
// kernels, for rows with |m| below tableMaxAbs. They compute e[i] =
// exp(x[i] − M·ln2) = exp(x[i] − m)·f with f = exp(mu), count the x[i]
// == m and sum the others, which rest takes back to exp(x[i] − m) by
// dividing by f (a float64 rounding). Without the cutoff's compare where
// the row's smallest element lo is at or above its threshold.
func (k *asmKernels) expSumOnes(dst, x []float32, m, lo float32) (rest, ones, f float64, ok bool) {
	if !(m < tableMaxAbs && m > -tableMaxAbs) {
		if len(dst) == 0 || !finite(m) {
			return 0, 0, 0, false // the split kernels: LogSoftmax and the loss
		}
		x, m, lo = k.shift(dst, x, m, lo)
	}
	c, mu := tableBias(m, k.tableLen)
	t := expThreshold(m)
	var s float64
	var n int
	switch {
	case lo >= t && len(dst) == 0:
		s, n = k.onesNCNS(x, c, m)
	case lo >= t:
		s, n = k.onesNoCut(dst[:len(x)], x, c, m)
	case len(dst) == 0:
		s, n = k.onesNS(x, c, t, m)
	default:
		s, n = k.ones(dst[:len(x)], x, c, t, m)
	}
	f = expMu(mu)
	return s / f, float64(n), f, true
}

// shift stores x − m to dst for a row whose max m is finite and beyond
// tableMaxAbs, and returns dst, its max 0 and its smallest element, for
// the table kernels to take. Every x[i] within the exp's cutoff of m
// (87.4) is within a factor 2 of it, so x[i] − m is exact (Sterbenz) and
// the cutoff cuts the same elements; the others round to below it. The
// split kernels, which such rows took before, were within 4 ULP only
// just: rows built where their exp and sums err most reached 4.05.
func (k *asmKernels) shift(dst, x []float32, m, lo float32) ([]float32, float32, float32) {
	// Callers pass a finite m: −Inf would give x − m = +Inf or NaN.
	k.sub(dst[:len(x)], x, m, 0)
	return dst[:len(x)], 0, lo - m
}

func finite(m float32) bool { return m <= math.MaxFloat32 && m >= -math.MaxFloat32 }

// tableRow is one row in flight: its max and min, then its exp's bias and
// threshold, then its sum.
type tableRow struct {
	dst, x []float32
	m, lo  float32
	c, t   float32
	s      float64
	pf     uintptr // bytes past x of what the exp pass prefetches
	pfDiv  uintptr // bytes past dst of what the scale pass prefetches
}

// prepare finds the row's max and reports whether the table kernels take
// the row: a finite max below tableMaxAbs (special rows and larger maxima
// go the general way).
func (k *asmKernels) prepare(r *tableRow) bool {
	r.m, r.lo = k.maxMin(r.x)
	if !(r.m < tableMaxAbs && r.m > -tableMaxAbs) {
		return false
	}
	r.c, _ = tableBias(r.m, k.tableLen)
	r.t = expThreshold(r.m)
	return true
}

func (k *asmKernels) exp(r *tableRow) {
	if r.lo >= r.t { // else also a NaN lo: the cutoff path
		r.s = k.totalNoCut(r.dst, r.x, r.c, r.pf)
	} else {
		r.s = k.total(r.dst, r.x, r.c, r.t, r.pf)
	}
}

func (k *asmKernels) normalize(r *tableRow) {
	if r.s != r.s {
		fill(r.dst, nan)
		return
	}
	hi, lo, _ := recip(r.s) // 1 <= s <= 1.05·len(x): always in range
	k.div(r.dst, r.dst, hi, lo, r.pfDiv)
}

// prefetchBytes bounds what the rows in flight may take, their x and dst
// and the rows prefetched: the core's L2 cache, where they must stay until
// used (1 MiB where CPUID does not say).
var prefetchBytes = func() int {
	if l2 := cpuid.CPU.Cache.L2; l2 > 0 {
		return l2
	}
	return 1 << 20
}()

// A prefetchPlan says what rows' passes prefetch: during the exp pass and
// during the scale pass, the x or the dst of the row ahead, or nothing.
// BenchmarkPrefetchPlan compares plans in one process: what pays depends
// on the memory system (the exp pass's prefetch of x was worth 12–20% to
// AVX2 on the Xeon and nothing measurable on a Zen 3), so it is measured.
type prefetchPlan struct {
	exp, div    prefetchWhat
	pairAhead   int // rows ahead in the pair loop
	singleAhead int // rows ahead for rows wider than pairCols
}

type prefetchWhat int

const (
	prefetchNone prefetchWhat = iota
	prefetchX                 // the x of the row ahead
	prefetchDst               // the dst of the row ahead
)

// prefetch is the plan rows follows.
var prefetch = prefetchPlan{exp: prefetchX, div: prefetchNone, pairAhead: 2, singleAhead: 1}

// pairCols is the widest row that the pair loop takes; wider rows go one
// at a time, prefetching the next one.
const pairCols = 16384

// gap is the distance in bytes from a to b, for a prefetch: an address is
// only a hint there, so the arithmetic may wrap.
func gap(a, b []float32) uintptr {
	return uintptr(unsafe.Pointer(unsafe.SliceData(b))) - uintptr(unsafe.Pointer(unsafe.SliceData(a)))
}

// rows stores the softmax of the leading rows of x (cols columns each) in
// dst and returns how many it did, stopping before the first row the
// table kernels do not take (softmaxRows's contract). Rows go in pairs,
// each step of one row next to the same step of the other: the latency of
// one row's reductions (max, sum, 1/sum) then overlaps the other's work,
// which on rows of a few thousand columns is worth 5–10%, and more on
// shorter ones. The passes of each row prefetch a row ahead (prefetch
// says which and what), whose max pass would otherwise wait on memory.
// Rows of up to blockCols columns go a block at a time (blockRows) when
// there are two or more.
func (k *asmKernels) rows(dst, x []float32, cols int) int {
	if cols <= blockCols && len(x) >= 2*cols {
		return k.blockRows(dst, x, cols)
	}
	n := len(x) / cols
	p := prefetch
	// The prefetches' distances are the same for every row: ahead rows
	// on, from x (the exp pass) or dst (the scale pass) to x or dst.
	dist := func(ahead int, w prefetchWhat, from []float32) uintptr {
		d := uintptr(ahead * cols * 4)
		switch w {
		case prefetchX:
			return gap(from, x) + d
		case prefetchDst:
			return gap(from, dst) + d
		}
		return 0
	}
	type plan struct {
		n        int // the rows before it that prefetch
		exp, div uintptr
	}
	mkPlan := func(ahead int) plan {
		if 3*ahead*4*cols > prefetchBytes { // x and dst of the rows in flight, and the rows ahead
			return plan{}
		}
		return plan{n - ahead, dist(ahead, p.exp, x), dist(ahead, p.div, dst)}
	}
	// row sets r to row i, prefetching row i+ahead when there is one and
	// the rows in flight fit (else nothing: no memory past the slices).
	// Field by field: a tableRow literal is built apart and copied in 16-byte
	// moves, whose loads wait for the 8-byte stores that built it (a failed
	// store forwarding, a sixth of the per-row cost on a Zen 3); prepare and
	// exp set the other fields.
	row := func(r *tableRow, i int, pl *plan) {
		r.dst, r.x = dst[i*cols:(i+1)*cols], x[i*cols:(i+1)*cols]
		r.pf, r.pfDiv = 0, 0
		if i < pl.n {
			r.pf, r.pfDiv = pl.exp, pl.div
		}
	}
	i := 0
	if cols >= k.streamFrom() {
		for ; i < n; i++ {
			if !k.streamRow(dst[i*cols:(i+1)*cols], x[i*cols:(i+1)*cols]) {
				return i
			}
		}
		return n
	}
	var a, b tableRow
	if cols <= pairCols {
		pl := mkPlan(p.pairAhead)
		for ; i+1 < n; i += 2 {
			row(&a, i, &pl)
			row(&b, i+1, &pl)
			if !k.prepare(&a) {
				return i
			}
			if !k.prepare(&b) {
				k.exp(&a)
				k.normalize(&a)
				return i + 1
			}
			k.exp(&a)
			k.exp(&b)
			k.normalize(&a)
			k.normalize(&b)
		}
	}
	pl := mkPlan(p.singleAhead)
	for ; i < n; i++ {
		row(&a, i, &pl)
		if !k.prepare(&a) {
			return i
		}
		k.exp(&a)
		k.normalize(&a)
	}
	return i
}

// A set's streamCols is the narrowest row that streamRow takes
// (math.MaxInt: none). streamRow trades a third of rows's memory traffic
// for a second exp per element, which pays only where memory bounds the
// passes (BenchmarkStreamRow, medians of 4):
//   - Xeon (Emerald Rapids, L2 2 MiB), avx512: 14% faster at 2^24 columns
//     (27.3 against 31.6 ms), 5% slower at 2^20, 30–60% slower from 8192
//     to 128256 columns; hence rows of 2^22 and wider, between the two
//     that were measured;
//   - the same Xeon, avx2, and a Zen 3 (AVX2), where the passes are
//     compute-bound: no faster at 2^24, 40–115% slower on narrower rows:
//     none.
//
// forceStreamCols, when not 0, replaces every set's streamCols (tests).
var forceStreamCols int

func (k *asmKernels) streamFrom() int {
	if forceStreamCols != 0 {
		return forceStreamCols
	}
	return k.streamCols
}

// streamChunk is the part of a row that streamRow's first pass reads
// twice (max, then the sum): a quarter of the smallest L1 data cache of
// the CPUs we target (32 KiB), so that the second read hits it.
var streamChunk = 2048

// streamRow stores the softmax of a row too long for the core's cache
// with two reads of x from memory and one write of dst, where rows's three
// passes read x twice and dst once and write dst twice: chunk by chunk, the chunk's max, then its sum Σ exp(x − Mc·ln2)
// on the table kernels while the chunk is in L1; the sums rescaled by the
// exact 2^(Mc − M) to the row's M and added in float64; then one pass that
// stores exp(x − M·ln2)/Σ. It reports false, having written nothing, for a
// row it leaves to the general composition: a chunk's max that is NaN,
// +Inf or beyond tableMaxAbs, or a row of −Inf and NaN only.
func (k *asmKernels) streamRow(dst, x []float32) bool {
	var (
		m     = float32(math.Inf(-1))
		bm    = math.Inf(-1) // the largest chunk's M (multiple of 1/tableLen)
		total float64
	)
	for i := 0; i < len(x); i += streamChunk {
		c := x[i:min(i+streamChunk, len(x))]
		cm, _ := k.maxMin(c)
		if cm == float32(math.Inf(-1)) {
			// −Inf (exp 0) and perhaps NaNs, which max may skip: sum
			// finds those.
			if v := k.sum(c); v != v {
				total = v
			}
			continue
		}
		if !(cm < tableMaxAbs && cm > -tableMaxAbs) {
			return false
		}
		cb, _ := tableBias(cm, k.tableLen)
		s := k.totalNS(c, cb, expThreshold(cm))
		if b := tableM(cm, k.tableLen, 1/k.tableLen); b > bm {
			total, bm = total*math.Exp2(bm-b), b
		} else {
			s *= math.Exp2(b - bm)
		}
		total += s
		m = max(m, cm)
	}
	if m == float32(math.Inf(-1)) {
		return false
	}
	if total != total {
		fill(dst, nan)
		return true
	}
	cb, _ := tableBias(m, k.tableLen)
	hi, lo, _ := recip(total) // 1 <= total <= 2^(1/8)·len(x): always in range
	k.expScale(dst[:len(x)], x, cb, expThreshold(m), hi, lo)
	return true
}
