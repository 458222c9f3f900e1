package softmax

import (
	"fmt"
	"os"
	"testing"
)

// TestMain prints, with -v, the worst error each set showed per function,
// and honours SOFTMAX_WANT_IMPL: CI sets it to the set a CPU must pick, so a
// run on the wrong path fails instead of passing quietly.
func TestMain(m *testing.M) {
	if want := os.Getenv("SOFTMAX_WANT_IMPL"); want != "" && want != Impl() {
		fmt.Fprintf(os.Stderr, "SOFTMAX_WANT_IMPL=%s but the package picked %q (available: %v)\n", want, Impl(), setNames())
		os.Exit(1)
	}
	code := m.Run()
	if testing.Verbose() {
		fmt.Printf("kernel sets: %v, active: %s\n", setNames(), Impl())
		if lines := worstSummary(); len(lines) > 0 {
			fmt.Println("worst error seen per set and function (\"output + term\": a difference that cancels, README's Accuracy):")
			for _, line := range lines {
				fmt.Println("  " + line)
			}
		}
	}
	os.Exit(code)
}
