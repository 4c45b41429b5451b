package report_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tinymlaas/tinyml/report"
)

func entry(version string, day int, tech string, acc, p50 float64) report.Entry {
	return report.Entry{
		Version: version, Time: time.Date(2025, 3, day, 12, 0, 0, 0, time.UTC), Machine: "ci-amd64",
		Model: "mnist-cnn", Dataset: "mnist-test", Technique: tech, Device: "local",
		Accuracy: acc, Latency: report.Latency{Min: p50 * 0.8, P50: p50, P90: p50 * 1.2, P99: p50 * 1.5, Mean: p50 * 1.05},
		SizeBytes: 400_000, MemoryBytes: 600_000,
	}
}

func TestHistoryAppendAndRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bench", "history.jsonl")
	got, err := report.ReadHistory(path)
	require.NoError(t, err, "a missing history is an empty one")
	require.Empty(t, got)

	first := []report.Entry{entry("v1.0.0", 1, "none", 0.99, 1), entry("v1.0.0", 1, "int8", 0.985, 0.5)}
	require.NoError(t, report.AppendHistory(path, first...))
	second := entry("v1.1.0", 2, "int8", 0.986, 0.45)
	require.NoError(t, report.AppendHistory(path, second))

	got, err = report.ReadHistory(path)
	require.NoError(t, err)
	require.Equal(t, append(first, second), got)

	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, 3, bytes.Count(b, []byte("\n")), "one JSON object per line")
	require.Contains(t, string(b), `"latency_ms":{"min":0.8,"p50":1,`)
}

func TestAppendHistoryRepairsACutOffLastLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.jsonl")
	require.NoError(t, report.AppendHistory(path, entry("v1", 1, "none", 0.9, 1)))
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"model":"half a li`) // a crash mid-write
	require.NoError(t, err)
	require.NoError(t, f.Close())

	require.NoError(t, report.AppendHistory(path, entry("v2", 2, "none", 0.9, 1)))
	_, err = report.ReadHistory(path)
	var pe *report.ParseError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, 2, pe.Line, "the broken line stays broken, and alone on its line")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Contains(t, string(b), "half a li\n{", "the new entry starts on a fresh line")
}

func TestAppendHistoryRejectsBadEntries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.jsonl")
	bad := entry("v1", 1, "none", 1.5, 1)
	err := report.AppendHistory(path, entry("v1", 1, "int8", 0.9, 1), bad)
	require.ErrorContains(t, err, `history entry 1 (mnist-cnn/mnist-test · none @ local on ci-amd64): "accuracy" 1.5: want a share between 0 and 1`)
	_, statErr := os.Stat(path)
	require.True(t, errors.Is(statErr, os.ErrNotExist), "nothing is written when any entry is bad")
}

func TestParseHistoryErrorsNameFileAndLine(t *testing.T) {
	good := `{"version":"v1","time":"2025-03-01T12:00:00Z","model":"m","technique":"none","accuracy":0.9,"latency_ms":{"p50":1}}`
	tests := []struct {
		name, in, want string
	}{
		{"not JSON", good + "\n\nhello\n", "h.jsonl:3: invalid JSON at column 1: invalid character 'h' looking for beginning of value"},
		{"wrong type", `{"model":"m","technique":"t","time":"2025-03-01T12:00:00Z","accuracy":"high"}`, `h.jsonl:1: field "accuracy": got a JSON string, want float64`},
		{"array", `[1,2]`, "h.jsonl:1: got a JSON array, want an object"},
		{"missing fields", `{"accuracy":0.5}`, `h.jsonl:1: "model" is missing; "technique" is missing; "time" is missing`},
		{"out of range", good + "\n" + strings.Replace(good, `"p50":1`, `"p50":-2`, 1), `h.jsonl:2: "latency_ms.p50" -2: want a finite number ≥ 0`},
		{"bad time", `{"model":"m","technique":"t","time":"yesterday"}`, `h.jsonl:1: invalid entry: parsing time "yesterday"`},
		{"trailing garbage", good + "}", "h.jsonl:1: invalid JSON at column"},
		{"huge line", strings.Repeat(" ", 2<<20), "h.jsonl:1: line longer than 1048576 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := report.ParseHistory(strings.NewReader(tt.in), "h.jsonl")
			require.ErrorContains(t, err, tt.want)
			var pe *report.ParseError
			require.ErrorAs(t, err, &pe)
			require.Equal(t, "h.jsonl", pe.File)
		})
	}
}

func TestParseHistoryToleratesNewFields(t *testing.T) {
	in := `{"time":"2025-03-01T12:00:00Z","model":"m","technique":"none","accuracy":0.9,"energy_mj":3.2}` + "\r\n"
	got, err := report.ParseHistory(strings.NewReader(in), "h.jsonl")
	require.NoError(t, err)
	require.Len(t, got, 1)
}

func TestGate(t *testing.T) {
	prev := []report.Entry{
		entry("v1.0", 1, "none", 0.99, 1.0),
		entry("v1.1", 2, "none", 0.98, 2.0), // the latest previous entry is the one compared with
		entry("v1.1", 2, "int8", 0.98, 0.5),
	}
	other := entry("v1.2", 3, "none", 0.5, 100)
	other.Machine = "laptop" // another series: no history, so no regression

	tests := []struct {
		name string
		cur  []report.Entry
		th   report.Thresholds
		want []string // "key|metric"
	}{
		{"steady", []report.Entry{entry("v1.2", 3, "none", 0.98, 2.1)}, report.DefaultThresholds(), nil},
		{"within limits", []report.Entry{entry("v1.2", 3, "none", 0.8821, 2.5)}, report.DefaultThresholds(), nil},
		{"accuracy below 0.9x", []report.Entry{entry("v1.2", 3, "none", 0.88, 2)}, report.DefaultThresholds(), []string{"none|accuracy"}},
		{"latency above 1.25x", []report.Entry{entry("v1.2", 3, "int8", 0.98, 0.7)}, report.DefaultThresholds(), []string{"int8|latency p50"}},
		{"every regression is listed", []report.Entry{entry("v1.2", 3, "none", 0.5, 9), entry("v1.2", 3, "int8", 0.5, 9), other},
			report.DefaultThresholds(), []string{"none|accuracy", "none|latency p50", "int8|accuracy", "int8|latency p50"}},
		{"stricter thresholds", []report.Entry{entry("v1.2", 3, "none", 0.97, 2.2)}, report.Thresholds{MinAccuracyRatio: 0.995, MaxLatencyRatio: 1.05},
			[]string{"none|accuracy", "none|latency p50"}},
		{"zero thresholds turn checks off", []report.Entry{entry("v1.2", 3, "none", 0.1, 90)}, report.Thresholds{}, nil},
		{"size check when asked", []report.Entry{func() report.Entry { e := entry("v1.2", 3, "none", 0.98, 2); e.SizeBytes *= 2; return e }()},
			report.Thresholds{MaxSizeRatio: 1.1}, []string{"none|size"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := report.Gate(prev, tt.cur, tt.th)
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, report.ErrRegression)
			var re *report.RegressionError
			require.ErrorAs(t, err, &re)
			var got []string
			for _, r := range re.Regressions {
				got = append(got, strings.Split(strings.Split(r.Key, " · ")[1], " ")[0]+"|"+r.Metric)
			}
			require.Equal(t, tt.want, got)
		})
	}
}

func TestRegressionErrorSaysWhatChanged(t *testing.T) {
	err := report.Gate([]report.Entry{entry("v1.1", 2, "int8", 0.98, 2)}, []report.Entry{entry("v1.2", 3, "int8", 0.98, 3.1)}, report.DefaultThresholds())
	require.EqualError(t, err, "1 performance regression(s):\n"+
		"  - mnist-cnn/mnist-test · int8 @ local on ci-amd64: latency p50 rose to 3.10 ms from 2.00 ms in v1.1 (1.55×, limit 1.25×)")
	err = report.Gate([]report.Entry{entry("", 2, "int8", 0.98, 2)}, []report.Entry{entry("", 3, "int8", 0.8, 2)}, report.DefaultThresholds())
	require.EqualError(t, err, "1 performance regression(s):\n"+
		"  - mnist-cnn/mnist-test · int8 @ local on ci-amd64: accuracy fell to 80.00% from 98.00% (0.816×, limit 0.9×)")
}

func TestEntriesFromRuns(t *testing.T) {
	at := time.Date(2025, 3, 14, 0, 0, 0, 0, time.UTC)
	es := report.EntriesFromRuns(sampleRuns(), "v2.0.0", "ci", at)
	require.Len(t, es, 12, "failed and unfinished runs are not benchmarks")
	require.Equal(t, "v2.0.0", es[0].Version)
	require.Equal(t, at, es[0].Time)
	require.Positive(t, es[0].SizeBytes)
	require.NoError(t, report.AppendHistory(filepath.Join(t.TempDir(), "h.jsonl"), es...))
}

func historyEntries() []report.Entry {
	var es []report.Entry
	lat := map[string]float64{"none": 0.84, "fp16": 0.78, "int8-static": 0.41}
	acc := map[string]float64{"none": 0.9912, "fp16": 0.9908, "int8-static": 0.986}
	for day := 1; day <= 8; day++ {
		for _, tech := range []string{"none", "fp16", "int8-static"} {
			e := entry("v1."+string(rune('0'+day)), day, tech, acc[tech], lat[tech]*(1+0.02*float64(day%3)))
			kws := e
			kws.Model, kws.Dataset = "kws-dscnn", "speech-commands"
			kws.Accuracy -= 0.05
			kws.Latency.P50 *= 4
			if day == 8 && tech == "int8-static" {
				e.Latency.P50 *= 1.6 // the regression the page must show
			}
			es = append(es, e, kws)
		}
	}
	return es
}

func TestWriteHistoryHTML(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, report.WriteHistoryHTML(&buf, historyEntries(), report.WithTitle("Nightly benchmarks")))
	page := buf.String()
	for _, want := range []string{
		"<title>Nightly benchmarks</title>",
		"48 entries in 6 series from 1 machine(s), 2025-03-01 to 2025-03-08 (versions v1.1 to v1.8).",
		"1 regression(s)",
		"mnist-cnn/mnist-test · int8-static @ local on ci-amd64: latency p50 rose to",
	} {
		requireContains(t, page, want)
	}
	require.Equal(t, 2, strings.Count(page, `<img src="data:image/png;base64,`), "a trend plot per model")
	require.Equal(t, 1, strings.Count(page, `<span class="status regressed">`))
}

// requireContains is require.Contains without printing a whole page on failure.
func requireContains(t *testing.T, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Fatalf("output (%d bytes) does not contain %q", len(s), sub)
	}
}
