package main

import (
	"math"
	"testing"
)

// The float32 exp polynomial's approximation error on the reduced range,
// evaluated in float64 (the kernels add their rounding on top: about 1 ULP
// more); the float64 ones are asm/internal/expfit's, tested there.
func TestExpPolynomials(t *testing.T) {
	const steps = 100000
	worst32 := 0.0
	for i := 0; i <= steps; i++ {
		x := -math.Ln2/2 + math.Ln2*float64(i)/steps
		q := 0.0
		for k := len(expPoly32) - 1; k >= 0; k-- {
			q = q*x + float64(expPoly32[k])
		}
		// In float32 ULPs of exp(x): 2^-24 below 1, 2^-23 from 1 up.
		u := 0x1p-23
		if math.Exp(x) < 1 {
			u = 0x1p-24
		}
		worst32 = math.Max(worst32, math.Abs((1+x*q)-math.Exp(x))/u)
	}
	t.Logf("float32 polynomial: %.3f ULP", worst32)
	if worst32 > 0.13 {
		t.Errorf("float32 exp polynomial error %.3f ULP > 0.13", worst32)
	}
	// The constants the kernels rely on.
	if math.Float32bits(ln2Hi32)&0x1ff != 0 {
		t.Errorf("ln2Hi32 has more than 15 significant bits")
	}
	if math.Float64bits(ln2Hi64)&(1<<21-1) != 0 {
		t.Errorf("ln2Hi64 has more than 32 significant bits")
	}
}
