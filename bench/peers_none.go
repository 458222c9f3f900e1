//go:build !peers

package main

const (
	peersTag  = false
	peersNote = " (oneDNN and XNNPACK too with -tags peers; see README.md)"
)
