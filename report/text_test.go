package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tinymlaas/tinyml/report"
)

// flat drops what a CSV cannot hold, for comparing round trips.
func flat(runs []report.Run) []report.Run {
	out := make([]report.Run, len(runs))
	for i, r := range runs {
		r.Metrics.Classes, r.Metrics.Confusion, r.Metrics.LatencySamplesMS = nil, nil, nil
		out[i] = r
	}
	return out
}

func TestCSVRoundTrip(t *testing.T) {
	rep := report.New(sampleRuns())
	var buf bytes.Buffer
	require.NoError(t, rep.WriteCSV(&buf))
	header, _, _ := strings.Cut(buf.String(), "\n")
	require.True(t, strings.HasPrefix(header, "id,project,model,dataset,technique,device,status,finished,samples,correct,accuracy,"))
	require.Contains(t, header, ",delta_accuracy,latency_p50_ratio,size_ratio,memory_ratio,pareto_size,pareto_latency")

	got, err := report.ReadCSV(&buf)
	require.NoError(t, err)
	var want []report.Run
	for _, r := range rep.Rows() {
		want = append(want, r.Run)
	}
	require.Equal(t, flat(want), got)
}

func TestReadCSVErrorsNameTheLine(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "line 1: empty file"},
		{"no id column", "model,accuracy\nm,0.5\n", `line 1: header "model,accuracy" has no id column`},
		{"bad number", "id,accuracy\na,0.5\nb,high\n", `line 3: column accuracy: strconv.ParseFloat: parsing "high": invalid syntax`},
		{"short row", "id,model,accuracy\na,m\n", "line 2: 2 fields, but the header has 3"},
		{"bad quote", "id,model\na,\"m\n", "line 2"},
		{"bad time", "id,finished\na,yesterday\n", "line 2: column finished"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := report.ReadCSV(strings.NewReader(tt.in))
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
			var pe *report.ParseError
			require.ErrorAs(t, err, &pe)
		})
	}
}

func TestReadCSVFromASpreadsheet(t *testing.T) {
	// Column order, unknown columns, empty cells and a BOM are all fine.
	in := "\ufeffnotes,accuracy,id,model,latency_p50_ms\nlooks good,0.91,r1,cnn,\n"
	runs, err := report.ReadCSV(strings.NewReader(in))
	require.NoError(t, err)
	require.Equal(t, []report.Run{{ID: "r1", Model: "cnn", Metrics: report.Metrics{Accuracy: 0.91}}}, runs)
}

func TestWriteMarkdown(t *testing.T) {
	rep := report.New(sampleRuns(), report.WithTitle("Board | bake-off"),
		report.WithConstraints(report.Constraints{MaxSizeBytes: 300 << 10}),
		report.WithGeneratedAt(time.Date(2025, 3, 14, 10, 0, 0, 0, time.UTC)))
	var buf bytes.Buffer
	require.NoError(t, rep.WriteMarkdown(&buf))
	md := buf.String()
	require.True(t, strings.HasPrefix(md, "# Board \\| bake-off\n"), "pipes are escaped")
	for _, want := range []string{
		"14 runs (12 finished, 1 failed or canceled, 1 not finished) of 2 model(s) on pi-zero-2w; generated 2025-03-14 10:00 UTC.",
		"**Use mnist-cnn · prune(sparsity=0.5) \\| int8-static @ pi-zero-2w",
		"- mnist-cnn · int8-static @ pi-zero-2w: size 433 KiB > limit 300 KiB (44% over)\n",
		"fits, but accuracy 94.17% < 97.49% of mnist-cnn",
		"| Model | Technique | Status | Accuracy | Δ acc |",
		"| mnist-cnn | none | generated | 99.12% | baseline |",
	} {
		requireContains(t, md, want)
	}
	require.Equal(t, 1+14, strings.Count(md, "\n| "), "the header, then one line per run")
	require.NotContains(t, md, "![", "no plots linked unless they were written")
}

func TestWriteJSON(t *testing.T) {
	rep := report.New(sampleRuns(), report.WithConstraints(report.Constraints{MaxSizeBytes: 300 << 10}))
	var buf bytes.Buffer
	require.NoError(t, rep.WriteJSON(&buf))
	var doc struct {
		Title string `json:"title"`
		Runs  []struct {
			ID         string          `json:"id"`
			BaselineID string          `json:"baseline_id"`
			ParetoSize bool            `json:"pareto_size"`
			Metrics    json.RawMessage `json:"metrics"`
			Delta      *struct {
				SizeRatio float64 `json:"size_ratio"`
			} `json:"delta"`
		} `json:"runs"`
		Recommendation struct {
			Best   struct{ ID string } `json:"best"`
			Others []struct {
				RunID   string   `json:"run_id"`
				Reasons []string `json:"reasons"`
			} `json:"others"`
		} `json:"recommendation"`
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &doc))
	require.Len(t, doc.Runs, 14)
	require.Equal(t, "mnist-cnn-prune_sparsity_0_5____int8-static-pi-zero-2w", doc.Recommendation.Best.ID)
	require.Len(t, doc.Recommendation.Others, 13)
	var m map[string]any
	require.NoError(t, json.Unmarshal(doc.Runs[0].Metrics, &m))
	require.Contains(t, m, "model_bytes")
	require.Equal(t, []string{"mean", "min", "p50", "p90", "p99"}, sortedKeys(m["latency_ms"].(map[string]any)))
}

func TestParseFormats(t *testing.T) {
	tests := []struct {
		in      string
		want    []report.Format
		wantErr string
	}{
		{"html,md,csv,json", []report.Format{report.FormatHTML, report.FormatMarkdown, report.FormatCSV, report.FormatJSON}, ""},
		{" HTML , markdown,html ", []report.Format{report.FormatHTML, report.FormatMarkdown}, ""},
		{"png", []report.Format{report.FormatPNG}, ""},
		{"html,pdf", nil, `unknown report format "pdf": use a comma-separated list of html, md, csv, json, png`},
		{"", nil, "unknown report format: empty list: use a comma-separated list of html, md, csv, json, png"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := report.ParseFormats(tt.in)
			if tt.wantErr != "" {
				require.ErrorIs(t, err, report.ErrUnknownFormat)
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestWriteDir(t *testing.T) {
	dir := t.TempDir()
	rep := report.New(sampleRuns())
	files, err := rep.WriteDir(context.Background(), dir)
	require.NoError(t, err)
	for _, name := range []string{"report.html", "report.md", "report.csv", "report.json", "plots/accuracy-vs-size.png", "plots/accuracy-vs-latency.png", "plots/latency-spread.png", "plots/bars-size.png"} {
		require.Contains(t, files, filepath.Join(dir, name))
		st, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err)
		require.Positive(t, st.Size())
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	require.NoError(t, err)
	require.Contains(t, string(md), "![Accuracy vs model size](plots/accuracy-vs-size.png)", "Markdown links the PNGs written beside it")
	png, err := os.ReadFile(filepath.Join(dir, "plots/accuracy-vs-size.png"))
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")))
	leftovers, err := filepath.Glob(filepath.Join(dir, ".*"))
	require.NoError(t, err)
	require.Empty(t, leftovers, "no temporary files left behind")

	only := t.TempDir()
	files, err = rep.WriteDir(context.Background(), only, report.FormatCSV)
	require.NoError(t, err)
	require.Equal(t, []string{filepath.Join(only, "report.csv")}, files)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = rep.WriteDir(ctx, t.TempDir())
	require.True(t, errors.Is(err, context.Canceled), "got %v", err)
}

func sortedKeys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
