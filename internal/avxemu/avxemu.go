// Package avxemu interprets functions of a Go amd64 assembly file, for
// tests: it runs the AVX-512 kernels on machines without AVX-512 (and the
// AVX2 ones, to check the interpreter against the hardware). It knows the
// instructions and operand forms that asm/amd64 generates for the exp
// kernels, no more; anything else is an error, not a guess.
//
// Memory is a set of regions (arguments, frame, data symbols, the caller's
// slices); an access that is not wholly inside one region is an error, the
// way a guard page faults. float32 arithmetic rounds like the hardware
// (round to nearest even, one rounding per FMA); NaN payloads are not
// modelled, only NaN-ness.
package avxemu

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Program holds the parsed file: functions and read-only data.
type Program struct {
	funcs map[string]*function
	data  map[string][]byte
}

type function struct {
	name   string
	frame  int // local frame size
	args   int // argument size
	instrs []instr
	labels map[string]int
}

type instr struct {
	op   string
	args []string
	line int
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
			cur.instrs = append(cur.instrs, instr{op: op, args: splitArgs(rest), line: n + 1})
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
	gp      map[string]uint64
	syms    map[string]uint64 // data symbol addresses
	vec     [32][64]byte
	k       [8]uint64
	zf, cf  bool
	next    uint64 // next free address
}

// NewMachine returns a machine with the program's data symbols mapped.
func NewMachine(p *Program) *Machine {
	m := &Machine{p: p, gp: map[string]uint64{}, syms: map[string]uint64{}, next: 0x10000}
	for _, sym := range sortedKeys(p.data) {
		m.syms[sym] = m.Map(append([]byte(nil), p.data[sym]...)).Addr
	}
	return m
}

func sortedKeys(mp map[string][]byte) []string {
	var ks []string
	for k := range mp {
		ks = append(ks, k)
	}
	for i := range ks {
		for j := i + 1; j < len(ks); j++ {
			if ks[j] < ks[i] {
				ks[i], ks[j] = ks[j], ks[i]
			}
		}
	}
	return ks
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
	sp := m.Map(make([]byte, f.frame))
	m.gp = map[string]uint64{"FP": fp.Addr, "SP": sp.Addr}
	for pc, steps := 0, 0; ; steps++ {
		if pc >= len(f.instrs) {
			return nil, fmt.Errorf("%s: ran off the end", name)
		}
		if steps > 1e8 {
			return nil, fmt.Errorf("%s: too many steps", name)
		}
		in := f.instrs[pc]
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
	name  string
	width int // vector bytes: 16, 32, 64
	idx   int
	imm   uint64
	addr  uint64
}

var gpNames = map[string]bool{"AX": true, "BX": true, "CX": true, "DX": true, "SI": true, "DI": true, "BP": true,
	"R8": true, "R9": true, "R10": true, "R11": true, "R12": true, "R13": true, "R14": true, "R15": true, "SP": true}

func (m *Machine) operand(s string) (opnd, error) {
	switch {
	case strings.HasPrefix(s, "$"):
		v, err := strconv.ParseInt(s[1:], 0, 64)
		return opnd{kind: 'i', imm: uint64(v)}, err
	case gpNames[s]:
		return opnd{kind: 'r', name: s}, nil
	case len(s) >= 2 && (s[0] == 'X' || s[0] == 'Y' || s[0] == 'Z') && isDigits(s[1:]):
		i, _ := strconv.Atoi(s[1:])
		w := map[byte]int{'X': 16, 'Y': 32, 'Z': 64}[s[0]]
		return opnd{kind: 'v', idx: i, width: w}, nil
	case len(s) == 2 && s[0] == 'K' && isDigits(s[1:]):
		return opnd{kind: 'k', idx: int(s[1] - '0')}, nil
	}
	a, err := m.address(s)
	return opnd{kind: 'm', addr: a}, err
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// address evaluates disp(base)(index*scale), sym<>+off(SB) and
// name+off(FP).
func (m *Machine) address(s string) (uint64, error) {
	if strings.HasSuffix(s, "(SB)") {
		sym, off, _ := strings.Cut(strings.TrimSuffix(s, "(SB)"), "+")
		base, ok := m.syms[sym]
		if !ok {
			return 0, fmt.Errorf("unknown symbol %s", sym)
		}
		o, _ := strconv.Atoi(off)
		return base + uint64(o), nil
	}
	if strings.HasSuffix(s, "(FP)") {
		_, off, _ := strings.Cut(strings.TrimSuffix(s, "(FP)"), "+")
		o, err := strconv.Atoi(off)
		return m.gp["FP"] + uint64(o), err
	}
	i := strings.Index(s, "(")
	if i < 0 {
		return 0, fmt.Errorf("bad operand %q", s)
	}
	var disp int64
	if i > 0 {
		d, err := strconv.ParseInt(s[:i], 0, 64)
		if err != nil {
			return 0, err
		}
		disp = d
	}
	rest := s[i:]
	j := strings.Index(rest, ")")
	base := rest[1:j]
	a := uint64(disp) + m.gp[base]
	if !gpNames[base] {
		return 0, fmt.Errorf("bad base %q", base)
	}
	if rest = rest[j+1:]; rest != "" {
		// (index*scale)
		in := strings.TrimSuffix(strings.TrimPrefix(rest, "("), ")")
		r, sc, _ := strings.Cut(in, "*")
		k, err := strconv.Atoi(sc)
		if err != nil || !gpNames[r] {
			return 0, fmt.Errorf("bad index %q", rest)
		}
		a += m.gp[r] * uint64(k)
	}
	return a, nil
}

// vector lanes ---------------------------------------------------------------

func (m *Machine) readVec(o opnd, width int) ([]byte, error) {
	switch o.kind {
	case 'v':
		return append([]byte(nil), m.vec[o.idx][:width]...), nil
	case 'm':
		b, err := m.mem(o.addr, width)
		return append([]byte(nil), b...), err
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

// jump reports whether op is a jump and whether it is taken.
func (m *Machine) jump(op string) (taken, ok bool) {
	switch op {
	case "JMP":
		return true, true
	case "JZ":
		return m.zf, true
	case "JNZ":
		return !m.zf, true
	case "JB":
		return m.cf, true
	case "JAE":
		return !m.cf, true
	}
	return false, false
}

// exec runs one instruction; it returns a label to jump to, or ret.
func (m *Machine) exec(f *function, in instr) (jump string, ret bool, err error) {
	op := in.op
	zeroing := strings.HasSuffix(op, ".Z")
	op = strings.TrimSuffix(op, ".Z")
	if taken, ok := m.jump(op); ok {
		if taken {
			return in.args[0], false, nil
		}
		return "", false, nil
	}
	switch op {
	case "RET":
		return "", true, nil
	case "VZEROUPPER":
		for i := 0; i < 16; i++ {
			for j := 16; j < 64; j++ {
				m.vec[i][j] = 0
			}
		}
		return "", false, nil
	}
	ops := make([]opnd, len(in.args))
	for i, a := range in.args {
		if ops[i], err = m.operand(a); err != nil {
			return "", false, err
		}
	}
	return "", false, m.execOps(op, zeroing, ops)
}

func (m *Machine) gpVal(o opnd, size int) (uint64, error) {
	switch o.kind {
	case 'i':
		return o.imm, nil
	case 'r':
		return m.gp[o.name], nil
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
		m.gp[o.name] = v
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

func (m *Machine) execOps(op string, zeroing bool, ops []opnd) error {
	switch op {
	case "PREFETCHT0", "PREFETCHT1", "PREFETCHNTA":
		// A hint: no access, and no fault at any address.
		if len(ops) != 1 || ops[0].kind != 'm' {
			return fmt.Errorf("%s needs one memory operand", op)
		}
		return nil
	case "MOVQ", "MOVL":
		size := 8
		if op == "MOVL" {
			size = 4
		}
		v, err := m.gpVal(ops[0], size)
		if err != nil {
			return err
		}
		return m.setGP(ops[1], v, size)
	case "LEAQ":
		m.gp[ops[1].name] = ops[0].addr
		return nil
	case "ADDQ", "SUBQ", "SHRQ", "SHLQ", "XORQ", "INCQ", "DECQ":
		var s uint64
		d := ops[len(ops)-1]
		if len(ops) == 2 {
			s, _ = m.gpVal(ops[0], 8)
		}
		v := m.gp[d.name]
		switch op {
		case "ADDQ":
			v += s
		case "SUBQ":
			m.cf = v < s
			v -= s
		case "SHRQ":
			v >>= s
		case "SHLQ":
			v <<= s
		case "XORQ":
			v ^= s
		case "INCQ":
			v++
		case "DECQ":
			v--
		}
		m.gp[d.name] = v
		m.zf = v == 0
		return nil
	case "CMPQ":
		a, _ := m.gpVal(ops[0], 8)
		b, _ := m.gpVal(ops[1], 8)
		m.zf, m.cf = a == b, a < b
		return nil
	case "TESTL":
		a, _ := m.gpVal(ops[0], 8)
		b, _ := m.gpVal(ops[1], 8)
		m.zf, m.cf = uint32(a&b) == 0, false
		return nil
	case "VMOVMSKPD":
		v := m.vec[ops[0].idx]
		var r uint64
		for i := 0; i < 2; i++ {
			r |= uint64(v[8*i+7]>>7) << i
		}
		m.gp[ops[1].name] = r
		return nil
	case "TESTQ":
		a, _ := m.gpVal(ops[0], 8)
		b, _ := m.gpVal(ops[1], 8)
		m.zf, m.cf = a&b == 0, false
		return nil
	case "CMOVQHI":
		if !m.cf && !m.zf {
			m.gp[ops[1].name] = m.gp[ops[0].name]
		}
		return nil
	case "KMOVW":
		b, err := m.mem(ops[0].addr, 2)
		if err != nil {
			return err
		}
		m.k[ops[1].idx] = uint64(binary.LittleEndian.Uint16(b))
		return nil
	case "MOVSD":
		// MOVSD X, mem (a store of the low float64)
		return m.writeVec(ops[1], m.vec[ops[0].idx][:8])
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
func splitMask(ops []opnd) ([]opnd, *opnd) {
	if len(ops) >= 3 && ops[len(ops)-2].kind == 'k' {
		k := ops[len(ops)-2]
		return append(append([]opnd(nil), ops[:len(ops)-2]...), ops[len(ops)-1]), &k
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
	case 0x11:
		return !un && a < b
	case 0x1d:
		return !un && a >= b
	case 0x1e:
		return !un && a > b
	}
	panic(fmt.Sprintf("avxemu: compare predicate %#x", p))
}

func (m *Machine) execVec(op string, zeroing bool, all []opnd) error {
	ops, k := splitMask(all)
	dst := ops[len(ops)-1]
	w := vwidth(ops)
	switch op {
	case "VMOVUPS", "VMOVUPD", "VMOVDQU":
		if w == 0 {
			return fmt.Errorf("no register operand")
		}
		var src []byte
		var err error
		if k != nil && ops[0].kind == 'm' {
			// masked load: only the selected elements are read
			src = make([]byte, w)
			for i := 0; i < w/4; i++ {
				if m.k[k.idx]>>i&1 == 1 {
					b, err := m.mem(ops[0].addr+uint64(4*i), 4)
					if err != nil {
						return err
					}
					copy(src[4*i:], b)
				}
			}
		} else if src, err = m.readVec(ops[0], w); err != nil {
			return err
		}
		return m.masked(dst, w, k, zeroing, src, 4)
	case "VROUNDPS", "VRNDSCALEPS":
		if ops[0].imm != 9 { // floor, from the immediate, no scaling
			return fmt.Errorf("rounding mode %#x not modelled", ops[0].imm)
		}
		src, err := m.readVec(ops[1], w)
		if err != nil {
			return err
		}
		res := make([]byte, w)
		for i := 0; i < w/4; i++ {
			putf32(res, i, float32(math.Floor(float64(f32(src, i)))))
		}
		return m.masked(dst, w, k, zeroing, res, 4)
	case "VBROADCASTSS", "VBROADCASTSD":
		n := 4
		if op == "VBROADCASTSD" {
			n = 8
		}
		b, err := m.readVec(ops[0], n)
		if err != nil {
			return err
		}
		res := make([]byte, w)
		for i := 0; i < w/n; i++ {
			copy(res[n*i:], b)
		}
		return m.writeVec(dst, res)
	case "VADDPD", "VMULPD":
		a, err := m.readVec(ops[0], w)
		if err != nil {
			return err
		}
		b, _ := m.readVec(ops[1], w)
		res := make([]byte, w)
		for i := 0; i < w/8; i++ {
			v := f64(b, i) + f64(a, i)
			if op == "VMULPD" {
				v = f64(b, i) * f64(a, i)
			}
			putf64(res, i, v)
		}
		return m.writeVec(dst, res)
	case "VCVTPD2PS", "VCVTPD2PSY":
		// float64 lanes of the source, twice the destination's width.
		src, err := m.readVec(ops[0], 2*dst.width)
		if err != nil {
			return err
		}
		res := make([]byte, dst.width)
		for i := 0; i < dst.width/4; i++ {
			putf32(res, i, float32(f64(src, i)))
		}
		return m.writeVec(dst, res)
	case "VINSERTF64X4", "VINSERTF128":
		// VINSERTF… $i, half, src1, dst: dst = src1 with half i replaced.
		hw := 16
		if op == "VINSERTF64X4" {
			hw = 32
		}
		half, err := m.readVec(ops[1], hw)
		if err != nil {
			return err
		}
		res, _ := m.readVec(ops[2], 2*hw)
		copy(res[int(ops[0].imm)*hw:], half)
		return m.writeVec(dst, res)
	case "VPXORD", "VPXOR", "VXORPS", "VANDPS", "VANDPD", "VANDNPS":
		a, err := m.readVec(ops[0], w)
		if err != nil {
			return err
		}
		b, _ := m.readVec(ops[1], w)
		res := make([]byte, w)
		for i := range res {
			switch op {
			case "VANDPS", "VANDPD":
				res[i] = a[i] & b[i]
			case "VANDNPS":
				res[i] = ^b[i] & a[i]
			default:
				res[i] = a[i] ^ b[i]
			}
		}
		return m.masked(dst, w, k, zeroing, res, 4)
	case "VADDPS", "VSUBPS", "VMULPS", "VFMADD213PS", "VFMADD132PS", "VFMADD231PS", "VFNMADD231PS", "VPADDD", "VPERMPS":
		a, err := m.readVec(ops[0], w)
		if err != nil {
			return err
		}
		b, _ := m.readVec(ops[1], w)
		c := m.vec[dst.idx][:w] // the accumulator of the FMA forms
		res := make([]byte, w)
		for i := 0; i < w/4; i++ {
			var v float32
			switch op {
			case "VADDPS":
				v = f32(b, i) + f32(a, i)
			case "VSUBPS":
				v = f32(b, i) - f32(a, i)
			case "VMULPS":
				v = f32(b, i) * f32(a, i)
			case "VFMADD213PS": // dst = dst·b + a
				v = FMA32(f32(c, i), f32(b, i), f32(a, i))
			case "VFMADD132PS": // dst = dst·a + b
				v = FMA32(f32(c, i), f32(a, i), f32(b, i))
			case "VFMADD231PS": // dst = b·a + dst
				v = FMA32(f32(b, i), f32(a, i), f32(c, i))
			case "VFNMADD231PS": // dst = −(b·a) + dst
				v = FMA32(-f32(b, i), f32(a, i), f32(c, i))
			case "VPADDD":
				put32(res, i, u32(b, i)+u32(a, i))
				continue
			case "VPERMPS": // a: table, b: indices
				put32(res, i, u32(a, int(u32(b, i))&(w/4-1)))
				continue
			}
			putf32(res, i, v)
		}
		return m.masked(dst, w, k, zeroing, res, 4)
	case "VPSLLD":
		a, err := m.readVec(ops[1], w)
		if err != nil {
			return err
		}
		res := make([]byte, w)
		for i := 0; i < w/4; i++ {
			put32(res, i, u32(a, i)<<ops[0].imm)
		}
		return m.masked(dst, w, k, zeroing, res, 4)
	case "VCMPPS":
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
		res := make([]byte, ww)
		for i := 0; i < ww/4; i++ {
			if cmpPred(pred, f32(src1, i), f32(src2, i)) {
				put32(res, i, 0xffffffff)
			}
		}
		return m.writeVec(dst, res)
	case "VMAXPS", "VMINPS":
		a, err := m.readVec(ops[0], w)
		if err != nil {
			return err
		}
		b, _ := m.readVec(ops[1], w)
		res := make([]byte, w)
		for i := 0; i < w/4; i++ {
			s1, s2 := f32(b, i), f32(a, i) // dst = s1 op s2 ? s1 : s2
			v := s2
			if op == "VMAXPS" && s1 > s2 || op == "VMINPS" && s1 < s2 {
				v = s1
			}
			putf32(res, i, v)
		}
		return m.masked(dst, w, k, zeroing, res, 4)
	case "VPERMILPS":
		src, _ := m.readVec(ops[1], w)
		res := make([]byte, w)
		for i := 0; i < w/4; i++ {
			base := i &^ 3
			sel := int(ops[0].imm>>(2*(i&3))) & 3
			put32(res, i, u32(src, base+sel))
		}
		return m.writeVec(dst, res)
	case "VBLENDVPS":
		// VBLENDVPS mask, s3, s2, dst: dst = mask's top bit ? s3 : s2.
		mask, _ := m.readVec(ops[0], w)
		s3, err := m.readVec(ops[1], w)
		if err != nil {
			return err
		}
		s2, _ := m.readVec(ops[2], w)
		res := make([]byte, w)
		for i := 0; i < w/4; i++ {
			v := u32(s2, i)
			if u32(mask, i)>>31 == 1 {
				v = u32(s3, i)
			}
			put32(res, i, v)
		}
		return m.writeVec(dst, res)
	case "VMOVSD", "VMOVSS":
		n := 8
		if op == "VMOVSS" {
			n = 4
		}
		b, err := m.readVec(ops[0], n)
		if err != nil {
			return err
		}
		return m.writeVec(dst, b)
	case "VSUBSD", "VMULSD", "VDIVSD", "VCVTSS2SD", "VCVTSD2SS", "VMULSS", "VROUNDSD", "VCMPSD", "VCMPSS":
		// Scalar forms: the low element from the sources, the rest of the
		// 128 bits from the first source (src1, the next to last operand).
		var imm uint64
		if ops[0].kind == 'i' {
			imm, ops = ops[0].imm, ops[1:]
		}
		s2, err := m.readVec(ops[0], 8)
		if err != nil {
			return err
		}
		s1, _ := m.readVec(ops[1], 16)
		res := append([]byte(nil), s1...)
		switch op {
		case "VSUBSD":
			putf64(res, 0, f64(s1, 0)-f64(s2, 0))
		case "VMULSD":
			putf64(res, 0, f64(s1, 0)*f64(s2, 0))
		case "VDIVSD":
			putf64(res, 0, f64(s1, 0)/f64(s2, 0))
		case "VCVTSS2SD":
			putf64(res, 0, float64(f32(s2, 0)))
		case "VCVTSD2SS":
			putf32(res, 0, float32(f64(s2, 0)))
		case "VMULSS":
			putf32(res, 0, f32(s1, 0)*f32(s2, 0))
		case "VROUNDSD":
			if imm&7 != 1 { // round down, from the immediate
				return fmt.Errorf("rounding mode %#x not modelled", imm)
			}
			putf64(res, 0, math.Floor(f64(s2, 0)))
		case "VCMPSD":
			var r uint64
			if cmpPred64(imm, f64(s1, 0), f64(s2, 0)) {
				r = ^uint64(0)
			}
			binary.LittleEndian.PutUint64(res, r)
		case "VCMPSS":
			var r uint32
			if cmpPred(imm, f32(s1, 0), f32(s2, 0)) {
				r = ^uint32(0)
			}
			put32(res, 0, r)
		}
		return m.writeVec(dst, res)
	case "VCVTPS2PD":
		// dst has w bytes of float64 from w/2 bytes of float32.
		src, err := m.readVec(ops[0], dst.width/2)
		if err != nil {
			return err
		}
		res := make([]byte, dst.width)
		for i := 0; i < dst.width/8; i++ {
			putf64(res, i, float64(f32(src, i)))
		}
		return m.writeVec(dst, res)
	case "VADDSD":
		a, _ := m.readVec(ops[0], 16)
		b, _ := m.readVec(ops[1], 16)
		res := append([]byte(nil), b...)
		putf64(res, 0, f64(b, 0)+f64(a, 0))
		return m.writeVec(dst, res)
	case "VEXTRACTF64X4", "VEXTRACTF128":
		src, _ := m.readVec(ops[1], 2*dst.width)
		h := int(ops[0].imm) * dst.width
		return m.writeVec(dst, src[h:h+dst.width])
	case "VPERMILPD":
		src, _ := m.readVec(ops[1], 16)
		res := make([]byte, 16)
		for i := 0; i < 2; i++ {
			sel := int(ops[0].imm>>i) & 1
			copy(res[8*i:], src[8*sel:8*sel+8])
		}
		return m.writeVec(dst, res)
	}
	return fmt.Errorf("instruction not modelled")
}
