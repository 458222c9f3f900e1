package softmax

import (
	"math"
	"math/big"
	"testing"

	"github.com/gosimd/softmax/internal/ref"
)

// tdErr is |a − want|/|want| for a triple-double a.
func tdErr(a td, want *big.Float) float64 {
	got := new(big.Float).SetPrec(400)
	for _, v := range a {
		got.Add(got, new(big.Float).SetFloat64(v))
	}
	d := new(big.Float).Sub(got, want)
	d.Quo(d, want)
	f, _ := d.Float64()
	return math.Abs(f)
}

// TestTDExpNeg: exp of x − m, as twoDiff gives it for float32 x and m,
// within 2^-150 over logSumExpTD's range (to twice the exp cutoff).
func TestTDExpNeg(t *testing.T) {
	rng := newRand(89)
	for i := range 300 {
		x, m := float32(-175*rng.Float64()), float32(math.Ldexp(rng.Float64(), -rng.IntN(60)))
		if i%3 == 0 {
			m = 0
		}
		d, lo := twoDiff(float64(x), float64(m))
		if d < 2*expCutoff32 {
			continue
		}
		arg := new(big.Float).SetPrec(400).Sub(new(big.Float).SetFloat64(float64(x)), new(big.Float).SetFloat64(float64(m)))
		if e := tdErr(tdExpNeg(d, lo), ref.BigExp(arg)); e > 0x1p-150 {
			t.Fatalf("tdExpNeg(%v − %v): relative error 2^%.1f", x, m, math.Log2(e))
		}
	}
}

// TestTDArithmetic: a product, a sum that cancels, and a quotient, against
// 400-bit arithmetic.
func TestTDArithmetic(t *testing.T) {
	third := tdDivInt(td{1}, 3)
	big3 := new(big.Float).SetPrec(400).Quo(big.NewFloat(1), big.NewFloat(3))
	if e := tdErr(third, big3); e > 0x1p-155 {
		t.Fatalf("1/3: relative error 2^%.1f", math.Log2(e))
	}
	sq := tdMul(third, third)
	if e := tdErr(sq, new(big.Float).Mul(big3, big3)); e > 0x1p-154 {
		t.Fatalf("(1/3)²: relative error 2^%.1f", math.Log2(e))
	}
	// 1/3 − 0.333… (one float64) leaves the low two words exactly.
	diff := tdAdd(third, td{-third[0]})
	want := new(big.Float).Sub(big3, new(big.Float).SetFloat64(third[0]))
	if e := tdErr(diff, want); e > 0x1p-100 {
		t.Fatalf("1/3 − hi: relative error 2^%.1f", math.Log2(e))
	}
}

func TestTDAllocs(t *testing.T) {
	x := []float32{-0x1.24924ap-30, -0x1.4a92fcp+04, -0x1.14dc0cp+05, -0x1.819d7ep+05, -0x1.e5e8cep+05, -0x1.291434p+06}
	if a := testing.AllocsPerRun(10, func() { LogSumExp(x) }); a != 0 {
		t.Fatalf("LogSumExp on a triple-double row: %v allocations", a)
	}
}

func BenchmarkLogSumExpTD(b *testing.B) {
	x := []float32{-0x1.24924ap-30, -0x1.4a92fcp+04, -0x1.14dc0cp+05, -0x1.819d7ep+05, -0x1.e5e8cep+05, -0x1.291434p+06}
	for b.Loop() {
		LogSumExp(x)
	}
}
