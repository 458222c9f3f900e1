//go:build !unix

package guard

// Supported reports whether this platform has guard pages.
const Supported = false

// Slice returns an ordinary slice where guard pages are not available.
func Slice[T any](n int, atEnd bool) (s []T, free func()) {
	return make([]T, n), func() {}
}
