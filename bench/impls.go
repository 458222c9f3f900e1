package main

import (
	"math"

	"github.com/gosimd/softmax"
	"github.com/viterin/vek/vek32"
)

// An implementation is something that computes float32 softmax over the
// rows of a matrix: one of the package's kernel sets or a peer.
type implementation struct {
	name string
	kind string // kindSet, kindPeer or kindBound
	// env is added to the child process's environment; it is where a set
	// is forced (SOFTMAX_IMPL) and where C libraries are configured before
	// they initialise.
	env []string
	// prepare readies a run over x (rows of cols values): it returns the
	// function to time, the slice the results land in, and a function
	// that frees what prepare allocated. It may copy x (C peers keep their
	// buffers in C memory).
	prepare func(x []float32, cols int) (run func(), out []float32, release func(), err error)
	// detail, when set, describes what actually ran (e.g. the ISA a C
	// library dispatched to); called in the child after prepare.
	detail func() string
}

const (
	kindSet  = "set"
	kindPeer = "peer"
	// kindBound computes no softmax: it moves the batch's bytes, the least
	// memory traffic any out-of-place softmax has. It has no ULP error and
	// is never the "best peer".
	kindBound = "bound"
)

// knownSets are the kernel-set names the package may offer on some CPU or
// build; the report asks a child process for each whether it runs here.
var knownSets = []string{"avx512", "avx2", "neon", "generic"}

func setImpl(name string) implementation {
	return implementation{
		name: name,
		kind: kindSet,
		env:  []string{"SOFTMAX_IMPL=" + name},
		prepare: func(x []float32, cols int) (func(), []float32, func(), error) {
			dst := make([]float32, len(x))
			return func() { softmax.SoftmaxRows(dst, x, cols) }, dst, func() {}, nil
		},
		detail: softmax.Impl,
	}
}

// goPeers are the pure-Go alternatives; C peers register themselves in
// peers_cgo.go when built with -tags peers.
var goPeers = []implementation{
	{name: "plain-go", kind: kindPeer, prepare: prepareRows(plainSoftmax)},
	{name: "vek", kind: kindPeer, prepare: prepareRows(vekSoftmax)},
}

// bounds are the references that compute nothing.
var bounds = []implementation{{name: "copy", kind: kindBound, prepare: prepareCopy}}

// copyPiece keeps Go's copy on plain stores: above 1 MiB it switches to
// non-temporal ones, a different memory path from any softmax's.
const copyPiece = 16 << 10 // elements

// prepareCopy times dst ← x, the reads and writes of an out-of-place
// softmax with none of its arithmetic: where a set runs near its speed,
// the shape is bound by memory, not by the kernels.
func prepareCopy(x []float32, cols int) (func(), []float32, func(), error) {
	dst := make([]float32, len(x))
	run := func() {
		for i := 0; i < len(x); i += copyPiece {
			copy(dst[i:], x[i:min(i+copyPiece, len(x))])
		}
	}
	return run, dst, func() {}, nil
}

func prepareRows(f func(dst, x []float32)) func(x []float32, cols int) (func(), []float32, func(), error) {
	return func(x []float32, cols int) (func(), []float32, func(), error) {
		dst := make([]float32, len(x))
		run := func() {
			for r := 0; r+cols <= len(x); r += cols {
				f(dst[r:r+cols], x[r:r+cols])
			}
		}
		return run, dst, func() {}, nil
	}
}

// plainSoftmax is softmax as a Go programmer writes it without a library:
// three passes (max; exp and sum; divide), math.Exp per element.
func plainSoftmax(dst, x []float32) {
	m := x[0]
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	sum := 0.0
	for i, v := range x {
		e := math.Exp(float64(v - m))
		dst[i] = float32(e)
		sum += e
	}
	inv := 1 / sum
	for i := range dst {
		dst[i] = float32(float64(dst[i]) * inv)
	}
}

// vekSoftmax composes github.com/viterin/vek's AVX2-accelerated float32
// primitives: Max, SubNumber, Exp, Sum, MulNumber.
func vekSoftmax(dst, x []float32) {
	m := vek32.Max(x)
	vek32.SubNumber_Into(dst, x, m)
	vek32.Exp_Inplace(dst)
	vek32.MulNumber_Inplace(dst, 1/vek32.Sum(dst))
}
