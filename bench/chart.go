package main

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// drawChart plots Gelem/s against row length (log scale), one line per
// implementation: kernel sets solid and thick, peers dashed, the copy
// bound thin, grey and dotted. The file type follows the name's extension
// (.svg, .png, .pdf).
func drawChart(run Run, file string) error {
	plot.DefaultFont = font.Font{Typeface: "Liberation", Variant: "Sans"}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("softmax.SoftmaxRows[float32], single-threaded — %s (%s/%s)",
		run.CPU.Name(), run.CPU.GOOS, run.CPU.GOARCH)
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.X.Label.Text = "row length (cols: float32 values per row, log scale; rows per call in parentheses)"
	p.Y.Label.Text = "throughput (Gelem/s = 10⁹ elements/s, log scale; higher is better)"
	// Both axes are logarithmic (throughputs span two decades, from plain
	// Go to SIMD): points are placed at log10 of their values on linear
	// axes whose ticks are labelled with the values. plot.LogScale would
	// look the same, but gonum/plot v0.17 places a centred axis label by
	// the arithmetic midpoint of the range, which on a log axis squeezes
	// the plot into one side of the canvas.
	p.Add(plotter.NewGrid())

	shapes := shapesOf(run.Results)
	slices.SortFunc(shapes, func(a, b shape) int { return a.Cols - b.Cols })
	var ticks []plot.Tick
	for _, sh := range shapes {
		ticks = append(ticks, plot.Tick{Value: math.Log10(float64(sh.Cols)), Label: fmt.Sprintf("%s\n(%d rows)", colsLabel(sh.Cols), sh.Rows)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)

	maxY, minY := 0.0, math.Inf(1)
	setIdx, peerIdx := 0, 0
	for _, name := range implsOf(run.Results) {
		var pts plotter.XYs
		kind := kindSet
		for _, sh := range shapes {
			if r, ok := find(run.Results, sh, name); ok && r.OK() {
				pts = append(pts, plotter.XY{X: math.Log10(float64(sh.Cols)), Y: math.Log10(r.Gelems())})
				maxY = math.Max(maxY, r.Gelems())
				minY = math.Min(minY, r.Gelems())
				kind = r.Kind
			}
		}
		if len(pts) == 0 {
			continue
		}
		l, s, err := plotter.NewLinePoints(pts)
		if err != nil {
			return err
		}
		var c color.Color
		switch kind {
		case kindBound:
			c = color.Gray{Y: 128}
			l.Width = vg.Points(1)
			l.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
			s.Shape = draw.PlusGlyph{}
			s.Radius = vg.Points(2.5)
		case kindSet:
			c = setColors[setIdx%len(setColors)]
			setIdx++
			l.Width = vg.Points(2.5)
			s.Shape = draw.CircleGlyph{}
			s.Radius = vg.Points(3.5)
		default:
			c = peerColors[peerIdx%len(peerColors)]
			l.Width = vg.Points(1.5)
			l.Dashes = plotutil.Dashes(1 + peerIdx%4)
			s.Shape = plotutil.Shape(1 + peerIdx%6)
			s.Radius = vg.Points(3)
			peerIdx++
		}
		l.Color, s.Color = c, c
		p.Add(l, s)
		label := name
		switch kind {
		case kindPeer:
			label += " (peer)"
		case kindBound:
			label += " (no softmax: the memory traffic)"
		}
		p.Legend.Add(label, l, s)
	}
	if maxY == 0 { // nothing measured
		minY, maxY = 0.01, 1
	}
	// The legend goes in the top left; keep the top 40% of the data area
	// free of lines for it.
	p.Y.Min = math.Log10(minY) - 0.1
	top := math.Log10(maxY) + 0.1
	p.Y.Max = (top - 0.4*p.Y.Min) / 0.6
	p.Y.Tick.Marker = logTicks{}
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.XOffs = vg.Points(8)
	p.Legend.YOffs = -vg.Points(4)
	p.Legend.ThumbnailWidth = vg.Points(36)
	p.Legend.TextStyle.Font.Size = vg.Points(11)
	if len(shapes) > 0 {
		p.X.Min = math.Log10(float64(shapes[0].Cols)) - 0.25
		p.X.Max = math.Log10(float64(shapes[len(shapes)-1].Cols)) + 0.25
	}
	return p.Save(10*vg.Inch, 6*vg.Inch, file)
}

var (
	// Kernel sets in strong colours, peers in muted ones.
	setColors = []color.Color{
		color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, // red
		color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, // blue
		color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, // green
		color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}, // purple
	}
	peerColors = []color.Color{
		color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff}, // grey
		color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}, // orange
		color.RGBA{R: 0x8c, G: 0x56, B: 0x4b, A: 0xff}, // brown
		color.RGBA{R: 0x17, G: 0xbe, B: 0xcf, A: 0xff}, // cyan
		color.RGBA{R: 0xbc, G: 0xbd, B: 0x22, A: 0xff}, // olive
		color.RGBA{R: 0xe3, G: 0x77, B: 0xc2, A: 0xff}, // pink
	}
)

// logTicks labels a log10 axis at 1, 2 and 5 times the powers of ten.
type logTicks struct{}

func (logTicks) Ticks(min, max float64) []plot.Tick {
	var ticks []plot.Tick
	for e := math.Floor(min); e <= math.Ceil(max); e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if l := math.Log10(v); l >= min && l <= max {
				ticks = append(ticks, plot.Tick{Value: l, Label: strconv.FormatFloat(v, 'f', -1, 64)})
			}
		}
	}
	return ticks
}

// colsLabel writes a row length compactly: 1M for 2^20, 16M for 2^24.
func colsLabel(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dM", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0 && n > 4096:
		return fmt.Sprintf("%dK", n>>10)
	}
	return fmt.Sprint(n)
}
