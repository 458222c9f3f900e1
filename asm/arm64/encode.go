package main

import "fmt"

// The NEON instructions Go's assembler does not know, encoded by hand from
// the Arm Architecture Reference Manual (A64, "Advanced SIMD" encodings).
// Each encoder returns the instruction word and its GNU assembler spelling;
// the emitter writes them as `WORD $0x…  // gnu text`, and encode_test.go
// assembles the GNU text with binutils or LLVM and compares the words.

// inst is one hand-encoded instruction.
type inst struct {
	word uint32
	gnu  string
}

// arr is the arrangement of a vector operand.
type arr uint8

const (
	s4 arr = iota // four float32 lanes
	d2            // two float64 lanes
)

// sz is the arrangement's size bit in floating-point encodings.
func (a arr) sz() uint32 {
	if a == d2 {
		return 1
	}
	return 0
}

func (a arr) gnu() string    { return [...]string{"4s", "2d"}[a] }
func (a arr) goName() string { return [...]string{"S4", "D2"}[a] }
func (a arr) elem() string   { return [...]string{"s", "d"}[a] }

// lanes is how many lanes the arrangement has.
func (a arr) lanes() int { return [...]int{4, 2}[a] }

// vreg is a SIMD&FP register V0..V31.
type vreg uint8

func (v vreg) u() uint32 {
	if v > 31 {
		panic(fmt.Sprintf("no register V%d", v))
	}
	return uint32(v)
}

// threeSame encodes the "three registers, same type" floating-point form.
func threeSame(base uint32, name string, a arr, d, n, m vreg) inst {
	w := base | a.sz()<<22 | m.u()<<16 | n.u()<<5 | d.u()
	return inst{w, fmt.Sprintf("%s v%d.%s, v%d.%s, v%d.%s", name, d, a.gnu(), n, a.gnu(), m, a.gnu())}
}

// fadd: d = n + m.
func fadd(a arr, d, n, m vreg) inst { return threeSame(0x4e20d400, "fadd", a, d, n, m) }

// fsub: d = n − m.
func fsub(a arr, d, n, m vreg) inst { return threeSame(0x4ea0d400, "fsub", a, d, n, m) }

// fmul: d = n·m.
func fmul(a arr, d, n, m vreg) inst { return threeSame(0x6e20dc00, "fmul", a, d, n, m) }

// fmax: d = max(n, m), NaN if either is NaN.
func fmax(a arr, d, n, m vreg) inst { return threeSame(0x4e20f400, "fmax", a, d, n, m) }

// fmin: d = min(n, m), NaN if either is NaN.
func fmin(a arr, d, n, m vreg) inst { return threeSame(0x4ea0f400, "fmin", a, d, n, m) }

// fdiv: d = n/m, correctly rounded.
func fdiv(a arr, d, n, m vreg) inst { return threeSame(0x6e20fc00, "fdiv", a, d, n, m) }

// fmls: d −= n·m, fused (one rounding).
func fmls(a arr, d, n, m vreg) inst { return threeSame(0x4ea0cc00, "fmls", a, d, n, m) }

// fcmeq: d = all ones where n == m (false for NaN).
func fcmeq(a arr, d, n, m vreg) inst { return threeSame(0x4e20e400, "fcmeq", a, d, n, m) }

// fcmgt: d = all ones where n > m (false for NaN).
func fcmgt(a arr, d, n, m vreg) inst { return threeSame(0x6ea0e400, "fcmgt", a, d, n, m) }

// bic: d = n AND NOT m, bitwise on all 128 bits.
func bic(d, n, m vreg) inst {
	w := 0x4e601c00 | m.u()<<16 | n.u()<<5 | d.u()
	return inst{w, fmt.Sprintf("bic v%d.16b, v%d.16b, v%d.16b", d, n, m)}
}

// fcvtl widens the low two float32 lanes of n to float64 (fcvtl2: the high two).
func fcvtl(d, n vreg) inst {
	return inst{0x0e617800 | n.u()<<5 | d.u(), fmt.Sprintf("fcvtl v%d.2d, v%d.2s", d, n)}
}

func fcvtl2(d, n vreg) inst {
	return inst{0x4e617800 | n.u()<<5 | d.u(), fmt.Sprintf("fcvtl2 v%d.2d, v%d.4s", d, n)}
}

// fcvtn narrows the two float64 lanes of n into the low float32 lanes of d,
// zeroing the high ones; fcvtn2 fills the high lanes and keeps the low ones.
// Both round to nearest (FPCR as Go leaves it).
func fcvtn(d, n vreg) inst {
	return inst{0x0e616800 | n.u()<<5 | d.u(), fmt.Sprintf("fcvtn v%d.2s, v%d.2d", d, n)}
}

func fcvtn2(d, n vreg) inst {
	return inst{0x4e616800 | n.u()<<5 | d.u(), fmt.Sprintf("fcvtn2 v%d.4s, v%d.2d", d, n)}
}

// byElem encodes the "vector × element" form: d ±= n·m[idx].
func byElem(base uint32, name string, a arr, d, n, m vreg, idx int) inst {
	if idx < 0 || idx >= a.lanes() {
		panic(fmt.Sprintf("%s: lane %d of %s", name, idx, a.gnu()))
	}
	w := base | a.sz()<<22 | m.u()<<16 | n.u()<<5 | d.u()
	if a == s4 {
		w |= uint32(idx&1)<<21 | uint32(idx>>1)<<11
	} else {
		w |= uint32(idx) << 11
	}
	return inst{w, fmt.Sprintf("%s v%d.%s, v%d.%s, v%d.%s[%d]", name, d, a.gnu(), n, a.gnu(), m, a.elem(), idx)}
}

// fmlaElem: d += n·m[idx]; fmlsElem: d −= n·m[idx]; both fused.
func fmlaElem(a arr, d, n, m vreg, idx int) inst {
	return byElem(0x4f801000, "fmla", a, d, n, m, idx)
}

func fmlsElem(a arr, d, n, m vreg, idx int) inst {
	return byElem(0x4f805000, "fmls", a, d, n, m, idx)
}

// fmaxv: scalar d = the max of n's four float32 lanes (NaN if any is NaN).
func fmaxv(d, n vreg) inst {
	return inst{0x6e30f800 | n.u()<<5 | d.u(), fmt.Sprintf("fmaxv s%d, v%d.4s", d, n)}
}

// faddpD: scalar d = n[0] + n[1] for two float64 lanes.
func faddpD(d, n vreg) inst {
	return inst{0x7e70d800 | n.u()<<5 | d.u(), fmt.Sprintf("faddp d%d, v%d.2d", d, n)}
}
