package softmax

import "fmt"

// Argument checks. Each panics with the public function's name and the bad
// values, before anything is written.

func checkSame(fn string, a, b string, la, lb int) {
	if la != lb {
		panic(fmt.Sprintf("softmax.%s: len(%s)=%d != len(%s)=%d", fn, a, la, b, lb))
	}
}

// checkRows validates a row-major batch, the slice named name of n values,
// and returns its row count.
func checkRows(fn, name string, n, cols int) int {
	if cols <= 0 {
		panic(fmt.Sprintf("softmax.%s: cols=%d, must be > 0", fn, cols))
	}
	if n%cols != 0 {
		panic(fmt.Sprintf("softmax.%s: len(%s)=%d is not a multiple of cols=%d", fn, name, n, cols))
	}
	return n / cols
}

// checkLabels validates one label per row, each < cols, and returns the
// number of rows whose label is not negative (not ignored).
func checkLabels[L Label](fn string, labels []L, rows, cols int) int {
	if len(labels) != rows {
		panic(fmt.Sprintf("softmax.%s: len(labels)=%d, want one label per row: len(logits)/cols = %d/%d = %d", fn, len(labels), rows*cols, cols, rows))
	}
	kept := 0
	for i, l := range labels {
		if int64(l) >= int64(cols) {
			panic(fmt.Sprintf("softmax.%s: labels[%d]=%d out of range for cols=%d (want < %d, or negative to ignore the row)", fn, i, int64(l), cols, cols))
		}
		if l >= 0 {
			kept++
		}
	}
	return kept
}
