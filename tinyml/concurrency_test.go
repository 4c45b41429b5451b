package tinyml_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tinymlaas/tinyml/internal/image"
	"github.com/tinymlaas/tinyml/internal/testenv"
	"github.com/tinymlaas/tinyml/tinyml"
)

// 200 runs in one project: the concurrency limit holds, every run ends generated, and every
// step transition is recorded (no lost update).
func TestTwoHundredRunsHonourTheConcurrencyLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("200 runs take a while; run without -short")
	}
	ctx := context.Background()
	const limit = 3
	opts := []tinyml.Option{tinyml.WithConcurrency(limit)}
	// What the race detector must watch is this process; the 400 step jobs need not carry it, so
	// they run a plain static worker when one can be had (the test binary otherwise).
	if bin, err := (&image.Workers{}).Binary(ctx, ""); err == nil {
		opts = append(opts, tinyml.WithWorkerCommand(bin))
	} else {
		t.Logf("steps run in the test binary: %v", err)
	}
	s := openStudio(t, opts...)
	_, err := s.CreateProject(ctx, "many")
	require.NoError(t, err)
	models := make([]string, 200)
	for i := range models {
		models[i] = testenv.RepoFile(t, "testdata/models/digits_mlp.onnx")
	}
	runs, err := s.CreateRuns(ctx, "many", tinyml.Matrix{Models: models, Dataset: testenv.RepoFile(t, "testdata/data/digits_test.csv")})
	require.NoError(t, err)
	ids := make([]string, len(runs))
	for i, r := range runs {
		ids[i] = r.ID
	}
	evCtx, stop := context.WithCancel(ctx)
	events := s.Subscribe(evCtx, "")
	peak := make(chan int)
	go func() {
		active, most := map[string]bool{}, 0
		for e := range events {
			switch {
			case e.Status == tinyml.Running:
				active[e.Run] = true
			case e.Step == tinyml.StepInference || e.Status == tinyml.Failed || e.Status == tinyml.Canceled:
				delete(active, e.Run)
			}
			most = max(most, len(active))
		}
		peak <- most
	}()
	start := time.Now()
	done, err := s.Execute(ctx, ids...)
	require.NoError(t, err)
	t.Logf("200 runs in %s with concurrency %d", time.Since(start).Round(time.Millisecond), limit)
	stop()
	require.LessOrEqual(t, <-peak, limit)
	for _, r := range done {
		require.Equal(t, tinyml.Generated, r.Status, r.Err())
		for _, st := range r.Steps {
			require.Equal(t, 1, st.Attempt, "run %s step %s", r.ID, st.Name)
		}
		require.InDelta(t, 0.98, r.Metrics.Accuracy, 0.01)
	}
}
