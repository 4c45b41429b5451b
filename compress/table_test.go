package compress

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"text/tabwriter"

	"github.com/stretchr/testify/require"

	"github.com/tinymlaas/tinyml/internal/dataset"
	"github.com/tinymlaas/tinyml/internal/engine"
	"github.com/tinymlaas/tinyml/internal/measure"
)

// TestCatalogueTable prints, for every technique on every testdata model: accuracy, drop,
// agreement, sizes, arena and latency. It is a report, not a check (the floors are asserted in
// TestQualityFloors); it runs when COMPRESS_TABLE is set, COMPRESS_TABLE=specs separated by ';'
// choosing the rows.
func TestCatalogueTable(t *testing.T) {
	want := os.Getenv("COMPRESS_TABLE")
	if want == "" {
		t.Skip("set COMPRESS_TABLE=1 (or a ';'-separated list of specs) to print the table")
	}
	specs := []string{"none", "fp16", "int8-dynamic", "int8-dynamic(granularity=per-group, group_size=16)", "int8-static",
		"int8-static(observer=percentile)", "int8-static(observer=entropy)", "prune", "prune(method=magnitude)",
		"prune-channels", "prune-channels(method=l1)", "cluster", "cluster(method=nearest)", "lowrank", "prune | int8-static | cluster"}
	if want != "1" {
		specs = strings.Split(want, ";")
	}
	var sb strings.Builder
	tw := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "model\tspec\ttop-1 %\tdrop\tagree\tparams\tnonzero\tMACs\tONNX B\tpacked B\t/file\t/none\tgzip B\tarena B\tb=1 µs\tfull ms\t")
	for _, tm := range testModels {
		m := loadModel(t, tm.name)
		calib, test := loadSet(t, tm.calib), loadSet(t, tm.test)
		base, err := evaluate(t, mustApply(t, m, "none", calib), test)
		require.NoError(t, err)
		file, err := m.Encode()
		require.NoError(t, err)
		baseArt, err := Compile(context.Background(), m, mustParse(t, "none"), Options{Calib: calib})
		require.NoError(t, err)
		for _, spec := range specs {
			art, err := Compile(context.Background(), m, mustParse(t, spec), Options{Calib: calib})
			if err != nil {
				fmt.Fprintf(tw, "%s\t%s\terror: %v\t\n", tm.name, spec, err)
				continue
			}
			res, err := evaluate(t, art.Model, test)
			require.NoError(t, err, spec)
			lat1, latN := latency(t, art, test)
			f := art.Figures
			fmt.Fprintf(tw, "%s\t%s\t%.2f\t%+.2f\t%.1f%%\t%d\t%d\t%d\t%d\t%d\t%.3f\t%.3f\t%d\t%d\t%.1f\t%.2f\t\n", tm.name, spec,
				100*res.Accuracy, 100*(res.Accuracy-base.Accuracy), 100*agreement(res.Predictions, base.Predictions),
				f.Params, f.NonZeroParams, f.MACs, f.ONNXBytes, f.PackedBytes, float64(f.PackedBytes)/float64(len(file)),
				float64(f.PackedBytes)/float64(baseArt.Figures.PackedBytes), f.GzipBytes, f.ArenaBytes, 1000*lat1, latN)
			for _, n := range art.Notes {
				t.Logf("%s %s: %s", tm.name, spec, n)
			}
		}
	}
	tw.Flush()
	t.Logf("\n%s", sb.String())
}

// latency is the median time of one inference call at batch 1 and at the full test set.
func latency(t testing.TB, art *Artifact, test *dataset.Dataset) (float64, float64) {
	em, err := engine.Compile(art.Model)
	require.NoError(t, err)
	ds := *test
	one := ds.Subset(0, min(ds.N, 200))
	r1, err := measure.Evaluate(context.Background(), em, one, measure.Options{Batch: 1})
	require.NoError(t, err)
	rn, err := measure.Evaluate(context.Background(), em, &ds, measure.Options{Batch: ds.N, Repeat: 5})
	require.NoError(t, err)
	return r1.Latency.P50, rn.Latency.P50
}
