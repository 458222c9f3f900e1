//go:build !purego

package softmax

import "math"

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
	bm := math.Floor(float64(m)*math.Log2E*l) / l
	return float32(0x1.8p23/l - bm), float64(m) - bm*math.Ln2
}

// tableKernels are one set's kernels for Softmax's rows.
type tableKernels struct {
	l          float64 // table entries
	maxMin     func(x []float32) (max, min float32)
	total      func(dst, x []float32, c, t float32) float64
	totalNoCut func(dst, x []float32, c float32) float64
	div        func(dst, x []float32, rhi, rlo float32)
	split      func(dst, x []float32, m float32) (rest, ones float64) // the set's expSum
}

var (
	avx2Table   = tableKernels{8, maxMinAVX2, expSumTotalAVX2, expSumTotalNoCutAVX2, divAVX2, expSumAVX2Go}
	avx512Table = tableKernels{16, maxMinAVX512, expSumTotalAVX512, expSumTotalNoCutAVX512, divAVX512, expSumAVX512Go}
)

// expSumTotal is the set's expSumTotal: the table kernels, which compute
// e[i] = exp(x[i] − M·ln2) straight from x, for rows with |m| below
// tableMaxAbs (where their reduction is exact), without the cutoff
// compare when the row's smallest element lo is at or above the threshold
// (then no e[i] is forced to 0; a NaN makes the total NaN either way).
// Other rows take the split kernels, whose x − m is exact for any m.
func (k *tableKernels) expSumTotal(dst, x []float32, m, lo float32) (s, mu float64) {
	if !(m < tableMaxAbs && m > -tableMaxAbs) {
		rest, ones := k.split(dst, x, m)
		return ones + rest, 0
	}
	r := tableRow{dst: dst[:len(x)], x: x, m: m, lo: lo}
	r.c, mu = tableBias(m, k.l)
	r.t = expThreshold(m)
	k.exp(&r)
	return r.s, mu
}

// tableRow is one row in flight: its max and min, then its exp's bias and
// threshold, then its sum.
type tableRow struct {
	dst, x []float32
	m, lo  float32
	c, t   float32
	s      float64
}

// prepare finds the row's max and reports whether the table kernels take
// the row: a finite max below tableMaxAbs (special rows and larger maxima
// go the general way).
func (k *tableKernels) prepare(r *tableRow) bool {
	r.m, r.lo = k.maxMin(r.x)
	if !(r.m < tableMaxAbs && r.m > -tableMaxAbs) {
		return false
	}
	r.c, _ = tableBias(r.m, k.l)
	r.t = expThreshold(r.m)
	return true
}

func (k *tableKernels) exp(r *tableRow) {
	if r.lo >= r.t { // else also a NaN lo: the cutoff path
		r.s = k.totalNoCut(r.dst, r.x, r.c)
	} else {
		r.s = k.total(r.dst, r.x, r.c, r.t)
	}
}

func (k *tableKernels) normalize(r *tableRow) {
	if r.s != r.s {
		fill(r.dst, nan)
		return
	}
	hi, lo, _ := recip(r.s) // 1 <= s <= 1.05·len(x): always in range
	k.div(r.dst, r.dst, hi, lo)
}

// rows stores the softmax of the leading rows of x (cols columns each) in
// dst and returns how many it did, stopping before the first row the
// table kernels do not take (softmaxRows's contract). Rows go in pairs,
// each step of one row next to the same step of the other: the latency of
// one row's reductions (max, sum, 1/sum) then overlaps the other's work,
// which on rows of a few thousand columns is worth 5–10%, and more on
// shorter ones.
func (k *tableKernels) rows(dst, x []float32, cols int) int {
	n := len(x) / cols
	row := func(i int) tableRow {
		return tableRow{dst: dst[i*cols : (i+1)*cols], x: x[i*cols : (i+1)*cols]}
	}
	i := 0
	for ; i+1 < n; i += 2 {
		a, b := row(i), row(i+1)
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
	if i < n {
		a := row(i)
		if !k.prepare(&a) {
			return i
		}
		k.exp(&a)
		k.normalize(&a)
		i++
	}
	return i
}
