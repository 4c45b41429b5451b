package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinymlaas/tinyml/internal/testenv"
	"github.com/tinymlaas/tinyml/tinyml"
)

func TestMain(m *testing.M) {
	tinyml.WorkerMain() // the studio's steps run as children of this test binary
	os.Exit(m.Run())
}

// tinymlCmd runs the command line in-process and returns stdout, stderr and the error.
func tinymlCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRoot(&out, &errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func TestEvalJSONHasThePromisedFields(t *testing.T) {
	out, _, err := tinymlCmd(t, "eval", "--model", testenv.RepoFile(t, "testdata/models/digits_cnn.onnx"),
		"--dataset", testenv.RepoFile(t, "testdata/data/digits_test.csv"), "--batch", "32", "--json")
	require.NoError(t, err)
	var v map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &v), "stdout is one JSON document: %q", out)
	for _, k := range []string{"samples", "correct", "accuracy", "batch", "load_ms", "latency_ms"} {
		require.Contains(t, v, k)
	}
	require.EqualValues(t, 360, v["samples"])
	require.EqualValues(t, 32, v["batch"])
	for _, k := range []string{"min", "p50", "p90", "p99", "mean"} {
		require.Contains(t, v["latency_ms"], k)
	}
	require.InDelta(t, 0.983, v["accuracy"], 0.001)
}

func TestPredictWritesOneLinePerSample(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "out.csv")
	_, _, err := tinymlCmd(t, "predict", "--model", testenv.RepoFile(t, "testdata/models/digits_mlp.onnx"),
		"--dataset", testenv.RepoFile(t, "testdata/data/digits_test.csv"), "--out", dst)
	require.NoError(t, err)
	b, err := os.ReadFile(dst)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	require.Len(t, lines, 360)
	require.Len(t, strings.Split(lines[0], ","), 10)
}

func TestErrorsAreOneActionableLine(t *testing.T) {
	_, _, err := tinymlCmd(t, "eval", "--model", testenv.RepoFile(t, "testdata/models/fashion_resnet.onnx"),
		"--dataset", testenv.RepoFile(t, "testdata/data/digits_test.csv"))
	require.Error(t, err)
	msg := oneLine(err)
	require.NotContains(t, msg, "\n")
	require.Contains(t, msg, "[64]")
	require.Contains(t, msg, "[1 28 28]")

	_, _, err = tinymlCmd(t, "eval", "--dataset", "x.csv")
	require.ErrorContains(t, err, "--model")
}

func TestStudioCommandsEndToEnd(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) string {
		out, _, err := tinymlCmd(t, append([]string{"--dir", dir}, args...)...)
		require.NoError(t, err, "%v", args)
		return out
	}
	var p map[string]any
	require.NoError(t, json.Unmarshal([]byte(run("project", "create", "cli", "--json")), &p))
	require.Equal(t, "cli", p["name"])
	require.NotEmpty(t, p["id"])
	run("device", "add", "board", "--kind", "local", "--storage", "4MiB", "--cpus", "1")
	var runs []map[string]any
	require.NoError(t, json.Unmarshal([]byte(run("run", "create", "--project", "cli",
		"--model", testenv.RepoFile(t, "testdata/models/digits_mlp.onnx"),
		"--dataset", testenv.RepoFile(t, "testdata/data/digits_test.csv"),
		"--device", "board", "--device", "local", "--json")), &runs))
	require.Len(t, runs, 2)
	run("run", "start", "--wait", "--project", "cli")
	require.NoError(t, json.Unmarshal([]byte(run("run", "list", "--project", "cli", "--json")), &runs))
	for _, r := range runs {
		for _, k := range []string{"id", "project", "model", "dataset", "technique", "device", "status", "steps", "metrics"} {
			require.Contains(t, r, k)
		}
		require.Equal(t, "generated", r["status"])
		m := r["metrics"].(map[string]any)
		require.Contains(t, m, "accuracy")
		require.Contains(t, m, "latency_ms")
		require.Contains(t, m, "model_bytes")
		steps := r["steps"].([]any)
		require.Len(t, steps, 5)
		for _, s := range steps {
			require.Contains(t, s, "name")
			require.Contains(t, s, "status")
			require.Contains(t, s, "error")
		}
	}
	id := runs[0]["id"].(string)
	require.Contains(t, run("run", "show", id), "accuracy")
	require.Contains(t, run("run", "logs", id, "--step", "inference"), "inference generated")
	out := run("report", "--project", "cli", "--out", filepath.Join(dir, "rep"), "--format", "html,csv")
	require.Contains(t, out, "report.html")
	_, _, err := tinymlCmd(t, "--dir", dir, "run", "show", "run_nosuchrun0000")
	require.ErrorIs(t, err, tinyml.ErrNotFound)
}
