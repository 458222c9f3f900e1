package ref

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// TestLogSumExpAgainstBigFloat checks Precise LogSumExp where m + log Σ
// cancels, down to results of 2^-40 of log Σ, and with log Σ itself tiny
// (log-probabilities of a confident classifier, which a DD 1 + rest rounds
// at 2^-106 of 1: 1728 float32 ULPs off before Log1p).
func TestLogSumExpAgainstBigFloat(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var rows [][]float64
	for i := range 200 {
		a := -12 - 75*rng.Float64() // the other class's log-probability, about
		if i%2 == 0 {
			a = float64(float32(a))
		}
		m := -math.Log1p(math.Exp(a))
		if i%4 < 2 {
			m = float64(float32(m))
		}
		rows = append(rows, []float64{m, a})
	}
	for i := range 200 {
		n := 2 + i%6
		x := make([]float64, n)
		for j := range x {
			x[j] = -rng.Float64() * 15
		}
		x[0] = 0
		_, l := BigLogSumExp(x)
		lf, _ := l.Float64()
		shift := lf * (1 - math.Ldexp(rng.Float64(), -(i%40)))
		for j := range x {
			x[j] -= shift
		}
		rows = append(rows, x)
	}
	for _, x := range rows {
		r, l := BigLogSumExp(x)
		got := LogSumExp(x, Precise)
		lf, _ := l.Float64()
		d := new(big.Float).Sub(bf(got), r)
		df, _ := d.Float64()
		rf, _ := r.Float64()
		// A float64 rounding of r plus 2^-90 of log Σ.
		if bound := 0.5*math.Abs(rf)*0x1p-52 + lf*0x1p-90; math.Abs(df) > bound {
			t.Fatalf("LogSumExp(%v) = %v, want %v (off by %g, %s the bound)", x, got, rf, df, fmt.Sprintf("%.1fx", math.Abs(df)/bound))
		}
	}
}
