//go:build !purego

package softmax

import (
	"math"

	"github.com/klauspost/cpuid/v2"
)

// avx2Set64 is the amd64 float64 set (asm/amd64/f64.go), for CPUs with
// AVX2 and FMA, AVX-512 ones included.
var avx2Set64 = simd64(asm64{"avx2", maxMin64AVX2, expSumTotal64AVX2, expSum64AVX2, expSumNoStore64AVX2, div64Asm, sub64AVX2,
	sum64AVX2, dot64AVX2, mulSub64AVX2, expMulSub64Asm, softGrad64Asm})

// div64Asm is the division: where 1/s is far from the float64 range's ends
// (always, for softmax sums), the kernel's corrected product, else
// generic's division.
func div64Asm(dst, x []float64, s float64) {
	if !(s >= 0x1p-1000 && s <= 0x1p1000) {
		div64(dst, x, s)
		return
	}
	div64AVX2(dst, x, s)
}

// archSets64 lists the amd64 float64 sets this CPU supports, best first.
func archSets64() []*kernels[float64] {
	if cpuid.CPU.Supports(avx2Features...) {
		return []*kernels[float64]{&avx2Set64}
	}
	return nil
}

// expMulSub64Asm is LogSoftmaxBackward's update: the kernel while logp
// holds log-probabilities (or −Inf), generic's for the vector of four
// where it stopped, and generic's throughout for a Σdy that is not finite
// (where which outputs are NaN follows el's sign, which the two exps need
// not share).
func expMulSub64Asm(dx, logp, dy []float64, s float64) {
	logp, dy = logp[:len(dx)], dy[:len(dx)]
	if math.IsInf(s, 0) || s != s {
		expMulSub64(dx, logp, dy, s)
		return
	}
	for len(dx) > 0 {
		n := expMulSub64AVX2(dx, logp, dy, s)
		k := min(n+4, len(dx))
		expMulSub64(dx[n:k], logp[n:k], dy[n:k], s)
		dx, logp, dy = dx[k:], logp[k:], dy[k:]
	}
}

// softGrad64Asm is the soft-target gradient's pass: the kernel while x − m
// stays out of [−790, −708.3) (where e is subnormal or next to it, and
// generic rounds it its own way), generic's for the vector of four where
// it stopped, and generic's throughout where sa is not finite (Σy
// overflowed or holds +Inf: sa·el would be NaN where generic has sa·e
// alone).
func softGrad64Asm(g, x, y []float64, m, l, sa, scale float64) float64 {
	x, y = x[:len(g)], y[:len(g)]
	if math.IsInf(sa, 0) || sa != sa {
		return softGradRow(g, x, y, m, l, sa, scale)
	}
	var loss, c float64
	for len(g) > 0 {
		s, sc, n := softGrad64AVX2(g, x, y, m, l, sa, scale)
		if math.IsInf(s, 0) || s != s {
			sc = 0 // twoSum's ∞ − ∞
		}
		loss, c = addComp(loss, c, s)
		c += sc
		k := min(n+4, len(g))
		loss, c = addComp(loss, c, softGradRow(g[n:k], x[n:k], y[n:k], m, l, sa, scale))
		g, x, y = g[k:], x[k:], y[k:]
	}
	return loss + c
}
