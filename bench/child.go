package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/gosimd/softmax"
)

// Every implementation is measured in a child process: the kernel set is
// fixed at package init from SOFTMAX_IMPL, and C libraries read their
// settings (OMP_NUM_THREADS, DNNL_MAX_CPU_ISA) when they initialise, so a
// fresh process per implementation is the only way to run them all in one
// report. The child is this same binary; the environment variable below
// carries its job, and it answers with marked JSON lines on stdout: one per
// shape as soon as it is measured (so a crash loses only the shape it
// happened on) and a last one for the whole job. Progress and any panic go
// straight to the shared stderr.
const (
	childEnv     = "SOFTMAX_BENCH_CHILD"
	resultMarker = "SOFTMAX_BENCH_RESULT " // one Result
	replyMarker  = "SOFTMAX_BENCH_REPLY "  // the childReply, without results
)

// childSpec is a child's job.
type childSpec struct {
	Impl    string        `json:"impl"`
	Probe   bool          `json:"probe"`   // only report Impl() and exit
	Timeout time.Duration `json:"timeout"` // the parent kills the child after this
	Shapes  []shape       `json:"shapes"`
	Rounds  int           `json:"rounds"`
	MinTime time.Duration `json:"min_time"`
	CPU     int           `json:"cpu"`   // pin the measuring thread to this CPU; -1: don't
	Start   time.Time     `json:"start"` // the parent's start, for progress
}

// childReply is a child's answer.
type childReply struct {
	Impl    string   `json:"impl"` // softmax.Impl() in the child
	Results []Result `json:"-"`    // one per shape, sent one by one
	Err     string   `json:"err"`  // a failure of the whole child
}

// maybeChild runs the child's job and exits when this process is a child.
func maybeChild() {
	spec := os.Getenv(childEnv)
	if spec == "" {
		return
	}
	var s childSpec
	var reply childReply
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		reply.Err = "bad child spec: " + err.Error()
	} else {
		reply = runChild(s)
	}
	b, _ := json.Marshal(reply)
	fmt.Printf("\n%s%s\n", replyMarker, b)
	os.Exit(0)
}

func findImpl(name string) (implementation, bool) {
	if slices.Contains(knownSets, name) {
		return setImpl(name), true
	}
	for _, p := range allPeers() {
		if p.name == name {
			return p, true
		}
	}
	return implementation{}, false
}

func runChild(s childSpec) childReply {
	reply := childReply{Impl: softmax.Impl()}
	if s.Probe {
		return reply
	}
	im, ok := findImpl(s.Impl)
	if !ok {
		reply.Err = "unknown implementation " + s.Impl
		return reply
	}
	runtime.LockOSThread()
	if s.CPU >= 0 {
		if err := pinThread(s.CPU); err != nil {
			reply.Err = fmt.Sprintf("-cpu %d: %v", s.CPU, err)
			return reply
		}
	}
	for _, sh := range s.Shapes {
		t := time.Now()
		r := measure(im, sh, s.Rounds, s.MinTime)
		b, _ := json.Marshal(r)
		fmt.Printf("\n%s%s\n", resultMarker, b)
		status := fmt.Sprintf("%6.3f Gelem/s  max %s ULP", r.Gelems(), r.MaxULPString())
		if r.Err != "" {
			status = "error: " + r.Err
		}
		fmt.Fprintf(os.Stderr, "[%6.1fs] %-12s %-11s %s  (%.1fs)\n",
			time.Since(s.Start).Seconds(), im.name, sh, status, time.Since(t).Seconds())
		debug.FreeOSMemory()
	}
	return reply
}

// shapeBudget bounds the timed rounds of one implementation on one shape
// once 3 rounds are done, so that slow implementations on the 16M-element
// shape (the pure-Go ones take most of a second per call) keep the default
// report under two minutes.
const shapeBudget = 2 * time.Second

// measure times one implementation on one shape: one untimed call whose
// output is checked against the reference, then rounds, each running the
// implementation back to back for at least minTime; each round gives one
// ns/element figure.
func measure(im implementation, sh shape, rounds int, minTime time.Duration) Result {
	res := Result{Shape: sh, Impl: im.name, Kind: im.kind}
	x := genLogits(sh.Rows, sh.Cols)
	ref := reference(x, sh.Cols)
	run, out, release, err := im.prepare(x, sh.Cols)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer release()
	run()
	res.Accuracy = ulpStats(out, ref)
	if im.detail != nil {
		res.Detail = im.detail()
	}
	ref = nil
	runtime.GC()
	n := float64(len(x))
	start := time.Now()
	for i := range rounds {
		if i >= 3 && time.Since(start) > shapeBudget {
			break // a slow implementation on a huge shape: 3 rounds will do
		}
		calls := 0
		t0 := time.Now()
		var el time.Duration
		for el < minTime || calls == 0 {
			run()
			calls++
			el = time.Since(t0)
		}
		res.NsPerElem = append(res.NsPerElem, float64(el.Nanoseconds())/(float64(calls)*n))
	}
	return res
}

// childEnviron is the parent's environment with the implementation's
// settings on top; OMP_NUM_THREADS=1 keeps every library single-threaded.
func childEnviron(extra ...string) []string {
	env := []string{}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "SOFTMAX_IMPL", "DNNL_MAX_CPU_ISA", "OMP_NUM_THREADS", childEnv:
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "OMP_NUM_THREADS=1")
	return append(env, extra...)
}

// startChild runs this binary as a child with spec and env. When quiet,
// its stderr is captured and returned with the error instead of shown.
func startChild(spec childSpec, env []string, quiet bool) (childReply, error) {
	exe, err := os.Executable()
	if err != nil {
		return childReply{}, err
	}
	b, _ := json.Marshal(spec)
	ctx := context.Background()
	if spec.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, spec.Timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(childEnviron(env...), childEnv+"="+string(b))
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = os.Stderr
	if quiet {
		cmd.Stderr = &stderr
	}
	runErr := cmd.Run()
	var reply childReply
	found := false
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(nil, 64<<20)
	var results []Result
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), replyMarker); ok {
			found = json.Unmarshal([]byte(rest), &reply) == nil
		}
		if rest, ok := strings.CutPrefix(sc.Text(), resultMarker); ok {
			var r Result
			if json.Unmarshal([]byte(rest), &r) == nil {
				results = append(results, r)
			}
		}
	}
	reply.Results = results
	if ctx.Err() != nil {
		return reply, fmt.Errorf("killed after %v (-timeout)", spec.Timeout)
	}
	if !found {
		msg := firstLine(stderr.String())
		if runErr != nil {
			if msg == "" {
				msg = runErr.Error()
			} else {
				msg += " (" + runErr.Error() + ")"
			}
		}
		if msg == "" {
			msg = "child gave no result"
		}
		return reply, fmt.Errorf("%s", msg)
	}
	if reply.Err != "" {
		return reply, fmt.Errorf("%s", reply.Err)
	}
	return reply, nil
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return strings.TrimPrefix(l, "panic: ")
		}
	}
	return ""
}
