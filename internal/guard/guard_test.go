//go:build unix

package guard

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"unsafe"
)

var sink float32

// TestGuardFaults proves the guard pages are there: a child process that
// reads one element past the end, or one before the start, must die of a
// memory fault, and one that reads the first and last elements must not.
func TestGuardFaults(t *testing.T) {
	if mode := os.Getenv("GUARD_CHILD"); mode != "" {
		s, _ := Slice[float32](5, mode != "before")
		p := unsafe.Pointer(&s[0])
		switch mode {
		case "after":
			p = unsafe.Add(p, 5*4)
		case "before":
			p = unsafe.Add(p, -4)
		case "inside":
			sink = s[0] + s[4]
			return
		}
		sink = *(*float32)(p)
		return
	}
	for _, mode := range []string{"after", "before", "inside"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestGuardFaults$")
		cmd.Env = append(os.Environ(), "GUARD_CHILD="+mode)
		out, err := cmd.CombinedOutput()
		faulted := err != nil && strings.Contains(string(out), "fault")
		if faulted != (mode != "inside") {
			t.Fatalf("mode %s: faulted=%v, err=%v, output:\n%s", mode, faulted, err, out)
		}
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
