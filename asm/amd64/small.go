package main

import (
	"fmt"
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// cutoff64 is ln 2^-126 as the generic kernels' float64 constant.
const cutoff64 = -87.33654475055310898657

// smallCols is the widest row softmaxSmall takes: 16 float32s, one ZMM or
// two YMM registers.
const smallCols = 16

// softmaxSmall: Softmax of whole rows of at most 16 columns, row after row
// in one call, each row held in registers from its load to its store. Per
// row: max and min, then the checks that make the row "regular" (the max
// finite with |max| < 128, min − max at or above the cutoff in float64 as
// generic compares it, so no e is 0 and the cutoff can be skipped), the
// table exp with the row's bias as expSumTotalNoCut computes it (e/Σe is
// Softmax whatever the bias), the sum in float64, e·(1/s) in float64
// rounded to float32, and the store. A row that
// is not regular, or whose sum is NaN, is left unwritten and ends the call:
// the caller does it with the general path and calls again for the rest.
//
// AVX2 reads and writes whole 16-element windows from the start of each
// row: the caller passes only rows whose window lies inside both slices.
// The lanes past the row are written back with what was read from dst
// there, so in place the next rows' x is unchanged. AVX-512 uses opmasks.
func (a *arch) softmaxSmall() {
	a.fn("softmaxSmall", "func(dst, x []float32, cols, rows int) int",
		"softmaxSmall"+a.suffix+" stores the softmax of rows 0, 1, ... of x (cols <= 16 columns each) to dst",
		"until rows rows are done or a row is not regular, and returns how many it stored.")
	d := slicePtr("dst")
	x := slicePtr("x")
	cols := Load(Param("cols"), GP64()).(GPVirtual)
	rows := Load(Param("rows"), GP64()).(GPVirtual)
	done := GP64()
	XORQ(done, done)
	stride := GP64()
	MOVQ(cols, stride)
	SHLQ(U8(2), stride)

	ln := a.smallLanes(cols)
	nv := smallCols / a.lanes
	k, masks := ln.k, ln.masks
	neg := f32("neginf32", float32(math.Inf(-1)))
	pos := f32("posinf32", float32(math.Inf(1)))

	Label("small_row")
	CMPQ(done, rows)
	JAE(LabelRef("small_ret"))

	// Load the row; max and min over its lanes.
	xs := make([]VecVirtual, nv)
	var hi, lo VecVirtual
	if a.z {
		hi, lo = a.vec(), a.vec()
	}
	for i := range xs {
		xs[i] = a.vec()
		m := Mem{Base: x, Disp: a.bytes() * i}
		if a.z {
			VMOVUPS_Z(m, k, xs[i])
			VMOVUPS(neg, hi)
			VMOVUPS(pos, lo)
			VMAXPS(xs[i], hi, k, hi)
			VMINPS(xs[i], lo, k, lo)
			continue
		}
		VMOVUPS(m, xs[i])
		mk := a.vec()
		VMOVDQU(masks[i], mk)
		h, l := a.vec(), a.vec()
		VBLENDVPS(mk, xs[i], a.bcast(neg), h) // inactive lanes: −Inf
		VBLENDVPS(mk, xs[i], a.bcast(pos), l) // inactive lanes: +Inf
		if i == 0 {
			hi, lo = h, l
		} else {
			VMAXPS(h, hi, hi)
			VMINPS(l, lo, lo)
		}
	}
	m := a.reduceLanes(VMAXPS, hi)
	mn := a.reduceLanes(VMINPS, lo)

	// The checks, as float64 masks ANDed into ok.
	md, lod := XMM(), XMM()
	VCVTSS2SD(m, m, md)
	VCVTSS2SD(mn, mn, lod)
	ok, c := XMM(), XMM()
	VCMPSD(U8(0x11), c64("lim128", 128), md, ok)  // md < 128 (ordered)
	VCMPSD(U8(0x1e), c64("limm128", -128), md, c) // md > −128 (ordered)
	VANDPD(c, ok, ok)
	dl := XMM()
	VSUBSD(md, lod, dl)
	// min − max >= the cutoff (ordered), with ln2/8 to spare for the bias
	// below.
	VCMPSD(U8(0x1d), c64("smallcut64", cutoff64+math.Ln2/8), dl, c)
	VANDPD(c, ok, ok)

	// The table exp's bias c = 1.5·2^(23−log2 L) − M for M = x0·log2e
	// rounded to a multiple of 1/L, from the row's first element: one
	// FNMADD, whose float32 result in c's binade is on that grid. e/Σe is
	// Softmax for any M; with |M·ln2 − x0| <= ln2/(2L) + 3e-6 and every
	// x − x0 within the check's 87.25 of 0, each e is a normal float32
	// below 2^127, and the sum is in float64. The max's reduction is then
	// off the path to the store: only the checks, which feed the branch,
	// wait for it.
	l := a.tableSize()
	cv, x0 := a.vec(), a.vec()
	VBROADCASTSS(Mem{Base: x}, x0)
	VMOVUPS(f32(fmt.Sprintf("magic%d", l), float32(0x1.8p23/float64(l))), cv)
	VFNMADD231PS(f32("log2e32", math.Log2E), x0, cv)

	// e, as expSumTotalNoCut computes it. (AVX-512 loads its constants
	// into registers for each row: kept across the loop, they would push
	// the scalar work into X16–X31, which VEX cannot encode.)
	kc := a.tableConsts(cv, nil, false)
	jobs := make([]*totalJob, nv)
	for i := range jobs {
		jobs[i] = &totalJob{src: Mem{Base: x, Disp: a.bytes() * i}}
		if a.z {
			jobs[i].t = tail{k: k}
		} else {
			jobs[i].and = masks[i]
		}
	}
	a.tableBodies(kc, jobs)

	// e in float64 lanes: the sum, then its check.
	type halves struct{ lo, hi VecVirtual }
	e64 := make([]halves, len(jobs))
	var sum VecVirtual
	for i, j := range jobs {
		lo, hi := a.widenReg(j.e)
		e64[i] = halves{lo, hi}
		t := a.vec()
		VADDPD(lo, hi, t)
		if i == 0 {
			sum = t
		} else {
			VADDPD(t, sum, sum)
		}
	}
	s := a.hsum64(sum)
	VCMPSD(U8(0x00), s, s, c) // s == s: not NaN
	VANDPD(c, ok, ok)
	okb := GP32()
	VMOVMSKPD(ok, okb)
	TESTL(U32(1), okb)
	JZ(LabelRef("small_ret"))

	// p = float32(e·(1/s)), 1/s in float64, as generic's div computes it:
	// rounded once where it matters (1/s's own rounding is 2^-29 of a
	// float32 ULP), and shorter a chain than a double-float32 reciprocal.
	one := XMM()
	VMOVSD(c64("one64", 1), one)
	r := XMM()
	VDIVSD(s, one, r)
	rv := a.vec()
	VBROADCASTSD(r, rv)
	for i := range jobs {
		lo, hi := e64[i].lo, e64[i].hi
		VMULPD(rv, lo, lo)
		VMULPD(rv, hi, hi)
		p := a.narrowReg(lo, hi)
		a.smallStore(p, Mem{Base: d, Disp: a.bytes() * i}, ln, i)
	}
	ADDQ(stride, d)
	ADDQ(stride, x)
	INCQ(done)
	JMP(LabelRef("small_row"))

	Label("small_ret")
	VZEROUPPER()
	Store(done, ReturnIndex(0))
	RET()
}

// smallLanes are the lanes of a small-row kernel's 16-column window that
// hold the row: AVX-512 one opmask; AVX2 two vector masks from the
// tailmask table (the first min(cols, 8) lanes, then max(cols − 8, 0)).
type smallLanes struct {
	k     OpmaskVirtual
	masks []Mem
}

func (a *arch) smallLanes(cols GPVirtual) smallLanes {
	if a.z {
		base := GP64()
		LEAQ(consts["tailk"], base)
		k := K()
		KMOVW(Mem{Base: base, Index: cols, Scale: 2}, k)
		return smallLanes{k: k}
	}
	base := GP64()
	LEAQ(consts["tailmask"], base)
	r0, r1, eight := GP64(), GP64(), GP64()
	MOVQ(U32(8), eight)
	MOVQ(cols, r0)
	CMPQ(r0, eight)
	CMOVQHI(eight, r0) // min(cols, 8)
	MOVQ(cols, r1)
	SUBQ(r0, r1) // max(cols − 8, 0)
	m0, m1 := GP64(), GP64()
	MOVQ(eight, m0)
	SUBQ(r0, m0)
	MOVQ(eight, m1)
	SUBQ(r1, m1)
	return smallLanes{masks: []Mem{{Base: base, Index: m0, Scale: 4}, {Base: base, Index: m1, Scale: 4}}}
}

// smallStore stores the row's lanes of p, vector i of the window at dm:
// AVX-512 under the opmask; AVX2 writes the whole vector, with what dm
// held in the lanes past the row (in place, the next rows' x).
func (a *arch) smallStore(p VecVirtual, dm Mem, ln smallLanes, i int) {
	if a.z {
		VMOVUPS(p, ln.k, dm)
		return
	}
	old, mk := a.vec(), a.vec()
	VMOVUPS(dm, old)
	VMOVDQU(ln.masks[i], mk)
	VBLENDVPS(mk, p, old, old)
	VMOVUPS(old, dm)
}
