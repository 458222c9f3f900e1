//go:build peers && !cgo

package main

// With -tags peers but cgo disabled the C peers cannot be built; say so in
// the report instead of failing the build.
const (
	peersTag  = true
	peersNote = " (-tags peers needs cgo: CGO_ENABLED=1 and a C compiler; C peers skipped)"
)
