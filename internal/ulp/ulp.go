// Package ulp measures the distance between a computed result and a
// reference in units in the last place of the result's type.
package ulp

import "math"

// Smallest normal values: below them the package promises no accuracy.
const (
	MinNormal32 = 0x1p-126
	MinNormal64 = 0x1p-1022
)

// Err32 returns |got − want| in units of the float32 ULP at want, the
// exactly known value (so a correctly rounded got scores at most 0.5).
// Where want is below the float32 normal range, any got of about that size
// scores 0: outputs there carry no accuracy promise. NaN matches NaN and an
// infinity matches itself; every other mismatch in kind is +Inf.
func Err32(got float32, want float64) float64 {
	if w := float32(want); math.IsInf(float64(w), 0) && !math.IsInf(want, 0) {
		want = float64(w) // beyond float32's range: the rounded value is an infinity
	}
	return err(float64(got), want, 24, MinNormal32)
}

// Err64 is Err32 for float64 results.
func Err64(got, want float64) float64 {
	return err(got, want, 53, MinNormal64)
}

// Of32 and Of64 return the ULP of the type at |v| (at least the smallest
// subnormal's spacing, for 0 and subnormal v).
func Of32(v float64) float64 { return of(v, 24, MinNormal32) }
func Of64(v float64) float64 { return of(v, 53, MinNormal64) }

func of(v float64, prec int, tiny float64) float64 {
	if math.Abs(v) < tiny {
		v = tiny
	}
	_, e := math.Frexp(v)
	return math.Ldexp(1, e-prec)
}

func err(got, want float64, prec int, tiny float64) float64 {
	switch {
	case want != want || got != got:
		if want != want && got != got {
			return 0
		}
		return math.Inf(1)
	case math.IsInf(want, 0) || math.IsInf(got, 0):
		if got == want {
			return 0
		}
		return math.Inf(1)
	case math.Abs(want) < tiny:
		if math.Abs(got) <= 2*tiny {
			return 0
		}
		return math.Inf(1)
	}
	return math.Abs(got-want) / of(want, prec, tiny)
}
