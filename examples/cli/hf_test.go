package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinymlaas/tinyml/internal/hf/hftest"
	"github.com/tinymlaas/tinyml/internal/testenv"
)

func TestHFDownloadPrintsTheCachedPath(t *testing.T) {
	model, err := os.ReadFile(testenv.RepoFile(t, "testdata/models/digits_mlp.onnx"))
	require.NoError(t, err)
	csv, err := os.ReadFile(testenv.RepoFile(t, "testdata/data/digits_test.csv"))
	require.NoError(t, err)
	hub := hftest.New(t,
		hftest.Repo{ID: "tinyml/digits-mlp", Files: map[string][]byte{"digits_mlp.onnx": model, "README.md": []byte("# mlp\n")},
			Revisions: []hftest.Revision{{Name: "v1", Files: map[string][]byte{"digits_mlp.onnx": model}}}},
		hftest.Repo{ID: "tinyml/digits", Type: "dataset", Files: map[string][]byte{"test.csv": csv}},
		hftest.Repo{ID: "acme/gated", Gated: "manual", Files: map[string][]byte{"model.onnx": model}},
	)
	cache := hub.Setenv(t) // HF_ENDPOINT and HF_HUB_CACHE point at the fake hub and a fresh cache

	out, errOut, err := tinymlCmd(t, "hf", "download", "tinyml/digits-mlp", "--file", "digits_mlp.onnx")
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	path := lines[len(lines)-1]
	commit := hub.Commit("model", "tinyml/digits-mlp", "main")
	require.Equal(t, filepath.Join(cache, "models--tinyml--digits-mlp", "snapshots", commit, "digits_mlp.onnx"), path)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, model, b)
	require.Contains(t, errOut, "commit "+commit)

	// --json, a revision, a dataset; and a whole repository without --file.
	out, _, err = tinymlCmd(t, "hf", "download", "tinyml/digits-mlp", "--revision", "v1", "--file", "digits_mlp.onnx", "--json")
	require.NoError(t, err)
	var f map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &f), "stdout is one JSON document: %q", out)
	require.Equal(t, hub.Commit("model", "tinyml/digits-mlp", "v1"), f["commit"])
	require.Equal(t, "v1", f["revision"])
	require.FileExists(t, f["path"].(string))

	out, _, err = tinymlCmd(t, "hf", "download", "tinyml/digits", "--repo-type", "dataset")
	require.NoError(t, err)
	snapshot := strings.TrimSpace(out)
	require.Equal(t, filepath.Join(cache, "datasets--tinyml--digits", "snapshots", hub.Commit("dataset", "tinyml/digits", "main")), snapshot)
	require.FileExists(t, filepath.Join(snapshot, "test.csv"))

	// Offline, what is cached is still found; nothing else is.
	t.Setenv("HF_HUB_OFFLINE", "1")
	out, _, err = tinymlCmd(t, "hf", "download", "hf://tinyml/digits-mlp/digits_mlp.onnx")
	require.NoError(t, err)
	require.Equal(t, path, strings.TrimSpace(out))
	_, _, err = tinymlCmd(t, "hf", "download", "tinyml/digits-mlp", "--file", "README.md")
	require.ErrorContains(t, err, "HF_HUB_OFFLINE")
	os.Unsetenv("HF_HUB_OFFLINE")

	// Errors are one line that says what to do.
	_, _, err = tinymlCmd(t, "hf", "download", "acme/gated", "--file", "model.onnx")
	require.Error(t, err)
	msg := oneLine(err)
	require.Contains(t, msg, "gated")
	require.Contains(t, msg, "HF_TOKEN")
	_, _, err = tinymlCmd(t, "hf", "download", "hf://datasets/tinyml/digits", "--repo-type", "model")
	require.ErrorContains(t, err, "give it once")
	_, _, err = tinymlCmd(t, "hf", "download")
	require.ErrorContains(t, err, "takes a repository")
}

func TestRunsTakeHubReferences(t *testing.T) {
	model, err := os.ReadFile(testenv.RepoFile(t, "testdata/models/digits_mlp.onnx"))
	require.NoError(t, err)
	csv, err := os.ReadFile(testenv.RepoFile(t, "testdata/data/digits_test.csv"))
	require.NoError(t, err)
	hub := hftest.New(t,
		hftest.Repo{ID: "tinyml/digits-mlp", Files: map[string][]byte{"digits_mlp.onnx": model}},
		hftest.Repo{ID: "tinyml/digits", Type: "dataset", Files: map[string][]byte{"test.csv": csv, "train.csv": csv}},
	)
	hub.Setenv(t)
	dir := t.TempDir()
	run := func(args ...string) string {
		out, _, err := tinymlCmd(t, append([]string{"--dir", dir}, args...)...)
		require.NoError(t, err, "%v", args)
		return out
	}
	run("project", "create", "hub")
	_, _, err = tinymlCmd(t, "--dir", dir, "run", "create", "--project", "hub", "--model", "hf://tinyml/digits-mlp@", "--dataset", "hf://datasets/tinyml/digits")
	require.ErrorContains(t, err, "the revision after '@' is empty")
	run("run", "create", "--project", "hub", "--model", "hf://tinyml/digits-mlp", "--dataset", "hf://datasets/tinyml/digits")
	run("run", "start", "--wait", "--project", "hub")
	var runs []map[string]any
	require.NoError(t, json.Unmarshal([]byte(run("run", "list", "--project", "hub", "--json")), &runs))
	require.Len(t, runs, 1)
	require.Equal(t, "generated", runs[0]["status"])
	require.Equal(t, "hf://tinyml/digits-mlp", runs[0]["model"])
	require.InDelta(t, 0.98, runs[0]["metrics"].(map[string]any)["accuracy"], 0.01)
}
