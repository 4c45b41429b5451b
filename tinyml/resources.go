package tinyml

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tinymlaas/tinyml/internal/dataset"
	"github.com/tinymlaas/tinyml/internal/onnx"
	"github.com/tinymlaas/tinyml/internal/volume"
	"github.com/tinymlaas/tinyml/internal/worker"
)

const hfScheme = "hf://"

// ErrPickle is matched when a model is a Python pickle: the studio runs ONNX.
var ErrPickle = errors.New("a pickled PyTorch model cannot be run")

// index records where the model and dataset steps put things in a run volume.
type index struct {
	Model string `json:"model,omitempty"`
	Test  string `json:"test,omitempty"`
	Calib string `json:"calib,omitempty"`
}

func (s *Studio) readIndex(id string) (index, error) {
	var ix index
	b, err := os.ReadFile(filepath.Join(s.runDir(id), "index.json"))
	if errors.Is(err, os.ErrNotExist) {
		return ix, nil
	}
	if err != nil {
		return ix, err
	}
	return ix, json.Unmarshal(b, &ix)
}

func (s *Studio) updateIndex(id string, f func(*index)) error {
	ix, err := s.readIndex(id)
	if err != nil {
		return err
	}
	f(&ix)
	return worker.WriteJSON(filepath.Join(s.runDir(id), "index.json"), ix)
}

// local resolves a reference to a file or directory on this machine.
func (s *Studio) local(ctx context.Context, ref string) (string, error) {
	if strings.HasPrefix(ref, hfScheme) {
		return s.fromHub(ctx, ref)
	}
	if _, err := os.Stat(ref); err != nil {
		return "", err
	}
	return ref, nil
}

// stepModel puts the model into the volume as model/<name>.onnx (siblings such as external data
// files come along) and checks that it decodes.
func (s *Studio) stepModel(ctx context.Context, run *Run) error {
	src, err := s.local(ctx, run.Model)
	if err != nil {
		return fmt.Errorf("model %s: %w", run.Model, err)
	}
	dst := filepath.Join(s.runDir(run.ID), "model")
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	rel, err := placeModel(src, dst)
	if err != nil {
		return err
	}
	if _, err := onnx.Load(filepath.Join(dst, rel)); err != nil {
		return fmt.Errorf("model %s: %w", run.Model, err)
	}
	return s.updateIndex(run.ID, func(ix *index) { ix.Model = filepath.ToSlash(filepath.Join("model", rel)) })
}

func placeModel(src, dst string) (string, error) {
	st, err := os.Stat(src)
	if err != nil {
		return "", err
	}
	switch {
	case st.IsDir():
		if err := volume.CopyDir(src, dst); err != nil {
			return "", fmt.Errorf("model %s: %w", src, err)
		}
		return findOne(dst, src, isONNX, "an .onnx model")
	case volume.IsArchive(src):
		if _, err := volume.Extract(src, dst, volume.DefaultLimits); err != nil {
			return "", fmt.Errorf("model %s: %w", src, err)
		}
		return findOne(dst, src, isONNX, "an .onnx model")
	case isPickle(src):
		return "", fmt.Errorf("model %s: %w: export it to ONNX first, e.g. in Python: "+
			"torch.onnx.export(model.eval(), example_input, \"model.onnx\", input_names=[\"input\"], "+
			"output_names=[\"logits\"], dynamic_axes={\"input\": {0: \"batch\"}, \"logits\": {0: \"batch\"}})", src, ErrPickle)
	case !isONNX(src):
		return "", fmt.Errorf("model %s: not an .onnx file (nor a directory or .zip/.tar.gz holding one)", src)
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	if _, err := onnx.Decode(b); errors.Is(err, onnx.ErrExternalData) {
		// Its weights sit in files beside it: bring the directory.
		if err := volume.CopyDir(filepath.Dir(src), dst); err != nil {
			return "", fmt.Errorf("model %s: %w", src, err)
		}
		return filepath.Base(src), nil
	}
	if err := volume.CopyFile(src, filepath.Join(dst, "model.onnx")); err != nil {
		return "", err
	}
	return "model.onnx", nil
}

func isONNX(p string) bool { return strings.EqualFold(filepath.Ext(p), ".onnx") }

func isPickle(p string) bool {
	switch strings.ToLower(filepath.Ext(p)) {
	case ".pkl", ".pickle", ".pt", ".pth", ".bin":
		return true
	}
	return false
}

// findOne finds the single file under root that matches, relative to root.
func findOne(root, origin string, match func(string) bool, what string) (string, error) {
	var found []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && match(p) {
			rel, _ := filepath.Rel(root, p)
			found = append(found, rel)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	switch len(found) {
	case 0:
		var pk []string
		filepath.WalkDir(root, func(p string, d fs.DirEntry, _ error) error {
			if d != nil && !d.IsDir() && isPickle(p) {
				pk = append(pk, p)
			}
			return nil
		})
		if len(pk) > 0 && what == "an .onnx model" {
			return "", fmt.Errorf("%s holds %s, a pickle: %w; export the model to ONNX with torch.onnx.export", origin, filepath.Base(pk[0]), ErrPickle)
		}
		return "", fmt.Errorf("%s holds no %s", origin, what)
	case 1:
		return found[0], nil
	}
	slices.Sort(found)
	return "", fmt.Errorf("%s holds %d candidates for %s (%s); give the one to use", origin, len(found), what, strings.Join(found, ", "))
}

// stepDataset puts the test (and calibration) set into the volume and checks that it feeds the
// model, naming both shapes when it does not.
func (s *Studio) stepDataset(ctx context.Context, run *Run) error {
	dir := s.runDir(run.ID)
	test, err := s.placeDataset(ctx, run.Dataset, filepath.Join(dir, "dataset", "test"))
	if err != nil {
		return err
	}
	var calib string
	if run.Calib != "" {
		if calib, err = s.placeDataset(ctx, run.Calib, filepath.Join(dir, "dataset", "calib")); err != nil {
			return err
		}
	}
	ix, err := s.readIndex(run.ID)
	if err != nil {
		return err
	}
	var shape []int
	if ix.Model != "" {
		if shape, err = sampleShape(filepath.Join(dir, ix.Model)); err != nil {
			return err
		}
	}
	// Each set is read once here, fitted to the model's input (reshaped, or images decoded and
	// resized), and written as one compact .npz that the device's job reads.
	for i, rel := range []*string{&test, &calib} {
		if *rel == "" {
			continue
		}
		var opts []dataset.Option
		if shape != nil {
			opts = append(opts, dataset.WithShape(shape))
		}
		ds, err := dataset.Load(filepath.Join(dir, *rel), opts...)
		if err != nil {
			return fmt.Errorf("dataset %s: %w", []string{run.Dataset, run.Calib}[i], err)
		}
		if i == 0 && ds.Y == nil {
			return fmt.Errorf("dataset %s has no labels; inference measures accuracy against them", run.Dataset)
		}
		name := []string{"test.npz", "calib.npz"}[i]
		var buf bytes.Buffer
		if err := ds.WriteNPZ(&buf); err != nil {
			return err
		}
		if err := worker.WriteFile(filepath.Join(dir, "dataset", name), buf.Bytes()); err != nil {
			return err
		}
		*rel = "dataset/" + name
	}
	return s.updateIndex(run.ID, func(ix *index) { ix.Test, ix.Calib = test, calib })
}

// sampleShape is the model's per-sample input shape, or nil when it is not fully declared.
func sampleShape(modelPath string) ([]int, error) {
	m, err := onnx.Load(modelPath)
	if err != nil {
		return nil, err
	}
	ins := m.Graph.RuntimeInputs()
	if len(ins) != 1 || len(ins[0].Shape) < 1 {
		return nil, nil
	}
	var tail []int
	for _, d := range ins[0].Shape[1:] {
		if !d.Known() {
			return nil, nil
		}
		tail = append(tail, int(d.Value))
	}
	return tail, nil
}

// placeDataset copies a dataset into dst (a directory) and returns the path to load, relative
// to the run volume.
func (s *Studio) placeDataset(ctx context.Context, ref, dst string) (string, error) {
	src, err := s.local(ctx, ref)
	if err != nil {
		return "", fmt.Errorf("dataset %s: %w", ref, err)
	}
	if err := os.RemoveAll(dst); err != nil {
		return "", err
	}
	vol := filepath.Dir(filepath.Dir(dst))
	rel := func(p string) string { r, _ := filepath.Rel(vol, p); return filepath.ToSlash(r) }
	st, err := os.Stat(src)
	if err != nil {
		return "", err
	}
	switch {
	case st.IsDir():
		if err := volume.CopyDir(src, dst); err != nil {
			return "", fmt.Errorf("dataset %s: %w", ref, err)
		}
		return rel(dst), nil
	case volume.IsArchive(src):
		if _, err := volume.Extract(src, dst, volume.DefaultLimits); err != nil {
			os.RemoveAll(dst) // a refused archive leaves nothing half-extracted behind
			return "", fmt.Errorf("dataset %s: %w", ref, err)
		}
		if one, err := findOne(dst, ref, isDatasetFile, "dataset file"); err == nil {
			return rel(filepath.Join(dst, one)), nil
		}
		return rel(dst), nil
	}
	name := filepath.Base(src)
	if err := volume.CopyFile(src, filepath.Join(dst, name)); err != nil {
		return "", err
	}
	// x.npy travels with its labels.
	for _, pair := range [][2]string{{"x.npy", "y.npy"}, {"_x.npy", "_y.npy"}, {"X.npy", "y.npy"}} {
		if strings.HasSuffix(name, pair[0]) {
			y := filepath.Join(filepath.Dir(src), strings.TrimSuffix(name, pair[0])+pair[1])
			if _, err := os.Stat(y); err == nil {
				if err := volume.CopyFile(y, filepath.Join(dst, filepath.Base(y))); err != nil {
					return "", err
				}
			}
			break
		}
	}
	return rel(filepath.Join(dst, name)), nil
}

func isDatasetFile(p string) bool {
	switch strings.ToLower(filepath.Ext(p)) {
	case ".csv", ".npz", ".parquet":
		return true
	case ".npy":
		return !strings.HasSuffix(strings.ToLower(p), "y.npy")
	}
	return false
}

// fromHub resolves an hf:// reference: it verifies access to the repository, resolves the
// revision to a commit, downloads the file the reference stands for into the Hub cache (or reuses
// it) and returns its local path; the client is configured with WithHub (hub.go).
func (s *Studio) fromHub(ctx context.Context, ref string) (string, error) {
	return s.fetchHub(ctx, ref)
}
