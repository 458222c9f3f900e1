package expfit

import "math"

// The float64 Softmax kernels' exp (amd64/f64.go, arm64/f64.go) reduces
// x − m by n·ln2 in two parts and sums Taylor's series, whose constants
// live here, one place for both generators.

// Ln2Hi42 + Ln2Lo42 is ln 2 to 2^-95, Ln2Hi42 with 42 significant bits:
// n·Ln2Hi42 is exact for |n| < 2^11, so hi − n·Ln2Hi42 is (Sterbenz), and
// rl = n·Ln2Lo42 stays below 2^-32, where rl²/2, which the kernels leave
// out, is below 2^-65 (with a 33-bit high part it was 2^-46: 80 ULP at
// x − m = −700).
var (
	Ln2Hi42 = math.Float64frombits(math.Float64bits(math.Ln2) &^ (1<<11 - 1))
	Ln2Lo42 = (math.Ln2 - Ln2Hi42) + 0x1.abc9e3b39803fp-56
)

// InvFact returns 1/k!, rounded once.
func InvFact(k int) float64 {
	f := 1.0
	for i := 2; i <= k; i++ {
		f *= float64(i) // exact up to 18!
	}
	return 1 / f
}
