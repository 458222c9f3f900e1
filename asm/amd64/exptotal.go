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
//   - e = T + T·(q + τ[j]) with τ[j] = 2^(j/L)/T[j] − 1 from a second
//     table (expTau), one rounding: within 0.6 ULP (TestTableModelAccuracy),
//     where T's own rounding (up to 0.8 ULP for L = 16) made it 1.
//   - Each e is widened and added to float64 sums, so Σe errs by no more
//     than its terms: e's rounding and the rest, at most 1.25·2^-24
//     relative. With e's own error and the output's rounding (a whole ULP
//     where p falls just below a power of two), p = e/Σe stays within 3.5
//     ULP; rows built to line every error up reach 3.0 (TestCraftedRows).
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
	tau   Op   // T's rounding: 2^(j/L)/T[j] − 1
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

// expTau is the table of τ[j] = 2^(j/L)/T[j] − 1 for the rounded entries
// T[j] = fl(2^(j/L)), 64 bytes (AVX2 uses the first 32): e = T·(1 + q + τ)
// is 2^(j/L)·(1 + q) to within |τ·q| < 2^-28, where T·(1 + q) carried T's
// rounding, up to 2^-24 (TestCraftedRows: with the float32 rounding of e
// and of the pairs summed, Softmax reached 4.35 ULP).
func expTau(l int) Mem {
	name := fmt.Sprintf("exptau%d", l)
	if m, ok := consts[name]; ok {
		return m
	}
	m := GLOBL(name, RODATA|NOPTR)
	for j := 0; j < 16; j++ {
		v := float32(0)
		if j < l {
			x := math.Exp2(float64(j) / float64(l))
			v = float32(x/float64(float32(x)) - 1)
		}
		DATA(4*j, U32(math.Float32bits(v)))
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
	rt   VecVirtual // r + τ[j]
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
				VMOVUPS(j.src, j.r)
				VMOVUPS(j.r, j.v) // a copy, not a second load: loads bound the pass
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
		func(j *totalJob) { // r + τ[j], T's rounding, off the polynomial's chain
			j.rt = a.vec()
			VPERMPS(k.tau, j.v, j.rt)
			VADDPS(j.r, j.rt, j.rt)
		},
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
		func(j *totalJob) { VFMADD213PS(j.rt, j.r2, j.q) }, // q = r + τ + r²·(…)
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
// polynomial; AVX2 reads them from memory, except the two tables where
// hoist says the pass has the registers: loads bound AVX2's pass on a
// Zen 3 (ten a vector with τ's table, against eight), and the tables in
// registers and x loaded once took back most of what τ cost.
func (a *arch) tableConsts(c Register, t Op, hoist bool) *tableConsts {
	l := a.tableSize()
	k := &tableConsts{l: l, c: c, t: t}
	k.log2e = f32("log2e32", math.Log2E)
	k.ln2hi = f32("ln2hi32", ln2hi32)
	k.ln2lo = f32("ln2lo32", ln2lo32)
	k.table = expTable(l)
	k.tau = expTau(l)
	for i, c := range expTablePoly[l] {
		k.poly = append(k.poly, f32(fmt.Sprintf("exptab%dc%d", l, i+2), c))
	}
	if !a.z && hoist {
		k.table = a.bcast(k.table.(Mem))
		k.tau = a.bcast(k.tau.(Mem))
	}
	if a.z {
		k.log2e = a.bcast(k.log2e.(Mem))
		k.ln2hi = a.bcast(k.ln2hi.(Mem))
		k.ln2lo = a.bcast(k.ln2lo.(Mem))
		k.table = a.bcast(k.table.(Mem))
		k.tau = a.bcast(k.tau.(Mem))
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
	k := a.tableConsts(cv, t, !p.ones)
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
	// The float64 sums, of the low and the high lanes of each vector.
	var sums [2]VecVirtual
	if p.sum {
		for i := range sums {
			sums[i] = a.vec()
			a.zero(sums[i])
		}
	}
	// wide adds a vector's e, widened, to the float64 sums: no float32
	// rounding beyond e's own. Adding pairs of vectors in float32 first
	// took fewer instructions (5–7% of a pass in L1 on a Zen 3), but
	// its rounding, on top of e's, let rows built to align them reach
	// 4.35 ULP in Softmax (TestCraftedRows).
	wide := func(j *totalJob) {
		if !p.sum {
			return
		}
		var lo, hi VecVirtual
		if j.dst != nil && j.se == nil && j.t.full() {
			// From the stored e: no shuffle for the high half.
			lo, hi = a.vec(), a.vec()
			VCVTPS2PD(*j.dst, lo)
			h := *j.dst
			h.Disp += a.bytes() / 2
			VCVTPS2PD(h, hi)
		} else {
			lo, hi = a.widenReg(j.summed())
		}
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
	for u := 0; u < 4; u += per {
		var jobs []*totalJob
		for i := u; i < u+per; i++ {
			jobs = append(jobs, job(4*w*i, tail{}))
		}
		a.tableBodies(k, jobs)
		for _, j := range jobs {
			wide(j)
		}
	}
	st.advance(4 * step)
	DECQ(it)
	JNZ(LabelRef("iter"))

	// Fewer than four vectors left: up to three whole ones and a partial
	// one.
	Label("rest")
	TESTQ(n, n)
	JZ(LabelRef("sum"))
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
