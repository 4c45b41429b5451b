package main

import (
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/stretchr/testify/require"

	"github.com/tinymlaas/tinyml/internal/testenv"
)

func TestDemoWithTheDockerRunnerUsesADockerBoard(t *testing.T) {
	testenv.Docker(t)
	dir := t.TempDir()
	out, _, err := tinymlCmd(t, "--dir", dir, "demo", "--runner", "docker", "--json")
	require.NoError(t, err)
	var runs []map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &runs), "stdout is one JSON document: %q", out)
	require.NotEmpty(t, runs)
	for _, r := range runs {
		require.Equal(t, "board", r["device"])
		require.Equal(t, "generated", r["status"], "%v", r["steps"])
		require.True(t, strings.HasPrefix(r["installed"].(string), "tinyml-inference:"), r["installed"])
	}
	out, _, err = tinymlCmd(t, "--dir", dir, "device", "list", "--json")
	require.NoError(t, err)
	require.Contains(t, out, `"memory_bytes": 268435456`)
	require.Contains(t, out, `"kind": "docker"`)

	_, _, err = tinymlCmd(t, "--dir", dir, "demo", "--runner", "kubernetes")
	require.ErrorContains(t, err, "use local or docker")
}

func TestDeviceAddDockerAndExportEndToEnd(t *testing.T) {
	testenv.Docker(t)
	dir := t.TempDir()
	run := func(args ...string) string {
		out, _, err := tinymlCmd(t, append([]string{"--dir", dir}, args...)...)
		require.NoError(t, err, "%v", args)
		return out
	}
	run("project", "create", "edge")
	require.Contains(t, run("device", "add", "tiny", "--kind", "docker", "--cpus", "0.5", "--memory", "64MiB", "--storage", "4MiB"), "device tiny registered")
	var runs []map[string]any
	require.NoError(t, json.Unmarshal([]byte(run("run", "create", "--project", "edge",
		"--model", testenv.RepoFile(t, "testdata/models/digits_cnn.onnx"),
		"--dataset", testenv.RepoFile(t, "testdata/data/digits_test.csv"),
		"--device", "tiny", "--json")), &runs))
	id := runs[0]["id"].(string)
	run("run", "start", "--wait", id)

	tarball := filepath.Join(t.TempDir(), "digits.tar")
	out := run("export", "--run", id, "--format", "docker-archive", "--out", tarball)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.True(t, strings.HasPrefix(lines[len(lines)-1], "tinyml/"), "the reference comes last: %q", out)
	require.FileExists(t, tarball)

	reg := httptest.NewServer(registry.New())
	t.Cleanup(reg.Close)
	ref := strings.TrimPrefix(reg.URL, "http://") + "/edge/digits:1"
	out = run("export", "--run", id, "--push", ref)
	lines = strings.Split(strings.TrimSpace(out), "\n")
	require.True(t, strings.HasPrefix(lines[len(lines)-1], ref+"@sha256:"), out)

	var exp map[string]any
	require.NoError(t, json.Unmarshal([]byte(run("export", "--run", id, "--format", "oci", "--out", filepath.Join(t.TempDir(), "oci"), "--json")), &exp))
	for _, k := range []string{"ref", "digest", "format", "path", "bytes"} {
		require.Contains(t, exp, k)
	}
	_, _, err := tinymlCmd(t, "--dir", dir, "export", "--run", id)
	require.ErrorContains(t, err, "--out PATH")
}
