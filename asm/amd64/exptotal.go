package main

import (
	"fmt"
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The exp of Softmax's pass (expSumTotal): e = exp(x − M·ln2) for a per-row
// M, M·ln2 within ln2/L below the max m. Softmax divides by Σe, so the
// factor exp(m − M·ln2) cancels, and without m in the argument no
// error-free x − m is needed: the reduction starts from x itself. The
// same exp serves LogSoftmax, LogSumExp and the cross-entropy (expOnes),
// which count the x == m apart from the others' sum (expSum's split)
// and divide the factor out of the sum in float64.
//
//   - v = x·log2e + c rounded to the grid 1/L by the bias c = magicL − M
//     (magicL = 1.5·2^(23−log2 L) has ULP 1/L): v = magicL + (N − M) with
//     N = x·log2e rounded to 1/L.
//   - N = v − c exactly; r = (x − N·ln2hi) − N·ln2lo, the first step exact
//     (N·ln2hi has at most 22 bits for |x| < 264, and x − N·ln2hi is a
//     difference of nearby values), so |r| <= ln2/(2L) to within roundings.
//   - exp(r) = 1 + q, q = r + r²·(c2 + c3·r [+ c4·r²]), relative error
//     below 2^-27: degree 3 for L = 16 (AVX-512), degree 4 for L = 8 (AVX2).
//   - 2^(N − M) = T[j]·2^k with j the low log2 L bits of v (the fraction,
//     in 1/L) and k = floor(N − M): VPERMPS looks up the table by those
//     bits, and v shifted left by 23 − log2 L puts k into the exponent
//     field and j just below it, which the table entries have subtracted
//     in advance: bits(T'[j]) = bits(2^(j/L)) − j<<(23 − log2 L).
//   - e = T·q + T, one rounding: about 1 ULP (T's own rounding and the
//     FMA's) against the 0.75 of the degree-6 kernels' polynomial.
//
// x >= t (the cutoff's threshold) gives x − M·ln2 >= ln 2^-126 − ... with
// M·ln2 <= m, so k >= −126: the exponent field never underflows; lanes
// below t, −Inf included, compute garbage that the cutoff mask zeroes. A
// NaN x gives a NaN q and so a NaN e. The caller takes rows with |m| < 176
// only (|x| < 264 keeps v in its binade and N·ln2hi exact; larger rows use
// the split kernels, where x − m is exact by Sterbenz's lemma anyway).

// tableConsts are the constants of the table exp.
type tableConsts struct {
	l     int // table entries: 2^(j/l)
	c     Register
	t     Op // the cutoff threshold (nil: no cutoff)
	log2e Op
	ln2hi Op
	ln2lo Op
	table Op
	poly  []Op // c2, c3, ...: the highest last
	// rhi, rlo: when not nil, e is stored times rhi + rlo (rounded once).
	rhi, rlo VecVirtual
	// m, when not nil: the x == m are counted in cnt (int32 lanes) and
	// left out of the sum (onei: AVX-512's 1s to count with).
	m, cnt, onei VecVirtual
}

// expTablePoly holds c2, c3 (and c4) of 1 + r + c2·r² + ... for each table
// size: relative Chebyshev fits on |r| <= 1.01·ln2/(2L), coefficients
// rounded to float32, worst error 4.9e-9 (L = 16) and 3.5e-10 (L = 8).
var expTablePoly = map[int][]float32{
	16: {0x1.00014ep-1, 0x1.555662p-3},
	8:  {0x1p-1, 0x1.555b9cp-3, 0x1.555984p-5},
}

func (a *arch) tableSize() int {
	if a.z {
		return 16
	}
	return 8
}

// expTable is the table of 2^(j/L) with j<<(23−log2 L) subtracted from
// each entry's bits, 64 bytes (AVX2 uses the first 32).
func expTable(l int) Mem {
	name := fmt.Sprintf("exptab%d", l)
	if m, ok := consts[name]; ok {
		return m
	}
	m := GLOBL(name, RODATA|NOPTR)
	s := 23 - shift(l)
	for j := 0; j < 16; j++ {
		v := uint32(0)
		if j < l {
			v = math.Float32bits(float32(math.Exp2(float64(j)/float64(l)))) - uint32(j)<<s
		}
		DATA(4*j, U32(v))
	}
	consts[name] = m
	return m
}

// totalJob is one vector of an expSumTotal iteration.
type totalJob struct {
	src  Mem
	dst  *Mem // nil: no store
	t    tail
	and  Op         // AVX2: when not nil, e &= and (softmaxSmall's lanes)
	v, r VecVirtual // v: x·log2e + c, then the exponent bits; r: the reduced argument
	r2   VecVirtual // r²
	n, q VecVirtual // n: N; q: the polynomial
	e    VecVirtual
	xt   VecVirtual    // AVX2 tail with the cutoff or ones: x, for the compares
	keep OpmaskVirtual // AVX-512: the lanes to keep (cutoff, tail)
	eq   OpmaskVirtual // AVX-512 ones: the active lanes where x == m
	sk   OpmaskVirtual // AVX-512 ones with a store: keep without them
	se   VecVirtual    // ones with a store: e without the x == m, to sum
}

// tableBodies computes e for each job (j.e) and stores it, interleaving
// the jobs' instructions step by step.
func (a *arch) tableBodies(k *tableConsts, jobs []*totalJob) {
	s := 23 - shift(k.l)
	steps := []func(j *totalJob){
		func(j *totalJob) {
			// x twice: one copy becomes v, the other r.
			j.v, j.r = a.vec(), a.vec()
			switch {
			case j.t.full():
				VMOVUPS(j.src, j.v)
				VMOVUPS(j.src, j.r)
			case a.z:
				VMOVUPS_Z(j.src, j.t.k, j.v)
				VMOVUPS_Z(j.src, j.t.k, j.r)
			default:
				loadTail(j.src, j.t, j.v, 32)
				VMOVUPS(j.v, j.r)
				if k.t != nil || k.m != nil {
					j.xt = a.vec()
					VMOVUPS(j.v, j.xt)
				}
			}
		},
		func(j *totalJob) {
			if !a.z {
				return
			}
			switch {
			case k.t != nil && j.t.full():
				j.keep = K()
				VCMPPS(U8(0x15), k.t, j.r, j.keep) // !(x < t): NaN too
			case k.t != nil:
				j.keep = K()
				VCMPPS(U8(0x15), k.t, j.r, j.t.k, j.keep)
			case !j.t.full():
				j.keep = j.t.k
			}
			if k.m == nil {
				return
			}
			// The lanes where x == m are counted, not summed: ones.
			j.eq = K()
			if j.t.full() {
				VCMPPS(U8(0x00), k.m, j.r, j.eq)
			} else {
				VCMPPS(U8(0x00), k.m, j.r, j.t.k, j.eq)
			}
			nk := K()
			if j.keep != nil {
				VCMPPS(U8(0x04), k.m, j.r, j.keep, nk) // keep, and x != m (or NaN)
			} else {
				VCMPPS(U8(0x04), k.m, j.r, nk)
			}
			if j.dst != nil {
				j.sk = nk
			} else {
				j.keep = nk
			}
		},
		func(j *totalJob) { VFMADD132PS(k.log2e, k.c, j.v) },       // v = x·log2e + c
		func(j *totalJob) { j.n = a.vec(); VSUBPS(k.c, j.v, j.n) }, // N
		func(j *totalJob) { VFNMADD231PS(k.ln2hi, j.n, j.r) },      // x − N·ln2hi, exact
		func(j *totalJob) { VFNMADD231PS(k.ln2lo, j.n, j.r) },      // r
		// q = exp(r) − 1 = r + r²·(c2 + c3·r [+ c4·r²]), Estrin's way: the
		// chain from r is three steps, not Horner's four or five, and
		// no more instructions (the loop is as much latency- as
		// throughput-bound where the scheduler is small: Zen 3).
		func(j *totalJob) { j.r2 = a.vec(); VMULPS(j.r, j.r, j.r2) },
		func(j *totalJob) { j.q = a.vec(); VMOVUPS(k.poly[1], j.q) },
		func(j *totalJob) { VFMADD213PS(k.poly[0], j.r, j.q) }, // c2 + c3·r
	}
	if len(k.poly) == 3 {
		steps = append(steps, func(j *totalJob) { VFMADD231PS(k.poly[2], j.r2, j.q) }) // + c4·r²
	}
	steps = append(steps,
		func(j *totalJob) { VFMADD213PS(j.r, j.r2, j.q) }, // q = r + r²·(…)
		func(j *totalJob) { j.e = a.vec(); VPERMPS(k.table, j.v, j.e) },
		func(j *totalJob) { VPSLLD(U8(s), j.v, j.v) },
		func(j *totalJob) { VPADDD(j.v, j.e, j.e) }, // T·2^k
		func(j *totalJob) {
			if j.keep != nil {
				VFMADD213PS_Z(j.e, j.q, j.keep, j.e) // dropped lanes: 0
			} else {
				VFMADD213PS(j.e, j.q, j.e) // e = T + T·q
			}
		},
		func(j *totalJob) {
			if a.z {
				return
			}
			if k.t != nil {
				// x < t (ordered), with x from memory: e = 0.
				c := a.vec()
				var src Op = j.src
				if !j.t.full() {
					src = j.xt
				}
				VCMPPS(U8(0x1e), src, k.t, c) // t > x
				VANDNPS(j.e, c, j.e)
			}
			if !j.t.full() {
				VANDPS(j.t.v, j.e, j.e) // inactive lanes: 0
			}
			if j.and != nil {
				VANDPS(j.and, j.e, j.e)
			}
			if k.m != nil {
				// x == m: counted in cnt (−1 lanes), left out of the sum.
				eq := a.vec()
				var src Op = j.src
				if !j.t.full() {
					src = j.xt
				}
				VCMPPS(U8(0x00), src, k.m, eq)
				if !j.t.full() {
					VANDPS(j.t.v, eq, eq)
				}
				VPSUBD(eq, k.cnt, k.cnt)
				if j.dst != nil {
					j.se = a.vec()
					VANDNPS(j.e, eq, j.se)
				} else {
					VANDNPS(j.e, eq, j.e)
				}
			}
		},
		func(j *totalJob) {
			if !a.z || j.eq == nil {
				return
			}
			VPADDD(k.onei, k.cnt, j.eq, k.cnt)
			if j.sk != nil {
				j.se = a.vec()
				VMOVUPS_Z(j.e, j.sk, j.se)
			}
		},
		func(j *totalJob) {
			if k.rhi != nil {
				p := a.vec()
				VMULPS(k.rlo, j.e, p)
				VFMADD213PS(p, k.rhi, j.e) // e·rhi + fl(e·rlo)
			}
		},
		func(j *totalJob) {
			if j.dst != nil {
				a.store(j.e, *j.dst, j.t)
			}
		},
	)
	for _, st := range steps {
		for _, j := range jobs {
			st(j)
		}
	}
}

// tableConsts returns the constants of the table exp for the bias c and
// the cutoff threshold t (nil: no cutoff). AVX-512 keeps them in registers
// (32 of them), except c3, which each vector loads as the start of its
// polynomial; AVX2 reads them from memory.
func (a *arch) tableConsts(c Register, t Op) *tableConsts {
	l := a.tableSize()
	k := &tableConsts{l: l, c: c, t: t}
	k.log2e = f32("log2e32", math.Log2E)
	k.ln2hi = f32("ln2hi32", ln2hi32)
	k.ln2lo = f32("ln2lo32", ln2lo32)
	k.table = expTable(l)
	for i, c := range expTablePoly[l] {
		k.poly = append(k.poly, f32(fmt.Sprintf("exptab%dc%d", l, i+2), c))
	}
	if a.z {
		k.log2e = a.bcast(k.log2e.(Mem))
		k.ln2hi = a.bcast(k.ln2hi.(Mem))
		k.ln2lo = a.bcast(k.ln2lo.(Mem))
		k.table = a.bcast(k.table.(Mem))
		k.poly[0] = a.bcast(k.poly[0].(Mem))
	}
	return k
}

// tablePass says what a table-exp pass does with e besides computing it.
type tablePass struct {
	name, sig string
	doc       []string
	cut       bool // e = 0 where x < t
	store     bool // e (or e·(rhi+rlo)) to dst
	scale     bool // stores e·(rhi+rlo), rounded once
	sum       bool // returns Σe
	pf        bool // prefetches pf bytes past x
	ones      bool // sums the e where x != m, counts the x == m
}

// expTotal: Softmax's exp-and-sum pass, with or without the cutoff.
func (a *arch) expTotal(nocut bool) {
	l := a.tableSize()
	p := tablePass{name: "expSumTotal", sig: "func(dst, x []float32, c, t float32, pf uintptr) float64",
		cut: !nocut, store: true, sum: true, pf: true}
	cutdoc := ", with e[i] = 0 where x[i] < t,"
	if nocut {
		p.name, p.sig = "expSumTotalNoCut", "func(dst, x []float32, c float32, pf uintptr) float64"
		cutdoc = " for every x[i] >= the cutoff's t or NaN,"
	}
	p.doc = []string{fmt.Sprintf("%s%s stores e[i] = exp(x[i] − M·ln2) to dst (len(dst) >= len(x))%s", p.name, a.suffix, cutdoc),
		fmt.Sprintf("where c = 1.5·2^%d − M, M a multiple of 1/%d, and returns the sum of all e[i].", 23-shift(l), l),
		"It prefetches the memory pf bytes past each part of x it reads (a hint: any address is safe)."}
	a.tablePass(p)
}

// expStream: the two passes of a row too long for the core's cache (see
// streamRow in table_amd64.go), which read x twice and write dst once:
// the sum of e without a store, and e divided by that sum.
func (a *arch) expStream() {
	l := a.tableSize()
	bias := fmt.Sprintf("where c = 1.5·2^%d − M, M a multiple of 1/%d.", 23-shift(l), l)
	a.tablePass(tablePass{name: "expSumTotalNoStore", sig: "func(x []float32, c, t float32) float64",
		cut: true, sum: true,
		doc: []string{"expSumTotalNoStore" + a.suffix + " returns the sum of e[i] = exp(x[i] − M·ln2), with e[i] = 0 where x[i] < t,", bias}})
	a.tablePass(tablePass{name: "expScale", sig: "func(dst, x []float32, c, t, rhi, rlo float32)",
		cut: true, store: true, scale: true,
		doc: []string{"expScale" + a.suffix + " stores e[i]·(rhi+rlo), rounded once, to dst (len(dst) >= len(x)) for e[i] = exp(x[i] − M·ln2),",
			"with e[i] = 0 where x[i] < t, " + bias}})
}

// expOnes: the table pass for LogSoftmax, LogSumExp and the cross-entropy,
// with and without a store: the split sum of expSum (the x == m counted,
// the others summed), from the table exp, which is cheaper than expSum's
// error-free x − m.
func (a *arch) expOnes() {
	l := a.tableSize()
	bias := fmt.Sprintf("where c = 1.5·2^%d − M, M a multiple of 1/%d,", 23-shift(l), l)
	ret := "and returns the sum of the e[i] where x[i] != m and the count of the x[i] == m."
	for _, cut := range []bool{true, false} {
		name, t, cutdoc := "expSumOnes", "t, ", ", with e[i] = 0 where x[i] < t,"
		if !cut {
			name, t, cutdoc = "expSumOnesNoCut", "", " for every x[i] >= the cutoff's t or NaN,"
		}
		a.tablePass(tablePass{name: name, sig: "func(dst, x []float32, c, " + t + "m float32) (rest float64, ones int)",
			cut: cut, store: true, sum: true, ones: true,
			doc: []string{name + a.suffix + " stores e[i] = exp(x[i] − M·ln2) to dst (len(dst) >= len(x))" + cutdoc, bias, ret}})
		name += "NoStore"
		a.tablePass(tablePass{name: name, sig: "func(x []float32, c, " + t + "m float32) (rest float64, ones int)",
			cut: cut, sum: true, ones: true,
			doc: []string{name + a.suffix + " computes e[i] = exp(x[i] − M·ln2)" + cutdoc, bias, ret}})
	}
}

// tablePass emits one table-exp pass over x.
func (a *arch) tablePass(p tablePass) {
	a.fn(p.name, p.sig, p.doc...)
	var ptrs []GPVirtual
	if p.store {
		ptrs = append(ptrs, slicePtr("dst"))
	}
	x := slicePtr("x")
	ptrs = append(ptrs, x)
	n := Load(Param("x").Len(), GP64()).(GPVirtual)
	var pf GPVirtual
	if p.pf {
		pf = Load(Param("pf"), GP64()).(GPVirtual)
	}
	cv := a.vec()
	VBROADCASTSS(paramAddr("c"), cv)
	var t Op
	if p.cut {
		tv := a.vec()
		VBROADCASTSS(paramAddr("t"), tv)
		t = tv
	}
	k := a.tableConsts(cv, t)
	if p.ones {
		k.m, k.cnt = a.vec(), a.vec()
		VBROADCASTSS(paramAddr("m"), k.m)
		a.zero(k.cnt)
		if a.z {
			k.onei = a.bcast(c32("onei32", 1))
		}
	}
	if p.scale {
		k.rhi, k.rlo = a.vec(), a.vec()
		VBROADCASTSS(paramAddr("rhi"), k.rhi)
		VBROADCASTSS(paramAddr("rlo"), k.rlo)
	}
	r, ones := a.tableLoop(p, k, ptrs, n, pf)
	VZEROUPPER() // before the SSE store of the sum
	if p.sum {
		Store(r, ReturnIndex(0))
	}
	if p.ones {
		Store(ones, ReturnIndex(1))
	}
	RET()
}

// tableLoop is tablePass's loop over the n elements at ptrs (x last, dst
// first where p stores; all advance), with pf bytes ahead of x prefetched
// where p.pf. It returns the sum in the low lane of r and the count of the
// ones where p asks for them.
func (a *arch) tableLoop(p tablePass, k *tableConsts, ptrs []GPVirtual, n, pf GPVirtual) (r VecVirtual, ones GPVirtual) {
	x := ptrs[len(ptrs)-1]
	// The float64 sums, of the low and the high lanes of the pairs that
	// pairSum widens.
	var sums [2]VecVirtual
	if p.sum {
		for i := range sums {
			sums[i] = a.vec()
			a.zero(sums[i])
		}
	}
	// pairSum adds e0 + e1 in float32 and that pair's lanes, widened, to
	// the float64 sums: every e meets one float32 rounding, no more (a
	// confident row's big term ~1 would otherwise take a rounding of 2^-24
	// at each level of a float32 sum: 3.5 ULP seen with two levels). The
	// pairs take fewer instructions than the float32 accumulators that
	// were folded every two iterations (widened, added as a tree, zeroed,
	// under a block counter): a pass in L1 on a Zen 3 is 5–7% faster, and
	// the float64 sums stay in registers on AVX2 too.
	pairSum := func(e0, e1 VecVirtual) {
		s := a.vec()
		VADDPS(e0, e1, s)
		lo, hi := a.widenReg(s)
		VADDPD(lo, sums[0], sums[0])
		VADDPD(hi, sums[1], sums[1])
	}
	st := streams{ptrs: ptrs, n: n}
	xi := len(ptrs) - 1
	job := func(off int, t tail) *totalJob {
		j := &totalJob{src: st.mem(xi, off), t: t}
		if p.store {
			d := st.mem(0, off)
			j.dst = &d
		}
		return j
	}
	// Four vectors per iteration, two pairs.
	w := a.lanes
	step := w * 4
	it := GP64()
	MOVQ(n, it)
	SHRQ(U8(shift(step)), it)
	JZ(LabelRef("rest"))
	ANDQ(U32(step-1), n)
	Label("iter")
	// The data the caller takes next (the next rows' x), pf bytes ahead,
	// into the cache while this pass computes: the max pass that reads it
	// next would otherwise wait for memory with little to do. On a Xeon
	// (Emerald Rapids), rows of 1000 to 128256: AVX2 12-20% faster,
	// AVX-512 ~3% (every line; every other line was slower).
	if p.pf {
		for off := 0; off < 4*step; off += 64 {
			PREFETCHT0(Mem{Base: x, Index: pf, Scale: 1, Disp: off})
		}
	}
	per := 4 // jobs interleaved
	switch {
	case !a.z && p.ones && p.store && p.cut:
		per = 1 // 16 registers, less t, m, the count and e to sum
	case !a.z, p.ones:
		per = 2 // 16 registers; 7 opmasks, 3 a vector with ones
	}
	var pending []*totalJob // summed in pairs, across groups of jobs
	for u := 0; u < 4; u += per {
		var jobs []*totalJob
		for i := u; i < u+per; i++ {
			jobs = append(jobs, job(4*w*i, tail{}))
		}
		a.tableBodies(k, jobs)
		if p.sum {
			pending = append(pending, jobs...)
			for ; len(pending) >= 2; pending = pending[2:] {
				pairSum(pending[0].summed(), pending[1].summed())
			}
		}
	}
	st.advance(4 * step)
	DECQ(it)
	JNZ(LabelRef("iter"))

	// Fewer than four vectors left: up to three whole ones and a partial
	// one, each added to the float64 sums on its own (no float32 rounding).
	Label("rest")
	TESTQ(n, n)
	JZ(LabelRef("sum"))
	wide := func(j *totalJob) {
		if p.sum {
			lo, hi := a.widenReg(j.summed())
			VADDPD(lo, sums[0], sums[0])
			VADDPD(hi, sums[1], sums[1])
		}
	}
	for i := 0; i < 3; i++ {
		CMPQ(n, U32(w))
		JB(LabelRef("tail"))
		j := job(0, tail{})
		a.tableBodies(k, []*totalJob{j})
		wide(j)
		st.advance(4 * w)
		SUBQ(U32(w), n)
	}
	Label("tail")
	TESTQ(n, n)
	JZ(LabelRef("sum"))
	j := job(0, a.mask(n, w))
	a.tableBodies(k, []*totalJob{j})
	wide(j)
	Label("sum")
	if !p.sum {
		return nil, nil
	}
	VADDPD(sums[1], sums[0], sums[0])
	r = a.hsum64(sums[0])
	if p.ones {
		ones = a.hsumCount(k.cnt)
	}
	return r, ones
}

// summed is the e that the job adds to the sum.
func (j *totalJob) summed() VecVirtual {
	if j.se != nil {
		return j.se
	}
	return j.e
}
