package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The backward passes of rows of at most 16 columns, row after row in one
// call (the window and lanes of softmaxSmall), in float64 lanes as the
// general path's dot, sum, mulSub and expMulSub compute them. They take
// every row: there are no special rows backwards.

// smallWiden loads vector i of the row at base as two float64 vectors,
// 0 in the lanes past the row.
func (a *arch) smallWiden(base GPVirtual, ln smallLanes, i int) (lo, hi VecVirtual) {
	m := Mem{Base: base, Disp: a.bytes() * i}
	if a.z {
		return a.widen(m, tail{k: ln.k})
	}
	v := a.vec()
	VMOVUPS(m, v)
	VANDPS(ln.masks[i], v, v)
	return a.widenReg(v)
}

// smallRowLoop emits a loop over rows rows calling body for each, the
// pointers advancing by stride.
func smallRowLoop(name string, rows, stride GPVirtual, ptrs []GPVirtual, body func()) {
	i := GP64()
	XORQ(i, i)
	Label(name + "_row")
	CMPQ(i, rows)
	JAE(LabelRef(name + "_ret"))
	body()
	for _, p := range ptrs {
		ADDQ(stride, p)
	}
	INCQ(i)
	JMP(LabelRef(name + "_row"))
	Label(name + "_ret")
}

// softmaxBackwardSmall: dx = p·((dy − s) − c), s + c = Σ p·dy as dot
// computes it: the exact float64 products added with twoSum (a NaN in c
// when a product is infinite, as the general path's dot gives it).
func (a *arch) softmaxBackwardSmall() {
	a.fn("softmaxBackwardSmall", "func(dx, p, dy []float32, cols, rows int) int",
		"softmaxBackwardSmall"+a.suffix+" stores the softmax backward pass of rows 0, 1, ... (cols <= 16 columns each)",
		"to dx and returns rows.")
	d := slicePtr("dx")
	p := slicePtr("p")
	y := slicePtr("dy")
	rows := Load(Param("rows"), GP64()).(GPVirtual)
	stride, ln := a.smallPrologue()
	nv := smallCols / a.lanes
	smallRowLoop("bwd", rows, stride, []GPVirtual{d, p, y}, func() {
		var prods []VecVirtual
		for i := 0; i < nv; i++ {
			plo, phi := a.smallWiden(p, ln, i)
			ylo, yhi := a.smallWiden(y, ln, i)
			VMULPD(ylo, plo, plo) // exact
			VMULPD(yhi, phi, phi)
			prods = append(prods, plo, phi)
		}
		acc, comp := twoSumAll(prods, a.vec)
		s, c := a.hsum64Pair(acc, comp)
		sv, cv := a.vec(), a.vec()
		VBROADCASTSD(s, sv)
		VBROADCASTSD(c, cv)
		// p and dy again (from L1): AVX2 has no registers to keep them.
		for i := 0; i < nv; i++ {
			plo, phi := a.smallWiden(p, ln, i)
			ylo, yhi := a.smallWiden(y, ln, i)
			for _, v := range [][2]VecVirtual{{plo, ylo}, {phi, yhi}} {
				VSUBPD(sv, v[1], v[1])
				VSUBPD(cv, v[1], v[1])
				VMULPD(v[0], v[1], v[1])
			}
			a.smallStore(a.narrowReg(ylo, yhi), Mem{Base: d, Disp: a.bytes() * i}, ln, i)
		}
	})
	VZEROUPPER()
	Store(rows, ReturnIndex(0))
	RET()
}

// logSoftmaxBackwardSmall: dx = dy − exp(logp)·s, s = Σ dy in float64
// compensated (the general path's sum), exp as exp64 (its expMulSub).
func (a *arch) logSoftmaxBackwardSmall() {
	a.fn("logSoftmaxBackwardSmall", "func(dx, logp, dy []float32, cols, rows int) int",
		"logSoftmaxBackwardSmall"+a.suffix+" stores the log-softmax backward pass of rows 0, 1, ... (cols <= 16 columns each)",
		"to dx and returns rows.")
	d := slicePtr("dx")
	lp := slicePtr("logp")
	y := slicePtr("dy")
	rows := Load(Param("rows"), GP64()).(GPVirtual)
	stride, ln := a.smallPrologue()
	nv := smallCols / a.lanes
	smallRowLoop("lbwd", rows, stride, []GPVirtual{d, lp, y}, func() {
		var ys []VecVirtual
		for i := 0; i < nv; i++ {
			lo, hi := a.smallWiden(y, ln, i)
			ys = append(ys, lo, hi)
		}
		acc, comp := twoSumAll(ys, a.vec)
		sv := a.vec()
		VBROADCASTSD(a.hsum64Comp(acc, comp), sv)
		t := tail{k: ln.k} // AVX2: the whole window, whose lanes past the row are not stored
		for i := 0; i < nv; i++ {
			lo, hi := a.widen(Mem{Base: lp, Disp: a.bytes() * i}, t)
			e := a.exp64N([]VecVirtual{lo, hi}, exp64Opts{lo: c64("exp64lo", expLo64), degree: 11, horner: !a.z})
			VFNMADD231PD(sv, e[0], ys[2*i])
			VFNMADD231PD(sv, e[1], ys[2*i+1])
			a.smallStore(a.narrowReg(ys[2*i], ys[2*i+1]), Mem{Base: d, Disp: a.bytes() * i}, ln, i)
		}
	})
	VZEROUPPER()
	Store(rows, ReturnIndex(0))
	RET()
}
