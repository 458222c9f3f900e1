package softmax

import (
	"fmt"
	"os"
	"strings"
)

// sets32 holds every float32 kernel set this CPU can run, best first; the
// generic set is always last. Tests and benchmarks range over it, so one
// `go test` checks every set the machine supports.
var sets32 = append(archSets32(), &generic32)

// active32 is the set the public functions use: the best one, or the one
// named by SOFTMAX_IMPL. It is chosen once, at init, and never changes.
var active32 = chooseSet(os.Getenv("SOFTMAX_IMPL"))

// sets64 and active64 are the same for float64: amd64 with AVX2 and arm64
// have float64 sets (f64_amd64.go, dispatch_arm64.go), generic's kernels
// with the max, exp, division and subtraction passes in SIMD.
// SOFTMAX_IMPL=generic makes float64 generic too; any other value leaves
// float64 on its best set.
var (
	sets64   = append(archSets64(), &generic64)
	active64 = chooseSet64(os.Getenv("SOFTMAX_IMPL"))
)

func chooseSet64(name string) *kernels[float64] {
	if name == "generic" {
		return &generic64
	}
	return sets64[0]
}

// knownSets are every set name any build of the package may offer.
var knownSets = []string{"avx512", "avx2", "neon", "generic"}

// needs says what each SIMD set takes, for the panic when it is forced
// where it cannot run.
var needs = map[string]string{
	"avx512": "amd64 with AVX-512F and FMA, enabled by the OS",
	"avx2":   "amd64 with AVX2 and FMA",
	"neon":   "arm64",
}

func chooseSet(name string) *kernels[float32] {
	if name == "" {
		return sets32[0]
	}
	for _, k := range sets32 {
		if k.name == name {
			return k
		}
	}
	known := false
	for _, n := range knownSets {
		known = known || n == name
	}
	why := "this CPU (or this build) cannot run it: it needs " + needs[name] + ", in a build without the purego tag"
	if !known {
		why = "no such kernel set; known sets: " + strings.Join(knownSets, ", ")
	}
	panic(fmt.Sprintf("softmax: SOFTMAX_IMPL=%q: %s; available here: %s", name, why, strings.Join(setNames(), ", ")))
}

func setNames() []string {
	names := make([]string, len(sets32))
	for i, k := range sets32 {
		names[i] = k.name
	}
	return names
}

// Impl reports the kernel set in use for float32: "avx512", "avx2", "neon"
// or "generic". float64 has SIMD kernels on amd64 with AVX2 (AVX-512
// CPUs included) and on arm64 for the passes of Softmax, LogSoftmax,
// LogSumExp, CrossEntropy(Grad), SoftmaxBackward, LogSoftmaxBackward and
// SoftCrossEntropyGrad (and their batch and parallel forms); the Jacobian,
// and every float64 pass under SOFTMAX_IMPL=generic, run the generic
// kernels.
func Impl() string { return active32.name }
