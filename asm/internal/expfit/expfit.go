// Package expfit computes the coefficients of the generators' float64 exp
// polynomials.
package expfit

import (
	"math"
	"math/big"
)

// Coeffs returns c[0..deg] with Σ c[k]·t^k ≈ 2·exp(t) on the reduced range
// |t| <= ln2/2, for the kernels' float64-lane exps. c[0] = c[1] = 2 exactly,
// so that exp(0) is exactly 1 (the sums count those terms apart) and the
// neon kernels keep both in one register; the rest interpolate
// q(t) = 2(exp(t) − 1 − t)/t² at Chebyshev nodes, which is within a small
// factor of the minimax polynomial: about 2^-50 relative for deg 10, where
// the Taylor series stops at 2^-42, and float64's rounding for deg 11.
// Computed in 256-bit arithmetic, then rounded to float64.
func Coeffs(deg int) []float64 {
	const prec = 256
	nf := func(v float64) *big.Float { return new(big.Float).SetPrec(prec).SetFloat64(v) }
	m := deg - 1 // coefficients c[2..deg]: q's degree is m − 1
	a := math.Ln2 / 2
	// q(t) = Σ 2·t^j/(j+2)!, to far below 2^-256 for |t| <= 1/2.
	q := func(t float64) *big.Float {
		sum, term := nf(0), nf(2) // term = 2·t^j/(j+2)!, from j = 0: 2/2!
		term.Quo(term, nf(2))
		for j := 0; j < 120; j++ {
			sum.Add(sum, term)
			term.Mul(term, nf(t))
			term.Quo(term, nf(float64(j+3)))
		}
		return sum
	}
	// The Vandermonde system V·c = q(t_i) at m Chebyshev nodes, solved by
	// Gaussian elimination with partial pivoting.
	v := make([][]*big.Float, m)
	for i := range v {
		t := a * math.Cos(float64(2*i+1)*math.Pi/float64(2*m))
		v[i] = make([]*big.Float, m+1)
		p := nf(1)
		for j := 0; j < m; j++ {
			v[i][j] = new(big.Float).SetPrec(prec).Set(p)
			p.Mul(p, nf(t))
		}
		v[i][m] = q(t)
	}
	for col := 0; col < m; col++ {
		piv := col
		for r := col + 1; r < m; r++ {
			if new(big.Float).Abs(v[r][col]).Cmp(new(big.Float).Abs(v[piv][col])) > 0 {
				piv = r
			}
		}
		v[col], v[piv] = v[piv], v[col]
		for r := col + 1; r < m; r++ {
			f := new(big.Float).SetPrec(prec).Quo(v[r][col], v[col][col])
			for j := col; j <= m; j++ {
				v[r][j].Sub(v[r][j], new(big.Float).SetPrec(prec).Mul(f, v[col][j]))
			}
		}
	}
	sol := make([]*big.Float, m)
	for r := m - 1; r >= 0; r-- {
		s := new(big.Float).SetPrec(prec).Set(v[r][m])
		for j := r + 1; j < m; j++ {
			s.Sub(s, new(big.Float).SetPrec(prec).Mul(v[r][j], sol[j]))
		}
		sol[r] = s.Quo(s, v[r][r])
	}
	c := []float64{2, 2}
	for _, s := range sol {
		f, _ := s.Float64()
		c = append(c, f)
	}
	return c
}
