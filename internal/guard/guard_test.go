//go:build unix

package guard

import (
	"runtime/debug"
	"testing"
	"unsafe"
)

var sink float32

// faults reports whether reading p faults, turning the fault into a panic
// (debug.SetPanicOnFault) so that the test needs no child process and runs
// under qemu-user too.
func faults(p unsafe.Pointer) (faulted bool) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		// A fault under SetPanicOnFault panics with an error that
		// carries the faulting address.
		_, faulted = recover().(interface{ Addr() uintptr })
	}()
	sink = *(*float32)(p)
	return false
}

// TestGuardFaults proves the guard pages are there: reading one element
// past the end, or one before the start, faults; the first and last
// elements do not.
func TestGuardFaults(t *testing.T) {
	after, free1 := Slice[float32](5, true)
	defer free1()
	before, free2 := Slice[float32](5, false)
	defer free2()
	cases := []struct {
		name  string
		p     unsafe.Pointer
		fault bool
	}{
		{"past the end", unsafe.Add(unsafe.Pointer(&after[4]), 4), true},
		{"before the start", unsafe.Add(unsafe.Pointer(&before[0]), -4), true},
		{"last element", unsafe.Pointer(&after[4]), false},
		{"first element", unsafe.Pointer(&before[0]), false},
	}
	for _, c := range cases {
		if got := faults(c.p); got != c.fault {
			t.Errorf("%s: faulted = %v, want %v", c.name, got, c.fault)
		}
	}
}

func TestPagesProtect(t *testing.T) {
	n := PageSize() / 4
	s, protect, free := Pages[float32](3 * n)
	defer free()
	protect(n, 2*n)
	if !faults(unsafe.Pointer(&s[n])) || faults(unsafe.Pointer(&s[n-1])) || faults(unsafe.Pointer(&s[2*n])) {
		t.Fatal("protect(n, 2n) does not guard exactly the middle page")
	}
}

func TestSliceUsable(t *testing.T) {
	for _, atEnd := range []bool{true, false} {
		for _, n := range []int{0, 1, 1023, 1024, 1025} {
			s, free := Slice[float64](n, atEnd)
			for i := range s {
				s[i] = float64(i)
			}
			if len(s) != n {
				t.Fatalf("len = %d, want %d", len(s), n)
			}
			free()
		}
	}
}
