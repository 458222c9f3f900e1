//go:build purego || !amd64

package softmax

// emuSets32: only amd64 has an interpreter of its kernels.
func emuSets32() []*kernels[float32] { return nil }
