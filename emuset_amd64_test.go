//go:build !purego

package softmax

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"testing"
	"unsafe"

	"github.com/gosimd/softmax/internal/avxemu"
)

// An assembly kernel set run by internal/avxemu: the same Go wrappers as
// the native set (asmKernels.kernels), each kernel call interpreted over
// the caller's own memory. It lets a machine without AVX-512 run every
// test on the avx512 set, and checks the interpreter where the hardware
// runs the set too.

// emuAsm returns set suffix's kernels ("AVX2" or "AVX512") under the
// interpreter, named like the native set plus "-emu". A kernel the
// interpreter cannot run panics with the reason.
func emuAsm(native *asmKernels, suffix string) *asmKernels {
	a := *native
	a.name += "-emu"
	fn := func(kernel string) string { return kernel + suffix }
	a.max = func(x []float32) float32 {
		return emuCall(fn("max"), x).f32(0)
	}
	a.maxMin = func(x []float32) (float32, float32) {
		r := emuCall(fn("maxMin"), x)
		return r.f32(0), r.f32(4)
	}
	a.expSum = func(dst, x []float32, nm, nml, t float32) (float64, int) {
		r := emuCall(fn("expSum"), dst, x, nm, nml, t)
		return r.f64(0), r.int(8)
	}
	a.expSumNS = func(x []float32, nm, nml, t float32) (float64, int) {
		r := emuCall(fn("expSumNoStore"), x, nm, nml, t)
		return r.f64(0), r.int(8)
	}
	a.total = func(dst, x []float32, c, t float32, pf uintptr) float64 {
		return emuCall(fn("expSumTotal"), dst, x, c, t, pf).f64(0)
	}
	a.totalNoCut = func(dst, x []float32, c float32, pf uintptr) float64 {
		return emuCall(fn("expSumTotalNoCut"), dst, x, c, pf).f64(0)
	}
	a.totalNS = func(x []float32, c, t float32) float64 {
		return emuCall(fn("expSumTotalNoStore"), x, c, t).f64(0)
	}
	a.expScale = func(dst, x []float32, c, t, rhi, rlo float32) {
		emuCall(fn("expScale"), dst, x, c, t, rhi, rlo)
	}
	a.ones = func(dst, x []float32, c, t, m float32) (float64, int) {
		r := emuCall(fn("expSumOnes"), dst, x, c, t, m)
		return r.f64(0), r.int(8)
	}
	a.onesNS = func(x []float32, c, t, m float32) (float64, int) {
		r := emuCall(fn("expSumOnesNoStore"), x, c, t, m)
		return r.f64(0), r.int(8)
	}
	a.onesNoCut = func(dst, x []float32, c, m float32) (float64, int) {
		r := emuCall(fn("expSumOnesNoCut"), dst, x, c, m)
		return r.f64(0), r.int(8)
	}
	a.onesNCNS = func(x []float32, c, m float32) (float64, int) {
		r := emuCall(fn("expSumOnesNoCutNoStore"), x, c, m)
		return r.f64(0), r.int(8)
	}
	a.small = func(dst, x []float32, cols, rows int) int {
		return emuCall(fn("softmaxSmall"), dst, x, cols, rows).int(0)
	}
	a.div = func(dst, x []float32, rhi, rlo float32, pf uintptr) {
		emuCall(fn("div"), dst, x, rhi, rlo, pf)
	}
	a.sub = func(dst, x []float32, m float32, l float64) {
		emuCall(fn("sub"), dst, x, m, l)
	}
	a.sum = func(x []float32) float64 {
		return emuCall(fn("sum"), x).f64(0)
	}
	a.dot = func(x, y []float32) (float64, float64) {
		r := emuCall(fn("dot"), x, y)
		return r.f64(0), r.f64(8)
	}
	a.mulSub = func(dx, p, dy []float32, s, c float64) {
		emuCall(fn("mulSub"), dx, p, dy, s, c)
	}
	a.expMulSub = func(dx, lp, dy []float32, s float64) {
		emuCall(fn("expMulSub"), dx, lp, dy, s)
	}
	a.logSmall = func(dst, x []float32, cols, rows int) int {
		return emuCall(fn("logSoftmaxSmall"), dst, x, cols, rows).int(0)
	}
	a.lseSmall = func(x []float32, n int) (float64, float64, int) {
		r := emuCall(fn("logSumExpSmall"), x, n)
		return r.f64(0), r.f64(8), r.int(16)
	}
	a.ceSmall = func(g, x []float32, l64 []int64, l32 []int32, cols int, scale float64) (int, float64) {
		r := emuCall(fn("crossEntropySmall"), g, x, l64, l32, cols, scale)
		return r.int(0), r.f64(8)
	}
	a.softGrad = func(g, x, y []float32, m float32, l, sa, rs float64) float64 {
		return emuCall(fn("softGrad"), g, x, y, m, l, sa, rs).f64(0)
	}
	a.expSumP = func(x []float32, m float32) (float64, float64) {
		r := emuCall(fn("expSumPrecise"), x, m)
		return r.f64(0), r.f64(8)
	}
	a.softSmall = func(g, x, y []float32, cols, rows int, scale float64) (int, float64) {
		r := emuCall(fn("softCrossEntropySmall"), g, x, y, cols, rows, scale)
		return r.int(0), r.f64(8)
	}
	a.bwdSmall = func(dx, p, dy []float32, cols, rows int) int {
		return emuCall(fn("softmaxBackwardSmall"), dx, p, dy, cols, rows).int(0)
	}
	a.lbwdSmall = func(dx, lp, dy []float32, cols, rows int) int {
		return emuCall(fn("logSoftmaxBackwardSmall"), dx, lp, dy, cols, rows).int(0)
	}
	// The block kernels' arrays go through the frame as bytes.
	a.block = blockKernels{
		maxMin: func(x []float32, cols, rows int) (m, lo [blockMax]float32) {
			r := emuCall(fn("maxMinRows"), x, cols, rows)
			for j := range rows {
				m[j], lo[j] = r.f32(4*j), r.f32(4*blockMax+4*j)
			}
			return m, lo
		},
		total: func(dst, x []float32, cols, rows int, c, t [blockMax]float32, pf uintptr) (s [blockMax]float64) {
			r := emuCall(fn("expSumTotalRows"), dst, x, cols, rows, c, t, pf)
			for j := range rows {
				s[j] = r.f64(8 * j)
			}
			return s
		},
		totalNoCut: func(dst, x []float32, cols, rows int, c [blockMax]float32, pf uintptr) (s [blockMax]float64) {
			r := emuCall(fn("expSumTotalNoCutRows"), dst, x, cols, rows, c, pf)
			for j := range rows {
				s[j] = r.f64(8 * j)
			}
			return s
		},
		div: func(x []float32, cols, rows int, rhi, rlo [blockMax]float32) {
			emuCall(fn("divRows"), x, cols, rows, rhi, rlo)
		},
		ones: func(dst, x []float32, cols, rows int, c, m [blockMax]float32) (rest [blockMax]float64, ones [blockMax]int32) {
			return emuOnes(emuCall(fn("expSumOnesNoCutRows"), dst, x, cols, rows, c, m), rows)
		},
		onesNS: func(x []float32, cols, rows int, c, m [blockMax]float32) (rest [blockMax]float64, ones [blockMax]int32) {
			return emuOnes(emuCall(fn("expSumOnesNoCutNoStoreRows"), x, cols, rows, c, m), rows)
		},
		onesCut: func(dst, x []float32, cols, rows int, c, m [blockMax]float32) (rest [blockMax]float64, ones [blockMax]int32) {
			return emuOnes(emuCall(fn("expSumOnesRows"), dst, x, cols, rows, c, m), rows)
		},
		onesCutNS: func(x []float32, cols, rows int, c, m [blockMax]float32) (rest [blockMax]float64, ones [blockMax]int32) {
			return emuOnes(emuCall(fn("expSumOnesNoStoreRows"), x, cols, rows, c, m), rows)
		},
		sub: func(dst, x []float32, cols, rows int, m [blockMax]float32, l [blockMax]float64) {
			emuCall(fn("subRows"), dst, x, cols, rows, m, l)
		},
		bwd: func(dx, p, dy []float32, cols, rows int) {
			emuCall(fn("softmaxBackwardRows"), dx, p, dy, cols, rows)
		},
		lbwd: func(dx, logp, dy []float32, cols, rows int) {
			emuCall(fn("logSoftmaxBackwardRows"), dx, logp, dy, cols, rows)
		},
	}
	if a.padded != nil {
		// The native padded calls the hardware kernels; the interpreted
		// set leaves those rows to the general path instead.
		a.padded = func(kind smallKind, args smallArgs, from int) (int, float64) { return from, 0 }
	}
	return &a
}

// emuResults are a call's result slots.
type emuResults []byte

func (r emuResults) f32(off int) float32 {
	return math.Float32frombits(binary.LittleEndian.Uint32(r[off:]))
}
func (r emuResults) f64(off int) float64 {
	return math.Float64frombits(binary.LittleEndian.Uint64(r[off:]))
}
func (r emuResults) int(off int) int { return int(binary.LittleEndian.Uint64(r[off:])) }

// emuCall runs kernel name under a fresh interpreter with args laid out
// as Go's ABI0 does (slices of float32, int64 and int32; float32, float64,
// int, uintptr), and returns its results. Each slice's memory is the interpreter's region for it,
// at the same offset from a 64-byte boundary: the kernel reads and writes
// the caller's elements, and any access outside them is an error. Slices
// that start at the same element share one region (in place).
func emuCall(name string, args ...any) emuResults {
	prog, err := emuProg()
	if err != nil {
		panic(err)
	}
	m := avxemu.NewMachine(prog)
	type key struct {
		p unsafe.Pointer
		n int
	}
	mapped := map[key]uint64{}
	var frame []byte
	put := func(size int, v uint64) {
		for len(frame)%size != 0 {
			frame = append(frame, 0)
		}
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], v)
		frame = append(frame, b[:size]...)
	}
	for _, a := range args {
		slice := func(p unsafe.Pointer, n, size int) {
			addr, ok := mapped[key{p, n}]
			if !ok {
				var b []byte
				if n > 0 {
					b = unsafe.Slice((*byte)(p), size*n)
				}
				addr = m.MapAt(b, int(uintptr(p)%64)).Addr
				mapped[key{p, n}] = addr
			}
			put(8, addr)
			put(8, uint64(n))
			put(8, uint64(n))
		}
		switch v := a.(type) {
		case []float32:
			slice(unsafe.Pointer(unsafe.SliceData(v)), len(v), 4)
		case []int64:
			slice(unsafe.Pointer(unsafe.SliceData(v)), len(v), 8)
		case []int32:
			slice(unsafe.Pointer(unsafe.SliceData(v)), len(v), 4)
		case [blockMax]float32:
			for _, f := range v {
				put(4, uint64(math.Float32bits(f)))
			}
		case [blockMax]float64:
			for _, f := range v {
				put(8, math.Float64bits(f))
			}
		case float32:
			put(4, uint64(math.Float32bits(v)))
		case float64:
			put(8, math.Float64bits(v))
		case int:
			put(8, uint64(v))
		case uintptr:
			put(8, uint64(v))
		default:
			panic(fmt.Sprintf("emuCall %s: argument of type %T", name, a))
		}
	}
	for len(frame)%8 != 0 {
		frame = append(frame, 0)
	}
	results := len(frame)
	size, ok := prog.ArgSize(name)
	if !ok || size < results {
		panic(fmt.Sprintf("emuCall %s: argument frame of %d bytes, the function's is %d", name, results, size))
	}
	frame = append(frame, make([]byte, size-results)...)
	out, err := m.Call(name, frame)
	if err != nil {
		panic(fmt.Sprintf("avxemu: %v", err))
	}
	return emuResults(out[results:])
}

// emuSets32 are the interpreted sets the tests run besides sets32: the
// avx512 set on a CPU without AVX-512 (where it is otherwise untested),
// in full runs only (the -short runs, under the race detector and qemu,
// are for other things, and the interpreter is slow).
func emuSets32() []*kernels[float32] {
	if hasSet("avx512") || testing.Short() {
		return nil
	}
	return []*kernels[float32]{emu512Set()}
}

var emu512Set = sync.OnceValue(func() *kernels[float32] {
	k := emuAsm(&avx512Asm, "AVX512").kernels()
	return &k
})

// TestEmuMatchesHardware runs every kernel of each set this CPU has both
// natively and under the interpreter, on the same inputs (every length
// 0..70 and longer ones, misaligned, in place, with −Inf, NaN and the
// exp cutoff), and wants the same bits: the check of the interpreter that
// the interpreted avx512 set rests on where the CPU lacks AVX-512.
func TestEmuMatchesHardware(t *testing.T) {
	natives := map[string]*asmKernels{"avx2": &avx2Asm, "avx512": &avx512Asm}
	suffix := map[string]string{"avx2": "AVX2", "avx512": "AVX512"}
	ran := 0
	for _, name := range []string{"avx2", "avx512"} {
		if !hasSet(name) {
			continue
		}
		ran++
		hw, emu := natives[name], emuAsm(natives[name], suffix[name])
		t.Run("impl="+name, func(t *testing.T) { matchKernels(t, hw, emu) })
	}
	if ran == 0 {
		t.Skip("no AVX2 or AVX-512 on this CPU: nothing to compare the interpreter with")
	}
}

// emuOnes reads the block ones kernels' results.
func emuOnes(r emuResults, rows int) (rest [blockMax]float64, ones [blockMax]int32) {
	for j := range rows {
		rest[j], ones[j] = r.f64(8*j), int32(binary.LittleEndian.Uint32(r[8*blockMax+4*j:]))
	}
	return rest, ones
}

// same32 reports whether two outputs agree bit for bit (any NaN matches
// any NaN: the interpreter does not model payloads).
func same32(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) || a != a && b != b }

// matchBlocks compares the block kernels (asm/amd64/rows.go) on the
// leading rows of x (and y, as dy): the avx512 set's block tests elsewhere
// run them only under the interpreter.
func matchBlocks(t *testing.T, hw, emu *asmKernels, x, y []float32, cols, rows int, two func() ([]float32, []float32)) {
	t.Helper()
	what := fmt.Sprintf("%s cols=%d rows=%d", hw.name, cols, rows)
	x, y = x[:rows*cols], y[:rows*cols]
	eqs := func(k string, a, b []float32) {
		t.Helper()
		for i := range rows * cols {
			if !same32(a[i], b[i]) {
				t.Fatalf("%s %s: [%d] hardware %v, interpreted %v", what, k, i, a[i], b[i])
			}
		}
	}
	eqRows := func(k string, a, b [blockMax]float64, oa, ob [blockMax]int32) {
		t.Helper()
		for j := range rows {
			if math.Float64bits(a[j]) != math.Float64bits(b[j]) && !(a[j] != a[j] && b[j] != b[j]) || oa[j] != ob[j] {
				t.Fatalf("%s %s: row %d hardware %v, %d, interpreted %v, %d", what, k, j, a[j], oa[j], b[j], ob[j])
			}
		}
	}
	m, lo := hw.block.maxMin(x, cols, rows)
	m2, lo2 := emu.block.maxMin(x, cols, rows)
	var c, th, rhi, rlo [blockMax]float32
	var l [blockMax]float64
	var none [blockMax]int32
	nocut := true
	for j := range rows {
		if !same32(m[j], m2[j]) || !same32(lo[j], lo2[j]) {
			t.Fatalf("%s maxMinRows: row %d hardware %v %v, interpreted %v %v", what, j, m[j], lo[j], m2[j], lo2[j])
		}
		if m[j] < tableMaxAbs && m[j] > -tableMaxAbs {
			c[j], _ = tableBias(m[j], hw.tableLen)
		}
		th[j] = expThreshold(m[j])
		nocut = nocut && lo[j] >= th[j]
		rhi[j], rlo[j], _ = recip(1 + float64(j))
		l[j] = 0.5 + float64(j)
	}
	d1, d2 := two()
	eqRows("expSumTotalRows", hw.block.total(d1, x, cols, rows, c, th, 64), emu.block.total(d2, x, cols, rows, c, th, 64), none, none)
	eqs("expSumTotalRows", d1, d2)
	hw.block.div(d1, cols, rows, rhi, rlo)
	emu.block.div(d2, cols, rows, rhi, rlo)
	eqs("divRows", d1, d2)
	d1, d2 = two()
	r1, o1 := hw.block.onesCut(d1, x, cols, rows, c, m)
	r2, o2 := emu.block.onesCut(d2, x, cols, rows, c, m)
	eqRows("expSumOnesRows", r1, r2, o1, o2)
	eqs("expSumOnesRows", d1, d2)
	r1, o1 = hw.block.onesCutNS(x, cols, rows, c, m)
	r2, o2 = emu.block.onesCutNS(x, cols, rows, c, m)
	eqRows("expSumOnesNoStoreRows", r1, r2, o1, o2)
	if nocut {
		d1, d2 = two()
		eqRows("expSumTotalNoCutRows", hw.block.totalNoCut(d1, x, cols, rows, c, 0), emu.block.totalNoCut(d2, x, cols, rows, c, 0), none, none)
		eqs("expSumTotalNoCutRows", d1, d2)
		d1, d2 = two()
		r1, o1 = hw.block.ones(d1, x, cols, rows, c, m)
		r2, o2 = emu.block.ones(d2, x, cols, rows, c, m)
		eqRows("expSumOnesNoCutRows", r1, r2, o1, o2)
		eqs("expSumOnesNoCutRows", d1, d2)
		r1, o1 = hw.block.onesNS(x, cols, rows, c, m)
		r2, o2 = emu.block.onesNS(x, cols, rows, c, m)
		eqRows("expSumOnesNoCutNoStoreRows", r1, r2, o1, o2)
	}
	d1, d2 = two()
	hw.block.sub(d1, x, cols, rows, m, l)
	emu.block.sub(d2, x, cols, rows, m, l)
	eqs("subRows", d1, d2)
	d1, d2 = two()
	hw.block.bwd(d1, x, y, cols, rows)
	emu.block.bwd(d2, x, y, cols, rows)
	eqs("softmaxBackwardRows", d1, d2)
	d1, d2 = two()
	hw.block.lbwd(d1, y, x, cols, rows)
	emu.block.lbwd(d2, y, x, cols, rows)
	eqs("logSoftmaxBackwardRows", d1, d2)
}

func matchKernels(t *testing.T, hw, emu *asmKernels) {
	rng := newRand(41)
	var lens []int
	for n := 0; n <= 70; n++ {
		lens = append(lens, n)
	}
	lens = append(lens, 127, 128, 129, 255, 256, 1000, 4099)
	if !testing.Short() {
		lens = append(lens, 1<<16+3) // hundreds of the sums' float64 folds
	}
	eqs := func(what string, n int, a, b []float32) {
		t.Helper()
		for i := range a {
			if !same32(a[i], b[i]) {
				t.Fatalf("%s n=%d: [%d] hardware %v (%#x), interpreted %v (%#x)", what, n, i, a[i], math.Float32bits(a[i]), b[i], math.Float32bits(b[i]))
			}
		}
	}
	eq64 := func(what string, n int, a, b float64) {
		t.Helper()
		if math.Float64bits(a) != math.Float64bits(b) && !(a != a && b != b) {
			t.Fatalf("%s n=%d: hardware %v, interpreted %v", what, n, a, b)
		}
	}
	for c, n := range lens {
		off := c % 16
		x := logits32(rng, n+off, []float64{0.5, 4, 30, 60}[c%4], []float64{0, 20, -100, 150}[c%4])[off:]
		y := logits32(rng, n+off, 1, 0)[off:]
		if n > 3 {
			x[rng.IntN(n)] = float32(math.Inf(-1))
			y[rng.IntN(n)] = float32(math.Inf(-1))
		}
		if n > 5 && n < 1<<16 && c%3 == 0 { // (the long row's exp kernels must run)
			x[rng.IntN(n)] = float32(math.NaN())
		}
		if n > 8 { // the float64 exp's under- and overflow (expMulSub)
			for _, v := range []float64{-800, 100, 800, math.Inf(1)} {
				y[rng.IntN(n)] = float32(v)
			}
		}
		if n > 6 && c%5 == 2 { // ±0, subnormals and a tied max: max/min's operand order, no FTZ/DAZ
			specials := []float32{0, float32(math.Copysign(0, -1)), 0x1p-149, -0x1p-149, 0x1.fffffcp-127, -0x1p-140}
			for _, v := range specials {
				x[rng.IntN(n)], y[rng.IntN(n)] = v, v
			}
			m, _ := maxMinGo(x)
			x[rng.IntN(n)] = m
		}
		if n > 4 && c%7 == 3 { // a +Inf max
			x[rng.IntN(n)] = float32(math.Inf(1))
		}
		two := func() ([]float32, []float32) {
			a, b := make([]float32, n+off)[off:], make([]float32, n+off)[off:]
			for i := range a {
				a[i], b[i] = 7, 7 // the kernels must overwrite every element
			}
			return a, b
		}
		what := func(k string) string { return fmt.Sprintf("%s %s", hw.name, k) }

		if a, b := hw.max(x), emu.max(x); !same32(a, b) {
			t.Fatalf("%s n=%d: hardware %v, interpreted %v", what("max"), n, a, b)
		}
		a1, a2 := hw.maxMin(x)
		b1, b2 := emu.maxMin(x)
		if !same32(a1, b1) || !same32(a2, b2) {
			t.Fatalf("%s n=%d: hardware %v %v, interpreted %v %v", what("maxMin"), n, a1, a2, b1, b2)
		}
		m, lo := maxMinGo(x)
		if n > 0 && m > float32(math.Inf(-1)) {
			th := expThreshold(m)
			mh, ml := splitMax(m)
			d1, d2 := two()
			r1, o1 := hw.expSum(d1, x, -mh, -ml, th)
			r2, o2 := emu.expSum(d2, x, -mh, -ml, th)
			eqs(what("expSum"), n, d1, d2)
			eq64(what("expSum rest"), n, r1, r2)
			if o1 != o2 {
				t.Fatalf("%s n=%d: ones %d, interpreted %d", what("expSum"), n, o1, o2)
			}
			r1, o1 = hw.expSumNS(x, -mh, -ml, th)
			r2, o2 = emu.expSumNS(x, -mh, -ml, th)
			eq64(what("expSumNoStore rest"), n, r1, r2)
			if o1 != o2 {
				t.Fatalf("%s n=%d: ones %d, interpreted %d", what("expSumNoStore"), n, o1, o2)
			}
			if m < tableMaxAbs && m > -tableMaxAbs {
				cb, _ := tableBias(m, hw.tableLen)
				d1, d2 = two()
				eq64(what("expSumTotal"), n, hw.total(d1, x, cb, th, 64), emu.total(d2, x, cb, th, 64))
				eqs(what("expSumTotal"), n, d1, d2)
				if lo >= th {
					d1, d2 = two()
					eq64(what("expSumTotalNoCut"), n, hw.totalNoCut(d1, x, cb, 0), emu.totalNoCut(d2, x, cb, 0))
					eqs(what("expSumTotalNoCut"), n, d1, d2)
				}
				eq64(what("expSumTotalNoStore"), n, hw.totalNS(x, cb, th), emu.totalNS(x, cb, th))
				d1, d2 = two()
				hw.expScale(d1, x, cb, th, 0x1.234568p-7, -0x1.8p-33)
				emu.expScale(d2, x, cb, th, 0x1.234568p-7, -0x1.8p-33)
				eqs(what("expScale"), n, d1, d2)
				d1, d2 = two()
				r1, o1 = hw.ones(d1, x, cb, th, m)
				r2, o2 = emu.ones(d2, x, cb, th, m)
				eqs(what("expSumOnes"), n, d1, d2)
				eq64(what("expSumOnes rest"), n, r1, r2)
				if o1 != o2 {
					t.Fatalf("%s n=%d: ones %d, interpreted %d", what("expSumOnes"), n, o1, o2)
				}
				r1, o1 = hw.onesNS(x, cb, th, m)
				r2, o2 = emu.onesNS(x, cb, th, m)
				eq64(what("expSumOnesNoStore rest"), n, r1, r2)
				if o1 != o2 {
					t.Fatalf("%s n=%d: ones %d, interpreted %d", what("expSumOnesNoStore"), n, o1, o2)
				}
				if lo >= th {
					d1, d2 = two()
					r1, o1 = hw.onesNoCut(d1, x, cb, m)
					r2, o2 = emu.onesNoCut(d2, x, cb, m)
					eqs(what("expSumOnesNoCut"), n, d1, d2)
					eq64(what("expSumOnesNoCut rest"), n, r1, r2)
					if o1 != o2 {
						t.Fatalf("%s n=%d: ones %d, interpreted %d", what("expSumOnesNoCut"), n, o1, o2)
					}
					r1, o1 = hw.onesNCNS(x, cb, m)
					r2, o2 = emu.onesNCNS(x, cb, m)
					eq64(what("expSumOnesNoCutNoStore rest"), n, r1, r2)
					if o1 != o2 {
						t.Fatalf("%s n=%d: ones %d, interpreted %d", what("expSumOnesNoCutNoStore"), n, o1, o2)
					}
				}
			}
			// In place: dst is x.
			x1, x2 := append([]float32(nil), x...), append([]float32(nil), x...)
			hw.expSum(x1, x1, -mh, -ml, th)
			emu.expSum(x2, x2, -mh, -ml, th)
			eqs(what("expSum in place"), n, x1, x2)
			if m < tableMaxAbs && m > -tableMaxAbs {
				cb, _ := tableBias(m, hw.tableLen)
				x1, x2 = append(x1[:0], x...), append(x2[:0], x...)
				eq64(what("expSumTotal in place"), n, hw.total(x1, x1, cb, th, 0), emu.total(x2, x2, cb, th, 0))
				eqs(what("expSumTotal in place"), n, x1, x2)
			}
		}
		if cols := c%16 + 1; n >= 16 {
			rows := (n-16)/cols + 1
			d1, d2 := two()
			if r1, r2 := hw.small(d1, x, cols, rows), emu.small(d2, x, cols, rows); r1 != r2 {
				t.Fatalf("%s n=%d cols=%d: %d rows, interpreted %d", what("softmaxSmall"), n, cols, r1, r2)
			}
			eqs(what("softmaxSmall"), n, d1, d2)
			d1, d2 = two()
			if r1, r2 := hw.logSmall(d1, x, cols, rows), emu.logSmall(d2, x, cols, rows); r1 != r2 {
				t.Fatalf("%s n=%d cols=%d: %d rows, interpreted %d", what("logSoftmaxSmall"), n, cols, r1, r2)
			}
			eqs(what("logSoftmaxSmall"), n, d1, d2)
			l64, l32 := make([]int64, rows), make([]int32, rows)
			for i := range l64 {
				l64[i] = int64(rng.IntN(cols+1)) - 1 // −1: ignored
				l32[i] = int32(l64[i])
			}
			for _, grad := range []bool{true, false} {
				d1, d2 = two()
				if !grad {
					d1, d2 = nil, nil
				}
				for _, l := range []labelView{{l64: l64}, {l32: l32}} {
					r1, s1 := hw.ceSmall(d1, x, l.l64, l.l32, cols, 3)
					r2, s2 := emu.ceSmall(d2, x, l.l64, l.l32, cols, 3)
					if r1 != r2 {
						t.Fatalf("%s n=%d cols=%d: %d rows, interpreted %d", what("crossEntropySmall"), n, cols, r1, r2)
					}
					eq64(what("crossEntropySmall loss"), n, s1, s2)
					eqs(what("crossEntropySmall"), n, d1, d2)
				}
			}
			m1, l1, ok1 := hw.lseSmall(x, cols) // (n >= 16: the window is inside x)
			m2, l2, ok2 := emu.lseSmall(x, cols)
			if ok1 != ok2 {
				t.Fatalf("%s n=%d cols=%d: ok %d, interpreted %d", what("logSumExpSmall"), n, cols, ok1, ok2)
			}
			if ok1 != 0 {
				eq64(what("logSumExpSmall m"), n, m1, m2)
				eq64(what("logSumExpSmall l"), n, l1, l2)
			}
			d1, d2 = two()
			if r1, r2 := hw.bwdSmall(d1, x, y, cols, rows), emu.bwdSmall(d2, x, y, cols, rows); r1 != r2 {
				t.Fatalf("%s n=%d cols=%d: %d rows, interpreted %d", what("softmaxBackwardSmall"), n, cols, r1, r2)
			}
			eqs(what("softmaxBackwardSmall"), n, d1, d2)
			d1, d2 = two()
			if r1, r2 := hw.lbwdSmall(d1, y, x, cols, rows), emu.lbwdSmall(d2, y, x, cols, rows); r1 != r2 {
				t.Fatalf("%s n=%d cols=%d: %d rows, interpreted %d", what("logSoftmaxBackwardSmall"), n, cols, r1, r2)
			}
			eqs(what("logSoftmaxBackwardSmall"), n, d1, d2)
			d1, d2 = two()
			r1, s1 := hw.softSmall(d1, x, y, cols, rows, 3)
			r2, s2 := emu.softSmall(d2, x, y, cols, rows, 3)
			if r1 != r2 {
				t.Fatalf("%s n=%d cols=%d: %d rows, interpreted %d", what("softCrossEntropySmall"), n, cols, r1, r2)
			}
			eq64(what("softCrossEntropySmall loss"), n, s1, s2)
			eqs(what("softCrossEntropySmall"), n, d1, d2)
		}
		if cols := 17 + c%40; n >= cols {
			matchBlocks(t, hw, emu, x, y, cols, min(blockMax, n/cols), two)
		}
		hi, lo32, _ := recip(1 + 37*rng.Float64())
		for _, pf := range []uintptr{0, 256} {
			d1, d2 := two()
			hw.div(d1, x, hi, lo32, pf)
			emu.div(d2, x, hi, lo32, pf)
			eqs(what("div"), n, d1, d2)
		}
		s := rng.NormFloat64() * 3
		d1, d2 := two()
		hw.sub(d1, x, float32(s), s/7)
		emu.sub(d2, x, float32(s), s/7)
		eqs(what("sub"), n, d1, d2)
		eq64(what("sum"), n, hw.sum(y), emu.sum(y))
		hs, hc := hw.dot(x, y)
		es, ec := emu.dot(x, y)
		eq64(what("dot s"), n, hs, es)
		eq64(what("dot c"), n, hc, ec)
		d1, d2 = two()
		hw.mulSub(d1, x, y, s, s*0x1p-40)
		emu.mulSub(d2, x, y, s, s*0x1p-40)
		eqs(what("mulSub"), n, d1, d2)
		if m, _ := maxMinGo(x); n > 0 && !math.IsInf(float64(m), 0) && m == m {
			d1, d2 = two()
			l, sa := 1+rng.Float64(), rng.Float64()
			eq64(what("softGrad loss"), n, hw.softGrad(d1, x, y, m, l, sa, 0.25), emu.softGrad(d2, x, y, m, l, sa, 0.25))
			eqs(what("softGrad"), n, d1, d2)
			hr, ho := hw.expSumP(x, m)
			er, eo := emu.expSumP(x, m)
			eq64(what("expSumPrecise rest"), n, hr, er)
			eq64(what("expSumPrecise ones"), n, ho, eo)
		}
		d1, d2 = two()
		lp := y // log-probabilities: the exp's whole range and −Inf
		hw.expMulSub(d1, lp, x, s)
		emu.expMulSub(d2, lp, x, s)
		eqs(what("expMulSub"), n, d1, d2)
	}
}
