package tinyml_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tinymlaas/tinyml/device"
	"github.com/tinymlaas/tinyml/internal/testenv"
	"github.com/tinymlaas/tinyml/tinyml"
)

func TestMain(m *testing.M) {
	tinyml.WorkerMain() // the studio runs steps as children of this test binary
	if v := os.Getenv("TINYML_CRASH_CHILD"); v != "" {
		dir, project, _ := strings.Cut(v, "|")
		crashChild(dir, project)
	}
	os.Exit(m.Run())
}

func openStudio(t *testing.T, opts ...tinyml.Option) *tinyml.Studio {
	t.Helper()
	s, err := tinyml.Open(context.Background(), t.TempDir(), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestAProjectRunsEveryModelToMetrics(t *testing.T) {
	ctx := context.Background()
	s := openStudio(t)
	p, err := s.CreateProject(ctx, "digits")
	require.NoError(t, err)
	runs, err := s.CreateRuns(ctx, p.Name, tinyml.Matrix{
		Models:  []string{testenv.RepoFile(t, "testdata/models/digits_mlp.onnx"), testenv.RepoFile(t, "testdata/models/digits_cnn.onnx")},
		Dataset: testenv.RepoFile(t, "testdata/data/digits_test.csv"),
	})
	require.NoError(t, err)
	require.Len(t, runs, 2)
	var ids []string
	for _, r := range runs {
		require.Equal(t, tinyml.Pending, r.Status)
		ids = append(ids, r.ID)
	}
	events := s.Subscribe(ctx, p.ID)
	done, err := s.Execute(ctx, ids...)
	require.NoError(t, err)
	for _, r := range done {
		require.Equal(t, tinyml.Generated, r.Status, r.Err())
		require.NotNil(t, r.Metrics)
		require.InDelta(t, 0.98, r.Metrics.Accuracy, 0.01)
		require.Equal(t, 360, r.Metrics.Samples)
		require.Positive(t, r.Metrics.Latency.P50)
		require.Positive(t, r.Metrics.Params)
		require.Positive(t, r.Metrics.MACs)
		require.Positive(t, r.Metrics.ArenaBytes)
		require.Positive(t, r.Metrics.PeakMemoryBytes)
		require.NotNil(t, r.Metrics.Agreement, "a none run agrees with itself")
		require.Equal(t, 1.0, *r.Metrics.Agreement)
		for _, st := range r.Steps {
			require.Equal(t, tinyml.Generated, st.Status)
			require.NotNil(t, st.Started)
			require.NotNil(t, st.Finished)
		}
		logs, err := s.Logs(ctx, r.ID, tinyml.StepInference)
		require.NoError(t, err)
		require.Contains(t, logs, "inference generated")
	}
	seen := map[tinyml.StepName]int{}
	timeout := time.After(5 * time.Second)
	for len(seen) < 5 || seen[tinyml.StepInference] < 4 {
		select {
		case e := <-events:
			seen[e.Step]++
		case <-timeout:
			t.Fatalf("events seen: %v", seen)
		}
	}
}

func TestADatasetThatCannotFeedTheModelFailsNamingBothShapes(t *testing.T) {
	ctx := context.Background()
	s := openStudio(t)
	_, err := s.CreateProject(ctx, "mismatch")
	require.NoError(t, err)
	runs, err := s.CreateRuns(ctx, "mismatch", tinyml.Matrix{
		Models:  []string{testenv.RepoFile(t, "testdata/models/fashion_resnet.onnx")},
		Dataset: testenv.RepoFile(t, "testdata/data/digits_test.csv"),
	})
	require.NoError(t, err)
	done, err := s.Execute(ctx, runs[0].ID)
	require.NoError(t, err)
	r := done[0]
	require.Equal(t, tinyml.Failed, r.Status)
	st := r.Step(tinyml.StepDataset)
	require.Equal(t, tinyml.Failed, st.Status)
	require.Contains(t, st.Error, "[64]")
	require.Contains(t, st.Error, "[1 28 28]")
	require.Equal(t, tinyml.Pending, r.Step(tinyml.StepCompile).Status, "later steps wait")
}

func TestUnknownIDsAreNotFound(t *testing.T) {
	ctx := context.Background()
	s := openStudio(t)
	_, err := s.Run(ctx, "run_doesnotexist")
	require.ErrorIs(t, err, tinyml.ErrNotFound)
	_, err = s.Project(ctx, "nope")
	require.ErrorIs(t, err, tinyml.ErrNotFound)
	_, err = s.CreateRuns(ctx, "nope", tinyml.Matrix{Models: []string{"x.onnx"}, Dataset: "d.csv"})
	require.ErrorIs(t, err, tinyml.ErrNotFound)
}

func TestAPickledModelSaysHowToExportONNX(t *testing.T) {
	ctx := context.Background()
	s := openStudio(t)
	dir := t.TempDir()
	pkl := filepath.Join(dir, "model.pkl")
	require.NoError(t, os.WriteFile(pkl, []byte("\x80\x04garbage"), 0o644))
	_, err := s.CreateProject(ctx, "pickle")
	require.NoError(t, err)
	runs, err := s.CreateRuns(ctx, "pickle", tinyml.Matrix{Models: []string{pkl}, Dataset: testenv.RepoFile(t, "testdata/data/digits_test.csv")})
	require.NoError(t, err)
	done, err := s.Execute(ctx, runs[0].ID)
	require.NoError(t, err)
	require.Contains(t, done[0].Step(tinyml.StepModel).Error, "torch.onnx.export")
}

func TestInstallRefusesAModelBiggerThanTheDevice(t *testing.T) {
	ctx := context.Background()
	s := openStudio(t)
	_, err := s.AddDevice(ctx, device.Profile{Name: "tiny", Kind: device.Local, StorageBytes: 16 << 10})
	require.NoError(t, err)
	_, err = s.CreateProject(ctx, "fit")
	require.NoError(t, err)
	runs, err := s.CreateRuns(ctx, "fit", tinyml.Matrix{
		Models:  []string{testenv.RepoFile(t, "testdata/models/digits_cnn.onnx")},
		Dataset: testenv.RepoFile(t, "testdata/data/digits_test.csv"), Devices: []string{"tiny"},
	})
	require.NoError(t, err)
	done, err := s.Execute(ctx, runs[0].ID)
	require.NoError(t, err)
	msg := done[0].Step(tinyml.StepInstall).Error
	require.Contains(t, msg, "16.0 KiB")
	require.Contains(t, msg, "tiny")
}

// The README's first command uses a relative data directory: runs must work from it.
func TestARelativeDataDirectoryWorks(t *testing.T) {
	ctx := context.Background()
	model, data := testenv.RepoFile(t, "testdata/models/digits_mlp.onnx"), testenv.RepoFile(t, "testdata/data/digits_test.csv")
	t.Chdir(t.TempDir())
	s, err := tinyml.Open(ctx, "tinyml-data")
	require.NoError(t, err)
	defer s.Close()
	_, err = s.CreateProject(ctx, "rel")
	require.NoError(t, err)
	runs, err := s.CreateRuns(ctx, "rel", tinyml.Matrix{Models: []string{model}, Dataset: data})
	require.NoError(t, err)
	done, err := s.Execute(ctx, runs[0].ID)
	require.NoError(t, err)
	require.Equal(t, tinyml.Generated, done[0].Status, done[0].Err())
}
