package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
// process per implementation is the only way to run them all in one
// report. The child is this same binary; the environment variable below
// carries its job. A probe child answers with one marked JSON line on
// stdout and exits. A measuring child stays alive for the whole run and
// takes commands on stdin, one JSON line each ("prepare" a shape, time one
// "round" of it, "done"), answering each with one marked JSON line on
// stdout; the parent interleaves the rounds of all children, so that every
// implementation sees the same machine (shared VMs drift by tens of
// percent over tens of seconds). Any panic goes straight to the shared
// stderr.
const (
	childEnv     = "SOFTMAX_BENCH_CHILD"
	answerMarker = "SOFTMAX_BENCH_ANSWER " // one childAnswer
	replyMarker  = "SOFTMAX_BENCH_REPLY "  // the probe's childReply
)

// childSpec is a child's job.
type childSpec struct {
	Impl    string        `json:"impl"`
	Probe   bool          `json:"probe"` // only report Impl() and exit
	MinTime time.Duration `json:"min_time"`
	CPU     int           `json:"cpu"` // pin the measuring thread to this CPU; -1: don't
}

// childCommand is one line on a measuring child's stdin.
type childCommand struct {
	Op    string `json:"op"` // "prepare", "round" or "done"
	Shape shape  `json:"shape"`
}

// childAnswer is a measuring child's answer to one command.
type childAnswer struct {
	Result Result        `json:"result"` // prepare: accuracy, detail, err
	Ns     float64       `json:"ns"`     // round: ns/element
	Took   time.Duration `json:"took"`   // round: its length
	Err    string        `json:"err"`    // a failure of the command
}

// childReply is a child's answer.
type childReply struct {
	Impl string `json:"impl"` // softmax.Impl() in the child
	Err  string `json:"err"`  // a failure of the whole child
}

// maybeChild runs the child's job and exits when this process is a child.
func maybeChild() {
	spec := os.Getenv(childEnv)
	if spec == "" {
		return
	}
	var s childSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		b, _ := json.Marshal(childReply{Err: "bad child spec: " + err.Error()})
		fmt.Printf("\n%s%s\n", replyMarker, b)
		os.Exit(0)
	}
	if s.Probe {
		b, _ := json.Marshal(childReply{Impl: softmax.Impl()})
		fmt.Printf("\n%s%s\n", replyMarker, b)
		os.Exit(0)
	}
	serveChild(s, os.Stdin, os.Stdout)
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

// serveChild answers the parent's commands until "done" or the end of
// its input. Every command runs on the one locked (and maybe pinned)
// thread.
func serveChild(s childSpec, in io.Reader, out io.Writer) {
	answer := func(a childAnswer) {
		b, _ := json.Marshal(a)
		fmt.Fprintf(out, "\n%s%s\n", answerMarker, b)
	}
	fail := ""
	im, ok := findImpl(s.Impl)
	if !ok {
		fail = "unknown implementation " + s.Impl
	}
	runtime.LockOSThread()
	if fail == "" && s.CPU >= 0 {
		if err := pinThread(s.CPU); err != nil {
			fail = fmt.Sprintf("-cpu %d: %v", s.CPU, err)
		}
	}
	var p *prepared
	defer func() {
		if p != nil {
			p.release()
		}
	}()
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		var c childCommand
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			answer(childAnswer{Err: "bad command: " + err.Error()})
			continue
		}
		if fail != "" && c.Op != "done" {
			answer(childAnswer{Err: fail})
			continue
		}
		switch c.Op {
		case "prepare":
			if p != nil {
				p.release()
				p = nil
				debug.FreeOSMemory()
			}
			var r Result
			p, r = prepare(im, c.Shape)
			answer(childAnswer{Result: r})
		case "round":
			if p == nil || p.shape != c.Shape {
				answer(childAnswer{Err: fmt.Sprintf("round of %v before prepare", c.Shape)})
				continue
			}
			ns, took := p.round(s.MinTime)
			answer(childAnswer{Ns: ns, Took: took})
		case "done":
			return
		default:
			answer(childAnswer{Err: "unknown command " + c.Op})
		}
	}
}

// shapeBudget bounds the timed rounds of one implementation on one shape
// once 3 rounds are done, so that slow implementations on the 16M-element
// shape (the pure-Go ones take most of a second per call) keep the default
// report under two minutes.
const shapeBudget = 2 * time.Second

// prepared is one implementation readied on one shape in a child.
type prepared struct {
	shape   shape
	run     func()
	release func()
	n       float64 // elements
}

// prepare readies an implementation on a shape and makes one untimed call,
// whose output is checked against the reference; the Result carries that
// check (no timings). p is nil when the implementation failed.
func prepare(im implementation, sh shape) (*prepared, Result) {
	res := Result{Shape: sh, Impl: im.name, Kind: im.kind}
	x := genLogits(sh.Rows, sh.Cols)
	ref := reference(x, sh.Cols)
	run, out, release, err := im.prepare(x, sh.Cols)
	if err != nil {
		res.Err = err.Error()
		return nil, res
	}
	run()
	if im.kind != kindBound {
		res.Accuracy = ulpStats(out, ref)
	}
	if im.detail != nil {
		res.Detail = im.detail()
	}
	ref = nil
	runtime.GC()
	return &prepared{shape: sh, run: run, release: release, n: float64(len(x))}, res
}

// round runs the implementation back to back for at least minTime and
// gives the ns/element of the round and its length.
func (p *prepared) round(minTime time.Duration) (float64, time.Duration) {
	calls := 0
	t0 := time.Now()
	var el time.Duration
	for el < minTime || calls == 0 {
		p.run()
		calls++
		el = time.Since(t0)
	}
	return float64(el.Nanoseconds()) / (float64(calls) * p.n), el
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

// startChild runs this binary as a probe child with spec and env and
// returns its reply; its stderr is captured and returned with the error.
func startChild(spec childSpec, env []string, timeout time.Duration) (childReply, error) {
	exe, err := os.Executable()
	if err != nil {
		return childReply{}, err
	}
	b, _ := json.Marshal(spec)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(childEnviron(env...), childEnv+"="+string(b))
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	runErr := cmd.Run()
	var reply childReply
	found := false
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), replyMarker); ok {
			found = json.Unmarshal([]byte(rest), &reply) == nil
		}
	}
	if ctx.Err() != nil {
		return reply, fmt.Errorf("killed after %v", timeout)
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

// worker is the parent's side of a measuring child. The child may spend
// at most budget (-timeout) answering commands, all of them together; a
// child that overruns it is killed, and one that dies or is killed fails
// every later command with the error that ended it.
type worker struct {
	im      implementation
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	answers chan string // marked lines from stdout; closed at its end
	budget  time.Duration
	timeout time.Duration
	err     error // non-nil once the child is gone
}

// startWorker starts a measuring child for im; its stderr is the parent's.
func startWorker(im implementation, spec childSpec, timeout time.Duration) *worker {
	w := &worker{im: im, budget: timeout, timeout: timeout, answers: make(chan string, 1)}
	exe, err := os.Executable()
	if err != nil {
		w.err = err
		return w
	}
	b, _ := json.Marshal(spec)
	w.cmd = exec.Command(exe)
	w.cmd.Env = append(childEnviron(im.env...), childEnv+"="+string(b))
	w.cmd.Stderr = os.Stderr
	if w.stdin, err = w.cmd.StdinPipe(); err != nil {
		w.err = err
		return w
	}
	out, err := w.cmd.StdoutPipe()
	if err != nil {
		w.err = err
		return w
	}
	if err := w.cmd.Start(); err != nil {
		w.err = err
		return w
	}
	go func() {
		defer close(w.answers)
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 64<<20)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), answerMarker); ok {
				w.answers <- rest
			}
		}
	}()
	return w
}

// call sends one command and waits for its answer within what is left of
// the child's budget.
func (w *worker) call(c childCommand) (childAnswer, error) {
	var a childAnswer
	if w.err != nil {
		return a, w.err
	}
	b, _ := json.Marshal(c)
	t0 := time.Now()
	if _, err := w.stdin.Write(append(b, '\n')); err != nil {
		return a, w.fail(nil)
	}
	timer := time.NewTimer(w.budget)
	defer timer.Stop()
	select {
	case line, ok := <-w.answers:
		w.budget -= time.Since(t0)
		if !ok {
			return a, w.fail(nil)
		}
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			return a, fmt.Errorf("bad answer: %v", err)
		}
		if a.Err != "" {
			return a, errors.New(a.Err)
		}
		return a, nil
	case <-timer.C:
		return a, w.fail(fmt.Errorf("killed after %v (-timeout)", w.timeout))
	}
}

// fail ends the child (if it is not gone already) and records why: err,
// or how it exited.
func (w *worker) fail(err error) error {
	w.stdin.Close()
	if err != nil {
		w.cmd.Process.Kill()
	}
	waitErr := w.cmd.Wait()
	switch {
	case err != nil:
	case waitErr != nil:
		err = fmt.Errorf("child died: %v", waitErr)
	default:
		err = errors.New("child exited early")
	}
	w.err = err
	return err
}

// close tells the child it is done and waits for it.
func (w *worker) close() {
	if w.err != nil {
		return
	}
	b, _ := json.Marshal(childCommand{Op: "done"})
	w.stdin.Write(append(b, '\n'))
	w.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- w.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		w.cmd.Process.Kill()
		<-done
	}
	w.err = errors.New("closed")
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return strings.TrimPrefix(l, "panic: ")
		}
	}
	return ""
}
