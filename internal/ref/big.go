package ref

import (
	"math"
	"math/big"
)

// The reference of last resort: arbitrary precision, for checking the
// double-double one and the rows it cannot judge.

const bigPrec = 400

func bf(x float64) *big.Float { return new(big.Float).SetPrec(bigPrec).SetFloat64(x) }

// BigExp is e^x for a big x, in 400-bit arithmetic: halved until below
// 2^-10, Taylor, squared back.
func BigExp(x *big.Float) *big.Float {
	if x.IsInf() {
		if x.Sign() < 0 {
			return bf(0)
		}
		return new(big.Float).SetInf(false)
	}
	x = new(big.Float).SetPrec(bigPrec).Set(x)
	h := 0
	for x.MantExp(nil) > -10 && x.Sign() != 0 {
		x.Quo(x, bf(2))
		h++
	}
	sum, term := bf(1), bf(1)
	for i := 1; i < 60; i++ {
		term.Mul(term, x)
		term.Quo(term, bf(float64(i)))
		sum.Add(sum, term)
	}
	for range h {
		sum.Mul(sum, sum)
	}
	return sum
}

// bigLog is ln s for s >= 1: 2·atanh(z), z = (s − 1)/(s + 1), by its
// series, after taking square roots until s < 1 + 2^-8.
func bigLog(s *big.Float) *big.Float {
	s = new(big.Float).SetPrec(bigPrec).Set(s)
	h := 0
	for s.Cmp(bf(1+0x1p-8)) > 0 {
		s.Sqrt(s)
		h++
	}
	z := new(big.Float).Quo(new(big.Float).Sub(s, bf(1)), new(big.Float).Add(s, bf(1)))
	z2 := new(big.Float).Mul(z, z)
	sum, pow := new(big.Float).SetPrec(bigPrec), new(big.Float).Set(z)
	for k := 1; k < 120; k += 2 {
		sum.Add(sum, new(big.Float).Quo(pow, bf(float64(k))))
		pow.Mul(pow, z2)
	}
	sum.Mul(sum, bf(math.Ldexp(2, h)))
	return sum
}

// BigLogSumExp returns m + log Σ e^(x − m) and log Σ for a finite row, in
// 400-bit arithmetic with x − m exact: slow (milliseconds per element), for
// short rows whose LogSumExp cancels further than double-double reaches.
// The terms equal to 1 are counted apart, and with one of them log Σ is
// log1p of the rest by its series, which keeps a rest far below 2^-400
// (a float64 row's log Σ may be 1e-300).
func BigLogSumExp(x []float64) (r, l *big.Float) {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, v)
	}
	rest, ones := bf(0), 0
	for _, v := range x {
		switch {
		case v == m:
			ones++
		case !math.IsInf(v, -1):
			rest.Add(rest, BigExp(new(big.Float).Sub(bf(v), bf(m))))
		}
	}
	if ones == 1 && rest.Cmp(bf(0x1p-8)) < 0 {
		l = new(big.Float).SetPrec(bigPrec)
		pow := new(big.Float).Set(rest)
		for k := 1; pow.Sign() != 0 && pow.MantExp(nil) > rest.MantExp(nil)-bigPrec; k++ {
			term := new(big.Float).Quo(pow, bf(float64(k)))
			if k%2 == 0 {
				term.Neg(term)
			}
			l.Add(l, term)
			pow.Mul(pow, rest)
		}
	} else {
		l = bigLog(rest.Add(rest, bf(float64(ones))))
	}
	return new(big.Float).Add(bf(m), l), l
}

// exactSum is Σ terms rounded to a double-double: every float64 is a
// multiple of 2^-1074 below 2^1024, so 2200 bits hold any sum of fewer
// than 2^100 of them exactly.
func exactSum(terms []DD) DD {
	acc := new(big.Float).SetPrec(2200)
	t := new(big.Float).SetPrec(2200)
	for _, v := range terms {
		acc.Add(acc, t.SetFloat64(v.Hi))
		acc.Add(acc, t.SetFloat64(v.Lo))
	}
	hi, _ := acc.Float64()
	lo, _ := acc.Sub(acc, t.SetFloat64(hi)).Float64()
	return DD{hi, lo}
}
