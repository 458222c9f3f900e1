//go:build !purego

package softmax

import "golang.org/x/sys/cpu"

// archSets32 lists the arm64 SIMD sets this CPU supports, best first.
func archSets32() []*kernels[float32] {
	_ = cpu.ARM64.HasASIMD
	return nil
}
