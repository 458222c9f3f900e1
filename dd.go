package softmax

import "math"

// Double-double arithmetic (a value hi + lo, about 106 bits) for the one
// place float64 does not suffice: LogSumExp where m + log Σ exp(x − m)
// cancels below log Σ. For float32 rows that is far below it
// (log-probabilities, whose LogSumExp is the rounding of their
// normalization, 1e-8 against terms near 10: float64's rounding of log Σ
// alone is hundreds of float32 ULPs of the result); for float64 rows
// results below 1/16 and smaller than log Σ (logSumExp64 takes those above).
// There the sum, its exps and its log are carried in double-double.

type dd struct{ hi, lo float64 }

// ddNorm renormalizes hi + lo for |hi| >= |lo| (Fast2Sum).
func ddNorm(hi, lo float64) dd {
	s := hi + lo
	return dd{s, lo - (s - hi)}
}

func ddAdd(a, b dd) dd {
	s, e := twoDiff(a.hi, -b.hi)
	return ddNorm(s, e+a.lo+b.lo)
}

// The float64(…) conversions round where they stand: no FMA fusion
// (arm64) across an error-free transform.

func ddMul(a, b dd) dd {
	p := float64(a.hi * b.hi)
	e := math.FMA(a.hi, b.hi, -p)
	return ddNorm(p, e+a.hi*b.lo+a.lo*b.hi)
}

// ddDivF returns a/b for a small whole b, to about 2^-104.
func ddDivF(a dd, b float64) dd {
	q := a.hi / b
	r := math.FMA(-q, b, a.hi) + a.lo
	return ddNorm(q, r/b)
}

// ddSqrt returns √a by one Newton step on math.Sqrt of the high part.
func ddSqrt(a dd) dd {
	y := math.Sqrt(a.hi)
	return ddNorm(y, (math.FMA(-y, y, a.hi)+a.lo)/(2*y))
}

var (
	// ddPow2 holds 2^(j/64), j = 0..63; ddInvFact 1/k!, k = 0..9.
	ddPow2    [64]dd
	ddInvFact [10]dd
	// ln2/64 as hi + lo: ln 2 to 2^-106, scaled exactly.
	ddLn2x64 = dd{0x1.62e42fefa39efp-1 / 64, 0x1.abc9e3b39803fp-56 / 64}
)

func init() {
	r := dd{2, 0}
	for range 6 {
		r = ddSqrt(r)
	}
	ddPow2[0] = dd{1, 0}
	for j := 1; j < len(ddPow2); j++ {
		ddPow2[j] = ddMul(ddPow2[j-1], r)
	}
	ddInvFact[0] = dd{1, 0}
	for k := 1; k < len(ddInvFact); k++ {
		ddInvFact[k] = ddDivF(ddInvFact[k-1], float64(k))
	}
}

// ddExpNeg returns exp(d + lo) for d <= 0 (lo a rounding error of d, as
// twoDiff leaves it) to about 2^-95 relative while the result is a normal
// float64, and to its subnormal spacing below that (0 below e^-745.2):
// d + lo = (64k + j)·ln2/64 + r with |r| <= ln2/128, exp(r) by its Taylor
// series to r^9 (r^10/10! < 2^-97; the terms from r^5 on, below 2^-44, in
// float64), times 2^(j/64) and 2^k.
func ddExpNeg(d, lo float64) dd { return ddExpScaled(d, lo, 0) }

// ddExpScaled is ddExpNeg times 2^bits, rounded only where the product is
// subnormal: logSumExpDD64 sums the terms below float64's normal range
// scaled by 2^tinyBits, to their full precision.
func ddExpScaled(d, lo float64, bits int) dd {
	if d < -745.2-float64(bits)*math.Ln2 {
		return dd{}
	}
	n := math.Round(d / ddLn2x64.hi)
	ph := float64(n * ddLn2x64.hi)
	pe := math.FMA(n, ddLn2x64.hi, -ph)
	r := ddAdd(ddNorm(d, lo), dd{-ph, -pe})
	r = ddAdd(r, dd{-n * ddLn2x64.lo, 0})
	q := 1.0 / 362880
	for k := 8; k >= 5; k-- {
		q = q*r.hi + ddInvFact[k].hi
	}
	p := ddAdd(ddMul(dd{q, 0}, r), ddInvFact[4])
	for k := 3; k >= 0; k-- {
		p = ddAdd(ddMul(p, r), ddInvFact[k])
	}
	k := int(math.Floor(n / 64))
	p = ddMul(p, ddPow2[int(n)-64*k])
	k += bits
	if k < -1021 { // a subnormal result: Ldexp rounds it once
		return ddNorm(math.Ldexp(p.hi, k), math.Ldexp(p.lo, k))
	}
	scale := math.Float64frombits(uint64(k+1023) << 52)
	return dd{p.hi * scale, p.lo * scale}
}

// logSumExpDD returns m + log Σ exp(x − m) for a finite float32 row with
// max m, in double-double, with the terms below the exp cutoff down to
// 2^-252 as withTail adds them: where m + log Σ cancels, the row's log Σ
// may be made of them alone (m = −0.9·1000·e^-88 and 1000 entries of −88
// have LogSumExp 6e-37, and m with them flushed).
func logSumExpDD(x []float32, m float32) float64 {
	var rest dd
	ones := 0.0
	for _, v := range x {
		// x − m is inexact in float64 where their exponents are more than
		// 29 apart (a max near 0 among logits near −20): keep its error.
		switch d, lo := twoDiff(float64(v), float64(m)); {
		case d == 0:
			ones++ // v == m
		case d >= 2*expCutoff32:
			rest = ddAdd(rest, ddExpNeg(d, lo))
		}
	}
	l := ddLogOnes(ones, rest)
	r := ddPlusLog(float64(m), l)
	if math.Abs(r) < 0x1p-68*l.hi {
		// Within about 2^-95 of l: not enough for 4 ULP of r below
		// 2^-70 of it.
		return logSumExpTD(x, m)
	}
	return r
}

// logSumExp64 returns m + log Σ exp(x − m) for a finite float64 row where
// it cancels (m + log Σ smaller than log Σ): Σ as expSumPair64's pair, good
// to 2^-59 of it, and log Σ = y + log(Σ·e^-y) with y = log Σ.hi and e^-y
// from expPair, which leaves m + log Σ within about 2^-57: 4 ULP of
// results down to 1/16. Smaller ones (r, the first pass's m + log Σ, tells
// them) take the double-double path, at 5 to 7 times the cost.
func logSumExp64(x []float64, m, r float64) float64 {
	if math.Abs(r) >= 1.0/32 {
		rest, c, ones := expSumPair64(nil, x, m)
		s, e := twoDiff(ones, -rest)
		c += e
		y := math.Log(s)
		eh, el := expPair(-y, 0) // s >= 1 and s <= n: y in [0, 45]
		t := math.FMA(s, eh, -1) + (s*el + c*eh)
		h, l := twoDiff(m, -y)
		if r = h + (l + t); math.Abs(r) >= 1.0/16 {
			return r
		}
	}
	return logSumExpDD64(x, m)
}

// ddTinyHi bounds the terms logSumExpDD64 sums unscaled: above e^-600 ≈
// 2^-866 a pair's low word is a normal float64 (its full 2^-106).
const ddTinyHi = -600

// logSumExpDD64 is logSumExpDD for a finite float64 row: x − m is
// error-free (twoDiff), and the terms below 2^-866 are summed scaled by
// 2^tinyBits. Where they are the whole rest (one max, log Σ below 2^-833),
// m + log Σ = m + rest (rest² is below 2^-1666) is formed scaled too and
// rounded once: unscaled, the pair's low word would be subnormal, and a
// result near 2^-1022 was off by hundreds of ULPs.
func logSumExpDD64(x []float64, m float64) float64 {
	var rest, tiny dd
	ones := 0.0
	for _, v := range x {
		switch d, lo := twoDiff(v, m); {
		case d == 0:
			ones++
		case d >= ddTinyHi:
			rest = ddAdd(rest, ddExpNeg(d, lo))
		case d >= tinyLo:
			tiny = ddAdd(tiny, ddExpScaled(d, lo, tinyBits))
		}
	}
	if rest.hi == 0 && ones == 1 && math.Abs(m) < 0x1p-800 {
		h, l := twoDiff(math.Ldexp(m, tinyBits), -tiny.hi)
		return math.Ldexp(h+(l+tiny.lo), -tinyBits)
	}
	if tiny.hi != 0 {
		rest = ddAdd(rest, ddNorm(math.Ldexp(tiny.hi, -tinyBits), math.Ldexp(tiny.lo, -tinyBits)))
	}
	return ddPlusLog(m, ddLogOnes(ones, rest))
}

// ddLogOnes returns log(ones + rest) for a whole ones >= 1 and rest >= 0,
// the row's Σ exp(x − m) split as the sums keep it. With one 1 and a small
// rest it is log1p(rest) by its series, to 2^-104 of rest itself: the
// log Σ of log-probabilities (rest ≈ 1e-22, against which LogSumExp
// cancels to 1e-35) would lose all of it as the double-double 1 + rest,
// rounded at 2^-106 of 1. Otherwise log Σ >= log(17/16) and an absolute
// 2^-104 is enough: log Σ = y + log(Σ·e^-y) with y = log Σ.hi, where
// Σ·e^-y − 1 = t is tiny and log(1 + t) = t to 2^-104.
func ddLogOnes(ones float64, rest dd) dd {
	if ones == 1 && rest.hi < 1.0/16 {
		// rest − rest²/2 + rest³/3 − …: each term at most 1/16 of the last.
		sum, pow := rest, rest
		for k := 2.0; ; k++ {
			pow = ddMul(pow, rest)
			term := ddDivF(pow, k)
			if int(k)%2 == 0 {
				term = dd{-term.hi, -term.lo}
			}
			sum = ddAdd(sum, term)
			if !(math.Abs(term.hi) > 0x1p-108*sum.hi) { // also where both are 0
				return sum
			}
		}
	}
	s := ddAdd(dd{ones, 0}, rest)
	y := math.Log(s.hi)
	t := ddAdd(ddMul(s, ddExpNeg(-y, 0)), dd{-1, 0})
	return ddAdd(dd{y, 0}, t)
}

// ddPlusLog returns m + l for l = log Σ, m + l.hi error-free where they
// cancel.
func ddPlusLog(m float64, l dd) float64 {
	h, lo := twoDiff(m, -l.hi)
	return h + (lo + l.lo)
}
