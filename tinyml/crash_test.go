package tinyml_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tinymlaas/tinyml/internal/testenv"
	"github.com/tinymlaas/tinyml/tinyml"
)

// crashChild is the body of the process the crash test kills: it executes a project's runs.
func crashChild(dir, project string) {
	ctx := context.Background()
	s, err := tinyml.Open(ctx, dir, tinyml.WithConcurrency(2))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if _, err := s.StartProject(ctx, project); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	time.Sleep(time.Hour) // killed long before
}

// A studio process killed in the middle of a project leaves no step running: a reopened
// studio marks the interrupted steps failed, keeps finished ones, and finishes the project.
func TestAKilledStudioIsReconciledAndResumes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := tinyml.Open(ctx, dir)
	require.NoError(t, err)
	_, err = s.CreateProject(ctx, "crash")
	require.NoError(t, err)
	resnet, dwcnn := testenv.RepoFile(t, "testdata/models/fashion_resnet.onnx"), testenv.RepoFile(t, "testdata/models/fashion_dwcnn.onnx")
	runs, err := s.CreateRuns(ctx, "crash", tinyml.Matrix{
		Models: []string{resnet, dwcnn, resnet, dwcnn}, Dataset: testenv.RepoFile(t, "testdata/data/fashion_test.npz"),
	})
	require.NoError(t, err)
	require.NoError(t, s.Close())

	self, err := os.Executable()
	require.NoError(t, err)
	child := exec.Command(self, "-test.run=^$")
	child.Env = append(os.Environ(), "TINYML_CRASH_CHILD="+dir+"|crash")
	var stderr strings.Builder
	child.Stderr = &stderr
	require.NoError(t, child.Start())

	// Kill it once some step is running and some run has got past its first steps.
	deadline := time.Now().Add(60 * time.Second)
	for {
		require.True(t, time.Now().Before(deadline), "the child never got going: %s", stderr.String())
		s, err := tinyml.Open(ctx, dir)
		if err != nil {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		rs, err := s.Runs(ctx, tinyml.RunFilter{Project: "crash"})
		require.NoError(t, err)
		running, generated := 0, 0
		for _, r := range rs {
			for _, st := range r.Steps {
				switch st.Status {
				case tinyml.Running:
					running++
				case tinyml.Generated:
					generated++
				}
			}
		}
		s.Close()
		if running > 0 && generated >= 3 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, child.Process.Signal(syscall.SIGKILL))
	_ = child.Wait()

	s, err = tinyml.Open(ctx, dir)
	require.NoError(t, err)
	defer s.Close()
	rs, err := s.Runs(ctx, tinyml.RunFilter{Project: "crash"})
	require.NoError(t, err)
	interrupted := 0
	for _, r := range rs {
		require.NotEqual(t, tinyml.Running, r.Status)
		for _, st := range r.Steps {
			require.NotEqual(t, tinyml.Running, st.Status, "run %s step %s", r.ID, st.Name)
			if st.Status == tinyml.Failed {
				require.Contains(t, st.Error, "interrupted")
				interrupted++
			}
		}
	}
	require.Positive(t, interrupted)

	var ids []string
	for _, r := range runs {
		ids = append(ids, r.ID)
	}
	done, err := s.Execute(ctx, ids...)
	require.NoError(t, err)
	for _, r := range done {
		require.Equal(t, tinyml.Generated, r.Status, r.Err())
		require.Greater(t, r.Metrics.Accuracy, 0.85, "run %s: a resumed run measures the real model", r.ID)
	}
}
