package main

import (
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The smoke test re-executes the test binary as the report's children, so
// the test binary must act as a child when asked to.
func TestMain(m *testing.M) {
	maybeChild()
	os.Exit(m.Run())
}

func TestULP(t *testing.T) {
	if got := ulp32(1); got != 0x1p-23 {
		t.Errorf("ulp32(1) = %g, want 2^-23", got)
	}
	if got := ulp32(-1.5); got != 0x1p-23 {
		t.Errorf("ulp32(-1.5) = %g, want 2^-23", got)
	}
	if got := ulp32(0x1p-126); got != 0x1p-149 {
		t.Errorf("ulp32(2^-126) = %g, want 2^-149", got)
	}
	next := math.Nextafter32(0.3, 1)
	for _, c := range []struct {
		got, ref float32
		want     float64
	}{
		{1, 1, 0},
		{next, 0.3, 1},
		{math.Nextafter32(next, 1), 0.3, 2},
		// Distances are counted in the spacing at ref, which halves below a
		// power of two: one float32 step on either side of 0.25 is 2 + 1.
		{math.Nextafter32(0.25, 1), math.Nextafter32(0.25, 0), 3},
		{float32(math.NaN()), 0.5, math.Inf(1)},
		{float32(math.Inf(1)), 0.5, math.Inf(1)},
	} {
		if got := ulpError(c.got, c.ref); got != c.want {
			t.Errorf("ulpError(%g, %g) = %g, want %g", c.got, c.ref, got, c.want)
		}
	}

	ref := []float32{0.5, 0.25, 0x1p-127, 0} // the last two are below 2^-126: skipped
	got := []float32{math.Nextafter32(0.5, 1), 0.25, 1, 1}
	a := ulpStats(got, ref)
	if a.Compared != 2 || a.MaxULP != 1 || a.MeanULP != 0.5 || a.NonFinite != 0 {
		t.Errorf("ulpStats = %+v, want 2 compared, max 1, mean 0.5", a)
	}
	got[1] = float32(math.NaN())
	a = ulpStats(got, ref)
	if a.NonFinite != 1 || a.MaxULP != 1 || a.MeanULP != 1 {
		t.Errorf("ulpStats with a NaN = %+v, want 1 non-finite, max 1, mean 1", a)
	}
}

func TestReference(t *testing.T) {
	x := genLogits(3, 1000)
	if y := genLogits(3, 1000); !slices.Equal(x, y) {
		t.Fatal("genLogits is not deterministic")
	}
	ref := reference(x, 1000)
	for r := 0; r < 3; r++ {
		s := 0.0
		for _, v := range ref[r*1000 : (r+1)*1000] {
			s += float64(v)
		}
		if math.Abs(s-1) > 1e-5 {
			t.Errorf("row %d sums to %v", r, s)
		}
	}
	// The peers are measured against the same reference; the plain Go
	// peer must be close to it (a broken reference would show here).
	got := make([]float32, len(x))
	run, out, _, _ := prepareRows(plainSoftmax)(x, 1000)
	run()
	copy(got, out)
	if a := ulpStats(got, ref); a.MaxULP > 64 || a.NonFinite > 0 || a.Compared < 2000 {
		t.Errorf("plain Go vs reference: %+v", a)
	}
}

func TestParseShapes(t *testing.T) {
	got, err := parseShapes("8192x10, 512×1000,4X5,1*16777216")
	want := []shape{{8192, 10}, {512, 1000}, {4, 5}, {1, 16777216}}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("parseShapes = %v, %v; want %v", got, err, want)
	}
	for _, bad := range []string{"", "10", "0x5", "5x-1", "ax5", "5x", "65536x65536"} {
		if s, err := parseShapes(bad); err == nil {
			t.Errorf("parseShapes(%q) = %v, want an error", bad, s)
		}
	}
	if s := (shape{16, 32000}).String(); s != "16×32000" {
		t.Errorf("String = %q", s)
	}
}

func TestSlug(t *testing.T) {
	for _, c := range []struct {
		cpu  CPUInfo
		want string
	}{
		{CPUInfo{Brand: "AMD EPYC 7B13 64-Core Processor"}, "amd-epyc-7b13-64-core"},
		{CPUInfo{Brand: "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz"}, "intel-xeon-platinum-8375c-2.90ghz"},
		{CPUInfo{Brand: "AMD EPYC", Family: 25, Model: 1}, "amd-epyc-f25m1"},
		{CPUInfo{Vendor: "Ampere", GOARCH: "arm64", Family: 0, Model: 0}, "arm64-ampere-f0m0"},
	} {
		if got := c.cpu.Slug(); got != c.want {
			t.Errorf("Slug(%q) = %q, want %q", c.cpu.Brand, got, c.want)
		}
	}
}

func TestSpread(t *testing.T) {
	r := Result{NsPerElem: []float64{2, 1, 10, 1.5}}
	if r.Best() != 1 || r.Gelems() != 1 || r.Spread() != 0.75 {
		t.Errorf("best %v gelems %v spread %v; want 1, 1, 0.75", r.Best(), r.Gelems(), r.Spread())
	}
}

func fakeRun(brand, def string, results ...Result) Run {
	return Run{Schema: 1, CPU: CPUInfo{Brand: brand, GOOS: "linux", GOARCH: "amd64"}, DefaultImpl: def, Results: results}
}

func res(sh shape, impl, kind string, ns float64) Result {
	return Result{Shape: sh, Impl: impl, Kind: kind, NsPerElem: []float64{ns}}
}

func TestCompareTable(t *testing.T) {
	a := fakeRun("CPU Alpha 1", "avx512",
		res(shape{8, 10}, "avx512", kindSet, 0.25),
		res(shape{8, 10}, "generic", kindSet, 2),
		res(shape{8, 10}, "vek", kindPeer, 1))
	b := fakeRun("CPU Beta 2 with a very long brand name indeed", "avx2",
		res(shape{8, 10}, "avx2", kindSet, 0.5),
		res(shape{8, 10}, "generic", kindSet, 4),
		Result{Shape: shape{8, 10}, Impl: "vek", Kind: kindPeer, Err: "boom"},
		res(shape{1, 100}, "avx2", kindSet, 0.2))
	out := renderCompare([]Run{a, b}, []string{"a.json", "b.json"})
	for _, want := range []string{
		"[1] CPU Alpha 1 — linux/amd64, default set avx512",
		"(b.json)",
		"| shape | implementation    | [1] CPU Alpha 1 | [2] CPU Beta 2 with a very… | [2] ÷ [1] |",
		"| 8×10  | softmax (default) |    4.000 avx512 |                  2.000 avx2 |     0.50× |",
		"| 8×10  | avx512            |           4.000 |                           — |         — |",
		"| 8×10  | generic           |           0.500 |                       0.250 |     0.50× |",
		"| 8×10  | vek               |           1.000 |                       error |         — |",
		"| 1×100 | softmax (default) |               — |                  5.000 avx2 |         — |",
		"| 1×100 | avx2              |               — |                       5.000 |         — |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("compare table lacks %q:\n%s", want, out)
		}
	}
	// Sets come before peers, best set first.
	if strings.Index(out, "| avx512") > strings.Index(out, "| generic") || strings.Index(out, "| generic") > strings.Index(out, "| vek") {
		t.Errorf("rows out of order:\n%s", out)
	}
}

func TestReportTables(t *testing.T) {
	run := fakeRun("CPU", "avx2",
		res(shape{8, 10}, "avx2", kindSet, 0.5),
		res(shape{8, 10}, "generic", kindSet, 4),
		res(shape{8, 10}, "vek", kindPeer, 1),
		res(shape{8, 10}, "plain-go", kindPeer, 2))
	out := renderReport(run)
	for _, want := range []string{
		"| 8×10  | avx2        |   2.000 |       0 | vek          |   1.000 |       0 |      2.00× |",
		"| 8×10  | avx2            |   2.000 |   0.500 |    +0% |       0 |    0.000 |      8.00× |        2.00× |",
		"| 8×10  | plain-go (peer) |   0.500 |   2.000 |    +0% |       0 |    0.000 |      2.00× |        0.50× |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

// TestQuick runs the report as CI does (-quick), through child processes,
// and checks what it writes.
func TestQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the benchmark")
	}
	dir := t.TempDir()
	js := filepath.Join(dir, "copy.json")
	var out strings.Builder
	stdout = &out
	defer func() { stdout = os.Stdout }()
	if err := mainErr([]string{"-quick", "-out", dir, "-json", js}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CPU:", "features:", "Impl() = ", "Summary", "| 1×65536 | generic "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	slug := detectCPU().Slug()
	for _, ext := range []string{".md", ".svg", ".json"} {
		b, err := os.ReadFile(filepath.Join(dir, slug+ext))
		if err != nil || len(b) == 0 {
			t.Fatalf("%s%s: %v (%d bytes)", slug, ext, err, len(b))
		}
		if ext == ".svg" && !strings.Contains(string(b), "<svg") {
			t.Errorf("%s.svg is not SVG", slug)
		}
	}
	run, err := loadRun(js)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(run.Sets, "generic") {
		t.Errorf("sets %v lack generic", run.Sets)
	}
	// No CPU runs avx512, avx2 and neon: the probe must have turned at
	// least one down, and Impl() must be one of the sets found.
	if len(run.Unsupported) == 0 || !slices.Contains(run.Sets, run.DefaultImpl) {
		t.Errorf("sets %v, unsupported %v, default %s", run.Sets, run.Unsupported, run.DefaultImpl)
	}
	want := len(quickShapes) * (len(run.Sets) + len(allPeers()))
	if len(run.Results) != want {
		t.Errorf("%d results, want %d", len(run.Results), want)
	}
	for _, r := range run.Results {
		if !r.OK() || len(r.NsPerElem) != 2 || (r.Accuracy.Compared == 0) != (r.Kind == kindBound) || r.Accuracy.NonFinite > 0 {
			t.Errorf("%s %s: %+v", r.Impl, r.Shape, r)
		}
		if r.Kind == kindSet && r.Accuracy.MaxULP > 4 {
			t.Errorf("kernel set %s on %s: max %g ULP, over the promised 4", r.Impl, r.Shape, r.Accuracy.MaxULP)
		}
		if r.Kind == kindSet && r.Detail != r.Impl {
			t.Errorf("child for %s ran %s", r.Impl, r.Detail)
		}
	}
	if out := renderReport(run); !strings.Contains(out, "| set ÷ copy |") || !strings.Contains(out, "| copy (no softmax) |") {
		t.Errorf("report without the copy bound:\n%s", out)
	}
	if out := renderCompare([]Run{run, run}, []string{js, js}); !strings.Contains(out, "[2] ") {
		t.Errorf("compare of a saved run:\n%s", out)
	}
}

// Peers that fail on purpose, registered only in the test binary and only
// when the test asks (the children inherit the variable).
const faultyEnv = "SOFTMAX_BENCH_TEST_FAULTY"

func init() {
	if os.Getenv(faultyEnv) == "" {
		return
	}
	faulty := func(name string, bad int, fail func()) implementation {
		return implementation{name: name, kind: kindPeer, prepare: func(x []float32, cols int) (func(), []float32, func(), error) {
			run, out, release, err := prepareRows(plainSoftmax)(x, cols)
			if cols == bad {
				fail()
			}
			return run, out, release, err
		}}
	}
	goPeers = append(goPeers,
		faulty("crasher", 20, func() { panic("crasher: deliberate crash") }),
		faulty("hanger", 20, func() { time.Sleep(time.Minute) }))
}

// TestFaultyChild checks that a child that crashes or hangs costs only its
// own unfinished shapes: the results it sent survive, the rest are marked
// as errors, and the report is still written.
func TestFaultyChild(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes")
	}
	t.Setenv(faultyEnv, "1")
	goPeers = goPeers[:len(goPeers):len(goPeers)]
	defer func(p []implementation) { goPeers = p }(goPeers)
	goPeers = append(goPeers, implementation{name: "crasher", kind: kindPeer}, implementation{name: "hanger", kind: kindPeer})

	dir := t.TempDir()
	stdout = io.Discard
	defer func() { stdout = os.Stdout }()
	js := filepath.Join(dir, "run.json")
	err := mainErr([]string{"-impls", "crasher,hanger", "-shapes", "2x10,2x20,2x30", "-rounds", "1",
		"-mintime", "1ms", "-timeout", "1500ms", "-out", dir, "-json", js})
	if err != nil {
		t.Fatal(err)
	}
	run, err := loadRun(js)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"crasher", "hanger"} {
		for _, c := range []struct {
			cols int
			ok   bool
		}{{10, true}, {20, false}, {30, false}} {
			r, found := find(run.Results, shape{2, c.cols}, name)
			if !found || r.OK() != c.ok {
				t.Errorf("%s on 2×%d: found %v, %+v; want ok=%v", name, c.cols, found, r, c.ok)
			}
		}
	}
	if r, _ := find(run.Results, shape{2, 20}, "hanger"); !strings.Contains(r.Err, "-timeout") {
		t.Errorf("hanger's error %q does not name the timeout", r.Err)
	}
}

// Peers that log each call to a file, registered only in the test binary
// and only when the test asks (the children inherit the variable).
const orderEnv = "SOFTMAX_BENCH_TEST_ORDER"

func init() {
	file := os.Getenv(orderEnv)
	if file == "" {
		return
	}
	logger := func(name string) implementation {
		return implementation{name: name, kind: kindPeer, prepare: func(x []float32, cols int) (func(), []float32, func(), error) {
			run, out, release, err := prepareRows(plainSoftmax)(x, cols)
			logged := func() {
				f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
				if err == nil {
					f.WriteString(strings.TrimPrefix(name, "log-") + " ")
					f.Close()
				}
				run()
			}
			return logged, out, release, err
		}}
	}
	goPeers = append(goPeers, logger("log-a"), logger("log-b"), logger("log-c"))
}

// TestInterleaved checks that the rounds of all implementations take
// turns, the first one rotating each round, after one untimed (checked)
// call of each per shape.
func TestInterleaved(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes")
	}
	dir := t.TempDir()
	log := filepath.Join(dir, "order")
	t.Setenv(orderEnv, log)
	goPeers = goPeers[:len(goPeers):len(goPeers)]
	defer func(p []implementation) { goPeers = p }(goPeers)
	for _, n := range []string{"log-a", "log-b", "log-c"} {
		goPeers = append(goPeers, implementation{name: n, kind: kindPeer})
	}
	stdout = io.Discard
	defer func() { stdout = os.Stdout }()
	err := mainErr([]string{"-impls", "log-a,log-b,log-c", "-shapes", "2x10,1x30", "-rounds", "4",
		"-mintime", "0", "-out", ""})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	// Per shape: the checked calls a b c, then rounds abc, bca, cab, abc.
	shape := "a b c a b c b c a c a b a b c "
	if got, want := string(b), shape+shape; got != want {
		t.Errorf("calls in order %q, want %q", got, want)
	}
}
