package report_test

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tinymlaas/tinyml/report"
)

func TestWriteHTML(t *testing.T) {
	rep := report.New(sampleRuns(), report.WithTitle("Pi <Zero> bake-off"),
		report.WithConstraints(report.Constraints{MaxSizeBytes: 300 << 10}))
	var buf bytes.Buffer
	require.NoError(t, rep.WriteHTML(&buf))
	page := buf.String()

	requireContains(t, page, "<title>Pi &lt;Zero&gt; bake-off</title>")
	requireContains(t, page, `<div class="headline">mnist-cnn · prune(sparsity=0.5) | int8-static @ pi-zero-2w</div>`)
	requireContains(t, page, "Why not the other 13 run(s)")
	require.Equal(t, 14, strings.Count(page, "<tr data-id=")+strings.Count(page, `<tr class=`), "one table row per run")
	require.Equal(t, 1, strings.Count(page, `<tr class="best"`))
	require.Equal(t, 2, strings.Count(page, `<tr class="failed"`), "the failed and the running run are greyed out")
	require.Equal(t, 13, strings.Count(page, `<img src="data:image/png;base64,`), "every plot is embedded (see TestPlots)")
	require.NotRegexp(t, regexp.MustCompile(`(src|href)="(https?:)?//`), page, "nothing is fetched from the network")
	requireContains(t, page, `<th scope="col" class="num" data-type="num" title="top-1 accuracy on the test set"><button type="button">Accuracy</button></th>`)
}

func TestPlots(t *testing.T) {
	plots, err := report.New(sampleRuns()).Plots(context.Background())
	require.NoError(t, err)
	var names []string
	for _, p := range plots {
		names = append(names, p.Name)
		require.NotEmpty(t, p.Title)
		require.True(t, bytes.HasPrefix(p.PNG, []byte("\x89PNG")), p.Name)
	}
	require.Subset(t, names, []string{"accuracy-vs-size", "accuracy-vs-latency", "latency-spread",
		"bars-accuracy", "bars-latency", "bars-size", "bars-memory"})
	require.Len(t, names, 7+6, "and six confusion matrices, the most a report draws")

	// Failed and unfinished runs are never plotted: with nothing finished there is nothing to draw.
	var unfinished []report.Run
	for _, r := range sampleRuns() {
		r.Status = report.StatusFailed
		unfinished = append(unfinished, r)
	}
	plots, err = report.New(unfinished).Plots(context.Background())
	require.NoError(t, err)
	require.Empty(t, plots)
	var buf bytes.Buffer
	require.NoError(t, report.New(unfinished).WriteHTML(&buf))
	requireContains(t, buf.String(), "No finished runs to plot yet.")
	requireContains(t, buf.String(), "No finished run to recommend.")
}

func TestPlotsCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := report.New(sampleRuns()).Plots(ctx)
	require.ErrorIs(t, err, context.Canceled)
}

func TestRecommendationListsClosestContendersFirst(t *testing.T) {
	rec := report.Recommend(recRuns(), report.Constraints{Device: "pi", MaxSizeBytes: 300 << 10})
	var order []string
	for _, v := range rec.Others {
		order = append(order, v.RunID)
	}
	// tiny fits; prune misses by 61%, fp16 by 95%, none by 291%; then, in table order, the
	// failed run and the run on another device.
	require.Equal(t, []string{"tiny", "prune", "fp16", "none", "failed", "mcu"}, order)
}
