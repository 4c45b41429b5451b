package report_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/tinymlaas/tinyml/report"
)

func ExampleRecommend() {
	mk := func(tech string, acc float64, kib int64, p50 float64) report.Run {
		return report.Run{ID: tech, Model: "kws", Technique: tech, Device: "m4",
			Metrics: report.Metrics{Samples: 1000, Accuracy: acc, PackedBytes: kib << 10, Latency: report.Latency{P50: p50}}}
	}
	runs := []report.Run{mk("none", 0.94, 480, 9), mk("int8", 0.93, 130, 4), mk("int4", 0.90, 70, 4)}

	// A board with 256 KiB of flash that must answer within 5 ms.
	rec := report.Recommend(runs, report.Constraints{MaxSizeBytes: 256 << 10, MaxLatencyP50MS: 5})
	fmt.Println(rec.Best.Technique)
	for _, v := range rec.Others {
		fmt.Printf("%s: %s\n", v.RunID, v.Reasons[0])
	}
	// Output:
	// int8
	// int4: fits, but accuracy 90.00% < 93.00% of kws · int8 @ m4
	// none: size 480 KiB > limit 256 KiB (88% over)
}

func ExampleGate() {
	day := func(d int) time.Time { return time.Date(2025, 3, d, 0, 0, 0, 0, time.UTC) }
	prev := []report.Entry{{Version: "v1.4", Time: day(1), Model: "kws", Technique: "int8", Accuracy: 0.93, Latency: report.Latency{P50: 4}}}
	cur := []report.Entry{{Version: "v1.5", Time: day(2), Model: "kws", Technique: "int8", Accuracy: 0.93, Latency: report.Latency{P50: 5.5}}}

	err := report.Gate(prev, cur, report.DefaultThresholds())
	var re *report.RegressionError
	if errors.As(err, &re) {
		fmt.Println(re.Regressions[0])
	}
	// Output:
	// kws · int8: latency p50 rose to 5.50 ms from 4.00 ms in v1.4 (1.38×, limit 1.25×)
}

func ExampleReport_WriteDir() {
	dir, _ := os.MkdirTemp("", "report")
	defer os.RemoveAll(dir)
	r := report.New(sampleRuns(), report.WithConstraints(report.Constraints{MaxSizeBytes: 300 << 10}))
	files, err := r.WriteDir(context.Background(), dir, report.FormatMarkdown, report.FormatCSV)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range files {
		fmt.Println(filepath.Base(f))
	}
	// Output:
	// report.md
	// report.csv
}
