package report_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tinymlaas/tinyml/report"
)

func recRuns() []report.Run {
	failed := run("failed", "m", "int4", "pi", 0, 0, 0)
	failed.Status = report.StatusFailed
	return []report.Run{
		run("none", "m", "none", "pi", 0.970, 1000<<10, 4),
		run("fp16", "m", "fp16", "pi", 0.970, 500<<10, 3),
		run("int8", "m", "int8", "pi", 0.955, 250<<10, 2),
		run("prune", "m", "prune", "pi", 0.930, 412<<10, 3.5),
		run("tiny", "m", "tiny", "pi", 0.900, 100<<10, 1),
		run("mcu", "m", "int8", "mcu", 0.955, 250<<10, 30),
		failed,
	}
}

func reasons(rec report.Recommendation) map[string][]string {
	m := map[string][]string{}
	for _, v := range rec.Others {
		m[v.RunID] = v.Reasons
	}
	return m
}

func TestRecommend(t *testing.T) {
	tests := []struct {
		name    string
		c       report.Constraints
		best    string
		reasons map[string]string // run → one expected reason
	}{
		{
			name: "no limits: most accurate, tie on accuracy broken by latency",
			best: "fp16",
			reasons: map[string]string{
				"none":   "fits with the same accuracy, but latency p50 4.00 ms > 3.00 ms of m · fp16 @ pi",
				"int8":   "fits, but accuracy 95.50% < 97.00% of m · fp16 @ pi",
				"failed": "status failed",
			},
		},
		{
			name: "size limit",
			c:    report.Constraints{MaxSizeBytes: 256 << 10},
			best: "int8",
			reasons: map[string]string{
				"prune": "size 412 KiB > limit 256 KiB (61% over)",
				"fp16":  "size 500 KiB > limit 256 KiB (95% over)",
				"tiny":  "fits, but accuracy 90.00% < 95.50% of m · int8 @ pi",
			},
		},
		{
			name: "device and latency limits",
			c:    report.Constraints{Device: "pi", MaxLatencyP50MS: 1.5},
			best: "tiny",
			reasons: map[string]string{
				"mcu":  "measured on mcu, not pi",
				"int8": "latency p50 2.00 ms > limit 1.50 ms (33% over)",
			},
		},
		{
			name: "p90, memory and accuracy limits together",
			c:    report.Constraints{MaxLatencyP90MS: 3, MaxMemoryBytes: 600 << 10, MinAccuracy: 0.95},
			best: "int8",
			reasons: map[string]string{
				"tiny": "accuracy 90.00% < minimum 95.00% (5% short)",
				"none": "memory 2.0 MiB > limit 600 KiB (233% over)",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := report.Recommend(recRuns(), tt.c)
			require.NotNil(t, rec.Best)
			require.Equal(t, tt.best, rec.Best.ID)
			require.Nil(t, rec.Closest)
			require.Len(t, rec.Others, len(recRuns())-1, "every other run gets a verdict")
			got := reasons(rec)
			for id, want := range tt.reasons {
				require.Contains(t, got[id], want, "why %s lost", id)
			}
			require.Contains(t, rec.Summary, rec.Best.Label())
		})
	}
}

func TestRecommendNothingFitsNamesTheClosest(t *testing.T) {
	rec := report.Recommend(recRuns(), report.Constraints{MaxSizeBytes: 80 << 10, MaxLatencyP50MS: 1.5})
	require.Nil(t, rec.Best)
	require.NotNil(t, rec.Closest)
	require.Equal(t, "tiny", rec.Closest.RunID, "tiny misses only the size limit, by 25%")
	require.Equal(t, []string{"size 100 KiB > limit 80 KiB (25% over)"}, rec.Closest.Reasons)
	require.Contains(t, rec.Summary, "No run fits size ≤ 80 KiB, latency p50 ≤ 1.50 ms.")
	require.Contains(t, rec.Summary, "Closest: m · tiny @ pi")
	require.Contains(t, rec.Summary, "size 6, latency p50 5", "how many runs each limit ruled out, the worst first")
}

func TestRecommendNoFinishedRun(t *testing.T) {
	rec := report.Recommend(nil, report.Constraints{Device: "pi"})
	require.Nil(t, rec.Best)
	require.Equal(t, "No finished run on device pi to recommend.", rec.Summary)
}

func TestRecommendMissingMeasurementDoesNotFit(t *testing.T) {
	r := run("x", "m", "none", "pi", 0.9, 100, 0) // latency never measured
	rec := report.Recommend([]report.Run{r}, report.Constraints{MaxLatencyP50MS: 5})
	require.Nil(t, rec.Best)
	require.Equal(t, []string{"latency p50 not measured"}, rec.Others[0].Reasons)
	require.Nil(t, rec.Closest, "a run we know nothing about is not close")
}

func TestConstraintsString(t *testing.T) {
	require.Equal(t, "no limits", report.Constraints{}.String())
	require.Equal(t, "device pi, size ≤ 256 KiB, latency p90 ≤ 12.0 ms, memory ≤ 1.0 MiB, accuracy ≥ 90.00%",
		report.Constraints{Device: "pi", MaxSizeBytes: 256 << 10, MaxLatencyP90MS: 12, MaxMemoryBytes: 1 << 20, MinAccuracy: 0.9}.String())
}
