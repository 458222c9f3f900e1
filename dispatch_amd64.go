//go:build !purego

package softmax

// archSets32 lists the amd64 SIMD sets this CPU supports, best first.
func archSets32() []*kernels[float32] { return nil }
