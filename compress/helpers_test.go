package compress

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinymlaas/tinyml/internal/dataset"
	"github.com/tinymlaas/tinyml/internal/engine"
	"github.com/tinymlaas/tinyml/internal/measure"
	"github.com/tinymlaas/tinyml/internal/onnx"
	"github.com/tinymlaas/tinyml/internal/testenv"
)

// testModel is a model of testdata/ with its calibration and test sets.
type testModel struct {
	name, calib, test string
}

var testModels = []testModel{
	{"digits_mlp", "digits_calib.csv", "digits_test.csv"},
	{"digits_cnn", "digits_calib.csv", "digits_test.csv"},
	{"fashion_dwcnn", "fashion_calib.npz", "fashion_test.npz"},
	{"fashion_resnet", "fashion_calib.npz", "fashion_test.npz"},
}

var (
	cacheMu sync.Mutex
	models  = map[string]*onnx.Model{}
	sets    = map[string]*dataset.Dataset{}
)

// loadModel reads a testdata model (cached; callers must not modify it, which Apply never does).
func loadModel(t testing.TB, name string) *onnx.Model {
	t.Helper()
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if m := models[name]; m != nil {
		return m
	}
	m, err := onnx.Load(testenv.RepoFile(t, "testdata/models/"+name+".onnx"))
	require.NoError(t, err)
	models[name] = m
	return m
}

// loadSet reads a testdata dataset (cached; read-only).
func loadSet(t testing.TB, file string) *dataset.Dataset {
	t.Helper()
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if d := sets[file]; d != nil {
		return d
	}
	d, err := dataset.Load(testenv.RepoFile(t, "testdata/data/"+file))
	require.NoError(t, err)
	sets[file] = d
	return d
}

// evaluate runs a model over a labelled set in one batch and returns its predictions and
// accuracy.
func evaluate(t testing.TB, m *onnx.Model, ds *dataset.Dataset) (*measure.Result, error) {
	t.Helper()
	em, err := engine.Compile(m)
	if err != nil {
		return nil, err
	}
	d := *ds
	return measure.Evaluate(context.Background(), em, &d, measure.Options{Batch: d.N})
}

func agreement(a, b []int) float64 {
	same := 0
	for i := range a {
		if a[i] == b[i] {
			same++
		}
	}
	return float64(same) / float64(len(a))
}

func mustParse(t testing.TB, spec string) Chain {
	t.Helper()
	c, err := Parse(spec)
	require.NoError(t, err, spec)
	return c
}

func mustApply(t testing.TB, m *onnx.Model, spec string, calib *dataset.Dataset) *onnx.Model {
	t.Helper()
	res, err := Apply(context.Background(), m, mustParse(t, spec), Options{Calib: calib})
	require.NoError(t, err, spec)
	return res.Model
}
