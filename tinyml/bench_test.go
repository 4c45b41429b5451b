package tinyml_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tinymlaas/tinyml/internal/testenv"
	"github.com/tinymlaas/tinyml/runner"
	"github.com/tinymlaas/tinyml/runner/local"
	"github.com/tinymlaas/tinyml/tinyml"
)

// timingRunner records how long each job took (process start to exit).
type timingRunner struct {
	runner.Runner
	mu   sync.Mutex
	took time.Duration
}

func (r *timingRunner) Run(ctx context.Context, j runner.Job) (runner.Result, error) {
	res, err := r.Runner.Run(ctx, j)
	r.mu.Lock()
	r.took += res.Duration
	r.mu.Unlock()
	return res, err
}

// BenchmarkRunOverhead measures what the studio adds to a run on the local runner: wall time
// per run, the time inside the compile job, the in-process time of the worker's compute for the
// same steps, and their difference (store writes, volumes, process start-up, result reading).
func BenchmarkRunOverhead(b *testing.B) {
	ctx := context.Background()
	compileJobs := &timingRunner{Runner: local.New()}
	s, err := tinyml.Open(ctx, b.TempDir(), tinyml.WithConcurrency(1), tinyml.WithRunner(compileJobs))
	require.NoError(b, err)
	defer s.Close()
	_, err = s.CreateProject(ctx, "bench")
	require.NoError(b, err)
	model, data := testenv.RepoFile(b, "testdata/models/digits_mlp.onnx"), testenv.RepoFile(b, "testdata/data/digits_test.csv")
	runs, err := s.CreateRuns(ctx, "bench", tinyml.Matrix{Models: []string{model}, Dataset: data})
	require.NoError(b, err)
	// The worker's compute for one run, in this process: compile and inference on its volume.
	_, err = s.Execute(ctx, runs[0].ID)
	require.NoError(b, err)
	vol := filepath.Join(s.Dir(), "runs", runs[0].ID)
	b.Setenv(runner.VolumeEnv, vol)
	compute := measureMin(5, func() {
		for _, st := range []string{"compile", "inference"} {
			if code := tinyml.RunWorker(ctx, []string{"step", st}); code != 0 {
				b.Fatalf("worker step %s exited %d", st, code)
			}
		}
	})
	os.Unsetenv(runner.VolumeEnv)

	var walls []time.Duration
	b.ResetTimer()
	for b.Loop() {
		rs, err := s.CreateRuns(ctx, "bench", tinyml.Matrix{Models: []string{model}, Dataset: data})
		require.NoError(b, err)
		start := time.Now()
		done, err := s.Execute(ctx, rs[0].ID)
		walls = append(walls, time.Since(start))
		require.NoError(b, err)
		require.Equal(b, tinyml.Generated, done[0].Status)
	}
	wall := median(walls)
	b.ReportMetric(float64(wall.Microseconds())/1000, "ms/run")
	b.ReportMetric(float64(compute.Microseconds())/1000, "worker-compute-ms/run")
	b.ReportMetric(float64((wall-compute).Microseconds())/1000, "overhead-ms/run")
}

func measureMin(n int, f func()) time.Duration {
	best := time.Duration(1 << 62)
	for range n {
		start := time.Now()
		f()
		best = min(best, time.Since(start))
	}
	return best
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// BenchmarkListRuns10k lists a project of 10,000 runs through the public API.
func BenchmarkListRuns10k(b *testing.B) {
	ctx := context.Background()
	s, err := tinyml.Open(ctx, b.TempDir())
	require.NoError(b, err)
	defer s.Close()
	_, err = s.CreateProject(ctx, "big")
	require.NoError(b, err)
	model := testenv.RepoFile(b, "testdata/models/digits_mlp.onnx")
	models := make([]string, 100)
	for i := range models {
		models[i] = model
	}
	techs := make([]string, 100)
	for i := range techs {
		techs[i] = "none"
	}
	_, err = s.CreateRuns(ctx, "big", tinyml.Matrix{Models: models, Dataset: testenv.RepoFile(b, "testdata/data/digits_test.csv"), Compressions: techs})
	require.NoError(b, err)
	b.ResetTimer()
	for b.Loop() {
		runs, err := s.Runs(ctx, tinyml.RunFilter{Project: "big"})
		require.NoError(b, err)
		require.Len(b, runs, 10000)
	}
}
