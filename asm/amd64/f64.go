package main

import (
	"fmt"
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"

	"github.com/gosimd/softmax/asm/internal/expfit"
)

// The float64 kernels (AVX2 only: a CPU with AVX-512 runs them too):
// maxMin, the exp passes with their compensated sums, the division and
// the subtraction of Softmax, LogSoftmax, LogSumExp and the cross-entropy,
// SoftmaxBackward's dot and update, LogSoftmaxBackward's update and the
// soft-target gradient's pass. They walk float64 slices as pairs of float32
// lanes, so the float32 loop, tail masks and page-safe tails serve them
// unchanged: n counts dwords (2 per float64), and a tail of r float64s is
// the mask of 2r dwords, whose qwords are all ones or all zeros.

// dwords loads the length of the float64 slice name, in dwords.
func dwords(name string) GPVirtual {
	n := Load(Param(name).Len(), GP64()).(GPVirtual)
	SHLQ(U8(1), n)
	return n
}

// reduce64 reduces the float64 lanes of a YMM with op (VMAXPD, VMINPD)
// into the low lane of the returned XMM.
func reduce64(op func(...Op), v VecVirtual) VecVirtual {
	x := XMM()
	VEXTRACTF128(U8(1), v, x)
	op(x, v.AsX(), x)
	t := XMM()
	VPERMILPD(U8(1), x, t)
	op(t, x, x)
	return x
}

// maxMin64: maxMin for float64 (−Inf and +Inf when empty; a NaN may be
// skipped or returned, as maxMin's).
func (a *arch) maxMin64() {
	a.fn("maxMin64", "func(x []float64) (max, min float64)",
		"maxMin64"+a.suffix+" returns the largest and the smallest element of x (−Inf and +Inf when empty).")
	x := slicePtr("x")
	n := dwords("x")
	neg, pos := c64("neginf64", math.Inf(-1)), c64("inf64", math.Inf(1))
	const unroll = 4
	hi, lo := make([]VecVirtual, unroll), make([]VecVirtual, unroll)
	for i := range hi {
		hi[i], lo[i] = a.bcast(neg), a.bcast(pos)
	}
	s := streams{ptrs: []GPVirtual{x}, n: n}
	elementwise(a, s, "maxmin64", a.lanes, unroll, a.lanes, func(off int, t tail) {
		u := off / a.bytes()
		v := a.load(s.mem(0, off), t)
		if !t.full() {
			u = 1
			w := a.vec()
			VBLENDVPD(t.v, v, a.bcast(neg), w) // inactive lanes: −Inf
			VMAXPD(w, hi[u], hi[u])
			VBLENDVPD(t.v, v, a.bcast(pos), v) // inactive lanes: +Inf
			VMINPD(v, lo[u], lo[u])
			return
		}
		VMAXPD(v, hi[u], hi[u])
		VMINPD(v, lo[u], lo[u])
	})
	addAll(VMAXPD, hi)
	addAll(VMINPD, lo)
	mx, mn := reduce64(VMAXPD, hi[0]), reduce64(VMINPD, lo[0])
	VZEROUPPER()
	Store(mx, ReturnIndex(0))
	Store(mn, ReturnIndex(1))
	RET()
}

// expSumTotal64 stores e = exp(x − m) for float64 Softmax and returns
// their total as a compensated pair. hi + lo = x − m exactly (TwoDiff);
// hi + lo = n·ln2 + r + rl with r = hi − n·Ln2Hi42 exact and rl = lo −
// n·Ln2Lo42 (expfit); e^(r+rl) = 1 + r + w with w = rl·e^r + r²·P(r)
// (rl²/2 is below 2^-65), P Taylor's (e^r − 1 − r)/r² to r^13 (r^14/14!
// < 2^-57 for |r| <= ln2/2), rounded once (Fast2Sum for 1 + r), so that e
// is within about 0.55 ULP; 2^n joins as 2^(n+200) by an integer add to
// the exponent and 2^-200 by a multiply, which rounds the results below
// 2^-1022 to subnormals as math.Exp does. Where x − m < −745.13 (−Inf
// too) e is 0, as math.Exp gives. NaN stays NaN.
func (a *arch) expSumTotal64() {
	a.fn("expSumTotal64", "func(dst, x []float64, m float64) (s, c float64)",
		"expSumTotal64"+a.suffix+" stores e[i] = exp(x[i] − m) to dst (len(dst) >= len(x)) and returns Σ e[i] as s + c.")
	d := slicePtr("dst")
	x := slicePtr("x")
	n := dwords("x")
	mv := a.bcast64("m")
	const unroll = 2
	acc, comp := make([]VecVirtual, unroll), make([]VecVirtual, unroll)
	for i := range acc {
		acc[i], comp[i] = a.vec(), a.vec()
		a.zero(acc[i])
		a.zero(comp[i])
	}
	s := streams{ptrs: []GPVirtual{d, x}, n: n}
	elementwise(a, s, "exptotal64", a.lanes, unroll, a.lanes, func(off int, t tail) {
		u := off / a.bytes()
		if !t.full() {
			u = 1
		}
		hi, e, lo, k := a.exp64Core(a.load(s.mem(1, off), t), mv)
		VADDPD(lo, e, e) // 1 + r + w, rounded once
		VPADDQ(k, e, e)  // ·2^(n+200)
		VMULPD(c64("twom200", 0x1p-200), e, e)
		a.expFix64(hi, e)
		if !t.full() {
			VANDPD(t.v, e, e) // inactive lanes (x = 0) add nothing
		}
		a.store(e, s.mem(0, off), t)
		twoSum(acc[u], comp[u], e, a.vec)
	})
	VADDPD(comp[1], comp[0], comp[0])
	twoSum(acc[0], comp[0], acc[1], a.vec)
	s1, c1 := a.hsum64Pair(acc[0], comp[0])
	VZEROUPPER()
	Store(s1, ReturnIndex(0))
	Store(c1, ReturnIndex(1))
	RET()
}

// exp64Core is the float64 kernels' exp up to its last add: for x's lanes
// it returns hi = fl(x − m), eh = fl(1 + r) and lo, with e^(x−m) =
// (eh + lo)·2^n to about 2^-56, and k = (n + 200)·2^52 (the exponent
// field's increment for 2^(n+200)). See expSumTotal64.
func (a *arch) exp64Core(v, mv VecVirtual) (hi, eh, lo, k VecVirtual) {
	hi, lo = a.twoDiff64(v, mv)
	magic := c64("magic64n", 0x1.8p52+200) // k = hi·log2e + magic holds n + 200 in its low bits
	k = a.vec()
	VMOVUPD(magic, k)
	VFMADD231PD(c64("log2e64", math.Log2E), hi, k)
	nf := a.vec()
	VSUBPD(magic, k, nf)
	r := a.vec()
	VMOVAPD(hi, r)
	VFNMADD231PD(c64("ln2hi42", expfit.Ln2Hi42), nf, r)  // exact
	VFNMADD231PD(c64("ln2lo42", expfit.Ln2Lo42), nf, lo) // rl, in lo
	r2 := a.vec()
	VMULPD(r, r, r2)
	// Beside the polynomial: 1 + r = eh + f exactly (Fast2Sum), and u =
	// rl·(1 + r) + f. Then w = r²·P·(1 + rl) + u, two FMAs after P where
	// forming r²·P, e^r − 1, rl·e^r and the sums took six steps: the
	// chain is what bounds the exp passes.
	eh = a.vec()
	f, u := a.vec(), a.vec()
	VADDPD(one64(), r, eh)
	VSUBPD(one64(), eh, f)
	VSUBPD(f, r, f)
	VMOVAPD(lo, u)
	VFMADD231PD(r, lo, u) // rl·(1 + r)
	VADDPD(f, u, u)
	p := a.taylorP(r, r2)
	VFMADD231PD(p, lo, p) // P·(1 + rl)
	VFMADD231PD(r2, p, u) // w
	VPSLLQ(U8(52), k, k)
	return hi, eh, u, k
}

// twoDiff64 returns hi = fl(v − m) and lo, hi + lo = v − m exactly (Knuth's
// TwoSum: lo = (v − (hi − bb)) − (m + bb), bb = hi − v; NaN where hi is
// infinite), as generic's twoDiff.
func (a *arch) twoDiff64(v, mv VecVirtual) (hi, lo VecVirtual) {
	hi, lo = a.vec(), a.vec()
	bb, w := a.vec(), a.vec()
	VSUBPD(mv, v, hi)
	VSUBPD(v, hi, bb)
	VSUBPD(bb, hi, w)
	VSUBPD(w, v, w)
	VADDPD(mv, bb, lo)
	VSUBPD(lo, w, lo)
	return hi, lo
}

// expFix64 zeroes e where hi < −745.13 (−Inf too, as math.Exp) and makes
// it NaN where hi is: the exponent add may have made a NaN a number, and
// all ones is a NaN.
func (a *arch) expFix64(hi, e VecVirtual) {
	m := a.vec()
	VCMPPD(U8(0x11), c64("exp64lo", expLo64), hi, m) // hi < −745.13 (ordered)
	VANDNPD(e, m, e)
	VCMPPD(U8(0x03), hi, hi, m) // unordered
	VORPD(m, e, e)
}

// expSum64 is the float64 contract's expSum: e = exp(x − m), stored when
// store, and their sum split as generic's expSumPair64 keeps it: ones
// counts the e that are exactly 1; s + c sums the others whose x − m is
// at or above −708.3 (tinyHi), each e's rounding error (Fast2Sum of the
// last add, scaled) joining c, so that the pair is good to about 2^-58
// as generic's; ts + tc sums the terms with x − m in [−790, −708.3)
// scaled by 2^1100, where e is subnormal or next to it and loses bits
// (generic's tiny terms: many of them make a normal log Σ). That sum is
// kept on the stack and taken only for vectors with such a lane.
func (a *arch) expSum64(store bool) {
	name, sig := "expSumNoStore64", "func(x []float64, m float64) (s, c, ts, tc, ones float64)"
	if store {
		name, sig = "expSum64", "func(dst, x []float64, m float64) (s, c, ts, tc, ones float64)"
	}
	a.fn(name, sig,
		name+a.suffix+" returns Σ exp(x[i] − m) split as ones (the terms equal to 1), s + c (the other terms above e^-708.3)",
		"and ts + tc (the terms from e^-790 to e^-708.3, times 2^1100); "+map[bool]string{true: "it stores each exp(x[i] − m) to dst (len(dst) >= len(x)).", false: "it stores nothing."}[store])
	var ptrs []GPVirtual
	if store {
		ptrs = append(ptrs, slicePtr("dst"))
	}
	ptrs = append(ptrs, slicePtr("x"))
	xi := len(ptrs) - 1
	n := dwords("x")
	mv := a.bcast64("m")
	acc, comp, ones := a.vec(), a.vec(), a.vec()
	a.zero(acc)
	a.zero(comp)
	a.zero(ones)
	tiny := AllocLocal(64) // ts and tc, 4 lanes each
	z := a.vec()
	a.zero(z)
	VMOVUPD(z, tiny)
	VMOVUPD(z, tiny.Offset(32))
	s := streams{ptrs: ptrs, n: n}
	pfx := map[bool]string{true: "expsum64", false: "expsumns64"}[store]
	elementwise(a, s, pfx, a.lanes, 1, a.lanes, func(off int, t tail) {
		hi, eh, lo, k := a.exp64Core(a.load(s.mem(xi, off), t), mv)
		e, el := a.vec(), a.vec()
		VADDPD(lo, eh, e) // 1 + r + w, rounded once
		VSUBPD(eh, e, el) // its error: lo − (e − eh), exact
		VSUBPD(el, lo, el)
		pow := a.vec()
		VPADDQ(one64(), k, pow) // 2^(n+200)
		inTiny := a.vec()
		VCMPPD(U8(0x11), c64("tinyhi64", tinyHi64), hi, inTiny) // hi < −708.3 (ordered)
		lowOut := a.vec()
		VCMPPD(U8(0x11), c64("tinylo64", tinyLo64), hi, lowOut) // hi < −790 (ordered)
		VANDNPD(inTiny, lowOut, lowOut)                         // in [−790, −708.3)
		if !t.full() {
			VANDPD(t.v, lowOut, lowOut)
		}
		skip := label(pfx + "_notiny")
		VTESTPD(lowOut, lowOut)
		JZ(LabelRef(skip))
		{
			ts, tc, v := a.vec(), a.vec(), a.vec()
			VMULPD(pow, e, v)
			VMULPD(c64("two900", 0x1p900), v, v) // e·2^(n+1100), normal in these lanes
			VANDPD(lowOut, v, v)
			VMOVUPD(tiny, ts)
			VMOVUPD(tiny.Offset(32), tc)
			twoSum(ts, tc, v, a.vec)
			VMOVUPD(ts, tiny)
			VMOVUPD(tc, tiny.Offset(32))
		}
		Label(skip)
		scale := c64("twom200", 0x1p-200)
		VMULPD(pow, e, e)
		VMULPD(scale, e, e) // e·2^n, subnormals rounded once
		VMULPD(pow, el, el)
		VMULPD(scale, el, el)
		a.expFix64(hi, e)
		if !t.full() {
			VANDPD(t.v, e, e) // inactive lanes (x = 0) add nothing
			VANDPD(t.v, el, el)
		}
		if store {
			a.store(e, s.mem(0, off), t)
		}
		one := a.vec()
		VCMPPD(U8(0x00), one64(), e, one) // e == 1
		VORPD(one, inTiny, inTiny)        // the lanes s + c leave out
		VANDPD(one64(), one, one)
		VADDPD(one, ones, ones)
		VANDNPD(e, inTiny, e)
		VANDNPD(el, inTiny, el)
		twoSum(acc, comp, e, a.vec)
		VADDPD(el, comp, comp)
	})
	s1, c1 := a.hsum64Pair(acc, comp)
	ts, tc := a.vec(), a.vec()
	VMOVUPD(tiny, ts)
	VMOVUPD(tiny.Offset(32), tc)
	ts1, tc1 := a.hsum64Pair(ts, tc)
	o := a.hsum64(ones)
	VZEROUPPER()
	Store(s1, ReturnIndex(0))
	Store(c1, ReturnIndex(1))
	Store(ts1, ReturnIndex(2))
	Store(tc1, ReturnIndex(3))
	Store(o, ReturnIndex(4))
	RET()
}

// sub64: dst = (x − m) − l as generic's sub64 forms it: hi + lo = x − m
// (TwoDiff), (hi − l) + lo, or hi − l where lo is NaN (x − m infinite,
// or x NaN).
func (a *arch) sub64() {
	a.fn("sub64", "func(dst, x []float64, m, l float64)",
		"sub64"+a.suffix+" stores dst[i] = (x[i] − m) − l with x[i] − m exact (TwoDiff); len(dst) >= len(x).")
	d := slicePtr("dst")
	x := slicePtr("x")
	n := dwords("x")
	mv, lv := a.bcast64("m"), a.bcast64("l")
	s := streams{ptrs: []GPVirtual{d, x}, n: n}
	elementwise(a, s, "sub64", a.lanes, 2, a.lanes, func(off int, t tail) {
		hi, lo := a.twoDiff64(a.load(s.mem(1, off), t), mv)
		w, nan := a.vec(), a.vec()
		VSUBPD(lv, hi, hi) // hi − l
		VADDPD(lo, hi, w)  // (hi − l) + lo
		VCMPPD(U8(0x03), lo, lo, nan)
		VBLENDVPD(nan, hi, w, w)
		a.store(w, s.mem(0, off), t)
	})
	VZEROUPPER()
	RET()
}

// tinyHi64 and tinyLo64 are generic's tinyHi and tinyLo: between them the
// terms are summed scaled.
const (
	tinyHi64 = -708.3
	tinyLo64 = -790.0
)

// taylorP returns P(r) = Σ r^j/(j+2)!, j = 0..11, by estrin11.
func (a *arch) taylorP(r, r2 VecVirtual) VecVirtual {
	return a.estrin11(r, r2, func(j int) Mem { return c64(fmt.Sprintf("invfact%d", j+2), expfit.InvFact(j+2)) })
}

// estrin11 returns Σ c(j)·r^j, j = 0..11, by Estrin's scheme: pairs c_j +
// c_{j+1}·r, combined by r² into q0, q1, q2, then q0 + r^4·(q1 +
// r^4·q2), five FMAs deep where Horner's eleven made the exp passes wait
// on their latency. The order keeps few registers live (AVX2 has 16).
func (a *arch) estrin11(r, r2 VecVirtual, c func(j int) Mem) VecVirtual {
	pair := func(j int) VecVirtual {
		v := a.vec()
		VMOVUPD(c(j+1), v)
		VFMADD213PD(c(j), r, v) // c_j + c_j+1·r
		return v
	}
	quad := func(j int) VecVirtual { // pair(j) + pair(j+2)·r²
		lo, hi := pair(j), pair(j+2)
		VFMADD231PD(r2, hi, lo)
		return lo
	}
	r4 := a.vec()
	VMULPD(r2, r2, r4)
	q := quad(8)
	q1 := quad(4)
	VFMADD231PD(r4, q, q1)
	q0 := quad(0)
	VFMADD231PD(r4, q1, q0)
	return q0
}

// div64: dst = x/s correctly rounded, as generic's division: q = x·(1/s)
// rounded, then q + (x − q·s)·(1/s) with the residual exact by FMA
// (Markstein), at a multiply's cost instead of a divide's. That needs q
// normal and the residual exact: its last bit, ulp(q)·ulp(s), near
// x·2^-106, must not be below the subnormals' 2^-1074. A vector with a
// lane where either may fail (0 < |x| < max(2^-960, s·2^-1020)), or
// where q may overflow (|x| >= s·2^1020, ±Inf included), divides instead.
func (a *arch) div64() {
	a.fn("div64", "func(dst, x []float64, s float64)",
		"div64"+a.suffix+" stores dst[i] = x[i]/s, correctly rounded; len(dst) >= len(x).")
	d := slicePtr("dst")
	x := slicePtr("x")
	n := dwords("x")
	sv := a.bcast64("s")
	rx := XMM()
	VMOVSD(c64("one64", 1), rx)
	VDIVSD(sv.AsX(), rx, rx)
	rv := a.vec()
	VBROADCASTSD(rx, rv)
	thr := a.vec()
	VMULPD(c64("twom1020", 0x1p-1020), sv, thr)
	VMAXPD(c64("twom960", 0x1p-960), thr, thr)
	big := a.vec()
	VMULPD(c64("two1020", 0x1p1020), sv, big)
	zero := a.vec()
	a.zero(zero)
	s := streams{ptrs: []GPVirtual{d, x}, n: n}
	elementwise(a, s, "div64", a.lanes, 4, a.lanes, func(off int, t tail) {
		v := a.load(s.mem(1, off), t)
		q, res := a.vec(), a.vec()
		VMULPD(rv, v, q)
		VMOVAPD(v, res)
		VFNMADD231PD(sv, q, res) // x − q·s, exact for normal quotients
		VFMADD231PD(rv, res, q)
		ab, small, nz, over := a.vec(), a.vec(), a.vec(), a.vec()
		VANDPD(c64("abs64", math.Float64frombits(1<<63-1)), v, ab)
		VXORPS(ab, v, small) // x's sign: x = −0 gave q + (+0)·r = +0
		VORPD(small, q, q)
		VCMPPD(U8(0x11), thr, ab, small) // |x| < thr (ordered)
		VCMPPD(U8(0x1e), zero, ab, nz)   // |x| > 0 (ordered)
		VCMPPD(U8(0x1d), big, ab, over)  // |x| >= s·2^1020 (ordered)
		VANDPD(nz, small, small)
		VORPD(over, small, small)
		ok := label("div64_ok")
		VTESTPD(small, small)
		JZ(LabelRef(ok))
		VDIVPD(sv, v, q)
		Label(ok)
		a.store(q, s.mem(0, off), t)
	})
	VZEROUPPER()
	RET()
}

// sumDot64 is generic's sumGeneric (dot false) or dotDD (dot true) for
// float64. dot: each product exact as p + pe (an FMA gives pe), pe added
// into c plainly and p with twoSum; sum: each element with twoSum; both
// renormalized every renormEvery adds as the float32 sum and dot. sum
// returns s + c, or s where it is ±Inf or NaN, as addComp stops
// compensating there. An infinite product leaves a NaN in dot's c, as in
// dotDD; a sum that overflows with finite products does too (dotDD's c
// stays finite there), which the one consumer, mulSub64's x − s with s
// infinite, makes NaN either way. Where generic's running sum overflows
// but a SIMD lane's partial sums do not, sum may return the finite sum
// that generic's order missed.
func (a *arch) sumDot64(dot bool) {
	var st streams
	if dot {
		a.fn("dot64", "func(a, b []float64) (s, c float64)",
			"dot64"+a.suffix+" returns Σ a[i]·b[i] as s + c, compensated, each product exact (TwoProd); len(b) >= len(a).")
		st = streams{ptrs: []GPVirtual{slicePtr("a"), slicePtr("b")}, n: dwords("a")}
	} else {
		a.fn("sum64", "func(x []float64) float64",
			"sum64"+a.suffix+" returns Σ x[i], compensated (TwoSum): its error does not grow with cancellation.")
		st = streams{ptrs: []GPVirtual{slicePtr("x")}, n: dwords("x")}
	}
	acc, comp := make([]VecVirtual, 4), make([]VecVirtual, 4)
	for i := range acc {
		acc[i], comp[i] = a.vec(), a.vec()
		a.zero(acc[i])
		a.zero(comp[i])
	}
	// As sumDot: units to the accumulators in turn, each renormalized
	// after its last add of the loop's iteration, and after each add in
	// the single and tail units (the calls after the loop's).
	unroll, calls := 4*renormEvery, 0
	name := map[bool]string{true: "dot64", false: "sum64"}[dot]
	elementwise(a, st, name, a.lanes, unroll, a.lanes, func(off int, t tail) {
		calls++
		u := off / a.bytes() % 4
		if !t.full() {
			u = 1
		}
		x := a.load(st.mem(0, off), t) // past a tail: zeros, which add nothing
		v := x
		if dot {
			y := a.load(st.mem(1, off), t)
			v = a.vec()
			VMULPD(y, x, v)
			VFNMADD132PD(y, v, x)       // x = p − x·y, exact: −pe
			VSUBPD(x, comp[u], comp[u]) // c + pe
		}
		twoSum(acc[u], comp[u], v, a.vec)
		if calls > unroll-4 {
			a.renorm(acc[u], comp[u])
		}
	})
	a.sumDotReturn(acc, comp, dot)
}

// mulSub64 is generic's mulSub64: dx = p·(hi + (lo − c)), hi + lo = dy − s
// exactly (TwoDiff), so where dy cancels against s the pair's c still
// counts.
func (a *arch) mulSub64() {
	a.fn("mulSub64", "func(dx, p, dy []float64, s, c float64)",
		"mulSub64"+a.suffix+" stores dx[i] = p[i]·(hi + (lo − c)), hi + lo = dy[i] − s exactly (TwoDiff); len(p), len(dy) >= len(dx).")
	st := streams{ptrs: []GPVirtual{slicePtr("dx"), slicePtr("p"), slicePtr("dy")}, n: dwords("dx")}
	sv, cv := a.bcast64("s"), a.bcast64("c")
	elementwise(a, st, "mulsub64", a.lanes, 2, a.lanes, func(off int, t tail) {
		hi, lo := a.twoDiff64(a.load(st.mem(2, off), t), sv)
		VSUBPD(cv, lo, lo)
		VADDPD(lo, hi, hi)
		VMULPD(a.load(st.mem(1, off), t), hi, hi)
		a.store(hi, st.mem(0, off), t)
	})
	VZEROUPPER()
	RET()
}

// expMulSub64 is generic's expMulSub64 where logp is a log-probability
// (in [tinyHi, 0]) or −Inf: dx = fl(dy − e·s) − el·s with e + el =
// exp(logp) to about 2^-56 (exp64Core's e and its rounding error, as
// expSum64 forms them) and e = el = 0 at −Inf. At the first vector with
// another value (a NaN, a positive logp, one below tinyHi) it stops and
// returns how many elements it did, for the caller to do that vector
// generic's way.
func (a *arch) expMulSub64() {
	a.fn("expMulSub64", "func(dx, logp, dy []float64, s float64) (done int)",
		"expMulSub64"+a.suffix+" stores dx[i] = dy[i] − exp(logp[i])·s while logp[i] is in [−708.3, 0] or −Inf, and returns how many it did; len(logp), len(dy) >= len(dx).")
	st := streams{ptrs: []GPVirtual{slicePtr("dx"), slicePtr("logp"), slicePtr("dy")}, n: dwords("dx")}
	sv := a.bcast64("s")
	zero := a.vec()
	a.zero(zero)
	bail := label("expmulsub64_bail")
	elementwise(a, st, "expmulsub64", a.lanes, 1, a.lanes, func(off int, t tail) {
		l := a.load(st.mem(1, off), t) // past a tail: 0, in range
		in, ninf := a.vec(), a.vec()
		VCMPPD(U8(0x1d), c64("tinyhi64", tinyHi64), l, in) // l >= −708.3 (ordered)
		VCMPPD(U8(0x02), zero, l, ninf)                    // l <= 0 (ordered)
		VANDPD(ninf, in, in)
		VCMPPD(U8(0x00), c64("neginf64", math.Inf(-1)), l, ninf) // l == −Inf
		VORPD(ninf, in, in)
		VCMPPD(U8(0x00), zero, zero, ninf) // all ones
		VTESTPD(ninf, in)                  // CF: every lane in range
		JCC(LabelRef(bail))
		hi, eh, lo, k := a.exp64Core(l, zero)
		e, el := a.expPair64(eh, lo, k)
		a.expFix64(hi, e) // 0 at −Inf
		VCMPPD(U8(0x00), c64("neginf64", math.Inf(-1)), hi, ninf)
		VANDNPD(el, ninf, el) // 0 at −Inf (lo was NaN there)
		y := a.load(st.mem(2, off), t)
		VFNMADD231PD(sv, e, y) // dy − e·s, rounded once
		VMULPD(sv, el, el)
		VSUBPD(el, y, y)
		a.store(y, st.mem(0, off), t)
	})
	d := doneCount(st, bail, "dx")
	VZEROUPPER()
	Store(d, ReturnIndex(0))
	RET()
}

// softGrad64 is the float64 soft-target cross-entropy's last pass, as
// generic's softGradRow forms it for x finite or −Inf (the row has a
// finite max m): hi + lo = x − m (TwoDiff), e + el = exp(hi + lo) to
// about 2^-56 (exp64Core, as expMulSub64), g = (fl(e·sa − y) + el·sa)/
// scale, each step rounded once, and the loss Σ y·(l − hi) over the y !=
// 0, each term as generic's, compensated (twoSum) and negated while it
// runs (hi − l: l then stays in memory). Lanes with hi below −708.3 have
// e = el = 0, which is what generic's exp gives below −790; at the first
// vector with an hi in [−790, −708.3), where e is subnormal or next to it
// and generic rounds it its own way, it stops and returns how many
// elements it did, for the caller to do that vector. AVX2 has sixteen
// registers and the exp takes most: l, sa and scale are read from the
// stack.
func (a *arch) softGrad64() {
	a.fn("softGrad64", "func(g, x, y []float64, m, l, sa, scale float64) (s, c float64, done int)",
		"softGrad64"+a.suffix+" stores g[i] = (exp(x[i] − m)·sa − y[i])/scale and sums the loss Σ y[i]·(l − (x[i] − m)) over the y[i] != 0 into s + c",
		"while x[i] − m is −Inf, below −790 or at or above −708.3; done is how many elements it did; len(x), len(y) >= len(g).")
	st := streams{ptrs: []GPVirtual{slicePtr("g"), slicePtr("x"), slicePtr("y")}, n: dwords("g")}
	mv := a.bcast64("m")
	loc := AllocLocal(3 * 32)
	lm, sam, scm := loc, loc.Offset(32), loc.Offset(64)
	for i, name := range []string{"l", "sa", "scale"} {
		v := a.bcast64(name)
		VMOVUPD(v, loc.Offset(32*i))
	}
	acc, comp := a.vec(), a.vec()
	a.zero(acc)
	a.zero(comp)
	zero := c64("zero64", 0)
	bail := label("softgrad64_bail")
	elementwise(a, st, "softgrad64", a.lanes, 1, a.lanes, func(off int, t tail) {
		hi, eh, lo, k := a.exp64Core(a.load(st.mem(1, off), t), mv) // past a tail: x = 0
		below, tiny := a.vec(), a.vec()
		VCMPPD(U8(0x11), c64("tinyhi64", tinyHi64), hi, below) // hi < −708.3 (ordered; −Inf too)
		VCMPPD(U8(0x1d), c64("tinylo64", tinyLo64), hi, tiny)  // hi >= −790 (ordered)
		VANDPD(below, tiny, tiny)
		if !t.full() {
			VANDPD(t.v, tiny, tiny)
		}
		VTESTPD(tiny, tiny)
		JNZ(LabelRef(bail))
		e, el := a.expPair64(eh, lo, k)
		VANDNPD(e, below, e) // 0 below −790 and at −Inf
		VANDNPD(el, below, el)
		y := a.load(st.mem(2, off), t) // past a tail: 0, no loss term
		d, nz := a.vec(), a.vec()
		VSUBPD(lm, hi, d) // hi − l: the term negated
		VMULPD(y, d, d)
		VCMPPD(U8(0x04), zero, y, nz) // y != 0: a zero target never meets ∞·0
		VANDPD(nz, d, d)
		twoSum(acc, comp, d, a.vec)
		w := a.vec()
		a.zero(w)
		VSUBPD(y, w, w)         // −y, exact (and +0 for ±0, as e·sa − y gives)
		VFMADD231PD(sam, e, w)  // e·sa − y, rounded once
		VFMADD231PD(sam, el, w) // + el·sa
		VDIVPD(scm, w, w)
		a.store(w, st.mem(0, off), t)
	})
	d := doneCount(st, bail, "g")
	s1, c1 := a.hsum64Pair(acc, comp)
	neg := XMM()
	VXORPS(neg, neg, neg)
	VSUBSD(s1, neg, s1) // the loss: the terms' sum negated back
	VSUBSD(c1, neg, c1)
	VZEROUPPER()
	Store(s1, ReturnIndex(0))
	Store(c1, ReturnIndex(1))
	Store(d, ReturnIndex(2))
	RET()
}

// expPair64 finishes exp64Core's eh, lo and k as e + el = exp(x − m),
// each scaled by 2^n (through 2^(n+200), then 2^-200: results below
// 2^-1022 round once, as subnormals): e = eh + lo rounded once, el its
// error, exact before the scaling.
func (a *arch) expPair64(eh, lo, k VecVirtual) (e, el VecVirtual) {
	e, el = a.vec(), a.vec()
	VADDPD(lo, eh, e) // 1 + r + w, rounded once
	VSUBPD(eh, e, el) // its error: lo − (e − eh), exact
	VSUBPD(el, lo, el)
	pow := a.vec()
	VPADDQ(one64(), k, pow) // 2^(n+200)
	scale := c64("twom200", 0x1p-200)
	VMULPD(pow, e, e)
	VMULPD(scale, e, e)
	VMULPD(pow, el, el)
	VMULPD(scale, el, el)
	return e, el
}

// doneCount ends the loop of a kernel that may stop at a vector (by a
// jump to bail) and returns how many float64 elements of the slice name
// it did: all of them after the loop, else len − the dwords left (the
// vector that stopped it included)/2.
func doneCount(st streams, bail, name string) GPVirtual {
	XORQ(st.n, st.n) // all done (the tail leaves its count in n)
	Label(bail)
	d := Load(Param(name).Len(), GP64()).(GPVirtual)
	SHRQ(U8(1), st.n)
	SUBQ(st.n, d)
	return d
}
