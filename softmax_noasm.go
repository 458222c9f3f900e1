//go:build purego || !(amd64 || arm64)

package softmax

// archSets32 offers no SIMD sets: a purego build or an architecture without
// assembly kernels runs the generic set.
func archSets32() []*kernels[float32] { return nil }

// archSets64 is archSets32's float64 twin: none here.
func archSets64() []*kernels[float64] { return nil }
