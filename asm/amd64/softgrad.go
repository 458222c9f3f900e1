package main

import (
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// softGrad: the soft-target cross-entropy's loss and gradient of one row,
// once its max m and l = log Σ exp(x − m) are known, in one pass over x, y
// and g, in float64 lanes: d = x − m (exact), e = exp(d) (exp64 to
// float64's precision: e·a − y cancels where the targets match the
// probabilities; 0 below the cutoff as generic's exp32), g = (e·a − y)·rs
// with a = Σy/Σe (Σe from expSumPrecise)
// and rs = 1/scale, and the loss Σ y·(l − d) over the y != 0 (a zero
// target never multiplies a −Inf logit), in a float64 accumulator: its
// terms have y's sign, so for targets that are distributions nothing
// cancels.
func (a *arch) softGrad() {
	a.fn("softGrad", "func(g, x, y []float32, m float32, l, sa, rs float64) float64",
		"softGrad"+a.suffix+" stores g[i] = (exp(x[i] − m)·sa − y[i])·rs computed in float64 and rounded once,",
		"and returns Σ y[i]·(l − (x[i] − m)) over the y[i] != 0; len(x) and len(y) >= len(g).")
	gp := slicePtr("g")
	xp := slicePtr("x")
	yp := slicePtr("y")
	n := Load(Param("g").Len(), GP64()).(GPVirtual)
	mx := XMM()
	VMOVSS(paramAddr("m"), mx)
	VCVTSS2SD(mx, mx, mx)
	mv, lv, av, rsv := a.vec(), a.bcast64("l"), a.bcast64("sa"), a.bcast64("rs")
	VBROADCASTSD(mx, mv)
	// AVX2: the four constants from the stack, which leaves the loop the
	// registers it needs.
	ops := []Op{mv, lv, av, rsv}
	if !a.z {
		loc := AllocLocal(4 * 32)
		for i, v := range []VecVirtual{mv, lv, av, rsv} {
			m := loc.Offset(32 * i)
			VMOVUPD(v, m)
			ops[i] = m
		}
	}
	acc := a.vec()
	a.zero(acc)
	zero := c64("zero64", 0)
	cut := c64("cutoff64", cutoff64)
	s := streams{ptrs: []GPVirtual{gp, xp, yp}, n: n}
	elementwise(a, s, "softgrad", a.lanes, 1, a.lanes, func(off int, t tail) {
		xlo, xhi := a.widen(s.mem(1, off), t)
		VSUBPD(ops[0], xlo, xlo)
		VSUBPD(ops[0], xhi, xhi)
		es := a.exp64N([]VecVirtual{xlo, xhi}, exp64Opts{lo: cut, degree: 11, negOnly: true})
		ylo, yhi := a.widen(s.mem(2, off), t) // after the exps: AVX2 has no registers to spare
		var gs []VecVirtual
		for i, p := range [][2]VecVirtual{{xlo, ylo}, {xhi, yhi}} {
			d, y, e := p[0], p[1], es[i]
			VSUBPD(ops[1], d, d) // d − l: the loss's terms negated
			VMULPD(y, d, d)
			if a.z {
				k := K()
				VCMPPD(U8(0x04), zero, y, k) // y != 0 (the tail's lanes are 0)
				VADDPD(d, acc, k, acc)
			} else {
				nz := a.vec()
				VCMPPD(U8(0x04), zero, y, nz)
				VANDPD(nz, d, d)
				VADDPD(d, acc, acc)
			}
			VMULPD(ops[2], e, e)
			VSUBPD(y, e, e)
			VMULPD(ops[3], e, e)
			gs = append(gs, e)
		}
		a.narrow(gs[0], gs[1], s.mem(0, off), t)
	})
	r, loss := a.hsum64(acc), XMM()
	VXORPS(loss, loss, loss)
	VSUBSD(r, loss, loss)
	VZEROUPPER()
	Store(loss, ReturnIndex(0))
	RET()
}

// expSumPrecise: expSum's (rest, ones) without a store, each e = exp(x − m)
// in float64 lanes to float64's precision (d = x − m exact, exp64), added
// with twoSum, so that softGrad's a = Σy/Σe is as precise as its e: the
// float32 kernels' Σe is good to a float32 rounding, which p·Σy − y shows
// where it cancels, and a plain float64 sum of 2^16 equal terms loses
// 2^-41. ones counts the e that are exactly 1 (not those within 2^-25 of
// it, as expSum does: the gradient would lose them); lanes past the tail
// read −Inf (e = 0).
func (a *arch) expSumPrecise() {
	a.fn("expSumPrecise", "func(x []float32, m float32) (rest, ones float64)",
		"expSumPrecise"+a.suffix+" returns Σ exp(x[i] − m) split as expSum's rest and ones, each term to float64's precision.")
	xp := slicePtr("x")
	n := Load(Param("x").Len(), GP64()).(GPVirtual)
	mx := XMM()
	VMOVSS(paramAddr("m"), mx)
	VCVTSS2SD(mx, mx, mx)
	mv := a.vec()
	VBROADCASTSD(mx, mv)
	rest, comp, ones := a.vec(), a.vec(), a.vec()
	a.zero(rest)
	a.zero(comp)
	a.zero(ones)
	neg := f32("neginf32", float32(math.Inf(-1)))
	one := c64("one64", 1)
	s := streams{ptrs: []GPVirtual{xp}, n: n}
	elementwise(a, s, "expsump", a.lanes, 1, a.lanes, func(off int, t tail) {
		m := s.mem(0, off)
		v := a.vec()
		switch {
		case t.full():
			VMOVUPS(m, v)
		case a.z:
			VMOVUPS(neg, v)
			VMOVUPS(m, t.k, v) // merge: −Inf past the tail
		default:
			v = a.load(m, t)
			VBLENDVPS(t.v, v, a.bcast(neg), v)
		}
		lo, hi := a.widenReg(v)
		VSUBPD(mv, lo, lo)
		VSUBPD(mv, hi, hi)
		for _, e := range a.exp64N([]VecVirtual{lo, hi}, exp64Opts{lo: c64("cutoff64", cutoff64), degree: 11, negOnly: true}) {
			if a.z {
				k1, kr := K(), K()
				VCMPPD(U8(0x00), one, e, k1) // e == 1 (ordered)
				VCMPPD(U8(0x04), one, e, kr) // not that: NaN too
				VADDPD(one, ones, k1, ones)
				VMOVAPD_Z(e, kr, e)
			} else {
				k1, t := a.vec(), a.vec()
				VCMPPD(U8(0x00), one, e, k1)
				VANDPD(one, k1, t)
				VADDPD(t, ones, ones)
				VANDNPD(e, k1, e) // NaN where e is NaN
			}
			twoSum(rest, comp, e, a.vec)
		}
	})
	r, o := a.hsum64Comp(rest, comp), a.hsum64(ones)
	VZEROUPPER()
	Store(r, ReturnIndex(0))
	Store(o, ReturnIndex(1))
	RET()
}
