package report

import (
	"bytes"
	"context"
	"fmt"
	"image/color"
	"image/png"
	"math"
	"runtime"
	"slices"
	"strconv"

	"golang.org/x/image/font"
	"golang.org/x/sync/errgroup"
	"gonum.org/v1/plot"
	plotfont "gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Plot is one rendered figure.
type Plot struct {
	Name    string `json:"name"`    // file name without extension, e.g. "accuracy-vs-size"
	Title   string `json:"title"`   // what it shows
	Caption string `json:"caption"` // how to read it
	PNG     []byte `json:"-"`

	width, height int // pixels, for the HTML layout
}

// dpi makes an 8-inch figure 1200 px wide: crisp on high-density screens when shown at ~800 px.
const dpi = 150

// logSpan is the max/min ratio (1.5 orders of magnitude) above which an axis turns logarithmic.
const logSpan = 31.6

// figure is a plot waiting to be rendered: one or more panels in a grid, a title on top and an
// optional legend on the right shared by all panels.
type figure struct {
	Plot
	w, h   vg.Length
	panels []*plot.Plot
	cols   int
	legend *plot.Legend
}

// renderAll renders figures concurrently, keeping their order.
func renderAll(ctx context.Context, figs []*figure) ([]Plot, error) {
	out := make([]Plot, len(figs))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, f := range figs {
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			b, err := f.render()
			if err != nil {
				return fmt.Errorf("report: plot %s: %w", f.Name, err)
			}
			out[i] = f.Plot
			out[i].PNG = b
			out[i].width, out[i].height = int(math.Ceil(float64(f.w/vg.Inch)*dpi)), int(math.Ceil(float64(f.h/vg.Inch)*dpi))
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// render draws the figure to a PNG. gonum/plot panics on some degenerate input; that becomes an
// error rather than taking the caller down with it.
func (f *figure) render() (_ []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("drawing failed: %v", r)
		}
	}()
	img := vgimg.NewWith(vgimg.UseWH(f.w, f.h), vgimg.UseDPI(dpi), vgimg.UseBackgroundColor(color.White))
	dc := draw.New(img)
	pad := vg.Points(8)

	ts, title := fitTitle(f.Title, f.w-2*pad)
	dc.FillText(ts, vg.Point{X: dc.Center().X, Y: dc.Max.Y - pad}, title)
	body := draw.Crop(dc, pad, -pad, pad, -(ts.Height(title) + 2*pad))

	if f.legend != nil {
		r := f.legend.Rectangle(body)
		lw := r.Max.X - r.Min.X
		f.legend.Left, f.legend.Top = true, true
		f.legend.Draw(draw.Crop(body, body.Max.X-body.Min.X-lw, 0, 0, -pad))
		body = draw.Crop(body, 0, -(lw + 2*pad), 0, 0)
	}

	cols := max(f.cols, 1)
	rows := (len(f.panels) + cols - 1) / cols
	grid := make([][]*plot.Plot, rows)
	for j := range grid {
		grid[j] = make([]*plot.Plot, cols)
		for i := range cols {
			if k := j*cols + i; k < len(f.panels) {
				grid[j][i] = f.panels[k]
			}
		}
	}
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Points(18), PadY: vg.Points(14)}
	for j, row := range plot.Align(grid, tiles, body) {
		for i, c := range row {
			if p := grid[j][i]; p != nil {
				p.Draw(c)
			}
		}
	}

	var buf bytes.Buffer
	// Best speed: the report's budget is dominated by encoding, and plots compress well anyway.
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, img.Image()); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// textStyle is the sans-serif text used throughout: it reads better than the default serif at
// small sizes.
func textStyle(size float64, bold bool) text.Style {
	f := plotfont.Font{Typeface: "Liberation", Variant: "Sans", Size: vg.Points(size)}
	if bold {
		f.Weight = font.WeightBold
	}
	return text.Style{Color: color.Black, Font: f, Handler: plot.DefaultTextHandler}
}

// Greys of the grid, the axes and the text.
const (
	gridGrey = 0xe4
	axisGrey = 0x55
	inkGrey  = 0x22
)

// newPanel returns a plot with the report's look: sans-serif text, grey axes, a light grid.
func newPanel(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle = textStyle(11.5, true)
	p.Title.TextStyle.XAlign, p.Title.TextStyle.YAlign = draw.XCenter, draw.YTop
	p.Title.Padding = vg.Points(6)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle = textStyle(10.5, false)
		a.Label.TextStyle.Color = color.Gray{Y: inkGrey}
		a.Tick.Label = textStyle(9.5, false)
		a.Tick.Label.Color = color.Gray{Y: axisGrey}
		a.LineStyle.Color = color.Gray{Y: axisGrey}
		a.Tick.LineStyle.Color = color.Gray{Y: axisGrey}
		a.Padding = vg.Points(3)
		a.Tick.Length = vg.Points(4)
		a.Tick.Marker = linearTicks{}
	}
	p.X.Label.Text, p.Y.Label.Text = xLabel, yLabel
	p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XCenter, draw.YTop
	p.X.Label.TextStyle.XAlign, p.X.Label.TextStyle.YAlign = draw.XCenter, draw.YBottom
	p.Y.Label.TextStyle.XAlign, p.Y.Label.TextStyle.YAlign = draw.XCenter, draw.YBottom // gonum rotates it
	p.Y.Tick.Label.XAlign, p.Y.Tick.Label.YAlign = draw.XRight, draw.YCenter
	p.Legend.TextStyle = textStyle(9.5, false)
	g := plotter.NewGrid()
	g.Vertical.Color, g.Horizontal.Color = color.Gray{Y: gridGrey}, color.Gray{Y: gridGrey}
	g.Vertical.Width, g.Horizontal.Width = vg.Points(0.6), vg.Points(0.6)
	p.Add(g)
	return p
}

// newLegend returns an empty legend in the report's text style.
func newLegend() *plot.Legend {
	l := plot.NewLegend()
	l.TextStyle = textStyle(10, false)
	l.ThumbnailWidth = vg.Points(16)
	l.Padding = vg.Points(3)
	return &l
}

// mark is how one technique looks in every plot of a report.
type mark struct {
	color color.Color
	shape draw.GlyphDrawer
}

// palette returns the Okabe–Ito colours, which stay distinct for the common kinds of colour
// blindness, followed by the darker colours of Paul Tol's "muted" scheme for reports with many
// techniques. Yellow comes late: it is faint on white.
func palette() []color.Color {
	return []color.Color{
		color.RGBA{0x00, 0x72, 0xB2, 0xff}, // blue
		color.RGBA{0xE6, 0x9F, 0x00, 0xff}, // orange
		color.RGBA{0x00, 0x9E, 0x73, 0xff}, // bluish green
		color.RGBA{0xD5, 0x5E, 0x00, 0xff}, // vermillion
		color.RGBA{0xCC, 0x79, 0xA7, 0xff}, // reddish purple
		color.RGBA{0x56, 0xB4, 0xE9, 0xff}, // sky blue
		color.RGBA{0xC9, 0xB8, 0x00, 0xff}, // yellow, darkened to show on white
		color.RGBA{0x33, 0x22, 0x88, 0xff}, // indigo
		color.RGBA{0x88, 0x22, 0x55, 0xff}, // wine
		color.RGBA{0x99, 0x99, 0x33, 0xff}, // olive
		color.RGBA{0x11, 0x77, 0x33, 0xff}, // green
		color.RGBA{0x88, 0x88, 0x88, 0xff}, // grey
	}
}

// shapes vary with the colour so that techniques differ by more than hue alone. All are filled:
// gonum's outline glyphs (cross, plus) are too thin to tell apart at marker size.
func shapes() []draw.GlyphDrawer {
	return []draw.GlyphDrawer{
		polyGlyph{sides: 4, turn: math.Pi / 4},  // square
		polyGlyph{sides: 3},                     // triangle
		polyGlyph{sides: 4},                     // diamond
		polyGlyph{sides: 3, turn: math.Pi},      // triangle pointing down
		polyGlyph{sides: 5},                     // pentagon
		polyGlyph{sides: 6, turn: math.Pi / 6},  // hexagon
		polyGlyph{sides: 3, turn: math.Pi / 2},  // triangle pointing left
		polyGlyph{sides: 3, turn: -math.Pi / 2}, // triangle pointing right
	}
}

// polyGlyph is a filled regular polygon (sides == 0: a circle) with a thin white rim, so that
// overlapping markers stay distinguishable.
type polyGlyph struct {
	sides int
	turn  float64 // rotation; 0 puts a vertex at the top
}

func (g polyGlyph) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	var p vg.Path
	r := sty.Radius
	if g.sides == 0 {
		p.Move(vg.Point{X: pt.X + r, Y: pt.Y})
		p.Arc(pt, r, 0, 2*math.Pi)
	} else {
		r *= 1.2 // polygons look smaller than a circle of the same radius
		for i := 0; i < g.sides; i++ {
			a := math.Pi/2 + g.turn + 2*math.Pi*float64(i)/float64(g.sides)
			v := vg.Point{X: pt.X + r*vg.Length(math.Cos(a)), Y: pt.Y + r*vg.Length(math.Sin(a))}
			if i == 0 {
				p.Move(v)
			} else {
				p.Line(v)
			}
		}
	}
	p.Close()
	c.SetColor(sty.Color)
	c.Fill(p)
	c.SetLineStyle(draw.LineStyle{Color: color.White, Width: vg.Points(0.6)})
	c.Stroke(p)
}

// marks assigns each technique a colour and shape: the baseline is a black circle, the others
// take the palette in name order, so a technique looks the same in every plot of a report.
func marks(techniques []string) map[string]mark {
	ts := slices.Clone(techniques)
	slices.SortFunc(ts, compareTechniques)
	ts = slices.Compact(ts)
	pal, shp := palette(), shapes()
	m := make(map[string]mark, len(ts))
	i := 0
	for _, t := range ts {
		if isBaseline(t) {
			m[t] = mark{color.Black, polyGlyph{}}
			continue
		}
		// Past the palette, colours repeat in a lighter tint and with the next shape, so that
		// colour+shape pairs stay unique.
		c, cycle := pal[i%len(pal)], i/len(pal)
		if cycle%2 == 1 {
			c = lighten(c, 0.45)
		}
		m[t] = mark{c, shp[(i%len(pal)+cycle)%len(shp)]}
		i++
	}
	return m
}

func isBaseline(t string) bool { return Run{Technique: t}.IsBaseline() }

// lighten mixes c with white; used for fills behind outlines.
func lighten(c color.Color, amount float64) color.Color {
	r, g, b, _ := c.RGBA()
	mix := func(v uint32) uint8 { return uint8(float64(v>>8) + (255-float64(v>>8))*amount) }
	return color.RGBA{mix(r), mix(g), mix(b), 0xff}
}

// useLogScale reports whether values (all > 0) span enough orders of magnitude to need a log axis.
func useLogScale(lo, hi float64) bool { return lo > 0 && hi/lo > logSpan }

// setRange sets an axis to [lo, hi] with a margin so that glyphs at the edges are not cut, and
// switches it to a log scale when the values call for one.
func setRange(a *plot.Axis, lo, hi float64, allowLog bool) {
	if allowLog && useLogScale(lo, hi) {
		a.Scale = plot.LogScale{}
		a.Tick.Marker = logTicks{}
		a.Min, a.Max = lo/1.4, hi*1.4
		return
	}
	span := hi - lo
	if span == 0 {
		span = math.Max(math.Abs(hi)*0.1, 1)
	}
	a.Min, a.Max = lo-0.08*span, hi+0.08*span
	if lo >= 0 && a.Min < 0 {
		a.Min = 0
	}
}

// logTicks labels every power of ten and, when fewer than three of those are in view, 2× and 5×
// as well, so a log axis never has a lone label.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	first, last := int(math.Floor(math.Log10(lo))), int(math.Ceil(math.Log10(hi)))
	powers := 0
	for e := first; e <= last; e++ {
		if v := math.Pow10(e); v >= lo*0.999 && v <= hi*1.001 {
			powers++
		}
	}
	dense := powers < 3
	for e := first; e <= last; e++ {
		for m := 1; m < 10; m++ {
			v := float64(m) * math.Pow10(e)
			if v < lo*0.999 || v > hi*1.001 {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || (dense && (m == 2 || m == 5)) {
				t.Label = strconv.FormatFloat(v, 'g', -1, 64)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// byteUnit picks a binary unit in which the largest value is at least 1.
func byteUnit(maxBytes float64) (string, float64) {
	units := []string{"B", "KiB", "MiB", "GiB"}
	u := 0
	for u < len(units)-1 && maxBytes >= math.Pow(1024, float64(u+1)) {
		u++
	}
	return units[u], math.Pow(1024, float64(u))
}

// pointLabels writes a text next to each point where it overlaps no other label and, if possible,
// no marker. Points come in priority order; a label that finds no free place is dropped rather
// than drawn over another, which keeps crowded plots legible.
type pointLabels struct {
	pts    plotter.XYs
	texts  []string
	avoid  plotter.XYs   // every marker on the plot
	lines  []plotter.XYs // polylines labels should not cover
	radius vg.Length     // marker radius
	style  text.Style
	bold   int // how many of the first labels are bold (the recommended run)
}

func (l *pointLabels) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	r := l.radius + vg.Points(1)
	markers := make([]vg.Rectangle, len(l.avoid))
	for i, a := range l.avoid {
		x, y := tx(a.X), ty(a.Y)
		markers[i] = vg.Rectangle{Min: vg.Point{X: x - r, Y: y - r}, Max: vg.Point{X: x + r, Y: y + r}}
	}
	// Lines are sampled every few points into small boxes, treated like markers.
	for _, line := range l.lines {
		for i := 1; i < len(line); i++ {
			a := vg.Point{X: tx(line[i-1].X), Y: ty(line[i-1].Y)}
			b := vg.Point{X: tx(line[i].X), Y: ty(line[i].Y)}
			d := b.Sub(a)
			n := int(math.Hypot(float64(d.X), float64(d.Y))/3) + 1
			for k := 0; k <= n; k++ {
				q := a.Add(d.Scale(vg.Length(float64(k) / float64(n))))
				markers = append(markers, vg.Rectangle{Min: vg.Point{X: q.X - 1, Y: q.Y - 1}, Max: vg.Point{X: q.X + 1, Y: q.Y + 1}})
			}
		}
	}
	sty := l.style
	sty.XAlign, sty.YAlign = draw.XLeft, draw.YBottom
	var placed []vg.Rectangle
	free := func(b vg.Rectangle, strict bool) bool {
		inside := b.Min.X >= c.Min.X && b.Max.X <= c.Max.X && b.Min.Y >= c.Min.Y && b.Max.Y <= c.Max.Y
		if !inside || slices.ContainsFunc(placed, func(o vg.Rectangle) bool { return overlaps(b, o) }) {
			return false
		}
		return !strict || !slices.ContainsFunc(markers, func(o vg.Rectangle) bool { return overlaps(b, o) })
	}
	for i, pt := range l.pts {
		txt := l.texts[i]
		sty := sty
		if i < l.bold {
			sty.Font.Weight = font.WeightBold
		}
		box := sty.Rectangle(txt)
		w, h := box.Max.X-box.Min.X, box.Max.Y-box.Min.Y
		x, y := tx(pt.X), ty(pt.Y)
		gap := r + vg.Points(2)
		// Lower-left corners of the candidate boxes: right, left, above, below, then the diagonals.
		cands := []vg.Point{
			{X: x + gap, Y: y - h/2}, {X: x - gap - w, Y: y - h/2},
			{X: x - w/2, Y: y + gap}, {X: x - w/2, Y: y - gap - h},
			{X: x + gap, Y: y + gap/2}, {X: x + gap, Y: y - gap/2 - h},
			{X: x - gap - w, Y: y + gap/2}, {X: x - gap - w, Y: y - gap/2 - h},
		}
	search:
		for _, strict := range []bool{true, false} {
			for _, ll := range cands {
				b := vg.Rectangle{Min: ll, Max: vg.Point{X: ll.X + w, Y: ll.Y + h}}
				if !free(b, strict) {
					continue
				}
				placed = append(placed, b)
				// A translucent backing keeps text readable over grid lines and markers.
				c.FillPolygon(color.NRGBA{0xff, 0xff, 0xff, 0xc8}, []vg.Point{
					b.Min, {X: b.Max.X, Y: b.Min.Y}, b.Max, {X: b.Min.X, Y: b.Max.Y}})
				c.FillText(sty, vg.Point{X: ll.X - box.Min.X, Y: ll.Y - box.Min.Y}, txt)
				break search
			}
		}
	}
}

func overlaps(a, b vg.Rectangle) bool {
	return a.Min.X < b.Max.X && b.Min.X < a.Max.X && a.Min.Y < b.Max.Y && b.Min.Y < a.Max.Y
}

// rotateTickLabels slants long tick labels so that they do not run into each other; they hang
// below the axis, ending at their tick.
func rotateTickLabels(a *plot.Axis, angle float64) {
	a.Tick.Label.Rotation = angle
	a.Tick.Label.XAlign, a.Tick.Label.YAlign = draw.XRight, draw.YTop
}

// linearTicks labels about six round values (steps of 1, 2, 2.5 or 5 × 10^k) with a minor tick
// between each: gonum's default often labels only three, which reads sparse on a wide plot.
type linearTicks struct{}

func (linearTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) || math.IsInf(hi-lo, 0) {
		return plot.DefaultTicks{}.Ticks(lo, hi)
	}
	raw := (hi - lo) / 6
	mag := math.Pow10(int(math.Floor(math.Log10(raw))))
	step := 10 * mag
	for _, m := range []float64{1, 2, 2.5, 5} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	decimals := max(0, -int(math.Floor(math.Log10(step)+1e-9)))
	if math.Abs(step/mag-2.5) < 1e-9 {
		decimals++
	}
	var ticks []plot.Tick
	for i := math.Ceil(lo/step - 1e-9); i*step <= hi+step*1e-9; i++ {
		v := i * step
		label := strconv.FormatFloat(v, 'f', decimals, 64)
		if v == 0 {
			label = "0"
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: label})
		if m := v + step/2; m <= hi {
			ticks = append(ticks, plot.Tick{Value: m})
		}
	}
	if first := math.Ceil(lo/step-1e-9)*step - step/2; first >= lo {
		ticks = append(ticks, plot.Tick{Value: first})
	}
	return ticks
}

// fitTitle shrinks a title's font, then shortens the title, until it fits in width.
func fitTitle(title string, width vg.Length) (text.Style, string) {
	var ts text.Style
	for size := 14.0; size >= 10; size-- {
		ts = textStyle(size, true)
		if ts.Width(title) <= width {
			break
		}
	}
	for r := []rune(title); ts.Width(title) > width && len(r) > 1; {
		r = r[:len(r)-1]
		title = string(r) + "…"
	}
	ts.XAlign, ts.YAlign = draw.XCenter, draw.YTop
	return ts, title
}
