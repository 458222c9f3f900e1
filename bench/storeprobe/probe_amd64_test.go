package storeprobe

import (
	"fmt"
	"testing"
	"unsafe"

	"github.com/klauspost/cpuid/v2"
)

// The report's judged shapes: batches of about 2 MiB, in L3 between calls.
var shapes = []struct{ rows, cols int }{{512, 1000}, {128, 4096}, {16, 32000}}

type mode struct {
	name string
	need cpuid.FeatureID
	row  func(dst, x, scratch *float32, n int, ahead uintptr)
}

var modes = []mode{
	{"ymm", cpuid.AVX2, func(d, x, _ *float32, n int, _ uintptr) { passYMM(d, x, n) }},
	{"zmm", cpuid.AVX512F, func(d, x, _ *float32, n int, _ uintptr) { passZMM(d, x, n) }},
	{"nt", cpuid.AVX2, func(d, x, _ *float32, n int, _ uintptr) { passNT(d, x, n) }},
	{"prefetchw", cpuid.AVX2, passPrefetchW2},
	// The row computed into L1, then stored by one of two copies: the
	// control (vector loads and stores) and REP MOVSB.
	{"l1+ymm", cpuid.AVX2, func(d, x, s *float32, n int, _ uintptr) { passYMM(s, x, n); copyYMM(d, s, n) }},
	{"l1+movsb", cpuid.ERMS, func(d, x, s *float32, n int, _ uintptr) { passYMM(s, x, n); repMovsb(d, s, n) }},
}

func passPrefetchW2(d, x, _ *float32, n int, ahead uintptr) { passPrefetchW(d, x, n, ahead) }

// aligned returns n float32s starting on a 64-byte boundary.
func aligned(n int) []float32 {
	b := make([]float32, n+16)
	off := int(uintptr(unsafe.Pointer(&b[0]))%64) / 4
	return b[(16-off)%16:][:n]
}

// BenchmarkStore runs each mode over a batch; ThenRead adds a pass that
// reads the output back, as its consumer would (where non-temporal
// stores pay for having sent it to memory).
func BenchmarkStore(b *testing.B) {
	for _, read := range []bool{false, true} {
		for _, s := range shapes {
			x, dst, scratch := aligned(s.rows*s.cols), aligned(s.rows*s.cols), aligned(s.cols)
			for i := range x {
				x[i] = float32(i%7) * 0.25
			}
			n := s.cols * 4 / 128 * 128 // bytes a row's pass stores
			for _, m := range modes {
				name := fmt.Sprintf("read=%v/shape=%dx%d/mode=%s", read, s.rows, s.cols, m.name)
				b.Run(name, func(b *testing.B) {
					if !cpuid.CPU.Supports(m.need) {
						b.Skipf("the CPU lacks %v", m.need)
					}
					b.SetBytes(int64(s.rows * n))
					for i := 0; i < b.N; i++ {
						for r := 0; r < s.rows; r++ {
							// Two rows ahead, what the prefetching modes fetch.
							m.row(&dst[r*s.cols], &x[r*s.cols], &scratch[0], n, uintptr(2*s.cols*4))
						}
						if read {
							sink += sumYMM(&dst[0], len(dst)*4/128*128)
						}
					}
				})
			}
		}
	}
}

var sink float32

func TestPasses(t *testing.T) {
	const n = 1024
	x, dst, s := aligned(n), aligned(n), aligned(n)
	for i := range x {
		x[i] = float32(i)
	}
	for _, m := range modes {
		if !cpuid.CPU.Supports(m.need) {
			continue
		}
		clear(dst)
		m.row(&dst[0], &x[0], &s[0], n*4, 0)
		for i := range dst {
			if dst[i] != 2*x[i] {
				t.Fatalf("%s: dst[%d] = %v, want %v", m.name, i, dst[i], 2*x[i])
			}
		}
	}
	if !cpuid.CPU.Supports(cpuid.AVX2) {
		return
	}
	if got := sumYMM(&x[0], n*4); got != n*(n-1)/2 {
		t.Errorf("sumYMM = %v, want %v", got, n*(n-1)/2)
	}
}
