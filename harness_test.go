package softmax

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/gosimd/softmax/internal/guard"
	"github.com/gosimd/softmax/internal/ulp"
)

// The test harness: every test runs for each float32 kernel set in sets32
// (so one `go test` checks every set this CPU supports) and for float64.

// Accuracy bars, in ULPs of the output type.
const (
	tolSIMD32    = 4   // every SIMD set, float32
	tolGeneric32 = 1   // the generic float32 set: float64 arithmetic, rounded once or twice
	tol64        = 3.5 // float64 (generic kernels), against a reference rounded to float64: 4 ULP of the exact value
)

func tolFor(k *kernels[float32]) float64 {
	if k == &generic32 {
		return tolGeneric32
	}
	return tolSIMD32
}

// testSets32 are the sets the tests run: every set this CPU runs and,
// unless -short, interpreted ones for sets it cannot (emuSets32).
func testSets32() []*kernels[float32] {
	return append(sets32[:len(sets32):len(sets32)], emuSets32()...)
}

// interpreted reports whether k is an interpreted set: about a microsecond
// per element, where tests bound their longest rows (longRow).
func interpreted(k *kernels[float32]) bool { return strings.HasSuffix(k.name, "-emu") }

// longRow is the length of the tests' longest rows on set k: 2^24, or 2^21
// on an interpreted set (whose native run on a CPU that has it covers
// 2^24; at 2^21 its sums already fold thousands of block sums).
func longRow(k *kernels[float32]) int {
	if interpreted(k) {
		return 1 << 21
	}
	return 1 << 24
}

// forEachSet runs f as a subtest for every float32 kernel set.
func forEachSet(t *testing.T, f func(t *testing.T, k *kernels[float32])) {
	for _, k := range testSets32() {
		t.Run("impl="+k.name, func(t *testing.T) { f(t, k) })
	}
}

// worst records the largest error each set showed per function, for the
// summary TestMain prints with -v.
var worst = struct {
	sync.Mutex
	m map[string]float64
}{m: map[string]float64{}}

func record(key string, e float64) {
	worst.Lock()
	if e > worst.m[key] {
		worst.m[key] = e
	}
	worst.Unlock()
}

func worstSummary() []string {
	worst.Lock()
	defer worst.Unlock()
	var out []string
	for k, v := range worst.m {
		out = append(out, fmt.Sprintf("%-58s %.3g ULP", k, v))
	}
	sort.Strings(out)
	return out
}

// check32 compares got with the reference want element by element.
func check32(t *testing.T, k *kernels[float32], what string, got []float32, want []float64) {
	t.Helper()
	tol := tolFor(k)
	maxE := 0.0
	for i := range want {
		e := ulp.Err32(got[i], want[i])
		if e > tol || e != e {
			t.Fatalf("%s [set %s, n=%d]: element %d = %g, want %g (%.2f ULP > %g)", what, k.name, len(want), i, got[i], want[i], e, tol)
		}
		maxE = math.Max(maxE, e)
	}
	record(k.name+"/"+what[:indexSpace(what)], maxE)
}

func check64(t *testing.T, what string, got, want []float64) {
	t.Helper()
	maxE := 0.0
	for i := range want {
		e := ulp.Err64(got[i], want[i])
		if e > tol64 || e != e {
			t.Fatalf("%s [float64, n=%d]: element %d = %g, want %g (%.2f ULP > %g)", what, len(want), i, got[i], want[i], e, tol64)
		}
		maxE = math.Max(maxE, e)
	}
	record("float64/"+what[:indexSpace(what)], maxE)
}

// checkTerms64 is checkTerms32 for float64 outputs: within tol64 ULPs of
// the output plus as many of its term where the output is a difference
// that cancels.
func checkTerms64(t *testing.T, what string, got, want, terms []float64) {
	t.Helper()
	maxE := 0.0
	for i := range want {
		e := ulp.Err64(got[i], want[i])
		finite := !math.IsInf(want[i], 0) && !math.IsInf(got[i], 0) && want[i] == want[i] && got[i] == got[i]
		if e > tol64 && finite {
			e = math.Abs(got[i]-want[i]) / (ulp.Of64(want[i]) + ulp.Of64(terms[i]))
		}
		if e > tol64 || e != e {
			t.Fatalf("%s [float64, n=%d]: element %d = %g, want %g, term %g (%.2f ULP > %g)", what, len(want), i, got[i], want[i], terms[i], e, tol64)
		}
		maxE = math.Max(maxE, e)
	}
	record("float64/"+what[:indexSpace(what)], maxE)
}

// placement says where a test slice lives: against a guard page at its end
// or start, or in ordinary memory starting off elements past 64-byte
// alignment.
type placement struct {
	guardEnd, guardStart bool
	off                  int
}

func (p placement) String() string {
	switch {
	case p.guardEnd:
		return "guard-after"
	case p.guardStart:
		return "guard-before"
	}
	return fmt.Sprintf("offset=%d", p.off)
}

// placements cycles through the kinds of placement by case number.
func placementFor(i int) placement {
	switch i % 3 {
	case 0:
		return placement{guardEnd: true}
	case 1:
		return placement{guardStart: true && guard.Supported}
	}
	return placement{off: (i / 3) % 16}
}

// alloc returns n zeroed elements placed as p says, and a release function.
func alloc[T float32 | float64](n int, p placement) ([]T, func()) {
	if p.guardEnd || p.guardStart {
		return guard.Slice[T](n, p.guardEnd)
	}
	var zero T
	size := int(unsafe.Sizeof(zero))
	buf := make([]T, n+64/size+16)
	skip := 0
	for (uintptr(unsafe.Pointer(&buf[skip])) % 64) != 0 {
		skip++
	}
	return buf[skip+p.off : skip+p.off+n : skip+p.off+n], func() {}
}

// vec32 copies v (float64 values, exactly representable or rounded) into a
// float32 slice placed as p says; back returns the float32 values as
// float64, which is what the reference must see.
func vec32(v []float64, p placement) ([]float32, func()) {
	s, free := alloc[float32](len(v), p)
	for i, x := range v {
		s[i] = float32(x)
	}
	return s, free
}

func vec64(v []float64, p placement) ([]float64, func()) {
	s, free := alloc[float64](len(v), p)
	copy(s, v)
	return s, free
}

func widen(s []float32) []float64 {
	out := make([]float64, len(s))
	for i, v := range s {
		out[i] = float64(v)
	}
	return out
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

// pairSum evaluates dot's pair.
func pairSum(s, c float64) float64 { return s + c }
