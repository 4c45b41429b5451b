package report

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

const (
	maxTrendModels = 12  // trend figures on a history page
	maxTrendSeries = 12  // lines in one trend figure
	maxRecentRows  = 200 // rows in its "recent entries" table
)

// WriteHistoryHTML writes a self-contained page about a performance history: whether the latest
// entry of each series regressed against the one before it (under WithThresholds), a table of
// the latest entries, and accuracy and latency trends per model.
func WriteHistoryHTML(w io.Writer, entries []Entry, opts ...Option) error {
	cfg := newConfig("TinyML performance history", opts)
	prev, cur := splitLatest(entries)
	var regs []Regression
	var re *RegressionError
	if err := Gate(prev, cur, cfg.thresholds); errors.As(err, &re) {
		regs = re.Regressions
	}
	plots, err := renderAll(context.Background(), trendFigures(entries, regs))
	if err != nil {
		return err
	}
	return writePage(w, page{
		Title:     cfg.title,
		Overview:  historyOverview(entries, cur),
		Generated: cfg.generatedAt.Format("2006-01-02 15:04 MST"),
		Callout:   gateCallout(regs, len(cur), cfg.thresholds),
		Tables:    []table{latestTable(prev, cur, regs), recentTable(entries)},
		Plots:     plotViews(plots),
		NoPlots:   "The history is empty.",
	})
}

func historyOverview(entries, cur []Entry) string {
	if len(entries) == 0 {
		return "No entries yet."
	}
	machines := map[string]bool{}
	first, last := entries[0], entries[0]
	for _, e := range entries {
		machines[e.Machine] = true
		if e.Time.Before(first.Time) {
			first = e
		}
		if !e.Time.Before(last.Time) {
			last = e
		}
	}
	s := fmt.Sprintf("%d entries in %d series from %d machine(s), %s to %s", len(entries), len(cur), len(machines),
		first.Time.Format("2006-01-02"), last.Time.Format("2006-01-02"))
	if first.Version != "" && last.Version != "" {
		s += fmt.Sprintf(" (versions %s to %s)", first.Version, last.Version)
	}
	return s + "."
}

func gateCallout(regs []Regression, series int, th Thresholds) *callout {
	var limits []string
	if th.MinAccuracyRatio > 0 {
		limits = append(limits, "accuracy ≥ "+fmtNum(th.MinAccuracyRatio)+"×")
	}
	if th.MaxLatencyRatio > 0 {
		limits = append(limits, "latency p50 ≤ "+fmtNum(th.MaxLatencyRatio)+"×")
	}
	if th.MaxSizeRatio > 0 {
		limits = append(limits, "size ≤ "+fmtNum(th.MaxSizeRatio)+"×")
	}
	if th.MaxMemoryRatio > 0 {
		limits = append(limits, "memory ≤ "+fmtNum(th.MaxMemoryRatio)+"×")
	}
	c := &callout{Eyebrow: "Regression gate",
		Limits: fmt.Sprintf("The latest entry of each of %d series against the one before it: %s.", series, strings.Join(limits, ", "))}
	if len(regs) == 0 {
		c.Headline = "No regressions"
		return c
	}
	c.Warn = true
	c.Headline = fmt.Sprintf("%d regression(s)", len(regs))
	for _, r := range regs {
		c.Lines = append(c.Lines, r.String())
	}
	return c
}

// entryColumns are the leading columns of the history tables; dataset, device and machine appear
// only when they vary, to keep the tables narrow.
type entryColumns struct{ dataset, device, machine bool }

func columnsFor(entries []Entry) entryColumns {
	var c entryColumns
	for _, e := range entries {
		c.dataset = c.dataset || e.Dataset != entries[0].Dataset
		c.device = c.device || e.Device != entries[0].Device
		c.machine = c.machine || e.Machine != entries[0].Machine
	}
	return c
}

func (c entryColumns) heads(extra ...head) []head {
	hs := []head{{Text: "Model"}, {Text: "Technique"}}
	for _, h := range []struct {
		on   bool
		name string
	}{{c.dataset, "Dataset"}, {c.device, "Device"}, {c.machine, "Machine"}} {
		if h.on {
			hs = append(hs, head{Text: h.name})
		}
	}
	hs = append(hs, head{Text: "Version"}, head{Text: "Time"}, head{Text: "Accuracy", Numeric: true})
	return append(hs, extra...)
}

func (c entryColumns) cells(e Entry) []cell {
	cs := []cell{{Text: e.Model}, {Text: e.Technique}}
	for _, v := range []struct {
		on   bool
		text string
	}{{c.dataset, e.Dataset}, {c.device, e.Device}, {c.machine, e.Machine}} {
		if v.on {
			cs = append(cs, cell{Text: v.text})
		}
	}
	return append(cs, cell{Text: e.Version}, cell{Text: e.Time.UTC().Format("2006-01-02 15:04")},
		numCell(fmtPct(e.Accuracy), e.Accuracy))
}

func numCell(text string, v float64) cell {
	c := cell{Text: text, Class: "num"}
	if text != "–" {
		c.Sort = strconv.FormatFloat(v, 'g', -1, 64)
	}
	return c
}

func latestTable(prev, cur []Entry, regs []Regression) table {
	t := table{ID: "latest", Title: "Latest entry per series",
		Note: "Changes compare with the previous entry of the same series (machine, model, dataset, technique, device)."}
	cols := columnsFor(cur)
	t.Heads = cols.heads(head{Text: "Δ acc", Numeric: true}, head{Text: "p50", Numeric: true},
		head{Text: "× p50", Numeric: true}, head{Text: "Size", Numeric: true}, head{Text: "Memory", Numeric: true}, head{Text: "Gate"})
	before := map[seriesKey]Entry{}
	for _, e := range prev {
		if old, ok := before[e.key()]; !ok || !e.Time.Before(old.Time) {
			before[e.key()] = e
		}
	}
	regressed := map[string]bool{}
	for _, r := range regs {
		regressed[r.Key] = true
	}
	for _, e := range cur {
		row := tableRow{Cells: cols.cells(e)}
		dAcc, xLat := cell{Text: "new", Class: "num"}, cell{Text: "new", Class: "num"}
		if p, ok := before[e.key()]; ok {
			d := e.Accuracy - p.Accuracy
			dAcc = numCell(fmtPP(d), d)
			if r := ratio(e.Latency.P50, p.Latency.P50); r > 0 {
				xLat = numCell(fmtRatio(r), r)
			} else {
				xLat = numCell("–", 0)
			}
		}
		gate := cell{Text: "ok", Badge: "ok"}
		if regressed[e.Key()] {
			gate = cell{Text: "regressed", Badge: "regressed"}
			row.Class = "regressed"
		}
		row.Cells = append(row.Cells, dAcc, numCell(fmtMS(e.Latency.P50), e.Latency.P50), xLat,
			numCell(fmtBytes(e.SizeBytes), float64(e.SizeBytes)), numCell(fmtBytes(e.MemoryBytes), float64(e.MemoryBytes)), gate)
		t.Rows = append(t.Rows, row)
	}
	return t
}

func recentTable(entries []Entry) table {
	sorted := slices.Clone(entries)
	slices.SortStableFunc(sorted, func(a, b Entry) int { return b.Time.Compare(a.Time) })
	t := table{ID: "recent", Title: "Recent entries"}
	if len(sorted) > maxRecentRows {
		t.Note = fmt.Sprintf("The newest %d of %d entries.", maxRecentRows, len(sorted))
		sorted = sorted[:maxRecentRows]
	}
	cols := columnsFor(sorted)
	t.Heads = cols.heads(head{Text: "p50", Numeric: true}, head{Text: "p90", Numeric: true},
		head{Text: "Size", Numeric: true}, head{Text: "Memory", Numeric: true})
	for _, e := range sorted {
		row := tableRow{Cells: append(cols.cells(e), numCell(fmtMS(e.Latency.P50), e.Latency.P50),
			numCell(fmtMS(e.Latency.P90), e.Latency.P90), numCell(fmtBytes(e.SizeBytes), float64(e.SizeBytes)),
			numCell(fmtBytes(e.MemoryBytes), float64(e.MemoryBytes)))}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// trendFigures draws, per model, accuracy and p50 latency over time, one line per series; the
// latest point of a series that regressed is ringed.
func trendFigures(entries []Entry, regs []Regression) []*figure {
	byModel := map[string][]Entry{}
	var models, techs []string
	for _, e := range entries {
		if _, ok := byModel[e.Model]; !ok {
			models = append(models, e.Model)
		}
		byModel[e.Model] = append(byModel[e.Model], e)
		techs = append(techs, e.Technique)
	}
	slices.Sort(models)
	marks := marks(techs)
	regressed := map[string]bool{}
	for _, r := range regs {
		regressed[r.Key] = true
	}
	var figs []*figure
	for i, model := range models {
		if i == maxTrendModels {
			break
		}
		figs = append(figs, trendFigure(model, byModel[model], marks, regressed))
	}
	return figs
}

func trendFigure(model string, entries []Entry, marks map[string]mark, regressed map[string]bool) *figure {
	series := map[seriesKey][]Entry{}
	var keys []seriesKey
	machines := map[string]int{}
	vary := map[string]bool{}
	for _, e := range entries {
		k := e.key()
		if _, ok := series[k]; !ok {
			keys = append(keys, k)
		}
		series[k] = append(series[k], e)
		if _, ok := machines[e.Machine]; !ok {
			machines[e.Machine] = len(machines)
		}
		vary["dataset"] = vary["dataset"] || e.Dataset != entries[0].Dataset
		vary["device"] = vary["device"] || e.Device != entries[0].Device
		vary["machine"] = vary["machine"] || e.Machine != entries[0].Machine
	}
	slices.SortFunc(keys, func(a, b seriesKey) int {
		return cmp.Or(compareTechniques(a.technique, b.technique), strings.Compare(a.dataset, b.dataset),
			strings.Compare(a.device, b.device), strings.Compare(a.machine, b.machine))
	})

	caption := "Accuracy (top) and p50 latency (bottom) of each series over time; one colour and marker per technique."
	if len(keys) > maxTrendSeries {
		// Keep the series that regressed, then the first ones in order.
		slices.SortStableFunc(keys, func(a, b seriesKey) int {
			ra, rb := regressed[series[a][0].Key()], regressed[series[b][0].Key()]
			switch {
			case ra && !rb:
				return -1
			case rb && !ra:
				return 1
			}
			return 0
		})
		caption += fmt.Sprintf(" Showing %d of %d series, those that regressed first.", maxTrendSeries, len(keys))
		keys = keys[:maxTrendSeries]
		entries = nil
		for _, k := range keys {
			entries = append(entries, series[k]...)
		}
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, e := range entries {
		t := float64(e.Time.Unix())
		lo, hi = math.Min(lo, t), math.Max(hi, t)
	}
	if hi == lo {
		lo, hi = lo-43200, hi+43200
	}
	pad := (hi - lo) * 0.04

	accP := newPanel("", "", "accuracy (%)")
	latP := newPanel("", "time (UTC)", "latency p50 (ms)")
	var latLo, latHi float64 = math.Inf(1), 0
	accLo, accHi := math.Inf(1), math.Inf(-1)
	legend := newLegend()
	for _, k := range keys {
		es := series[k]
		slices.SortStableFunc(es, func(a, b Entry) int { return a.Time.Compare(b.Time) })
		var acc, lat plotter.XYs
		for _, e := range es {
			t := float64(e.Time.Unix())
			acc = append(acc, plotter.XY{X: t, Y: 100 * e.Accuracy})
			accLo, accHi = math.Min(accLo, 100*e.Accuracy), math.Max(accHi, 100*e.Accuracy)
			if e.Latency.P50 > 0 {
				lat = append(lat, plotter.XY{X: t, Y: e.Latency.P50})
				latLo, latHi = math.Min(latLo, e.Latency.P50), math.Max(latHi, e.Latency.P50)
			}
		}
		m := marks[k.technique]
		dashes := [][]vg.Length{nil, {vg.Points(6), vg.Points(3)}, {vg.Points(2), vg.Points(2)}}[machines[k.machine]%3]
		style := func(xys plotter.XYs) (*plotter.Line, *plotter.Scatter) {
			l, s, err := plotter.NewLinePoints(xys)
			if err != nil {
				return nil, nil
			}
			l.Color, l.Width, l.Dashes = m.color, vg.Points(1.6), dashes
			s.GlyphStyle = draw.GlyphStyle{Color: m.color, Radius: vg.Points(3.5), Shape: m.shape}
			return l, s
		}
		label := k.technique
		if vary["dataset"] {
			label += " [" + k.dataset + "]"
		}
		if vary["device"] {
			label += " @ " + k.device
		}
		if vary["machine"] {
			label += " on " + k.machine
		}
		if l, s := style(acc); l != nil {
			accP.Add(l, s)
			legend.Add(label, l, s)
		}
		if l, s := style(lat); l != nil {
			latP.Add(l, s)
		}
		if regressed[es[len(es)-1].Key()] {
			last := es[len(es)-1]
			ring := func(p *plot.Plot, y float64) {
				s, err := plotter.NewScatter(plotter.XYs{{X: float64(last.Time.Unix()), Y: y}})
				if err == nil {
					s.GlyphStyle = draw.GlyphStyle{Color: color.RGBA{0xD5, 0x5E, 0x00, 0xff}, Radius: vg.Points(8), Shape: draw.RingGlyph{}}
					p.Add(s)
				}
			}
			ring(accP, 100*last.Accuracy)
			if last.Latency.P50 > 0 {
				ring(latP, last.Latency.P50)
			}
		}
	}
	for _, p := range []*plot.Plot{accP, latP} {
		p.X.Min, p.X.Max = lo-pad, hi+pad
		p.X.Tick.Marker = timeTicks{}
	}
	setRange(&accP.Y, accLo, accHi, false)
	if latHi > 0 {
		setRange(&latP.Y, latLo, latHi, true)
		if _, isLog := latP.Y.Scale.(plot.LogScale); isLog {
			latP.Y.Label.Text += ", log scale"
		}
	}
	if len(regressed) > 0 {
		s, _ := plotter.NewScatter(plotter.XYs{{}})
		s.GlyphStyle = draw.GlyphStyle{Color: color.RGBA{0xD5, 0x5E, 0x00, 0xff}, Radius: vg.Points(6), Shape: draw.RingGlyph{}}
		legend.Add("regression", s)
	}
	return &figure{
		Plot:   Plot{Name: "trend-" + fileSafe(model), Title: "Trend: " + model, Caption: caption},
		panels: []*plot.Plot{accP, latP}, cols: 1, legend: legend,
		w: 9 * vg.Inch, h: 6.4 * vg.Inch,
	}
}

// timeTicks puts at most about seven labels on a time axis (Unix seconds) at round UTC times:
// whole hours, days, weeks or months, rather than gonum's evenly spaced odd seconds.
type timeTicks struct{}

func (timeTicks) Ticks(lo, hi float64) []plot.Tick {
	const hour, day = 3600.0, 86400.0
	steps := []struct {
		secs   float64
		format string
	}{
		{hour, "01-02 15:04"}, {3 * hour, "01-02 15:04"}, {6 * hour, "01-02 15:04"}, {12 * hour, "01-02 15:04"},
		{day, "2006-01-02"}, {2 * day, "2006-01-02"}, {7 * day, "2006-01-02"}, {14 * day, "2006-01-02"},
		{30 * day, "2006-01"}, {91 * day, "2006-01"}, {365 * day, "2006"},
	}
	step := steps[len(steps)-1]
	for _, s := range steps {
		if (hi-lo)/s.secs <= 7 {
			step = s
			break
		}
	}
	var ticks []plot.Tick
	for t := math.Ceil(lo/step.secs) * step.secs; t <= hi; t += step.secs {
		ticks = append(ticks, plot.Tick{Value: t, Label: time.Unix(int64(t), 0).UTC().Format(step.format)})
	}
	return ticks
}
