package softmax

import (
	"math"
	"testing"

	"github.com/gosimd/softmax/internal/ref"
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
	if worst > 0x1p-46 {
		t.Fatalf("expNeg relative error %g > 2^-46", worst)
	}
	for _, d := range []float64{math.NaN(), 1, -100, math.Inf(-1)} {
		if got, want := expNeg(d), math.Exp(d); got != want && !(got != got && want != want) {
			t.Errorf("expNeg(%g) = %g, want %g", d, got, want)
		}
	}
}
