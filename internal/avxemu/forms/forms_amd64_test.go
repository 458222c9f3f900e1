//go:build !purego

package forms

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/gosimd/softmax/internal/avxemu"
	"golang.org/x/sys/cpu"
)

// Lanes drawn from these two fifths of the time: ±0, ±Inf, quiet and
// signalling NaNs, subnormals, the normal range's edges, float32 ties and
// midpoints as float64, integers at float32's precision edge.
var specials32 = []uint32{
	0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7fa00001, 0x7fc12345,
	0x00000001, 0x80000001, 0x007fffff, 0x807fffff, 0x00800000, 0x80800000, 0x7f7fffff, 0xff7fffff,
	0x3f800000, 0xbf800000, 0x3f800001, 0x4f000000, 0xcf000000, 0x4effffff, 0x7f000000, 0x00400000,
	0x33800000, 0x34000000, 0xb3800000,
}

var specials64 = []uint64{
	0, 1 << 63, 0x7ff0000000000000, 0xfff0000000000000, 0x7ff8000000000000, 0xfff8000000000000,
	0x7ff4000000000001, 1, 1<<63 | 1, 0x000fffffffffffff, 0x0010000000000000, 0x7fefffffffffffff,
	0x3ff0000000000000, 0xbff0000000000000, 0x3ff0000000000001,
	0x47efffffe0000000, 0x47efffffefffffff, 0x47efffff10000000, 0x47f0000000000000, // float32's largest
	0x36a0000000000000, 0x3690000000000000, 0x3690000000000001, 0x36a8000000000000, // float32 subnormals
	0x3ff0000010000000, 0x3ff0000030000000, 0x3ff0000010000001, // float32 ties
	0x380fffffffffffff, 0x3810000000000000, 0x380ffffff0000000, // float32's smallest normal
	0x41e0000000000000, 0xc1e0000000000000,
}

func lane32(r *rand.Rand) uint32 {
	switch r.IntN(5) {
	case 0, 1:
		return specials32[r.IntN(len(specials32))]
	case 2:
		return r.Uint32()
	case 3:
		return math.Float32bits(float32(r.NormFloat64() * math.Ldexp(1, r.IntN(60)-30)))
	}
	return math.Float32bits(float32(r.IntN(9)-4) * float32(math.Ldexp(1+float64(r.IntN(8))/8, -r.IntN(160))))
}

func lane64(r *rand.Rand) uint64 {
	switch r.IntN(5) {
	case 0, 1:
		return specials64[r.IntN(len(specials64))]
	case 2:
		return r.Uint64()
	case 3:
		return math.Float64bits(r.NormFloat64() * math.Ldexp(1, r.IntN(300)-150))
	}
	return math.Float64bits(float64(float32(r.NormFloat64()*math.Ldexp(1, r.IntN(60)-30))) * (1 + float64(r.IntN(3)-1)*0x1p-30))
}

func fill(r *rand.Rand, es int, b *[40]byte) {
	for i := 0; i < 32/es; i++ {
		if es == 4 {
			binary.LittleEndian.PutUint32(b[4*i:], lane32(r))
		} else {
			binary.LittleEndian.PutUint64(b[8*i:], lane64(r))
		}
	}
	for i := 32; i < 40; i++ {
		b[i] = byte(r.Uint32())
	}
}

func isNaN(b []byte, es int) bool {
	if es == 4 {
		f := math.Float32frombits(binary.LittleEndian.Uint32(b))
		return f != f
	}
	return math.IsNaN(math.Float64frombits(binary.LittleEndian.Uint64(b)))
}

// program skips the test on a CPU without AVX2 and FMA and returns the
// forms' assembly parsed for the interpreter.
func program(t *testing.T) *avxemu.Program {
	if !cpu.X86.HasAVX2 || !cpu.X86.HasFMA {
		t.Skip("the CPU lacks AVX2 or FMA: no hardware to compare the interpreter with")
	}
	src, err := os.ReadFile("forms_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	p, err := avxemu.Parse(string(src))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// interpret runs form name under the interpreter on copies of a, b, c,
// into out.
func interpret(t *testing.T, p *avxemu.Program, name string, a, b, c, out *[40]byte) {
	m := avxemu.NewMachine(p)
	args := make([]byte, 32)
	for i, buf := range [][]byte{append([]byte(nil), a[:]...), append([]byte(nil), b[:]...), append([]byte(nil), c[:]...), out[:]} {
		binary.LittleEndian.PutUint64(args[8*i:], m.Map(buf).Addr)
	}
	if _, err := m.Call(name, args); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// TestFormsMatchHardware runs every form natively and under avxemu on the
// same inputs and wants the same bytes, NaN payloads aside (avxemu does
// not model them).
func TestFormsMatchHardware(t *testing.T) {
	p := program(t)
	n := 20000
	if testing.Short() {
		n = 2000
	}
	for _, f := range forms {
		r := rand.New(rand.NewPCG(7, uint64(len(f.name))))
		bad := 0
		for range n {
			var a, b, c, hw, em [40]byte
			fill(r, f.esize, &a)
			fill(r, f.esize, &b)
			fill(r, f.esize, &c)
			em, hw = a, a // out starts as a on both sides: the bytes a form leaves must match too
			interpret(t, p, f.name, &a, &b, &c, &em)
			f.fn(&a, &b, &c, &hw)
			for i := 0; i < 40; i += f.esize {
				if string(hw[i:i+f.esize]) != string(em[i:i+f.esize]) && !(i < 32 && isNaN(hw[i:], f.esize) && isNaN(em[i:], f.esize)) {
					if bad++; bad <= 3 {
						t.Errorf("%s, bytes %d..%d:\n a  %x\n b  %x\n c  %x\n hardware    %x\n interpreted %x", f.name, i, i+f.esize, a[:32], b[:32], c[:32], hw, em)
					}
					break
				}
			}
		}
	}
}

// TestFMAMidpoints: VFMADD231PS natively and interpreted where a float64
// FMA rounded to float32 would round twice (products on float32
// midpoints, nudged by a tiny addend) and at subnormal results.
func TestFMAMidpoints(t *testing.T) {
	p := program(t)
	r := rand.New(rand.NewPCG(11, 12))
	put := func(b *[40]byte, i int, v float32) { binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v)) }
	for range 20000 {
		var a, b, c, hw, em [40]byte
		for i := range 8 {
			switch r.IntN(3) {
			case 0: // a·a = 1 + k·2^-11 + k²·2^-24, a midpoint for odd k; c moves it off
				k := float32(2*r.IntN(1<<10) + 1)
				v := 1 + k*0x1p-12
				put(&a, i, v)
				put(&b, i, v)
				put(&c, i, float32(r.IntN(3)-1)*float32(math.Ldexp(1, -40-r.IntN(60))))
			case 1: // subnormal results
				put(&a, i, float32(r.NormFloat64())*0x1p-70)
				put(&b, i, float32(r.NormFloat64())*0x1p-60)
				put(&c, i, float32(r.NormFloat64())*0x1p-135)
			default:
				put(&a, i, float32(r.NormFloat64()))
				put(&b, i, float32(r.NormFloat64()))
				put(&c, i, float32(r.NormFloat64()))
			}
		}
		interpret(t, p, "VFMADD231PS", &a, &b, &c, &em) // Y2 += Y0·Y1
		VFMADD231PS(&a, &b, &c, &hw)
		if string(hw[:32]) != string(em[:32]) {
			t.Fatalf("VFMADD231PS:\n a  %x\n b  %x\n c  %x\n hardware    %x\n interpreted %x", a[:32], b[:32], c[:32], hw[:32], em[:32])
		}
	}
}

// TestFormsCoverKernels: every vector mnemonic of the AVX2 kernels has a
// form here, so a kernel cannot start using an instruction whose
// interpretation no test compares with the hardware.
func TestFormsCoverKernels(t *testing.T) {
	kernels, err := os.ReadFile("../../../softmax_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	src, err := os.ReadFile("forms_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	mnem := regexp.MustCompile(`^\t(V[A-Z0-9]+)`)
	for _, l := range strings.Split(string(src), "\n") {
		if m := mnem.FindStringSubmatch(l); m != nil {
			have[m[1]] = true
		}
	}
	avx2 := false
	for _, l := range strings.Split(string(kernels), "\n") {
		if strings.HasPrefix(l, "TEXT ") {
			avx2 = strings.Contains(l, "AVX2(SB)")
		}
		if m := mnem.FindStringSubmatch(l); avx2 && m != nil && !have[m[1]] {
			t.Errorf("%s (in the AVX2 kernels) has no form in asm/forms", m[1])
			have[m[1]] = true // once
		}
	}
}
