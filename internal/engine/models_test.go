package engine

import (
	"context"
	"errors"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinymlaas/tinyml/internal/dataset"
	"github.com/tinymlaas/tinyml/internal/onnx"
	"github.com/tinymlaas/tinyml/internal/testenv"
)

// testModel is a model of testdata/ with its test set and torch's logits on it.
type testModel struct {
	name, data string
}

var testModels = []testModel{
	{"digits_mlp", "digits_test.csv"},
	{"digits_cnn", "digits_test.csv"},
	{"fashion_dwcnn", "fashion_test.npz"},
	{"fashion_resnet", "fashion_test.npz"},
}

func loadTestModel(t testing.TB, tm testModel, opts ...Option) (*Model, *dataset.Dataset, *dataset.Array) {
	t.Helper()
	om, err := onnx.Load(testenv.RepoFile(t, "testdata/models/"+tm.name+".onnx"))
	require.NoError(t, err)
	m, err := Compile(om, opts...)
	require.NoError(t, err)
	ds, err := dataset.Load(testenv.RepoFile(t, "testdata/data/"+tm.data))
	require.NoError(t, err)
	require.NoError(t, ds.Fit(m.Inputs()[0].Shape[1:]))
	f, err := os.Open(testenv.RepoFile(t, "testdata/ref/"+tm.name+"_logits.npy"))
	require.NoError(t, err)
	defer f.Close()
	ref, err := dataset.ReadNPY(f)
	require.NoError(t, err)
	return m, ds, ref
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// Every testdata model matches torch within 1e-4 with the same top-1, at batch 1 and at full
// batch, on one thread and on two.
func TestModelsMatchTorch(t *testing.T) {
	for _, tm := range testModels {
		for _, threads := range []int{1, 2} {
			t.Run(tm.name, func(t *testing.T) {
				m, ds, ref := loadTestModel(t, tm, WithThreads(threads))
				classes := ref.Shape[1]
				check := func(got []float32, first int) {
					for i := range len(got) / classes {
						want := ref.F32[(first+i)*classes : (first+i+1)*classes]
						row := got[i*classes : (i+1)*classes]
						for j := range row {
							require.LessOrEqual(t, math.Abs(float64(row[j]-want[j])), 1e-4, "sample %d logit %d", first+i, j)
						}
						require.Equal(t, argmax(want), argmax(row), "sample %d", first+i)
					}
				}
				full, err := m.PlanBatch(ds.N)
				require.NoError(t, err)
				defer full.Close()
				out, err := full.Run(context.Background(), Wrap(ds.X, append([]int{ds.N}, ds.Shape...)...))
				require.NoError(t, err)
				check(F32(out[0]), 0)

				one, err := m.PlanBatch(1)
				require.NoError(t, err)
				defer one.Close()
				for i := range ds.N {
					out, err := one.Run(context.Background(), Wrap(ds.Sample(i), append([]int{1}, ds.Shape...)...))
					require.NoError(t, err)
					check(F32(out[0]), i)
				}
			})
		}
	}
}

func TestRunAllocatesNothing(t *testing.T) {
	for _, tm := range testModels {
		t.Run(tm.name, func(t *testing.T) {
			m, ds, _ := loadTestModel(t, tm)
			for _, batch := range []int{1, 16} {
				p, err := m.PlanBatch(batch)
				require.NoError(t, err)
				in := Wrap(ds.X[:batch*ds.SampleLen()], append([]int{batch}, ds.Shape...)...)
				ctx := context.Background()
				allocs := testing.AllocsPerRun(20, func() {
					if _, err := p.Run(ctx, in); err != nil {
						t.Fatal(err)
					}
				})
				require.Zero(t, allocs, "batch %d", batch)
				p.Close()
			}
		})
	}
}

func TestUnsupportedOperatorIsATypedError(t *testing.T) {
	om := &onnx.Model{
		IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 17}},
		Graph: &onnx.Graph{
			Inputs:  []onnx.ValueInfo{{Name: "x", DType: onnx.Float, Shape: []onnx.Dim{{Value: 1}, {Value: 4}}}},
			Outputs: []onnx.ValueInfo{{Name: "y", DType: onnx.Float}},
			Nodes:   []*onnx.Node{{Name: "rnn0", OpType: "LSTM", Inputs: []string{"x"}, Outputs: []string{"y"}}},
		},
	}
	_, err := Compile(om)
	require.ErrorIs(t, err, ErrUnsupported)
	var ue *UnsupportedOpError
	require.True(t, errors.As(err, &ue))
	require.Equal(t, "LSTM", ue.Op)
	require.Equal(t, "rnn0", ue.Node)
	require.EqualValues(t, 17, ue.Opset)
	require.ErrorContains(t, err, "operator LSTM (node rnn0, opset 17) is not supported")
}

func TestWrongInputShapeNamesBothShapes(t *testing.T) {
	m, _, _ := loadTestModel(t, testModels[1])
	_, err := m.Plan(map[string][]int{"input": {1, 1, 9, 9}})
	require.ErrorIs(t, err, ErrShape)
	require.ErrorContains(t, err, "[1 1 9 9]")
	require.ErrorContains(t, err, "[batch 1 8 8]")
}

func TestOptimiserFoldsAndFuses(t *testing.T) {
	m, _, _ := loadTestModel(t, testModels[0]) // Gemm → BatchNorm → Relu, Gemm → Relu, Gemm
	p, err := m.PlanBatch(1)
	require.NoError(t, err)
	p.EnableProfile()
	_, err = p.Run(context.Background(), NewTensor(onnx.Float, 1, 64))
	require.NoError(t, err)
	var ops []string
	for _, s := range p.Profile() {
		ops = append(ops, s.Op)
	}
	// The input's Div by 16 and the BatchNormalization fold into the first Gemm's weights, and
	// both Relus fuse into the Gemms before them.
	require.Equal(t, []string{"Gemm", "Gemm", "Gemm"}, ops)
	fused := strings.Join(p.Profile()[0].Fused, " ")
	require.Contains(t, fused, "BatchNormalization")
	require.Contains(t, fused, "Div")
	require.Contains(t, fused, "Relu")
}
