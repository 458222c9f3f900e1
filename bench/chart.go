package main

import (
	"fmt"
	"image/color"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// drawChart plots Gelem/s against row length (log scale), one line per
// implementation: kernel sets solid and thick, peers dashed. The file
// type follows the name's extension (.svg, .png, .pdf).
func drawChart(run Run, file string) error {
	plot.DefaultFont = font.Font{Typeface: "Liberation", Variant: "Sans"}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("softmax.SoftmaxRows[float32], single-threaded — %s (%s/%s)",
		run.CPU.Name(), run.CPU.GOOS, run.CPU.GOARCH)
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.X.Label.Text = "row length (cols: float32 values per row, log scale; rows per call in parentheses)"
	p.Y.Label.Text = "throughput (Gelem/s = 10⁹ elements/s, higher is better)"
	p.X.Scale = plot.LogScale{}
	p.Add(plotter.NewGrid())

	shapes := shapesOf(run.Results)
	slices.SortFunc(shapes, func(a, b shape) int { return a.Cols - b.Cols })
	var ticks []plot.Tick
	for _, sh := range shapes {
		ticks = append(ticks, plot.Tick{Value: float64(sh.Cols), Label: fmt.Sprintf("%s\n(%d rows)", colsLabel(sh.Cols), sh.Rows)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)

	maxY := 0.0
	setIdx, peerIdx := 0, 0
	for _, name := range implsOf(run.Results) {
		var pts plotter.XYs
		kind := kindSet
		for _, sh := range shapes {
			if r, ok := find(run.Results, sh, name); ok && r.OK() {
				pts = append(pts, plotter.XY{X: float64(sh.Cols), Y: r.Gelems()})
				maxY = math.Max(maxY, r.Gelems())
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
		if kind == kindSet {
			c = setColors[setIdx%len(setColors)]
			setIdx++
			l.Width = vg.Points(2.5)
			s.Shape = draw.CircleGlyph{}
			s.Radius = vg.Points(3.5)
		} else {
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
		if kind == kindPeer {
			label += " (peer)"
		}
		p.Legend.Add(label, l, s)
	}
	p.Y.Min = 0
	p.Y.Max = math.Max(maxY*1.5, 1e-3) // room for the legend above the lines
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.XOffs = vg.Points(8)
	p.Legend.YOffs = -vg.Points(4)
	p.Legend.ThumbnailWidth = vg.Points(36)
	p.Legend.TextStyle.Font.Size = vg.Points(11)
	if len(shapes) > 0 {
		p.X.Min = float64(shapes[0].Cols) / 1.6
		p.X.Max = float64(shapes[len(shapes)-1].Cols) * 1.6
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
