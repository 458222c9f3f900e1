package softmax

import "math"

// Triple-double arithmetic (about 159 bits) for float32 LogSumExp rows whose
// max + log Σ cancels beyond what double-double resolves: below 2^-68 of
// log Σ, where only rows whose logits are picked so that their exps cancel
// against the max go (the result must still be within 4 ULP when it is
// above 2^-126, which takes log Σ to about 2^-150 of itself). Slow — each
// operation is an exact expansion compressed to three words — and taken
// only for such rows.

// td is hi + mid + lo, non-overlapping, |hi| > |mid| > |lo|.
type td [3]float64

// expansion is an exact sum of float64s, nonoverlapping, smallest first
// (Shewchuk's grow-expansion), at most len(expansion.c) long.
type expansion struct {
	c [40]float64
	n int
}

// add adds v to e exactly, dropping zero components.
func (e *expansion) add(v float64) {
	q, k := v, 0
	for i := 0; i < e.n; i++ {
		s, err := twoDiff(q, -e.c[i])
		if err != 0 {
			e.c[k] = err
			k++
		}
		q = s
	}
	if q != 0 {
		e.c[k] = q
		k++
	}
	e.n = k
}

// approx is e's value rounded (smallest components first: within an ULP).
func (e *expansion) approx() float64 {
	s := 0.0
	for i := 0; i < e.n; i++ {
		s += e.c[i]
	}
	return s
}

// td rounds e to three words: from the top, each word the rounded sum of
// what is left.
func (e *expansion) td() td {
	var r td
	for w := range r {
		r[w] = e.approx()
		e.add(-r[w])
	}
	return r
}

func tdAdd(a, b td) td {
	var e expansion
	for _, v := range [...]float64{a[2], b[2], a[1], b[1], a[0], b[0]} {
		e.add(v)
	}
	return e.td()
}

// tdMul keeps the products down to about 2^-160 of a·b.
func tdMul(a, b td) td {
	var e expansion
	prod := func(x, y float64) {
		p := x * y
		e.add(math.FMA(x, y, -p))
		e.add(p)
	}
	e.add(a[1]*b[2] + a[2]*b[1])
	prod(a[0], b[2])
	prod(a[2], b[0])
	prod(a[1], b[1])
	prod(a[0], b[1])
	prod(a[1], b[0])
	prod(a[0], b[0])
	return e.td()
}

// tdDivInt returns a/k for a small whole k, word by word from the
// remainder.
func tdDivInt(a td, k float64) td {
	var e expansion
	for i := 2; i >= 0; i-- {
		e.add(a[i])
	}
	var q td
	for w := range q {
		q[w] = e.approx() / k
		p := q[w] * k
		e.add(-p)
		e.add(-math.FMA(q[w], k, -p))
	}
	var r expansion
	for i := 2; i >= 0; i-- {
		r.add(q[i])
	}
	return r.td()
}

// ln2TD is ln 2 to 2^-159.
var ln2TD = td{0x1.62e42fefa39efp-01, 0x1.abc9e3b39803fp-56, 0x1.7b57a079a1934p-111}

// tdExpNeg returns exp(d + lo) for d + lo in [−600, 0] (below, its low
// words turn subnormal; callers pass x − m above twice the float32 exp
// cutoff, and −log Σ): d + lo = k·ln2 + r, |r| <= ln2/2 (an exact
// expansion but for k·ln2's last rounding, 2^-150 of r), e^r by Horner's
// 1 + r(1 + r/2(1 + …)) to r^30 (0.35^31/31! < 2^-159), times 2^k.
func tdExpNeg(d, lo float64) td {
	k := math.Round(d / math.Ln2)
	var e expansion
	e.add(-k * ln2TD[2])
	for _, c := range [...]float64{ln2TD[1], ln2TD[0]} {
		p := k * c
		e.add(-math.FMA(k, c, -p))
		e.add(-p)
	}
	e.add(lo)
	e.add(d)
	r := e.td()
	p := td{1}
	for n := 30.0; n >= 1; n-- {
		p = tdAdd(td{1}, tdDivInt(tdMul(r, p), n))
	}
	for i := range p {
		p[i] = math.Ldexp(p[i], int(k))
	}
	return p
}

// logSumExpTD is logSumExpDD in triple-double, ones counted apart as
// there: log Σ is log1p(rest) by its series where ones is 1 and rest
// below 1/16, else y + log(Σ·e^-y) with y = log Σ.hi, whose Σ·e^-y − 1 = t
// is below 2^-50, so log(1 + t) = t − t²/2 to 2^-150.
func logSumExpTD(x []float32, m float32) float64 {
	var rest td
	ones := 0.0
	for _, v := range x {
		switch d, lo := twoDiff(float64(v), float64(m)); {
		case d == 0:
			ones++
		case d >= 2*expCutoff32:
			rest = tdAdd(rest, tdExpNeg(d, lo))
		}
	}
	var l td
	if ones == 1 && rest[0] < 1.0/16 {
		pow := rest
		l = rest
		for k := 2.0; ; k++ {
			pow = tdMul(pow, rest)
			term := tdDivInt(pow, k)
			if int(k)%2 == 0 {
				term = td{-term[0], -term[1], -term[2]}
			}
			l = tdAdd(l, term)
			if !(math.Abs(term[0]) > 0x1p-162*l[0]) {
				break
			}
		}
	} else {
		s := tdAdd(td{ones}, rest)
		y := math.Log(s[0])
		t := tdAdd(tdMul(s, tdExpNeg(-y, 0)), td{-1})
		t2 := tdMul(t, t)
		l = tdAdd(tdAdd(td{y}, t), td{-t2[0] / 2, -t2[1] / 2, -t2[2] / 2})
	}
	r := tdAdd(td{float64(m)}, l)
	return r[0] + (r[1] + r[2])
}
