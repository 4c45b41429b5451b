package image_test

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/stretchr/testify/require"

	"github.com/tinymlaas/tinyml/internal/image"
)

// staticBinary builds a tiny static program.
func staticBinary(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\nfunc main() {}\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module x\ngo 1.22\n"), 0o644))
	out := filepath.Join(dir, "prog")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOFLAGS=")
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", b)
	return out
}

func TestCheckStaticTellsStaticFromDynamic(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("ELF programs")
	}
	arch, err := image.CheckStatic(staticBinary(t))
	require.NoError(t, err)
	require.Equal(t, runtime.GOARCH, arch)

	_, err = image.CheckStatic("/bin/sh") // Debian's shell needs the C library
	require.ErrorIs(t, err, image.ErrNotStatic)
	require.ErrorContains(t, err, "CGO_ENABLED=0")

	txt := filepath.Join(t.TempDir(), "x.sh")
	require.NoError(t, os.WriteFile(txt, []byte("#!/bin/sh\n"), 0o755))
	_, err = image.CheckStatic(txt)
	require.ErrorContains(t, err, "not a Linux (ELF) executable")
}

func TestWorkersRefuseADynamicOrForeignWorker(t *testing.T) {
	w := &image.Workers{Path: "/bin/sh"}
	_, err := w.Binary(context.Background(), runtime.GOARCH)
	require.ErrorIs(t, err, image.ErrNotStatic)

	w = &image.Workers{Path: staticBinary(t)}
	_, err = w.Binary(context.Background(), "riscv64")
	require.ErrorContains(t, err, "GOARCH=riscv64")
	got, err := w.Binary(context.Background(), "")
	require.NoError(t, err)
	require.Equal(t, w.Path, got)
}

func TestImagesAreReproducibleAndNamedByTheirInputs(t *testing.T) {
	bin := staticBinary(t)
	model := filepath.Join(t.TempDir(), "model.onnx.pack")
	require.NoError(t, os.WriteFile(model, []byte("model bytes"), 0o600))
	spec := image.Inference(bin, "arm64", model)

	ref1, err := spec.Ref("repo")
	require.NoError(t, err)
	ref2, err := image.Inference(bin, "arm64", model).Ref("repo")
	require.NoError(t, err)
	require.Equal(t, ref1, ref2)
	require.Regexp(t, `^repo:[0-9a-f]{16}$`, ref1)
	other, err := image.Inference(bin, "amd64", model).Ref("repo")
	require.NoError(t, err)
	require.NotEqual(t, ref1, other, "the architecture is an input")
	require.NoError(t, os.WriteFile(model, []byte("other model"), 0o600))
	changed, err := spec.Ref("repo")
	require.NoError(t, err)
	require.NotEqual(t, ref1, changed, "the model's content is an input")

	a, err := spec.Build()
	require.NoError(t, err)
	b, err := spec.Build()
	require.NoError(t, err)
	da, _ := a.Digest()
	db, _ := b.Digest()
	require.Equal(t, da, db, "same inputs, same digest")
	require.NoError(t, validate.Image(a, validate.Fast)) // validate reads layers as gzip; this one is plain tar

	cf, err := a.ConfigFile()
	require.NoError(t, err)
	require.Equal(t, "linux", cf.OS)
	require.Equal(t, "arm64", cf.Architecture)
	require.Equal(t, []string{image.WorkerPath}, cf.Config.Entrypoint)
	require.Contains(t, cf.Config.Env, image.WorkerEnv)
	require.Equal(t, image.User, cf.Config.User)
	require.Equal(t, "model.onnx.pack", cf.Config.Labels[image.LabelModel])

	layers, err := a.Layers()
	require.NoError(t, err)
	require.Len(t, layers, 1, "one layer, no base image")
	rc, err := layers[0].Uncompressed()
	require.NoError(t, err)
	defer rc.Close()
	files := map[string]int64{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		files[h.Name] = h.Mode
	}
	require.Equal(t, map[string]int64{"tinyml-worker": 0o755, "model/": 0o755, "model/model.onnx": 0o644}, files,
		"the worker, and the model at the path infer reads by default")

	// Compressing the layer changes the manifest, not the image's ID (its config).
	spec.Compress = true
	c, err := spec.Build()
	require.NoError(t, err)
	require.NoError(t, validate.Image(c))
	idA, _ := a.ConfigName()
	idC, _ := c.ConfigName()
	require.Equal(t, idA, idC)
	dc, _ := c.Digest()
	require.NotEqual(t, da, dc)
}
