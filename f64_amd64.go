//go:build !purego

package softmax

import "github.com/klauspost/cpuid/v2"

// avx2Set64 is generic64 with its exp passes, max and division in AVX2
// (asm/amd64/f64.go): maxMin (and max from it), Softmax's exp pass with
// its store and total, the split exp sum the other functions take, the
// division and LogSoftmax's subtraction. expSumPrecise stays generic's
// (the soft-target gradient wants each e to 2^-59); so do sum, dot and
// the backward kernels.
var avx2Set64 = func() kernels[float64] {
	k := generic64
	k.name = "avx2"
	k.max = func(x []float64) float64 { m, _ := maxMin64AVX2(x); return m }
	k.maxMin = maxMin64AVX2
	k.expSumTotal = expSumTotal64Asm
	k.expSum = expSum64Asm
	k.expSumPrecise = func(x []float64, m float64) (rest, ones float64) { return expSum64(nil, x, m) }
	k.div = div64Asm
	k.sub = func(dst, x []float64, m, l float64) { sub64AVX2(dst[:len(x)], x, m, l) }
	return k
}()

// expSum64Asm is the contract's expSum: the kernel's split sum, its tiny
// terms (scaled by 2^tinyBits) added back (tinyJoin).
func expSum64Asm(dst, x []float64, m float64) (rest, ones float64) {
	var s, c, ts, tc float64
	if len(dst) == 0 {
		s, c, ts, tc, ones = expSumNoStore64AVX2(x, m)
	} else {
		s, c, ts, tc, ones = expSum64AVX2(dst[:len(x)], x, m)
	}
	return tinyJoin(s, c, ts, tc), ones
}

// expSumTotal64Asm is the contract's expSumTotal (mu = 0): the total s + c
// rounded once.
func expSumTotal64Asm(dst, x []float64, m, _ float64) (s, mu float64) {
	h, c := expSumTotal64AVX2(dst[:len(x)], x, m)
	return h + c, 0
}

// div64Asm is the contract's div: where 1/s is far from the float64 range's
// ends (always, for softmax sums), the kernel's corrected product, else
// generic's division.
func div64Asm(dst, x []float64, s float64) {
	if !(s >= 0x1p-1000 && s <= 0x1p1000) {
		div64(dst, x, s)
		return
	}
	div64AVX2(dst[:len(x)], x, s)
}

// archSets64 lists the amd64 float64 sets this CPU supports, best first.
func archSets64() []*kernels[float64] {
	if cpuid.CPU.Supports(avx2Features...) {
		return []*kernels[float64]{&avx2Set64}
	}
	return nil
}
