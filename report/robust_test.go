package report_test

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tinymlaas/tinyml/report"
)

// TestOddInputStillMakesAReport feeds what real pipelines produce on a bad day: every writer must
// still produce its output.
func TestOddInputStillMakesAReport(t *testing.T) {
	base := func() report.Run { return run("x", "m", "int8", "pi", 0.9, 1000, 2) }
	with := func(f func(*report.Run)) []report.Run {
		r := base()
		f(&r)
		return []report.Run{run("b", "m", "none", "pi", 0.95, 4000, 4), r}
	}
	tests := []struct {
		name string
		runs []report.Run
	}{
		{"no runs", nil},
		{"only a baseline", []report.Run{run("b", "m", "none", "pi", 0.95, 4000, 4)}},
		{"NaN accuracy", with(func(r *report.Run) { r.Metrics.Accuracy = math.NaN() })},
		{"infinite latency", with(func(r *report.Run) { r.Metrics.Latency.P50 = math.Inf(1) })},
		{"negative size", with(func(r *report.Run) { r.Metrics.PackedBytes = -5 })},
		{"NaN latency samples", with(func(r *report.Run) { r.Metrics.LatencySamplesMS = []float64{1, math.NaN(), 2, 3, 4, 5} })},
		{"ragged confusion", with(func(r *report.Run) { r.Metrics.Confusion = [][]int{{1, 2}, {3}} })},
		{"one-class confusion", with(func(r *report.Run) { r.Metrics.Confusion = [][]int{{7}} })},
		{"200 classes", with(func(r *report.Run) {
			r.Metrics.Confusion = make([][]int, 200)
			for i := range r.Metrics.Confusion {
				r.Metrics.Confusion[i] = make([]int, 200)
				r.Metrics.Confusion[i][i] = 5
			}
		})},
		{"nothing measured", with(func(r *report.Run) { r.Metrics = report.Metrics{} })},
		{"empty names", with(func(r *report.Run) { r.Model, r.Technique, r.Device, r.ID = "", "", "", "" })},
		{"long and hostile names", with(func(r *report.Run) {
			r.Technique = strings.Repeat("prune(sparsity=0.9) | ", 12) + `<script>alert("x")</script>`
		})},
		{"identical values everywhere", []report.Run{run("a", "m", "none", "pi", 0.5, 10, 1), run("b", "m", "int8", "pi", 0.5, 10, 1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := report.New(tt.runs, report.WithConstraints(report.Constraints{MaxLatencyP50MS: 3}))
			var html bytes.Buffer
			require.NoError(t, rep.WriteHTML(&html))
			require.NotContains(t, html.String(), `<script>alert`, "names are escaped")
			for _, write := range []func(*bytes.Buffer) error{
				func(b *bytes.Buffer) error { return rep.WriteMarkdown(b) },
				func(b *bytes.Buffer) error { return rep.WriteCSV(b) },
				func(b *bytes.Buffer) error { return rep.WriteJSON(b) },
			} {
				var buf bytes.Buffer
				require.NoError(t, write(&buf))
			}
		})
	}
}
