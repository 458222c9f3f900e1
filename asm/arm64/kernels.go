package main

import (
	"fmt"
	"math"

	"github.com/gosimd/softmax/asm/internal/expfit"
)

// The kernel descriptions: one function per kernel of the `neon` set (the
// contract is kernels[float32] in the root package's kernels.go). Every
// kernel walks its slices in blocks of 16 float32 (four vectors, several
// accumulators), then blocks of 4, then one element at a time in lane 0, so
// it never reads or writes outside the slices.

// stream is one slice a kernel walks: the register holding its pointer
// and the consecutive registers a block of it occupies (four for a block of
// 16 float32).
type stream struct {
	ptr  gpr
	regs []vreg
}

// walk emits the element loop over the count in cnt (destroyed): blocks of
// widths[0] elements while they last, then each smaller width (multiples
// of 4), then the last 1 to 3 elements as one partial vector, loaded and
// stored lane by lane, so nothing outside the slices is touched. For each
// block the inputs are loaded, compute(nv) works on nv vectors, the
// outputs are stored and after(nv) runs. For the partial vector nv is 1
// and fill, if not nil, first sets the inputs' registers to values whose
// unused lanes change nothing.
func (e *emitter) walk(pfx string, cnt gpr, widths []int, ins, outs []stream, fill func(), compute, after func(nv int)) {
	label := func(s string) string { return pfx + "_" + s }
	prev := 0
	for i, w := range widths {
		if w%4 != 0 {
			panic("walk: widths are multiples of 4")
		}
		next := label("tail")
		if i+1 < len(widths) {
			next = label(fmt.Sprintf("w%d", widths[i+1]))
		}
		if i > 0 {
			e.label(label(fmt.Sprintf("w%d", w)))
		}
		// cnt holds remaining − prev; make it remaining − w.
		if i == 0 {
			e.subsImm(cnt, cnt, w)
		} else {
			e.addsImm(cnt, cnt, prev-w)
		}
		e.blt(next)
		e.label(label(fmt.Sprintf("loop%d", w)))
		nv := w / 4
		for _, in := range ins {
			e.vld1p(s4, in.ptr, in.regs[:nv]...)
		}
		compute(nv)
		for _, out := range outs {
			e.vst1p(s4, out.ptr, out.regs[:nv]...)
		}
		if after != nil {
			after(nv)
		}
		e.subsImm(cnt, cnt, w)
		e.bge(label(fmt.Sprintf("loop%d", w)))
		prev = w
	}
	// The last 0..3 elements.
	e.label(label("tail"))
	e.addsImm(cnt, cnt, prev)
	e.beq(label("done"))
	if fill != nil {
		fill()
	}
	lanes := func(what string, f func(lane int)) {
		e.cmpImm(cnt, 2)
		e.blt(label(what + "1"))
		e.beq(label(what + "2"))
		for n := 3; n >= 1; n-- {
			if n < 3 {
				e.label(label(fmt.Sprintf("%s%d", what, n)))
			}
			for lane := range n {
				f(lane)
			}
			if n > 1 {
				e.b(label(what + "ed"))
			}
		}
		e.label(label(what + "ed"))
	}
	lanes("load", func(lane int) {
		for _, in := range ins {
			e.vld1LaneP(in.regs[0], lane, in.ptr)
		}
	})
	compute(1)
	if len(outs) > 0 {
		lanes("store", func(lane int) {
			for _, out := range outs {
				e.vst1LaneP(out.regs[0], lane, out.ptr)
			}
		})
	}
	if after != nil {
		after(1)
	}
	e.label(label("done"))
}

// vectors is how many vectors of 4 lanes a block of w elements occupies.
func vectors(w int) int { return (w + 3) / 4 }

// seq returns n consecutive registers starting at first.
func seq(first vreg, n int) []vreg {
	r := make([]vreg, n)
	for i := range r {
		r[i] = first + vreg(i)
	}
	return r
}

func f32(x float64) uint32 { return math.Float32bits(float32(x)) }
func f64(x float64) uint64 { return math.Float64bits(x) }

// Constants of exp for float32 lanes.
var (
	// splitMax32 are the constants of the split of m: 128, 2^16, 2^-16.
	splitMax32 = [3]float32{128, 0x1p16, 0x1p-16}

	// magic32 = 1.5·2^23 + 127: added to d·log2 e it rounds to an integer n
	// and leaves n + 127, the biased exponent of 2^n, in the low bits.
	magic32 = uint32(0x4b40007f)

	// ln2 in two parts: ln2Hi32 has 16 significant bits so n·ln2Hi32 is exact.
	ln2Hi32 = float32(0.693145751953125) // 0x3f317200
	ln2Lo32 = float32(math.Ln2 - 0.693145751953125)

	// expPoly32 are c1..c6 of p(t) = 1 + c1·t + … + c6·t^6 on
	// [−ln2/2, ln2/2], fitted to minimise the largest error in float32 ULPs
	// of exp(t) (which are half as large below 1 as above it): Lawson's
	// iteration on 3000 Chebyshev points, then the best float32 neighbours.
	// poly_test.go checks the bound, 0.13 ULP before the kernel's own
	// rounding. c0 = 1 exactly, so e = 1 exactly when x = m.
	//
	// Degree 6, not 5: Softmax divides a stored, rounded e by a sum of such
	// e, so one e's error and the opposite error of the others add up. With
	// degree 5 (1.13 ULP at best, 2.1 with the kernel's roundings) inputs
	// whose logits sit where the polynomial errs most in each direction
	// reach 5.3 ULP (kernels_arm64_test.go, TestNEONSoftmaxAdversarial);
	// degree 6 costs two instructions per vector and bounds it below 4.
	expPoly32 = [6]float32{
		0x1p+00,
		0x1.fffff8p-02,
		0x1.555436p-03,
		0x1.555946p-05,
		0x1.125f2ep-07,
		0x1.6a2cc4p-10,
	}
)

// Constants of exp for float64 lanes (expMulSub).
var (
	// magic64 = 1.5·2^52 + 1022: the low bits hold n + 1022, the biased
	// exponent of 2^(n−1); the polynomial computes 2·exp(t), so that n up to
	// 1024 (exp just below the float64 overflow) still scales exactly.
	magic64 = uint64(0x4338000000000000 + 1022)

	ln2Hi64 = 6.93147180369123816490e-01 // 32 significant bits
	ln2Lo64 = 1.90821492927058770002e-10

	// exp is 0 below expZero64, exactly where math.Exp on arm64 returns 0
	// for a float32 argument (its first nonzero result, 2^-1074, is at
	// −744.72772…; kernels_arm64_test.go checks the boundary against
	// math.Exp). Between it and expClamp64 the kernel computes exp(−708)
	// instead of a subnormal: e·s then cannot change a float32 dy (|s| is a
	// sum of float32 values, below 2^160) except through s = ±Inf, where
	// only e != 0 matters: it makes dx infinite, as in the generic kernel.
	// Above expOverflow64 math.Exp is +Inf, and so is e.
	expZero64     = float64(math.Float32frombits(0xc43a2e93))
	expClamp64    = -708.0
	expOverflow64 = 7.09782712893383973096e+02
)

// maxKernel: the largest element (NaN if any is NaN), −Inf for none.
func maxKernel(e *emitter) {
	e.text("maxNEON(x []float32) float32", 28)
	const src, cnt gpr = 1, 2
	x := seq(0, 4)
	acc := seq(4, 4)
	e.movdArg("x_base+0(FP)", src)
	e.movdArg("x_len+8(FP)", cnt)
	e.constants("maxInit", 3, acc[0], splat32(f32(math.Inf(-1))))
	for _, a := range acc[1:] {
		e.vmov(a, acc[0])
	}
	e.walk("max", cnt, []int{16, 4}, []stream{{src, x}}, nil, func() {
		e.vmov(x[0], acc[1]) // acc[1] is −Inf or an element: either is neutral
	}, func(nv int) {
		for i := range nv {
			e.fmax(s4, acc[i], acc[i], x[i])
		}
	}, nil)
	e.fmax(s4, acc[0], acc[0], acc[1])
	e.fmax(s4, acc[2], acc[2], acc[3])
	e.fmax(s4, acc[0], acc[0], acc[2])
	e.fmaxv(acc[0], acc[0])
	e.fmovsRet(acc[0], "ret+24(FP)")
	e.ret()
}

// expSumKernel: e = exp(x − m), stored when len(dst) != 0, and the sum of
// the e split into (rest, ones). See the contract in kernels.go.
func expSumKernel(e *emitter) {
	e.text("expSumNEON(dst, x []float32, m, t float32) (rest, ones float64)", 72)
	const dst, src, cnt, dlen, tmp gpr = 0, 1, 2, 3, 4
	var (
		x = seq(0, 4)  // x, then the below-cutoff mask, then the e == 1 mask
		z = seq(4, 4)  // z = magic + d·log2 e, then 2^n, then e
		s = seq(8, 4)  // d = fl(x − m), then the reduced argument t
		b = seq(12, 4) // TwoDiff temporaries, lo, polynomial
		p = seq(16, 4) // TwoDiff temporaries, n, polynomial

		mh, cut, magic, one, ml vreg = 20, 21, 22, 23, 24
		k                       vreg = 29 // {log2 e, ln2 hi, ln2 lo, c6}
		count                   vreg = 30 // number of e == 1 per lane, int32
		sum                     vreg = 31 // float64 sum of the other e
	)
	// c(j) holds c_j of the polynomial: c1 = 1 is one, c2..c5 V25..V28.
	if expPoly32[0] != 1 {
		panic("c1 no longer shares the register of 1")
	}
	c := func(j int) vreg {
		if j == 1 {
			return one
		}
		return 23 + vreg(j)
	}
	e.movdArg("dst_base+0(FP)", dst)
	e.movdArg("dst_len+8(FP)", dlen)
	e.movdArg("x_base+24(FP)", src)
	e.movdArg("x_len+32(FP)", cnt)
	// Split m = mh + ml with mh a multiple of 2^-16 (for |m| >= 128, m is
	// one already: mh = m, ml = 0), so that x − m is exactly s + lo − ml
	// with s = fl(x − mh), lo = x − fl(s + mh) (Fast2Sum: mh is a multiple
	// of the ULP of every x with x − m above the cutoff, |x| < 256). Three
	// instructions instead of TwoDiff's six; split_test.go proves the
	// identity with exact arithmetic.
	e.fmovsArg("m+48(FP)", mh)
	e.constants("splitMax", tmp, 1, splat32(math.Float32bits(splitMax32[0])), splat32(math.Float32bits(splitMax32[1])), splat32(math.Float32bits(splitMax32[2])))
	e.fabss(4, mh)
	e.fcmps(4, 1)
	e.bge("big")
	e.fmuls(5, mh, 2)
	e.frintzs(5, 5)
	e.fmuls(5, 5, 3)
	e.b("split")
	e.label("big")
	e.fmovs(5, mh)
	e.label("split")
	e.fsubs(6, mh, 5)
	e.vdupLane0(s4, mh, 5)
	e.vdupLane0(s4, ml, 6)
	// cut: the threshold t (below it x − m < ln 2^-126: e = 0, as on the
	// other sets, which compare the same exact x − m), magic, one, ml
	// (filled above), c2..c5, k: V21..V29.
	e.fmovsArg("t+52(FP)", 7)
	e.vdupLane0(s4, cut, 7)
	consts := []vec128{splat32(magic32), splat32(f32(1))}
	e.constants("expSumConsts", tmp, magic, consts...)
	var poly []vec128
	for j := 2; j <= 5; j++ {
		poly = append(poly, splat32(math.Float32bits(expPoly32[j-1])))
	}
	poly = append(poly, pack32([4]uint32{f32(math.Log2E), math.Float32bits(ln2Hi32), math.Float32bits(ln2Lo32), math.Float32bits(expPoly32[5])}))
	e.constants("expSumPoly", tmp, c(2), poly...)
	e.veor(count, count, count)
	e.veor(sum, sum, sum)

	variant := func(pfx string, store bool) {
		var outs []stream
		if store {
			outs = []stream{{dst, z}}
		}
		var nv int
		each := func(f func(i int)) {
			for i := range nv {
				f(i)
			}
		}
		// In the partial vector the unused lanes hold −Inf: their e is 0.
		fill := func() { e.dup32(x[0], f32(math.Inf(-1)), tmp) }
		e.walk(pfx, cnt, []int{16, 4}, []stream{{src, x}}, outs, fill, func(n int) {
			nv = n
			// Fast2Sum: s + lo = x − mh exactly; b = lo − ml, so that
			// x − m = s + b up to b's rounding (below 2^-40).
			each(func(i int) { e.fsub(s4, s[i], x[i], mh) })
			each(func(i int) { e.fadd(s4, p[i], s[i], mh) })
			each(func(i int) { e.fsub(s4, b[i], x[i], p[i]) })
			each(func(i int) { e.fsub(s4, b[i], b[i], ml) })
			// x below t (also x = −Inf): e = 0. The compare is false for
			// NaN, so a NaN x keeps its NaN e.
			each(func(i int) { e.fcmgt(s4, x[i], cut, x[i]) })
			// n = round(d·log2 e) by the magic bias; t = (d − n·ln2 hi) +
			// (lo − n·ln2 lo): the first part is exact, the second tiny, so
			// t is rounded once.
			each(func(i int) { e.vmov(z[i], magic) })
			each(func(i int) { e.fmlaElem(s4, z[i], s[i], k, 0) })
			each(func(i int) { e.fsub(s4, p[i], z[i], magic) })
			each(func(i int) { e.fmlsElem(s4, s[i], p[i], k, 1) })
			each(func(i int) { e.fmlsElem(s4, b[i], p[i], k, 2) })
			each(func(i int) { e.fadd(s4, s[i], s[i], b[i]) })
			// q = c1 + t·(c2 + … + t·c6), Horner with FMA, in p or b.
			each(func(i int) { e.vmov(p[i], c(5)) })
			each(func(i int) { e.fmlaElem(s4, p[i], s[i], k, 3) })
			cur, next := p, b
			for j := 3; j >= 0; j-- {
				each(func(i int) { e.vmov(next[i], c(j+1)) })
				each(func(i int) { e.vfmla(s4, next[i], cur[i], s[i]) })
				cur, next = next, cur
			}
			// e = 2^n·(1 + t·q) = 2^n + (t·2^n)·q, 2^n from the exponent bits.
			each(func(i int) { e.vshl(s4, z[i], z[i], 23) })
			each(func(i int) { e.fmul(s4, next[i], s[i], z[i]) })
			each(func(i int) { e.vfmla(s4, z[i], next[i], cur[i]) })
			each(func(i int) { e.bic(z[i], z[i], x[i]) })
		}, func(n int) {
			nv = n
			// Count the e == 1 apart; sum the others.
			each(func(i int) { e.fcmeq(s4, x[i], z[i], one) })
			each(func(i int) { e.vsub(s4, count, count, x[i]) })
			each(func(i int) { e.bic(z[i], z[i], x[i]) })
			// Widen every e to float64 and add them up in a tree, so the
			// only float32 rounding is e's own.
			each(func(i int) { e.fcvtl(b[i], z[i]) })
			each(func(i int) { e.fcvtl2(p[i], z[i]) })
			each(func(i int) { e.fadd(d2, b[i], b[i], p[i]) })
			for span := 1; span < nv; span *= 2 {
				for i := 0; i+span < nv; i += 2 * span {
					e.fadd(d2, b[i], b[i], b[i+span])
				}
			}
			e.fadd(d2, sum, sum, b[0])
		})
	}
	e.cbz(dlen, "nostore")
	variant("store", true)
	e.b("reduce")
	e.label("nostore")
	variant("nostore", false)
	e.label("reduce")
	e.faddpD(sum, sum)
	e.fmovdRet(sum, "rest+56(FP)")
	e.vaddv(count, count)
	e.vumovS(tmp, count, 0)
	e.scvtfd(x[0], tmp)
	e.fmovdRet(x[0], "ones+64(FP)")
	e.ret()
}

// sumKernel: Σ x in float64 (every element widened, four accumulators),
// compensated as generic's sum: each accumulator carries the rounding
// errors of its additions (twoSum, renormalized after its last add of a
// step: lastAdd) in a second register, so the error does not grow with
// cancellation.
func sumKernel(e *emitter) {
	e.text("sumNEON(x []float32) float64", 32)
	const src, cnt gpr = 1, 2
	x := seq(0, 4)
	wide := seq(8, 8)
	acc := seq(16, 4)
	comp := seq(20, 4)
	tmp := seq(24, 4)
	e.movdArg("x_base+0(FP)", src)
	e.movdArg("x_len+8(FP)", cnt)
	for i := range acc {
		e.veor(acc[i], acc[i], acc[i])
		e.veor(comp[i], comp[i], comp[i])
	}
	e.walk("sum", cnt, []int{16, 4}, []stream{{src, x}}, nil, func() {
		e.veor(x[0], x[0], x[0])
	}, func(nv int) {
		for i := range nv {
			e.fcvtl(wide[2*i], x[i])
			e.fcvtl2(wide[2*i+1], x[i])
		}
		for j := range 2 * nv {
			e.twoSum(acc[j%4], comp[j%4], wide[j], tmp)
			if lastAdd(j, nv) {
				e.renorm(acc[j%4], comp[j%4], tmp)
			}
		}
	}, nil)
	e.retSum(acc, comp, tmp, "ret+24(FP)")
}

// retSum ends a sum kernel (float32 and float64 alike): the four
// compensated sums acc + comp reduced (reduceComp) and s + c returned in
// ret, or s where s is ±Inf or NaN (s − s is not 0), as generic's addComp
// stops compensating there.
func (e *emitter) retSum(acc, comp, tmp []vreg, ret string) {
	s0, c0 := e.reduceComp(acc, comp, tmp)
	hi, r := acc[1], acc[2]
	e.faddd(r, s0, c0)
	e.fsubd(hi, s0, s0)
	e.op("FCMPD", "$(0.0)", hi.f())
	e.op("FCSELD", "EQ", r.f(), s0.f(), r.f())
	e.fmovdRet(r, ret)
	e.ret()
}

// reduceComp adds the four compensated sums acc + comp (two float64 lanes
// each) to one pair s + c in the low lanes of the registers it returns:
// the c's plainly, the s's with twoSum (lane 0 of s + dup of lane 1). It
// uses tmp[0..3] and acc[1].
func (e *emitter) reduceComp(acc, comp, tmp []vreg) (s, c vreg) {
	for _, p := range [][2]int{{0, 1}, {2, 3}, {0, 2}} {
		e.fadd(d2, comp[p[0]], comp[p[0]], comp[p[1]])
		e.twoSum(acc[p[0]], comp[p[0]], acc[p[1]], tmp)
	}
	s, c, hi := acc[0], tmp[3], acc[1]
	e.faddpD(c, comp[0])
	e.op("VDUP", fmt.Sprintf("V%d.D[1]", s), fmt.Sprintf("V%d.D2", hi))
	e.twoSum(s, c, hi, tmp[:3])
	return s, c
}

// twoSum adds v to the compensated sum s + c (float64 lanes): s takes the
// rounded s + v, c the rounding error (exact by Knuth's TwoSum). It uses
// tmp[0..2].
func (e *emitter) twoSum(s, c, v vreg, tmp []vreg) {
	t, bp, er := tmp[0], tmp[1], tmp[2]
	e.fadd(d2, t, s, v)   // t = s + v
	e.fsub(d2, bp, t, s)  // bp = t − s
	e.fsub(d2, er, t, bp) // t − bp
	e.fsub(d2, er, s, er) // s − (t − bp)
	e.fsub(d2, bp, v, bp) // v − bp
	e.fadd(d2, er, er, bp)
	e.fadd(d2, c, c, er)
	e.fadd(d2, s, s, v) // t again: s + v rounds the same way, and needs no move
}

// lastAdd reports whether the j-th of the 2·nv float64 vectors of a step
// is its accumulator's last add of the step (acc[j%4]), after which sum
// and dot renormalize it: every second add in the 16-element steps, every
// add in the others. Renormalizing after every add put renorm's dependent
// operations on the loop's critical path (amd64: renormEvery); between
// renorms c grows to 3·2^-53 of |s|, and the bound on its roundings from
// 2 to 2.5·2^-106 of |s| per add, inside doc.go's n·2^-104.
func lastAdd(j, nv int) bool { return nv < 4 || j >= 2*nv-4 }

// renorm makes the pair s + c normalized again (Fast2Sum: s + z is the
// rounded sum, c − z its error), so that c stays within half an ULP of s:
// twoSum's c, never folded in, grows with n, and its own roundings then
// lose up to n²·2^-106 of the terms (softmax_generic.go's addComp). Where
// s is ±Inf or c NaN, z is NaN and is not applied (s keeps its infinity).
// It uses tmp[0..1].
func (e *emitter) renorm(s, c vreg, tmp []vreg) {
	z, ok := tmp[0], tmp[1]
	e.fadd(d2, z, s, c)   // t = s + c
	e.fsub(d2, z, z, s)   // z = t − s
	e.fcmeq(d2, ok, z, z) // z ordered
	e.vand(z, z, ok)
	e.fadd(d2, s, s, z)
	e.fsub(d2, c, c, z)
}

// dotKernel: Σ a·b as the pair s + c: the float64 products of float32
// values are exact, added with twoSum as sumKernel adds (an infinite
// product leaves a NaN in c, as in the generic dot).
func dotKernel(e *emitter) {
	e.text("dotNEON(a, b []float32) (s, c float64)", 64)
	const pa, cnt, pb gpr = 1, 2, 3
	x := seq(0, 4)
	y := seq(4, 4)
	xw := seq(8, 8)
	acc := seq(16, 4)
	yw := seq(20, 8)
	comp := seq(28, 4)
	tmp := []vreg{4, 5, 6, 7} // y's registers, free once y is widened
	e.movdArg("a_base+0(FP)", pa)
	e.movdArg("a_len+8(FP)", cnt)
	e.movdArg("b_base+24(FP)", pb)
	for i := range acc {
		e.veor(acc[i], acc[i], acc[i])
		e.veor(comp[i], comp[i], comp[i])
	}
	e.walk("dot", cnt, []int{16, 4}, []stream{{pa, x}, {pb, y}}, nil, func() {
		e.veor(x[0], x[0], x[0])
		e.veor(y[0], y[0], y[0])
	}, func(nv int) {
		for i := range nv {
			e.fcvtl(xw[2*i], x[i])
			e.fcvtl2(xw[2*i+1], x[i])
			e.fcvtl(yw[2*i], y[i])
			e.fcvtl2(yw[2*i+1], y[i])
		}
		for j := range 2 * nv {
			e.fmul(d2, xw[j], xw[j], yw[j]) // exact
			e.twoSum(acc[j%4], comp[j%4], xw[j], tmp)
			if lastAdd(j, nv) {
				e.renorm(acc[j%4], comp[j%4], tmp)
			}
		}
	}, nil)
	s, c := e.reduceComp(acc, comp, tmp)
	e.fmovdRet(s, "s+48(FP)")
	e.fmovdRet(c, "c+56(FP)")
	e.ret()
}

// mapKernel emits an elementwise kernel dst[i] = f(src[i]...): the
// inputs are the streams in, the result is stored from out; compute(nv)
// emits the work for nv loaded vectors.
func (e *emitter) mapKernel(pfx string, cnt gpr, widths []int, in []stream, out stream, compute func(nv int)) {
	e.walk(pfx, cnt, widths, in, []stream{out}, nil, compute, nil)
}

// divKernel: dst = x·(1/s), the reciprocal and the product in float64.
func divKernel(e *emitter) {
	e.text("divNEON(dst, x []float32, s float64)", 56)
	const dst, src, cnt gpr = 0, 1, 2
	x, out, lo, hi := seq(0, 4), seq(4, 4), seq(8, 4), seq(12, 4)
	const r, one vreg = 30, 31
	e.movdArg("dst_base+0(FP)", dst)
	e.movdArg("x_base+24(FP)", src)
	e.movdArg("x_len+32(FP)", cnt)
	e.fmovdArg("s+48(FP)", r)
	e.fmovdConst(one, 1)
	e.fdivd(r, one, r)
	e.vdupLane0(d2, r, r)
	e.mapKernel("div", cnt, []int{16, 4}, []stream{{src, x}}, stream{dst, out}, func(nv int) {
		for i := range nv {
			e.fcvtl(lo[i], x[i])
			e.fcvtl2(hi[i], x[i])
		}
		for i := range nv {
			e.fmul(d2, lo[i], lo[i], r)
			e.fmul(d2, hi[i], hi[i], r)
		}
		for i := range nv {
			e.fcvtn(out[i], lo[i])
			e.fcvtn2(out[i], hi[i])
		}
	})
	e.ret()
}

// subKernel: dst = (x − m) − l in float64 (x − m is exact there).
func subKernel(e *emitter) {
	e.text("subNEON(dst, x []float32, m float32, l float64)", 64)
	const dst, src, cnt gpr = 0, 1, 2
	x, out, lo, hi := seq(0, 4), seq(4, 4), seq(8, 4), seq(12, 4)
	const m, l vreg = 30, 31
	e.movdArg("dst_base+0(FP)", dst)
	e.movdArg("x_base+24(FP)", src)
	e.movdArg("x_len+32(FP)", cnt)
	e.max64Arg("m+48(FP)", m)
	e.dupArg64("l+56(FP)", l)
	e.mapKernel("sub", cnt, []int{16, 4}, []stream{{src, x}}, stream{dst, out}, func(nv int) {
		for i := range nv {
			e.fcvtl(lo[i], x[i])
			e.fcvtl2(hi[i], x[i])
		}
		for i := range nv {
			e.fsub(d2, lo[i], lo[i], m)
			e.fsub(d2, hi[i], hi[i], m)
		}
		for i := range nv {
			e.fsub(d2, lo[i], lo[i], l)
			e.fsub(d2, hi[i], hi[i], l)
		}
		for i := range nv {
			e.fcvtn(out[i], lo[i])
			e.fcvtn2(out[i], hi[i])
		}
	})
	e.ret()
}

// mulSubKernel: dx = p·((dy − s) − c) in float64, s + c being dot's pair.
func mulSubKernel(e *emitter) {
	e.text("mulSubNEON(dx, p, dy []float32, s, c float64)", 88)
	const dst, pp, cnt, py gpr = 0, 1, 2, 3
	p, y, out := seq(0, 4), seq(4, 4), seq(8, 4)
	plo, phi, ylo, yhi := seq(12, 4), seq(16, 4), seq(20, 4), seq(24, 4)
	const s, c vreg = 31, 30
	e.movdArg("dx_base+0(FP)", dst)
	e.movdArg("dx_len+8(FP)", cnt)
	e.movdArg("p_base+24(FP)", pp)
	e.movdArg("dy_base+48(FP)", py)
	e.dupArg64("s+72(FP)", s)
	e.dupArg64("c+80(FP)", c)
	e.mapKernel("mulsub", cnt, []int{16, 4}, []stream{{pp, p}, {py, y}}, stream{dst, out}, func(nv int) {
		for i := range nv {
			e.fcvtl(plo[i], p[i])
			e.fcvtl2(phi[i], p[i])
			e.fcvtl(ylo[i], y[i])
			e.fcvtl2(yhi[i], y[i])
		}
		for i := range nv {
			e.fsub(d2, ylo[i], ylo[i], s)
			e.fsub(d2, yhi[i], yhi[i], s)
		}
		for i := range nv {
			e.fsub(d2, ylo[i], ylo[i], c)
			e.fsub(d2, yhi[i], yhi[i], c)
		}
		for i := range nv {
			e.fmul(d2, plo[i], plo[i], ylo[i])
			e.fmul(d2, phi[i], phi[i], yhi[i])
		}
		for i := range nv {
			e.fcvtn(out[i], plo[i])
			e.fcvtn2(out[i], phi[i])
		}
	})
	e.ret()
}

// expMulSubKernel: dx = dy − exp(logp)·s with exp evaluated in float64
// (about 2^-49 relative), so that dy − e·s may cancel many bits and still
// round right, and with the generic kernel's ±Inf, NaN and 0.
func expMulSubKernel(e *emitter) {
	e.text("expMulSubNEON(dx, logp, dy []float32, s float64)", 80)
	const dst, pl, cnt, py, tmp gpr = 0, 1, 2, 3, 4
	const x, y, out vreg = 0, 1, 2
	var (
		t  = seq(3, 2)  // d, then the reduced argument t
		lt = seq(5, 2)  // d < expZero64, then dy in float64 and dx
		gt = seq(7, 2)  // d > expOverflow64
		z  = seq(9, 2)  // magic + d·log2 e, then 2^(n−1)
		p  = seq(11, 2) // n, then the polynomial
		q  = seq(13, 2) // the polynomial, then e

		magic, zero, ovf, inf, s vreg = 15, 16, 17, 18, 19
		k1, k2                   vreg = 20, 21 // {log2 e, ln2 hi}, {ln2 lo, c10}
		clamp                    vreg = 22
	)
	// c(j) holds the coefficient of t^j, 2/j!, j = 0..9: c0 = c1 = 2
	// share V23, c2..c9 are V24..V31.
	c := func(j int) vreg { return 22 + vreg(max(j, 1)) }
	poly := expfit.Coeffs(10)
	e.movdArg("dx_base+0(FP)", dst)
	e.movdArg("dx_len+8(FP)", cnt)
	e.movdArg("logp_base+24(FP)", pl)
	e.movdArg("dy_base+48(FP)", py)
	e.dupArg64("s+72(FP)", s)
	// magic, zero, ovf, inf: V15..V18; k1, k2, clamp, c1..c9: V20..V31.
	e.constants("expMulSubLimits", tmp, magic, splat64(magic64), splat64(f64(expZero64)), splat64(f64(expOverflow64)), splat64(f64(math.Inf(1))))
	consts := []vec128{pack64([2]uint64{f64(math.Log2E), f64(ln2Hi64)}), pack64([2]uint64{f64(ln2Lo64), f64(poly[10])}), splat64(f64(expClamp64))}
	for j := 1; j <= 9; j++ {
		consts = append(consts, splat64(f64(poly[j])))
	}
	if poly[0] != poly[1] {
		panic("c0 and c1 no longer share a register")
	}
	e.constants("expMulSubPoly", tmp, k1, consts...)
	e.mapKernel("expmulsub", cnt, []int{4}, []stream{{pl, []vreg{x}}, {py, []vreg{y}}}, stream{dst, []vreg{out}}, func(int) {
		e.fcvtl(t[0], x)
		e.fcvtl2(t[1], x)
		for h := range 2 {
			e.fcmgt(d2, lt[h], zero, t[h])
			e.fcmgt(d2, gt[h], t[h], ovf)
			e.fmax(d2, t[h], t[h], clamp) // NaN stays NaN
		}
		for h := range 2 {
			e.vmov(z[h], magic)
			e.fmlaElem(d2, z[h], t[h], k1, 0)
		}
		for h := range 2 {
			e.fsub(d2, p[h], z[h], magic)
		}
		for h := range 2 {
			e.fmlsElem(d2, t[h], p[h], k1, 1)
			e.fmlsElem(d2, t[h], p[h], k2, 0)
		}
		for h := range 2 {
			e.vmov(p[h], c(9))
			e.fmlaElem(d2, p[h], t[h], k2, 1)
		}
		cur, next := p, q
		for j := 8; j >= 0; j-- {
			for h := range 2 {
				e.vmov(next[h], c(j))
				e.vfmla(d2, next[h], cur[h], t[h])
			}
			cur, next = next, cur
		}
		// cur is q: 2·exp(t); e = 2·exp(t)·2^(n−1), then the limits.
		for h := range 2 {
			e.vshl(d2, z[h], z[h], 52)
			e.fmul(d2, q[h], q[h], z[h])
			e.bic(q[h], q[h], lt[h])
			e.vbit(q[h], inf, gt[h])
		}
		e.fcvtl(lt[0], y)
		e.fcvtl2(lt[1], y)
		for h := range 2 {
			e.vfmls(d2, lt[h], q[h], s)
		}
		e.fcvtn(out, lt[0])
		e.fcvtn2(out, lt[1])
	})
	e.ret()
}
