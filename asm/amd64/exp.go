package main

import (
	"fmt"
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The float32 exp of expSum, where e must be exp(x − m) itself (LogSumExp,
// the cross-entropy loss and their "ones" count need it); Softmax's
// kernels have the cheaper table exp of exptotal.go.
//
// For d = x − m <= 0:
//   - x − m exactly, as hi + lo: the caller splits m = m' + m_lo with m' a
//     multiple of 2^-16 when |m| < 128 (else m' = m, m_lo = 0). Then
//     hi = fl(x − m'), z = hi + m', lo = (x − z) − m_lo: Fast2Sum(−m', x)
//     is exact for every x that matters (x >= m − 87.34, so |x| < 256 and
//     the lowest bit of m' is at or above x's ULP, Dekker's condition), or
//     x − m is exact by Sterbenz's lemma, or |m'| >= |x| (|m| >= 128).
//     Three additions instead of TwoSum's six and no ordering.
//   - n = round(hi·log2e) by the magic bias 1.5·2^23 + 127: the low bits of
//     v = hi·log2e + magic hold n + 127, so v<<23 is 2^n (AVX2); AVX-512
//     scales by n with VSCALEFPS.
//   - t = (hi − n·ln2hi) + (lo − n·ln2lo) (Cody–Waite, two-part ln 2), so
//     the rounding error of x − m joins the reduced argument.
//   - exp(t) ≈ 1 + c1·t + … + c6·t⁶ by Horner's rule, a degree-6 relative
//     minimax polynomial on [−ln2/2, ln2/2] (expPoly6: 0.75 ULP worst with
//     float32 evaluation) whose constant term is exactly 1, so exp(0) = 1
//     exactly. (Estrin's scheme measured the same speed here with two
//     instructions more: the loop is throughput-bound.)
//   - e = 0 where x < t, the smallest float32 with x − m >= ln 2^-126 for
//     every smaller x: an ordered compare on x, so a NaN x stays NaN and
//     x = −Inf or x − m overflowing to −Inf give exactly 0 whatever the
//     arithmetic above produced for them. The caller computes t from m.
//
// The sum is split: ones counts the e that are exactly 1; rest adds the
// others in float32 vector accumulators (2 for AVX2, 4 for AVX-512) that
// are folded into float64 lanes every block (at most 4 additions per lane
// between folds), so its error does not grow with n.

// expPoly6 is the polynomial of every exp variant: c1..c6 of
// 1 + t·(c1 + t·(c2 + ...)), relative minimax on [−ln2/2 − 1e-4,
// ln2/2 + 1e-4] with each coefficient rounded to float32
// before the next ones were refitted (Remez exchange), error 6.6e-9 (0.1
// ULP; 0.75 ULP worst with float32 Horner evaluation against 1.95 for
// degree 5): one FMA more per vector buys the margin that rows built
// where exp errs most need (TestAdversarialRows).
var expPoly6 = [...]float32{
	0x1p+00,
	0x1.fffffep-02,
	0x1.555494p-03,
	0x1.55564p-05,
	0x1.123dfap-07,
	0x1.6c7576p-10,
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
	nm                  Register
	t, nml              Op
	magic, one          Op
	log2e, ln2hi, ln2lo Op
	c                   []Op     // c1, c2, ...: the polynomial's coefficients
	onei                Register // AVX-512: int32 1s for the ones count
}

func (a *arch) expConsts(nm Register, nml, t Op) *expConsts {
	k := &expConsts{nm: nm, nml: nml, t: t}
	k.magic = f32("magic32", magic32)
	k.one = f32("one32", 1)
	k.log2e = f32("log2e32", math.Log2E)
	k.ln2hi = f32("ln2hi32", ln2hi32)
	k.ln2lo = f32("ln2lo32", ln2lo32)
	// Every variant uses the degree-6 polynomial: with degree 5, rows built
	// where exp errs most (TestAdversarialRows) took CrossEntropyGrad to
	// 4.2 ULP, the errors of e and of the sum adding up in e/Σe. (Rows
	// with |m| < 176 take the table kernels, expOnes, now: 3.1 ULP there.)
	for i, c := range expPoly6 {
		k.c = append(k.c, f32(fmt.Sprintf("exp6c%d", i+1), c))
	}
	if a.z {
		// 32 registers: keep everything in them.
		k.magic = a.bcast(k.magic.(Mem))
		k.one = a.bcast(k.one.(Mem))
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
	sum64 Op           // float64 lanes: folded blocks (AVX2: on the stack)
}

// expJob is one vector of an expSum iteration; expBodies interleaves the
// instructions of several jobs so that the out-of-order core sees
// independent work next to each other.
type expJob struct {
	src  Mem
	dst  *Mem
	acc  VecVirtual
	t    tail
	x, h VecVirtual
	a, b VecVirtual
	v, n VecVirtual
	p    VecVirtual
	keep OpmaskVirtual
}

// expBodies computes e = exp(x − m) for each job's vector, with e = 0
// where x < k.t, stores it when the job has a dst, and adds it to the
// job's acc, or counts it in cnt when it is exactly 1.
func (a *arch) expBodies(k *expConsts, jobs []*expJob, cnt VecVirtual) {
	steps := []func(j *expJob){
		func(j *expJob) { j.x = a.load(j.src, j.t) },
		func(j *expJob) { j.h = a.vec(); VADDPS(k.nm, j.x, j.h) }, // hi = x − m'
		func(j *expJob) {
			if a.z {
				// keep = !(x < t): true for NaN; and only active lanes.
				j.keep = K()
				if j.t.full() {
					VCMPPS(U8(0x15), k.t, j.x, j.keep)
				} else {
					VCMPPS(U8(0x15), k.t, j.x, j.t.k, j.keep)
				}
			}
		},
		func(j *expJob) { j.a = a.vec(); VSUBPS(k.nm, j.h, j.a) },    // z = hi + m'
		func(j *expJob) { j.v = a.vec(); VMOVUPS(k.magic, j.v) },     //
		func(j *expJob) { VFMADD231PS(k.log2e, j.h, j.v) },           // v = hi·log2e + magic
		func(j *expJob) { VSUBPS(j.a, j.x, j.a) },                    // lo = x − z
		func(j *expJob) { j.n = a.vec(); VSUBPS(k.magic, j.v, j.n) }, // n
		func(j *expJob) {
			if !a.z {
				VCMPPS(U8(0x11), k.t, j.x, j.x) // x < t (ordered): e = 0
			}
		},
		func(j *expJob) { VADDPS(k.nml, j.a, j.a) },         // lo − m_lo
		func(j *expJob) { VFNMADD231PS(k.ln2hi, j.n, j.h) }, // hi − n·ln2hi
		func(j *expJob) { VFNMADD231PS(k.ln2lo, j.n, j.a) }, // lo − n·ln2lo
		func(j *expJob) { VADDPS(j.a, j.h, j.h) },           // r, the reduced argument
		func(j *expJob) { j.p = a.vec(); VMOVUPS(k.c[len(k.c)-1], j.p) },
	}
	for i := len(k.c) - 2; i >= 0; i-- {
		c := k.c[i]
		steps = append(steps, func(j *expJob) { VFMADD213PS(c, j.h, j.p) })
	}
	steps = append(steps,
		func(j *expJob) { VFMADD213PS(k.one, j.h, j.p) }, // exp(r), Horner
	)
	if a.z {
		steps = append(steps,
			func(j *expJob) { VSCALEFPS_Z(j.n, j.p, j.keep, j.p) }, // cut and inactive lanes: 0
			func(j *expJob) {
				if j.dst != nil {
					a.store(j.p, *j.dst, j.t)
				}
			},
			func(j *expJob) {
				notOne := K()
				VCMPPS(U8(0x04), k.one, j.p, notOne) // e != 1 or NaN
				VADDPS(j.p, j.acc, notOne, j.acc)
			},
			func(j *expJob) {
				isOne := K()
				VCMPPS(U8(0x00), k.one, j.p, isOne)
				VPADDD(k.onei, cnt, isOne, cnt)
			},
		)
	} else {
		steps = append(steps,
			func(j *expJob) { VPSLLD(U8(23), j.v, j.v) }, // 2^n
			func(j *expJob) { VMULPS(j.v, j.p, j.p) },
			func(j *expJob) {
				VANDNPS(j.p, j.x, j.p)
				if !j.t.full() {
					VANDPS(j.t.v, j.p, j.p) // inactive lanes: 0
				}
			},
			func(j *expJob) {
				if j.dst != nil {
					a.store(j.p, *j.dst, j.t)
				}
			},
			func(j *expJob) { VCMPPS(U8(0x00), k.one, j.p, j.x) }, // e == 1
			func(j *expJob) { VANDNPS(j.p, j.x, j.p) },
			func(j *expJob) { VADDPS(j.p, j.acc, j.acc) },
			func(j *expJob) { VPSUBD(j.x, cnt, cnt) },
		)
	}
	for _, s := range steps {
		for _, j := range jobs {
			s(j)
		}
	}
}

// fold adds the float32 accumulators into the float64 ones and clears them.
func (a *arch) fold(s *expAcc) {
	addAll(VADDPS, append([]VecVirtual(nil), s.acc...))
	lo, hi := a.widenReg(s.acc[0])
	VADDPD(lo, hi, lo)
	if m, ok := s.sum64.(Mem); ok {
		VADDPD(m, lo, lo)
		VMOVUPD(lo, m)
	} else {
		VADDPD(lo, s.sum64, s.sum64)
	}
	for _, v := range s.acc {
		a.zero(v)
	}
}

// expSum: the exp-and-sum pass of everything but Softmax (which has
// expTotal): the split sum, with or without storing e.
func (a *arch) expSum(store bool) {
	name := "expSum"
	sig := "func(dst, x []float32, nm, nml, t float32) (rest float64, ones int)"
	doc := "stores e[i] = exp(x[i] + nm + nml) to dst (len(dst) >= len(x))"
	if !store {
		name = "expSumNoStore"
		sig = "func(x []float32, nm, nml, t float32) (rest float64, ones int)"
		doc = "computes e[i] = exp(x[i] + nm + nml)"
	}
	a.fn(name, sig, name+a.suffix+" "+doc+", with e[i] = 0 where x[i] < t,",
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
	// AVX2 has 16 registers: two interleaved vectors take 12, the
	// accumulators, the count and −m the rest, so t, −m_lo and the float64
	// sums live on the stack.
	nm, nmlv := a.vec(), a.vec()
	VBROADCASTSS(paramAddr("nm"), nm)
	VBROADCASTSS(paramAddr("nml"), nmlv)
	var t, nml Op = nil, nmlv
	tv := a.vec()
	VBROADCASTSS(paramAddr("t"), tv)
	t = tv
	var sum64 Op
	if a.z {
		sum64 = a.vec()
		a.zero(sum64.(VecVirtual))
	} else {
		tm := AllocLocal(32)
		VMOVUPS(tv, tm)
		t = tm
		lm := AllocLocal(32)
		VMOVUPS(nmlv, lm)
		nml = lm
		sm := AllocLocal(32)
		z := a.vec()
		a.zero(z)
		VMOVUPD(z, sm)
		sum64 = sm
	}
	k := a.expConsts(nm, nml, t)
	nacc := 2 // AVX2: 16 registers hold two interleaved vectors and two sums
	if a.z {
		nacc = 4
	}
	s := &expAcc{acc: make([]VecVirtual, nacc), sum64: sum64}
	s.cnt = a.vec()
	a.zero(s.cnt)
	for i := range s.acc {
		s.acc[i] = a.vec()
		a.zero(s.acc[i])
	}
	st := streams{ptrs: ptrs, n: n}
	job := func(off int, acc VecVirtual, t tail) *expJob {
		j := &expJob{src: st.mem(xi, off), acc: acc, t: t}
		if store {
			m := st.mem(0, off)
			j.dst = &m
		}
		return j
	}
	// Four vectors per iteration, as two interleaved pairs; each lane of
	// an accumulator takes at most 4 additions between folds.
	const unroll = 4
	blocks := 4 / (unroll / len(s.acc))
	w := a.lanes
	step := w * unroll
	Label("blocks")
	it := blockCount(n, step, blocks, "single")
	Label("iter")
	for u := 0; u < unroll; u += 2 {
		a.expBodies(k, []*expJob{
			job(4*w*u, s.acc[u%len(s.acc)], tail{}),
			job(4*w*(u+1), s.acc[(u+1)%len(s.acc)], tail{}),
		}, s.cnt)
	}
	st.advance(4 * step)
	DECQ(it)
	JNZ(LabelRef("iter"))
	a.fold(s)
	JMP(LabelRef("blocks"))

	Label("single")
	CMPQ(n, U32(w))
	JB(LabelRef("tail"))
	a.expBodies(k, []*expJob{job(0, s.acc[0], tail{})}, s.cnt)
	st.advance(4 * w)
	SUBQ(U32(w), n)
	JMP(LabelRef("single"))

	Label("tail")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	a.expBodies(k, []*expJob{job(0, s.acc[1], a.mask(n, w))}, s.cnt)
	Label("done")
	a.fold(s)
	var sv VecVirtual
	if m, ok := s.sum64.(Mem); ok {
		sv = a.vec()
		VMOVUPD(m, sv)
	} else {
		sv = s.sum64.(VecVirtual)
	}
	rest := a.hsum64(sv)
	ones := a.hsumCount(s.cnt)
	VZEROUPPER() // before the SSE store of rest
	Store(rest, ReturnIndex(0))
	Store(ones, ReturnIndex(1))
	RET()
}

// hsumCount returns the sum of cnt's int32 lanes, sign-extended.
func (a *arch) hsumCount(cnt VecVirtual) GPVirtual {
	// Count: sum the int32 lanes. AVX-512 stays at ZMM width: its count
	// register may be Z16–Z31, whose YMM and XMM halves only EVEX encodes,
	// and a 256- or 128-bit EVEX VPADDD needs AVX512VL, which the set does
	// not require (TestAVX512NoVL).
	var cx Register
	if a.z {
		c, h, q := cnt, ZMM(), ZMM()
		VEXTRACTI64X4(U8(1), c, h.AsY()) // zeroes h's upper half
		VPADDD(c, h, h)
		VEXTRACTI32X4(U8(1), h, q.AsX())
		VPADDD(h, q, q)
		sh := ZMM()
		VPSHUFD(U8(0x0e), q, sh)
		VPADDD(sh, q, q)
		VPSHUFD(U8(0x01), q, sh)
		VPADDD(sh, q, q)
		cx = q.AsX()
	} else {
		c, x := cnt, XMM()
		VEXTRACTI128(U8(1), c, x)
		VPADDD(x, c.AsX(), x)
		sh := XMM()
		VPSHUFD(U8(0x0e), x, sh)
		VPADDD(sh, x, x)
		VPSHUFD(U8(0x01), x, sh)
		VPADDD(sh, x, x)
		cx = x
	}
	r := GP32()
	VMOVD(cx, r)
	ones := GP64()
	MOVLQSX(r, ones)
	return ones
}

func shift(n int) int {
	s := 0
	for 1<<s < n {
		s++
	}
	return s
}

// blockCount starts a block of the exp loops: it returns it =
// min(n/step, blocks), the iterations before the next fold, and takes
// them off n; with no whole iteration left it jumps to done.
func blockCount(n GPVirtual, step, blocks int, done string) GPVirtual {
	it := GP64()
	MOVQ(n, it)
	SHRQ(U8(shift(step)), it)
	JZ(LabelRef(done))
	lim := GP64()
	MOVQ(U32(uint32(blocks)), lim)
	CMPQ(it, lim)
	CMOVQHI(lim, it)
	MOVQ(it, lim)
	SHLQ(U8(shift(step)), lim)
	SUBQ(lim, n)
	return it
}
