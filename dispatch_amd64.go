//go:build !purego

package softmax

import "github.com/klauspost/cpuid/v2"

// archSets32 lists the amd64 SIMD sets this CPU supports, best first.
func archSets32() []*kernels[float32] {
	_ = cpuid.CPU.Supports(cpuid.AVX2, cpuid.FMA3)
	return nil
}
