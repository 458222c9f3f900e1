//go:build !purego && (amd64 || arm64)

package softmax

import "math"

// asm64 are one architecture's float64 kernels, as their stubs declare
// them; simd64 makes the float64 set from them (f64_amd64.go,
// dispatch_arm64.go).
type asm64 struct {
	name   string
	maxMin func(x []float64) (max, min float64)
	total  func(dst, x []float64, m float64) (s, c float64)
	sum    func(dst, x []float64, m float64) (s, c, ts, tc, ones float64)
	sumNS  func(x []float64, m float64) (s, c, ts, tc, ones float64) // no store
	div    func(dst, x []float64, s float64)
	sub    func(dst, x []float64, m, l float64)
	// The backward passes' kernels (Σdy, ⟨p, dy⟩ and the two updates);
	// nil: generic's.
	compSum   func(x []float64) float64
	dot       func(a, b []float64) (s, c float64)
	mulSub    func(dx, p, dy []float64, s, c float64)
	expMulSub func(dx, logp, dy []float64, s float64)
	softGrad  func(g, x, y []float64, m, l, sa, scale float64) float64
}

// simd64 is generic64 with a's kernels for its max, exp, division and
// subtraction passes: Softmax's exp pass with its store and a total
// rounded once (mu = 0), the split exp-sum the other functions take (its
// terms below e^tinyHi summed scaled and added back by tinyJoin), and
// LogSoftmax's x − m − l, and the backward passes' sum, dot and updates
// and the soft-target gradient's pass where a has them. The soft-target
// gradient's sum is the split exp-sum without a store (expSumPrecise nil):
// its pair is good to about 2^-58, as generic's.
func simd64(a asm64) kernels[float64] {
	k := generic64
	k.name = a.name
	k.max = func(x []float64) float64 { m, _ := a.maxMin(x); return m }
	k.maxMin = a.maxMin
	k.expSumTotal = func(dst, x []float64, m, _ float64) (s, mu float64) {
		h, c := a.total(dst[:len(x)], x, m)
		return h + c, 0
	}
	k.expSum = func(dst, x []float64, m float64) (rest, ones float64) {
		var s, c, ts, tc float64
		if len(dst) == 0 {
			s, c, ts, tc, ones = a.sumNS(x, m)
		} else {
			s, c, ts, tc, ones = a.sum(dst[:len(x)], x, m)
		}
		return tinyJoin(s, c, ts, tc), ones
	}
	k.div = func(dst, x []float64, s float64) { a.div(dst[:len(x)], x, s) }
	k.sub = func(dst, x []float64, m, l float64) { a.sub(dst[:len(x)], x, m, l) }
	if a.dot != nil {
		k.dot = func(x, y []float64) (s, c float64) { return a.dot(x, y[:len(x)]) }
		k.mulSub = func(dx, p, dy []float64, s, c float64) { a.mulSub(dx, p[:len(dx)], dy[:len(dx)], s, c) }
	}
	if a.compSum != nil {
		k.sum = a.compSum
	}
	if a.expMulSub != nil {
		k.expMulSub = a.expMulSub
	}
	if a.softGrad != nil {
		k.softGrad = a.softGrad
	}
	return k
}

// tinyJoin finishes a SIMD set's float64 expSum as expSumPair64 does: its
// pair s + c and its terms below e^tinyHi summed scaled (ts + tc, times
// 2^tinyBits) make rest.
func tinyJoin(s, c, ts, tc float64) float64 {
	if t := ts + tc; t != 0 {
		s, c = addComp(s, c, math.Ldexp(t, -tinyBits))
	}
	return s + c
}

// expMulSubUntil makes LogSoftmaxBackward's update from a kernel that does
// it while logp holds log-probabilities (or −Inf) and returns how many
// elements it did, stopping at the first vector of width elements with
// another value: the kernel, generic's for that vector, the kernel again;
// generic's throughout for a Σdy that is not finite (where which outputs
// are NaN follows el's sign, which the two exps need not share).
func expMulSubUntil(kernel func(dx, logp, dy []float64, s float64) int, width int) func(dx, logp, dy []float64, s float64) {
	return func(dx, logp, dy []float64, s float64) {
		logp, dy = logp[:len(dx)], dy[:len(dx)]
		if math.IsInf(s, 0) || s != s {
			expMulSub64(dx, logp, dy, s)
			return
		}
		for len(dx) > 0 {
			n := kernel(dx, logp, dy, s)
			k := min(n+width, len(dx))
			expMulSub64(dx[n:k], logp[n:k], dy[n:k], s)
			dx, logp, dy = dx[k:], logp[k:], dy[k:]
		}
	}
}

// softGradUntil makes the soft-target gradient's pass from a kernel that
// does it while x − m stays out of [−790, −708.3) (where e is subnormal or
// next to it, and generic rounds it its own way) and returns its loss
// pair and how many elements it did, stopping at the first vector of
// width elements with such an x: the kernel, generic's for that vector,
// the kernel again; generic's throughout where sa is not finite (Σy
// overflowed or holds +Inf: sa·el would be NaN where generic has sa·e
// alone).
func softGradUntil(kernel func(g, x, y []float64, m, l, sa, scale float64) (s, c float64, done int), width int) func(g, x, y []float64, m, l, sa, scale float64) float64 {
	return func(g, x, y []float64, m, l, sa, scale float64) float64 {
		x, y = x[:len(g)], y[:len(g)]
		if math.IsInf(sa, 0) || sa != sa {
			return softGradRow(g, x, y, m, l, sa, scale)
		}
		var loss, c float64
		for len(g) > 0 {
			s, sc, n := kernel(g, x, y, m, l, sa, scale)
			if math.IsInf(s, 0) || s != s {
				sc = 0 // twoSum's ∞ − ∞
			}
			loss, c = addComp(loss, c, s)
			c += sc
			k := min(n+width, len(g))
			loss, c = addComp(loss, c, softGradRow(g[n:k], x[n:k], y[n:k], m, l, sa, scale))
			g, x, y = g[k:], x[k:], y[k:]
		}
		return loss + c
	}
}
