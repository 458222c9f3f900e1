package main

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// emitter writes Go arm64 assembly, one method call per instruction.
// Instructions Go's assembler knows are written as its mnemonics (operands in
// Go's order: sources first, destination last); the others as WORD with the
// GNU spelling in a comment. Methods take operands in the Arm order,
// destination first, whatever the text they write.
type emitter struct {
	buf  bytes.Buffer // the functions
	data bytes.Buffer // their constant tables (DATA, GLOBL)
}

// gpr is a general-purpose register R0..R17 (R18 and up are reserved or
// special in Go's arm64 ABI; the kernels never touch them).
type gpr uint8

func (r gpr) String() string {
	if r > 17 {
		panic(fmt.Sprintf("R%d is not free for kernels", r))
	}
	return fmt.Sprintf("R%d", r)
}

func (v vreg) arr(a arr) string { return fmt.Sprintf("V%d.%s", v.u(), a.goName()) }
func (v vreg) b16() string      { return fmt.Sprintf("V%d.B16", v.u()) }
func (v vreg) f() string        { return fmt.Sprintf("F%d", v.u()) }

func (e *emitter) line(format string, args ...any) {
	fmt.Fprintf(&e.buf, format+"\n", args...)
}

// op writes one instruction Go's assembler knows.
func (e *emitter) op(mnemonic string, operands ...string) {
	if len(operands) == 0 {
		e.line("\t%s", mnemonic)
		return
	}
	e.line("\t%s\t%s", mnemonic, strings.Join(operands, ", "))
}

// word writes one hand-encoded instruction.
func (e *emitter) word(i inst) { e.line("\tWORD\t$0x%08x\t// %s", i.word, i.gnu) }

func (e *emitter) comment(format string, args ...any) { e.line("\t// "+format, args...) }
func (e *emitter) label(name string)                  { e.line("%s:", name) }
func (e *emitter) blank()                             { e.line("") }

// Function frame and arguments.

func (e *emitter) text(name string, argSize int) {
	e.line("// func %s", name)
	e.line("TEXT ·%s(SB), NOSPLIT, $0-%d", name[:strings.IndexByte(name, '(')], argSize)
}

func (e *emitter) ret() { e.op("RET") }

// movdArg loads a 64-bit argument into r; fmovsArg/fmovdArg a float one.
func (e *emitter) movdArg(arg string, r gpr)   { e.op("MOVD", arg, r.String()) }
func (e *emitter) fmovsArg(arg string, v vreg) { e.op("FMOVS", arg, v.f()) }
func (e *emitter) fmovdArg(arg string, v vreg) { e.op("FMOVD", arg, v.f()) }
func (e *emitter) fmovsRet(v vreg, res string) { e.op("FMOVS", v.f(), res) }

// dupArg64 loads the float64 argument arg into both lanes of v.
func (e *emitter) dupArg64(arg string, v vreg) {
	e.fmovdArg(arg, v)
	e.vdupLane0(d2, v, v)
}

func (e *emitter) fmovdRet(v vreg, res string) { e.op("FMOVD", v.f(), res) }

// max64Arg loads the float32 argument arg (a row's max) into both
// float64 lanes of v.
func (e *emitter) max64Arg(arg string, v vreg) {
	e.fmovsArg(arg, v)
	e.fcvtsd(v, v)
	e.vdupLane0(d2, v, v)
}
func (e *emitter) fmovdConst(v vreg, c float64) {
	e.op("FMOVD", "$"+strconv.FormatFloat(c, 'e', -1, 64), v.f())
}

// Integer and branch instructions.

func (e *emitter) subsImm(d gpr, n gpr, imm int) {
	e.op("SUBS", fmt.Sprintf("$%d", imm), n.String(), d.String())
}
func (e *emitter) addsImm(d gpr, n gpr, imm int) {
	e.op("ADDS", fmt.Sprintf("$%d", imm), n.String(), d.String())
}
func (e *emitter) cmpImm(r gpr, imm int) { e.op("CMP", fmt.Sprintf("$%d", imm), r.String()) }
func (e *emitter) b(l string)            { e.op("B", l) }
func (e *emitter) blt(l string)          { e.op("BLT", l) }
func (e *emitter) bge(l string)          { e.op("BGE", l) }
func (e *emitter) beq(l string)          { e.op("BEQ", l) }
func (e *emitter) cbz(r gpr, l string)   { e.op("CBZ", r.String(), l) }

// Loads and stores.

func regList(a arr, vs []vreg) string {
	for i := 1; i < len(vs); i++ {
		if vs[i] != (vs[i-1]+1)%32 {
			panic(fmt.Sprintf("register list %v is not consecutive", vs))
		}
	}
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = v.arr(a)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// vld1p loads len(vs) consecutive vectors from base and advances base.
func (e *emitter) vld1p(a arr, base gpr, vs ...vreg) {
	e.op("VLD1.P", fmt.Sprintf("%d(%s)", 16*len(vs), base), regList(a, vs))
}

// vst1p stores len(vs) consecutive vectors to base and advances base.
func (e *emitter) vst1p(a arr, base gpr, vs ...vreg) {
	e.op("VST1.P", regList(a, vs), fmt.Sprintf("%d(%s)", 16*len(vs), base))
}

// vld1LaneP loads one float32 into lane idx of v, keeping the other lanes,
// and advances base; vst1LaneP stores lane idx.
func (e *emitter) vld1LaneP(v vreg, idx int, base gpr) {
	e.op("VLD1.P", fmt.Sprintf("4(%s)", base), fmt.Sprintf("V%d.S[%d]", v.u(), idx))
}

func (e *emitter) vst1LaneP(v vreg, idx int, base gpr) {
	e.op("VST1.P", fmt.Sprintf("V%d.S[%d]", v.u(), idx), fmt.Sprintf("4(%s)", base))
}

// dup32 sets every 32-bit lane of v to bits, through r.
func (e *emitter) dup32(v vreg, bits uint32, r gpr) {
	e.op("MOVW", fmt.Sprintf("$0x%08x", bits), r.String())
	e.op("VDUP", r.String(), v.arr(s4))
}

// Vector instructions Go knows.

// vmov copies n to d.
func (e *emitter) vmov(d, n vreg) { e.op("VMOV", n.b16(), d.b16()) }

// vdupLane0 sets every lane of d to lane 0 of n.
func (e *emitter) vdupLane0(a arr, d, n vreg) {
	e.op("VDUP", fmt.Sprintf("V%d.%s[0]", n.u(), strings.ToUpper(a.elem())), d.arr(a))
}

// vumovS sets r to lane idx of n (float32 lanes), zero-extended.
func (e *emitter) vumovS(r gpr, n vreg, idx int) {
	e.op("VMOV", fmt.Sprintf("V%d.S[%d]", n.u(), idx), r.String())
}

func (e *emitter) veor(d, n, m vreg) { e.op("VEOR", m.b16(), n.b16(), d.b16()) }

// vand: d = n & m (bitwise).
func (e *emitter) vand(d, n, m vreg) { e.op("VAND", m.b16(), n.b16(), d.b16()) }

// vbit: d = (d AND NOT m) OR (n AND m), inserting n's bits where m is set.
func (e *emitter) vbit(d, n, m vreg) { e.op("VBIT", m.b16(), n.b16(), d.b16()) }

// vadd (integer lanes): d = n + m.
func (e *emitter) vadd(a arr, d, n, m vreg) { e.op("VADD", m.arr(a), n.arr(a), d.arr(a)) }

// vbif: d = (d AND m) OR (n AND NOT m), inserting n's bits where m is clear.
func (e *emitter) vbif(d, n, m vreg) { e.op("VBIF", m.b16(), n.b16(), d.b16()) }

// vsub (integer lanes): d = n − m.
func (e *emitter) vsub(a arr, d, n, m vreg) { e.op("VSUB", m.arr(a), n.arr(a), d.arr(a)) }

// vshl (integer lanes): d = n << imm.
func (e *emitter) vshl(a arr, d, n vreg, imm int) {
	e.op("VSHL", fmt.Sprintf("$%d", imm), n.arr(a), d.arr(a))
}

// vfmla: d += n·m; vfmls: d −= n·m (fused, lanes of a).
func (e *emitter) vfmla(a arr, d, n, m vreg) { e.op("VFMLA", m.arr(a), n.arr(a), d.arr(a)) }
func (e *emitter) vfmls(a arr, d, n, m vreg) { e.op("VFMLS", m.arr(a), n.arr(a), d.arr(a)) }

// vaddv: scalar d = the sum of n's four 32-bit integer lanes.
func (e *emitter) vaddv(d, n vreg) { e.op("VADDV", n.arr(s4), fmt.Sprintf("V%d", d.u())) }

// scvtfd converts the signed integer in r to float64 in d.
func (e *emitter) scvtfd(d vreg, r gpr) { e.op("SCVTFD", r.String(), d.f()) }

// Scalar float instructions Go knows (float32: S, float64: D).

func (e *emitter) fabss(d, n vreg)    { e.op("FABSS", n.f(), d.f()) }
func (e *emitter) fmovs(d, n vreg)    { e.op("FMOVS", n.f(), d.f()) }
func (e *emitter) fmuls(d, n, m vreg) { e.op("FMULS", m.f(), n.f(), d.f()) }
func (e *emitter) fsubs(d, n, m vreg) { e.op("FSUBS", m.f(), n.f(), d.f()) }
func (e *emitter) frintzs(d, n vreg)  { e.op("FRINTZS", n.f(), d.f()) }

// fcmps compares n with m (flags as for n − m).
func (e *emitter) fcmps(n, m vreg) { e.op("FCMPS", m.f(), n.f()) }

func (e *emitter) fcvtsd(d, n vreg)   { e.op("FCVTSD", n.f(), d.f()) }
func (e *emitter) fdivd(d, n, m vreg) { e.op("FDIVD", m.f(), n.f(), d.f()) }
func (e *emitter) faddd(d, n, m vreg) { e.op("FADDD", m.f(), n.f(), d.f()) }
func (e *emitter) fsubd(d, n, m vreg) { e.op("FSUBD", m.f(), n.f(), d.f()) }

// Vector float instructions Go lacks: WORDs.

func (e *emitter) fadd(a arr, d, n, m vreg)  { e.word(fadd(a, d, n, m)) }
func (e *emitter) fsub(a arr, d, n, m vreg)  { e.word(fsub(a, d, n, m)) }
func (e *emitter) fmul(a arr, d, n, m vreg)  { e.word(fmul(a, d, n, m)) }
func (e *emitter) fmax(a arr, d, n, m vreg)  { e.word(fmax(a, d, n, m)) }
func (e *emitter) fmin(a arr, d, n, m vreg)  { e.word(fmin(a, d, n, m)) }
func (e *emitter) fdiv(a arr, d, n, m vreg)  { e.word(fdiv(a, d, n, m)) }
func (e *emitter) fmls(a arr, d, n, m vreg)  { e.word(fmls(a, d, n, m)) }
func (e *emitter) fcmeq(a arr, d, n, m vreg) { e.word(fcmeq(a, d, n, m)) }
func (e *emitter) fcmgt(a arr, d, n, m vreg) { e.word(fcmgt(a, d, n, m)) }
func (e *emitter) bic(d, n, m vreg)          { e.word(bic(d, n, m)) }
func (e *emitter) fcvtl(d, n vreg)           { e.word(fcvtl(d, n)) }
func (e *emitter) fcvtl2(d, n vreg)          { e.word(fcvtl2(d, n)) }
func (e *emitter) fcvtn(d, n vreg)           { e.word(fcvtn(d, n)) }
func (e *emitter) fcvtn2(d, n vreg)          { e.word(fcvtn2(d, n)) }
func (e *emitter) fmaxv(d, n vreg)           { e.word(fmaxv(d, n)) }
func (e *emitter) faddpD(d, n vreg)          { e.word(faddpD(d, n)) }
func (e *emitter) fmlaElem(a arr, d, n, m vreg, idx int) {
	e.word(fmlaElem(a, d, n, m, idx))
}
func (e *emitter) fmlsElem(a arr, d, n, m vreg, idx int) {
	e.word(fmlsElem(a, d, n, m, idx))
}

// vec128 is a 128-bit constant: the low and the high 64 bits.
type vec128 [2]uint64

// splat32 is c in every float32 lane; splat64 in every float64 lane.
func splat32(c uint32) vec128 {
	w := uint64(c) | uint64(c)<<32
	return vec128{w, w}
}

func splat64(c uint64) vec128 { return vec128{c, c} }

// pack32 is c[0..3] in the four float32 lanes, lane 0 first.
func pack32(c [4]uint32) vec128 {
	return vec128{uint64(c[0]) | uint64(c[1])<<32, uint64(c[2]) | uint64(c[3])<<32}
}

// pack64 is c[0], c[1] in the two float64 lanes.
func pack64(c [2]uint64) vec128 { return vec128(c) }

// constants loads vals into the registers first, first+1, … from a
// read-only table of the file (one load per four registers), using ptr.
func (e *emitter) constants(table string, ptr gpr, first vreg, vals ...vec128) {
	sym := "·" + table + "<>"
	for i, v := range vals {
		fmt.Fprintf(&e.data, "DATA\t%s+%d(SB)/8, $0x%016x\n", sym, 16*i, v[0])
		fmt.Fprintf(&e.data, "DATA\t%s+%d(SB)/8, $0x%016x\n", sym, 16*i+8, v[1])
	}
	fmt.Fprintf(&e.data, "GLOBL\t%s(SB), RODATA|NOPTR, $%d\n\n", sym, 16*len(vals))
	e.op("MOVD", "$"+sym+"(SB)", ptr.String())
	for i := 0; i < len(vals); i += 4 {
		n := min(4, len(vals)-i)
		e.vld1p(s4, ptr, seq(first+vreg(i), n)...)
	}
}
