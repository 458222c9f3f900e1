//go:build !purego

package softmax

import (
	"fmt"
	"math"
	"testing"

	"github.com/gosimd/softmax/internal/gen"
	"github.com/gosimd/softmax/internal/ref"
)

// prefetchPlans are the plans BenchmarkPrefetchPlan compares, by name; the
// first is the one rows follows, benchstat's base.
var prefetchPlans = []struct {
	name string
	p    prefetchPlan
}{
	{"default", prefetch},
	{"exp:none,div:none,ahead:2", prefetchPlan{exp: prefetchNone, div: prefetchNone, pairAhead: 2, singleAhead: 1}},
	{"exp:x,div:none,ahead:1", prefetchPlan{exp: prefetchX, div: prefetchNone, pairAhead: 1, singleAhead: 1}},
	{"exp:x,div:none,ahead:3", prefetchPlan{exp: prefetchX, div: prefetchNone, pairAhead: 3, singleAhead: 2}},
	{"exp:x,div:dst,ahead:2", prefetchPlan{exp: prefetchX, div: prefetchDst, pairAhead: 2, singleAhead: 1}},
	{"exp:x,div:dst,ahead:1", prefetchPlan{exp: prefetchX, div: prefetchDst, pairAhead: 1, singleAhead: 1}},
	{"exp:x,div:dst,ahead:3", prefetchPlan{exp: prefetchX, div: prefetchDst, pairAhead: 3, singleAhead: 2}},
	{"exp:dst,div:x,ahead:2", prefetchPlan{exp: prefetchDst, div: prefetchX, pairAhead: 2, singleAhead: 1}},
	{"exp:none,div:x,ahead:2", prefetchPlan{exp: prefetchNone, div: prefetchX, pairAhead: 2, singleAhead: 1}},
}

// BenchmarkPrefetchPlan times SoftmaxRows on batches of 2 MiB (the report's
// shapes) under each prefetch plan, for each SIMD set. With -count N the
// plans take turns, so benchstat compares them on the same machine state:
//
//	go test -run '^$' -bench PrefetchPlan -count 8 -benchtime 100ms | benchstat -col /plan -
func BenchmarkPrefetchPlan(b *testing.B) {
	defer func(p prefetchPlan) { prefetch = p }(prefetch)
	for _, k := range sets32 {
		if k.softmaxRows == nil {
			continue
		}
		for _, sh := range [][2]int{{512, 1000}, {128, 4096}, {16, 32000}, {4, 128256}} {
			rows, cols := sh[0], sh[1]
			x := f32(gen.Logits(newRand(uint64(cols)), rows*cols, 4, 0))
			dst := make([]float32, rows*cols)
			for _, pl := range prefetchPlans {
				b.Run(fmt.Sprintf("impl=%s/shape=%dx%d/plan=%s", k.name, rows, cols, pl.name), func(b *testing.B) {
					prefetch = pl.p
					b.SetBytes(int64(4 * rows * cols))
					for b.Loop() {
						softmaxRows(k, dst, x, cols)
					}
				})
			}
		}
	}
}

// TestPrefetchPlans: a plan only moves hints, so every plan gives the same
// bits on every shape, the pair and single loops and their last rows
// (which prefetch nothing) included.
func TestPrefetchPlans(t *testing.T) {
	defer func(p prefetchPlan) { prefetch = p }(prefetch)
	for _, k := range sets32 {
		if k.softmaxRows == nil {
			continue
		}
		for _, sh := range [][2]int{{7, 1000}, {5, 4099}, {3, pairCols + 1}} {
			rows, cols := sh[0], sh[1]
			x := f32(gen.Logits(newRand(uint64(cols)), rows*cols, 4, 0))
			var want []float64
			for r := range rows {
				want = append(want, ref.Softmax(widen(x[r*cols:(r+1)*cols]), ref.Fast)...)
			}
			plain := make([]float32, rows*cols)
			prefetch = prefetchPlan{pairAhead: 1, singleAhead: 1} // nothing to fetch
			softmaxRows(k, plain, x, cols)
			for _, pl := range prefetchPlans {
				prefetch = pl.p
				got := make([]float32, rows*cols)
				softmaxRows(k, got, x, cols)
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(plain[i]) {
						t.Fatalf("%s %dx%d plan %s: [%d] = %g, without prefetch %g", k.name, rows, cols, pl.name, i, got[i], plain[i])
					}
				}
				check32(t, k, fmt.Sprintf("SoftmaxRows/prefetch-plans %dx%d %s", rows, cols, pl.name), got, want)
			}
		}
	}
}
