//go:build !unix

package guard

// Supported reports whether this platform has guard pages.
const Supported = false

// Slice returns an ordinary slice where guard pages are not available.
func Slice[T any](n int, atEnd bool) (s []T, free func()) {
	return make([]T, n), func() {}
}

// Pages returns an ordinary slice; protect does nothing here.
func Pages[T any](n int) (s []T, protect func(i, j int), free func()) {
	return make([]T, n), func(i, j int) {}, func() {}
}

// PageSize is a typical page size where the platform has no guard pages.
func PageSize() int { return 4096 }
