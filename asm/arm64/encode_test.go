package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Every hand-encoded instruction is checked against a real assembler: the
// GNU one (binutils-aarch64-linux-gnu) and LLVM's llvm-mc, whichever are
// installed. The test skips only when neither is.

// allForms returns every instruction form the encoders can produce, each
// with registers rotated through V0..V31 in every operand position, both
// arrangements where the encoder takes one, and every lane index.
func allForms() []inst {
	var out []inst
	reg := func(i, k int) vreg { return vreg((i*7 + k*11) % 32) }
	for i := range 32 {
		d, n, m := reg(i, 0), reg(i, 1), reg(i, 2)
		for _, a := range []arr{s4, d2} {
			out = append(out,
				fadd(a, d, n, m), fsub(a, d, n, m), fmul(a, d, n, m),
				fmax(a, d, n, m), fcmeq(a, d, n, m), fcmgt(a, d, n, m),
				fmin(a, d, n, m), fdiv(a, d, n, m), fmls(a, d, n, m))
			for idx := range a.lanes() {
				out = append(out, fmlaElem(a, d, n, m, idx), fmlsElem(a, d, n, m, idx))
			}
		}
		out = append(out, bic(d, n, m),
			fcvtl(d, n), fcvtl2(d, n), fcvtn(d, n), fcvtn2(d, n),
			fmaxv(d, n), faddpD(d, n))
	}
	// Registers 0 and 31 in every position.
	for _, r := range [][3]vreg{{0, 0, 0}, {31, 31, 31}, {31, 0, 31}, {0, 31, 0}} {
		out = append(out, fadd(d2, r[0], r[1], r[2]), fmlaElem(s4, r[0], r[1], r[2], 3), fmlsElem(d2, r[0], r[1], r[2], 1), bic(r[0], r[1], r[2]))
	}
	return out
}

var wordLine = regexp.MustCompile(`^\tWORD\t\$0x([0-9a-f]{8})\t// (.*)$`)

// generatedForms returns every WORD of the generated assembly.
func generatedForms(t *testing.T) []inst {
	asm, _, err := generate("softmax")
	if err != nil {
		t.Fatal(err)
	}
	var out []inst
	sc := bufio.NewScanner(bytes.NewReader(asm))
	for sc.Scan() {
		if strings.Contains(sc.Text(), "WORD") {
			m := wordLine.FindStringSubmatch(sc.Text())
			if m == nil {
				t.Fatalf("malformed WORD line %q", sc.Text())
			}
			w, _ := strconv.ParseUint(m[1], 16, 32)
			out = append(out, inst{uint32(w), m[2]})
		}
	}
	return out
}

// assembler turns GNU-syntax lines into instruction words.
type assembler struct {
	name string
	path string
	run  func(t *testing.T, path string, lines []string) []uint32
}

func gnuAs(t *testing.T, as string, lines []string) []uint32 {
	dir := t.TempDir()
	src := filepath.Join(dir, "a.s")
	obj := filepath.Join(dir, "a.o")
	bin := filepath.Join(dir, "a.bin")
	if err := os.WriteFile(src, []byte("\t.text\n\t"+strings.Join(lines, "\n\t")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(as, "-o", obj, src).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", as, err, out)
	}
	objcopy := strings.TrimSuffix(as, "as") + "objcopy"
	if out, err := exec.Command(objcopy, "-O", "binary", "-j", ".text", obj, bin).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", objcopy, err, out)
	}
	raw, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	words := make([]uint32, len(raw)/4)
	for i := range words {
		words[i] = binary.LittleEndian.Uint32(raw[4*i:])
	}
	return words
}

var llvmEncoding = regexp.MustCompile(`encoding: \[0x([0-9a-f]{2}),0x([0-9a-f]{2}),0x([0-9a-f]{2}),0x([0-9a-f]{2})\]`)

func llvmMC(t *testing.T, mc string, lines []string) []uint32 {
	cmd := exec.Command(mc, "-triple=aarch64", "-show-encoding")
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() != 0 {
		t.Fatalf("%s: %v\n%s", mc, err, stderr.String())
	}
	var words []uint32
	for _, m := range llvmEncoding.FindAllStringSubmatch(string(out), -1) {
		var w uint32
		for i := 4; i >= 1; i-- {
			b, _ := strconv.ParseUint(m[i], 16, 8)
			w = w<<8 | uint32(b)
		}
		words = append(words, w)
	}
	return words
}

func assemblers() []assembler {
	var found []assembler
	if p, err := exec.LookPath("aarch64-linux-gnu-as"); err == nil {
		found = append(found, assembler{"gnu", p, gnuAs})
	}
	for _, name := range []string{"llvm-mc", "llvm-mc-14", "llvm-mc-15", "llvm-mc-16", "llvm-mc-17", "llvm-mc-18", "llvm-mc-19"} {
		if p, err := exec.LookPath(name); err == nil {
			found = append(found, assembler{"llvm", p, llvmMC})
			break
		}
	}
	return found
}

func TestEncodings(t *testing.T) {
	as := assemblers()
	if len(as) == 0 {
		t.Skip("neither aarch64-linux-gnu-as (binutils-aarch64-linux-gnu) nor llvm-mc (llvm) is installed: cannot check the WORD encodings")
	}
	sets := map[string][]inst{"forms": allForms(), "generated": generatedForms(t)}
	for _, a := range as {
		for _, which := range []string{"forms", "generated"} {
			insts := sets[which]
			t.Run(a.name+"/"+which, func(t *testing.T) {
				lines := make([]string, len(insts))
				for i, in := range insts {
					lines[i] = in.gnu
				}
				words := a.run(t, a.path, lines)
				if len(words) != len(insts) {
					t.Fatalf("%s gave %d words for %d instructions", a.path, len(words), len(insts))
				}
				bad := 0
				for i, in := range insts {
					if words[i] != in.word {
						bad++
						if bad <= 20 {
							t.Errorf("%-40s emitter 0x%08x, %s 0x%08x", in.gnu, in.word, a.name, words[i])
						}
					}
				}
				distinct := map[string]bool{}
				for _, in := range insts {
					distinct[strings.Fields(in.gnu)[0]+" "+arrangementOf(in.gnu)] = true
				}
				t.Logf("%s (%s): %d instructions, %d forms, %d mismatches", a.name, a.path, len(insts), len(distinct), bad)
			})
		}
	}
}

// arrangementOf names an instruction's operand shapes, register numbers
// removed: "v1.4s, v2.4s, v3.s[1]" → "v.4s,v.4s,v.s[1]".
func arrangementOf(gnu string) string {
	f := strings.SplitN(gnu, " ", 2)
	if len(f) < 2 {
		return ""
	}
	return regexp.MustCompile(`[vsd][0-9]+`).ReplaceAllStringFunc(f[1], func(s string) string { return s[:1] })
}

// TestGeneratedIsCommitted regenerates the kernels and compares them with
// the files in the root package, byte for byte.
func TestGeneratedIsCommitted(t *testing.T) {
	asm, stubs, err := generate("softmax")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]byte{"softmax_arm64.s": asm, "softmax_arm64.go": stubs} {
		got, err := os.ReadFile(filepath.Join("..", "..", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the generator's output: run go generate ./... in the root", name)
		}
	}
	again, _, _ := generate("softmax")
	if !bytes.Equal(asm, again) {
		t.Error("two runs of the generator differ")
	}
}
