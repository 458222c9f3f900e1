package main

import (
	"math"
	"math/rand/v2"
)

// genLogits fills a rows×cols matrix with the benchmark's logits: each row
// is normal with σ = 4 around its own random offset in [−50, 50]. The
// generator is seeded from the shape, so every child process (and every
// machine) sees the same data for the same shape.
func genLogits(rows, cols int) []float32 {
	r := rand.New(rand.NewPCG(0x50f7a4, uint64(rows)<<32|uint64(cols)))
	x := make([]float32, rows*cols)
	for i := 0; i < rows; i++ {
		off := 100*r.Float64() - 50
		row := x[i*cols : (i+1)*cols]
		for j := range row {
			row[j] = float32(off + 4*r.NormFloat64())
		}
	}
	return x
}

// reference is softmax of each row computed in float64 (max, exp, sum,
// divide) and rounded once to float32.
func reference(x []float32, cols int) []float32 {
	ref := make([]float32, len(x))
	e := make([]float64, cols)
	for r := 0; r+cols <= len(x); r += cols {
		row := x[r : r+cols]
		m := math.Inf(-1)
		for _, v := range row {
			m = math.Max(m, float64(v))
		}
		s := 0.0
		for j, v := range row {
			e[j] = math.Exp(float64(v) - m)
			s += e[j]
		}
		for j := range row {
			ref[r+j] = float32(e[j] / s)
		}
	}
	return ref
}

// minNormal32 is 2^-126: outputs whose reference is smaller are not
// compared (the accuracy promise covers normal outputs only).
const minNormal32 = 0x1p-126

// ulp32 is the spacing of float32 values at |v|: the distance from |v| to
// the next float32 away from zero.
func ulp32(v float32) float64 {
	a := float32(math.Abs(float64(v)))
	return float64(math.Nextafter32(a, float32(math.Inf(1)))) - float64(a)
}

// ulpError is |got − ref| in units of ulp32(ref); a NaN or infinite got
// gives +Inf.
func ulpError(got, ref float32) float64 {
	if math.IsNaN(float64(got)) || math.IsInf(float64(got), 0) {
		return math.Inf(1)
	}
	return math.Abs(float64(got)-float64(ref)) / ulp32(ref)
}

// accuracy summarises how far one output is from the reference.
type accuracy struct {
	MaxULP    float64 `json:"max_ulp"`    // over finite outputs
	MeanULP   float64 `json:"mean_ulp"`   // over finite outputs
	Compared  int     `json:"compared"`   // outputs whose reference is >= 2^-126
	NonFinite int     `json:"non_finite"` // of those, how many came out NaN or ±Inf
}

// ulpStats compares got with ref over the elements whose reference is at
// least 2^-126. NaN and infinite outputs are counted apart, so the JSON
// stays finite.
func ulpStats(got, ref []float32) accuracy {
	var a accuracy
	sum := 0.0
	for i, r := range ref {
		if r < minNormal32 {
			continue
		}
		a.Compared++
		u := ulpError(got[i], r)
		if math.IsInf(u, 1) {
			a.NonFinite++
			continue
		}
		a.MaxULP = math.Max(a.MaxULP, u)
		sum += u
	}
	if n := a.Compared - a.NonFinite; n > 0 {
		a.MeanULP = sum / float64(n)
	}
	return a
}
