//go:build !purego

package forms

// A form is one generated function: Y2 (and, for a general-register
// result, out[32:40]) after the instruction, from Y0, Y1, Y2 = a, b, c.
type form struct {
	name  string
	esize int // bytes per element: which special values to draw
	fn    func(a, b, c, out *[40]byte)
}
