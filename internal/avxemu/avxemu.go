// Package avxemu interprets functions of a Go amd64 assembly file, for
// tests: it runs the AVX-512 kernels on machines without AVX-512 (and
// both sets where the CPU has them, to check the interpreter against the
// hardware). It knows the instructions and operand forms that asm/amd64
// generates, no more; anything else is an error, not a guess. Operands
// are decoded once, when the file is parsed.
//
// Memory is a set of regions (arguments, frame, data symbols, the caller's
// slices); an access that is not wholly inside one region is an error, the
// way a guard page faults. float32 arithmetic rounds like the hardware
// (round to nearest even, one rounding per FMA); NaN payloads are not
// modelled, only NaN-ness.
package avxemu

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
)

// Program holds the parsed file: functions and read-only data.
type Program struct {
	funcs map[string]*function
	data  map[string][]byte
	syms  []string // data symbols, sorted: NewMachine maps them in order
}

type function struct {
	name   string
	frame  int // local frame size
	args   int // argument size
	instrs []instr
	labels map[string]int
}

type instr struct {
	op      string // without the .Z suffix
	code    opcode
	zeroing bool // .Z: zero-masking
	args    []string
	ops     []arg // args decoded
	err     error // why args do not decode, reported when it runs
	line    int
}

// arg is a decoded operand; a memory operand's address is computed when
// the instruction runs.
type arg struct {
	kind        byte // 'r' GP register, 'v' vector, 'k' opmask, 'i' immediate, 'm' memory
	reg         int  // 'r': the register
	width, idx  int  // 'v': bytes and number; 'k': number
	imm         uint64
	base, index int // 'm': registers, or -1
	scale, disp uint64
	sym         int // 'm': data symbol (index into Program.syms), or -1
}

// ArgSize returns the size of function name's argument frame, results
// included, as its TEXT line declares it.
func (p *Program) ArgSize(name string) (int, bool) {
	f := p.funcs[name]
	if f == nil {
		return 0, false
	}
	return f.args, true
}

// Parse reads the text of a Go assembly file.
func Parse(src string) (*Program, error) {
	p := &Program{funcs: map[string]*function{}, data: map[string][]byte{}}
	var cur *function
	for n, line := range strings.Split(src, "\n") {
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#include") {
			continue
		}
		op, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		switch {
		case op == "TEXT":
			// TEXT ·name(SB), NOSPLIT, $frame-args
			f := splitArgs(rest)
			name := strings.TrimSuffix(strings.TrimPrefix(f[0], "·"), "(SB)")
			size := strings.TrimPrefix(f[len(f)-1], "$")
			fr, ar, _ := strings.Cut(size, "-")
			cur = &function{name: name, labels: map[string]int{}}
			cur.frame, _ = strconv.Atoi(fr)
			cur.args, _ = strconv.Atoi(ar)
			p.funcs[name] = cur
		case op == "DATA":
			// DATA sym<>+off(SB)/size, $value
			f := splitArgs(rest)
			sym, off, size, err := parseData(f[0])
			if err != nil {
				return nil, fmt.Errorf("line %d: %v", n+1, err)
			}
			v, err := strconv.ParseUint(strings.TrimPrefix(f[1], "$"), 0, 64)
			if err != nil {
				return nil, fmt.Errorf("line %d: %v", n+1, err)
			}
			b := p.data[sym]
			for len(b) < off+size {
				b = append(b, 0)
			}
			for i := 0; i < size; i++ {
				b[off+i] = byte(v >> (8 * i))
			}
			p.data[sym] = b
		case op == "GLOBL":
			f := splitArgs(rest)
			sym := strings.TrimSuffix(f[0], "(SB)")
			size, _ := strconv.Atoi(strings.TrimPrefix(f[len(f)-1], "$"))
			b := p.data[sym]
			for len(b) < size {
				b = append(b, 0)
			}
			p.data[sym] = b
		case strings.HasSuffix(op, ":") && rest == "":
			if cur != nil {
				cur.labels[strings.TrimSuffix(op, ":")] = len(cur.instrs)
			}
		default:
			if cur == nil {
				return nil, fmt.Errorf("line %d: %q outside a function", n+1, line)
			}
			in := instr{op: strings.TrimSuffix(op, ".Z"), zeroing: strings.HasSuffix(op, ".Z"), args: splitArgs(rest), line: n + 1}
			in.code = opcodes[in.op]
			cur.instrs = append(cur.instrs, in)
		}
	}
	for sym := range p.data {
		p.syms = append(p.syms, sym)
	}
	sort.Strings(p.syms)
	for _, f := range p.funcs {
		for i := range f.instrs {
			in := &f.instrs[i]
			if _, ok := jumpTaken(in.code, false, false); ok {
				continue // the operand is a label
			}
			for _, a := range in.args {
				d, err := p.decode(a)
				if err != nil {
					in.err = err
					break
				}
				in.ops = append(in.ops, d)
			}
		}
	}
	return p, nil
}

// splitArgs splits an operand list at the commas outside parentheses.
func splitArgs(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	if t := strings.TrimSpace(s[start:]); t != "" {
		out = append(out, t)
	}
	return out
}

func parseData(s string) (sym string, off, size int, err error) {
	// sym<>+off(SB)/size
	a, sz, ok := strings.Cut(s, "/")
	if !ok {
		return "", 0, 0, fmt.Errorf("bad DATA operand %q", s)
	}
	size, err = strconv.Atoi(sz)
	if err != nil {
		return
	}
	a = strings.TrimSuffix(a, "(SB)")
	sym, o, _ := strings.Cut(a, "+")
	if o != "" {
		off, err = strconv.Atoi(o)
	}
	return sym, off, size, err
}

// Region is a block of emulated memory at a fixed address.
type Region struct {
	Addr uint64
	Data []byte
}

// Machine is the state of one call.
type Machine struct {
	p       *Program
	regions []*Region
	gp      [numGP]uint64
	syms    []uint64 // data symbol addresses, as Program.syms
	vec     [32][64]byte
	k       [8]uint64
	kop     opnd        // splitMask's opmask operand
	scratch [8][64]byte // tmp's buffers: an instruction uses at most 4
	nextTmp int
	zf, cf  bool
	next    uint64 // next free address
}

// NewMachine returns a machine with the program's data symbols mapped.
func NewMachine(p *Program) *Machine {
	m := &Machine{p: p, next: 0x10000}
	for _, sym := range p.syms {
		m.syms = append(m.syms, m.Map(append([]byte(nil), p.data[sym]...)).Addr)
	}
	return m
}

// Map places data in memory at a fresh address (64-byte aligned, with a
// gap after it) and returns its region; the machine reads and writes the
// slice itself.
func (m *Machine) Map(data []byte) *Region {
	r := &Region{Addr: m.next, Data: data}
	m.regions = append(m.regions, r)
	m.next += (uint64(len(data))+64+63)&^63 + 4096
	return r
}

// MapAt is Map with the region's address offset by off bytes from a
// 64-byte boundary (misaligned slices).
func (m *Machine) MapAt(data []byte, off int) *Region {
	m.next += uint64(off)
	r := m.Map(data)
	return r
}

func (m *Machine) mem(addr uint64, n int) ([]byte, error) {
	for _, r := range m.regions {
		if addr >= r.Addr && addr+uint64(n) <= r.Addr+uint64(len(r.Data)) {
			o := addr - r.Addr
			return r.Data[o : o+uint64(n)], nil
		}
	}
	return nil, fmt.Errorf("access of %d bytes at %#x outside every region", n, addr)
}

// Call runs function name with the argument frame args (as the Go ABI0
// lays it out: the result slots included) and returns the frame after the
// call, results in place.
func (m *Machine) Call(name string, args []byte) ([]byte, error) {
	f := m.p.funcs[name]
	if f == nil {
		return nil, fmt.Errorf("no function %s", name)
	}
	if len(args) != f.args {
		return nil, fmt.Errorf("%s: %d argument bytes, want %d", name, len(args), f.args)
	}
	fp := m.Map(args)
	// The local frame starts as NaN in every float lane (all ones): code
	// that reads a slot before writing it gets garbage, as on hardware.
	sp := m.Map(bytes.Repeat([]byte{0xff}, f.frame))
	m.gp = [numGP]uint64{}
	m.gp[regFP], m.gp[regSP] = fp.Addr, sp.Addr
	for pc, steps := 0, 0; ; steps++ {
		if pc >= len(f.instrs) {
			return nil, fmt.Errorf("%s: ran off the end", name)
		}
		if steps > 1e8 {
			return nil, fmt.Errorf("%s: too many steps", name)
		}
		in := &f.instrs[pc]
		pc++
		jump, ret, err := m.exec(f, in)
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %s %s: %v", name, in.line, in.op, strings.Join(in.args, ", "), err)
		}
		if ret {
			return fp.Data, nil
		}
		if jump != "" {
			t, ok := f.labels[jump]
			if !ok {
				return nil, fmt.Errorf("%s: no label %s", name, jump)
			}
			pc = t
		}
	}
}

// operands ------------------------------------------------------------------

type opnd struct {
	kind  byte // 'r' GP register, 'v' vector, 'k' opmask, 'i' immediate, 'm' memory
	reg   int  // 'r'
	width int  // vector bytes: 16, 32, 64
	idx   int
	imm   uint64
	addr  uint64
}

// The general-purpose registers, and the pseudo-registers FP and SP.
const (
	regSP = 16 + iota
	regFP
	numGP
)

var gpIndex = map[string]int{"AX": 0, "CX": 1, "DX": 2, "BX": 3, "BP": 5, "SI": 6, "DI": 7,
	"R8": 8, "R9": 9, "R10": 10, "R11": 11, "R12": 12, "R13": 13, "R14": 14, "R15": 15, "SP": regSP}

// decode parses an operand: $imm, a register, disp(base)(index*scale),
// sym<>+off(SB) or name+off(FP).
func (p *Program) decode(s string) (arg, error) {
	if r, ok := gpIndex[s]; ok {
		return arg{kind: 'r', reg: r}, nil
	}
	switch {
	case strings.HasPrefix(s, "$"):
		v, err := strconv.ParseInt(s[1:], 0, 64)
		return arg{kind: 'i', imm: uint64(v)}, err
	case len(s) >= 2 && (s[0] == 'X' || s[0] == 'Y' || s[0] == 'Z') && isDigits(s[1:]):
		i, _ := strconv.Atoi(s[1:])
		w := map[byte]int{'X': 16, 'Y': 32, 'Z': 64}[s[0]]
		return arg{kind: 'v', idx: i, width: w}, nil
	case len(s) == 2 && s[0] == 'K' && isDigits(s[1:]):
		return arg{kind: 'k', idx: int(s[1] - '0')}, nil
	}
	a := arg{kind: 'm', base: -1, index: -1, sym: -1}
	if strings.HasSuffix(s, "(SB)") {
		sym, off, _ := strings.Cut(strings.TrimSuffix(s, "(SB)"), "+")
		i := sort.SearchStrings(p.syms, sym)
		if i == len(p.syms) || p.syms[i] != sym {
			return a, fmt.Errorf("unknown symbol %s", sym)
		}
		o, _ := strconv.Atoi(off)
		a.sym, a.disp = i, uint64(o)
		return a, nil
	}
	if strings.HasSuffix(s, "(FP)") {
		_, off, _ := strings.Cut(strings.TrimSuffix(s, "(FP)"), "+")
		o, err := strconv.Atoi(off)
		a.base, a.disp = regFP, uint64(o)
		return a, err
	}
	i := strings.Index(s, "(")
	if i < 0 {
		return a, fmt.Errorf("bad operand %q", s)
	}
	if i > 0 {
		d, err := strconv.ParseInt(s[:i], 0, 64)
		if err != nil {
			return a, err
		}
		a.disp = uint64(d)
	}
	rest := s[i:]
	j := strings.Index(rest, ")")
	base, ok := gpIndex[rest[1:j]]
	if !ok {
		return a, fmt.Errorf("bad base %q", rest[1:j])
	}
	a.base = base
	if rest = rest[j+1:]; rest != "" {
		// (index*scale)
		in := strings.TrimSuffix(strings.TrimPrefix(rest, "("), ")")
		r, sc, _ := strings.Cut(in, "*")
		k, err := strconv.Atoi(sc)
		x, ok := gpIndex[r]
		if err != nil || !ok {
			return a, fmt.Errorf("bad index %q", rest)
		}
		a.index, a.scale = x, uint64(k)
	}
	return a, nil
}

// operand evaluates a decoded operand: a memory operand's address from
// the registers now.
func (m *Machine) operand(a *arg) opnd {
	o := opnd{kind: a.kind, reg: a.reg, width: a.width, idx: a.idx, imm: a.imm}
	if a.kind == 'm' {
		o.addr = a.disp
		if a.sym >= 0 {
			o.addr += m.syms[a.sym]
		}
		if a.base >= 0 {
			o.addr += m.gp[a.base]
		}
		if a.index >= 0 {
			o.addr += m.gp[a.index] * a.scale
		}
	}
	return o
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// vector lanes ---------------------------------------------------------------

// tmp returns n zeroed bytes that stay untouched for the next few calls:
// the operands and result of one instruction, without allocating.
func (m *Machine) tmp(n int) []byte {
	b := m.scratch[m.nextTmp%len(m.scratch)][:n]
	m.nextTmp++
	clear(b)
	return b
}

// readVec returns a copy of width bytes of a register or memory.
func (m *Machine) readVec(o opnd, width int) ([]byte, error) {
	switch o.kind {
	case 'v':
		return append(m.tmp(0), m.vec[o.idx][:width]...), nil
	case 'm':
		b, err := m.mem(o.addr, width)
		return append(m.tmp(0), b...), err
	}
	return nil, fmt.Errorf("not a vector operand")
}

// writeVec writes a register (zeroing the bytes above width, as VEX and
// EVEX writes do) or memory.
func (m *Machine) writeVec(o opnd, b []byte) error {
	switch o.kind {
	case 'v':
		var z [64]byte
		copy(z[:], b)
		m.vec[o.idx] = z
		return nil
	case 'm':
		d, err := m.mem(o.addr, len(b))
		if err == nil {
			copy(d, b)
		}
		return err
	}
	return fmt.Errorf("not a vector destination")
}

func f32(b []byte, i int) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])) }
func u32(b []byte, i int) uint32  { return binary.LittleEndian.Uint32(b[4*i:]) }
func f64(b []byte, i int) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])) }
func put32(b []byte, i int, v uint32) {
	binary.LittleEndian.PutUint32(b[4*i:], v)
}
func putf32(b []byte, i int, v float32) { put32(b, i, math.Float32bits(v)) }
func putf64(b []byte, i int, v float64) {
	binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(v))
}

// FMA32 is a·b + c rounded once to float32.
func FMA32(a, b, c float32) float32 {
	r := math.FMA(float64(a), float64(b), float64(c))
	// The float64 rounding is harmless unless it lands on a float32
	// midpoint (or r is tiny, where float32 is subnormal): then exactly.
	bits := math.Float64bits(r)
	if bits&(1<<29-1) != 1<<28 && (math.Abs(r) > 0x1p-120 || r == 0) {
		return float32(r)
	}
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return float32(r)
	}
	x := new(big.Float).SetPrec(300).SetFloat64(float64(a))
	x.Mul(x, new(big.Float).SetFloat64(float64(b)))
	x.Add(x, new(big.Float).SetFloat64(float64(c)))
	f, _ := x.Float32()
	return f
}

// opcode numbers the instructions the interpreter knows (0: any other),
// so that it dispatches on integers.
type opcode uint8

const (
	opUnknown opcode = iota
	opADDQ
	opANDQ
	opCMOVQHI
	opCMPQ
	opDECQ
	opINCQ
	opJA
	opJAE
	opJB
	opJBE
	opJMP
	opJNZ
	opJZ
	opKMOVW
	opKSHIFTRW
	opLEAQ
	opMOVL
	opMOVLQSX
	opMOVQ
	opMOVSD
	opMOVSS
	opPREFETCHNTA
	opPREFETCHT0
	opPREFETCHT1
	opRET
	opSHLQ
	opSHRQ
	opSUBQ
	opTESTL
	opTESTQ
	opVADDPD
	opVADDPS
	opVADDSD
	opVANDNPD
	opVANDNPS
	opVANDPD
	opVANDPS
	opVBLENDVPD
	opVBLENDVPS
	opVBROADCASTSD
	opVBROADCASTSS
	opVCMPPD
	opVCMPPS
	opVCMPSD
	opVCMPSS
	opVCVTPD2PS
	opVCVTPD2PSY
	opVCVTPS2PD
	opVCVTSD2SS
	opVCVTSI2SDL
	opVCVTSI2SDQ
	opVCVTSS2SD
	opVDIVPD
	opVDIVSD
	opVEXTRACTF128
	opVEXTRACTF64X4
	opVEXTRACTI128
	opVEXTRACTI32X4
	opVEXTRACTI64X4
	opVFMADD132PS
	opVFMADD213PD
	opVFMADD213PS
	opVFMADD213SD
	opVFMADD231PD
	opVFMADD231PS
	opVFNMADD132PD
	opVFNMADD231PD
	opVFNMADD231PS
	opVINSERTF128
	opVINSERTF64X4
	opVMAXPD
	opVMASKMOVPS
	opVMAXPS
	opVMINPD
	opVMINPS
	opVMOVAPD
	opVMOVD
	opVMOVDQU
	opVMOVMSKPD
	opVMOVSD
	opVMOVSS
	opVMOVUPD
	opVMOVUPS
	opVMULPD
	opVMULPS
	opVMULSD
	opVMULSS
	opVORPD
	opVPADDD
	opVPADDQ
	opVPAND
	opVPERMILPD
	opVPERMILPS
	opVPERMPS
	opVPSHUFD
	opVPSLLD
	opVPOR
	opVPSLLQ
	opVPSRLQ
	opVPSUBD
	opVPSUBQ
	opVPXOR
	opVPXORD
	opVRNDSCALEPS
	opVROUNDPS
	opVROUNDSD
	opVSCALEFPS
	opVSUBPD
	opVTESTPD
	opVSUBPS
	opVSUBSD
	opVXORPS
	opVZEROUPPER
	opXORQ
)

var opNames = [...]string{
	opADDQ: "ADDQ", opANDQ: "ANDQ", opCMOVQHI: "CMOVQHI", opCMPQ: "CMPQ", opDECQ: "DECQ",
	opINCQ: "INCQ", opJA: "JA", opJAE: "JAE", opJB: "JB", opJBE: "JBE", opJMP: "JMP", opJNZ: "JNZ",
	opJZ: "JZ", opKMOVW: "KMOVW", opKSHIFTRW: "KSHIFTRW", opLEAQ: "LEAQ", opMOVL: "MOVL",
	opMOVLQSX: "MOVLQSX", opMOVQ: "MOVQ", opMOVSD: "MOVSD", opMOVSS: "MOVSS",
	opPREFETCHNTA: "PREFETCHNTA", opPREFETCHT0: "PREFETCHT0", opPREFETCHT1: "PREFETCHT1",
	opRET: "RET", opSHLQ: "SHLQ", opSHRQ: "SHRQ", opSUBQ: "SUBQ", opTESTL: "TESTL",
	opTESTQ: "TESTQ", opVTESTPD: "VTESTPD", opVADDPD: "VADDPD", opVADDPS: "VADDPS", opVADDSD: "VADDSD",
	opVANDNPD: "VANDNPD", opVANDNPS: "VANDNPS", opVANDPD: "VANDPD", opVANDPS: "VANDPS",
	opVBLENDVPD: "VBLENDVPD", opVBLENDVPS: "VBLENDVPS", opVBROADCASTSD: "VBROADCASTSD",
	opVBROADCASTSS: "VBROADCASTSS", opVCMPPD: "VCMPPD", opVCMPPS: "VCMPPS",
	opVCMPSD: "VCMPSD", opVCMPSS: "VCMPSS", opVCVTPD2PS: "VCVTPD2PS",
	opVCVTPD2PSY: "VCVTPD2PSY", opVCVTPS2PD: "VCVTPS2PD", opVCVTSD2SS: "VCVTSD2SS",
	opVCVTSI2SDL: "VCVTSI2SDL", opVCVTSI2SDQ: "VCVTSI2SDQ",
	opVCVTSS2SD: "VCVTSS2SD", opVDIVPD: "VDIVPD", opVDIVSD: "VDIVSD", opVEXTRACTF128: "VEXTRACTF128",
	opVEXTRACTF64X4: "VEXTRACTF64X4", opVEXTRACTI128: "VEXTRACTI128", opVEXTRACTI32X4: "VEXTRACTI32X4",
	opVEXTRACTI64X4: "VEXTRACTI64X4", opVFMADD132PS: "VFMADD132PS",
	opVFMADD213PD: "VFMADD213PD", opVFMADD213PS: "VFMADD213PS", opVFMADD213SD: "VFMADD213SD", opVFMADD231PD: "VFMADD231PD",
	opVFMADD231PS: "VFMADD231PS", opVFNMADD132PD: "VFNMADD132PD", opVFNMADD231PD: "VFNMADD231PD",
	opVFNMADD231PS: "VFNMADD231PS", opVINSERTF128: "VINSERTF128",
	opVINSERTF64X4: "VINSERTF64X4", opVMAXPD: "VMAXPD", opVMASKMOVPS: "VMASKMOVPS",
	opVMAXPS: "VMAXPS", opVMINPD: "VMINPD", opVMINPS: "VMINPS", opVMOVAPD: "VMOVAPD", opVMOVD: "VMOVD",
	opVMOVDQU: "VMOVDQU", opVMOVMSKPD: "VMOVMSKPD", opVMOVSD: "VMOVSD", opVMOVSS: "VMOVSS",
	opVMOVUPD: "VMOVUPD", opVMOVUPS: "VMOVUPS", opVMULPD: "VMULPD", opVMULPS: "VMULPS",
	opVMULSD: "VMULSD", opVMULSS: "VMULSS", opVORPD: "VORPD", opVPADDD: "VPADDD", opVPADDQ: "VPADDQ", opVPAND: "VPAND", opVPERMILPD: "VPERMILPD",
	opVPERMILPS: "VPERMILPS", opVPERMPS: "VPERMPS", opVPSHUFD: "VPSHUFD", opVPSLLD: "VPSLLD",
	opVPOR: "VPOR", opVPSLLQ: "VPSLLQ", opVPSRLQ: "VPSRLQ",
	opVPSUBD: "VPSUBD", opVPSUBQ: "VPSUBQ", opVPXOR: "VPXOR", opVPXORD: "VPXORD",
	opVRNDSCALEPS: "VRNDSCALEPS", opVROUNDPS: "VROUNDPS", opVROUNDSD: "VROUNDSD",
	opVSCALEFPS: "VSCALEFPS", opVSUBPD: "VSUBPD", opVSUBPS: "VSUBPS", opVSUBSD: "VSUBSD",
	opVXORPS: "VXORPS", opVZEROUPPER: "VZEROUPPER", opXORQ: "XORQ",
}

var opcodes = func() map[string]opcode {
	m := map[string]opcode{}
	for c, n := range opNames {
		if n != "" {
			m[n] = opcode(c)
			if strings.HasSuffix(n, "PD") || strings.HasSuffix(n, "Q") {
				esizes[c] = 8
			} else {
				esizes[c] = 4
			}
		}
	}
	return m
}()

// jumpTaken reports whether op is a jump and whether it is taken with the
// flags zf and cf.
func jumpTaken(op opcode, zf, cf bool) (taken, ok bool) {
	switch op {
	case opJMP:
		return true, true
	case opJZ:
		return zf, true
	case opJNZ:
		return !zf, true
	case opJB:
		return cf, true
	case opJBE:
		return cf || zf, true
	case opJAE:
		return !cf, true
	case opJA:
		return !cf && !zf, true
	}
	return false, false
}

// exec runs one instruction; it returns a label to jump to, or ret.
func (m *Machine) exec(f *function, in *instr) (jump string, ret bool, err error) {
	op, zeroing := in.code, in.zeroing
	if taken, ok := jumpTaken(op, m.zf, m.cf); ok {
		if taken {
			return in.args[0], false, nil
		}
		return "", false, nil
	}
	switch op {
	case opRET:
		return "", true, nil
	case opVZEROUPPER:
		for i := 0; i < 16; i++ {
			for j := 16; j < 64; j++ {
				m.vec[i][j] = 0
			}
		}
		return "", false, nil
	}
	if in.err != nil {
		return "", false, in.err
	}
	var buf [6]opnd
	ops := buf[:len(in.ops)]
	for i := range in.ops {
		ops[i] = m.operand(&in.ops[i])
	}
	return "", false, m.execOps(op, zeroing, ops)
}

func (m *Machine) gpVal(o opnd, size int) (uint64, error) {
	switch o.kind {
	case 'i':
		return o.imm, nil
	case 'r':
		return m.gp[o.reg], nil
	case 'm':
		b, err := m.mem(o.addr, size)
		if err != nil {
			return 0, err
		}
		if size == 4 {
			return uint64(binary.LittleEndian.Uint32(b)), nil
		}
		return binary.LittleEndian.Uint64(b), nil
	}
	return 0, fmt.Errorf("bad integer operand")
}

func (m *Machine) setGP(o opnd, v uint64, size int) error {
	switch o.kind {
	case 'r':
		if size == 4 {
			v = uint64(uint32(v))
		}
		m.gp[o.reg] = v
		return nil
	case 'm':
		b, err := m.mem(o.addr, size)
		if err != nil {
			return err
		}
		if size == 4 {
			binary.LittleEndian.PutUint32(b, uint32(v))
		} else {
			binary.LittleEndian.PutUint64(b, v)
		}
		return nil
	}
	return fmt.Errorf("bad integer destination")
}

// width of a vector instruction: its widest register operand, or 64 for
// memory-only forms handled by the caller.
func vwidth(ops []opnd) int {
	w := 0
	for _, o := range ops {
		if o.kind == 'v' && o.width > w {
			w = o.width
		}
	}
	return w
}

func (m *Machine) execOps(op opcode, zeroing bool, ops []opnd) error {
	switch op {
	case opPREFETCHT0, opPREFETCHT1, opPREFETCHNTA, opMOVQ, opMOVL, opLEAQ, opADDQ, opANDQ, opSUBQ,
		opSHRQ, opSHLQ, opXORQ, opINCQ, opDECQ, opCMPQ, opTESTQ, opTESTL, opVMOVMSKPD, opCMOVQHI,
		opKMOVW, opMOVSD, opMOVSS, opMOVLQSX, opVMOVD, opKSHIFTRW, opVTESTPD:
		if zeroing { // the vector forms (execVec) check their own
			return fmt.Errorf("%s.Z not modelled", opNames[op])
		}
	}
	switch op {
	case opPREFETCHT0, opPREFETCHT1, opPREFETCHNTA:
		// A hint: no access, and no fault at any address.
		if len(ops) != 1 || ops[0].kind != 'm' {
			return fmt.Errorf("%s needs one memory operand", opNames[op])
		}
		return nil
	case opMOVQ, opMOVL:
		size := 8
		if op == opMOVL {
			size = 4
		}
		v, err := m.gpVal(ops[0], size)
		if err != nil {
			return err
		}
		return m.setGP(ops[1], v, size)
	case opLEAQ:
		m.gp[ops[1].reg] = ops[0].addr
		return nil
	case opADDQ, opANDQ, opSUBQ, opSHRQ, opSHLQ, opXORQ, opINCQ, opDECQ:
		var s uint64
		d := ops[len(ops)-1]
		if d.kind != 'r' {
			return fmt.Errorf("%s to memory not modelled", opNames[op])
		}
		if len(ops) == 2 {
			var err error
			if s, err = m.gpVal(ops[0], 8); err != nil {
				return err
			}
		}
		v := m.gp[d.reg]
		switch op {
		case opADDQ:
			m.cf = v+s < v
			v += s
		case opSUBQ:
			m.cf = v < s
			v -= s
		case opSHRQ, opSHLQ:
			s &= 63
			if s == 0 { // no flags change
				return nil
			}
			if op == opSHRQ {
				m.cf = v>>(s-1)&1 == 1
				v >>= s
			} else {
				m.cf = v<<(s-1)>>63 == 1
				v <<= s
			}
		case opXORQ:
			v ^= s
			m.cf = false
		case opANDQ:
			v &= s
			m.cf = false
		case opINCQ:
			v++
		case opDECQ:
			v--
		}
		m.gp[d.reg] = v
		m.zf = v == 0
		return nil
	case opCMPQ, opTESTQ, opTESTL:
		a, err := m.gpVal(ops[0], 8)
		if err != nil {
			return err
		}
		b, err := m.gpVal(ops[1], 8)
		if err != nil {
			return err
		}
		switch op {
		case opCMPQ:
			m.zf, m.cf = a == b, a < b
		case opTESTQ:
			m.zf, m.cf = a&b == 0, false
		default:
			m.zf, m.cf = uint32(a&b) == 0, false
		}
		return nil
	case opVTESTPD:
		// Go's first operand is Intel's second (src), the second dst:
		// ZF when no lane has both sign bits, CF when none has src's alone.
		w := vwidth(ops)
		src, err := m.readVec(ops[0], w)
		if err != nil {
			return err
		}
		dst, _ := m.readVec(ops[1], w)
		m.zf, m.cf = true, true
		for i := 0; i < w/8; i++ {
			a, b := src[8*i+7]>>7, dst[8*i+7]>>7
			m.zf = m.zf && a&b == 0
			m.cf = m.cf && a&^b == 0
		}
		return nil
	case opVMOVMSKPD:
		v := m.vec[ops[0].idx]
		var r uint64
		for i := 0; i < 2; i++ {
			r |= uint64(v[8*i+7]>>7) << i
		}
		m.gp[ops[1].reg] = r
		return nil
	case opCMOVQHI:
		if !m.cf && !m.zf {
			m.gp[ops[1].reg] = m.gp[ops[0].reg]
		}
		return nil
	case opKMOVW:
		b, err := m.mem(ops[0].addr, 2)
		if err != nil {
			return err
		}
		m.k[ops[1].idx] = uint64(binary.LittleEndian.Uint16(b))
		return nil
	case opMOVSD, opMOVSS:
		// MOVSD/MOVSS X, mem: a store of the low float64 or float32
		n := 8
		if op == opMOVSS {
			n = 4
		}
		return m.writeVec(ops[1], m.vec[ops[0].idx][:n])
	case opMOVLQSX:
		m.gp[ops[1].reg] = uint64(int64(int32(m.gp[ops[0].reg])))
		return nil
	case opVMOVD:
		// VMOVD X, r32: the low lane, zero-extended as 32-bit writes are
		m.gp[ops[1].reg] = uint64(u32(m.vec[ops[0].idx][:], 0))
		return nil
	case opKSHIFTRW:
		m.k[ops[2].idx] = (m.k[ops[1].idx] & 0xffff) >> ops[0].imm
		return nil
	}
	return m.execVec(op, zeroing, ops)
}

// masked writes res (width bytes) to dst, merge- or zero-masked by k
// when given; a masked store touches only the selected elements.
func (m *Machine) masked(dst opnd, width int, k *opnd, zeroing bool, res []byte, esize int) error {
	if k == nil {
		return m.writeVec(dst, res)
	}
	mask := m.k[k.idx]
	if dst.kind == 'm' {
		for i := 0; i < width/esize; i++ {
			if mask>>i&1 == 1 {
				d, err := m.mem(dst.addr+uint64(i*esize), esize)
				if err != nil {
					return err
				}
				copy(d, res[i*esize:(i+1)*esize])
			}
		}
		return nil
	}
	cur := m.vec[dst.idx]
	for i := 0; i < width/esize; i++ {
		if mask>>i&1 == 0 {
			if zeroing {
				for j := 0; j < esize; j++ {
					res[i*esize+j] = 0
				}
			} else {
				copy(res[i*esize:(i+1)*esize], cur[i*esize:(i+1)*esize])
			}
		}
	}
	return m.writeVec(dst, res)
}

// splitMask separates an opmask operand (before the destination) from the
// others.
func (m *Machine) splitMask(ops []opnd) ([]opnd, *opnd) {
	if len(ops) >= 3 && ops[len(ops)-2].kind == 'k' {
		m.kop = ops[len(ops)-2]
		ops[len(ops)-2] = ops[len(ops)-1]
		return ops[:len(ops)-1], &m.kop
	}
	return ops, nil
}

func cmpPred(p uint64, a, b float32) bool {
	un := a != a || b != b
	switch p {
	case 0x00: // EQ_OQ
		return !un && a == b
	case 0x04: // NEQ_UQ
		return un || a != b
	case 0x11: // LT_OQ
		return !un && a < b
	case 0x15: // NLT_UQ
		return un || !(a < b)
	case 0x1e: // GT_OQ
		return !un && a > b
	case 0x1d: // GE_OQ
		return !un && a >= b
	case 0x19: // NGE_UQ
		return un || !(a >= b)
	case 0x05: // NLT_US
		return un || !(a < b)
	}
	panic(fmt.Sprintf("avxemu: compare predicate %#x", p))
}

func cmpPred64(p uint64, a, b float64) bool {
	un := a != a || b != b
	switch p {
	case 0x00:
		return !un && a == b
	case 0x04:
		return un || a != b
	case 0x05:
		return un || !(a < b)
	case 0x07: // ORD_Q
		return !un
	case 0x11:
		return !un && a < b
	case 0x1d:
		return !un && a >= b
	case 0x19:
		return un || !(a >= b)
	case 0x1e:
		return !un && a > b
	}
	panic(fmt.Sprintf("avxemu: compare predicate %#x", p))
}

// esizes are the element sizes an opmask selects for each opcode: 8 for
// the float64 and quadword forms, else 4 (set with opcodes).
var esizes [len(opNames)]int

// src reads a source operand of w bytes. Under an opmask a memory source
// reads only the selected elements (es bytes each), the others read as 0:
// masked-off elements are not accessed, so they never fault.
func (m *Machine) src(o opnd, w int, k *opnd, es int) ([]byte, error) {
	if k == nil || o.kind != 'm' {
		return m.readVec(o, w)
	}
	b := m.tmp(w)
	for i := 0; i < w/es; i++ {
		if m.k[k.idx]>>i&1 == 1 {
			d, err := m.mem(o.addr+uint64(i*es), es)
			if err != nil {
				return nil, err
			}
			copy(b[i*es:], d)
		}
	}
	return b, nil
}

// maskable lists the opcodes whose cases below apply an opmask (merging,
// or zeroing with .Z); the others refuse one rather than ignore it.
var maskable = map[opcode]bool{
	opVMOVUPS: true, opVMOVUPD: true, opVMOVAPD: true, opVMOVDQU: true, opVROUNDPS: true, opVRNDSCALEPS: true,
	opVADDPD: true, opVMULPD: true, opVPXORD: true, opVPXOR: true, opVXORPS: true, opVANDPS: true,
	opVANDPD: true, opVANDNPS: true, opVANDNPD: true, opVPAND: true, opVPOR: true, opVORPD: true,
	opVADDPS: true, opVSUBPS: true, opVMULPS: true, opVFMADD213PS: true, opVFMADD132PS: true,
	opVFMADD231PS: true, opVFNMADD231PS: true, opVPADDD: true, opVPSUBD: true, opVPERMPS: true,
	opVPSLLD: true, opVMAXPS: true, opVMINPS: true, opVCVTPS2PD: true,
	opVSUBPD: true, opVMAXPD: true, opVMINPD: true, opVDIVPD: true, opVFMADD213PD: true, opVFMADD231PD: true, opVFNMADD132PD: true,
	opVFNMADD231PD: true, opVPSLLQ: true, opVPSRLQ: true, opVPADDQ: true, opVPSUBQ: true, opVSCALEFPS: true,
}

func (m *Machine) execVec(op opcode, zeroing bool, all []opnd) error {
	ops, k := m.splitMask(all)
	dst := ops[len(ops)-1]
	if k != nil || zeroing {
		// Compares into an opmask AND their result with a mask (no .Z).
		cmpToK := (op == opVCMPPS || op == opVCMPPD) && dst.kind == 'k' && !zeroing
		if !maskable[op] && !cmpToK {
			return fmt.Errorf("%s under an opmask or .Z not modelled", opNames[op])
		}
	}
	w := vwidth(ops)
	es := esizes[op]
	switch op {
	case opVMOVUPS, opVMOVUPD, opVMOVAPD, opVMOVDQU:
		if w == 0 {
			return fmt.Errorf("no register operand")
		}
		src, err := m.src(ops[0], w, k, es)
		if err != nil {
			return err
		}
		return m.masked(dst, w, k, zeroing, src, es)
	case opVROUNDPS, opVRNDSCALEPS:
		if ops[0].imm != 9 { // floor, from the immediate, no scaling
			return fmt.Errorf("rounding mode %#x not modelled", ops[0].imm)
		}
		src, err := m.readVec(ops[1], w)
		if err != nil {
			return err
		}
		res := m.tmp(w)
		for i := 0; i < w/4; i++ {
			putf32(res, i, float32(math.Floor(float64(f32(src, i)))))
		}
		return m.masked(dst, w, k, zeroing, res, 4)
	case opVBROADCASTSS, opVBROADCASTSD:
		n := 4
		if op == opVBROADCASTSD {
			n = 8
		}
		b, err := m.readVec(ops[0], n)
		if err != nil {
			return err
		}
		res := m.tmp(w)
		for i := 0; i < w/n; i++ {
			copy(res[n*i:], b)
		}
		return m.writeVec(dst, res)
	case opVADDPD, opVMULPD:
		a, err := m.src(ops[0], w, k, 8)
		if err != nil {
			return err
		}
		b, _ := m.readVec(ops[1], w)
		res := m.tmp(w)
		for i := 0; i < w/8; i++ {
			v := f64(b, i) + f64(a, i)
			if op == opVMULPD {
				v = f64(b, i) * f64(a, i)
			}
			putf64(res, i, v)
		}
		return m.masked(dst, w, k, zeroing, res, 8)
	case opVCVTPD2PS, opVCVTPD2PSY:
		// float64 lanes of the source, twice the destination's width.
		src, err := m.readVec(ops[0], 2*dst.width)
		if err != nil {
			return err
		}
		res := m.tmp(dst.width)
		for i := 0; i < dst.width/4; i++ {
			putf32(res, i, float32(f64(src, i)))
		}
		return m.writeVec(dst, res)
	case opVINSERTF64X4, opVINSERTF128:
		// VINSERTF… $i, half, src1, dst: dst = src1 with half i replaced.
		hw := 16
		if op == opVINSERTF64X4 {
			hw = 32
		}
		half, err := m.readVec(ops[1], hw)
		if err != nil {
			return err
		}
		res, _ := m.readVec(ops[2], 2*hw)
		copy(res[int(ops[0].imm)*hw:], half)
		return m.writeVec(dst, res)
	case opVPXORD, opVPXOR, opVXORPS, opVANDPS, opVANDPD, opVANDNPS, opVANDNPD, opVPAND, opVPOR, opVORPD:
		a, err := m.readVec(ops[0], w)
		if err != nil {
			return err
		}
		b, _ := m.readVec(ops[1], w)
		res := m.tmp(w)
		for i := range res {
			switch op {
			case opVANDPS, opVANDPD, opVPAND:
				res[i] = a[i] & b[i]
			case opVPOR, opVORPD:
				res[i] = a[i] | b[i]
			case opVANDNPS, opVANDNPD:
				res[i] = ^b[i] & a[i]
			default:
				res[i] = a[i] ^ b[i]
			}
		}
		return m.masked(dst, w, k, zeroing, res, es)
	case opVADDPS, opVSUBPS, opVMULPS, opVFMADD213PS, opVFMADD132PS, opVFMADD231PS, opVFNMADD231PS, opVPADDD, opVPSUBD, opVPERMPS:
		a, err := m.src(ops[0], w, k, 4)
		if err != nil {
			return err
		}
		b, _ := m.readVec(ops[1], w)
		c := m.vec[dst.idx][:w] // the accumulator of the FMA forms
		res := m.tmp(w)
		for i := 0; i < w/4; i++ {
			var v float32
			switch op {
			case opVADDPS:
				v = f32(b, i) + f32(a, i)
			case opVSUBPS:
				v = f32(b, i) - f32(a, i)
			case opVMULPS:
				v = f32(b, i) * f32(a, i)
			case opVFMADD213PS: // dst = dst·b + a
				v = FMA32(f32(c, i), f32(b, i), f32(a, i))
			case opVFMADD132PS: // dst = dst·a + b
				v = FMA32(f32(c, i), f32(a, i), f32(b, i))
			case opVFMADD231PS: // dst = b·a + dst
				v = FMA32(f32(b, i), f32(a, i), f32(c, i))
			case opVFNMADD231PS: // dst = −(b·a) + dst
				v = FMA32(-f32(b, i), f32(a, i), f32(c, i))
			case opVPADDD:
				put32(res, i, u32(b, i)+u32(a, i))
				continue
			case opVPSUBD:
				put32(res, i, u32(b, i)-u32(a, i))
				continue
			case opVPERMPS: // a: table, b: indices
				put32(res, i, u32(a, int(u32(b, i))&(w/4-1)))
				continue
			}
			putf32(res, i, v)
		}
		return m.masked(dst, w, k, zeroing, res, 4)
	case opVPSLLD:
		a, err := m.readVec(ops[1], w)
		if err != nil {
			return err
		}
		res := m.tmp(w)
		for i := 0; i < w/4; i++ {
			put32(res, i, u32(a, i)<<ops[0].imm)
		}
		return m.masked(dst, w, k, zeroing, res, 4)
	case opVCMPPS:
		// VCMPPS $p, src2, src1, [k,] dst: dst = src1 p src2.
		pred := ops[0].imm
		src1, err := m.readVec(ops[2], vwidth(ops[1:3]))
		if err != nil {
			return err
		}
		ww := vwidth(ops[1:3])
		src2, err := m.readVec(ops[1], ww)
		if err != nil {
			return err
		}
		if dst.kind == 'k' {
			var r uint64
			for i := 0; i < ww/4; i++ {
				if cmpPred(pred, f32(src1, i), f32(src2, i)) {
					r |= 1 << i
				}
			}
			if k != nil {
				r &= m.k[k.idx]
			}
			m.k[dst.idx] = r
			return nil
		}
		res := m.tmp(ww)
		for i := 0; i < ww/4; i++ {
			if cmpPred(pred, f32(src1, i), f32(src2, i)) {
				put32(res, i, 0xffffffff)
			}
		}
		return m.writeVec(dst, res)
	case opVMAXPS, opVMINPS:
		a, err := m.src(ops[0], w, k, 4)
		if err != nil {
			return err
		}
		b, _ := m.readVec(ops[1], w)
		res := m.tmp(w)
		for i := 0; i < w/4; i++ {
			s1, s2 := f32(b, i), f32(a, i) // dst = s1 op s2 ? s1 : s2
			v := s2
			if op == opVMAXPS && s1 > s2 || op == opVMINPS && s1 < s2 {
				v = s1
			}
			putf32(res, i, v)
		}
		return m.masked(dst, w, k, zeroing, res, 4)
	case opVPERMILPS, opVPSHUFD:
		src, _ := m.readVec(ops[1], w)
		res := m.tmp(w)
		for i := 0; i < w/4; i++ {
			base := i &^ 3
			sel := int(ops[0].imm>>(2*(i&3))) & 3
			put32(res, i, u32(src, base+sel))
		}
		return m.writeVec(dst, res)
	case opVMASKMOVPS:
		// VMASKMOVPS mem, mask, dst: the lanes whose mask has the top bit
		// set are loaded, the others are 0 and not accessed.
		if ops[0].kind != 'm' {
			return fmt.Errorf("only the load form is modelled")
		}
		mask, _ := m.readVec(ops[1], w)
		res := m.tmp(w)
		for i := 0; i < w/4; i++ {
			if u32(mask, i)>>31 == 1 {
				d, err := m.mem(ops[0].addr+uint64(4*i), 4)
				if err != nil {
					return err
				}
				copy(res[4*i:], d)
			}
		}
		return m.writeVec(dst, res)
	case opVBLENDVPS:
		// VBLENDVPS mask, s3, s2, dst: dst = mask's top bit ? s3 : s2.
		mask, _ := m.readVec(ops[0], w)
		s3, err := m.readVec(ops[1], w)
		if err != nil {
			return err
		}
		s2, _ := m.readVec(ops[2], w)
		res := m.tmp(w)
		for i := 0; i < w/4; i++ {
			v := u32(s2, i)
			if u32(mask, i)>>31 == 1 {
				v = u32(s3, i)
			}
			put32(res, i, v)
		}
		return m.writeVec(dst, res)
	case opVMOVSD, opVMOVSS:
		n := 8
		if op == opVMOVSS {
			n = 4
		}
		b, err := m.readVec(ops[0], n)
		if err != nil {
			return err
		}
		return m.writeVec(dst, b)
	case opVFMADD213SD:
		// VFMADD213SD src3, src2, dst: the low float64 of dst becomes
		// dst·src2 + src3 rounded once; the rest of dst stays.
		a, err := m.readVec(ops[0], 8)
		if err != nil {
			return err
		}
		b, _ := m.readVec(ops[1], 16)
		res := append(m.tmp(0), m.vec[dst.idx][:16]...)
		putf64(res, 0, math.FMA(f64(res, 0), f64(b, 0), f64(a, 0)))
		return m.writeVec(dst, res)
	case opVCVTSI2SDQ, opVCVTSI2SDL:
		// VCVTSI2SD{Q,L} m, src1, dst: the signed integer at m as the low
		// float64, the rest of the 128 bits from src1.
		n := 8
		if op == opVCVTSI2SDL {
			n = 4
		}
		if ops[0].kind != 'm' {
			return fmt.Errorf("%s from a register not modelled", opNames[op])
		}
		b, err := m.readVec(ops[0], n)
		if err != nil {
			return err
		}
		v := int64(binary.LittleEndian.Uint64(append(b[:n:n], make([]byte, 8-n)...)))
		if n == 4 {
			v = int64(int32(v))
		}
		s1, _ := m.readVec(ops[1], 16)
		res := append(m.tmp(0), s1...)
		putf64(res, 0, float64(v))
		return m.writeVec(dst, res)
	case opVSUBSD, opVMULSD, opVDIVSD, opVCVTSS2SD, opVCVTSD2SS, opVMULSS, opVROUNDSD, opVCMPSD, opVCMPSS:
		// Scalar forms: the low element from the sources, the rest of the
		// 128 bits from the first source (src1, the next to last operand).
		var imm uint64
		if ops[0].kind == 'i' {
			imm, ops = ops[0].imm, ops[1:]
		}
		n := 8 // a memory source is the scalar: 4 bytes for the SS forms
		if op == opVCVTSS2SD || op == opVMULSS || op == opVCMPSS {
			n = 4
		}
		s2, err := m.readVec(ops[0], n)
		if err != nil {
			return err
		}
		s1, _ := m.readVec(ops[1], 16)
		res := append(m.tmp(0), s1...)
		switch op {
		case opVSUBSD:
			putf64(res, 0, f64(s1, 0)-f64(s2, 0))
		case opVMULSD:
			putf64(res, 0, f64(s1, 0)*f64(s2, 0))
		case opVDIVSD:
			putf64(res, 0, f64(s1, 0)/f64(s2, 0))
		case opVCVTSS2SD:
			putf64(res, 0, float64(f32(s2, 0)))
		case opVCVTSD2SS:
			putf32(res, 0, float32(f64(s2, 0)))
		case opVMULSS:
			putf32(res, 0, f32(s1, 0)*f32(s2, 0))
		case opVROUNDSD:
			if imm&7 != 1 { // round down, from the immediate
				return fmt.Errorf("rounding mode %#x not modelled", imm)
			}
			putf64(res, 0, math.Floor(f64(s2, 0)))
		case opVCMPSD:
			var r uint64
			if cmpPred64(imm, f64(s1, 0), f64(s2, 0)) {
				r = ^uint64(0)
			}
			binary.LittleEndian.PutUint64(res, r)
		case opVCMPSS:
			var r uint32
			if cmpPred(imm, f32(s1, 0), f32(s2, 0)) {
				r = ^uint32(0)
			}
			put32(res, 0, r)
		}
		return m.writeVec(dst, res)
	case opVCVTPS2PD:
		// dst has w bytes of float64 from w/2 bytes of float32.
		// Under a mask, element i of a memory source is read for lane i.
		src, err := m.src(ops[0], dst.width/2, k, 4)
		if err != nil {
			return err
		}
		res := m.tmp(dst.width)
		for i := 0; i < dst.width/8; i++ {
			putf64(res, i, float64(f32(src, i)))
		}
		return m.masked(dst, dst.width, k, zeroing, res, 8)
	case opVADDSD:
		a, err := m.readVec(ops[0], 8) // a memory source is 8 bytes
		if err != nil {
			return err
		}
		b, _ := m.readVec(ops[1], 16)
		res := append(m.tmp(0), b...)
		putf64(res, 0, f64(b, 0)+f64(a, 0))
		return m.writeVec(dst, res)
	case opVEXTRACTI32X4:
		// A quarter of a ZMM.
		src, _ := m.readVec(ops[1], 4*dst.width)
		h := int(ops[0].imm) * dst.width
		return m.writeVec(dst, src[h:h+dst.width])
	case opVEXTRACTF64X4, opVEXTRACTF128, opVEXTRACTI64X4, opVEXTRACTI128:
		src, _ := m.readVec(ops[1], 2*dst.width)
		h := int(ops[0].imm) * dst.width
		return m.writeVec(dst, src[h:h+dst.width])
	case opVPERMILPD:
		src, _ := m.readVec(ops[1], 16)
		res := m.tmp(16)
		for i := 0; i < 2; i++ {
			sel := int(ops[0].imm>>i) & 1
			copy(res[8*i:], src[8*sel:8*sel+8])
		}
		return m.writeVec(dst, res)
	}
	return m.execVec2(op, zeroing, ops, k)
}

// execVec2 holds the float64 forms, the quadword shift and VSCALEFPS.
func (m *Machine) execVec2(op opcode, zeroing bool, ops []opnd, k *opnd) error {
	dst := ops[len(ops)-1]
	w := vwidth(ops)
	switch op {
	case opVSUBPD, opVDIVPD, opVMAXPD, opVMINPD, opVFMADD213PD, opVFMADD231PD, opVFNMADD132PD, opVFNMADD231PD:
		a, err := m.src(ops[0], w, k, 8)
		if err != nil {
			return err
		}
		b, _ := m.readVec(ops[1], w)
		c := m.vec[dst.idx][:w] // the accumulator of the FMA forms
		res := m.tmp(w)
		for i := 0; i < w/8; i++ {
			var v float64
			switch op {
			case opVSUBPD:
				v = f64(b, i) - f64(a, i)
			case opVDIVPD:
				v = f64(b, i) / f64(a, i)
			case opVMAXPD: // dst = b > a ? b : a
				v = f64(a, i)
				if f64(b, i) > v {
					v = f64(b, i)
				}
			case opVMINPD: // dst = b < a ? b : a
				v = f64(a, i)
				if f64(b, i) < v {
					v = f64(b, i)
				}
			case opVFMADD213PD: // dst = dst·b + a
				v = math.FMA(f64(c, i), f64(b, i), f64(a, i))
			case opVFMADD231PD: // dst = b·a + dst
				v = math.FMA(f64(b, i), f64(a, i), f64(c, i))
			case opVFNMADD231PD: // dst = −(b·a) + dst
				v = math.FMA(-f64(b, i), f64(a, i), f64(c, i))
			case opVFNMADD132PD: // dst = −(dst·a) + b
				v = math.FMA(-f64(c, i), f64(a, i), f64(b, i))
			}
			putf64(res, i, v)
		}
		return m.masked(dst, w, k, zeroing, res, 8)
	case opVPSLLQ, opVPSRLQ:
		a, err := m.readVec(ops[1], w)
		if err != nil {
			return err
		}
		res := m.tmp(w)
		for i := 0; i < w/8; i++ {
			v := binary.LittleEndian.Uint64(a[8*i:])
			if op == opVPSLLQ {
				v <<= ops[0].imm
			} else {
				v >>= ops[0].imm
			}
			binary.LittleEndian.PutUint64(res[8*i:], v)
		}
		return m.masked(dst, w, k, zeroing, res, 8)
	case opVPADDQ, opVPSUBQ:
		a, err := m.src(ops[0], w, k, 8)
		if err != nil {
			return err
		}
		b, _ := m.readVec(ops[1], w)
		res := m.tmp(w)
		for i := 0; i < w/8; i++ {
			x, y := binary.LittleEndian.Uint64(b[8*i:]), binary.LittleEndian.Uint64(a[8*i:])
			if op == opVPADDQ {
				x += y
			} else {
				x -= y
			}
			binary.LittleEndian.PutUint64(res[8*i:], x)
		}
		return m.masked(dst, w, k, zeroing, res, 8)
	case opVCMPPD:
		// VCMPPD $p, src2, src1, [k,] dst: dst = src1 p src2.
		ww := vwidth(ops[1:3])
		src1, err := m.readVec(ops[2], ww)
		if err != nil {
			return err
		}
		src2, err := m.readVec(ops[1], ww)
		if err != nil {
			return err
		}
		if dst.kind == 'k' {
			var r uint64
			for i := 0; i < ww/8; i++ {
				if cmpPred64(ops[0].imm, f64(src1, i), f64(src2, i)) {
					r |= 1 << i
				}
			}
			if k != nil {
				r &= m.k[k.idx]
			}
			m.k[dst.idx] = r
			return nil
		}
		res := m.tmp(ww)
		for i := 0; i < ww/8; i++ {
			if cmpPred64(ops[0].imm, f64(src1, i), f64(src2, i)) {
				binary.LittleEndian.PutUint64(res[8*i:], ^uint64(0))
			}
		}
		return m.writeVec(dst, res)
	case opVBLENDVPD:
		// VBLENDVPD mask, s3, s2, dst: dst = mask's top bit ? s3 : s2.
		mask, _ := m.readVec(ops[0], w)
		s3, err := m.readVec(ops[1], w)
		if err != nil {
			return err
		}
		s2, _ := m.readVec(ops[2], w)
		res := append(m.tmp(0), s2...)
		for i := 0; i < w/8; i++ {
			if mask[8*i+7]>>7 == 1 {
				copy(res[8*i:8*i+8], s3[8*i:])
			}
		}
		return m.writeVec(dst, res)
	case opVSCALEFPS:
		// VSCALEFPS s2, s1, [k,] dst: dst = s1·2^floor(s2).
		a, err := m.src(ops[0], w, k, 4)
		if err != nil {
			return err
		}
		b, _ := m.readVec(ops[1], w)
		res := m.tmp(w)
		for i := 0; i < w/4; i++ {
			putf32(res, i, scalef(f32(b, i), f32(a, i)))
		}
		return m.masked(dst, w, k, zeroing, res, 4)
	}
	return fmt.Errorf("instruction not modelled")
}

// scalef is VSCALEFPS on one element (MXCSR as Go leaves it: no DAZ, FTZ,
// round to nearest even): x·2^floor(y), rounded once, with its special
// cases.
func scalef(x, y float32) float32 {
	xf, yf := float64(x), float64(y)
	switch {
	case x != x || y != y:
		return float32(math.NaN())
	case math.IsInf(yf, 1):
		if x == 0 {
			return float32(math.NaN())
		}
		return float32(xf * math.Inf(1))
	case math.IsInf(yf, -1):
		if math.IsInf(xf, 0) {
			return float32(math.NaN())
		}
		return float32(math.Copysign(0, xf))
	}
	e := math.Max(-400, math.Min(400, math.Floor(yf)))
	return float32(math.Ldexp(xf, int(e))) // exact in float64, rounded once here
}
