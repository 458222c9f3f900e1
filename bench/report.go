package main

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// table renders as a Markdown table whose columns are padded, so the same
// text reads well in a terminal and renders on GitHub.
type table struct {
	header []string
	right  []bool // right-align column i
	rows   [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) String() string {
	w := make([]int, len(t.header))
	for _, r := range append([][]string{t.header}, t.rows...) {
		for i, c := range r {
			w[i] = max(w[i], utf8.RuneCountInString(c), 3)
		}
	}
	var b strings.Builder
	line := func(cells []string) {
		b.WriteString("|")
		for i := range t.header {
			c := ""
			if i < len(cells) {
				c = cells[i]
			}
			pad := strings.Repeat(" ", w[i]-utf8.RuneCountInString(c))
			if i < len(t.right) && t.right[i] {
				b.WriteString(" " + pad + c + " |")
			} else {
				b.WriteString(" " + c + pad + " |")
			}
		}
		b.WriteString("\n")
	}
	line(t.header)
	b.WriteString("|")
	for i := range t.header {
		if i < len(t.right) && t.right[i] {
			b.WriteString(" " + strings.Repeat("-", w[i]-1) + ": |")
		} else {
			b.WriteString(" " + strings.Repeat("-", w[i]) + " |")
		}
	}
	b.WriteString("\n")
	for _, r := range t.rows {
		line(r)
	}
	return b.String()
}

// shapesOf lists the shapes of a run in the order they were measured.
func shapesOf(results []Result) []shape {
	var s []shape
	for _, r := range results {
		if !slices.Contains(s, r.Shape) {
			s = append(s, r.Shape)
		}
	}
	return s
}

// implsOf lists the implementations of a run: kernel sets first (best
// first), then peers, each in the order measured.
func implsOf(results []Result) []string {
	var sets, peers []string
	for _, r := range results {
		if r.Kind == kindSet && !slices.Contains(sets, r.Impl) {
			sets = append(sets, r.Impl)
		}
		if r.Kind != kindSet && !slices.Contains(peers, r.Impl) {
			peers = append(peers, r.Impl)
		}
	}
	slices.SortStableFunc(sets, func(a, b string) int { return slices.Index(knownSets, a) - slices.Index(knownSets, b) })
	return append(sets, peers...)
}

func find(results []Result, sh shape, impl string) (Result, bool) {
	for _, r := range results {
		if r.Shape == sh && r.Impl == impl {
			return r, true
		}
	}
	return Result{}, false
}

// bestOf is the fastest result of the given kind on a shape.
func bestOf(results []Result, sh shape, kind string) (Result, bool) {
	var best Result
	found := false
	for _, r := range results {
		if r.Shape == sh && r.Kind == kind && r.OK() && (!found || r.Gelems() > best.Gelems()) {
			best, found = r, true
		}
	}
	return best, found
}

func meanULP(r Result) string {
	if r.Kind == kindBound {
		return "—"
	}
	return fmt.Sprintf("%.3f", r.Accuracy.MeanULP)
}

func ratio(a, b float64) string {
	if a <= 0 || b <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// summaryTable is the headline: per shape, the fastest kernel set against
// the fastest peer, and the copy that bounds both when the batch is
// memory-bound (a column only in runs that measured it).
func summaryTable(run Run) *table {
	t := &table{
		header: []string{"shape", "fastest set", "Gelem/s", "max ULP", "fastest peer", "Gelem/s", "max ULP", "set ÷ peer"},
		right:  []bool{false, false, true, true, false, true, true, true},
	}
	withCopy := slices.ContainsFunc(run.Results, func(r Result) bool { return r.Kind == kindBound })
	if withCopy {
		t.header = append(t.header, "copy Gelem/s", "set ÷ copy")
		t.right = append(t.right, true, true)
	}
	for _, sh := range shapesOf(run.Results) {
		s, okS := bestOf(run.Results, sh, kindSet)
		p, okP := bestOf(run.Results, sh, kindPeer)
		c, okC := bestOf(run.Results, sh, kindBound)
		row := []string{sh.String(), "—", "—", "—", "—", "—", "—", "—"}
		if okS {
			row[1], row[2], row[3] = s.Impl, fmt.Sprintf("%.3f", s.Gelems()), s.MaxULPString()
		}
		if okP {
			row[4], row[5], row[6] = p.Impl, fmt.Sprintf("%.3f", p.Gelems()), p.MaxULPString()
		}
		if okS && okP {
			row[7] = ratio(s.Gelems(), p.Gelems())
		}
		if withCopy {
			row = append(row, "—", "—")
		}
		if okC {
			row[8] = fmt.Sprintf("%.3f", c.Gelems())
			if okS {
				row[9] = ratio(s.Gelems(), c.Gelems())
			}
		}
		t.add(row...)
	}
	return t
}

// fullTable has every shape × implementation.
func fullTable(run Run) *table {
	t := &table{
		header: []string{"shape", "implementation", "Gelem/s", "ns/elem", "spread", "max ULP", "mean ULP", "vs generic", "vs best peer"},
		right:  []bool{false, false, true, true, true, true, true, true, true},
	}
	impls := implsOf(run.Results)
	for _, sh := range shapesOf(run.Results) {
		gen, okG := find(run.Results, sh, "generic")
		peer, okP := bestOf(run.Results, sh, kindPeer)
		for _, name := range impls {
			r, ok := find(run.Results, sh, name)
			if !ok {
				continue
			}
			label := name
			switch r.Kind {
			case kindPeer:
				label = name + " (peer)"
			case kindBound:
				label = name + " (no softmax)"
			}
			if !r.OK() {
				msg := r.Err
				if len(msg) > 60 {
					msg = msg[:57] + "..."
				}
				t.add(sh.String(), label, "error: "+msg)
				continue
			}
			vsG, vsP := "—", "—"
			if okG && gen.OK() && r.Kind != kindBound {
				vsG = ratio(r.Gelems(), gen.Gelems())
			}
			if okP && r.Kind != kindBound {
				vsP = ratio(r.Gelems(), peer.Gelems())
			}
			t.add(sh.String(), label,
				fmt.Sprintf("%.3f", r.Gelems()),
				fmt.Sprintf("%.3f", r.Best()),
				fmt.Sprintf("+%.0f%%", 100*r.Spread()),
				r.MaxULPString(),
				meanULP(r),
				vsG, vsP)
		}
	}
	return t
}

// details lists what each implementation reported about itself (the
// kernel set a child ran, the ISA a C library picked).
func details(run Run) []string {
	var out []string
	for _, name := range implsOf(run.Results) {
		var ds []string
		for _, r := range run.Results {
			if r.Impl == name && r.Detail != "" && r.Detail != name && !slices.Contains(ds, r.Detail) {
				ds = append(ds, r.Detail)
			}
		}
		if len(ds) > 0 {
			out = append(out, fmt.Sprintf("%s: %s", name, strings.Join(ds, "; ")))
		}
	}
	return out
}

const legendText = `Gelem/s: 10^9 elements per second of float32 SoftmaxRows, single-threaded,
best of the rounds; ns/elem is its inverse. spread: how much slower the
median round was than the best, (median − best)/best. ULP: |got − ref| /
ulp(ref) against a float64 reference rounded to float32, over outputs
≥ 2^-126. vs generic: speed-up over the pure-Go kernel set; vs best peer:
throughput ÷ the fastest peer's on that shape. Logits: each row normal with
σ = 4 around a random offset in [−50, 50], fixed seed. copy: dst ← x
in 64 KiB pieces, no arithmetic: the memory traffic of an out-of-place
softmax; a set near its speed is bound by memory there. Rounds are
interleaved: per shape, round r of every implementation runs in turn (a
different one first each round), so all see the same machine conditions.`

func renderReport(run Run) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Summary (Gelem/s, higher is better):\n\n%s\n", summaryTable(run))
	fmt.Fprintf(&b, "All results:\n\n%s\n", fullTable(run))
	if d := details(run); len(d) > 0 {
		for _, l := range d {
			fmt.Fprintf(&b, "  %s\n", l)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "%s\n", legendText)
	return b.String()
}

func renderMarkdown(run Run, chart string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# softmax benchmark: %s\n\n", run.CPU.Name())
	fmt.Fprintf(&b, "```\n%s\n```\n\n", run.Command)
	b.WriteString("```\n")
	for _, l := range headerLines(run) {
		b.WriteString(l + "\n")
	}
	order := ""
	if run.Interleaved {
		order = ", interleaved across implementations"
	}
	fmt.Fprintf(&b, "date:     %s; best of %d rounds of ≥ %gms (≥ 3 when slow)%s; wall time %.0fs\n```\n\n",
		run.Date, run.Rounds, run.MinTimeMS, order, run.WallSeconds)
	fmt.Fprintf(&b, "![Gelem/s vs row length](%s)\n\n", chart)
	fmt.Fprintf(&b, "## Summary\n\n%s\n", summaryTable(run))
	fmt.Fprintf(&b, "## All results\n\n%s\n", fullTable(run))
	if d := details(run); len(d) > 0 {
		b.WriteString("What ran:\n\n")
		for _, l := range d {
			fmt.Fprintf(&b, "- %s\n", l)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "%s\n", strings.ReplaceAll(legendText, "\n", " "))
	return b.String()
}

// renderCompare puts saved runs side by side: one column per run, one row
// per shape × implementation, Gelem/s in each cell. The "softmax" row of
// each shape is the set the package picks by default on that machine.
func renderCompare(runs []Run, files []string) string {
	var b strings.Builder
	t := &table{header: []string{"shape", "implementation"}, right: []bool{false, false}}
	for i, r := range runs {
		fmt.Fprintf(&b, "[%d] %s — %s/%s, default set %s, %s, %s (%s)\n", i+1, r.CPU.Name(), r.CPU.GOOS, r.CPU.GOARCH,
			r.DefaultImpl, r.GoVersion, r.Date, files[i])
		name := r.CPU.Name()
		if utf8.RuneCountInString(name) > 24 {
			name = strings.TrimSpace(string([]rune(name)[:23])) + "…"
		}
		t.header = append(t.header, fmt.Sprintf("[%d] %s", i+1, name))
		t.right = append(t.right, true)
	}
	// Two runs (before/after, or two machines) also get their ratio.
	pair := len(runs) == 2
	if pair {
		t.header = append(t.header, "[2] ÷ [1]")
		t.right = append(t.right, true)
	}
	var all []Result
	for _, r := range runs {
		all = append(all, r.Results...)
	}
	for _, sh := range shapesOf(all) {
		row := []string{sh.String(), "softmax (default)"}
		var g []float64
		for _, r := range runs {
			c := "—"
			res, ok := find(r.Results, sh, r.DefaultImpl)
			if ok && res.OK() {
				c = fmt.Sprintf("%.3f %s", res.Gelems(), r.DefaultImpl)
			}
			g = append(g, res.Gelems())
			row = append(row, c)
		}
		if pair {
			row = append(row, ratio(g[1], g[0]))
		}
		t.add(row...)
		for _, name := range implsOf(all) {
			row := []string{sh.String(), name}
			any := false
			g = g[:0]
			for _, r := range runs {
				c := "—"
				res, ok := find(r.Results, sh, name)
				if ok {
					any = true
					c = "error"
					if res.OK() {
						c = fmt.Sprintf("%.3f", res.Gelems())
					}
				}
				g = append(g, res.Gelems())
				row = append(row, c)
			}
			if pair {
				row = append(row, ratio(g[1], g[0]))
			}
			if any {
				t.add(row...)
			}
		}
	}
	fmt.Fprintf(&b, "\nGelem/s (higher is better), single-threaded float32 SoftmaxRows:\n\n%s", t)
	return b.String()
}
