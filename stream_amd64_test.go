//go:build !purego

package softmax

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gosimd/softmax/internal/gen"
	"github.com/gosimd/softmax/internal/ref"
)

// streamSet is a test set with its assembly kernels, for tests that call
// an asmKernels method directly.
type streamSet struct {
	k *kernels[float32]
	a *asmKernels
}

// asmTestSets: the native sets this CPU has and, unless -short, the
// interpreted avx512 where the CPU lacks it.
func asmTestSets() []streamSet {
	var s []streamSet
	if hasSet("avx512") {
		s = append(s, streamSet{&avx512Set, &avx512Asm})
	}
	if hasSet("avx2") {
		s = append(s, streamSet{&avx2Set, &avx2Asm})
	}
	if ks := emuSets32(); len(ks) > 0 {
		s = append(s, streamSet{ks[0], emuAsm(&avx512Asm, "AVX512")})
	}
	return s
}

// streamWant is what checkStream expects of streamRow.
type streamWant int

const (
	takes    streamWant = iota
	declines            // a row for the general composition
	either              // a NaN that max may skip (then the sum finds it) or return
)

// checkStream runs streamRow on x into a guarded, misaligned dst and wants
// it to take the row or decline it as expect says. A declined row must be
// untouched; a taken one must match generic's 0s and NaNs exactly and the
// reference within the bar elsewhere.
func checkStream(t *testing.T, s streamSet, x []float32, expect streamWant, off int, what string) {
	t.Helper()
	n := len(x)
	xs := place(t, x, off, off%2 == 0)
	dst := place(t, make([]float32, n), (off+5)%16, off%2 == 1)
	for i := range dst {
		dst[i] = 12345
	}
	take := s.a.streamRow(dst, xs)
	if expect != either && take != (expect == takes) {
		t.Fatalf("%s [set %s, n=%d]: streamRow took the row: %v, want %v", what, s.k.name, n, take, expect == takes)
	}
	if !take {
		for i, v := range dst {
			if v != 12345 {
				t.Fatalf("%s [set %s, n=%d]: declined, but dst[%d] = %v was written", what, s.k.name, n, i, v)
			}
		}
		return
	}
	gd := make([]float32, n)
	softmaxRow(&generic32, gd, x)
	want := ref.Softmax(widen(x), ref.Fast)
	for i := range dst {
		if (dst[i] == 0) != (gd[i] == 0) || (dst[i] != dst[i]) != (gd[i] != gd[i]) {
			t.Fatalf("%s [set %s, n=%d]: [%d] = %v, generic %v (x=%v)", what, s.k.name, n, i, dst[i], gd[i], x[i])
		}
		if gd[i] != gd[i] {
			want[i] = float64(gd[i]) // ref.Fast's NaN rows need not match generic's
		}
	}
	check32(t, s.k, what, dst, want)
}

// finiteWant is what streamRow must do with x of finite values only: take
// it unless a chunk's max is beyond tableMaxAbs (σ = 30 around 50 can be).
func finiteWant(x []float32, chunk int) streamWant {
	for i := 0; i < len(x); i += chunk {
		if m := maxGeneric(x[i:min(i+chunk, len(x))]); !(m < tableMaxAbs && m > -tableMaxAbs) {
			return declines
		}
	}
	return takes
}

// TestStreamRow: the two-pass softmax of long rows, on rows of every
// length 1..300 as one chunk (so both kernels see every length) and in
// chunks of 37 (every tail case and chunk boundary), and on rows whose
// chunks differ: masked chunks, chunks far below the max, special values,
// maxima the table kernels do not take.
func TestStreamRow(t *testing.T) {
	defer func(c, ch int) { forceStreamCols, streamChunk = c, ch }(forceStreamCols, streamChunk)
	forceStreamCols = 1
	ninf32 := float32(math.Inf(-1))
	for _, s := range asmTestSets() {
		t.Run("impl="+s.k.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(41, 42))
			for _, chunk := range []int{300, 37, 2048} {
				streamChunk = chunk
				var lens []int
				if chunk <= 300 { // every length: one chunk (300), many (37)
					for n := 1; n <= 300; n++ {
						lens = append(lens, n)
					}
				} else {
					lens = []int{chunk - 1, chunk, chunk + 1, 3*chunk + 5}
					if !interpreted(s.k) {
						lens = append(lens, 40000)
					}
				}
				for _, n := range lens {
					for _, sp := range kspreads {
						off := rng.IntN(16)
						x := logits32(rng, n, sp.sigma, sp.mean)
						checkStream(t, s, x, finiteWant(x, chunk), off,
							fmt.Sprintf("streamRow chunk=%d σ=%v μ=%v off=%d", chunk, sp.sigma, sp.mean, off))
					}
				}
				n := 5*chunk + 3
				fam := func(name string, expect streamWant, f func(x []float32)) {
					x := logits32(rng, n, 3, 0)
					f(x)
					checkStream(t, s, x, expect, rng.IntN(16), fmt.Sprintf("streamRow chunk=%d %s", chunk, name))
				}
				part := func(x []float32, c int, v func(i int) float32) {
					for i := c * chunk; i < min((c+1)*chunk, len(x)); i++ {
						x[i] = v(i)
					}
				}
				fam("masked-chunk", takes, func(x []float32) { part(x, 1, func(int) float32 { return ninf32 }) })
				fam("masked-first-and-last", takes, func(x []float32) {
					part(x, 0, func(int) float32 { return ninf32 })
					part(x, 5, func(int) float32 { return ninf32 })
				})
				fam("nan-in-masked-chunk", either, func(x []float32) {
					part(x, 2, func(int) float32 { return ninf32 })
					x[2*chunk+chunk/2] = float32(math.NaN())
				})
				fam("nan", either, func(x []float32) { x[rng.IntN(n)] = float32(math.NaN()) })
				fam("low-first-chunk", takes, func(x []float32) { // its terms all below the cutoff
					part(x, 0, func(i int) float32 { return -100 + float32(i%5) })
					part(x, 4, func(i int) float32 { return 50 + float32(i%3) })
				})
				fam("straddles-cutoff", takes, func(x []float32) { // a later chunk around max − 87.3
					part(x, 0, func(i int) float32 { return 10 + float32(i%2) })
					part(x, 3, func(i int) float32 { return 11 - 87.3365 + float32(i%9-4)*0.01 })
				})
				fam("max-in-last-tail", takes, func(x []float32) { x[n-1] = 60 })
				fam("all-masked", declines, func(x []float32) { fill(x, math.Inf(-1)) })
				fam("inf", declines, func(x []float32) { x[rng.IntN(n)] = float32(math.Inf(1)) })
				fam("large-max", declines, func(x []float32) { x[rng.IntN(n)] = 200 })
				fam("low-chunk", declines, func(x []float32) { part(x, 3, func(int) float32 { return -300 }) })
			}
		})
	}
}

// BenchmarkStreamRow times SoftmaxRows on long rows with streamRow
// (plan=stream) and with rows's three passes (plan=three), on the active
// set (SOFTMAX_IMPL picks it), to place the sets' streamCols:
//
//	go test -run '^$' -bench StreamRow -count 8 | benchstat -col /plan -
func BenchmarkStreamRow(b *testing.B) {
	defer func(c int) { forceStreamCols = c }(forceStreamCols)
	for _, sh := range [][2]int{{64, 8192}, {16, 32000}, {8, 65536}, {4, 128256}, {1, 1 << 20}, {1, 1 << 22}, {1, 1 << 24}} {
		x := f32(gen.Logits(newRand(1), sh[0]*sh[1], 4, 0))
		dst := make([]float32, len(x))
		for _, plan := range []struct {
			name string
			cols int
		}{{"three", math.MaxInt}, {"stream", 1}} {
			b.Run(fmt.Sprintf("impl=%s/shape=%dx%d/plan=%s", Impl(), sh[0], sh[1], plan.name), func(b *testing.B) {
				forceStreamCols = plan.cols
				b.SetBytes(int64(4 * len(x)))
				for b.Loop() {
					SoftmaxRows(dst, x, sh[1])
				}
			})
		}
	}
}
