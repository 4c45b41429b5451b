package report

import (
	"context"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"math"
	"strconv"
	"strings"
)

//go:embed templates/page.html.tmpl
var templates embed.FS

// page is what templates/page.html.tmpl renders; the report and the history page both fill it.
type page struct {
	Title, Overview, Generated string
	Callout                    *callout
	Cards                      []card
	Tables                     []table
	Plots                      []plotView
	NoPlots                    string
}

type callout struct {
	Warn              bool
	Eyebrow, Headline string
	Lines             []string
	Limits            string
	ItemsTitle        string
	Items             []item
}

type item struct{ Label, Text string }

type card struct{ Key, Value, Detail string }

type table struct {
	ID, Title, Note string
	Heads           []head
	Rows            []tableRow
}

type head struct {
	Text, Help string
	Numeric    bool
}

type tableRow struct {
	ID, Class string
	Cells     []cell
}

type cell struct {
	Text, Sort, Class, Badge string
	Tags                     []string
}

type plotView struct {
	Name, Title, Caption string
	Src                  template.URL
	Width, Height        int
	Wide                 bool
	// MaxWidth shows the image at about 0.7 of its pixel size: its text then matches the page's.
	MaxWidth int
}

func writePage(w io.Writer, p page) error {
	t, err := template.ParseFS(templates, "templates/page.html.tmpl")
	if err != nil {
		return fmt.Errorf("report: parse template: %w", err)
	}
	if err := t.Execute(w, p); err != nil {
		return fmt.Errorf("report: write HTML: %w", err)
	}
	return nil
}

func plotViews(plots []Plot) []plotView {
	vs := make([]plotView, len(plots))
	for i, p := range plots {
		vs[i] = plotView{
			Name: p.Name, Title: p.Title, Caption: p.Caption,
			// The page must work offline and as a single attachment, so images travel inside it.
			// The URL is ours (base64 of our PNG), hence safe to mark as such.
			Src:   template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(p.PNG)),
			Width: p.width, Height: p.height, Wide: p.width > 7*dpi, MaxWidth: p.width * 7 / 10,
		}
	}
	return vs
}

// WriteHTML writes the report as one self-contained HTML page: summary and recommendation, the
// sortable table, and the plots embedded as images. It needs no network and no other file.
func (r *Report) WriteHTML(w io.Writer) error {
	plots, err := r.Plots(context.Background())
	if err != nil {
		return err
	}
	return r.writeHTML(w, plots)
}

func (r *Report) writeHTML(w io.Writer, plots []Plot) error {
	p := page{
		Title:     r.cfg.title,
		Overview:  r.overview(),
		Generated: r.cfg.generatedAt.Format("2006-01-02 15:04 MST"),
		Callout:   r.recCallout(),
		Cards:     r.cards(),
		Tables:    []table{r.runTable()},
		Plots:     plotViews(plots),
		NoPlots:   "No finished runs to plot yet.",
	}
	return writePage(w, p)
}

func (r *Report) recCallout() *callout {
	rec := r.rec
	c := &callout{Eyebrow: "Recommendation", Limits: "Limits: " + rec.Constraints.String() + ".",
		ItemsTitle: fmt.Sprintf("Why not the other %d run(s)", len(rec.Others))}
	for _, o := range rec.Others {
		c.Items = append(c.Items, item{o.Label, strings.Join(o.Reasons, "; ")})
	}
	if rec.Best == nil {
		c.Warn = true
		c.Headline = "No run fits"
		c.Lines = []string{rec.Summary}
		return c
	}
	m := rec.Best.Metrics
	c.Headline = rec.Best.Label()
	c.Lines = []string{
		fmt.Sprintf("Accuracy %s · size %s · latency p50 %s · memory %s", fmtPct(m.Accuracy), fmtBytes(m.SizeBytes()),
			fmtMS(m.Latency.P50), fmtBytes(m.MemoryBytes())),
		rec.Why,
	}
	return c
}

// cards are the three runs people ask about first: the most accurate, the smallest, the fastest.
func (r *Report) cards() []card {
	var acc, small, fast *Row
	for i := range r.rows {
		row := &r.rows[i]
		if !row.Done() || !row.Metrics.hasAccuracy() {
			continue
		}
		if acc == nil || row.Metrics.Accuracy > acc.Metrics.Accuracy {
			acc = row
		}
		if s := row.Metrics.SizeBytes(); s > 0 && (small == nil || s < small.Metrics.SizeBytes()) {
			small = row
		}
		if l := row.Metrics.Latency.P50; l > 0 && (fast == nil || l < fast.Metrics.Latency.P50) {
			fast = row
		}
	}
	vsBase := func(row *Row, ratio float64) string {
		if row.Delta == nil {
			if row.IsBaseline() {
				return "the baseline"
			}
			return "no baseline to compare with"
		}
		return fmt.Sprintf("%s baseline, %s accuracy", fmtRatio(ratio), fmtPP(row.Delta.Accuracy))
	}
	var cs []card
	if acc != nil {
		cs = append(cs, card{"Most accurate", acc.Label(), fmtPct(acc.Metrics.Accuracy) + " top-1"})
	}
	if small != nil {
		d := 0.0
		if small.Delta != nil {
			d = small.Delta.SizeRatio
		}
		cs = append(cs, card{"Smallest", small.Label(), fmtBytes(small.Metrics.SizeBytes()) + " · " + vsBase(small, d)})
	}
	if fast != nil {
		d := 0.0
		if fast.Delta != nil {
			d = fast.Delta.LatencyRatio
		}
		cs = append(cs, card{"Fastest", fast.Label(), fmtMS(fast.Metrics.Latency.P50) + " p50 · " + vsBase(fast, d)})
	}
	return cs
}

func (r *Report) runTable() table {
	cols := tableColumns(r.rows)
	t := table{ID: "runs", Title: "Runs",
		Note: "Click a column to sort. Deltas compare each run with the uncompressed (none) run of the same model, dataset and device; Pareto marks runs no other run beats on both accuracy and size (or latency)."}
	for _, c := range cols {
		t.Heads = append(t.Heads, head{c.head, c.help, c.numeric})
	}
	bestID := ""
	if r.rec.Best != nil {
		bestID = r.rec.Best.ID
	}
	for _, row := range r.rows {
		tr := tableRow{ID: row.ID}
		switch {
		case row.ID == bestID:
			tr.Class = "best"
		case !row.Done():
			tr.Class = "failed"
		}
		for _, c := range cols {
			text, v := c.cell(row)
			td := cell{Text: text}
			if c.numeric {
				td.Class = "num"
				if !math.IsNaN(v) {
					td.Sort = strconv.FormatFloat(v, 'g', -1, 64)
				}
			}
			if c.tone != nil {
				if tone := c.tone(row); tone != "" {
					td.Class += " " + tone
				}
			}
			switch c.head {
			case "Status":
				td.Badge = text
			case "Pareto":
				if text != "" {
					td.Tags = strings.Split(text, ", ")
				}
			}
			tr.Cells = append(tr.Cells, td)
		}
		t.Rows = append(t.Rows, tr)
	}
	return t
}
