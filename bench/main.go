// Command bench is the softmax benchmark report: it measures every kernel
// set this CPU supports and every peer (other ways to compute softmax in Go,
// and with -tags peers oneDNN and XNNPACK through cgo), single-threaded,
// over a fixed list of shapes, checks each result against a float64
// reference, prints a table, and saves it with a chart under results/.
//
//	go -C bench run .                   # the full report (under 2 minutes)
//	go -C bench run -tags peers .       # with the C peers
//	go -C bench run . -quick            # seconds; for CI
//	go -C bench run . -compare results/a.json results/b.json
package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gosimd/softmax"
)

// shape is rows×cols: SoftmaxRows over rows rows of cols values.
type shape struct {
	Rows int `json:"rows"`
	Cols int `json:"cols"`
}

func (s shape) String() string { return fmt.Sprintf("%d×%d", s.Rows, s.Cols) }

// Elems is the number of values in the matrix.
func (s shape) Elems() int { return s.Rows * s.Cols }

var (
	// defaultShapes are the standard shapes: classifier heads, vocabularies
	// of common LLMs (32000, 128256), and single rows of 1M and 16M values
	// that do not fit in cache.
	defaultShapes = []shape{{8192, 10}, {512, 1000}, {128, 4096}, {16, 32000}, {4, 128256}, {1, 1 << 20}, {1, 1 << 24}}
	// quickShapes keep every code path (short rows, long rows, tails) but
	// run in milliseconds.
	quickShapes = []shape{{256, 10}, {8, 1000}, {2, 4099}, {1, 65536}}
)

// parseShapes reads "8192x10,512×1000" (x, X, × or * between rows and cols).
func parseShapes(s string) ([]shape, error) {
	var out []shape
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		var r, c string
		ok := false
		for _, sep := range []string{"×", "x", "X", "*"} {
			if r, c, ok = strings.Cut(f, sep); ok {
				break
			}
		}
		if !ok {
			return nil, fmt.Errorf("shape %q: want ROWSxCOLS, e.g. 512x1000", f)
		}
		rows, err1 := strconv.Atoi(strings.TrimSpace(r))
		cols, err2 := strconv.Atoi(strings.TrimSpace(c))
		if err1 != nil || err2 != nil || rows <= 0 || cols <= 0 {
			return nil, fmt.Errorf("shape %q: rows and cols must be positive integers", f)
		}
		if rows*cols > 1<<28 {
			return nil, fmt.Errorf("shape %q: more than 2^28 elements", f)
		}
		out = append(out, shape{rows, cols})
	}
	if len(out) == 0 {
		return nil, errors.New("no shapes given")
	}
	return out, nil
}

// Result is one implementation on one shape.
type Result struct {
	Shape     shape     `json:"shape"`
	Impl      string    `json:"impl"`
	Kind      string    `json:"kind"`             // "set", "peer" or "bound"
	Detail    string    `json:"detail,omitempty"` // what actually ran, if the implementation says
	NsPerElem []float64 `json:"ns_per_elem"`      // one per round
	Accuracy  accuracy  `json:"accuracy"`
	Err       string    `json:"err,omitempty"`
}

// Best is the fastest round's ns/element (+Inf when nothing was timed).
func (r Result) Best() float64 {
	if len(r.NsPerElem) == 0 {
		return math.Inf(1)
	}
	return slices.Min(r.NsPerElem)
}

// Gelems is the best round's throughput in 10^9 elements per second.
func (r Result) Gelems() float64 {
	if b := r.Best(); b > 0 && !math.IsInf(b, 1) {
		return 1 / b
	}
	return 0
}

// Spread is how much slower the median round was than the best one,
// (median − best)/best: near 0 on a quiet machine. The median rather than
// the slowest round, so that one preempted round on a shared machine does
// not hide how repeatable the rest were.
func (r Result) Spread() float64 {
	if len(r.NsPerElem) < 2 {
		return 0
	}
	s := slices.Sorted(slices.Values(r.NsPerElem))
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return med/s[0] - 1
}

// OK reports whether the result has timings.
func (r Result) OK() bool { return r.Err == "" && len(r.NsPerElem) > 0 }

// MaxULPString is the max ULP error, or how many outputs were not finite
// ("—" for a bound, which computes no softmax).
func (r Result) MaxULPString() string {
	if r.Kind == kindBound {
		return "—"
	}
	if r.Accuracy.NonFinite > 0 {
		return fmt.Sprintf("%d NaN/Inf", r.Accuracy.NonFinite)
	}
	return fmtULP(r.Accuracy.MaxULP)
}

func fmtULP(u float64) string {
	switch {
	case u == math.Trunc(u) && u < 1e6:
		return fmt.Sprintf("%.0f", u)
	case u < 10:
		return fmt.Sprintf("%.2f", u)
	}
	return fmt.Sprintf("%.3g", u)
}

// Run is one report: what was measured where. It is what -json writes and
// -compare reads.
type Run struct {
	Schema      int               `json:"schema"`
	Command     string            `json:"command"`
	Date        string            `json:"date"`
	GoVersion   string            `json:"go_version"`
	Commit      string            `json:"commit,omitempty"` // of the package measured, "+dirty" with local changes
	CPU         CPUInfo           `json:"cpu"`
	DefaultImpl string            `json:"default_impl"` // softmax.Impl() with no SOFTMAX_IMPL
	Sets        []string          `json:"sets"`         // kernel sets this CPU runs
	Unsupported map[string]string `json:"unsupported"`  // set → why not
	Peers       []string          `json:"peers"`        // the peers measured (older runs: absent, nil)
	Rounds      int               `json:"rounds"`
	MinTimeMS   float64           `json:"min_time_ms"`
	Interleaved bool              `json:"interleaved,omitempty"` // rounds took turns across implementations (older runs: false)
	WallSeconds float64           `json:"wall_seconds"`
	Results     []Result          `json:"results"`
}

// stdout receives the report (tests catch it); progress goes to stderr.
var stdout io.Writer = os.Stdout

type options struct {
	shapes  []shape
	impls   []string // empty: all
	rounds  int
	minTime time.Duration
	timeout time.Duration // per child
	cpu     int           // -1: no pinning
	out     string        // directory for <slug>.md/.svg/.json; "" for none
	json    string        // extra JSON copy
	quick   bool
}

func main() {
	maybeChild()
	if err := mainErr(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func mainErr(args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	quick := fs.Bool("quick", false, "small shapes and short rounds: finishes in seconds (for CI); writes to a temporary directory unless -out is given")
	shapesFlag := fs.String("shapes", "", "comma-separated ROWSxCOLS list (default the standard shapes)")
	implsFlag := fs.String("impls", "", "comma-separated kernel sets and peers to run (default all); known: "+strings.Join(allNames(), ", "))
	rounds := fs.Int("rounds", 7, "timed rounds per shape and implementation; the best is reported")
	minTime := fs.Duration("mintime", 100*time.Millisecond, "minimum duration of one round")
	out := fs.String("out", "results", "directory for <cpu>.md, <cpu>.svg and <cpu>.json (\"\" writes nothing)")
	cpu := fs.Int("cpu", -1, "pin each implementation's measuring thread to this CPU (Linux), so all of them run on the same core; -1: let the scheduler place them")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up on an implementation whose child spends longer than this on its shapes and rounds, all together")
	jsonFile := fs.String("json", "", "also write the run as JSON to `FILE`")
	compare := fs.Bool("compare", false, "print saved runs (JSON files given as arguments) side by side instead of measuring")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go -C bench run [-tags peers] . [flags]\n       go -C bench run . -compare a.json b.json ...\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *compare {
		if fs.NArg() == 0 {
			return errors.New("-compare needs JSON files saved by earlier runs (results/*.json)")
		}
		var runs []Run
		for _, f := range fs.Args() {
			r, err := loadRun(f)
			if err != nil {
				return err
			}
			runs = append(runs, r)
		}
		fmt.Fprint(stdout, renderCompare(runs, fs.Args()))
		return nil
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (flags go after the package: go -C bench run . -quick)", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	o := options{cpu: *cpu, timeout: *timeout, rounds: *rounds, minTime: *minTime, out: *out, json: *jsonFile, quick: *quick, shapes: defaultShapes}
	if *quick {
		o.shapes = quickShapes
		if !set["rounds"] {
			o.rounds = 2
		}
		if !set["mintime"] {
			o.minTime = 2 * time.Millisecond
		}
		if !set["out"] {
			dir, err := os.MkdirTemp("", "softmax-bench-")
			if err != nil {
				return err
			}
			o.out = dir
		}
	}
	if *shapesFlag != "" {
		s, err := parseShapes(*shapesFlag)
		if err != nil {
			return err
		}
		o.shapes = s
	}
	if o.cpu >= runtime.NumCPU() || o.cpu < -1 {
		return fmt.Errorf("-cpu %d: this machine has CPUs 0 to %d", o.cpu, runtime.NumCPU()-1)
	}
	if o.rounds < 1 {
		return errors.New("-rounds must be at least 1")
	}
	if *implsFlag != "" {
		for _, n := range strings.Split(*implsFlag, ",") {
			n = strings.TrimSpace(n)
			if !slices.Contains(allNames(), n) {
				return fmt.Errorf("-impls: unknown implementation %q; known: %s", n, strings.Join(allNames(), ", "))
			}
			o.impls = append(o.impls, n)
		}
	}
	run, err := measureAll(o, commandLine(args))
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, renderReport(run))
	return writeOutputs(run, o)
}

// allNames lists every implementation the flags accept: the kernel sets
// (supported here or not) and the peers compiled in.
func allNames() []string {
	names := slices.Clone(knownSets)
	for _, p := range allPeers() {
		names = append(names, p.name)
	}
	return names
}

// commandLine reconstructs the command a user types to get this run.
func commandLine(args []string) string {
	var b strings.Builder
	if v := os.Getenv("SOFTMAX_IMPL"); v != "" {
		fmt.Fprintf(&b, "SOFTMAX_IMPL=%s ", v)
	}
	b.WriteString("go -C bench run")
	if peersTag {
		b.WriteString(" -tags peers")
	}
	b.WriteString(" .")
	for _, a := range args {
		b.WriteString(" " + shellQuote(a))
	}
	return b.String()
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=./,:×") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// measureAll asks a child per kernel set whether it runs here, then runs a
// child per supported set and per peer, and gathers their results.
func measureAll(o options, command string) (Run, error) {
	start := time.Now()
	run := Run{
		Schema:      1,
		Command:     command,
		Date:        start.UTC().Format(time.RFC3339),
		GoVersion:   runtime.Version(),
		Commit:      gitCommit(),
		CPU:         detectCPU(),
		DefaultImpl: softmax.Impl(),
		Unsupported: map[string]string{},
		Peers:       []string{},
		Rounds:      o.rounds,
		MinTimeMS:   float64(o.minTime) / float64(time.Millisecond),
		Interleaved: true,
	}
	if os.Getenv("SOFTMAX_IMPL") != "" {
		// The parent was forced too; the default is what a child without
		// SOFTMAX_IMPL picks.
		if r, err := startChild(childSpec{Probe: true, CPU: -1}, nil, time.Minute); err == nil {
			run.DefaultImpl = r.Impl
		}
	}
	wanted := func(name string) bool { return len(o.impls) == 0 || slices.Contains(o.impls, name) }

	var jobs []implementation
	for _, name := range knownSets {
		if !wanted(name) && name != "generic" {
			continue
		}
		r, err := startChild(childSpec{Probe: true, CPU: -1}, []string{"SOFTMAX_IMPL=" + name}, time.Minute)
		switch {
		case err != nil:
			run.Unsupported[name] = err.Error()
		case r.Impl != name:
			run.Unsupported[name] = fmt.Sprintf("asked for %s, got %s", name, r.Impl)
		}
		switch why, no := run.Unsupported[name]; {
		case no && slices.Contains(o.impls, name):
			fmt.Fprintf(os.Stderr, "skipping %s: %s\n", name, why)
		case !no:
			run.Sets = append(run.Sets, name)
			if wanted(name) {
				jobs = append(jobs, setImpl(name))
			}
		}
	}
	for _, p := range allPeers() {
		if wanted(p.name) {
			jobs = append(jobs, p)
			if p.kind == kindPeer {
				run.Peers = append(run.Peers, p.name)
			}
		}
	}
	if len(jobs) == 0 {
		return run, errors.New("nothing to measure: none of -impls runs here")
	}
	for _, l := range headerLines(run) {
		fmt.Fprintln(stdout, l)
	}
	fmt.Fprintln(stdout)
	fmt.Fprintf(os.Stderr, "measuring %d implementations × %d shapes, %d rounds of ≥ %v each, interleaved (progress: elapsed, implementation, shape)\n",
		len(jobs), len(o.shapes), o.rounds, o.minTime)
	workers := make([]*worker, len(jobs))
	for i, im := range jobs {
		workers[i] = startWorker(im, childSpec{Impl: im.name, MinTime: o.minTime, CPU: o.cpu}, o.timeout)
	}
	perImpl := measureInterleaved(workers, o.shapes, o.rounds, start)
	for _, w := range workers {
		w.close()
	}
	for _, rs := range perImpl {
		run.Results = append(run.Results, rs...)
	}
	run.WallSeconds = time.Since(start).Seconds()
	fmt.Fprintf(os.Stderr, "done in %.1fs\n", run.WallSeconds)
	return run, nil
}

// measureInterleaved measures every worker's implementation on every
// shape and returns the results per worker, in shape order. For each shape
// every child first prepares it (and checks its accuracy), then round r of
// every implementation runs in turn, starting with a different one each
// round, so that all of them see the same machine: on a shared VM whose
// speed drifts over tens of seconds, the ratios stay fair. A child that
// dies or hangs loses the shape it was on and every later one; the others
// go on.
func measureInterleaved(workers []*worker, shapes []shape, rounds int, start time.Time) [][]Result {
	out := make([][]Result, len(workers))
	n := len(workers)
	for _, sh := range shapes {
		res := make([]Result, n)
		active := make([]bool, n)
		took := make([]time.Duration, n)
		for i, w := range workers {
			res[i] = Result{Shape: sh, Impl: w.im.name, Kind: w.im.kind}
			a, err := w.call(childCommand{Op: "prepare", Shape: sh})
			switch {
			case err != nil:
				res[i].Err = err.Error()
			default:
				res[i] = a.Result
				res[i].Shape, res[i].Impl, res[i].Kind = sh, w.im.name, w.im.kind
				active[i] = res[i].Err == ""
			}
		}
		for r := range rounds {
			for k := range n {
				i := (r + k) % n
				if !active[i] {
					continue
				}
				if r >= 3 && took[i] > shapeBudget {
					active[i] = false // a slow implementation on a huge shape: 3 rounds will do
					continue
				}
				a, err := workers[i].call(childCommand{Op: "round", Shape: sh})
				if err != nil {
					res[i].Err = err.Error()
					active[i] = false
					continue
				}
				res[i].NsPerElem = append(res[i].NsPerElem, a.Ns)
				took[i] += a.Took
			}
		}
		for i, r := range res {
			ulps := "  max " + r.MaxULPString() + " ULP"
			if r.Kind == kindBound {
				ulps = ""
			}
			status := fmt.Sprintf("%6.3f Gelem/s%s  spread %+.0f%%", r.Gelems(), ulps, 100*r.Spread())
			if r.Err != "" {
				status = "error: " + r.Err
			}
			fmt.Fprintf(os.Stderr, "[%6.1fs] %-12s %-11s %s  (%.1fs)\n",
				time.Since(start).Seconds(), r.Impl, sh, status, took[i].Seconds())
			out[i] = append(out[i], r)
		}
	}
	return out
}

func headerLines(run Run) []string {
	lines := run.CPU.Lines()
	lines = append(lines,
		fmt.Sprintf("Go:       %s %s/%s", run.GoVersion, run.CPU.GOOS, run.CPU.GOARCH),
		fmt.Sprintf("commit:   %s", cmp.Or(run.Commit, "unknown")),
		fmt.Sprintf("softmax:  Impl() = %s; kernel sets here: %s", run.DefaultImpl, strings.Join(run.Sets, ", ")))
	var un []string
	for _, n := range knownSets {
		if _, ok := run.Unsupported[n]; ok {
			un = append(un, n)
		}
	}
	if len(un) > 0 {
		lines = append(lines, fmt.Sprintf("          not on this CPU/build: %s", strings.Join(un, ", ")))
	}
	peers := run.Peers
	if peers == nil { // an older run: it measured every peer built in
		for _, p := range allPeers() {
			if p.kind == kindPeer {
				peers = append(peers, p.name)
			}
		}
	}
	lines = append(lines, fmt.Sprintf("peers:    %s%s", cmp.Or(strings.Join(peers, ", "), "none"), peersNote))
	return lines
}

// builtCommit is the commit a binary was built from, set by bundle.sh
// (-ldflags -X): the binary may run outside a checkout, or inside one of
// another commit.
var builtCommit string

// gitCommit names the commit of the source being measured (bench/ sits in
// the package's repository and builds it through a replace), with
// "+dirty" when tracked files outside bench/results differ from it, or
// builtCommit when the build says.
func gitCommit() string {
	if builtCommit != "" {
		return builtCommit
	}
	out, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return builtCommit
	}
	c := strings.TrimSpace(string(out))
	st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no", "--", ":/", ":(exclude,top)bench/results").Output()
	if err == nil && len(strings.TrimSpace(string(st))) > 0 {
		c += "+dirty"
	}
	return c
}

func writeOutputs(run Run, o options) error {
	var written []string
	if o.out != "" {
		if err := os.MkdirAll(o.out, 0o755); err != nil {
			return err
		}
		base := filepath.Join(o.out, run.CPU.Slug())
		if err := os.WriteFile(base+".md", []byte(renderMarkdown(run, run.CPU.Slug()+".svg")), 0o644); err != nil {
			return err
		}
		if err := drawChart(run, base+".svg"); err != nil {
			return fmt.Errorf("chart: %w", err)
		}
		if err := saveRun(run, base+".json"); err != nil {
			return err
		}
		written = append(written, base+".md", base+".svg", base+".json")
	}
	if o.json != "" {
		if err := saveRun(run, o.json); err != nil {
			return err
		}
		written = append(written, o.json)
	}
	if len(written) > 0 {
		fmt.Fprintf(stdout, "\nwrote %s\n", strings.Join(written, ", "))
	}
	return nil
}

func saveRun(run Run, file string) error {
	b, err := json.MarshalIndent(run, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(file, append(b, '\n'), 0o644)
}

func loadRun(file string) (Run, error) {
	var r Run
	b, err := os.ReadFile(file)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("%s: %w", file, err)
	}
	if r.Schema != 1 {
		return r, fmt.Errorf("%s: not a saved bench run (schema %d)", file, r.Schema)
	}
	return r, nil
}
