package report

import (
	"cmp"
	"context"
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/brewer"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Limits that keep plots legible for reports of any size.
const (
	maxPanels      = 12 // scatter panels (dataset × device)
	maxPointLabels = 14 // labelled points per panel, Pareto points first
	labelAllBelow  = 16 // with this few points every point gets a label
	maxBarGroups   = 12 // models in a bar chart
	maxValueLabels = 20 // bars that get their value printed on top
	maxConfusion   = 6  // confusion matrices
	maxLatencyRows = 24 // runs in the latency plot
	minBoxSamples  = 5  // per-call latencies needed to draw a box rather than quantile ticks
)

// Plots renders the report's figures as PNGs: accuracy against size and against latency with
// their Pareto fronts, latency spread, one bar chart per metric, and confusion matrices. Failed
// and unfinished runs are left out. Large reports label only Pareto points and pick the runs that
// matter for per-run plots, so every figure stays legible.
func (r *Report) Plots(ctx context.Context) ([]Plot, error) {
	return renderAll(ctx, r.figures())
}

// view holds what every figure of one report shares: the finished runs, how each technique
// looks, and which of model, dataset and device vary (only those go into labels).
type view struct {
	done        []Row
	marks       map[string]mark
	techniques  []string
	models      []string
	multiModel  bool
	multiData   bool
	multiDevice bool
	bestID      string
}

func newView(rows []Row, rec Recommendation) *view {
	v := &view{}
	var techs, models []string
	datasets, devices := map[string]string{}, map[string]string{}
	for _, r := range rows {
		if !r.Done() || !r.Metrics.hasAccuracy() {
			continue
		}
		v.done = append(v.done, r)
		techs = append(techs, r.Technique)
		models = append(models, r.Model)
		// Dataset and device go into labels only when they vary for one model; otherwise the
		// model name already tells them apart.
		if d, ok := datasets[r.Model]; ok && d != r.Dataset {
			v.multiData = true
		}
		if d, ok := devices[r.Model]; ok && d != r.Device {
			v.multiDevice = true
		}
		datasets[r.Model], devices[r.Model] = r.Dataset, r.Device
	}
	slices.SortFunc(techs, compareTechniques)
	v.techniques = slices.Compact(techs)
	slices.Sort(models)
	v.models = slices.Compact(models)
	v.multiModel = len(v.models) > 1
	v.marks = marks(v.techniques)
	if rec.Best != nil {
		v.bestID = rec.Best.ID
	}
	return v
}

// label names a run by technique plus whatever else varies in the report.
func (v *view) label(r Row, withPlace bool) string { return v.labelIn(r, withPlace, v.multiModel) }

func (v *view) labelIn(r Row, withPlace, withModel bool) string {
	parts := []string{}
	if withModel {
		parts = append(parts, r.Model)
	}
	parts = append(parts, r.Technique)
	s := strings.Join(parts, " · ")
	if withPlace && v.multiDevice {
		s += " @ " + r.Device
	}
	if withPlace && v.multiData {
		s += " [" + r.Dataset + "]"
	}
	return s
}

func (r *Report) figures() []*figure {
	v := newView(r.rows, r.rec)
	if len(v.done) == 0 {
		return nil
	}
	var figs []*figure
	add := func(f *figure) {
		if f != nil {
			figs = append(figs, f)
		}
	}
	maxSize := 0.0
	for _, r := range v.done {
		maxSize = math.Max(maxSize, float64(r.Metrics.SizeBytes()))
	}
	unit, div := byteUnit(maxSize)
	add(v.scatter("accuracy-vs-size", "Accuracy vs model size", "model size ("+unit+")",
		func(r Row) float64 { return float64(r.Metrics.SizeBytes()) / div },
		func(r Row) bool { return r.ParetoSize }))
	add(v.scatter("accuracy-vs-latency", "Accuracy vs latency", "latency p50 (ms per sample)",
		func(r Row) float64 { return r.Metrics.Latency.P50 },
		func(r Row) bool { return r.ParetoLatency }))
	add(v.latency())
	for _, m := range barMetrics() {
		add(v.bars(m))
	}
	for _, f := range v.confusions() {
		add(f)
	}
	return figs
}

type panelKey struct{ dataset, device string }

// scatter plots accuracy against a cost, one panel per dataset and device (the groups Pareto
// fronts are computed in), with each front drawn as a dashed line through its points.
func (v *view) scatter(name, title, xLabel string, x func(Row) float64, front func(Row) bool) *figure {
	groups := map[panelKey][]Row{}
	var keys []panelKey
	for _, r := range v.done {
		if x(r) <= 0 {
			continue
		}
		k := panelKey{r.Dataset, r.Device}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], r)
	}
	if len(keys) == 0 {
		return nil
	}
	slices.SortFunc(keys, func(a, b panelKey) int {
		return cmp.Or(strings.Compare(a.dataset, b.dataset), strings.Compare(a.device, b.device))
	})
	caption := "Up and to the left is better. Ringed points, joined by the dashed line, form the Pareto front: no other run is both more accurate and cheaper."
	if len(keys) > maxPanels {
		caption += fmt.Sprintf(" Showing %d of %d dataset × device panels.", maxPanels, len(keys))
		keys = keys[:maxPanels]
	}

	// Panels of the same dataset (different devices) share their x range so they read alike.
	type span struct{ lo, hi float64 }
	spans := map[string]span{}
	for _, k := range keys {
		s, ok := spans[k.dataset]
		if !ok {
			s = span{math.Inf(1), 0}
		}
		for _, r := range groups[k] {
			s.lo, s.hi = math.Min(s.lo, x(r)), math.Max(s.hi, x(r))
		}
		spans[k.dataset] = s
	}
	seen := map[string]bool{}
	f := &figure{Plot: Plot{Name: name, Title: title, Caption: caption}, legend: newLegend()}
	for _, k := range keys {
		rows := groups[k]
		var sub string
		if len(keys) > 1 || v.multiDevice {
			sub = k.device
			if slices.ContainsFunc(keys, func(o panelKey) bool { return o.dataset != k.dataset }) {
				sub = k.dataset + " on " + k.device
			}
		}
		p := newPanel(sub, xLabel, "accuracy (%)")
		setRange(&p.X, spans[k.dataset].lo, spans[k.dataset].hi, true)
		multiModel := slices.ContainsFunc(rows, func(r Row) bool { return r.Model != rows[0].Model })
		if _, isLog := p.X.Scale.(plot.LogScale); isLog {
			p.X.Label.Text += ", log scale"
		}
		aLo, aHi := math.Inf(1), math.Inf(-1)
		var all plotter.XYs
		byTech := map[string]plotter.XYs{}
		var frontRows []Row
		for _, r := range rows {
			pt := plotter.XY{X: x(r), Y: 100 * r.Metrics.Accuracy}
			all = append(all, pt)
			byTech[r.Technique] = append(byTech[r.Technique], pt)
			aLo, aHi = math.Min(aLo, pt.Y), math.Max(aHi, pt.Y)
			if front(r) {
				frontRows = append(frontRows, r)
			}
		}
		setRange(&p.Y, aLo, aHi, false)
		if p.Y.Max > 100 && aHi <= 100 {
			p.Y.Max = math.Min(p.Y.Max, 100+0.03*(aHi-aLo+1))
		}

		slices.SortFunc(frontRows, func(a, b Row) int { return cmp.Compare(x(a), x(b)) })
		var frontPts plotter.XYs
		for _, r := range frontRows {
			frontPts = append(frontPts, plotter.XY{X: x(r), Y: 100 * r.Metrics.Accuracy})
		}
		line, _ := plotter.NewLine(frontPts)
		ring, _ := plotter.NewScatter(frontPts)
		if line != nil {
			line.Color = color.Gray{Y: 0x33}
			line.Width = vg.Points(1.2)
			line.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
			ring.GlyphStyle = draw.GlyphStyle{Color: color.Gray{Y: 0x33}, Radius: vg.Points(7), Shape: draw.RingGlyph{}}
			p.Add(line)
		}
		radius := vg.Points(4.5)
		if len(all) > 30 || len(keys) > 2 {
			radius = vg.Points(3) // keep dense clouds from turning into blots
		}
		for _, t := range v.techniques {
			pts := byTech[t]
			if len(pts) == 0 {
				continue
			}
			s, err := plotter.NewScatter(pts)
			if err != nil {
				continue
			}
			m := v.marks[t]
			s.GlyphStyle = draw.GlyphStyle{Color: m.color, Radius: radius, Shape: m.shape}
			p.Add(s)
			if !seen[t] {
				seen[t] = true
				f.legend.Add(t, s)
			}
		}
		if line != nil {
			p.Add(ring)
		}

		// Label the recommended run first, in bold, then the front; other points only when
		// there are few.
		labels := &pointLabels{avoid: all, lines: []plotter.XYs{frontPts}, radius: radius, style: textStyle(8.5, false)}
		labelled := map[string]bool{}
		for _, r := range rows {
			if r.ID == v.bestID {
				labels.pts = append(labels.pts, plotter.XY{X: x(r), Y: 100 * r.Metrics.Accuracy})
				labels.texts = append(labels.texts, v.labelIn(r, false, multiModel)+" (recommended)")
				labels.bold = 1
				labelled[r.ID] = true
			}
		}
		for _, r := range frontRows {
			if labelled[r.ID] {
				continue
			}
			if len(labels.pts) == maxPointLabels {
				break
			}
			labels.pts = append(labels.pts, plotter.XY{X: x(r), Y: 100 * r.Metrics.Accuracy})
			labels.texts = append(labels.texts, v.labelIn(r, false, multiModel))
			labelled[r.ID] = true
		}
		if len(rows) <= labelAllBelow {
			for _, r := range rows {
				if !labelled[r.ID] {
					labels.pts = append(labels.pts, plotter.XY{X: x(r), Y: 100 * r.Metrics.Accuracy})
					labels.texts = append(labels.texts, v.labelIn(r, false, multiModel))
				}
			}
		}
		p.Add(labels)
		f.panels = append(f.panels, p)
	}
	if len(seen) > 0 {
		th, _ := plotter.NewLine(plotter.XYs{{}, {}})
		th.Color, th.Width, th.Dashes = color.Gray{Y: 0x33}, vg.Points(1.2), []vg.Length{vg.Points(5), vg.Points(3)}
		f.legend.Add("Pareto front", th)
	}
	// Two columns at most: wider grids shrink the text below legibility on a page.
	f.cols = min(len(f.panels), 2)
	rows := (len(f.panels) + f.cols - 1) / f.cols
	f.w = 8 * vg.Inch
	if f.cols > 1 {
		f.w = 11 * vg.Inch
	}
	f.h = vg.Length(rows)*4*vg.Inch + 0.9*vg.Inch
	if f.cols == 1 {
		f.h = 5.2 * vg.Inch
	}
	return f
}

// metric is one bar chart.
type metric struct {
	name, title, axis string
	value             func(Metrics) (float64, bool)
	bytes             bool // shown in a binary unit chosen from the data
	allowLog          bool
	format            func(float64) string // value labels on bars; default fmtNum
}

func barMetrics() []metric {
	pos := func(v float64) (float64, bool) { return v, v > 0 }
	return []metric{
		{name: "bars-accuracy", title: "Top-1 accuracy", axis: "accuracy (%)",
			value:  func(m Metrics) (float64, bool) { return 100 * m.Accuracy, m.hasAccuracy() },
			format: func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }},
		{name: "bars-latency", title: "Latency p50", axis: "latency p50 (ms per sample)", allowLog: true,
			value: func(m Metrics) (float64, bool) { return pos(m.Latency.P50) }},
		{name: "bars-size", title: "Model size", axis: "model size", bytes: true, allowLog: true,
			value: func(m Metrics) (float64, bool) { return pos(float64(m.SizeBytes())) }},
		{name: "bars-memory", title: "Peak memory", axis: "memory", bytes: true, allowLog: true,
			value: func(m Metrics) (float64, bool) { return pos(float64(m.MemoryBytes())) }},
	}
}

func median(vs []float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// bars draws one bar per technique, grouped by model, coloured as in the scatter plots. Runs of
// the same model and technique on several devices or datasets are summarised by their median.
func (v *view) bars(m metric) *figure {
	cells := map[[2]string][]float64{}
	for _, r := range v.done {
		if val, ok := m.value(r.Metrics); ok {
			k := [2]string{r.Model, r.Technique}
			cells[k] = append(cells[k], val)
		}
	}
	if len(cells) == 0 {
		return nil
	}
	models := slices.Clone(v.models)
	caption := ""
	if len(models) > maxBarGroups {
		caption = fmt.Sprintf("Showing %d of %d models. ", maxBarGroups, len(models))
		models = models[:maxBarGroups]
	}
	pooled, hi, lo := false, 0.0, math.Inf(1)
	for k, vs := range cells {
		pooled = pooled || len(vs) > 1
		med := median(vs)
		cells[k] = []float64{med}
		hi, lo = math.Max(hi, med), math.Min(lo, med)
	}
	axis, div := m.axis, 1.0
	if m.bytes {
		var unit string
		unit, div = byteUnit(hi)
		axis += " (" + unit + ")"
	}
	hi, lo = hi/div, lo/div
	caption += "One bar per technique, grouped by model, in the colours of the other plots. "
	if pooled {
		caption += "Each bar is the median over the devices and datasets the technique ran on. "
	}

	// Techniques present in the shown models, in legend order.
	var techs []string
	for _, t := range v.techniques {
		for _, mo := range models {
			if _, ok := cells[[2]string{mo, t}]; ok {
				techs = append(techs, t)
				break
			}
		}
	}
	p := newPanel("", "", axis)
	p.X.Tick.Label = textStyle(10, false)
	p.X.Tick.Label.Color = color.Gray{Y: inkGrey}
	p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XCenter, draw.YTop
	logY := m.allowLog && useLogScale(lo, hi)
	floor := 0.0
	if logY {
		p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, logTicks{}
		floor = math.Pow10(int(math.Floor(math.Log10(lo))))
		p.Y.Min, p.Y.Max = floor, hi*1.8
		p.Y.Label.Text += ", log scale"
	} else {
		p.Y.Min, p.Y.Max = 0, hi*1.12
		if m.name == "bars-accuracy" {
			p.Y.Max = math.Min(p.Y.Max, 106) // room for the labels, no tick past 100 %
		}
	}

	single := len(models) == 1
	slot := float64(len(techs) + 1) // one empty slot between groups
	var ticks []plot.Tick
	var tops plotter.XYs
	var topTexts []string
	legend := newLegend()
	inLegend := map[string]bool{}
	x := 0.0
	for g, mo := range models {
		for i, t := range techs {
			val, ok := cells[[2]string{mo, t}]
			if !ok {
				continue
			}
			xi := float64(g)*slot + float64(i)
			if single {
				xi = x
				ticks = append(ticks, plot.Tick{Value: xi, Label: t})
				x++
			}
			h := val[0] / div
			bar, err := plotter.NewPolygon(plotter.XYs{{X: xi - 0.4, Y: floor}, {X: xi + 0.4, Y: floor}, {X: xi + 0.4, Y: h}, {X: xi - 0.4, Y: h}})
			if err != nil {
				continue
			}
			bar.Color = v.marks[t].color
			bar.LineStyle.Width = 0
			p.Add(bar)
			if !inLegend[t] {
				inLegend[t] = true
				legend.Add(t, bar)
			}
			tops = append(tops, plotter.XY{X: xi, Y: h})
			format := m.format
			if format == nil {
				format = fmtNum
			}
			topTexts = append(topTexts, format(h))
		}
		if !single {
			ticks = append(ticks, plot.Tick{Value: float64(g)*slot + float64(len(techs)-1)/2, Label: mo})
		}
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Tick.Length = 0
	last := float64(len(models)-1)*slot + float64(len(techs)-1)
	if single {
		last = x - 1
	}
	p.X.Min, p.X.Max = -0.7, last+0.7
	longest := 0
	for _, t := range ticks {
		longest = max(longest, len(t.Label))
	}
	if longest*len(ticks) > 90 {
		rotateTickLabels(&p.X, math.Pi/6)
	}
	if len(tops) <= maxValueLabels {
		l, err := plotter.NewLabels(plotter.XYLabels{XYs: tops, Labels: topTexts})
		if err == nil {
			for i := range l.TextStyle {
				l.TextStyle[i] = textStyle(8.5, false)
				l.TextStyle[i].XAlign, l.TextStyle[i].YAlign = draw.XCenter, draw.YBottom
			}
			l.Offset = vg.Point{Y: vg.Points(2)}
			p.Add(l)
		}
	}
	f := &figure{Plot: Plot{Name: m.name, Title: m.title, Caption: strings.TrimSpace(caption)}, panels: []*plot.Plot{p},
		w: 8 * vg.Inch, h: 4.4 * vg.Inch}
	if !single {
		f.legend = legend
		f.w = vg.Length(math.Min(13, math.Max(8, 2+0.22*float64(len(tops))))) * vg.Inch
	}
	return f
}

// pick chooses at most n finished rows for per-run plots: the recommended run first, then those
// keep accepts, in table order.
func (v *view) pick(n int, keep func(Row) bool) []Row {
	var out []Row
	for _, r := range v.done {
		if r.ID == v.bestID && v.bestID != "" {
			out = append(out, r)
		}
	}
	for _, r := range v.done {
		if len(out) >= n {
			break
		}
		if r.ID != v.bestID && keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// latency shows the spread of per-sample latency for each run: box plots when per-call samples
// are there, otherwise a min–p99 range with p50 and p90 marked.
func (v *view) latency() *figure {
	has := func(r Row) bool { return r.Metrics.Latency.P50 > 0 }
	rows := v.pick(maxLatencyRows, has)
	caption := ""
	if n := countFunc(v.done, has); n > maxLatencyRows {
		// Too many to show: stay on one device (the recommended run's) so the runs compare,
		// and keep its baselines and latency front.
		device := v.done[0].Device
		if i := tableOrder(v.done, v.bestID); i >= 0 {
			device = v.done[i].Device
		}
		rows = v.pick(maxLatencyRows, func(r Row) bool {
			return has(r) && r.Device == device && (r.ParetoLatency || r.IsBaseline())
		})
		caption = fmt.Sprintf("Showing %d of %d runs: on %s, the recommended run, the baselines and the latency Pareto front. ", len(rows), n, device)
	}
	if len(rows) == 0 || (len(rows) == 1 && !has(rows[0])) {
		return nil
	}
	// Keep table order top to bottom; the plot's y grows upwards.
	slices.SortStableFunc(rows, func(a, b Row) int { return tableOrder(v.done, a.ID) - tableOrder(v.done, b.ID) })
	boxes := !slices.ContainsFunc(rows, func(r Row) bool { return len(r.Metrics.LatencySamplesMS) < minBoxSamples })

	lo, hi := math.Inf(1), 0.0
	for _, r := range rows {
		l := r.Metrics.Latency
		vals := []float64{l.Min, l.P50, l.P90, l.P99}
		if boxes {
			vals = r.Metrics.LatencySamplesMS
		}
		for _, x := range vals {
			if x > 0 {
				lo, hi = math.Min(lo, x), math.Max(hi, x)
			}
		}
	}
	p := newPanel("", "latency (ms per sample)", "")
	setRange(&p.X, lo, hi, true)
	if _, isLog := p.X.Scale.(plot.LogScale); isLog {
		p.X.Label.Text += ", log scale"
	}
	n := len(rows)
	names := make([]string, n)
	legend := newLegend()
	if boxes {
		caption += "Boxes span the middle half of the calls, whiskers reach 1.5 × that span, dots are outliers; the bar is the median."
	} else {
		caption += "Each line runs from the fastest call to p99; the dot marks p50, the triangle p90."
	}
	for i, r := range rows {
		y := float64(n - 1 - i)
		names[n-1-i] = v.label(r, true)
		m := v.marks[r.Technique]
		if boxes {
			vals := plotter.Values(slices.DeleteFunc(slices.Clone(r.Metrics.LatencySamplesMS), func(x float64) bool { return x <= 0 }))
			b, err := plotter.NewBoxPlot(vg.Points(12), y, vals)
			if err != nil {
				continue
			}
			b.Horizontal = true
			b.FillColor = lighten(m.color, 0.55)
			b.BoxStyle.Color, b.MedianStyle.Color, b.WhiskerStyle.Color = m.color, color.Black, m.color
			b.MedianStyle.Width = vg.Points(1.5)
			b.GlyphStyle.Color, b.GlyphStyle.Radius = m.color, vg.Points(1.5)
			p.Add(b)
			continue
		}
		l := r.Metrics.Latency
		lowEnd, highEnd := firstPositive(l.Min, l.P50), firstPositive(l.P99, l.P90, l.P50)
		span, _ := plotter.NewLine(plotter.XYs{{X: lowEnd, Y: y}, {X: highEnd, Y: y}})
		span.Color, span.Width = m.color, vg.Points(2)
		p50, _ := plotter.NewScatter(plotter.XYs{{X: l.P50, Y: y}})
		p50.GlyphStyle = draw.GlyphStyle{Color: m.color, Radius: vg.Points(4.5), Shape: draw.CircleGlyph{}}
		p.Add(span, p50)
		if l.P90 > 0 {
			p90, _ := plotter.NewScatter(plotter.XYs{{X: l.P90, Y: y}})
			p90.GlyphStyle = draw.GlyphStyle{Color: color.Black, Radius: vg.Points(3.5), Shape: draw.TriangleGlyph{}}
			p.Add(p90)
		}
	}
	p.NominalY(names...)
	p.Y.Tick.Label = textStyle(9, false)
	p.Y.Tick.Label.Color = color.Gray{Y: inkGrey}
	p.Y.Tick.Label.XAlign, p.Y.Tick.Label.YAlign = draw.XRight, draw.YCenter
	p.Y.Min, p.Y.Max = -0.7, float64(n)-0.3
	if !boxes {
		gray := color.Gray{Y: 0x55}
		s1, _ := plotter.NewScatter(plotter.XYs{{}})
		s1.GlyphStyle = draw.GlyphStyle{Color: gray, Radius: vg.Points(4), Shape: draw.CircleGlyph{}}
		s2, _ := plotter.NewScatter(plotter.XYs{{}})
		s2.GlyphStyle = draw.GlyphStyle{Color: color.Black, Radius: vg.Points(3.5), Shape: draw.TriangleGlyph{}}
		ln, _ := plotter.NewLine(plotter.XYs{{}, {}})
		ln.Color, ln.Width = gray, vg.Points(2)
		legend.Add("p50", s1)
		legend.Add("p90", s2)
		legend.Add("min – p99", ln)
	}
	f := &figure{Plot: Plot{Name: "latency-spread", Title: "Latency per sample", Caption: caption},
		panels: []*plot.Plot{p}, w: 9 * vg.Inch, h: vg.Length(1.4+0.3*float64(n)) * vg.Inch}
	f.h = max(f.h, 3.2*vg.Inch)
	if !boxes {
		f.legend = legend
	}
	return f
}

func firstPositive(vs ...float64) float64 {
	for _, v := range vs {
		if v > 0 {
			return v
		}
	}
	return 0
}

func countFunc[T any](s []T, f func(T) bool) int {
	n := 0
	for _, x := range s {
		if f(x) {
			n++
		}
	}
	return n
}

func tableOrder(rows []Row, id string) int {
	return slices.IndexFunc(rows, func(r Row) bool { return r.ID == id })
}

// confusionGrid adapts a confusion matrix to gonum's heat map: Z is the square root of the share
// of the true class, so rare classes show as well as common ones and a few mistakes are not
// lost next to the diagonal; row 0 is drawn at the top.
type confusionGrid struct{ share [][]float64 }

func (g confusionGrid) Dims() (c, r int)   { return len(g.share), len(g.share) }
func (g confusionGrid) Z(c, r int) float64 { return math.Sqrt(g.share[len(g.share)-1-r][c]) }
func (g confusionGrid) X(c int) float64    { return float64(c) }
func (g confusionGrid) Y(r int) float64    { return float64(r) }

// confusions draws the confusion matrices a reader is choosing between: the recommended run and
// its baseline first, then, taking turns across models, the runs on the accuracy–size front.
func (v *view) confusions() []*figure {
	square := func(r Row) bool {
		c := r.Metrics.Confusion
		return len(c) > 1 && !slices.ContainsFunc(c, func(row []int) bool { return len(row) != len(c) })
	}
	var picked []Row
	seen := map[string]bool{}
	take := func(r Row) {
		if len(picked) < maxConfusion && !seen[r.ID] && square(r) {
			picked = append(picked, r)
			seen[r.ID] = true
		}
	}
	groups := map[baselineKey][]Row{}
	var keys []baselineKey
	for _, r := range v.done {
		if r.ID == v.bestID {
			take(r)
		}
		if !r.ParetoSize && len(v.done) > maxConfusion {
			continue
		}
		k := baselineKey{r.Model, r.Dataset, r.Device}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], r) // table order: baseline first
	}
	for _, r := range v.done {
		if len(picked) > 0 && r.ID == picked[0].BaselineID {
			take(r)
		}
	}
	for i := 0; len(picked) < maxConfusion; i++ {
		more := false
		for _, k := range keys {
			if i < len(groups[k]) {
				take(groups[k][i])
				more = true
			}
		}
		if !more {
			break
		}
	}
	figs := make([]*figure, len(picked))
	for i, r := range picked {
		figs[i] = v.confusion(r, i)
	}
	return figs
}

func (v *view) confusion(r Row, idx int) *figure {
	conf := r.Metrics.Confusion
	n := len(conf)
	names := r.Metrics.Classes
	if len(names) != n {
		names = make([]string, n)
		for i := range names {
			names[i] = strconv.Itoa(i)
		}
	}
	g := confusionGrid{share: make([][]float64, n)}
	var pts plotter.XYs
	var texts []string
	for t, row := range conf {
		total := 0
		for _, c := range row {
			total += c
		}
		g.share[t] = make([]float64, n)
		for p, c := range row {
			if total > 0 {
				g.share[t][p] = float64(c) / float64(total)
			}
			pts = append(pts, plotter.XY{X: float64(p), Y: float64(n - 1 - t)})
			texts = append(texts, strconv.Itoa(c))
		}
	}
	pal, err := brewer.GetPalette(brewer.TypeSequential, "Blues", 9)
	if err != nil {
		return nil
	}
	hm := plotter.NewHeatMap(g, pal)
	hm.Min, hm.Max = 0, 1
	p := newPanel("", "predicted class", "true class")
	p.Add(hm)
	if n <= 20 {
		l, err := plotter.NewLabels(plotter.XYLabels{XYs: pts, Labels: texts})
		if err == nil {
			for i := range l.TextStyle {
				l.TextStyle[i] = textStyle(math.Max(7, 11-0.2*float64(n)), false)
				l.TextStyle[i].XAlign, l.TextStyle[i].YAlign = draw.XCenter, draw.YCenter
				c, rr := int(pts[i].X), n-1-int(pts[i].Y)
				if g.share[rr][c] > 0.3 {
					l.TextStyle[i].Color = color.White
				}
			}
			p.Add(l)
		}
	}
	if n <= 40 {
		xt, yt := make([]plot.Tick, n), make([]plot.Tick, n)
		for i, name := range names {
			xt[i] = plot.Tick{Value: float64(i), Label: name}
			yt[i] = plot.Tick{Value: float64(n - 1 - i), Label: name}
		}
		p.X.Tick.Marker, p.Y.Tick.Marker = plot.ConstantTicks(xt), plot.ConstantTicks(yt)
		longest := 0
		for _, s := range names {
			longest = max(longest, len(s))
		}
		if longest > 3 || n > 12 {
			rotateTickLabels(&p.X, math.Pi/4)
		}
	}
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = -0.5, float64(n)-0.5, -0.5, float64(n)-0.5
	side := vg.Length(math.Min(9, 4.5+0.12*float64(n))) * vg.Inch
	return &figure{
		Plot: Plot{
			Name:  fmt.Sprintf("confusion-%d-%s", idx+1, fileSafe(r.ID)),
			Title: "Confusion matrix: " + r.Label(),
			Caption: fmt.Sprintf("Accuracy %s. Rows are the true class, columns the prediction; numbers are counts; the shade grows with the share of the true class (square-root scale, so that few mistakes still show).",
				fmtPct(r.Metrics.Accuracy)),
		},
		panels: []*plot.Plot{p}, w: side + 0.6*vg.Inch, h: side,
	}
}

// fileSafe keeps letters, digits, '-' and '_' so that a run ID can name a file.
func fileSafe(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9') {
			return r
		}
		return '_'
	}, s)
	if len(s) > 40 {
		s = s[:40]
	}
	return s
}
