package report_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tinymlaas/tinyml/report"
)

// run builds a finished run with the figures the comparison looks at.
func run(id, model, tech, device string, acc float64, size int64, p50 float64) report.Run {
	return report.Run{ID: id, Model: model, Dataset: "test", Technique: tech, Device: device, Status: report.StatusDone,
		Metrics: report.Metrics{Samples: 1000, Accuracy: acc, PackedBytes: size, Latency: report.Latency{P50: p50, P90: p50 * 1.2},
			PeakMemBytes: size * 2}}
}

func rowByID(t *testing.T, rows []report.Row, id string) report.Row {
	t.Helper()
	for _, r := range rows {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("no row %s", id)
	return report.Row{}
}

func TestRowsDeltasAgainstSameModelDatasetDeviceBaseline(t *testing.T) {
	runs := []report.Run{
		run("a-int8-pi", "a", "int8", "pi", 0.95, 250, 2),
		run("a-none-pi", "a", "none", "pi", 0.97, 1000, 4),
		run("a-none-mcu", "a", "none", "mcu", 0.97, 1000, 40),
		run("a-int8-mcu", "a", "int8", "mcu", 0.96, 250, 10),
		run("b-int8-pi", "b", "int8", "pi", 0.80, 100, 1), // no baseline for b
	}
	rows := report.New(runs).Rows()

	tests := []struct {
		id            string
		baseline      string
		dAcc          float64
		size, latency float64
	}{
		{"a-int8-pi", "a-none-pi", -0.02, 0.25, 0.5},
		{"a-int8-mcu", "a-none-mcu", -0.01, 0.25, 0.25},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			r := rowByID(t, rows, tt.id)
			require.Equal(t, tt.baseline, r.BaselineID)
			require.NotNil(t, r.Delta)
			require.InDelta(t, tt.dAcc, r.Delta.Accuracy, 1e-9)
			require.InDelta(t, tt.size, r.Delta.SizeRatio, 1e-9)
			require.InDelta(t, tt.latency, r.Delta.LatencyRatio, 1e-9)
			require.InDelta(t, tt.size, r.Delta.MemoryRatio, 1e-9)
		})
	}
	require.Nil(t, rowByID(t, rows, "b-int8-pi").Delta, "a model without a none run has nothing to compare with")
	require.Nil(t, rowByID(t, rows, "a-none-pi").Delta, "the baseline is not compared with itself")
}

func TestRowsSortedByModelTechniqueDeviceWithBaselineFirst(t *testing.T) {
	runs := []report.Run{
		run("3", "b", "none", "pi", 0.9, 10, 1),
		run("2", "a", "int8", "pi", 0.9, 10, 1),
		run("1", "a", "fp16", "pi", 0.9, 10, 1),
		run("0", "a", "none", "pi", 0.9, 10, 1),
		run("4", "a", "fp16", "mcu", 0.9, 10, 1),
	}
	var got []string
	for _, r := range report.New(runs).Rows() {
		got = append(got, r.Model+"/"+r.Technique+"/"+r.Device)
	}
	require.Equal(t, []string{"a/none/pi", "a/fp16/mcu", "a/fp16/pi", "a/int8/pi", "b/none/pi"}, got)
}

func TestParetoFronts(t *testing.T) {
	failed := run("failed", "m", "magic", "pi", 0.99, 1, 0.1)
	failed.Status = report.StatusFailed
	runs := []report.Run{
		run("none", "m", "none", "pi", 0.97, 1000, 4),
		run("fp16", "m", "fp16", "pi", 0.97, 500, 4.5),    // as accurate, smaller: beats none on size
		run("int8", "m", "int8", "pi", 0.95, 250, 2),      // smaller and faster, less accurate
		run("prune", "m", "prune", "pi", 0.93, 500, 3.9),  // dominated on size by int8
		run("tiny", "m", "tiny", "pi", 0.90, 100, 1),      // smallest and fastest
		run("tie", "m", "tie", "pi", 0.90, 100, 1),        // identical twin: both stay on the fronts
		run("other", "m", "none", "board", 0.50, 10, 0.5), // another device: its own front
		failed, // would dominate everything, but failed
	}
	rows := report.New(runs).Rows()
	tests := []struct {
		id            string
		size, latency bool
	}{
		{"none", false, true}, // as accurate as fp16 and faster
		{"fp16", true, false},
		{"int8", true, true},
		{"prune", false, false},
		{"tiny", true, true},
		{"tie", true, true},
		{"other", true, true},
		{"failed", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			r := rowByID(t, rows, tt.id)
			require.Equal(t, tt.size, r.ParetoSize, "accuracy–size front")
			require.Equal(t, tt.latency, r.ParetoLatency, "accuracy–latency front")
		})
	}
}

func TestSizeAndMemoryFallBack(t *testing.T) {
	m := report.Metrics{ModelBytes: 100, ArenaBytes: 7}
	require.EqualValues(t, 100, m.SizeBytes(), "no packed size: the ONNX file")
	require.EqualValues(t, 7, m.MemoryBytes(), "no measured peak: the arena")
	m.PackedBytes, m.PeakMemBytes = 40, 9
	require.EqualValues(t, 40, m.SizeBytes())
	require.EqualValues(t, 9, m.MemoryBytes())
}
