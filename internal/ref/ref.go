package ref

import "math"

// Prec picks the reference's arithmetic: Fast (float64 exp and log with the
// rounding of every difference carried along) for judging float32 results,
// Precise (double-double throughout) for judging float64 results.
type Prec bool

const (
	Fast    Prec = false
	Precise Prec = true
)

// cutoff32 is ln 2^-126: float32 results flush exp(x − max) terms below
// it to 0 (DESIGN.md), so the Fast reference, which judges float32, does
// too where they are outputs (Softmax, the gradient); the sum Σ exp(x − m)
// keeps them (sumExp), as the float32 sets do where they can show.
const cutoff32 = -87.33654475055310898657

func (p Prec) exp(a DD) DD {
	if p == Fast && a.Hi < cutoff32 {
		return D(0)
	}
	return p.sumExp(a)
}

// sumExp is exp for the terms of Σ exp(x − m): not flushed.
func (p Prec) sumExp(a DD) DD {
	if p == Precise {
		return Exp(a)
	}
	return ExpFast(a)
}

// sum adds terms smallest first, so that a sum like 1 + (many tiny terms)
// keeps the tiny part to double-double accuracy: each binade's terms are
// summed apart, then the binades from the smallest up (a sort of 2^24
// distinct terms would take seconds). Each add of binades errs by about
// 2^-106 of Σ|terms|: where the terms cancel to below 2^-32 of that, the
// sum could lose its last parts (TestSumOfCancelling's rows lose 2^-20
// next to 2^42), so the terms are added again exactly (exactSum).
func sum(terms []DD) DD {
	const bias = 1100 // float64 exponents from Frexp are within ±1075
	var binades [2 * bias]DD
	lo, hi := len(binades), 0
	abs := 0.0
	for _, t := range terms {
		_, e := math.Frexp(t.Hi) // 0 for 0, ±Inf and NaN, which add as they are
		i := e + bias
		binades[i] = Add(binades[i], t)
		lo, hi = min(lo, i), max(hi, i)
		abs += math.Abs(t.Hi)
	}
	var s DD
	for i := lo; i <= hi; i++ {
		s = Add(s, binades[i])
	}
	if math.Abs(s.Hi) < abs*0x1p-32 && !math.IsInf(abs, 0) {
		return exactSum(terms)
	}
	return s
}

func (p Prec) log(a DD) DD {
	if p == Precise {
		return Log(a)
	}
	return LogFast(a)
}

// row is the analysis every softmax-like reference starts with.
type row struct {
	m      float64 // the max
	nan    bool    // a NaN or +Inf entry: every output NaN
	masked bool    // every entry −Inf
	s      DD      // Σ exp(x − m)
	l      DD      // log s, to the precision of s − 1 where only one x is m
}

func analyse(x []float64, p Prec) row {
	r := row{m: math.Inf(-1)}
	for _, v := range x {
		if v != v || math.IsInf(v, 1) {
			r.nan = true
		}
		r.m = math.Max(r.m, v)
	}
	if r.nan {
		return r
	}
	if math.IsInf(r.m, -1) {
		r.masked = true
		return r
	}
	// The terms equal to 1 are counted apart: with one of them, log s is
	// log1p of the rest, which may be far below 2^-106 (log-probabilities:
	// LogSumExp is the max plus it, and cancels).
	var terms, tiny []DD
	ones := 0
	for _, v := range x {
		if v == r.m {
			ones++
			continue
		}
		d := Sub(D(v), D(r.m))
		if p == Precise && d.Hi < tinyExp {
			tiny = append(tiny, Exp(Add(d, tinyScale)))
			continue
		}
		terms = append(terms, p.sumExp(d))
	}
	rest := sum(terms)
	if t := sum(tiny); t.Hi != 0 {
		rest = Add(rest, unscale(t))
	}
	r.s = Add(D(float64(ones)), rest)
	switch {
	case ones == 1 && p == Precise:
		r.l = Log1p(rest)
	case ones == 1:
		r.l = D(math.Log1p(rest.Float()))
	default:
		r.l = p.log(r.s)
	}
	return r
}

// Terms exp(d) below 2^-960 (d < tinyExp) lose bits as float64s, and below
// 2^-1075 all of them, yet many can add up to a normal log Σ (the row
// [0, then 2^17 entries of −720] has LogSoftmax −2^-1021.7 at the max):
// Precise sums them scaled by 2^tinyBits and scales the sum back.
const (
	tinyExp  = -665.0
	tinyBits = 1100
)

var tinyScale = Mul(D(tinyBits), ln2)

// unscale returns t·2^-tinyBits, rounded where it is subnormal.
func unscale(t DD) DD { return DD{math.Ldexp(t.Hi, -tinyBits), math.Ldexp(t.Lo, -tinyBits)} }

func fill(n int, v float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// Softmax returns exp(x − m)/Σ exp(x − m).
func Softmax(x []float64, p Prec) []float64 {
	r := analyse(x, p)
	switch {
	case r.nan:
		return fill(len(x), math.NaN())
	case r.masked:
		return fill(len(x), 0)
	}
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = Div(p.exp(Sub(D(v), D(r.m))), r.s).Float()
	}
	return out
}

// LogSoftmax returns x − m − log Σ exp(x − m).
func LogSoftmax(x []float64, p Prec) []float64 {
	r := analyse(x, p)
	switch {
	case r.nan:
		return fill(len(x), math.NaN())
	case r.masked:
		return fill(len(x), math.Inf(-1))
	}
	out := make([]float64, len(x))
	for i, v := range x {
		if math.IsInf(v, -1) {
			out[i] = v
			continue
		}
		out[i] = Sub(Sub(D(v), D(r.m)), r.l).Float()
	}
	return out
}

// LogSumExp returns m + log Σ exp(x − m).
func LogSumExp(x []float64, p Prec) float64 {
	r := analyse(x, p)
	switch {
	case len(x) == 0 || r.masked:
		return math.Inf(-1)
	case r.nan:
		return math.NaN()
	}
	return Add(D(r.m), r.l).Float()
}

// SoftmaxBackward returns p ⊙ (dy − ⟨p, dy⟩).
func SoftmaxBackward(pr, dy []float64) []float64 {
	terms := make([]DD, len(pr))
	for i := range pr {
		terms[i] = Mul(D(pr[i]), D(dy[i]))
	}
	s := sum(terms)
	out := make([]float64, len(pr))
	for i := range pr {
		out[i] = Mul(D(pr[i]), Sub(D(dy[i]), s)).Float()
	}
	return out
}

// sumOf is sum of float64s.
func sumOf(v []float64) DD {
	terms := make([]DD, len(v))
	for i, x := range v {
		terms[i] = D(x)
	}
	return sum(terms)
}

// LogSoftmaxBackward returns dy − exp(logp)·Σ dy.
func LogSoftmaxBackward(logp, dy []float64, p Prec) []float64 {
	s := sumOf(dy)
	out := make([]float64, len(dy))
	for i := range dy {
		if p == Precise && logp[i] < tinyExp {
			// exp(logp)·Σdy scaled by 2^tinyBits, as analyse's tiny
			// terms, and the difference scaled back once.
			t := Mul(Exp(Add(D(logp[i]), tinyScale)), s)
			if math.Abs(dy[i]) < 0x1p-76 {
				out[i] = unscale(Sub(D(math.Ldexp(dy[i], tinyBits)), t)).Float()
			} else {
				out[i] = Sub(D(dy[i]), unscale(t)).Float()
			}
			continue
		}
		out[i] = Sub(D(dy[i]), Mul(p.exp(D(logp[i])), s)).Float()
	}
	return out
}

// Jacobian returns the n×n matrix p_i(δ_ij − p_j), row-major.
func Jacobian(pr []float64) []float64 {
	n := len(pr)
	out := make([]float64, n*n)
	for i := range pr {
		for j := range pr {
			d := D(-pr[j])
			if i == j {
				d = Sub(D(1), D(pr[j]))
			}
			out[i*n+j] = Mul(D(pr[i]), d).Float()
		}
	}
	return out
}

// CrossEntropy returns the mean over kept rows (label >= 0) of
// −log softmax(row)[label] and the gradient (softmax − onehot)/kept, zero on
// ignored rows.
func CrossEntropy(logits []float64, labels []int, cols int, p Prec) (float64, []float64) {
	grad := make([]float64, len(logits))
	kept := 0
	for _, l := range labels {
		if l >= 0 {
			kept++
		}
	}
	if kept == 0 {
		return 0, grad
	}
	var loss DD
	for r, label := range labels {
		if label < 0 {
			continue
		}
		x := logits[r*cols : (r+1)*cols]
		g := grad[r*cols : (r+1)*cols]
		rw := analyse(x, p)
		switch {
		case rw.nan:
			loss = D(math.NaN())
			copy(g, fill(cols, math.NaN()))
			continue
		case rw.masked:
			loss = Add(loss, D(math.Inf(1)))
			g[label] = -1 / float64(kept)
			continue
		}
		if math.IsInf(x[label], -1) {
			loss = Add(loss, D(math.Inf(1)))
		} else {
			loss = Add(loss, Add(Sub(D(rw.m), D(x[label])), rw.l))
		}
		for j, v := range x {
			pj := Div(p.exp(Sub(D(v), D(rw.m))), rw.s)
			if j == label {
				pj = Sub(pj, D(1))
			}
			g[j] = Div(pj, D(float64(kept))).Float()
		}
	}
	return Div(loss, D(float64(kept))).Float(), grad
}

// SoftCrossEntropy returns the mean over rows of −Σ y·log softmax(row) and the
// gradient (softmax·Σy − y)/rows; 0·log 0 counts as 0.
func SoftCrossEntropy(logits, targets []float64, cols int, p Prec) (float64, []float64) {
	rows := len(logits) / cols
	grad := make([]float64, len(logits))
	if rows == 0 {
		return 0, grad
	}
	n := D(float64(rows))
	var loss DD
	for r := range rows {
		x := logits[r*cols : (r+1)*cols]
		y := targets[r*cols : (r+1)*cols]
		g := grad[r*cols : (r+1)*cols]
		sy := sumOf(y)
		rw := analyse(x, p)
		if rw.nan || sy.Hi != sy.Hi {
			loss = D(math.NaN())
			copy(g, fill(cols, math.NaN()))
			continue
		}
		for j := range x {
			var pj DD
			if !rw.masked {
				pj = Div(p.exp(Sub(D(x[j]), D(rw.m))), rw.s)
			}
			g[j] = Div(Sub(Mul(pj, sy), D(y[j])), n).Float()
			if y[j] == 0 {
				continue
			}
			if rw.masked || math.IsInf(x[j], -1) {
				loss = Add(loss, D(y[j]*math.Inf(1))) // −y·log 0
				continue
			}
			lp := Sub(Sub(D(x[j]), D(rw.m)), rw.l)
			loss = Sub(loss, Mul(D(y[j]), lp))
		}
	}
	return Div(loss, n).Float(), grad
}

// Sum returns Σ v rounded to float64, to within 2^-64 of the exact sum
// also where the terms cancel (TestSumOfCancelling): the tests' estimate
// of a difference's term e·Σdy, which a plain float64 sum can make
// anything (2^40 for 2^100 + 2^40 + 2^-20 − 2^100 − 2^40).
func Sum(v []float64) float64 { return sumOf(v).Float() }
