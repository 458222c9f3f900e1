package expfit

import (
	"math"
	"testing"
)

// TestCoeffs bounds each degree's relative error against math.Exp on the
// reduced range (a little past it: n·ln2 rounds), evaluated in float64,
// and checks exp(0) = 1 exactly.
func TestCoeffs(t *testing.T) {
	for _, c := range []struct {
		deg   int
		bound float64
	}{{8, 0x1p-37}, {10, 0x1p-49}, {11, 0x1p-51}} {
		cs := Coeffs(c.deg)
		if len(cs) != c.deg+1 || cs[0] != 2 || cs[1] != 2 {
			t.Fatalf("degree %d: %d coefficients, c0 = %v, c1 = %v; want %d, 2, 2", c.deg, len(cs), cs[0], cs[1], c.deg+1)
		}
		worst := 0.0
		const steps = 100000
		for i := 0; i <= steps; i++ {
			x := (-0.5 + float64(i)/steps) * math.Ln2 * 1.0001
			p := 0.0
			for k := c.deg; k >= 0; k-- {
				p = p*x + cs[k]
			}
			worst = math.Max(worst, math.Abs(p/(2*math.Exp(x))-1))
		}
		t.Logf("degree %d: 2^%.2f", c.deg, math.Log2(worst))
		if worst > c.bound {
			t.Errorf("degree %d: relative error 2^%.2f > 2^%.0f", c.deg, math.Log2(worst), math.Log2(c.bound))
		}
	}
}
