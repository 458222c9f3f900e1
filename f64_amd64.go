//go:build !purego

package softmax

import "github.com/klauspost/cpuid/v2"

// avx2Set64 is the amd64 float64 set (asm/amd64/f64.go), for CPUs with
// AVX2 and FMA, AVX-512 ones included.
var avx2Set64 = simd64(asm64{"avx2", maxMin64AVX2, expSumTotal64AVX2, expSum64AVX2, expSumNoStore64AVX2, div64Asm, sub64AVX2,
	sum64AVX2, dot64AVX2, mulSub64AVX2, expMulSubUntil(expMulSub64AVX2, 4), softGradUntil(softGrad64AVX2, 4)})

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
