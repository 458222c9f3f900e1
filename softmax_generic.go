package softmax

import "math"

// The pure-Go kernels: the fallback on every CPU and the oracle the SIMD sets
// are tested against. float32 work is done in float64 and rounded once;
// float64 work uses error-free transforms and compensated sums.

// expCutoff32 is ln(2^-126): below it exp(d) is not a normal float32, and the
// float32 kernels return exactly 0 (every set alike, so which outputs are 0
// does not depend on the set).
const expCutoff32 = -87.33654475055310898657

// expThreshold returns the smallest float32 t such that every float32 x >= t
// has x − m >= ln 2^-126 (the cutoff of generic's exp32, which compares
// float64(x) − float64(m), exact for float32 operands): the SIMD kernels
// zero e[i] exactly where x[i] < t, an ordered compare, so NaN passes
// through, and the same e[i] are 0 on every set.
func expThreshold(m float32) float32 {
	s := float64(m) + expCutoff32
	t := float32(s)
	if float64(t) < s { // round up: the next float32 towards +Inf
		switch b := math.Float32bits(t); {
		case t > 0:
			t = math.Float32frombits(b + 1)
		case t < 0:
			t = math.Float32frombits(b - 1)
		default:
			t = math.SmallestNonzeroFloat32
		}
	}
	return t
}

var generic32 = kernels[float32]{
	name:          "generic",
	max:           maxGeneric[float32],
	expSum:        expSum32,
	expSumPrecise: expSumPrecise32,
	expDiv:        expDiv32,
	div:           div32,
	sub:           sub32,
	sum:           sumGeneric[float32],
	dot:           dotDD[float32],
	mulSub:        mulSub32,
	expMulSub:     expMulSub32,
}

var generic64 = kernels[float64]{
	name:        "generic",
	max:         maxGeneric[float64],
	maxMin:      maxMin64,
	expSum:      expSum64,
	expSumTotal: expSumTotal64,
	div:         div64,
	sub:         sub64,
	sum:         sumGeneric[float64],
	dot:         dotDD[float64],
	mulSub:      mulSub64,
	expMulSub:   expMulSub64,
}

func maxGeneric[F Float](x []F) F {
	m := F(math.Inf(-1))
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	return m
}

// exp32 is exp(x − m) in float64 with the float32 cutoff applied; x − m of
// two float32 values is exact in float64 unless the magnitudes are far
// apart, where the relative error is 2^-53.
func exp32(x, m float32) float64 {
	d := float64(x) - float64(m)
	if d < expCutoff32 {
		return 0
	}
	return expNeg(d)
}

// Cody–Waite's ln 2 in two parts (the first has trailing zeros, so that
// k·ln2Hi is exact) for expNeg and expTiny.
const (
	log2e = 1.4426950408889634
	ln2Hi = 6.93147180369123816490e-01 // 0x3fe62e42fee00000
	ln2Lo = 1.90821492927058770002e-10
	round = 0x1.8p52 // adding it rounds to an integer
)

// expNeg is exp(d) for d in [expCutoff32, 0] to about 2^-51 relative: far
// below a float32 ULP, so float32 results stay rounded once, and several
// times faster than math.Exp. d = k·ln2 + r with |r| <= ln2/2 (Cody–Waite,
// ln2 in two parts whose first has trailing zeros so k·ln2Hi is exact),
// then a degree-11 polynomial for e^r and 2^k in the exponent bits. The
// polynomial is the kernels' float64 one (asm/internal/expfit: fitted at
// Chebyshev nodes, 1 + r exact, 2^-51.4; Taylor's was 2^-47, which left
// the soft-target gradient's cancelling sums at 2^-46.7 where the SIMD
// sets are at 2^-52). Other d (NaN, > 0) go to math.Exp.
func expNeg(d float64) float64 {
	if !(d <= 0 && d >= expCutoff32) {
		return math.Exp(d)
	}
	k := (d*log2e + round) - round
	r := (d - k*ln2Hi) - k*ln2Lo
	// Estrin's scheme: a short dependency chain, so that consecutive
	// elements overlap in the CPU instead of waiting on one long Horner.
	r2 := r * r
	r4 := r2 * r2
	q0 := (1 + r) + r2*(0x1.0000000000001p-01+r*0x1.5555555555556p-03)
	q1 := (0x1.5555555553d68p-05 + r*0x1.11111111109b5p-07) + r2*(0x1.6c16c17889ef1p-10+r*0x1.a01a01a7c2efep-13)
	q2 := (0x1.a019b9149a41cp-16 + r*0x1.71de0db2f6b19p-19) + r2*(0x1.28917c89a43a7p-22+r*0x1.af389ecfc4b9cp-26)
	p := q0 + r4*(q1+r4*q2)
	return p * math.Float64frombits(uint64(int64(k)+1023)<<52)
}

func expSum32(dst, x []float32, m float32) (rest, ones float64) {
	for i, v := range x {
		e := exp32(v, m)
		if float32(e) == 1 {
			ones++
		} else {
			rest += e
		}
		if len(dst) != 0 {
			dst[i] = float32(e)
		}
	}
	return rest, ones
}

// expSumPrecise32 is expSum32 without a store, its rest compensated
// (Neumaier; a plain float64 sum of 2^16 equal terms loses 2^-41 of it)
// and holding every e below 1 (expSum32 counts those within 2^-25 of 1 as
// ones): the soft-target gradient's cancellation shows either.
func expSumPrecise32(x []float32, m float32) (rest, ones float64) {
	var c float64
	for _, v := range x {
		e := exp32(v, m)
		if e == 1 {
			ones++
		} else {
			rest, c = addComp(rest, c, e)
		}
	}
	return rest + c, ones
}

// expDiv32 and div32 multiply by 1/s: its float64 rounding is 2^-29 of a
// float32 ULP, so the result is still rounded once where it matters.
func expDiv32(dst, x []float32, m float32, s float64) {
	r := 1 / s
	for i, v := range x {
		dst[i] = float32(exp32(v, m) * r)
	}
}

func div32(dst, x []float32, s float64) {
	r := 1 / s
	for i, v := range x {
		dst[i] = float32(float64(v) * r)
	}
}

func sub32(dst, x []float32, m float32, l float64) {
	fm := float64(m)
	for i, v := range x {
		dst[i] = float32((float64(v) - fm) - l)
	}
}

// sumGeneric and dotDD sum in float64 with compensation (addComp); for
// float64 products the rounding error of each product (from FMA) joins the
// compensation too.
func sumGeneric[F Float](x []F) float64 {
	var s, c float64
	for _, v := range x {
		s, c = addComp(s, c, float64(v))
	}
	return s + c
}

// dotDD returns Σ a[i]·b[i] as an unevaluated sum s + c.
func dotDD[F Float](a, b []F) (s, c float64) {
	for i := range a {
		// float64(…) rounds here: no FMA fusion (arm64) inside the
		// error-free product.
		p := float64(float64(a[i]) * float64(b[i]))
		c += math.FMA(float64(a[i]), float64(b[i]), -p)
		s, c = addComp(s, c, p)
	}
	return s, c
}

// addComp adds v to the compensated sum s + c: s takes fl(s + v), its
// rounding error joins c (Neumaier), and the pair is renormalized
// (Fast2Sum) so that c stays within half an ULP of s. Neumaier's c alone,
// never folded in, grows to n·2^-53 of the sum, and then its own roundings
// lose up to n²·2^-106 of Σ|v| (TestSumDrift's 2^20 terms lost 380 times
// n·2^-104 of it); renormalized, this is the
// double-word plus float addition of Joldes, Muller and Popescu (2017),
// whose error is within 2^-105 of the partial sum at each step, so the pair
// stays within n·2^-105 of Σ|v|.
func addComp(s, c, v float64) (float64, float64) {
	t := s + v
	if math.IsInf(t, 0) || t != t {
		return t, c
	}
	if math.Abs(s) >= math.Abs(v) {
		c += (s - t) + v
	} else {
		c += (v - t) + s
	}
	s = t + c
	return s, c - (s - t)
}

func mulSub32(dx, p, dy []float32, s, c float64) {
	for i := range dx {
		dx[i] = float32(float64(p[i]) * ((float64(dy[i]) - s) - c))
	}
}

func expMulSub32(dx, logp, dy []float32, s float64) {
	for i := range dx {
		dx[i] = float32(float64(dy[i]) - math.Exp(float64(logp[i]))*s)
	}
}

// twoDiff returns hi = fl(a − b) and lo with hi + lo = a − b exactly
// (Knuth's TwoSum). lo is NaN when hi is infinite; callers check hi first.
func twoDiff(a, b float64) (hi, lo float64) {
	hi = a - b
	bb := hi - a
	lo = (a - (hi - bb)) - (b + bb)
	return hi, lo
}

// exp64 is exp(x − m) with the rounding of x − m folded back in, within
// about half an ULP (expPair) where it is a normal float64, and rounded
// once (expTiny, scaled back) where it is subnormal: math.Exp(hi) there
// would lose lo, which at hi = −745.1332191019412 (below ln 2^-1075, where
// math.Exp gives 0) can lift hi + lo above it, to 2^-1074.
func exp64(x, m float64) float64 {
	hi, lo := twoDiff(x, m)
	if hi >= tinyHi && hi <= 0 {
		e, _ := expPair(hi, lo)
		return e
	}
	if hi < tinyHi && hi >= tinyLo {
		return math.Ldexp(expTiny(hi, lo), -tinyBits)
	}
	e := math.Exp(hi)
	if e != 0 && lo != 0 && !math.IsInf(e, 0) {
		e += e * lo
	}
	return e
}

// expPair returns exp(hi + lo) for hi in [tinyHi, 0] (lo a rounding error
// of hi) as e + el, to about 2^-59 relative, e rounded to nearest but for
// that: float64 Softmax would be up to 6 ULP off with math.Exp's error (an
// ULP) in both e and Σe, and the division's. hi + lo = (64k + j)·ln2/64 +
// r with |r| <= ln2/128 (n·ln2/64 exact as a pair by FMA); e^r − 1 = q by
// its Taylor series to r^6 (r^7/7! < 2^-64); 2^(j/64)·(1 + q) with
// 2^(j/64) as a double-double (ddPow2), rounded once; times 2^k.
func expPair(hi, lo float64) (e, el float64) {
	const c1, c2 = 0x1.62e42fefa39efp-1 / 64, 0x1.abc9e3b39803fp-56 / 64 // ln2/64 as c1 + c2
	n := (hi*(64/math.Ln2) + round) - round
	ph := float64(n * c1) // rounded here: no FMA fusion (arm64) into hi − ph
	pe := math.FMA(n, c1, -ph)
	r := ((hi - ph) - pe) + (lo - n*c2)
	q := r + r*r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720)))))
	ni := int64(n)
	t := ddPow2[ni&63]
	u := math.FMA(t.hi, q, t.lo)
	e = t.hi + u
	el = u - (e - t.hi)
	scale := math.Float64frombits(uint64(ni>>6+1023) << 52)
	return e * scale, el * scale
}

// expSum64's rest holds the terms below float64's normal range too, to
// their float64 precision: summed as they are they lose bits (subnormal),
// or all of them (below 2^-1075), yet many can add up to a normal log Σ
// where every other term is as small (LogSoftmax at the max of the row
// [0, then 2^17 entries of −720] is −2^-1021.7). Terms below x − m =
// tinyLo (2^-1140) are left out: 2^60 of them are below 2^-1080.
const (
	tinyHi   = -708.3 // exp below it: under 2^-1021.9, rounded as a subnormal or near it
	tinyLo   = -790.0
	tinyBits = 1100 // expTiny's scale
)

// expTiny returns exp(hi + lo)·2^tinyBits for hi in [tinyLo, tinyHi] (lo
// the rounding error of hi), to math.Exp's accuracy: hi + lo = k·ln2 + r,
// exp(r)·2^(k+tinyBits), a normal float64.
func expTiny(hi, lo float64) float64 {
	k := (hi*log2e + round) - round
	r := ((hi - k*ln2Hi) - k*ln2Lo) + lo
	return math.Exp(r) * math.Float64frombits(uint64(int64(k)+tinyBits+1023)<<52)
}

// maxMin64 is for Softmax's route through expSumTotal64 (which has no use
// for the smallest element).
func maxMin64(x []float64) (hi, lo float64) {
	hi, lo = math.Inf(-1), math.Inf(1)
	for _, v := range x {
		if v > hi {
			hi = v
		}
		if v < lo {
			lo = v
		}
	}
	return hi, lo
}

// expSumTotal64 is Softmax's exp pass: the stored e within half an ULP
// (expPair's), and the total ones + rest + c rounded once, so that the
// division leaves Softmax within about an ULP. Rounding rest + c and then
// ones + rest, as the split sum's users do, added up to half an ULP of
// the total more.
func expSumTotal64(dst, x []float64, m, _ float64) (s, mu float64) {
	rest, c, ones := expSumPair64(dst, x, m)
	hi, lo := twoDiff(ones, -rest)
	return hi + (lo + c), 0
}

func expSum64(dst, x []float64, m float64) (rest, ones float64) {
	rest, c, ones := expSumPair64(dst, x, m)
	return rest + c, ones
}

// expSumPair64 is expSum64 with its rest as the pair rest + c, good to
// 2^-59 of it (expPair's e + el, a compensated sum): logSumExp64 needs it.
func expSumPair64(dst, x []float64, m float64) (rest, c, ones float64) {
	var tiny, tc float64
	for i, v := range x {
		hi, lo := twoDiff(v, m)
		if hi < tinyHi {
			if hi >= tinyLo {
				tiny, tc = addComp(tiny, tc, expTiny(hi, lo))
			}
			if len(dst) != 0 {
				dst[i] = exp64(v, m)
			}
			continue
		}
		var e, el float64
		if hi <= 0 {
			e, el = expPair(hi, lo)
		} else {
			e = math.Exp(hi) // NaN (hi > 0 needs m below the max)
		}
		if e == 1 {
			ones++
		} else {
			rest, c = addComp(rest, c, e)
			c += el
		}
		if len(dst) != 0 {
			dst[i] = e
		}
	}
	if tiny != 0 {
		rest, c = addComp(rest, c, math.Ldexp(tiny+tc, -tinyBits))
	}
	return rest, c, ones
}

// div64 divides: e (expPair's, within half an ULP) over s gives Softmax
// within about an ULP from one exp pass. Dividing expPair's e + el in a
// second pass instead (rounded once) took a third more time.
func div64(dst, x []float64, s float64) {
	for i, v := range x {
		dst[i] = v / s
	}
}

func sub64(dst, x []float64, m float64, l float64) {
	for i, v := range x {
		hi, lo := twoDiff(v, m)
		if math.IsInf(hi, 0) || lo != lo {
			dst[i] = hi - l
			continue
		}
		dst[i] = (hi - l) + lo
	}
}

func mulSub64(dx, p, dy []float64, s, c float64) {
	for i := range dx {
		hi, lo := twoDiff(dy[i], s)
		dx[i] = p[i] * (hi + (lo - c))
	}
}

// expMulSub64 forms exp(logp)·s from expPair's e + el where logp is in
// its range (log-probabilities are), so that the term is exact to 2^-59
// before dy − term rounds once.
func expMulSub64(dx, logp, dy []float64, s float64) {
	for i := range dx {
		switch l := logp[i]; {
		case l >= tinyHi && l <= 0:
			e, el := expPair(l, 0)
			dx[i] = math.FMA(-e, s, dy[i]) - el*s
		case l < tinyHi && l >= tinyLo:
			dx[i] = expMulSubTiny(l, dy[i], s)
		default:
			dx[i] = math.FMA(-math.Exp(l), s, dy[i])
		}
	}
}

// expMulSubTiny is dy − exp(l)·s for l in [tinyLo, tinyHi), where exp(l)
// as a float64 is subnormal or 0 and its lost bits, times s, can be many
// ULPs of a small output: the product is formed scaled (expTiny), exactly
// as p + pe, and scaled back once.
func expMulSubTiny(l, dy, s float64) float64 {
	e := expTiny(l, 0)
	p := float64(e * s) // rounded: pe is its error
	if math.IsInf(p, 0) || p != p {
		return math.FMA(-math.Exp(l), s, dy)
	}
	pe := math.FMA(e, s, -p)
	if math.Abs(dy) < 0x1p-76 { // dy·2^tinyBits is finite and exact
		return math.Ldexp((math.Ldexp(dy, tinyBits)-p)-pe, -tinyBits)
	}
	return (dy - math.Ldexp(p, -tinyBits)) - math.Ldexp(pe, -tinyBits)
}
