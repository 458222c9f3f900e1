// Package gen makes test inputs: logits of a chosen spread and the special
// values every kernel set must treat alike.
package gen

import (
	"math"
	"math/rand/v2"
)

// Logits returns n normal values with standard deviation sigma around mean.
func Logits(rng *rand.Rand, n int, sigma, mean float64) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = mean + sigma*rng.NormFloat64()
	}
	return x
}

// Specials are values that every kernel set must treat alike; the float32
// ones ±3e38 make x − max overflow, and values near ±87 sit at the float32
// exp cutoff relative to 0.
func Specials() []float64 {
	return []float64{
		0, math.Copysign(0, -1), 1, -1,
		math.Inf(-1), math.Inf(1), math.NaN(),
		3e38, -3e38, 87.33, -87.33, -87.34, 88.7, -103.9,
		1e-40, -1e-40, 0x1p-126, 1e-30,
	}
}

// Finite are the finite special values (no NaN or ±Inf).
func Finite() []float64 {
	var out []float64
	for _, v := range Specials() {
		if !math.IsInf(v, 0) && v == v {
			out = append(out, v)
		}
	}
	return out
}

// Sprinkle replaces about one element in every `every` of x with a value
// drawn from vals.
func Sprinkle(rng *rand.Rand, x []float64, vals []float64, every int) {
	for i := range x {
		if rng.IntN(every) == 0 {
			x[i] = vals[rng.IntN(len(vals))]
		}
	}
}
