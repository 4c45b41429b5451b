package report_test

import (
	"bytes"
	"testing"

	"github.com/tinymlaas/tinyml/report"
)

// BenchmarkHTML1000 builds the full HTML report, every plot included, for 1,000 runs (10 models ×
// 10 techniques × 10 devices). The target is under 2 s per report.
func BenchmarkHTML1000(b *testing.B) {
	runs := syntheticRuns(1000)
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := report.New(runs).WriteHTML(&buf); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len())/(1<<20), "MiB/report")
}

// BenchmarkTable1000 is the part without plots: table, fronts, recommendation, Markdown.
func BenchmarkTable1000(b *testing.B) {
	runs := syntheticRuns(1000)
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := report.New(runs).WriteMarkdown(&buf); err != nil {
			b.Fatal(err)
		}
	}
}
