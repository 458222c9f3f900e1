package storeprobe

// Each kernel reads n bytes (a multiple of 128) of src, adds each float32
// to itself, and stores the results to dst: one row's last pass.

//go:noescape
func passYMM(dst, src *float32, n int)

//go:noescape
func passZMM(dst, src *float32, n int)

//go:noescape
func passNT(dst, src *float32, n int)

//go:noescape
func passPrefetchW(dst, src *float32, n int, ahead uintptr)

//go:noescape
func repMovsb(dst, src *float32, n int)

//go:noescape
func sumYMM(src *float32, n int) float32

//go:noescape
func copyYMM(dst, src *float32, n int)
