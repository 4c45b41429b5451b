package compress

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinymlaas/tinyml/internal/dataset"
	"github.com/tinymlaas/tinyml/internal/engine"
	"github.com/tinymlaas/tinyml/internal/onnx"
	"github.com/tinymlaas/tinyml/internal/pack"
	"github.com/tinymlaas/tinyml/internal/testenv"
)

// Every technique's output, on every testdata model: validates as ONNX, survives encoding,
// packs and unpacks exactly, runs in the engine with outputs of the right shape, and has figures;
// the input model is left as it was.
func TestEveryTechniqueGivesAValidRunnableModel(t *testing.T) {
	specs := []string{"none", "fp16", "int8-dynamic", "int8-dynamic(granularity=per-group, group_size=16, symmetric=false)",
		"int8-static(calib=32)", "int8-static(calib=32, observer=percentile, activations=int8)", "int8-static(calib=32, observer=entropy)",
		"prune(method=magnitude)", "prune(scope=global, method=magnitude)", "prune-channels", "cluster(method=nearest)", "lowrank(rank=4)",
		"prune(method=magnitude) | int8-static(calib=32) | cluster(method=nearest)", "prune-channels | lowrank | cluster(bits=4) | fp16"}
	for _, tm := range testModels {
		m := loadModel(t, tm.name)
		before, err := m.Encode()
		require.NoError(t, err)
		calib, test := loadSet(t, tm.calib), loadSet(t, tm.test)
		for _, spec := range specs {
			t.Run(tm.name+"/"+spec, func(t *testing.T) {
				art, err := Compile(context.Background(), m, mustParse(t, spec), Options{Calib: calib})
				require.NoError(t, err)
				require.NoError(t, art.Model.Validate())
				back, err := onnx.Decode(art.ONNX)
				require.NoError(t, err)
				require.NoError(t, back.Validate())
				unpacked, err := pack.Decode(art.Packed)
				require.NoError(t, err)
				again, err := unpacked.Encode()
				require.NoError(t, err)
				require.Equal(t, art.ONNX, again, "the packed artifact decodes to exactly the compressed model")

				em, err := engine.Compile(unpacked)
				require.NoError(t, err)
				p, err := em.PlanBatch(8)
				require.NoError(t, err)
				defer p.Close()
				ds := *test
				require.NoError(t, ds.Fit(em.Inputs()[0].Shape[1:]))
				out, err := p.Run(context.Background(), engine.Wrap(ds.X[:8*ds.SampleLen()], append([]int{8}, ds.Shape...)...))
				require.NoError(t, err)
				require.Equal(t, []int{8, 10}, out[0].Shape)
				for _, v := range engine.F32(out[0]) {
					require.False(t, math.IsNaN(float64(v)) || math.IsInf(float64(v), 0))
				}

				f := art.Figures
				require.Positive(t, f.Params)
				require.Positive(t, f.MACs)
				require.Positive(t, f.ArenaBytes)
				require.LessOrEqual(t, f.NonZeroParams, f.Params)
				require.Equal(t, int64(len(art.ONNX)), f.ONNXBytes)
				require.Equal(t, int64(len(art.Packed)), f.PackedBytes)
				require.Less(t, f.PackedBytes, f.ONNXBytes+64)
				require.Positive(t, f.GzipBytes)
				require.Equal(t, mustParse(t, spec).String(), art.Spec)
			})
		}
		after, err := m.Encode()
		require.NoError(t, err)
		require.Equal(t, before, after, "Apply never modifies its input")
	}
}

// The quality floors, on every testdata model: accuracy on its test set against the float model,
// and packed size against the float32 ONNX file.
func TestQualityFloors(t *testing.T) {
	type floor struct {
		spec    string
		drop    float64 // top-1 points lost at most
		agree   float64 // share of top-1 predictions equal to the float model's, at least
		size    float64 // packed bytes / float32 ONNX file bytes, at most (0: no floor)
		calib   bool
		samples int // calibration samples used (the floors hold with fewer than the default)
	}
	floors := []floor{
		{spec: "int8-static", drop: 1, agree: 0.98, size: 0.27, calib: true},
		{spec: "int8-dynamic", drop: 0.5},
		{spec: "prune(sparsity=0.5)", drop: 1, calib: true},
		{spec: "prune | int8-static | cluster", drop: 2, size: 0.12, calib: true},
	}
	for _, tm := range testModels {
		t.Run(tm.name, func(t *testing.T) {
			m := loadModel(t, tm.name)
			fileBytes, err := os.Stat(testenv.RepoFile(t, "testdata/models/"+tm.name+".onnx"))
			require.NoError(t, err)
			test := loadSet(t, tm.test)
			base, err := evaluate(t, m, test)
			require.NoError(t, err)
			for _, fl := range floors {
				opts := Options{}
				if fl.calib {
					opts.Calib = loadSet(t, tm.calib)
				}
				art, err := Compile(context.Background(), m, mustParse(t, fl.spec), opts)
				require.NoError(t, err, fl.spec)
				res, err := evaluate(t, art.Model, test)
				require.NoError(t, err)
				drop := 100 * (base.Accuracy - res.Accuracy)
				agree := agreement(res.Predictions, base.Predictions)
				size := float64(art.Figures.PackedBytes) / float64(fileBytes.Size())
				t.Logf("%-30s top-1 %.2f%% (drop %+.2f points), agreement %.1f%%, packed %d bytes = %.3f of the float32 file",
					fl.spec, 100*res.Accuracy, drop, 100*agree, art.Figures.PackedBytes, size)
				require.LessOrEqual(t, drop, fl.drop, "%s: accuracy drop", fl.spec)
				require.GreaterOrEqual(t, agree, fl.agree, "%s: agreement with the float model", fl.spec)
				if fl.size > 0 {
					require.LessOrEqual(t, size, fl.size, "%s: packed size", fl.spec)
				}
			}
		})
	}
}

func TestOptimiseIsLossless(t *testing.T) {
	for _, tm := range testModels {
		m := loadModel(t, tm.name)
		res, err := Apply(context.Background(), m, mustParse(t, "none"), Options{})
		require.NoError(t, err)
		for _, n := range res.Model.Graph.Nodes {
			require.NotContains(t, []string{"BatchNormalization", "Constant", "Identity", "Dropout"}, n.OpType, tm.name)
		}
		require.Equal(t, m.Opsets, res.Model.Opsets)
		test := loadSet(t, tm.test)
		a, err := evaluate(t, m, test)
		require.NoError(t, err)
		b, err := evaluate(t, res.Model, test)
		require.NoError(t, err)
		require.Equal(t, a.Predictions, b.Predictions, tm.name)
	}
}

// A model with an Identity, a Dropout, a Gemm followed by BatchNormalization, a Reshape of a
// constant and an unused initializer: none removes all of that and computes the same.
func TestOptimiseFoldsAndCleans(t *testing.T) {
	w := onnx.FromSlice("W", []int64{3, 4}, []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	flat := onnx.FromSlice("Bflat", []int64{4}, []float32{0.5, -0.5, 1, 2})
	shape := onnx.FromSlice("shape", []int64{1}, []int64{4})
	bn := []*onnx.Tensor{
		onnx.FromSlice("scale", []int64{4}, []float32{1, 2, 0.5, 1}),
		onnx.FromSlice("beta", []int64{4}, []float32{0, 1, 0, -1}),
		onnx.FromSlice("mean", []int64{4}, []float32{1, 0, 2, 0}),
		onnx.FromSlice("var", []int64{4}, []float32{1, 4, 1, 0.25}),
	}
	g := &onnx.Graph{Name: "g",
		Inputs:       []onnx.ValueInfo{{Name: "x", DType: onnx.Float, Shape: []onnx.Dim{{Param: "n"}, {Value: 3}}}},
		Outputs:      []onnx.ValueInfo{{Name: "y", DType: onnx.Float}},
		Initializers: append([]*onnx.Tensor{w, flat, shape, onnx.FromSlice("unused", []int64{2}, []float32{1, 2})}, bn...),
		Nodes: []*onnx.Node{
			{OpType: "Identity", Inputs: []string{"x"}, Outputs: []string{"x1"}},
			{OpType: "Reshape", Inputs: []string{"Bflat", "shape"}, Outputs: []string{"B"}},
			{OpType: "Gemm", Inputs: []string{"x1", "W", "B"}, Outputs: []string{"g"}},
			{OpType: "BatchNormalization", Inputs: []string{"g", "scale", "beta", "mean", "var"}, Outputs: []string{"b"}},
			{OpType: "Dropout", Inputs: []string{"b"}, Outputs: []string{"d"}},
			{OpType: "Relu", Inputs: []string{"d"}, Outputs: []string{"y"}},
		},
	}
	m := &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 13}}, Graph: g}
	res, err := Apply(context.Background(), m, mustParse(t, "none"), Options{})
	require.NoError(t, err)
	var ops []string
	for _, n := range res.Model.Graph.Nodes {
		ops = append(ops, n.OpType)
	}
	require.Equal(t, []string{"Gemm", "Relu"}, ops)
	require.Nil(t, res.Model.Graph.Initializer("unused"))
	x := []float32{1, -2, 0.5, 0, 1, 2}
	require.InDeltaSlice(t, runModel(t, m, x, 2, 3), runModel(t, res.Model, x, 2, 3), 1e-5)
}

// runModel feeds one float input of the given shape and returns the first output.
func runModel(t *testing.T, m *onnx.Model, x []float32, shape ...int) []float32 {
	t.Helper()
	em, err := engine.Compile(m)
	require.NoError(t, err)
	p, err := em.Plan(map[string][]int{em.Inputs()[0].Name: shape})
	require.NoError(t, err)
	defer p.Close()
	out, err := p.Run(context.Background(), engine.Wrap(x, shape...))
	require.NoError(t, err)
	return slices.Clone(engine.F32(out[0]))
}

func TestTechniquesChangeWhatTheySay(t *testing.T) {
	ctx := context.Background()
	cnn := loadModel(t, "digits_cnn")
	base, err := Compile(ctx, cnn, mustParse(t, "none"), Options{})
	require.NoError(t, err)

	pruned, err := Compile(ctx, cnn, mustParse(t, "prune(sparsity=0.7, method=magnitude, min_fan_in=0, scope=layer)"), Options{})
	require.NoError(t, err)
	require.InDelta(t, 0.3, float64(pruned.Figures.NonZeroParams)/float64(base.Figures.NonZeroParams), 0.02)
	require.Less(t, pruned.Figures.PackedBytes, base.Figures.PackedBytes/2)

	ch, err := Compile(ctx, cnn, mustParse(t, "prune-channels(ratio=0.5)"), Options{})
	require.NoError(t, err)
	require.Less(t, ch.Figures.MACs, base.Figures.MACs*6/10, "removing channels removes work")
	require.Less(t, ch.Figures.Params, base.Figures.Params*6/10)

	cl, err := Compile(ctx, cnn, mustParse(t, "cluster(bits=2, method=nearest, min_fan_in=0)"), Options{})
	require.NoError(t, err)
	for _, in := range cl.Model.Graph.Initializers {
		if strings.HasSuffix(in.Name, "weight") {
			v, _ := in.Float32s()
			slices.Sort(v)
			require.LessOrEqual(t, len(slices.Compact(v)), 4, in.Name)
		}
	}

	mlp := loadModel(t, "digits_mlp")
	lr, err := Compile(ctx, mlp, mustParse(t, "lowrank(rank=8)"), Options{})
	require.NoError(t, err)
	mlpBase, err := Compile(ctx, mlp, mustParse(t, "none"), Options{})
	require.NoError(t, err)
	require.Less(t, lr.Figures.Params, mlpBase.Figures.Params)
	require.NotEmpty(t, lr.Notes)

	h, err := Compile(ctx, mlp, mustParse(t, "fp16"), Options{})
	require.NoError(t, err)
	require.Less(t, h.Figures.ONNXBytes, mlpBase.Figures.ONNXBytes*6/10)

	// Residual connections keep their channels, and say so.
	res, err := Compile(ctx, loadModel(t, "fashion_resnet"), mustParse(t, "prune-channels"), Options{})
	require.NoError(t, err)
	notes := ""
	for _, n := range res.Notes {
		notes += n.String() + "\n"
	}
	require.Contains(t, notes, "residual connection")
}

func TestBadInputsAreTypedErrors(t *testing.T) {
	ctx := context.Background()
	mlp := loadModel(t, "digits_mlp")

	// int8-static without calibration data, and with data that does not fit.
	_, err := Apply(ctx, mlp, mustParse(t, "int8-static"), Options{})
	var ce *CalibrationError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "int8-static", ce.Technique)
	require.Contains(t, err.Error(), "--calib")
	wrong := &dataset.Dataset{N: 4, Shape: []int{10}, X: make([]float32, 40)}
	_, err = Apply(ctx, mlp, mustParse(t, "int8-static"), Options{Calib: wrong})
	require.ErrorIs(t, err, ErrCalibration)
	require.ErrorIs(t, err, dataset.ErrShape)
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "calib", ce.Param)
	_, err = Apply(ctx, mlp, mustParse(t, "prune(method=obs)"), Options{})
	require.ErrorIs(t, err, ErrCalibration)

	// A model without layers to work on.
	g := &onnx.Graph{Name: "relu",
		Inputs:  []onnx.ValueInfo{{Name: "x", DType: onnx.Float, Shape: []onnx.Dim{{Value: 1}, {Value: 4}}}},
		Outputs: []onnx.ValueInfo{{Name: "y", DType: onnx.Float}},
		Nodes:   []*onnx.Node{{OpType: "Relu", Inputs: []string{"x"}, Outputs: []string{"y"}}}}
	noLayers := &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 13}}, Graph: g}
	for _, spec := range []string{"prune-channels", "prune", "int8-dynamic", "lowrank", "cluster"} {
		_, err = Apply(ctx, noLayers, mustParse(t, spec), Options{})
		var me *ModelError
		require.ErrorAs(t, err, &me, spec)
		require.Equal(t, spec, me.Technique)
		require.ErrorIs(t, err, ErrModel)
	}
	_, err = Apply(ctx, noLayers, mustParse(t, "none | fp16"), Options{})
	require.NoError(t, err, "no weights to convert is a note, not an error")

	// An opset without per-axis DequantizeLinear.
	old := mlp.Clone()
	old.Opsets = []onnx.OpsetID{{Version: 11}}
	_, err = Apply(ctx, old, mustParse(t, "int8-dynamic"), Options{})
	require.ErrorIs(t, err, ErrModel)
	require.Contains(t, err.Error(), "opset")

	// A chain built by hand that makes no sense.
	_, err = Apply(ctx, mlp, Chain{{Technique: "fp16"}, {Technique: "int8-dynamic"}}, Options{})
	require.ErrorIs(t, err, ErrBadChain)
	_, err = Apply(ctx, mlp, Chain{{Technique: "prune", Settings: []Setting{{"sparsity", FloatValue(2)}}}}, Options{})
	require.ErrorIs(t, err, ErrBadParam)

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = Apply(canceled, mlp, mustParse(t, "int8-static"), Options{Calib: loadSet(t, "digits_calib.csv")})
	require.True(t, errors.Is(err, context.Canceled), "%v", err)
}

func TestCompileFileReadsONNXAndPacked(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	model := testenv.RepoFile(t, "testdata/models/digits_cnn.onnx")
	calib := testenv.RepoFile(t, "testdata/data/digits_calib.csv")
	art, err := CompileFile(ctx, model, mustParse(t, "prune(method=magnitude) | int8-static(calib=50)"), FileOptions{Calib: calib})
	require.NoError(t, err)
	packed := filepath.Join(dir, "m.tmlpack")
	require.NoError(t, os.WriteFile(packed, art.Packed, 0o644))
	// A packed model is a valid input too: compressing it again with none keeps its figures.
	again, err := CompileFile(ctx, packed, mustParse(t, "none"), FileOptions{})
	require.NoError(t, err)
	require.Equal(t, art.Figures.NonZeroParams, again.Figures.NonZeroParams)
	_, err = CompileFile(ctx, packed, mustParse(t, "int8-dynamic"), FileOptions{})
	require.ErrorIs(t, err, ErrModel)
	require.ErrorContains(t, err, "already quantized")
	_, err = CompileFile(ctx, model, mustParse(t, "int8-static"), FileOptions{Calib: filepath.Join(dir, "missing.csv")})
	require.ErrorIs(t, err, ErrCalibration)
}

// The same model, chain and data give the same bytes: runs are reproducible.
func TestCompileIsDeterministic(t *testing.T) {
	var prev []byte
	for range 2 {
		art, err := Compile(context.Background(), loadModel(t, "digits_cnn"), mustParse(t, "prune | int8-static(calib=64) | cluster"),
			Options{Calib: loadSet(t, "digits_calib.csv"), Seed: 7})
		require.NoError(t, err)
		if prev != nil {
			require.Equal(t, prev, art.Packed)
		}
		prev = art.Packed
	}
}
