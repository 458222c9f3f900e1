package main

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// avo allocates from all 32 vector registers in any function, but a VEX
// instruction names only 16: an AVX2 kernel given X16–X31 or Y16–Y31 gets
// EVEX encodings and dies with SIGILL on a CPU without AVX-512, while the
// machine that generated it (and its tests) may run it fine.
var upperReg = regexp.MustCompile(`\b[XYZ](1[6-9]|2[0-9]|3[01])\b|\bZ[0-9]+\b|\bK[1-7]\b`)

// checkAVX2Registers fails when an AVX2 function in the generated file at
// path uses a register that only AVX-512 has.
func checkAVX2Registers(path string) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var name string
	for i, line := range strings.Split(string(src), "\n") {
		if t, ok := strings.CutPrefix(line, "TEXT ·"); ok {
			name, _, _ = strings.Cut(t, "(")
			continue
		}
		code, _, _ := strings.Cut(line, "//")
		if strings.HasSuffix(name, "AVX2") && upperReg.MatchString(code) {
			return fmt.Errorf("%s:%d: %s uses %s, which AVX2 CPUs lack (too many live vectors: make the kernel keep fewer)",
				path, i+1, name, upperReg.FindString(code))
		}
	}
	return nil
}

// checkOutput runs the checks on the file Generate wrote.
func checkOutput() {
	if f := flag.Lookup("out"); f != nil && f.Value.String() != "" {
		if err := checkAVX2Registers(f.Value.String()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}
