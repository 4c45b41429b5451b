package report

import (
	"math"
	"slices"
	"strings"
)

// column is one column of the comparison table, shared by HTML and Markdown so both show the
// same thing.
type column struct {
	head, help string
	numeric    bool
	// cell returns the text shown and, for numeric columns, the value to sort by (NaN: none).
	cell func(Row) (string, float64)
	// tone says whether the value is "better" or "worse" than the baseline's; nil for none.
	tone func(Row) string
}

func textCell(f func(Row) string) func(Row) (string, float64) {
	return func(r Row) (string, float64) { return f(r), 0 }
}

// tableColumns lists the columns for rows; Dataset appears only when there is more than one.
func tableColumns(rows []Row) []column {
	// Datasets matter only when a model was tested on more than one; otherwise the model says it.
	multiData := false
	seen := map[string]string{}
	for _, r := range rows {
		if d, ok := seen[r.Model]; ok && d != r.Dataset {
			multiData = true
		}
		seen[r.Model] = r.Dataset
	}
	nan := math.NaN()
	done := func(r Row, f func(Row) (string, float64)) (string, float64) {
		if !r.Done() {
			return "–", nan
		}
		if t, v := f(r); t != "–" {
			return t, v
		}
		return "–", nan
	}
	// delta shows a comparison with the baseline; the baseline itself sorts as neutral.
	delta := func(neutral float64, f func(*Delta) (string, float64)) func(Row) (string, float64) {
		return func(r Row) (string, float64) {
			switch {
			case r.IsBaseline() && r.Done():
				return "baseline", neutral
			case r.Delta == nil:
				return "–", nan
			}
			return f(r.Delta)
		}
	}
	ratioCell := func(v float64) (string, float64) {
		if v <= 0 {
			return "–", nan
		}
		return fmtRatio(v), v
	}
	// lowerBetter tones a ratio column: below 1 is an improvement on the baseline.
	lowerBetter := func(f func(*Delta) float64) func(Row) string {
		return func(r Row) string {
			if r.Delta == nil {
				return ""
			}
			switch v := f(r.Delta); {
			case v <= 0 || math.Abs(v-1) < 0.005:
				return ""
			case v < 1:
				return "better"
			}
			return "worse"
		}
	}
	cols := []column{
		{head: "Model", cell: textCell(func(r Row) string { return r.Model })},
	}
	if multiData {
		cols = append(cols, column{head: "Dataset", cell: textCell(func(r Row) string { return r.Dataset })})
	}
	cols = append(cols, column{head: "Technique", cell: textCell(func(r Row) string { return r.Technique })})
	// With one device the overview names it; a column repeating it would only take room.
	if slices.ContainsFunc(rows, func(r Row) bool { return r.Device != rows[0].Device }) {
		cols = append(cols, column{head: "Device", cell: textCell(func(r Row) string { return r.Device })})
	}
	cols = append(cols,
		column{head: "Status", cell: textCell(func(r Row) string { return cmpOr(r.Status, StatusDone) })},
		column{head: "Accuracy", help: "top-1 accuracy on the test set", numeric: true, cell: func(r Row) (string, float64) {
			return done(r, func(r Row) (string, float64) { return fmtPct(r.Metrics.Accuracy), r.Metrics.Accuracy })
		}},
		column{head: "Δ acc", help: "accuracy minus the baseline's, in percentage points", numeric: true,
			cell: delta(0, func(d *Delta) (string, float64) { return fmtPP(d.Accuracy), d.Accuracy }),
			tone: func(r Row) string {
				switch {
				case r.Delta == nil || math.Abs(r.Delta.Accuracy) < 0.00005:
					return ""
				case r.Delta.Accuracy > 0:
					return "better"
				}
				return "worse"
			}},
		column{head: "p50", help: "median latency per sample", numeric: true, cell: func(r Row) (string, float64) {
			return done(r, func(r Row) (string, float64) { return fmtMS(r.Metrics.Latency.P50), r.Metrics.Latency.P50 })
		}},
		column{head: "p90", help: "90th percentile latency per sample", numeric: true, cell: func(r Row) (string, float64) {
			return done(r, func(r Row) (string, float64) { return fmtMS(r.Metrics.Latency.P90), r.Metrics.Latency.P90 })
		}},
		column{head: "× p50", help: "p50 latency relative to the baseline", numeric: true,
			cell: delta(1, func(d *Delta) (string, float64) { return ratioCell(d.LatencyRatio) }),
			tone: lowerBetter(func(d *Delta) float64 { return d.LatencyRatio })},
		column{head: "Size", help: "compiled model size (ONNX file when not compiled)", numeric: true, cell: func(r Row) (string, float64) {
			return done(r, func(r Row) (string, float64) {
				return fmtBytes(r.Metrics.SizeBytes()), float64(r.Metrics.SizeBytes())
			})
		}},
		column{head: "× size", help: "size relative to the baseline", numeric: true,
			cell: delta(1, func(d *Delta) (string, float64) { return ratioCell(d.SizeRatio) }),
			tone: lowerBetter(func(d *Delta) float64 { return d.SizeRatio })},
		column{head: "Memory", help: "measured peak memory (planned arena when not measured)", numeric: true, cell: func(r Row) (string, float64) {
			return done(r, func(r Row) (string, float64) {
				return fmtBytes(r.Metrics.MemoryBytes()), float64(r.Metrics.MemoryBytes())
			})
		}},
		column{head: "Agreement", help: "share of predictions equal to the baseline's", numeric: true, cell: func(r Row) (string, float64) {
			if !r.Done() || r.IsBaseline() || r.Metrics.Agreement == 0 {
				return "–", nan
			}
			return fmtPct(r.Metrics.Agreement), r.Metrics.Agreement
		}},
		column{head: "Pareto", help: "on the accuracy–size or accuracy–latency front of its dataset and device", cell: textCell(paretoText)},
	)
	return cols
}

func paretoText(r Row) string {
	var s []string
	if r.ParetoSize {
		s = append(s, "size")
	}
	if r.ParetoLatency {
		s = append(s, "latency")
	}
	if len(s) == 0 {
		return ""
	}
	return strings.Join(s, ", ")
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
