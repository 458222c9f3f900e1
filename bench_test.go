package softmax

import (
	"fmt"
	"math"
	"testing"

	"github.com/gosimd/softmax/internal/gen"
	"github.com/gosimd/softmax/internal/ref"
)

// Kernel-level benchmarks, benchstat-friendly: impl=<set>/n=<len>, with
// SetBytes so the output shows throughput. For a comparison across commits:
//   go test -run '^$' -bench . -count 10 > new.txt && benchstat old.txt new.txt

var benchLens = []int{10, 100, 1000, 4096, 32000, 128256, 1 << 20}

func benchSets(b *testing.B, f func(b *testing.B, k *kernels[float32], x, y, dst []float32)) {
	for _, k := range sets32 {
		for _, n := range benchLens {
			b.Run(fmt.Sprintf("impl=%s/n=%d", k.name, n), func(b *testing.B) {
				rng := newRand(uint64(n))
				x := f32(gen.Logits(rng, n, 4, 0))
				y := f32(distribution(rng, n))
				dst := make([]float32, n)
				b.SetBytes(int64(4 * n))
				b.ResetTimer()
				f(b, k, x, y, dst)
			})
		}
	}
}

func BenchmarkSoftmax(b *testing.B) {
	benchSets(b, func(b *testing.B, k *kernels[float32], x, _, dst []float32) {
		for b.Loop() {
			softmaxRow(k, dst, x)
		}
	})
}

func BenchmarkLogSoftmax(b *testing.B) {
	benchSets(b, func(b *testing.B, k *kernels[float32], x, _, dst []float32) {
		for b.Loop() {
			logSoftmaxRow(k, dst, x)
		}
	})
}

func BenchmarkLogSumExp(b *testing.B) {
	benchSets(b, func(b *testing.B, k *kernels[float32], x, _, _ []float32) {
		for b.Loop() {
			logSumExp(k, x)
		}
	})
}

func BenchmarkSoftmaxBackward(b *testing.B) {
	benchSets(b, func(b *testing.B, k *kernels[float32], x, p, dst []float32) {
		for b.Loop() {
			softmaxBackwardRow(k, dst, p, x)
		}
	})
}

func BenchmarkCrossEntropyGrad(b *testing.B) {
	benchSets(b, func(b *testing.B, k *kernels[float32], x, _, dst []float32) {
		labels := []int{len(x) / 3}
		for b.Loop() {
			crossEntropy(k, dst, x, labels, len(x), 1)
		}
	})
}

// rowShapes are the report's shapes (rows×cols).
var rowShapes = [][2]int{{8192, 10}, {512, 1000}, {128, 4096}, {16, 32000}, {4, 128256}}

// benchRows runs f, a public batch function, on the report's shapes and
// on rows of 64 (the amd64 sets' blocks of rows) on every set, so that
// benchstat -col /impl compares them; labels holds one label per row, a
// third of the way along.
func benchRows(b *testing.B, f func(dst, x []float32, labels []int, cols int)) {
	for _, k := range sets32 {
		for _, s := range append(rowShapes, [2]int{8192, 64}) {
			b.Run(fmt.Sprintf("impl=%s/shape=%dx%d", k.name, s[0], s[1]), func(b *testing.B) {
				x := f32(gen.Logits(newRand(1), s[0]*s[1], 4, 0))
				dst := make([]float32, len(x))
				labels := make([]int, s[0])
				for i := range labels {
					labels[i] = s[1] / 3
				}
				b.SetBytes(int64(4 * len(x)))
				withActive(k, func() {
					for b.Loop() {
						f(dst, x, labels, s[1])
					}
				})
			})
		}
	}
}

// withActive runs f with k as the public functions' set. Only benchmarks
// use it: they run one at a time, while tests of the public functions may
// run in parallel and must see the set dispatch chose.
func withActive(k *kernels[float32], f func()) {
	defer func(a *kernels[float32]) { active32 = a }(active32)
	active32 = k
	f()
}

func BenchmarkSoftmaxRows(b *testing.B) {
	benchRows(b, func(dst, x []float32, _ []int, cols int) { SoftmaxRows(dst, x, cols) })
}

// BenchmarkCausalRows: the batch functions on rows under a causal mask
// (row i keeps its first i mod cols + 1 logits, −Inf after), as attention
// scores are, against the same rows unmasked, on the active set: masked
// rows take the blocks too (LogSoftmaxRows and the cross-entropy were 2–3
// times as slow on them at 64 columns when they went alone).
func BenchmarkCausalRows(b *testing.B) {
	fns := []struct {
		name string
		f    func(dst, x []float32, labels []int, cols int)
	}{
		{"SoftmaxRows", func(dst, x []float32, _ []int, cols int) { SoftmaxRows(dst, x, cols) }},
		{"LogSoftmaxRows", func(dst, x []float32, _ []int, cols int) { LogSoftmaxRows(dst, x, cols) }},
		{"CrossEntropyGrad", func(dst, x []float32, l []int, cols int) { CrossEntropyGrad(dst, x, l, cols) }},
	}
	for _, cols := range []int{64, 256, 512} {
		rows := 65536 / cols
		x := f32(gen.Logits(newRand(1), rows*cols, 4, 0))
		causal := append([]float32(nil), x...)
		for r := range rows {
			for j := r%cols + 1; j < cols; j++ {
				causal[r*cols+j] = float32(math.Inf(-1))
			}
		}
		dst := make([]float32, len(x))
		labels := make([]int, rows) // column 0: never masked
		for _, fn := range fns {
			for _, in := range []struct {
				mask string
				x    []float32
			}{{"none", x}, {"causal", causal}} {
				b.Run(fmt.Sprintf("fn=%s/mask=%s/cols=%d", fn.name, in.mask, cols), func(b *testing.B) {
					b.SetBytes(int64(4 * len(x)))
					for b.Loop() {
						fn.f(dst, in.x, labels, cols)
					}
				})
			}
		}
	}
}

// BenchmarkSoftmaxRowsInCache is BenchmarkSoftmaxRows on batches whose x
// and dst fit any core's L2 cache (128 KiB each): the kernels' own speed,
// which BenchmarkSoftmaxRows's 2 MiB batches fall short of where memory
// bounds them.
func BenchmarkSoftmaxRowsInCache(b *testing.B) {
	for _, cols := range []int{10, 64, 1000, 4096, 32000} { // 64: the per-row cost
		rows := 32768 / cols
		b.Run(fmt.Sprintf("impl=%s/shape=%dx%d", Impl(), rows, cols), func(b *testing.B) {
			x := f32(gen.Logits(newRand(1), rows*cols, 4, 0))
			dst := make([]float32, len(x))
			b.SetBytes(int64(4 * len(x)))
			for b.Loop() {
				SoftmaxRows(dst, x, cols)
			}
		})
	}
}

func BenchmarkLogSoftmaxRows(b *testing.B) {
	benchRows(b, func(dst, x []float32, _ []int, cols int) { LogSoftmaxRows(dst, x, cols) })
}

func BenchmarkCrossEntropyGradRows(b *testing.B) {
	benchRows(b, func(dst, x []float32, labels []int, cols int) { CrossEntropyGrad(dst, x, labels, cols) })
}

func BenchmarkSoftmaxBackwardRows(b *testing.B) {
	benchRows(b, func(dst, x []float32, _ []int, cols int) { SoftmaxBackwardRows(dst, x, x, cols) })
}

func BenchmarkLogSoftmaxBackwardRows(b *testing.B) {
	benchRows(b, func(dst, x []float32, _ []int, cols int) { LogSoftmaxBackwardRows(dst, x, x, cols) })
}

func BenchmarkSoftCrossEntropyGradRows(b *testing.B) {
	var y []float32
	benchRows(b, func(dst, x []float32, labels []int, cols int) {
		if len(y) != len(x) { // smoothed one-hot targets, made once per shape
			y = make([]float32, len(x))
			for r, l := range labels {
				for j := range cols {
					y[r*cols+j] = 0.1 / float32(cols)
				}
				y[r*cols+l] += 0.9
			}
		}
		SoftCrossEntropyGrad(dst, x, y, cols)
	})
}

// BenchmarkSoftmax64 times float64 Softmax on every float64 set beside
// impl=plain, the three passes anyone would write with math.Exp (17–258
// ULP off on random rows of 1000 to 32000, where ours stay within 2).
func BenchmarkSoftmax64(b *testing.B) {
	for _, n := range []int{1000, 32000} {
		x := gen.Logits(newRand(1), n, 4, 0)
		dst := make([]float64, n)
		for _, k := range append(sets64, nil) {
			impl := "plain"
			if k != nil {
				impl = k.name
			}
			b.Run(fmt.Sprintf("impl=%s/n=%d", impl, n), func(b *testing.B) {
				b.SetBytes(int64(8 * n))
				for b.Loop() {
					if k == nil {
						plainSoftmax64(dst, x)
					} else {
						softmaxRow(k, dst, x)
					}
				}
			})
		}
	}
}

// BenchmarkFloat64 times the float64 functions beside Softmax
// (BenchmarkSoftmax64) and SoftmaxBackward (BenchmarkSoftmaxBackward64)
// on every float64 set: impl=<set>/fn=<name>.
func BenchmarkFloat64(b *testing.B) {
	const n = 4096
	x := gen.Logits(newRand(2), n, 4, 0)
	dst := make([]float64, n)
	logp := make([]float64, n)
	logSoftmaxRow(&generic64, logp, x)
	dy := gen.Logits(newRand(3), n, 1, 0)
	y := ref.Softmax(gen.Logits(newRand(4), n, 1, 0), ref.Precise)
	for _, k := range sets64 {
		for _, f := range []struct {
			name string
			run  func()
		}{
			{"LogSoftmax", func() { logSoftmaxRow(k, dst, x) }},
			{"LogSumExp", func() { logSumExp(k, x) }},
			{"CrossEntropyGrad", func() { crossEntropy(k, dst, x, []int{7}, n, 1) }},
			{"LogSoftmaxBackward", func() { logSoftmaxBackwardRow(k, dst, logp, dy) }},
			{"SoftCrossEntropyGrad", func() { softCrossEntropy(k, dst, x, y, n) }},
		} {
			b.Run(fmt.Sprintf("impl=%s/fn=%s/n=%d", k.name, f.name, n), func(b *testing.B) {
				b.SetBytes(8 * n)
				for b.Loop() {
					f.run()
				}
			})
		}
	}
}

func plainSoftmax64(dst, x []float64) {
	m := math.Inf(-1)
	for _, v := range x {
		m = max(m, v)
	}
	s := 0.0
	for i, v := range x {
		dst[i] = math.Exp(v - m)
		s += dst[i]
	}
	r := 1 / s
	for i := range dst {
		dst[i] *= r
	}
}

func BenchmarkSoftmaxBackward64(b *testing.B) {
	for _, k := range sets64 {
		for _, n := range []int{1000, 32000} {
			b.Run(fmt.Sprintf("impl=%s/n=%d", k.name, n), func(b *testing.B) {
				rng := newRand(uint64(n))
				dy := gen.Logits(rng, n, 1, 0)
				p := distribution(rng, n)
				dst := make([]float64, n)
				b.SetBytes(int64(8 * n))
				for b.Loop() {
					softmaxBackwardRow(k, dst, p, dy)
				}
			})
		}
	}
}

// BenchmarkSoftmaxRowsParallel: the report's shapes on one worker (the
// serial path, which should match BenchmarkSoftmaxRows) and on GOMAXPROCS.
func BenchmarkSoftmaxRowsParallel(b *testing.B) {
	for _, workers := range []int{1, 0} {
		for _, s := range rowShapes {
			b.Run(fmt.Sprintf("impl=%s/shape=%dx%d/workers=%d", Impl(), s[0], s[1], workers), func(b *testing.B) {
				x := f32(gen.Logits(newRand(1), s[0]*s[1], 4, 0))
				dst := make([]float32, len(x))
				b.SetBytes(int64(4 * len(x)))
				for b.Loop() {
					SoftmaxRowsParallel(dst, x, s[1], workers)
				}
			})
		}
	}
}
