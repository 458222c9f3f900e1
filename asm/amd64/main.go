// Command amd64 generates the AVX2 and AVX-512 float32 kernels of package
// softmax (softmax_amd64.s), the AVX2 float64 kernels of its Softmax
// (f64.go), and their Go declarations (softmax_amd64.go).
//
// Run through go generate at the repository root. Both kernel sets come from
// the same code below, parameterised by the vector width: the avx2 set uses
// YMM registers, VEX masked moves for tails and vector masks for selects; the
// avx512 set uses ZMM registers and opmask registers for tails and selects,
// and only AVX-512F instructions.
package main

import (
	"fmt"
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"

	"github.com/gosimd/softmax/asm/internal/expfit"
)

// arch describes one kernel set.
type arch struct {
	suffix string // function name suffix: AVX2 or AVX512
	z      bool   // AVX-512: ZMM registers and opmasks
	lanes  int    // float32 lanes per vector
}

var (
	avx2   = &arch{suffix: "AVX2", lanes: 8}
	avx512 = &arch{suffix: "AVX512", z: true, lanes: 16}
)

// zero clears v (VPXORD for ZMM: VXORPS on ZMM would need AVX512DQ).
func (a *arch) zero(v VecVirtual) {
	if a.z {
		VPXORD(v, v, v)
	} else {
		VPXOR(v, v, v)
	}
}

func (a *arch) vec() VecVirtual {
	if a.z {
		return ZMM()
	}
	return YMM()
}

// bytes is the size of one vector of float32s.
func (a *arch) bytes() int { return 4 * a.lanes }

// half returns the register of v that holds half as many bits (the
// low half: Y of Z, X of Y).
func (a *arch) half(v Register) Register {
	if a.z {
		return v.(VecVirtual).AsY()
	}
	return v.(VecVirtual).AsX()
}

// tail is a partial vector: the lanes below the remaining count are active.
// For AVX2 it is a vector mask (all ones in active lanes) and the count;
// for AVX-512 an opmask. The zero value means a full vector.
type tail struct {
	v VecVirtual
	k OpmaskVirtual
	n GPVirtual // AVX2: the number of active lanes
}

func (t tail) full() bool { return t.v == nil && t.k == nil }

// constants ----------------------------------------------------------------

var consts = map[string]Mem{}

// c32 returns a 64-byte read-only table holding v in every float32 lane: a
// full-vector memory operand for YMM and ZMM code, and a broadcast source.
func c32(name string, v uint32) Mem {
	if m, ok := consts[name]; ok {
		return m
	}
	m := GLOBL(name, RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		DATA(4*i, U32(v))
	}
	consts[name] = m
	return m
}

func f32(name string, v float32) Mem { return c32(name, math.Float32bits(v)) }

// c64 is c32 for float64 lanes.
func c64(name string, v float64) Mem {
	if m, ok := consts[name]; ok {
		return m
	}
	m := GLOBL(name, RODATA|NOPTR)
	for i := 0; i < 8; i++ {
		DATA(8*i, U64(math.Float64bits(v)))
	}
	consts[name] = m
	return m
}

// bcast loads a constant table into a vector register.
func (a *arch) bcast(m Mem) VecVirtual {
	v := a.vec()
	VMOVUPS(m, v)
	return v
}

// tailMaskTables emits the tables that partial vectors take masks from.
func tailMaskTables() {
	// Eight all-ones dwords, then eight zero dwords: the 32 bytes at
	// dword 8−r have ones in exactly the first r lanes (r = 0..8).
	GLOBL("tailmask", RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		v := uint32(0)
		if i < 8 {
			v = 0xffffffff
		}
		DATA(4*i, U32(v))
	}
	consts["tailmask"] = NewDataAddr(NewStaticSymbol("tailmask"), 0)
	// (1<<r)−1 for r = 0..16, as 16-bit opmasks.
	GLOBL("tailk", RODATA|NOPTR)
	for r := 0; r <= 16; r++ {
		DATA(2*r, U16(uint16(1<<r-1)))
	}
	consts["tailk"] = NewDataAddr(NewStaticSymbol("tailk"), 0)
}

// mask builds the tail for r remaining elements, 0 < r < lanes·(bits/32)
// where bits is the width of the register the mask applies to (lanesOf
// float32 lanes). r is clobbered.
func (a *arch) mask(r GPVirtual, lanesOf int) tail {
	base := GP64()
	if a.z {
		LEAQ(consts["tailk"], base)
		k := K()
		KMOVW(Mem{Base: base, Index: r, Scale: 2}, k)
		return tail{k: k}
	}
	LEAQ(consts["tailmask"], base)
	i := GP64()
	MOVQ(U32(8), i)
	SUBQ(r, i)
	var v VecVirtual
	if lanesOf == 4 {
		v = XMM()
		VMOVDQU(Mem{Base: base, Index: i, Scale: 4}, v)
	} else {
		v = YMM()
		VMOVDQU(Mem{Base: base, Index: i, Scale: 4}, v)
	}
	return tail{v: v, n: r}
}

// AVX2 tails that cross into the next page go through a stack buffer,
// copied element by element with general-purpose moves: VMASKMOVPS would
// do (masked lanes never fault on hardware), but emulators such as qemu's
// TCG read and write the whole vector, and the test suite runs under qemu
// against guard pages. Stores always take the buffer: a masked store
// writes the whole vector there, and is microcoded on some AMD cores.
var (
	tailBuf *Mem
	seq     int
)

func label(s string) string {
	seq++
	return fmt.Sprintf("%s_%d", s, seq)
}

func buffer() Mem {
	if tailBuf == nil {
		m := AllocLocal(32)
		tailBuf = &m
	}
	return *tailBuf
}

// copyDwords copies n 4-byte elements from src to dst.
func copyDwords(src, dst Mem, n GPVirtual) {
	i := GP64()
	XORQ(i, i)
	loop, done := label("copy"), label("copied")
	Label(loop)
	CMPQ(i, n)
	JAE(LabelRef(done))
	v := GP32()
	s, d := src, dst
	s.Index, s.Scale = i, 4
	d.Index, d.Scale = i, 4
	MOVL(s, v)
	MOVL(v, d)
	INCQ(i)
	JMP(LabelRef(loop))
	Label(done)
}

// loadTail reads t.n float32s from m into a register of bytes bytes (16 or
// 32), the other lanes zero. Where the bytes bytes from m lie in one 4 KiB
// page (all but a few tails in a thousand), one VMASKMOVPS: the hardware
// does not access the masked-off lanes, and an emulator that reads the
// whole vector stays in a mapped page. Else the stack buffer, whose
// vector load after the element stores costs a failed store forward
// (~20 ns a call on Zen 3).
func loadTail(m Mem, t tail, x VecVirtual, bytes int) {
	page, done := label("tail_page"), label("tail_loaded")
	p := GP64()
	LEAQ(m, p)
	ANDQ(U32(4095), p)
	CMPQ(p, U32(4096-bytes))
	JA(LabelRef(page))
	if bytes == 16 {
		VMASKMOVPS(m, t.v.AsX(), x.AsX())
	} else {
		VMASKMOVPS(m, t.v, x)
	}
	JMP(LabelRef(done))
	Label(page)
	b := buffer()
	z := YMM()
	VPXOR(z, z, z)
	VMOVDQU(z, b)
	copyDwords(m, b, t.n)
	if bytes == 16 {
		VMOVUPS(b, x.AsX())
	} else {
		VMOVUPS(b, x)
	}
	Label(done)
}

// memory moves ---------------------------------------------------------------

// load reads a vector of float32s (all lanes, or the tail's active lanes with
// the others zero, never touching memory outside them).
func (a *arch) load(m Mem, t tail) VecVirtual {
	x := a.vec()
	switch {
	case t.full():
		VMOVUPS(m, x)
	case a.z:
		VMOVUPS_Z(m, t.k, x)
	default:
		loadTail(m, t, x, 32)
	}
	return x
}

// store writes a vector of float32s (all lanes or the tail's active lanes).
func (a *arch) store(x Register, m Mem, t tail) {
	switch {
	case t.full():
		VMOVUPS(x, m)
	case a.z:
		VMOVUPS(x, t.k, m)
	default:
		b := buffer()
		VMOVUPS(x, b)
		copyDwords(b, m, t.n)
	}
}

// reductions -----------------------------------------------------------------

// hsum64 adds the float64 lanes of v into the low lane of the returned XMM.
func (a *arch) hsum64(v VecVirtual) VecVirtual {
	y := v
	if a.z {
		h := YMM()
		VEXTRACTF64X4(U8(1), v, h)
		VADDPD(h, v.AsY(), h)
		y = h
	}
	x := XMM()
	VEXTRACTF128(U8(1), y, x)
	VADDPD(x, y.AsX(), x)
	s := XMM()
	VPERMILPD(U8(1), x, s)
	VADDSD(s, x, x)
	return x
}

// addAll adds vs pairwise into vs[0] using op.
func addAll(op func(...Op), vs []VecVirtual) {
	for len(vs) > 1 {
		h := (len(vs) + 1) / 2
		for i := 0; i+h < len(vs); i++ {
			op(vs[i+h], vs[i], vs[i])
		}
		vs = vs[:h]
	}
}

// loop framework -------------------------------------------------------------

// streams describes a pass over equal-length float32 slices: the pointers
// advance together.
type streams struct {
	ptrs []GPVirtual
	n    GPVirtual
}

func (s streams) advance(bytes int) {
	for _, p := range s.ptrs {
		ADDQ(U32(bytes), p)
	}
}

func (s streams) mem(i, off int) Mem { return Mem{Base: s.ptrs[i], Disp: off} }

// elementwise emits the loop of an elementwise pass: unroll units of width
// elements each per iteration, then single units, then one partial unit.
// body(u, t) processes unit u (its byte offset is u·4·width) with tail t.
// after, when not nil, runs after each full iteration (block folds).
func elementwise(a *arch, s streams, name string, width, unroll int, maskLanes int, body func(off int, t tail)) {
	step := width * unroll
	Label(name + "_loop")
	CMPQ(s.n, U32(step))
	JB(LabelRef(name + "_single"))
	for u := 0; u < unroll; u++ {
		body(4*width*u, tail{})
	}
	s.advance(4 * step)
	SUBQ(U32(step), s.n)
	JMP(LabelRef(name + "_loop"))

	Label(name + "_single")
	CMPQ(s.n, U32(width))
	JB(LabelRef(name + "_tail"))
	body(0, tail{})
	s.advance(4 * width)
	SUBQ(U32(width), s.n)
	JMP(LabelRef(name + "_single"))

	Label(name + "_tail")
	TESTQ(s.n, s.n)
	JZ(LabelRef(name + "_done"))
	body(0, a.mask(s.n, maskLanes))
	Label(name + "_done")
}

// paramAddr is the stack address of a scalar argument. Kernels read float
// arguments with VEX instructions straight from it: avo's Load uses SSE
// moves (MOVSS/MOVSD), and a legacy SSE instruction while the upper YMM
// state is dirty costs a transition stall (about 100 ns on some CPUs).
func paramAddr(name string) Mem {
	b, err := Param(name).Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}

func slicePtr(name string) GPVirtual { return Load(Param(name).Base(), GP64()).(GPVirtual) }

// kernels --------------------------------------------------------------------

func (a *arch) fn(name, sig string, doc ...string) {
	tailBuf = nil
	TEXT(name+a.suffix, NOSPLIT, sig)
	Doc(doc...)
	// No kernel keeps a pointer: callers may pass stack buffers.
	Pragma("noescape")
}

// max: the largest element, −Inf for an empty slice.
func (a *arch) max() {
	a.fn("max", "func(x []float32) float32",
		"max"+a.suffix+" returns the largest element of x (−Inf when empty).")
	x := slicePtr("x")
	n := Load(Param("x").Len(), GP64()).(GPVirtual)
	neg := f32("neginf32", float32(math.Inf(-1)))
	acc := make([]VecVirtual, 4)
	for i := range acc {
		acc[i] = a.bcast(neg)
	}
	s := streams{ptrs: []GPVirtual{x}, n: n}
	body := func(off int, u int, t tail) {
		m := s.mem(0, off)
		switch {
		case t.full():
			VMAXPS(m, acc[u], acc[u])
		case a.z:
			VMAXPS(m, acc[u], t.k, acc[u]) // masked-off lanes keep acc
		default:
			v := a.load(m, t)
			ninf := a.bcast(neg)
			VBLENDVPS(t.v, v, ninf, v) // inactive lanes: −Inf
			VMAXPS(v, acc[u], acc[u])
		}
	}
	elementwise(a, s, "max", a.lanes, 4, a.lanes, func(off int, t tail) {
		u := off / a.bytes()
		if !t.full() {
			u = 1
		}
		body(off, u, t)
	})
	addAll(VMAXPS, acc)
	xm := a.reduceLanes(VMAXPS, acc[0])
	VZEROUPPER()
	Store(xm, ReturnIndex(0))
	RET()
}

// reduceLanes reduces the lanes of v with op (VMAXPS or VMINPS) into the
// low lane of the returned XMM.
func (a *arch) reduceLanes(op func(...Op), v VecVirtual) VecVirtual {
	if a.z {
		h := YMM()
		VEXTRACTF64X4(U8(1), v, h)
		op(h, v.AsY(), h)
		v = h
	}
	xm := XMM()
	VEXTRACTF128(U8(1), v, xm)
	op(xm, v.AsX(), xm)
	t := XMM()
	VPERMILPS(U8(0x0e), xm, t)
	op(t, xm, xm)
	VPERMILPS(U8(0x01), xm, t)
	op(t, xm, xm)
	return xm
}

// maxMin: the largest and the smallest element in one pass (−Inf and +Inf
// for an empty slice). A NaN may be skipped or returned by either, and
// with a NaN the min of the other elements is not guaranteed: the caller
// sees the NaN through the exp sum.
func (a *arch) maxMin() {
	a.fn("maxMin", "func(x []float32) (max, min float32)",
		"maxMin"+a.suffix+" returns the largest and the smallest element of x (−Inf and +Inf when empty).")
	x := slicePtr("x")
	n := Load(Param("x").Len(), GP64()).(GPVirtual)
	mx, mn := a.maxMinLoop(x, n)
	VZEROUPPER()
	Store(mx, ReturnIndex(0))
	Store(mn, ReturnIndex(1))
	RET()
}

// maxMinLoop is maxMin's pass over the n float32s at x (both advance),
// the max and min in the low lanes of the returned XMMs.
func (a *arch) maxMinLoop(x, n GPVirtual) (mx, mn VecVirtual) {
	neg := f32("neginf32", float32(math.Inf(-1)))
	pos := f32("posinf32", float32(math.Inf(1)))
	const unroll = 4
	hi, lo := make([]VecVirtual, unroll), make([]VecVirtual, unroll)
	for i := range hi {
		hi[i] = a.bcast(neg)
		lo[i] = a.bcast(pos)
	}
	s := streams{ptrs: []GPVirtual{x}, n: n}
	elementwise(a, s, "maxmin", a.lanes, unroll, a.lanes, func(off int, t tail) {
		u := off / a.bytes()
		m := s.mem(0, off)
		switch {
		case t.full():
			v := a.load(m, t)
			VMAXPS(v, hi[u], hi[u])
			VMINPS(v, lo[u], lo[u])
		case a.z:
			v := a.load(m, t)
			VMAXPS(v, hi[1], t.k, hi[1]) // masked-off lanes keep the accumulators
			VMINPS(v, lo[1], t.k, lo[1])
		default:
			v := a.load(m, t)
			w := a.vec()
			VBLENDVPS(t.v, v, a.bcast(neg), w) // inactive lanes: −Inf
			VMAXPS(w, hi[1], hi[1])
			VBLENDVPS(t.v, v, a.bcast(pos), v) // inactive lanes: +Inf
			VMINPS(v, lo[1], lo[1])
		}
	})
	addAll(VMAXPS, hi)
	addAll(VMINPS, lo)
	return a.reduceLanes(VMAXPS, hi[0]), a.reduceLanes(VMINPS, lo[0])
}

// div: dst = x·(rhi + rlo), where rhi + rlo is 1/s in double-float32: the
// product is x·rhi + fl(x·rlo) rounded once by the FMA.
func (a *arch) div() {
	a.fn("div", "func(dst, x []float32, rhi, rlo float32, pf uintptr)",
		"div"+a.suffix+" stores dst[i] = x[i]·(rhi+rlo), rounded once; len(dst) >= len(x).",
		"Unless pf is 0 it prefetches the memory pf bytes past each part of dst it writes (a hint: any address is safe).")
	d := slicePtr("dst")
	x := slicePtr("x")
	n := Load(Param("x").Len(), GP64()).(GPVirtual)
	pf := Load(Param("pf"), GP64()).(GPVirtual)
	hi, lo := a.vec(), a.vec()
	VBROADCASTSS(paramAddr("rhi"), hi)
	VBROADCASTSS(paramAddr("rlo"), lo)
	s := streams{ptrs: []GPVirtual{d, x}, n: n}
	body := func(prefetch bool) func(off int, t tail) {
		return func(off int, t tail) {
			if prefetch && t.full() && off%64 == 0 {
				PREFETCHT0(Mem{Base: d, Index: pf, Scale: 1, Disp: off})
			}
			v := a.load(s.mem(1, off), t)
			p := a.vec()
			VMULPS(lo, v, p)
			VFMADD231PS(hi, v, p)
			a.store(p, s.mem(0, off), t)
		}
	}
	// Two loops: the prefetches would cost a loop that is bound by its
	// loads and stores a sixth of its speed (llvm-mca, Ice Lake server:
	// 5.6 against 4.6 cycles per 256 bytes) where there is nothing to fetch.
	TESTQ(pf, pf)
	JZ(LabelRef("div_plain"))
	elementwise(a, s, "div_pf", a.lanes, 4, a.lanes, body(true))
	VZEROUPPER()
	RET()
	Label("div_plain")
	elementwise(a, s, "div", a.lanes, 4, a.lanes, body(false))
	VZEROUPPER()
	RET()
}

// float64 lanes --------------------------------------------------------------

// widen loads a unit of float32s (one vector's worth) as two float64 vectors.
func (a *arch) widen(m Mem, t tail) (lo, hi VecVirtual) {
	lo, hi = a.vec(), a.vec()
	hb := a.bytes() / 2
	switch {
	case t.full():
		VCVTPS2PD(m, lo)
		VCVTPS2PD(m.Offset(hb), hi)
	case a.z:
		kh := K()
		KSHIFTRW(U8(8), t.k, kh)
		VCVTPS2PD_Z(m, t.k, lo)
		VCVTPS2PD_Z(m.Offset(hb), kh, hi)
	default:
		v := a.load(m, t)
		VCVTPS2PD(v.AsX(), lo)
		h := XMM()
		VEXTRACTF128(U8(1), v, h)
		VCVTPS2PD(h, hi)
	}
	return lo, hi
}

// widenReg converts v's float32 lanes to float64 in two vectors, in
// registers: a load of a half stored just before fails store forwarding on
// Intel cores and stalls the loop around it.
func (a *arch) widenReg(v VecVirtual) (lo, hi VecVirtual) {
	lo, hi = a.vec(), a.vec()
	VCVTPS2PD(a.half(v), lo)
	h := a.vec()
	if a.z {
		VEXTRACTF64X4(U8(1), v, h.AsY())
		VCVTPS2PD(h.AsY(), hi)
	} else {
		VEXTRACTF128(U8(1), v, h.AsX())
		VCVTPS2PD(h.AsX(), hi)
	}
	return lo, hi
}

// narrow rounds two float64 vectors to float32 and stores them as one unit.
func (a *arch) narrow(lo, hi VecVirtual, m Mem, t tail) {
	a.store(a.narrowReg(lo, hi), m, t)
}

// narrowReg rounds two float64 vectors to float32 into one vector, the
// inverse of widenReg.
func (a *arch) narrowReg(lo, hi VecVirtual) VecVirtual {
	o := a.vec()
	h := a.vec()
	if a.z {
		VCVTPD2PS(lo, o.AsY())
		VCVTPD2PS(hi, h.AsY())
		VINSERTF64X4(U8(1), h.AsY(), o, o)
	} else {
		VCVTPD2PSY(lo, o.AsX())
		VCVTPD2PSY(hi, h.AsX())
		VINSERTF128(U8(1), h.AsX(), o, o)
	}
	return o
}

func (a *arch) bcast64(name string) VecVirtual {
	v := a.vec()
	VBROADCASTSD(paramAddr(name), v)
	return v
}

// sub: dst = float32((float64(x) − float64(m)) − l), as generic computes it.
func (a *arch) sub() {
	a.fn("sub", "func(dst, x []float32, m float32, l float64)",
		"sub"+a.suffix+" stores dst[i] = (x[i] − m) − l computed in float64 and rounded once.")
	d := slicePtr("dst")
	x := slicePtr("x")
	n := Load(Param("x").Len(), GP64()).(GPVirtual)
	m := a.vec()
	mx := XMM()
	VMOVSS(paramAddr("m"), mx)
	VCVTSS2SD(mx, mx, mx)
	VBROADCASTSD(mx, m)
	a.subLoop(d, x, n, m, a.bcast64("l"))
	VZEROUPPER()
	RET()
}

// subLoop is sub's pass over the n elements at x to d (both advance), with
// m and l broadcast in float64 lanes.
func (a *arch) subLoop(d, x, n GPVirtual, m, l VecVirtual) {
	s := streams{ptrs: []GPVirtual{d, x}, n: n}
	elementwise(a, s, "sub", a.lanes, 2, a.lanes, func(off int, t tail) {
		lo, hi := a.widen(s.mem(1, off), t)
		VSUBPD(m, lo, lo)
		VSUBPD(m, hi, hi)
		VSUBPD(l, lo, lo)
		VSUBPD(l, hi, hi)
		a.narrow(lo, hi, s.mem(0, off), t)
	})
}

// mulSub: dx = float32(float64(p)·((float64(dy) − s) − c)), s + c
// being dot's pair: where dy cancels against s, dy − s is exact and c
// keeps the digits that s lost.
func (a *arch) mulSub() {
	a.fn("mulSub", "func(dx, p, dy []float32, s, c float64)",
		"mulSub"+a.suffix+" stores dx[i] = p[i]·((dy[i] − s) − c) computed in float64 and rounded once.")
	d := slicePtr("dx")
	p := slicePtr("p")
	y := slicePtr("dy")
	n := Load(Param("dx").Len(), GP64()).(GPVirtual)
	a.mulSubLoop(d, p, y, n, a.bcast64("s"), a.bcast64("c"))
	VZEROUPPER()
	RET()
}

// mulSubLoop is mulSub's pass over the n elements at d, p and y (all
// advance), with s and c broadcast.
func (a *arch) mulSubLoop(d, p, y, n GPVirtual, sv, cv VecVirtual) {
	s := streams{ptrs: []GPVirtual{d, p, y}, n: n}
	elementwise(a, s, "mulsub", a.lanes, 2, a.lanes, func(off int, t tail) {
		plo, phi := a.widen(s.mem(1, off), t)
		ylo, yhi := a.widen(s.mem(2, off), t)
		VSUBPD(sv, ylo, ylo)
		VSUBPD(sv, yhi, yhi)
		VSUBPD(cv, ylo, ylo)
		VSUBPD(cv, yhi, yhi)
		VMULPD(plo, ylo, ylo)
		VMULPD(phi, yhi, yhi)
		a.narrow(ylo, yhi, s.mem(0, off), t)
	})
}

// exp64Opts vary exp64N: the bound lo below which the result is 0, the
// degree of the polynomial, and whether x <= lo or x <= 0 always holds
// (no clamp, no overflow check: below lo the result is 0 whatever the
// arithmetic gave, −Inf included).
type exp64Opts struct {
	lo      Mem
	degree  int
	negOnly bool
	// horner evaluates degree 11 by Horner's rule, not Estrin's scheme,
	// whose temporaries the AVX2 small-row kernels have no registers for.
	horner bool
}

// exp64With is exp64N of one vector.
func (a *arch) exp64With(x VecVirtual, o exp64Opts) VecVirtual {
	return a.exp64N([]VecVirtual{x}, o)[0]
}

// exp64N computes exp(x) for each x of xs in float64 lanes to about
// float64 accuracy where exp(x) >= 2^-1021. Which results are 0 or +Inf
// follows Go's math.Exp on amd64, which the generic kernels use, so that
// which outputs are NaN (∞·0) or ±Inf (e·∞) matches generic: 0 below
// −745.1332191019412 (where exp underflows to 0), +Inf above
// 709.436139303104 (where the amd64 math.Exp overflows). Between −745.13
// and ln 2^-1021 the result is tiny but not the subnormal exp(x): x is
// clamped to ln 2^-1021, a value whose product with any sum of float32s
// vanishes next to a float32 anyway. NaN stays NaN. o varies it.
//
// Its steps are emitted in turns across xs: the polynomial is a chain of
// dependent FMAs, and the scheduler, fed one vector's whole chain after
// the other's, held too few of them in flight (LogSoftmaxBackward's exp
// pass ran at 26 cycles a vector on a Zen 3). The results are the same,
// bit for bit, for any number of xs.
func (a *arch) exp64N(xs []VecVirtual, o exp64Opts) []VecVirtual {
	vecs := func() []VecVirtual {
		vs := make([]VecVirtual, len(xs))
		for i := range vs {
			vs[i] = a.vec()
		}
		return vs
	}
	// n = round(x·log2e) via the magic bias 1.5·2^52 + 1022: the low bits of
	// v then hold n + 1022, so v<<52 is 2^(n−1), and the polynomial returns
	// 2·exp(r), which keeps n = 1024 in range.
	magic := c64("magic64", 0x1.8p52+1022)
	xc := xs
	if !o.negOnly {
		xc = vecs()
		for i := range xs {
			VMOVUPD(c64("exp64min", -707.703310327652), xc[i])
			VMAXPD(xs[i], xc[i], xc[i]) // max(min, x), and NaN when x is NaN
		}
	}
	v, nf := vecs(), vecs()
	for i := range xs {
		VMOVUPD(magic, v[i])
		VFMADD231PD(c64("log2e64", math.Log2E), xc[i], v[i])
	}
	for i := range xs {
		VSUBPD(magic, v[i], nf[i])
	}
	var r []VecVirtual
	if o.degree > 8 {
		// ln 2 in two parts: n·ln2hi is exact.
		r = vecs()
		for i := range xs {
			VMOVAPD(xc[i], r[i])
			VFNMADD231PD(c64("ln2hi64", 0x1.62e42fee00000p-1), nf[i], r[i])
		}
		for i := range xs {
			VFNMADD231PD(c64("ln2lo64", 0x1.a39ef35793c76p-33), nf[i], r[i])
		}
	} else {
		// One FMA with ln 2 rounded, into n's register: where the result
		// is not zeroed (|n| <= 127 for the float32 cutoff), r is within
		// 2^-48 of x − n·ln2, far under the degree-8 polynomial's 2^-37.
		r = nf
		for i := range xs {
			VFNMADD132PD(c64("ln2_64", math.Ln2), xc[i], r[i]) // r = −(r·ln2) + x
		}
	}
	// 2·exp(r) by a polynomial fitted on |r| <= ln2/2 with c0 = c1 = 2
	// (exp(0) = 1 exactly): within 2^-51 for degree 11, 2^-37 for degree
	// 8 (the Taylor series: 2^-47 and 2^-32).
	cs := expfit.Coeffs(o.degree)
	coef := func(k int) Mem { return c64(fmt.Sprintf("exp64c%d_%d", o.degree, k), cs[k]) }
	var p []VecVirtual
	if o.degree == 11 && !o.horner {
		// Estrin: 5 FMAs deep, not Horner's 11 (SoftCrossEntropyGrad's
		// two exp passes waited on that chain on a Zen 3).
		for i := range xs {
			r2 := a.vec()
			VMULPD(r[i], r[i], r2)
			p = append(p, a.estrin11(r[i], r2, coef))
		}
	} else {
		p = vecs()
		for i := range xs {
			VMOVUPD(coef(o.degree), p[i])
		}
		for k := o.degree - 1; k >= 0; k-- {
			for i := range xs {
				VFMADD213PD(coef(k), r[i], p[i])
			}
		}
	}
	for i, x := range xs {
		VPSLLQ(U8(52), v[i], v[i])
		VMULPD(v[i], p[i], p[i])
		if a.z {
			klo := K()
			VCMPPD(U8(0x05), o.lo, x, klo) // !(x < lo): keep, NaN too
			VMOVAPD_Z(p[i], klo, p[i])
			if !o.negOnly {
				khi := K()
				VCMPPD(U8(0x1e), c64("exp64hi", expHi64), x, khi) // x > hi (ordered)
				VMOVUPD(c64("inf64", math.Inf(1)), khi, p[i])
			}
		} else {
			below := a.vec()
			VCMPPD(U8(0x11), o.lo, x, below) // x < lo (ordered)
			VANDNPD(p[i], below, p[i])
			if !o.negOnly {
				hi := a.vec()
				VCMPPD(U8(0x1e), c64("exp64hi", expHi64), x, hi)
				inf := a.vec()
				VMOVUPD(c64("inf64", math.Inf(1)), inf)
				VBLENDVPD(hi, inf, p[i], p[i])
			}
		}
	}
	return p
}

const (
	expLo64 = -745.1332191019412
	expHi64 = 709.436139303104
)

// expMulSub: dx = float32(float64(dy) − exp(float64(logp))·s).
func (a *arch) expMulSub() {
	a.fn("expMulSub", "func(dx, logp, dy []float32, s float64)",
		"expMulSub"+a.suffix+" stores dx[i] = dy[i] − exp(logp[i])·s computed in float64 and rounded once.")
	d := slicePtr("dx")
	p := slicePtr("logp")
	y := slicePtr("dy")
	n := Load(Param("dx").Len(), GP64()).(GPVirtual)
	a.expMulSubLoop(d, p, y, n, a.bcast64("s"))
	VZEROUPPER()
	RET()
}

// expMulSubLoop is expMulSub's pass over the n elements at d, p and y
// (all advance), with s broadcast.
func (a *arch) expMulSubLoop(d, p, y, n GPVirtual, sv VecVirtual) {
	s := streams{ptrs: []GPVirtual{d, p, y}, n: n}
	elementwise(a, s, "expmulsub", a.lanes, 1, a.lanes, func(off int, t tail) {
		plo, phi := a.widen(s.mem(1, off), t)
		e := a.exp64N([]VecVirtual{plo, phi}, exp64Opts{lo: c64("exp64lo", expLo64), degree: 11})
		ylo, yhi := a.widen(s.mem(2, off), t) // after: AVX2 has no registers to spare for them
		VFNMADD231PD(sv, e[0], ylo)
		VFNMADD231PD(sv, e[1], yhi)
		a.narrow(ylo, yhi, s.mem(0, off), t)
	})
}

// sum and dot accumulate float64 lanes, compensated (twoSum, renormalized
// after every renormEvery adds): the products of float32 values are exact
// there, so dot's error, like sum's, does not grow with cancellation. dot
// returns the pair s + c unevaluated (SoftmaxBackward subtracts both from
// dy).
func (a *arch) sumDot(dot bool) {
	if dot {
		a.fn("dot", "func(a, b []float32) (s, c float64)",
			"dot"+a.suffix+" returns Σ a[i]·b[i] as s + c, compensated (TwoSum of the exact float64 products); len(b) >= len(a).")
	} else {
		a.fn("sum", "func(x []float32) float64",
			"sum"+a.suffix+" returns Σ x[i] in float64, compensated (TwoSum): its error does not grow with cancellation.")
	}
	var s streams
	if dot {
		s = streams{ptrs: []GPVirtual{slicePtr("a"), slicePtr("b")}, n: Load(Param("a").Len(), GP64()).(GPVirtual)}
	} else {
		s = streams{ptrs: []GPVirtual{slicePtr("x")}, n: Load(Param("x").Len(), GP64()).(GPVirtual)}
	}
	acc, comp := a.sumDotLoop(s, dot)
	a.sumDotReturn(acc, comp, dot)
}

// sumDotLoop is sum's or dot's pass over the streams s (they advance),
// returning the accumulators and their compensations.
func (a *arch) sumDotLoop(s streams, dot bool) (acc, comp []VecVirtual) {
	acc = make([]VecVirtual, 4)
	comp = make([]VecVirtual, 4) // the compensations (twoSum)
	for i := range acc {
		acc[i], comp[i] = a.vec(), a.vec()
		a.zero(acc[i])
		a.zero(comp[i])
	}
	w := a.lanes / 2 // float32s per float64 vector
	one := func(i, off int, t tail) VecVirtual {
		v := a.vec()
		m := s.mem(i, off)
		switch {
		case t.full():
			VCVTPS2PD(m, v)
		case a.z:
			VCVTPS2PD_Z(m, t.k, v)
		default:
			x := XMM()
			loadTail(m, t, x, 16)
			VCVTPS2PD(x, v)
		}
		return v
	}
	name := "sum"
	if dot {
		name = "dot"
	}
	// The loop's units go to the accumulators in turn, renormalizing each
	// after its last add of the iteration; the single and tail units (the
	// calls after the loop's) after each add.
	unroll, calls := 4*renormEvery, 0
	elementwise(a, s, name, w, unroll, w, func(off int, t tail) {
		calls++
		u := off / (4 * w) % 4
		if !t.full() {
			u = 1
		}
		v := one(0, off, t)
		if dot {
			VMULPD(one(1, off, t), v, v) // exact
		}
		twoSum(acc[u], comp[u], v, a.vec)
		if calls > unroll-4 {
			a.renorm(acc[u], comp[u])
		}
	})
	return acc, comp
}

// sumDotReturn ends sum and dot kernels (float32 and float64 alike): the
// accumulators' pairs acc + comp added pairwise (as addAll, with twoSum),
// their lanes reduced, and the result returned: dot's pair s + c, or
// sum's s + c (s where it is ±Inf or NaN).
func (a *arch) sumDotReturn(acc, comp []VecVirtual, dot bool) {
	acc, comp = a.sumDotFold(acc, comp)
	if dot {
		s1, c1 := a.hsum64Pair(acc[0], comp[0])
		VZEROUPPER()
		Store(s1, ReturnIndex(0))
		Store(c1, ReturnIndex(1))
		RET()
		return
	}
	r := a.hsum64Comp(acc[0], comp[0])
	VZEROUPPER()
	Store(r, ReturnIndex(0))
	RET()
}

// sumDotFold adds the accumulators' pairs acc + comp pairwise (as addAll,
// with twoSum) into the first.
func (a *arch) sumDotFold(acc, comp []VecVirtual) ([]VecVirtual, []VecVirtual) {
	for len(acc) > 1 {
		h := len(acc) / 2
		for i := 0; i < h; i++ {
			VADDPD(comp[i+h], comp[i], comp[i])
			twoSum(acc[i], comp[i], acc[i+h], a.vec)
		}
		acc, comp = acc[:h], comp[:h]
	}
	return acc, comp
}

func main() {
	ConstraintExpr("!purego")
	tailMaskTables()
	for _, a := range []*arch{avx2, avx512} {
		a.max()
		a.maxMin()
		a.expSum(true)
		a.expSum(false)
		a.expTotal(false)
		a.expTotal(true)
		a.expStream()
		a.expOnes()
		a.softmaxSmall()
		a.logSoftmaxSmall()
		a.logSumExpSmall()
		a.crossEntropySmall()
		a.softCrossEntropySmall()
		a.softmaxBackwardSmall()
		a.logSoftmaxBackwardSmall()
		a.div()
		a.maxMinRows()
		a.expTotalRows(false)
		a.expTotalRows(true)
		a.divRows()
		a.expOnesRows(true, false)
		a.expOnesRows(false, false)
		a.expOnesRows(true, true)
		a.expOnesRows(false, true)
		a.subRows()
		a.backwardRows(false)
		a.backwardRows(true)
		a.sub()
		a.sumDot(false)
		a.sumDot(true)
		a.mulSub()
		a.expMulSub()
		a.softGrad()
		a.expSumPrecise()
	}
	avx2.maxMin64()
	avx2.expSumTotal64()
	avx2.div64()
	avx2.expSum64(true)
	avx2.expSum64(false)
	avx2.sub64()
	avx2.sumDot64(false)
	avx2.sumDot64(true)
	avx2.mulSub64()
	avx2.expMulSub64()
	avx2.softGrad64()
	Generate()
	checkOutput()
}
