package softmax

import (
	"fmt"
	"strings"
	"testing"
)

// Every bad argument panics with the function's name and the bad values,
// before anything is written.

func TestPanics(t *testing.T) {
	const sentinel = 42
	buf := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = sentinel
		}
		return s
	}
	x6, x5 := buf(6), buf(5)
	cases := []struct {
		want []string // substrings of the message
		out  []float32
		call func(out []float32)
	}{
		{[]string{"softmax.Softmax:", "len(dst)=5", "len(x)=6"}, x5, func(o []float32) { Softmax(o, x6) }},
		{[]string{"softmax.LogSoftmax:", "len(dst)=5", "len(x)=6"}, x5, func(o []float32) { LogSoftmax(o, x6) }},
		{[]string{"softmax.SoftmaxBackward:", "len(dx)=5", "len(p)=6"}, x5, func(o []float32) { SoftmaxBackward(o, x6, x6) }},
		{[]string{"softmax.SoftmaxBackward:", "len(dy)=5", "len(p)=6"}, x6, func(o []float32) { SoftmaxBackward(o, x6, x5) }},
		{[]string{"softmax.LogSoftmaxBackward:", "len(dy)=5", "len(logp)=6"}, x6, func(o []float32) { LogSoftmaxBackward(o, x6, x5) }},
		{[]string{"softmax.Jacobian:", "len(dst)=5", "len(p)*len(p) = 2*2 = 4"}, x5, func(o []float32) { Jacobian(o, x6[:2]) }},
		// 65536² is 0 in a 32-bit int.
		{[]string{"softmax.Jacobian:", "len(dst)=0", "= 65536*65536 = 4294967296"}, nil, func(o []float32) { Jacobian(o, make([]float32, 65536)) }},
		{[]string{"softmax.SoftmaxRows:", "cols=0"}, x6, func(o []float32) { SoftmaxRows(o, x6, 0) }},
		{[]string{"softmax.SoftmaxRows:", "cols=-2"}, x6, func(o []float32) { SoftmaxRows(o, x6, -2) }},
		{[]string{"softmax.SoftmaxRows:", "len(x)=6", "not a multiple of cols=4"}, x6, func(o []float32) { SoftmaxRows(o, x6, 4) }},
		{[]string{"softmax.SoftmaxRows:", "len(dst)=5", "len(x)=6"}, x5, func(o []float32) { SoftmaxRows(o, x6, 3) }},
		{[]string{"softmax.SoftmaxRows:", "cols=0"}, nil, func(o []float32) { SoftmaxRows[float32](nil, nil, 0) }},
		{[]string{"softmax.LogSoftmaxRows:", "not a multiple of cols=4"}, x6, func(o []float32) { LogSoftmaxRows(o, x6, 4) }},
		{[]string{"softmax.SoftmaxBackwardRows:", "len(p)=6", "not a multiple of cols=5"}, x6, func(o []float32) { SoftmaxBackwardRows(o, x6, x6, 5) }},
		{[]string{"softmax.LogSoftmaxBackwardRows:", "cols=0"}, x6, func(o []float32) { LogSoftmaxBackwardRows(o, x6, x6, 0) }},
		{[]string{"softmax.SoftmaxRowsParallel:", "not a multiple of cols=4"}, x6, func(o []float32) { SoftmaxRowsParallel(o, x6, 4, 2) }},
		{[]string{"softmax.CrossEntropyGrad:", "len(labels)=3", "len(logits)/cols = 6/3 = 2"}, x6, func(o []float32) { CrossEntropyGrad(o, x6, []int{0, 1, 2}, 3) }},
		{[]string{"softmax.CrossEntropyGrad:", "labels[1]=3", "cols=3", "want < 3, or negative"}, x6, func(o []float32) { CrossEntropyGrad(o, x6, []int8{0, 3}, 3) }},
		{[]string{"softmax.CrossEntropyGrad:", "len(grad)=5", "len(logits)=6"}, x5, func(o []float32) { CrossEntropyGrad(o, x6, []int{0, 1}, 3) }},
		{[]string{"softmax.CrossEntropyGradParallel:", "labels[0]=7", "cols=3"}, x6, func(o []float32) { CrossEntropyGradParallel(o, x6, []int64{7, 1}, 3, 2) }},
		{[]string{"softmax.CrossEntropy:", "labels[0]=6", "cols=6"}, nil, func(o []float32) { CrossEntropy(x6, []int16{6}, 6) }},
		{[]string{"softmax.CrossEntropy:", "cols=0"}, nil, func(o []float32) { CrossEntropy(x6, []int{0}, 0) }},
		{[]string{"softmax.SoftCrossEntropyGrad:", "len(targets)=5", "len(logits)=6"}, x6, func(o []float32) { SoftCrossEntropyGrad(o, x6, x5, 3) }},
		{[]string{"softmax.SoftCrossEntropyGrad:", "len(logits)=6", "not a multiple of cols=4"}, x6, func(o []float32) { SoftCrossEntropyGrad(o, x6, x6, 4) }},
	}
	for _, c := range cases {
		name := strings.TrimSuffix(c.want[0], ":")
		t.Run(name, func(t *testing.T) {
			out := append([]float32(nil), c.out...)
			msg := catch(func() { c.call(out) })
			if msg == "" {
				t.Fatalf("no panic, want one mentioning %q", c.want)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("panic %q does not mention %q", msg, w)
				}
			}
			for i, v := range out {
				if v != sentinel {
					t.Fatalf("panic %q after writing: out[%d] = %g", msg, i, v)
				}
			}
		})
	}
}

// TestPanicLabelsCheckedFirst: a bad label in the last row panics before
// any earlier row's gradient is written.
func TestPanicLabelsCheckedFirst(t *testing.T) {
	logits := []float64{1, 2, 3, 4, 5, 6}
	grad := []float64{7, 7, 7, 7, 7, 7}
	msg := catch(func() { CrossEntropyGrad(grad, logits, []int{1, 9}, 3) })
	if !strings.Contains(msg, "labels[1]=9") {
		t.Fatalf("panic %q, want it to name labels[1]=9", msg)
	}
	for i, g := range grad {
		if g != 7 {
			t.Fatalf("grad[%d] = %g written before the panic", i, g)
		}
	}
}

func catch(f func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
		}
	}()
	f()
	return ""
}

func TestChooseSet(t *testing.T) {
	if k := chooseSet(""); k != sets32[0] {
		t.Fatalf("chooseSet(\"\") = %s, want the best set %s", k.name, sets32[0].name)
	}
	if k := chooseSet("generic"); k != &generic32 {
		t.Fatalf("chooseSet(generic) = %s", k.name)
	}
	msg := catch(func() { chooseSet("sse9") })
	for _, w := range []string{`SOFTMAX_IMPL="sse9"`, "no such kernel set", "available here:", "generic"} {
		if !strings.Contains(msg, w) {
			t.Errorf("chooseSet(sse9) panic %q does not mention %q", msg, w)
		}
	}
	// A known set this CPU or build cannot run names the available ones.
	for _, name := range knownSets {
		supported := false
		for _, n := range setNames() {
			supported = supported || n == name
		}
		if supported {
			continue
		}
		msg := catch(func() { chooseSet(name) })
		if !strings.Contains(msg, "cannot run it") || !strings.Contains(msg, "available here: "+strings.Join(setNames(), ", ")) {
			t.Errorf("chooseSet(%s) panic %q", name, msg)
		}
	}
	if Impl() != active32.name {
		t.Fatalf("Impl() = %q, active set %q", Impl(), active32.name)
	}
}
