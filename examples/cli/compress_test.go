package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"

	"github.com/tinymlaas/tinyml/internal/testenv"
)

// compressCLI runs the compress and catalogue commands in-process (on a root of their own, so
// that they are tested whether or not the main root lists them yet).
func compressCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	a := &app{stdout: &out, stderr: &errOut}
	root := &cobra.Command{Use: "tinyml", SilenceUsage: true, SilenceErrors: true}
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.AddCommand(a.compressCmd(), a.catalogueCmd())
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func TestCompressWritesModelPackedAndFigures(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "cnn-int8.onnx")
	stdout, err := compressCLI(t, "compress", "--model", testenv.RepoFile(t, "testdata/models/digits_cnn.onnx"),
		"--spec", "prune(sparsity=0.5, method=magnitude) | int8-static(calib=50)",
		"--calib", testenv.RepoFile(t, "testdata/data/digits_calib.csv"), "--out", out, "--json")
	require.NoError(t, err)
	var res struct {
		Spec, Out, Packed string
		Figures           map[string]int64
		Baseline          map[string]int64
		Notes             []map[string]any
		Tensors           []map[string]any
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &res), "stdout is one JSON document: %q", stdout)
	require.Equal(t, "prune(sparsity=0.5, method=magnitude) | int8-static(calib=50)", res.Spec)
	require.Equal(t, filepath.Join(dir, "cnn-int8.tmlpack"), res.Packed)
	for _, k := range []string{"params", "nonzero_params", "macs", "onnx_bytes", "packed_bytes", "gzip_bytes", "arena_bytes"} {
		require.Positive(t, res.Figures[k], k)
		require.Positive(t, res.Baseline[k], k)
	}
	require.Less(t, res.Figures["packed_bytes"], res.Baseline["packed_bytes"]/5)
	onnxFile, err := os.Stat(out)
	require.NoError(t, err)
	require.Equal(t, res.Figures["onnx_bytes"], onnxFile.Size())
	packedFile, err := os.Stat(res.Packed)
	require.NoError(t, err)
	require.Equal(t, res.Figures["packed_bytes"], packedFile.Size())
	require.NotEmpty(t, res.Tensors)

	// The human form has the figures table.
	stdout, err = compressCLI(t, "compress", "--model", testenv.RepoFile(t, "testdata/models/digits_mlp.onnx"),
		"--spec", "fp16", "--out", filepath.Join(dir, "mlp16"))
	require.NoError(t, err)
	require.Contains(t, stdout, "packed bytes")
	require.FileExists(t, filepath.Join(dir, "mlp16.tmlpack"))
}

func TestCompressErrorsNameWhatIsWrong(t *testing.T) {
	model := testenv.RepoFile(t, "testdata/models/digits_mlp.onnx")
	out := filepath.Join(t.TempDir(), "m.onnx")
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"compress", "--model", model, "--out", out}, "needs --spec"},
		{[]string{"compress", "--model", model, "--spec", "prune(sparsity=2)", "--out", out}, "[0, 0.99]"},
		{[]string{"compress", "--model", model, "--spec", "int8-static | fp16", "--out", out}, "cannot follow"},
		{[]string{"compress", "--model", model, "--spec", "int8-static", "--out", out}, "--calib"},
		{[]string{"compress", "--model", model, "--spec", "none", "--out", out, "--packed", out}, "same file"},
	} {
		_, err := compressCLI(t, tc.args...)
		require.Error(t, err, tc.args)
		require.Contains(t, err.Error(), tc.says, tc.args)
	}
	require.NoFileExists(t, out)
}

func TestCatalogueListsTechniquesAndParameters(t *testing.T) {
	stdout, err := compressCLI(t, "catalogue", "--json")
	require.NoError(t, err)
	var cat []struct {
		Name   string
		Params []struct {
			Name    string
			Type    string
			Default any
		}
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &cat))
	require.Len(t, cat, 8)
	require.Equal(t, "int8-static", cat[3].Name)
	require.Equal(t, "calib", cat[3].Params[0].Name)
	require.Equal(t, "int", cat[3].Params[0].Type)
	require.EqualValues(t, 200, cat[3].Params[0].Default)

	stdout, err = compressCLI(t, "catalogue")
	require.NoError(t, err)
	require.Contains(t, stdout, "sparsity")
	require.Contains(t, stdout, "[needs --calib]")
	require.Contains(t, stdout, "an integer from 1 to 8")
}
