package avxemu

import (
	"encoding/binary"
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
)

// exact32 is a·b + c rounded once to float32, by big.Float.
func exact32(a, b, c float32) float32 {
	x := new(big.Float).SetPrec(400).SetFloat64(float64(a))
	x.Mul(x, new(big.Float).SetFloat64(float64(b)))
	x.Add(x, new(big.Float).SetFloat64(float64(c)))
	f, _ := x.Float32()
	return f
}

// TestFMA32 checks the one-rounding FMA against big.Float where a float64
// FMA followed by a float32 rounding would round twice: products landing
// on float32 midpoints, ties, and subnormal results.
func TestFMA32(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	check := func(a, b, c float32) {
		t.Helper()
		got, want := FMA32(a, b, c), exact32(a, b, c)
		if math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("FMA32(%g, %g, %g) = %g, want %g", a, b, c, got, want)
		}
	}
	for range 200000 {
		a := math.Float32frombits(rng.Uint32() & 0x7fffffff >> rng.UintN(3) & 0x7f7fffff)
		b := float32(rng.NormFloat64())
		c := float32(rng.NormFloat64()) * a
		check(a, b, c)
		// 1 + 2^-24 + tiny: the float64 sum rounds to the midpoint.
		p := float32(1 + rng.IntN(1<<20))
		check(p, 1+0x1p-23, -p+float32(rng.IntN(3)-1)*0x1p-30)
		// Subnormal results.
		check(a*0x1p-100, 0x1p-30, float32(rng.NormFloat64())*0x1p-140)
	}
	// a·a = 1 + i·2^-11 + i²·2^-24 is a float32 midpoint for odd i; a
	// tiny c moves it off, which a float64 FMA rounds away.
	for i := 1; i < 200; i += 2 {
		a := 1 + float32(i)*0x1p-12
		c := float32(math.Ldexp(1, -60-i%40))
		check(a, a, c)
		check(a, a, -c)
		check(-a, a, c)
	}
	check(1+0x1p-23, 1+0x1p-23, -1)   // exact 2^-22 + 2^-46
	check(0x1p-75, 0x1p-75, 0x1p-149) // sums to 2^-149 + 2^-150
}

// TestScalef checks VSCALEFPS's element rule: x·2^floor(y) rounded once,
// and the special cases of Intel's table for it.
func TestScalef(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	for _, c := range []struct{ x, y, want float32 }{
		{1.5, 3.7, 12},
		{1.5, -0.5, 0.75},
		{1, -150, 0},                  // half the smallest subnormal: ties to even, 0
		{3, -150, 0x1p-148},           // 1.5·2^-149 ties to even: 2·2^-149
		{3, -149, 3 * 0x1p-149},       // exact
		{1, 128, inf},                 // overflow
		{-1, 128, -inf},               //
		{0, inf, nan},                 // 0·2^+∞
		{0, -inf, 0},                  //
		{inf, -inf, nan},              // ∞·2^-∞
		{-inf, 3, -inf},               //
		{2, inf, inf},                 //
		{-2, -inf, float32(-0.0) * 1}, // −0
		{nan, 1, nan},
		{1, nan, nan},
		{0x1p-149, 1e30, inf},
	} {
		got := scalef(c.x, c.y)
		same := math.Float32bits(got) == math.Float32bits(c.want) || got != got && c.want != c.want
		if c.x == -2 && c.y < 0 {
			same = got == 0 && math.Signbit(float64(got))
		}
		if !same {
			t.Errorf("scalef(%g, %g) = %g, want %g", c.x, c.y, got, c.want)
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 100000 {
		x := float32(rng.NormFloat64())
		y := float32(rng.NormFloat64() * 60)
		f := new(big.Float).SetFloat64(float64(x))
		f.SetMantExp(f, int(math.Floor(float64(y))))
		want, _ := f.Float32()
		if got := scalef(x, y); math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("scalef(%g, %g) = %g, want %g", x, y, got, want)
		}
	}
}

const testAsm = `
TEXT ·tail(SB), NOSPLIT, $0-24
	MOVQ      x_base+0(FP), AX
	MOVQ      x_len+8(FP), CX
	LEAQ      tailk<>+0(SB), DX
	KMOVW     (DX)(CX*2), K1
	VMOVUPS.Z (AX), K1, Z0
	VADDPS    (AX), Z0, K1, Z0
	VMOVUPS   Z0, K1, (AX)
	RET

TEXT ·whole(SB), NOSPLIT, $0-24
	MOVQ    x_base+0(FP), AX
	VMOVUPS (AX), Z0
	RET

TEXT ·unknown(SB), NOSPLIT, $0-24
	VPMADDWD Z0, Z1, Z2
	RET

DATA tailk<>+0(SB)/8, $0x0007000300010000
DATA tailk<>+8(SB)/8, $0x007f003f001f000f
DATA tailk<>+16(SB)/8, $0x07ff03ff01ff00ff
DATA tailk<>+24(SB)/8, $0x7fff3fff1fff0fff
GLOBL tailk<>(SB), RODATA|NOPTR, $32
`

// TestMemory checks that masked-off elements are never accessed (an
// opmask tail at the end of a region runs), that an access past a region
// is an error, and that an instruction it does not know is one too.
func TestMemory(t *testing.T) {
	p, err := Parse(testAsm)
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n < 16; n++ {
		m := NewMachine(p)
		data := make([]byte, 4*n)
		for i := range n {
			binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(float32(i+1)))
		}
		r := m.Map(data)
		args := make([]byte, 24)
		binary.LittleEndian.PutUint64(args, r.Addr)
		binary.LittleEndian.PutUint64(args[8:], uint64(n))
		if _, err := m.Call("tail", args); err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		for i := range n {
			if got := math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:])); got != float32(2*(i+1)) {
				t.Fatalf("n=%d: [%d] = %g, want %d", n, i, got, 2*(i+1))
			}
		}
		if _, err := m.Call("whole", args); err == nil || !strings.Contains(err.Error(), "outside every region") {
			t.Fatalf("n=%d: a 64-byte load from %d bytes: %v, want an access error", n, 4*n, err)
		}
	}
	if _, err := NewMachine(p).Call("unknown", make([]byte, 24)); err == nil || !strings.Contains(err.Error(), "not modelled") {
		t.Fatalf("an unknown instruction ran: %v", err)
	}
}

const mergeAsm = `
TEXT ·merge(SB), NOSPLIT, $0-24
	MOVQ       x_base+0(FP), AX
	LEAQ       mask<>+0(SB), DX
	KMOVW      (DX), K1
	VMOVUPD    64(AX), Z1
	VADDPD     (AX), Z1, K1, Z1
	VMOVUPD    Z1, 64(AX)
	VCVTSI2SDL 128(AX), X2, X2
	VMOVSD     X2, 136(AX)
	RET

DATA mask<>+0(SB)/2, $0x0055
GLOBL mask<>(SB), RODATA|NOPTR, $2
`

// TestMergeMaskPD checks a merge-masked float64 add (the lanes off the
// mask keep the destination's value) and the sign extension of a 32-bit
// integer converted to float64.
func TestMergeMaskPD(t *testing.T) {
	p, err := Parse(mergeAsm)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 144)
	for i := range 8 {
		binary.LittleEndian.PutUint64(data[8*i:], math.Float64bits(float64(i+1)))
		binary.LittleEndian.PutUint64(data[64+8*i:], math.Float64bits(100*float64(i+1)))
	}
	binary.LittleEndian.PutUint32(data[128:], uint32(0xfffffffb)) // −5
	m := NewMachine(p)
	args := make([]byte, 24)
	binary.LittleEndian.PutUint64(args, m.Map(data).Addr)
	if _, err := m.Call("merge", args); err != nil {
		t.Fatal(err)
	}
	for i := range 8 {
		want := 100 * float64(i+1)
		if i%2 == 0 {
			want += float64(i + 1)
		}
		if got := math.Float64frombits(binary.LittleEndian.Uint64(data[64+8*i:])); got != want {
			t.Fatalf("lane %d = %g, want %g", i, got, want)
		}
	}
	if got := math.Float64frombits(binary.LittleEndian.Uint64(data[136:])); got != -5 {
		t.Fatalf("VCVTSI2SDL of −5 = %g", got)
	}
}

// refusedAsm holds forms the interpreter does not model: each must be an
// error, not a run that ignores the opmask or writes the wrong place.
const refusedAsm = `
TEXT ·bcastMasked(SB), NOSPLIT, $0-24
	MOVQ         x_base+0(FP), AX
	KMOVW        (AX), K1
	VBROADCASTSS 4(AX), K1, Z0
	RET

TEXT ·permilZero(SB), NOSPLIT, $0-24
	MOVQ           x_base+0(FP), AX
	KMOVW          (AX), K1
	VPERMILPS.Z    $0x00, Z1, K1, Z1
	RET

TEXT ·extractMasked(SB), NOSPLIT, $0-24
	MOVQ          x_base+0(FP), AX
	KMOVW         (AX), K1
	VEXTRACTF64X4 $0x01, Z1, K1, Y2
	RET

TEXT ·addToMemory(SB), NOSPLIT, $0-24
	MOVQ x_base+0(FP), AX
	ADDQ $0x01, 8(AX)
	RET

TEXT ·cmpOutside(SB), NOSPLIT, $0-24
	MOVQ x_base+0(FP), AX
	CMPQ 4096(AX), $0x00
	RET
`

// TestRefused: opmasks on instructions whose model ignores them,
// arithmetic into memory and compares that read outside every region are
// errors.
func TestRefused(t *testing.T) {
	p, err := Parse(refusedAsm)
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range []string{"bcastMasked", "permilZero", "extractMasked", "addToMemory", "cmpOutside"} {
		m := NewMachine(p)
		args := make([]byte, 24)
		binary.LittleEndian.PutUint64(args, m.Map(make([]byte, 64)).Addr)
		_, err := m.Call(fn, args)
		if err == nil {
			t.Errorf("%s ran; want an error", fn)
			continue
		}
		t.Logf("%s: %v", fn, err)
	}
}

const flagsAsm = `
TEXT ·flags(SB), NOSPLIT, $0-24
	MOVQ    x_base+0(FP), AX
	MOVQ    $-1, CX
	ADDQ    $0x02, CX
	MOVQ    $0x00, DX
	MOVQ    $0x01, SI
	CMOVQHI SI, DX
	MOVQ    DX, (AX)
	MOVQ    $0x05, CX
	SHRQ    $0x01, CX
	MOVQ    $0x00, DX
	CMOVQHI SI, DX
	MOVQ    DX, 8(AX)
	RET
`

// TestFlags: ADDQ's carry and SHRQ's last bit out set CF as the hardware
// does (CMOVQHI moves when CF and ZF are both clear).
func TestFlags(t *testing.T) {
	p, err := Parse(flagsAsm)
	if err != nil {
		t.Fatal(err)
	}
	m := NewMachine(p)
	data := make([]byte, 16)
	args := make([]byte, 24)
	binary.LittleEndian.PutUint64(args, m.Map(data).Addr)
	if _, err := m.Call("flags", args); err != nil {
		t.Fatal(err)
	}
	// 2^64−1 + 2 carries: CF set, so no move; 5 >> 1 shifts out a 1: CF set.
	if a, b := binary.LittleEndian.Uint64(data), binary.LittleEndian.Uint64(data[8:]); a != 0 || b != 0 {
		t.Fatalf("CMOVQHI after a carry moved: %d, after a shifted-out 1: %d; want 0, 0", a, b)
	}
}
