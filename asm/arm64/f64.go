package main

import (
	"fmt"
	"math"

	"github.com/gosimd/softmax/asm/internal/expfit"
)

// The float64 kernels: maxMin, the exp passes with their compensated sums,
// the division and the subtraction, SoftmaxBackward's dot and update,
// LogSoftmaxBackward's update and the soft-target gradient's pass (the
// root package's f64 sets). They
// walk float64 slices as pairs of float32 lanes, so walk's blocks and its
// lane-by-lane tail serve them unchanged: the count is in 4-byte units
// (two per float64), and the tail is one float64, lanes S[0] and S[1].

// dwordCount loads the length of the float64 slice arg into r, in 4-byte
// units.
func (e *emitter) dwordCount(arg string, r gpr) {
	e.movdArg(arg, r)
	e.op("LSL", "$1", r.String(), r.String())
}

// maxMin64Kernel: the largest and the smallest element (−Inf and +Inf
// when empty; a NaN may be returned by either, as FMAX and FMIN give it).
// The first element fills the tail's unused lane: neutral for both.
func maxMin64Kernel(e *emitter) {
	e.text("maxMin64NEON(x []float64) (max, min float64)", 40)
	const src, cnt, tmp gpr = 1, 2, 3
	x := seq(0, 4)
	hi, lo := seq(4, 4), seq(8, 4)
	const first, ninf, pinf, t vreg = 12, 13, 14, 15
	e.movdArg("x_base+0(FP)", src)
	e.dwordCount("x_len+8(FP)", cnt)
	e.constants("maxMin64Init", tmp, ninf, splat64(f64(math.Inf(-1))), splat64(f64(math.Inf(1))))
	e.vmov(hi[0], ninf)
	e.vmov(lo[0], pinf)
	e.cbz(cnt, "mm64_ret")
	e.op("FMOVD", fmt.Sprintf("(%s)", src), first.f())
	e.vdupLane0(d2, first, first)
	for i := range hi {
		e.vmov(hi[i], first)
		e.vmov(lo[i], first)
	}
	e.walk("mm64", cnt, []int{16, 4}, []stream{{src, x}}, nil, func() {
		e.vmov(x[0], first)
	}, func(nv int) {
		for i := range nv {
			e.fmax(d2, hi[i], hi[i], x[i])
			e.fmin(d2, lo[i], lo[i], x[i])
		}
	}, nil)
	e.fmax(d2, hi[0], hi[0], hi[1])
	e.fmax(d2, hi[2], hi[2], hi[3])
	e.fmax(d2, hi[0], hi[0], hi[2])
	e.fmin(d2, lo[0], lo[0], lo[1])
	e.fmin(d2, lo[2], lo[2], lo[3])
	e.fmin(d2, lo[0], lo[0], lo[2])
	e.op("VDUP", fmt.Sprintf("V%d.D[1]", hi[0]), fmt.Sprintf("V%d.D2", t))
	e.fmax(d2, hi[0], hi[0], t)
	e.op("VDUP", fmt.Sprintf("V%d.D[1]", lo[0]), fmt.Sprintf("V%d.D2", t))
	e.fmin(d2, lo[0], lo[0], t)
	e.label("mm64_ret")
	e.fmovdRet(hi[0], "max+24(FP)")
	e.fmovdRet(lo[0], "min+32(FP)")
	e.ret()
}

// expSumTotal64Kernel stores e = exp(x − m) for float64 Softmax and
// returns their total as the pair s + c, as asm/amd64/f64.go's kernel
// does: hi + lo = x − m (TwoDiff), r = hi − n·Ln2Hi42 exact, rl = lo −
// n·Ln2Lo42 (expfit), e^(r+rl) = 1 + r + w with w = rl·e^r + r²·P(r), P Taylor's to
// r^13 by Estrin, 1 + r by Fast2Sum, so e is rounded once but for about
// 2^-56; 2^(n+200) by an integer add to the exponent, then 2^-200 by a
// multiply (subnormal results round as math.Exp's). 0 where x − m <
// −745.13 (−Inf too); NaN stays NaN. The tail's unused lane reads −Inf.
func expSumTotal64Kernel(e *emitter) {
	e.text("expSumTotal64NEON(dst, x []float64, m float64) (s, c float64)", 72)
	const dst, src, cnt, tmp gpr = 0, 1, 2, 4
	const x, ev, hi, lo, t1, t2, t3, k, nf, r, r2, r4, s, c, ninf, mv vreg = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
	const magic, k1, k2, one, expLo, scale, c13, c57, c911, add0 vreg = 16, 17, 18, 19, 20, 21, 22, 23, 24, 25
	e.movdArg("dst_base+0(FP)", dst)
	e.movdArg("x_base+24(FP)", src)
	e.dwordCount("x_len+32(FP)", cnt)
	e.dupArg64("m+48(FP)", mv)
	vals := exp64Consts(0)
	for j := 0; j <= 10; j += 2 {
		vals = append(vals, splat64(taylorCoef(j))) // V25..V30: c0, c2, …, c10
	}
	e.constants("expSumTotal64", tmp, magic, vals...)
	e.constants("expSumTotal64Inf", tmp, ninf, splat64(f64(math.Inf(-1))))
	e.veor(s, s, s)
	e.veor(c, c, c)
	pair := func(j int, v vreg) { // c_j + c_j+1·r
		e.vmov(v, add0+vreg(j/2))
		e.fmlaElem(d2, v, r, c13+vreg(j/4), (j/2)%2)
	}
	regs := expRegs{x, hi, lo, t1, t2, t3, k, nf, r, r2, r4, mv, magic, k1, k2, one}
	e.walk("est64", cnt, []int{4}, []stream{{src, []vreg{x}}}, []stream{{dst, []vreg{ev}}}, func() {
		e.vmov(x, ninf)
	}, func(int) {
		e.exp64Core(regs, pair)
		e.fadd(d2, ev, t3, lo) // e, rounded once
		e.vshl(d2, k, k, 52)
		e.vadd(d2, ev, ev, k) // ·2^(n+200)
		e.fmul(d2, ev, ev, scale)
		e.fcmgt(d2, t1, expLo, hi) // hi < −745.13 (ordered)
		e.bic(ev, ev, t1)
		e.fcmeq(d2, t1, hi, hi) // hi ordered; else e = hi, a NaN
		e.vbif(ev, hi, t1)
		e.twoSum(s, c, ev, []vreg{t1, t2, t3})
	}, nil)
	e.faddpD(c, c)
	e.op("VDUP", fmt.Sprintf("V%d.D[1]", s), fmt.Sprintf("V%d.D2", t2))
	e.twoSum(s, c, t2, []vreg{t1, t3, k})
	e.fmovdRet(s, "s+56(FP)")
	e.fmovdRet(c, "c+64(FP)")
	e.ret()
}

// expSum64Kernel is the float64 contract's expSum, as asm/amd64/f64.go's
// expSum64: e stored when store; ones counts the e equal to 1; s + c sums
// the other terms at or above e^-708.3, each e's rounding error (Fast2Sum
// of the last add, scaled) joining c; ts + tc sums the terms in
// [e^-790, e^-708.3) scaled by 2^1100 (only for vectors with such a lane).
// The exp is expSumTotal64Kernel's, but for Estrin's addends, loaded
// (LD1R) each step to leave registers for the sums.
func expSum64Kernel(store bool) func(*emitter) {
	return func(e *emitter) {
		name, args, argSize, ret := "expSumNoStore64NEON(x []float64, m float64) (s, c, ts, tc, ones float64)", 0, 72, 32
		if store {
			name, args, argSize, ret = "expSum64NEON(dst, x []float64, m float64) (s, c, ts, tc, ones float64)", 24, 96, 56
		}
		e.text(name, argSize)
		const dst, src, cnt, tmp, addPtr, addBase, f0, f1 gpr = 0, 1, 2, 4, 5, 6, 7, 8
		const x, ev, hi, lo, t1, t2, t3, k, nf, r, r2, r4, s, c, ones, mv vreg = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
		const magic, k1, k2, one, expLo, scale, c13, c57, c911, tinyHi, tinyLo vreg = 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26
		const ts, tc, el, pow, msk vreg = 27, 28, 29, 30, 31
		pfx := map[bool]string{true: "es64", false: "esn64"}[store]
		if store {
			e.movdArg("dst_base+0(FP)", dst)
		}
		e.movdArg(fmt.Sprintf("x_base+%d(FP)", args), src)
		e.dwordCount(fmt.Sprintf("x_len+%d(FP)", args+8), cnt)
		e.dupArg64(fmt.Sprintf("m+%d(FP)", args+24), mv)
		e.constants(pfx+"Exp", tmp, magic, exp64Consts(f64(0x1p900), splat64(f64(tinyHi64)), splat64(f64(tinyLo64)))...)
		pair := e.loadedAddends("·"+pfx+"Add<>", addBase, addPtr, r, c13)
		for _, v := range []vreg{s, c, ones, ts, tc} {
			e.veor(v, v, v)
		}
		regs := expRegs{x, hi, lo, t1, t2, t3, k, nf, r, r2, r4, mv, magic, k1, k2, one}
		skips := 0
		var outs []stream
		if store {
			outs = []stream{{dst, []vreg{ev}}}
		}
		e.walk(pfx, cnt, []int{4}, []stream{{src, []vreg{x}}}, outs, func() {
			e.constants(pfx+"Inf", tmp, x, splat64(f64(math.Inf(-1))))
		}, func(int) {
			e.op("MOVD", addBase.String(), addPtr.String())
			e.exp64Core(regs, pair)
			e.fadd(d2, ev, t3, lo) // e, rounded once
			e.fsub(d2, el, ev, t3) // its error: lo − (e − eh)
			e.fsub(d2, el, lo, el)
			e.vshl(d2, pow, k, 52)
			e.vadd(d2, pow, pow, one)                      // 2^(n+200)
			e.fcmgt(d2, msk, tinyHi, hi)                   // hi < −708.3 (ordered)
			e.fcmgt(d2, t1, tinyLo, hi)                    // hi < −790
			e.bic(t1, msk, t1)                             // in [−790, −708.3)
			skip := fmt.Sprintf("%s_notiny%d", pfx, skips) // compute runs twice: the loop and the tail
			skips++
			e.lanesTo(t1, f0, f1, "ORR")
			e.cbz(f0, skip)
			e.fmul(d2, t2, ev, pow)
			e.veor(r, r, r)
			e.fmlaElem(d2, r, t2, k2, 1) // e·2^(n+1100), exact
			e.vand(r, r, t1)
			e.twoSum(ts, tc, r, []vreg{t2, t3, nf})
			e.label(skip)
			e.fmul(d2, ev, ev, pow)
			e.fmul(d2, ev, ev, scale) // e·2^n, subnormals rounded once
			e.fmul(d2, el, el, pow)
			e.fmul(d2, el, el, scale)
			e.fcmgt(d2, t2, expLo, hi) // hi < −745.13 (ordered)
			e.bic(ev, ev, t2)
			e.fcmeq(d2, t2, hi, hi) // hi ordered; else e = hi, a NaN
			e.vbif(ev, hi, t2)
			e.fcmeq(d2, t2, ev, one) // e == 1
			e.vand(t3, t2, one)
			e.fadd(d2, ones, ones, t3)
			e.op("VORR", t2.b16(), msk.b16(), msk.b16()) // the lanes s + c leave out
			e.bic(t3, ev, msk)
			e.bic(el, el, msk)
			e.twoSum(s, c, t3, []vreg{t2, r, r2})
			e.fadd(d2, c, c, el)
		}, nil)
		for _, p := range [][2]vreg{{s, c}, {ts, tc}} {
			e.faddpD(p[1], p[1])
			e.op("VDUP", fmt.Sprintf("V%d.D[1]", p[0]), fmt.Sprintf("V%d.D2", t2))
			e.twoSum(p[0], p[1], t2, []vreg{t1, t3, k})
		}
		e.faddpD(ones, ones)
		for i, v := range []vreg{s, c, ts, tc, ones} {
			e.fmovdRet(v, fmt.Sprintf("%s+%d(FP)", []string{"s", "c", "ts", "tc", "ones"}[i], ret+8*i))
		}
		e.ret()
	}
}

// tinyHi64 and tinyLo64 are generic's tinyHi and tinyLo: between them the
// terms are summed scaled.
const (
	tinyHi64 = -708.3
	tinyLo64 = -790.0
)

// sub64Kernel: dst = (x − m) − l as generic's sub64 forms it: hi + lo =
// x − m (TwoDiff), (hi − l) + lo, or hi − l where lo is NaN.
func sub64Kernel(e *emitter) {
	e.text("sub64NEON(dst, x []float64, m, l float64)", 64)
	const dst, src, cnt gpr = 0, 1, 2
	x, out := seq(0, 4), seq(4, 4)
	const hi, lo, t1, t2, t3, mv, lv vreg = 8, 9, 10, 11, 12, 13, 14
	e.movdArg("dst_base+0(FP)", dst)
	e.movdArg("x_base+24(FP)", src)
	e.dwordCount("x_len+32(FP)", cnt)
	e.dupArg64("m+48(FP)", mv)
	e.dupArg64("l+56(FP)", lv)
	e.mapKernel("sub64", cnt, []int{16, 4}, []stream{{src, x}}, stream{dst, out}, func(nv int) {
		for i := range nv {
			e.twoDiff64(hi, lo, x[i], mv, t1, t2, t3)
			e.fsub(d2, hi, hi, lv) // hi − l
			e.fadd(d2, out[i], hi, lo)
			e.fcmeq(d2, t1, lo, lo)
			e.vbif(out[i], hi, t1) // lo NaN: hi − l
		}
	})
	e.ret()
}

// twoDiff64 sets hi = fl(x − m) and lo, hi + lo = x − m exactly (Knuth's
// TwoSum; NaN where hi is infinite), as generic's twoDiff; t1..t3 are
// clobbered.
func (e *emitter) twoDiff64(hi, lo, x, m, t1, t2, t3 vreg) {
	e.fsub(d2, hi, x, m)
	e.fsub(d2, t1, hi, x)  // bb = hi − x
	e.fsub(d2, t2, hi, t1) // hi − bb
	e.fsub(d2, t2, x, t2)  // x − (hi − bb)
	e.fadd(d2, t3, m, t1)  // m + bb
	e.fsub(d2, lo, t2, t3) // lo
}

// expRegs names the registers exp64Core works in and the constants it
// reads: magic (1.5·2^52 + 200), k1 = {log2e, Ln2Hi42}, k2 = {Ln2Lo42, ·},
// one, and through pair, Estrin's coefficients.
type expRegs struct {
	x, hi, lo, t1, t2, t3, k, nf, r, r2, r4, m, magic, k1, k2, one vreg
}

// exp64Core is the float64 kernels' exp up to its last add (see
// expSumTotal64Kernel): for x's lanes it leaves hi = fl(x − m), eh =
// fl(1 + r) in t3 and lo, with e^(x−m) = (eh + lo)·2^n to about 2^-56,
// and k = magic + hi·log2e (n + 200 in its low bits). pair(j, v) sets v to
// c_j + c_j+1·r, P's coefficients taken as the kernel keeps them.
func (e *emitter) exp64Core(g expRegs, pair func(j int, v vreg)) {
	quad := func(j int, a, b vreg) { // pair(j) + pair(j+2)·r²
		pair(j, a)
		pair(j+2, b)
		e.vfmla(d2, a, b, g.r2)
	}
	e.twoDiff64(g.hi, g.lo, g.x, g.m, g.t1, g.t2, g.t3)
	e.vmov(g.k, g.magic)
	e.fmlaElem(d2, g.k, g.hi, g.k1, 0) // magic + hi·log2e
	e.fsub(d2, g.nf, g.k, g.magic)     // n
	e.vmov(g.r, g.hi)
	e.fmlsElem(d2, g.r, g.nf, g.k1, 1)  // r = hi − n·Ln2Hi42, exact
	e.fmlsElem(d2, g.lo, g.nf, g.k2, 0) // rl = lo − n·Ln2Lo42
	e.fmul(d2, g.r2, g.r, g.r)
	e.fmul(d2, g.r4, g.r2, g.r2)
	quad(8, g.t1, g.t2)
	quad(4, g.t3, g.t2)
	e.vfmla(d2, g.t3, g.t1, g.r4)
	quad(0, g.nf, g.t2)
	e.vfmla(d2, g.nf, g.t3, g.r4) // P
	// w = r²·P·(1 + rl) + rl·(1 + r) + f, where eh + f = 1 + r exactly
	// (Fast2Sum): two steps after P, as amd64's.
	e.vfmla(d2, g.nf, g.nf, g.lo) // P·(1 + rl)
	e.vfmla(d2, g.lo, g.lo, g.r)  // rl·(1 + r)
	e.fadd(d2, g.t3, g.one, g.r)  // eh
	e.fsub(d2, g.t2, g.t3, g.one)
	e.fsub(d2, g.t2, g.r, g.t2)
	e.fadd(d2, g.lo, g.lo, g.t2)
	e.vfmla(d2, g.lo, g.nf, g.r2) // w
}

// expLo64 is where math.Exp's result turns 0 (below ln 2^-1075).
const expLo64 = -745.1332191019412

// div64Kernel: dst = x/s, correctly rounded (FDIV).
func div64Kernel(e *emitter) {
	e.text("div64NEON(dst, x []float64, s float64)", 56)
	const dst, src, cnt gpr = 0, 1, 2
	x, out := seq(0, 4), seq(4, 4)
	const sv vreg = 8
	e.movdArg("dst_base+0(FP)", dst)
	e.movdArg("x_base+24(FP)", src)
	e.dwordCount("x_len+32(FP)", cnt)
	e.dupArg64("s+48(FP)", sv)
	e.mapKernel("div64", cnt, []int{16, 4}, []stream{{src, x}}, stream{dst, out}, func(nv int) {
		for i := range nv {
			e.fdiv(d2, out[i], x[i], sv)
		}
	})
	e.ret()
}

// dot64Kernel is generic's dotDD for float64 (amd64's dot64): each
// product exact as p + pe (FMLS gives −pe), pe added into c plainly and p
// with twoSum, renormalized after every add, four accumulators reduced as
// dotKernel's. An infinite product leaves a NaN in c, as in dotDD.
func dot64Kernel(e *emitter) {
	e.text("dot64NEON(a, b []float64) (s, c float64)", 64)
	const pa, cnt, pb gpr = 1, 2, 3
	x, y, p, q := seq(0, 4), seq(4, 4), seq(8, 4), seq(12, 4)
	acc, comp, tmp := seq(16, 4), seq(20, 4), seq(24, 4)
	e.movdArg("a_base+0(FP)", pa)
	e.dwordCount("a_len+8(FP)", cnt)
	e.movdArg("b_base+24(FP)", pb)
	for i := range acc {
		e.veor(acc[i], acc[i], acc[i])
		e.veor(comp[i], comp[i], comp[i])
	}
	e.walk("dot64", cnt, []int{16, 4}, []stream{{pa, x}, {pb, y}}, nil, func() {
		e.veor(x[0], x[0], x[0]) // past the tail: zeros, whose products add nothing
		e.veor(y[0], y[0], y[0])
	}, func(nv int) {
		for j := range nv {
			e.fmul(d2, p[j], x[j], y[j])
			e.vmov(q[j], p[j])
			e.fmls(d2, q[j], x[j], y[j]) // p − x·y, exact: −pe
			e.fsub(d2, comp[j], comp[j], q[j])
			e.twoSum(acc[j], comp[j], p[j], tmp)
			e.renorm(acc[j], comp[j], tmp)
		}
	}, nil)
	s, c := e.reduceComp(acc, comp, tmp)
	e.fmovdRet(s, "s+48(FP)")
	e.fmovdRet(c, "c+56(FP)")
	e.ret()
}

// sum64Kernel is generic's sumGeneric for float64 (amd64's sum64): each
// element added with twoSum, renormalized after every add, four
// accumulators reduced as sumKernel's; s + c, or s where s is ±Inf or NaN
// (addComp stops compensating there).
func sum64Kernel(e *emitter) {
	e.text("sum64NEON(x []float64) float64", 32)
	const src, cnt gpr = 1, 2
	x := seq(0, 4)
	acc, comp, tmp := seq(16, 4), seq(20, 4), seq(24, 4)
	e.movdArg("x_base+0(FP)", src)
	e.dwordCount("x_len+8(FP)", cnt)
	for i := range acc {
		e.veor(acc[i], acc[i], acc[i])
		e.veor(comp[i], comp[i], comp[i])
	}
	e.walk("sum64", cnt, []int{16, 4}, []stream{{src, x}}, nil, func() {
		e.veor(x[0], x[0], x[0]) // past the tail: zeros, which add nothing
	}, func(nv int) {
		for j := range nv {
			e.twoSum(acc[j], comp[j], x[j], tmp)
			e.renorm(acc[j], comp[j], tmp)
		}
	}, nil)
	e.retSum(acc, comp, tmp, "ret+24(FP)")
}

// mulSub64Kernel is generic's mulSub64 (amd64's mulSub64): dx = p·(hi +
// (lo − c)), hi + lo = dy − s exactly (TwoDiff).
func mulSub64Kernel(e *emitter) {
	e.text("mulSub64NEON(dx, p, dy []float64, s, c float64)", 88)
	const dst, pp, cnt, py gpr = 0, 1, 2, 3
	p, y, out := seq(0, 4), seq(4, 4), seq(8, 4)
	const hi, lo, t1, t2, t3, sv, cv vreg = 12, 13, 14, 15, 16, 17, 18
	e.movdArg("dx_base+0(FP)", dst)
	e.dwordCount("dx_len+8(FP)", cnt)
	e.movdArg("p_base+24(FP)", pp)
	e.movdArg("dy_base+48(FP)", py)
	e.dupArg64("s+72(FP)", sv)
	e.dupArg64("c+80(FP)", cv)
	e.mapKernel("mulsub64", cnt, []int{16, 4}, []stream{{pp, p}, {py, y}}, stream{dst, out}, func(nv int) {
		for i := range nv {
			e.twoDiff64(hi, lo, y[i], sv, t1, t2, t3)
			e.fsub(d2, lo, lo, cv)
			e.fadd(d2, hi, hi, lo)
			e.fmul(d2, out[i], p[i], hi)
		}
	})
	e.ret()
}

// expMulSub64Kernel is amd64's expMulSub64: generic's expMulSub64 where
// logp is a log-probability (in [−708.3, 0]) or −Inf, dx = fl(dy − e·s) −
// el·s with e + el = exp(logp) to about 2^-56 (exp64Core's e and its
// rounding error, as expSum64Kernel forms them), 0 at −Inf. At the first
// vector holding another value it stops and returns how many elements it
// did, for the caller to do that vector generic's way. Estrin's addends
// are loaded each step (as expSum64Kernel's) to leave registers for the
// range check.
func expMulSub64Kernel(e *emitter) {
	e.text("expMulSub64NEON(dx, logp, dy []float64, s float64) (done int)", 88)
	const dst, src, cnt, py, tmp, addPtr, addBase, f0, f1 gpr = 0, 1, 2, 3, 4, 5, 6, 7, 8
	const x, ev, hi, lo, t1, t2, t3, k, nf, r, r2, r4, y, sv, zero, ninf vreg = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
	const magic, k1, k2, one, expLo, scale, c13, c57, c911, inLo, inHi, el, pow vreg = 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28
	e.movdArg("dx_base+0(FP)", dst)
	e.dwordCount("dx_len+8(FP)", cnt)
	e.movdArg("logp_base+24(FP)", src)
	e.movdArg("dy_base+48(FP)", py)
	e.dupArg64("s+72(FP)", sv)
	e.constants("expMulSub64", tmp, magic, exp64Consts(0,
		// l >= −708.3 and l <= 0 as ordered greater-thans: l above the
		// float64 below −708.3, 2^-1074 above l.
		splat64(f64(math.Nextafter(tinyHi64, math.Inf(-1)))),
		splat64(f64(math.SmallestNonzeroFloat64)))...)
	e.constants("expMulSub64Inf", tmp, ninf, splat64(f64(math.Inf(-1))))
	pair := e.loadedAddends("·expMulSub64Add<>", addBase, addPtr, r, c13)
	e.veor(zero, zero, zero)
	regs := expRegs{x, hi, lo, t1, t2, t3, k, nf, r, r2, r4, zero, magic, k1, k2, one}
	calls := 0
	e.walk("ems64", cnt, []int{4}, []stream{{src, []vreg{x}}, {py, []vreg{y}}}, []stream{{dst, []vreg{ev}}}, func() {
		e.vmov(x, zero) // past the tail: logp 0, in range
	}, func(int) {
		// compute runs twice: in the loop, where cnt is what remains
		// less this vector, and for the tail, where it is what remains.
		bail := map[bool]string{true: "ems64_bailloop", false: "ems64_bail"}[calls == 0]
		calls++
		e.fcmgt(d2, t1, x, inLo) // l >= −708.3
		e.fcmgt(d2, t2, inHi, x) // l <= 0
		e.vand(t1, t1, t2)
		e.fcmeq(d2, t2, x, ninf)
		e.op("VORR", t2.b16(), t1.b16(), t1.b16())
		e.lanesTo(t1, f0, f1, "AND")
		e.op("CMN", "$1", f0.String()) // both lanes all ones?
		e.op("BNE", bail)
		e.op("MOVD", addBase.String(), addPtr.String())
		e.exp64Core(regs, pair)
		e.expPair64(ev, el, t3, lo, k, pow, one, scale)
		e.fcmgt(d2, t1, expLo, hi) // −Inf: e and el 0 (el was NaN)
		e.bic(ev, ev, t1)
		e.bic(el, el, t1)
		e.vmov(t2, y)
		e.fmls(d2, t2, ev, sv) // dy − e·s, rounded once
		e.fmul(d2, el, el, sv)
		e.fsub(d2, ev, t2, el)
	}, nil)
	e.doneCount("ems64", cnt, "dx_len+8(FP)", f0)
	e.op("MOVD", f0.String(), "done+80(FP)")
	e.ret()
}

// softGrad64Kernel is amd64's softGrad64: the float64 soft-target
// cross-entropy's last pass for x finite or −Inf, hi + lo = x − m, e + el
// = exp(hi + lo) to about 2^-56 (exp64Core), g = (fl(e·sa − y) +
// el·sa)/scale, each step rounded once, and the loss Σ y·(l − hi) over
// the y != 0, each term as generic's, compensated and negated while it
// runs. Lanes with hi below −708.3 have e = el = 0 (generic's exp gives 0
// below −790); at the first vector with an hi in [−790, −708.3) it stops
// and returns how many elements it did, for the caller to do that vector.
// Estrin's addends are loaded each step, as expSum64Kernel's.
func softGrad64Kernel(e *emitter) {
	e.text("softGrad64NEON(g, x, y []float64, m, l, sa, scale float64) (s, c float64, done int)", 128)
	const dst, src, cnt, py, tmp, addPtr, addBase, f0, f1 gpr = 0, 1, 2, 3, 4, 5, 6, 7, 8
	const x, ev, hi, lo, t1, t2, t3, k, nf, r, r2, r4, y, mv, zero, acc vreg = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
	const magic, k1, k2, one, comp, scale, c13, c57, c911, tinyHi, tinyLo, el, pow, lv, sav, scv vreg = 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
	e.movdArg("g_base+0(FP)", dst)
	e.dwordCount("g_len+8(FP)", cnt)
	e.movdArg("x_base+24(FP)", src)
	e.movdArg("y_base+48(FP)", py)
	e.dupArg64("m+72(FP)", mv)
	e.dupArg64("l+80(FP)", lv)
	e.dupArg64("sa+88(FP)", sav)
	e.dupArg64("scale+96(FP)", scv)
	e.constants("softGrad64", tmp, magic, exp64Head(0)...)
	e.constants("softGrad64Exp", tmp, scale, append(append([]vec128{splat64(f64(0x1p-200))}, exp64Odd()...),
		splat64(f64(tinyHi64)),
		// hi >= −790 as an ordered greater-than: hi above the float64
		// below −790.
		splat64(f64(math.Nextafter(tinyLo64, math.Inf(-1)))))...)
	pair := e.loadedAddends("·softGrad64Add<>", addBase, addPtr, r, c13)
	for _, v := range []vreg{zero, acc, comp} {
		e.veor(v, v, v)
	}
	regs := expRegs{x, hi, lo, t1, t2, t3, k, nf, r, r2, r4, mv, magic, k1, k2, one}
	calls := 0
	e.walk("sg64", cnt, []int{4}, []stream{{src, []vreg{x}}, {py, []vreg{y}}}, []stream{{dst, []vreg{ev}}}, func() {
		e.vmov(x, mv)   // past the tail: x = m (e = 1), and
		e.vmov(y, zero) // y = 0 (no loss term)
	}, func(int) {
		// compute runs twice: in the loop, where cnt is what remains
		// less this vector, and for the tail, where it is what remains.
		bail := map[bool]string{true: "sg64_bailloop", false: "sg64_bail"}[calls == 0]
		calls++
		e.op("MOVD", addBase.String(), addPtr.String())
		e.exp64Core(regs, pair)
		e.fcmgt(d2, nf, tinyHi, hi) // hi < −708.3 (ordered; −Inf too)
		e.fcmgt(d2, t1, hi, tinyLo) // hi >= −790
		e.vand(t1, t1, nf)
		e.lanesTo(t1, f0, f1, "ORR")
		e.op("CBNZ", f0.String(), bail)
		e.expPair64(ev, el, t3, lo, k, pow, one, scale)
		e.bic(ev, ev, nf) // 0 below −790 and at −Inf
		e.bic(el, el, nf)
		e.fsub(d2, k, hi, lv) // hi − l: the term negated
		e.fmul(d2, k, k, y)
		e.fcmeq(d2, t1, y, zero) // a zero target never meets ∞·0
		e.bic(k, k, t1)
		e.twoSum(acc, comp, k, []vreg{t1, t2, t3})
		e.fsub(d2, t1, zero, y)  // −y, exact (+0 for ±0, as e·sa − y gives)
		e.vfmla(d2, t1, ev, sav) // e·sa − y, rounded once
		e.vfmla(d2, t1, el, sav) // + el·sa
		e.fdiv(d2, ev, t1, scv)
	}, nil)
	e.doneCount("sg64", cnt, "g_len+8(FP)", f0)
	e.op("MOVD", f0.String(), "done+120(FP)")
	e.faddpD(comp, comp)
	e.op("VDUP", fmt.Sprintf("V%d.D[1]", acc), fmt.Sprintf("V%d.D2", t2))
	e.twoSum(acc, comp, t2, []vreg{t1, t3, k})
	e.fsub(d2, acc, zero, acc) // the loss: the terms' sum negated back
	e.fsub(d2, comp, zero, comp)
	e.fmovdRet(acc, "s+104(FP)")
	e.fmovdRet(comp, "c+112(FP)")
	e.ret()
}

// loadedAddends emits the table sym of Estrin's addends in the order
// pair takes them (c8, c10, c4, c6, c0, c2) and loads its address into
// base; pair, for kernels short of registers, loads each from ptr (set to
// base before each exp) and sets v to c_j + c_j+1·r (c13.. hold the odd
// coefficients).
func (e *emitter) loadedAddends(sym string, base, ptr gpr, r, c13 vreg) (pair func(j int, v vreg)) {
	for i, j := range []int{8, 10, 4, 6, 0, 2} {
		fmt.Fprintf(&e.data, "DATA\t%s+%d(SB)/8, $0x%016x\n", sym, 8*i, taylorCoef(j))
	}
	fmt.Fprintf(&e.data, "GLOBL\t%s(SB), RODATA|NOPTR, $48\n\n", sym)
	e.op("MOVD", "$"+sym+"(SB)", base.String())
	return func(j int, v vreg) {
		e.op("VLD1R.P", fmt.Sprintf("8(%s)", ptr), fmt.Sprintf("[%s]", v.arr(d2)))
		e.fmlaElem(d2, v, r, c13+vreg(j/4), (j/2)%2)
	}
}

// lanesTo moves v's two 64-bit lanes to f0 and f1 and combines them into
// f0 by op: ORR (any lane's bits), AND (bits in both).
func (e *emitter) lanesTo(v vreg, f0, f1 gpr, op string) {
	e.op("VMOV", fmt.Sprintf("V%d.D[0]", v), f0.String())
	e.op("VMOV", fmt.Sprintf("V%d.D[1]", v), f1.String())
	e.op(op, f1.String(), f0.String(), f0.String())
}

// expPair64 finishes exp64Core's eh and lo (and k) as ev + el = exp(x −
// m): ev = eh + lo rounded once, el its error, both scaled by 2^(n+200)
// and then 2^-200 (results below 2^-1022 round once, as subnormals).
func (e *emitter) expPair64(ev, el, eh, lo, k, pow, one, scale vreg) {
	e.fadd(d2, ev, eh, lo) // e, rounded once
	e.fsub(d2, el, ev, eh) // its error: lo − (e − eh)
	e.fsub(d2, el, lo, el)
	e.vshl(d2, pow, k, 52)
	e.vadd(d2, pow, pow, one) // 2^(n+200)
	e.fmul(d2, ev, ev, pow)
	e.fmul(d2, ev, ev, scale)
	e.fmul(d2, el, el, pow)
	e.fmul(d2, el, el, scale)
}

// doneCount sets f0 to how many float64 elements (of the slice whose
// length is lenArg) a kernel did that may leave walk for pfx_bailloop
// (from its loop, where cnt is what remains less the vector) or
// pfx_bail (from its tail, where cnt is what remains): all of them after
// walk, else the length less the dwords left (the vector that stopped it
// included)/2.
func (e *emitter) doneCount(pfx string, cnt gpr, lenArg string, f0 gpr) {
	e.movdArg(lenArg, f0)
	e.b(pfx + "_counted")
	e.label(pfx + "_bailloop")
	e.addsImm(cnt, cnt, 4)
	e.label(pfx + "_bail")
	e.movdArg(lenArg, f0)
	e.op("SUB", fmt.Sprintf("%s>>1", cnt), f0.String(), f0.String())
	e.label(pfx + "_counted")
}

// exp64Consts are the constants of the exp kernels, in the registers from
// magic on: exp64Head's, expLo (−745.13), scale (2^-200), exp64Odd's,
// then the kernel's own (extra).
func exp64Consts(lane1 uint64, extra ...vec128) []vec128 {
	v := append(exp64Head(lane1), splat64(f64(expLo64)), splat64(f64(0x1p-200)))
	return append(append(v, exp64Odd()...), extra...)
}

// exp64Head are the first four constants of exp64Core, as expRegs names
// them: magic, k1 = {log2e, Ln2Hi42}, k2 = {Ln2Lo42, lane1} (a kernel's own
// constant in k2's unused lane) and one.
func exp64Head(lane1 uint64) []vec128 {
	return []vec128{
		splat64(f64(0x1.8p52 + 200)),
		pack64([2]uint64{f64(math.Log2E), f64(expfit.Ln2Hi42)}),
		pack64([2]uint64{f64(expfit.Ln2Lo42), lane1}),
		splat64(f64(1)),
	}
}

// exp64Odd are P's odd-indexed coefficients in pairs, {c1, c3}, {c5,
// c7}, {c9, c11}: the registers c13, c57 and c911 that pair multiplies r
// by, one lane each.
func exp64Odd() []vec128 {
	return []vec128{
		pack64([2]uint64{taylorCoef(1), taylorCoef(3)}),
		pack64([2]uint64{taylorCoef(5), taylorCoef(7)}),
		pack64([2]uint64{taylorCoef(9), taylorCoef(11)}),
	}
}

// taylorCoef is P's c_j, 1/(j+2)!.
func taylorCoef(j int) uint64 { return f64(expfit.InvFact(j + 2)) }
