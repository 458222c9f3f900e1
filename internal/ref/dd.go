// Package ref holds the reference implementations the tests and fuzz
// targets compare every kernel set with. They are written for clarity, not
// speed, and share no code with the package under test: float32 results are
// checked against float64 arithmetic on exactly converted inputs, float64
// results against double-double arithmetic (about 104 bits).
package ref

import "math"

// DD is an unevaluated sum Hi + Lo with |Lo| <= ulp(Hi)/2.
type DD struct{ Hi, Lo float64 }

// D makes a DD from a float64.
func D(x float64) DD { return DD{x, 0} }

// Float rounds to the nearest float64.
func (a DD) Float() float64 { return a.Hi + a.Lo }

func twoSum(a, b float64) (s, e float64) {
	s = a + b
	bb := s - a
	e = (a - (s - bb)) + (b - bb)
	return s, e
}

func fastTwoSum(a, b float64) (s, e float64) {
	s = a + b
	return s, b - (s - a)
}

func norm(hi, lo float64) DD {
	if math.IsInf(hi, 0) || hi != hi {
		return DD{hi, 0}
	}
	s, e := fastTwoSum(hi, lo)
	return DD{s, e}
}

// Add returns a + b.
func Add(a, b DD) DD {
	s, e := twoSum(a.Hi, b.Hi)
	if math.IsInf(s, 0) || s != s {
		return DD{s, 0}
	}
	t, f := twoSum(a.Lo, b.Lo)
	e += t
	s, e = fastTwoSum(s, e)
	e += f
	return norm(s, e)
}

// Sub returns a − b.
func Sub(a, b DD) DD { return Add(a, DD{-b.Hi, -b.Lo}) }

// Mul returns a·b.
func Mul(a, b DD) DD {
	// The conversion stops the compiler from fusing the product into a
	// later add (arm64 does), which would break the error-free transform.
	p := float64(a.Hi * b.Hi)
	if math.IsInf(p, 0) || p != p || p == 0 {
		return DD{p, 0}
	}
	e := math.FMA(a.Hi, b.Hi, -p)
	e += a.Hi*b.Lo + a.Lo*b.Hi
	return norm(p, e)
}

// Div returns a/b.
func Div(a, b DD) DD {
	q1 := a.Hi / b.Hi
	if math.IsInf(q1, 0) || q1 != q1 || q1 == 0 {
		return DD{q1, 0}
	}
	r := Sub(a, Mul(D(q1), b))
	q2 := r.Hi / b.Hi
	r = Sub(r, Mul(D(q2), b))
	q3 := r.Hi / b.Hi
	return Add(norm(q1, q2), D(q3))
}

var (
	ln2 = DD{0.6931471805599453, 2.3190468138462996e-17}
	// invFact[i] = 1/i!
	invFact = func() [14]DD {
		var f [14]DD
		f[0] = D(1)
		for i := 1; i < len(f); i++ {
			f[i] = Div(f[i-1], D(float64(i)))
		}
		return f
	}()
)

// Exp returns e^a to about 2^-95 relative (far below a float64 ULP), exactly
// 0 for −Inf and below the float64 range.
func Exp(a DD) DD {
	switch {
	case a.Hi != a.Hi:
		return D(math.NaN())
	case a.Hi > 709.8:
		return D(math.Inf(1))
	case a.Hi < -745.2:
		return D(0)
	}
	k := math.Round(a.Hi / ln2.Hi)
	r := Sub(a, Mul(D(k), ln2))
	// e^r = (e^(r/1024))^1024, with a Taylor series for the small argument.
	r = DD{r.Hi / 1024, r.Lo / 1024}
	s := invFact[len(invFact)-1]
	for i := len(invFact) - 2; i >= 0; i-- {
		s = Add(Mul(s, r), invFact[i])
	}
	for range 10 {
		s = Mul(s, s)
	}
	// Scale in two steps so that a tiny result is not flushed early.
	k1 := int(k) / 2
	return DD{math.Ldexp(math.Ldexp(s.Hi, k1), int(k)-k1), math.Ldexp(math.Ldexp(s.Lo, k1), int(k)-k1)}
}

// Log returns ln a for a > 0, by Newton steps on Exp.
func Log(a DD) DD {
	if a.Hi <= 0 || a.Hi != a.Hi || math.IsInf(a.Hi, 1) {
		return D(math.Log(a.Hi))
	}
	if u := Sub(a, D(1)); math.Abs(u.Hi) < 1.0/64 {
		// Near 1 Newton's absolute error would swamp a tiny log.
		return log1pSeries(u)
	}
	y := D(math.Log(a.Hi))
	for range 2 {
		y = Add(y, Sub(Mul(a, Exp(DD{-y.Hi, -y.Lo})), D(1)))
		y = norm(y.Hi, y.Lo)
	}
	return y
}

// Log1p returns ln(1 + u) for u > −1 to u's own relative precision: where
// u is tiny, 1 + u as a DD would round it at 2^-106 of 1 (the log Σ of
// log-probabilities, 1 + 1e-22, needs far more).
func Log1p(u DD) DD {
	if math.Abs(u.Hi) < 1.0/64 {
		return log1pSeries(u)
	}
	return Log(Add(D(1), u))
}

// log1pSeries sums log(1+u) = u − u²/2 + u³/3 − … for |u| < 1/64
// (|u|^19 < 2^-114).
func log1pSeries(u DD) DD {
	var y DD
	pow := u
	for i := 1; i < 20; i++ {
		term := Div(pow, D(float64(i)))
		if i%2 == 0 {
			term = DD{-term.Hi, -term.Lo}
		}
		y = Add(y, term)
		pow = Mul(pow, u)
	}
	return y
}

// ExpFast returns e^a to about 2^-52 relative: math.Exp of the high part
// with the low part folded in. Enough to judge float32 results in ULPs,
// and much faster than Exp for long rows.
func ExpFast(a DD) DD {
	e := math.Exp(a.Hi)
	if e == 0 || math.IsInf(e, 0) || e != e {
		return D(e)
	}
	return norm(e, e*a.Lo)
}

// LogFast returns ln a to about 2^-52 relative, also when a is close to 1.
func LogFast(a DD) DD {
	if a.Hi <= 0 || a.Hi != a.Hi || math.IsInf(a.Hi, 1) {
		return D(math.Log(a.Hi))
	}
	return D(math.Log1p(Sub(a, D(1)).Float()))
}
