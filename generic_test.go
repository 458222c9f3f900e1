package softmax

import (
	"math"
	"testing"

	"github.com/gosimd/softmax/internal/ref"
	"github.com/gosimd/softmax/internal/ulp"
)

func TestExpNeg(t *testing.T) {
	worst := 0.0
	for i := 0; i <= 1_000_000; i++ {
		d := expCutoff32 * float64(i) / 1e6
		want := ref.Exp(ref.D(d)).Float()
		if e := math.Abs(expNeg(d)-want) / want; e > worst {
			worst = e
		}
	}
	if worst > 0x1p-50 {
		t.Fatalf("expNeg relative error 2^%.2f > 2^-50", math.Log2(worst))
	}
	for _, d := range []float64{math.NaN(), 1, -100, math.Inf(-1)} {
		if got, want := expNeg(d), math.Exp(d); got != want && !(got != got && want != want) {
			t.Errorf("expNeg(%g) = %g, want %g", d, got, want)
		}
	}
}

// TestLog1pFast: the float32 sets' log1p against math.Log1p on r from
// 2^-80 to 2^30 (the rest of a split sum), within 8 float64 ULPs (Goldberg's
// bound is 5 ε), exact for 0 and the r where 1 + r rounds to 1, NaN for NaN.
func TestLog1pFast(t *testing.T) {
	worst := 0.0
	for i := 0; i <= 200_000; i++ {
		r := math.Exp2(-80 + 110*float64(i)/200_000)
		if e := ulp.Err64(log1pFast(r), math.Log1p(r)); e > worst {
			worst = e
		}
	}
	if worst > 8 {
		t.Fatalf("log1pFast: %.2f float64 ULPs from math.Log1p", worst)
	}
	for _, r := range []float64{0, 0x1p-54, 0x1p-60} {
		if got := log1pFast(r); got != r {
			t.Errorf("log1pFast(%g) = %g, want %g", r, got, r)
		}
	}
	if got := log1pFast(math.NaN()); got == got {
		t.Errorf("log1pFast(NaN) = %g", got)
	}
	t.Logf("worst %.2f float64 ULPs", worst)
}

// TestExpPair: float64's exp against the double-double reference over
// [tinyHi, 0] with a low part: e + el within 2^-58 relative, e within
// 0.52 ULP (rounded once but for that), where math.Exp errs by up to an
// ULP and took float64 Softmax to 4 ULP of a reference rounded to float64.
// exp64, built on it, is within 0.52 ULP too.
func TestExpPair(t *testing.T) {
	rng := newRand(71)
	worstPair, worstE := 0.0, 0.0
	n := 400_000
	if testing.Short() {
		n = 50_000 // the double-double reference is slow under qemu
	}
	for i := 0; i < n; i++ {
		hi := tinyHi * math.Pow(rng.Float64(), 3) // many small |hi|, and all of the range
		lo := hi * 0x1p-53 * (rng.Float64() - 0.5)
		if i < 4 {
			hi, lo = []float64{0, -0x1p-60, tinyHi, -math.Ln2 / 128}[i], 0
		}
		want := ref.Exp(ref.DD{Hi: hi, Lo: lo})
		e, el := expPair(hi, lo)
		if want.Hi > 0x1p-960 { // el is not subnormal
			worstPair = math.Max(worstPair, math.Abs((e-want.Hi)+(el-want.Lo))/want.Hi)
		}
		worstE = math.Max(worstE, math.Abs((e-want.Hi)-want.Lo)/ulp.Of64(want.Hi))
	}
	if worstPair > 0x1p-58 || worstE > 0.52 {
		t.Fatalf("expPair: e + el within %g relative (want 2^-58), e within %.4f ULP (want 0.52)", worstPair, worstE)
	}
	x, m := -3.141592653589793, 700.25 // x − m rounds: exp64 folds lo in
	hi, lo := twoDiff(x, m)
	if got, want := exp64(x, m), ref.Exp(ref.DD{Hi: hi, Lo: lo}); math.Abs((got-want.Hi)-want.Lo)/ulp.Of64(want.Hi) > 0.52 {
		t.Fatalf("exp64(%v, %v) = %v, want %v", x, m, got, want)
	}
	t.Logf("expPair: pair %.3g relative, e %.4f ULP", worstPair, worstE)
}
