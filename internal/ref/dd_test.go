package ref

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// bigExp is e^x by its Taylor series in 200-bit big.Float arithmetic, after
// halving x until it is small and squaring back.
func bigExp(x float64) *big.Float {
	const prec = 200
	h := 0
	for math.Abs(x) > 1e-3 {
		x /= 2
		h++
	}
	bx := new(big.Float).SetPrec(prec).SetFloat64(x)
	sum := new(big.Float).SetPrec(prec).SetFloat64(1)
	term := new(big.Float).SetPrec(prec).SetFloat64(1)
	for i := 1; i < 40; i++ {
		term.Mul(term, bx)
		term.Quo(term, new(big.Float).SetPrec(prec).SetInt64(int64(i)))
		sum.Add(sum, term)
	}
	for range h {
		sum.Mul(sum, sum)
	}
	return sum
}

// relErr is |a − want|/|want| for a DD a.
func relErr(a DD, want *big.Float) float64 {
	got := new(big.Float).SetPrec(200).SetFloat64(a.Hi)
	got.Add(got, new(big.Float).SetPrec(200).SetFloat64(a.Lo))
	d := new(big.Float).Sub(got, want)
	d.Quo(d, want)
	f, _ := d.Float64()
	return math.Abs(f)
}

func TestExpAgainstBigFloat(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		x := (rng.Float64()*2 - 1) * 700
		if i < 10 {
			x = float64(i) - 5
		}
		// Near the bottom of the float64 range Lo turns subnormal and
		// precision falls to about 2^-60, still far below a float64 ULP.
		tol := 0x1p-90
		if x < -600 {
			tol = 0x1p-60
		}
		if e := relErr(Exp(D(x)), bigExp(x)); e > tol {
			t.Fatalf("Exp(%g): relative error %g > %g", x, e, tol)
		}
	}
}

func TestLogInvertsExp(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 300 {
		x := DD{(rng.Float64()*2 - 1) * 50, 0}
		x.Lo = x.Hi * 0x1p-60 * rng.Float64()
		x = norm(x.Hi, x.Lo)
		y := Log(Exp(x))
		if d := math.Abs(Sub(y, x).Float()); d > 0x1p-90*math.Max(1, math.Abs(x.Hi)) {
			t.Fatalf("Log(Exp(%v)) = %v, off by %g", x, y, d)
		}
	}
	// Tiny logs keep their relative accuracy.
	for _, u := range []float64{3.5e-36, -1e-20, 1e-10, 0.01} {
		got := Log(Add(D(1), D(u)))
		want := math.Log1p(u)
		if math.Abs(got.Float()-want) > 2e-16*math.Abs(want) {
			t.Fatalf("Log(1+%g) = %v, want %g", u, got, want)
		}
	}
	if got := Log(D(1)); got.Hi != 0 || got.Lo != 0 {
		t.Fatalf("Log(1) = %v, want 0", got)
	}
}

func TestExpSpecials(t *testing.T) {
	if e := Exp(D(math.Inf(-1))); e.Hi != 0 {
		t.Errorf("Exp(-Inf) = %v", e)
	}
	if e := Exp(D(math.NaN())); e.Hi == e.Hi {
		t.Errorf("Exp(NaN) = %v", e)
	}
	if e := Exp(D(800)); !math.IsInf(e.Hi, 1) {
		t.Errorf("Exp(800) = %v", e)
	}
	if e := ExpFast(D(-1)); math.Abs(e.Float()-math.Exp(-1)) > 0x1p-52 {
		t.Errorf("ExpFast(-1) = %v", e)
	}
}
