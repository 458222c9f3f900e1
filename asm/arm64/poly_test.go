package main

import (
	"github.com/gosimd/softmax/asm/internal/expfit"
	"math"
	"testing"
)

// The exp polynomials' approximation error on the reduced range, evaluated
// in float64 (the kernels add their rounding on top: about 1 ULP more).
func TestExpPolynomials(t *testing.T) {
	const steps = 100000
	worst32, worst64, worstP := 0.0, 0.0, 0.0
	c64, cp := expfit.Coeffs(10), expfit.Coeffs(11)
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
		p := 0.0
		for k := len(c64) - 1; k >= 0; k-- {
			p = p*x + c64[k]
		}
		worst64 = math.Max(worst64, math.Abs(p/(2*math.Exp(x))-1))
		p = 0
		for k := len(cp) - 1; k >= 0; k-- {
			p = p*x + cp[k]
		}
		worstP = math.Max(worstP, math.Abs(p/(2*math.Exp(x))-1))
	}
	t.Logf("float32 polynomial: %.3f ULP; float64: 2^%.1f relative, exp64p's 2^%.1f", worst32, math.Log2(worst64), math.Log2(worstP))
	if worst32 > 0.13 {
		t.Errorf("float32 exp polynomial error %.3f ULP > 0.13", worst32)
	}
	// The Taylor series of degree 10 was 2^-42 here, which LogSoftmaxBackward
	// showed where dy − e·s cancels (TestLogSoftmaxBackwardCancellation).
	if worst64 > 0x1p-48 {
		t.Errorf("expMulSub's polynomial error %g > 2^-48", worst64)
	}
	if worstP > 0x1p-50 {
		t.Errorf("exp64p's polynomial error %g > 2^-50", worstP)
	}
	// The constants the kernels rely on.
	if math.Float32bits(ln2Hi32)&0x1ff != 0 {
		t.Errorf("ln2Hi32 has more than 15 significant bits")
	}
	if math.Float64bits(ln2Hi64)&(1<<21-1) != 0 {
		t.Errorf("ln2Hi64 has more than 32 significant bits")
	}
}
