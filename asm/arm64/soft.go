package main

import (
	"fmt"
	"math"

	"github.com/gosimd/softmax/asm/internal/expfit"
)

// The soft-target cross-entropy's kernels: its gradient p·Σy − y cancels
// where the targets match the probabilities, so Σ exp(x − m) and each
// exp(x − m) must be good to float64's precision, not a float32 rounding.
// Both take one float32 vector per step, its two float64 halves one after
// the other through exp64p (V16..V29 hold exp64p's constants).

// exp64pConsts loads exp64p's constants into V16..V29 from table: magic,
// {log2e, ln2 hi}, {ln2 lo, c11}, the cutoff, c0 = c1, c2..c10.
func (e *emitter) exp64pConsts(table string, ptr gpr) {
	c := expfit.Coeffs(11)
	vals := []vec128{
		splat64(magic64),
		pack64([2]uint64{f64(math.Log2E), f64(ln2Hi64)}),
		pack64([2]uint64{f64(ln2Lo64), f64(c[11])}),
		splat64(f64(cutoff64)),
	}
	for j := 1; j <= 10; j++ {
		vals = append(vals, splat64(f64(c[j])))
	}
	e.constants(table, ptr, 16, vals...)
}

// cutoff64 is ln 2^-126, the generic kernels' float32 exp cutoff.
const cutoff64 = -87.33654475055310898657

// exp64p stores exp(d) for the two float64 lanes of d to float64's
// precision (about 2^-51) in the register it returns (p), for d <= 0: 0
// below the cutoff (−Inf too), NaN for NaN, exactly 1 for 0. d, z, q and lt
// are clobbered.
func (e *emitter) exp64p(d, z, p, q, lt vreg) vreg {
	const magic, k1, k2, cut vreg = 16, 17, 18, 19
	c := func(j int) vreg { return 19 + vreg(max(j, 1)) } // c0 = c1: V20; c2..c10: V21..V29
	e.fcmgt(d2, lt, cut, d)                               // d below the cutoff (ordered: not NaN)
	e.vmov(z, magic)
	e.fmlaElem(d2, z, d, k1, 0) // magic + d·log2e: n in the low bits
	e.fsub(d2, p, z, magic)     // n
	e.fmlsElem(d2, d, p, k1, 1) // t = d − n·ln2hi − n·ln2lo
	e.fmlsElem(d2, d, p, k2, 0)
	e.vmov(p, c(10))
	e.fmlaElem(d2, p, d, k2, 1) // c10 + t·c11
	cur, next := p, q
	for j := 9; j >= 0; j-- {
		e.vmov(next, c(j))
		e.vfmla(d2, next, cur, d)
		cur, next = next, cur
	}
	// cur is p: 2·exp(t); times 2^(n−1), 0 below the cutoff.
	e.vshl(d2, z, z, 52)
	e.fmul(d2, cur, cur, z)
	e.bic(cur, cur, lt)
	return cur
}

// expSumPreciseKernel: Σ exp(x − m) split as expSum's rest and ones, each
// term from exp64p: ones counts the terms that are exactly 1 (not those
// within 2^-25 of it, as expSum does: the gradient would lose them), rest
// adds the others (NaN included) with twoSum:
// a plain float64 sum of 2^16 equal terms loses 2^-41, which the soft
// gradient's cancellation shows. The lanes past the tail read −Inf.
func expSumPreciseKernel(e *emitter) {
	e.text("expSumPreciseNEON(x []float32, m float32) (rest, ones float64)", 48)
	const src, cnt, tmp gpr = 1, 2, 4
	const x, d, z, p, q, lt, mask, t, rest, ones, comp vreg = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
	tmp3 := seq(11, 3)
	const ninf, mv, one vreg = 14, 15, 31
	e.movdArg("x_base+0(FP)", src)
	e.movdArg("x_len+8(FP)", cnt)
	e.max64Arg("m+24(FP)", mv)
	e.exp64pConsts("expSumPreciseExp", tmp)
	e.constants("expSumPreciseOne", tmp, one, splat64(f64(1)))
	e.constants("expSumPreciseInf", tmp, ninf, splat32(f32(math.Inf(-1))))
	e.veor(rest, rest, rest)
	e.veor(comp, comp, comp)
	e.veor(ones, ones, ones)
	e.walk("esp", cnt, []int{4}, []stream{{src, []vreg{x}}}, nil, func() {
		e.vmov(x, ninf)
	}, func(int) {
		for h := range 2 {
			if h == 0 {
				e.fcvtl(d, x)
			} else {
				e.fcvtl2(d, x)
			}
			e.fsub(d2, d, d, mv)
			r := e.exp64p(d, z, p, q, lt)
			e.fcmeq(d2, mask, r, one)
			e.vand(t, mask, one)
			e.fadd(d2, ones, ones, t)
			e.bic(t, r, mask)
			e.twoSum(rest, comp, t, tmp3)
		}
	}, nil)
	// The two lanes: rest's with twoSum, comp's plainly; then rest + comp
	// (NaN where a term was: no special sums here, the terms are <= 1).
	e.faddpD(comp, comp)
	hi := tmp3[1]
	e.op("VDUP", fmt.Sprintf("V%d.D[1]", rest), fmt.Sprintf("V%d.D2", hi))
	e.twoSum(rest, comp, hi, []vreg{tmp3[0], tmp3[2], ninf})
	e.faddd(rest, rest, comp)
	e.faddpD(ones, ones)
	e.fmovdRet(rest, "rest+32(FP)")
	e.fmovdRet(ones, "ones+40(FP)")
	e.ret()
}

// softGradKernel: g = (exp(x − m)·sa − y)·rs in float64 (exp64p), and the
// loss Σ y·(l − (x − m)) over the y != 0 (a zero target never multiplies
// a −Inf logit). The tail's y lanes read 0.
func softGradKernel(e *emitter) {
	e.text("softGradNEON(g, x, y []float32, m float32, l, sa, rs float64) float64", 112)
	const dst, src, cnt, py, tmp gpr = 0, 1, 2, 3, 4
	const x, y, out, d, z, p, q, lt, yh, t, mask, loss vreg = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
	const mv, lv, av, rsv, zero vreg = 12, 13, 14, 15, 30
	e.movdArg("g_base+0(FP)", dst)
	e.movdArg("g_len+8(FP)", cnt)
	e.movdArg("x_base+24(FP)", src)
	e.movdArg("y_base+48(FP)", py)
	e.max64Arg("m+72(FP)", mv)
	for _, a := range []struct {
		arg string
		v   vreg
	}{{"l+80(FP)", lv}, {"sa+88(FP)", av}, {"rs+96(FP)", rsv}} {
		e.dupArg64(a.arg, a.v)
	}
	e.exp64pConsts("softGradExp", tmp)
	e.veor(zero, zero, zero)
	e.veor(loss, loss, loss)
	e.walk("sg", cnt, []int{4}, []stream{{src, []vreg{x}}, {py, []vreg{y}}}, []stream{{dst, []vreg{out}}}, func() {
		e.veor(y, y, y)
	}, func(int) {
		for h := range 2 {
			if h == 0 {
				e.fcvtl(d, x)
				e.fcvtl(yh, y)
			} else {
				e.fcvtl2(d, x)
				e.fcvtl2(yh, y)
			}
			e.fsub(d2, d, d, mv)
			e.fsub(d2, t, lv, d) // the loss term y·(l − d) where y != 0
			e.fmul(d2, t, t, yh)
			e.fcmeq(d2, mask, yh, zero)
			e.bic(t, t, mask)
			e.fadd(d2, loss, loss, t)
			r := e.exp64p(d, z, p, q, lt)
			e.fmul(d2, r, r, av)
			e.fsub(d2, r, r, yh)
			e.fmul(d2, r, r, rsv)
			if h == 0 {
				e.fcvtn(out, r)
			} else {
				e.fcvtn2(out, r)
			}
		}
	}, nil)
	e.faddpD(loss, loss)
	e.fmovdRet(loss, "ret+104(FP)")
	e.ret()
}
