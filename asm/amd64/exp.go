package main

import (
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The float32 exp of expSum.
//
// For d = x − m <= 0:
//   - hi = fl(x − m) and its rounding error lo, by Fast2Sum with the operands
//     ordered by magnitude: a = min(x, −m), b = max(x, −m) has |a| >= |b|
//     whenever x <= m, so z = hi − a is exact and lo = b − z.
//   - n = round(hi·log2e) by the magic bias 1.5·2^23 + 127: the low bits of
//     v = hi·log2e + magic hold n + 127, so v<<23 is 2^n (AVX2); AVX-512
//     scales by n with VSCALEFPS.
//   - t = hi − n·ln2hi − n·ln2lo + lo (Cody–Waite, two-part ln 2), so the
//     rounding error of x − m joins the reduced argument.
//   - exp(t) ≈ 1 + t·(c1 + t·(c2 + t·(c3 + t·(c4 + t·c5)))), a degree-5
//     relative minimax polynomial on [−ln2/2, ln2/2] (error 9.2e-8) with the
//     constant term exactly 1, so exp(0) = 1 exactly.
//   - e = 0 where x < t, the smallest float32 with x − m >= ln 2^-126 for
//     every smaller x: an ordered compare on x, so a NaN x stays NaN and
//     x = −Inf or x − m overflowing to −Inf give exactly 0 whatever the
//     arithmetic above produced for them. The caller computes t from m.
//
// The sum is split: ones counts the e that are exactly 1; rest adds the
// others in float32 vector accumulators (4 per iteration) that are folded
// into float64 lanes every block (at most 4 additions per lane between
// folds), so its error does not grow with n.

var expPoly = [...]float32{
	// c1..c5 of 1 + t·(c1 + t·(c2 + ...)): relative minimax on
	// [−ln2/2 − 1e-4, ln2/2 + 1e-4], computed by a Remez exchange.
	0x1.fffff6p-1,
	0x1.fffdc4p-2,
	0x1.555a6cp-3,
	0x1.573a9ap-5,
	0x1.0fa7fep-7,
}

const (
	ln2hi32 = 0x1.63p-1         // 0.693359375: 9 significant bits, n·ln2hi exact
	ln2lo32 = -0x1.bd0106p-13   // ln 2 − ln2hi
	magic32 = 0x1.8p23 + 127    // round-to-integer bias; low bits hold n + 127
	cutoff  = -87.3365447505531 // ln 2^-126 (the caller's threshold uses it)
)

// expConsts are the constants of the exp loop, in registers where there is
// room.
type expConsts struct {
	nm, t, magic, one   Register
	log2e, ln2hi, ln2lo Op
	c                   [5]Op
	onei                Register // AVX-512: int32 1s for the ones count
}

func (a *arch) expConsts(nm, t Register) *expConsts {
	k := &expConsts{nm: nm, t: t}
	k.magic = a.bcast(f32("magic32", magic32))
	k.one = a.bcast(f32("one32", 1))
	k.log2e = f32("log2e32", math.Log2E)
	k.ln2hi = f32("ln2hi32", ln2hi32)
	k.ln2lo = f32("ln2lo32", ln2lo32)
	names := []string{"expc1", "expc2", "expc3", "expc4", "expc5"}
	for i := range k.c {
		k.c[i] = f32(names[i], expPoly[i])
	}
	if a.z {
		// 32 registers: keep everything in them.
		k.log2e = a.bcast(k.log2e.(Mem))
		k.ln2hi = a.bcast(k.ln2hi.(Mem))
		k.ln2lo = a.bcast(k.ln2lo.(Mem))
		for i := range k.c {
			k.c[i] = a.bcast(k.c[i].(Mem))
		}
		k.onei = a.bcast(c32("onei32", 1))
	}
	return k
}

// expAcc holds the running sums of expSum.
type expAcc struct {
	acc   []VecVirtual // float32 partial sums of the e != 1
	cnt   VecVirtual   // int32 count of the e == 1 (AVX2 subtracts the −1 masks)
	sum64 VecVirtual   // float64 lanes: folded blocks
}

// expBody computes e = exp(x − m) for one vector, stores it when store is
// set, and adds it to acc (or counts it when it is exactly 1).
func (a *arch) expBody(k *expConsts, src Mem, dst *Mem, acc VecVirtual, cnt VecVirtual, t tail) {
	x := a.load(src, t)
	h := a.vec()
	VADDPS(k.nm, x, h) // hi = x − m
	lo := a.vec()
	hb := a.vec()
	VMINPS(k.nm, x, lo) // a: the larger magnitude
	VMAXPS(k.nm, x, hb) // b
	VSUBPS(lo, h, lo)   // z = hi − a
	VSUBPS(lo, hb, hb)  // lo = b − z
	v := a.vec()
	VMOVAPS(k.magic, v)
	VFMADD231PS(k.log2e, h, v) // v = hi·log2e + magic
	n := a.vec()
	VSUBPS(k.magic, v, n)       // n
	VFNMADD231PS(k.ln2hi, n, h) // hi − n·ln2hi
	VFNMADD231PS(k.ln2lo, n, h) // − n·ln2lo
	VADDPS(hb, h, h)            // + lo: the reduced argument
	p := a.vec()
	VMOVUPS(k.c[4], p)
	for i := 3; i >= 0; i-- {
		VFMADD213PS(k.c[i], h, p)
	}
	VFMADD213PS(k.one, h, p)
	if a.z {
		// keep = !(x < t): true for NaN; and only active lanes.
		keep := K()
		if t.full() {
			VCMPPS(U8(0x15), k.t, x, keep)
		} else {
			VCMPPS(U8(0x15), k.t, x, t.k, keep)
		}
		e := a.vec()
		VSCALEFPS_Z(n, p, keep, e)
		if dst != nil {
			a.store(e, *dst, t)
		}
		notOne := K()
		VCMPPS(U8(0x04), k.one, e, notOne) // e != 1 or NaN
		VADDPS(e, acc, notOne, acc)
		isOne := K()
		VCMPPS(U8(0x00), k.one, e, isOne)
		VPADDD(k.onei, cnt, isOne, cnt)
		return
	}
	VCMPPS(U8(0x11), k.t, x, x) // x < t (ordered): e = 0
	VPSLLD(U8(23), v, v)        // 2^n
	VMULPS(v, p, p)
	VANDNPS(p, x, p)
	if !t.full() {
		VANDPS(t.v, p, p)
	}
	if dst != nil {
		a.store(p, *dst, t)
	}
	VCMPPS(U8(0x00), k.one, p, x) // e == 1
	VANDNPS(p, x, p)
	VADDPS(p, acc, acc)
	VPSUBD(x, cnt, cnt)
}

// fold adds the float32 accumulators into the float64 ones and clears them.
func (a *arch) fold(s *expAcc) {
	addAll(VADDPS, append([]VecVirtual(nil), s.acc...))
	lo, hi := a.vec(), a.vec()
	VCVTPS2PD(a.half(s.acc[0]), lo)
	h := a.vec()
	if a.z {
		VEXTRACTF64X4(U8(1), s.acc[0], h.AsY())
		VCVTPS2PD(h.AsY(), hi)
	} else {
		VEXTRACTF128(U8(1), s.acc[0], h.AsX())
		VCVTPS2PD(h.AsX(), hi)
	}
	VADDPD(lo, s.sum64, s.sum64)
	VADDPD(hi, s.sum64, s.sum64)
	for _, v := range s.acc {
		a.zero(v)
	}
}

// expSum: the exp-and-sum pass, with or without storing e.
func (a *arch) expSum(store bool) {
	name := "expSum"
	sig := "func(dst, x []float32, nm, t float32) (rest float64, ones int)"
	doc := "stores e[i] = exp(x[i] + nm) to dst (len(dst) >= len(x))"
	if !store {
		name = "expSumNoStore"
		sig = "func(x []float32, nm, t float32) (rest float64, ones int)"
		doc = "computes e[i] = exp(x[i] + nm)"
	}
	a.fn(name, sig,
		name+a.suffix+" "+doc+", with e[i] = 0 where x[i] < t,",
		"and returns the sum of the e[i] that are not 1 and the count of those that are.")
	var d GPVirtual
	ptrs := []GPVirtual{}
	if store {
		d = slicePtr("dst")
		ptrs = append(ptrs, d)
	}
	x := slicePtr("x")
	ptrs = append(ptrs, x)
	xi := len(ptrs) - 1
	n := Load(Param("x").Len(), GP64()).(GPVirtual)
	nm, tv := a.vec(), a.vec()
	VBROADCASTSS(Load(Param("nm"), XMM()), nm)
	VBROADCASTSS(Load(Param("t"), XMM()), tv)
	k := a.expConsts(nm, tv)
	s := &expAcc{acc: make([]VecVirtual, 4), cnt: a.vec(), sum64: a.vec()}
	for i := range s.acc {
		s.acc[i] = a.vec()
		a.zero(s.acc[i])
	}
	a.zero(s.cnt)
	a.zero(s.sum64)
	st := streams{ptrs: ptrs, n: n}
	body := func(off int, acc VecVirtual, t tail) {
		var dm *Mem
		if store {
			m := st.mem(0, off)
			dm = &m
		}
		a.expBody(k, st.mem(xi, off), dm, acc, s.cnt, t)
	}
	const unroll, blocks = 4, 4
	w := a.lanes
	step := w * unroll
	it := GP64()
	Label("blocks")
	// it = min(n/step, blocks) iterations, then a fold.
	MOVQ(n, it)
	SHRQ(U8(shift(step)), it)
	JZ(LabelRef("single"))
	lim := GP64()
	MOVQ(U32(blocks), lim)
	CMPQ(it, lim)
	CMOVQHI(lim, it)
	MOVQ(it, lim)
	SHLQ(U8(shift(step)), lim)
	SUBQ(lim, n)
	Label("iter")
	for u := 0; u < unroll; u++ {
		body(4*w*u, s.acc[u], tail{})
	}
	st.advance(4 * step)
	DECQ(it)
	JNZ(LabelRef("iter"))
	a.fold(s)
	JMP(LabelRef("blocks"))

	Label("single")
	CMPQ(n, U32(w))
	JB(LabelRef("tail"))
	body(0, s.acc[0], tail{})
	st.advance(4 * w)
	SUBQ(U32(w), n)
	JMP(LabelRef("single"))

	Label("tail")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	body(0, s.acc[1], a.mask(n, w))
	Label("done")
	a.fold(s)
	rest := a.hsum64(s.sum64)
	Store(rest, ReturnIndex(0))
	// Count: sum the int32 lanes.
	c := s.cnt
	if a.z {
		h := YMM()
		VEXTRACTI64X4(U8(1), c, h)
		VPADDD(h, c.AsY(), h)
		c = h
	}
	cx := XMM()
	VEXTRACTI128(U8(1), c, cx)
	VPADDD(cx, c.AsX(), cx)
	t := XMM()
	VPSHUFD(U8(0x0e), cx, t)
	VPADDD(t, cx, cx)
	VPSHUFD(U8(0x01), cx, t)
	VPADDD(t, cx, cx)
	r := GP32()
	VMOVD(cx, r)
	ones := GP64()
	MOVLQSX(r, ones)
	Store(ones, ReturnIndex(1))
	VZEROUPPER()
	RET()
}

func shift(n int) int {
	s := 0
	for 1<<s < n {
		s++
	}
	return s
}
