package compress

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinymlaas/tinyml/internal/engine"
	"github.com/tinymlaas/tinyml/internal/onnx"
)

// The engine's quantization operators (internal/engine/ops_quant.go) on the cases ONNX's own
// backend tests (run by TestONNXConformance) do not have: opset 21 blocks and 16-bit types,
// rounding ties, saturation, and agreement with what this package writes.

// runOp runs one node on constant inputs at an opset and returns its first output.
func runOp(t *testing.T, opset int64, n *onnx.Node, ins ...*onnx.Tensor) *engine.Tensor {
	t.Helper()
	g := &onnx.Graph{Name: "op", Nodes: []*onnx.Node{n}, Initializers: ins,
		Outputs: []onnx.ValueInfo{{Name: n.Outputs[0]}}}
	em, err := engine.Compile(&onnx.Model{IRVersion: 10, Opsets: []onnx.OpsetID{{Version: opset}}, Graph: g})
	require.NoError(t, err)
	p, err := em.Plan(map[string][]int{})
	require.NoError(t, err)
	defer p.Close()
	out, err := p.Run(context.Background())
	require.NoError(t, err)
	return out[0].Clone()
}

func TestQuantizeLinearRoundsHalfToEvenAndSaturates(t *testing.T) {
	x := onnx.FromSlice("x", []int64{9}, []float32{0.5, 1.5, 2.5, -0.5, -1.5, 1000, -1000, float32(math.Inf(1)), 2.4999})
	q := &onnx.Node{OpType: "QuantizeLinear", Inputs: []string{"x", "s", "z"}, Outputs: []string{"y"}}
	out := runOp(t, 13, q, x, onnx.FromSlice("s", []int64{}, []float32{1}), onnx.FromSlice("z", []int64{}, []uint8{10}))
	require.Equal(t, onnx.Uint8, out.DType)
	require.Equal(t, []uint8{10, 12, 12, 10, 8, 255, 0, 255, 12}, engine.View[uint8](out))
	out = runOp(t, 13, q, x, onnx.FromSlice("s", []int64{}, []float32{1}), onnx.FromSlice("z", []int64{}, []int8{0}))
	require.Equal(t, []int8{0, 2, 2, 0, -2, 127, -128, 127, 2}, engine.View[int8](out))
}

func TestQuantizeDequantizePerAxisAndBlocked(t *testing.T) {
	// x is 2×4; per axis 1: one scale per column; blocked (opset 21) along axis 1 with blocks of 2.
	x := onnx.FromSlice("x", []int64{2, 4}, []float32{1, 2, 3, 4, -1, -2, -3, -4})
	perAxis := &onnx.Node{OpType: "QuantizeLinear", Inputs: []string{"x", "s"}, Outputs: []string{"y"}, Attrs: []onnx.Attr{attrInt("axis", 1)}}
	out := runOp(t, 13, perAxis, x, onnx.FromSlice("s", []int64{4}, []float32{1, 0.5, 0.25, 2}))
	require.Equal(t, []uint8{1, 4, 12, 2, 0, 0, 0, 0}, engine.View[uint8](out))

	q := onnx.FromSlice("q", []int64{2, 4}, []int8{1, 2, 3, 4, -1, -2, -3, -4})
	scales := onnx.FromSlice("s", []int64{2, 2}, []float32{1, 10, 100, 1000})
	zps := onnx.FromSlice("z", []int64{2, 2}, []int8{0, 1, 0, -1})
	blocked := &onnx.Node{OpType: "DequantizeLinear", Inputs: []string{"q", "s", "z"}, Outputs: []string{"y"},
		Attrs: []onnx.Attr{attrInt("axis", 1), attrInt("block_size", 2)}}
	out = runOp(t, 21, blocked, q, scales, zps)
	require.Equal(t, []float32{1, 2, 20, 30, -100, -200, -2000, -3000}, engine.F32(out))

	// Blocks need opset 21; a scale of the wrong shape is refused with the shape it needed.
	em, err := engine.Compile(&onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 13}}, Graph: &onnx.Graph{Name: "g",
		Nodes: []*onnx.Node{blocked}, Initializers: []*onnx.Tensor{q, scales, zps}, Outputs: []onnx.ValueInfo{{Name: "y"}}}})
	if err == nil {
		_, err = em.Plan(map[string][]int{})
	}
	require.ErrorContains(t, err, "opset 21")
	wrong := &onnx.Node{OpType: "DequantizeLinear", Inputs: []string{"q", "s"}, Outputs: []string{"y"}, Attrs: []onnx.Attr{attrInt("axis", 1), attrInt("block_size", 4)}}
	_, err = engine.Compile(&onnx.Model{IRVersion: 10, Opsets: []onnx.OpsetID{{Version: 21}}, Graph: &onnx.Graph{Name: "g",
		Nodes: []*onnx.Node{wrong}, Initializers: []*onnx.Tensor{q, scales}, Outputs: []onnx.ValueInfo{{Name: "y"}}}})
	require.ErrorIs(t, err, engine.ErrShape)
}

func TestSixteenBitQuantizationAtOpset21(t *testing.T) {
	x := onnx.FromSlice("x", []int64{3}, []float32{1000.5, -70000, 3})
	q := &onnx.Node{OpType: "QuantizeLinear", Inputs: []string{"x", "s", "z"}, Outputs: []string{"y"}}
	out := runOp(t, 21, q, x, onnx.FromSlice("s", []int64{}, []float32{1}), onnx.FromSlice("z", []int64{}, []int16{0}))
	require.Equal(t, onnx.Int16, out.DType)
	require.Equal(t, []int16{1000, -32768, 3}, engine.View[int16](out))
	dq := &onnx.Node{OpType: "DequantizeLinear", Inputs: []string{"q", "s"}, Outputs: []string{"y"}}
	out = runOp(t, 21, dq, onnx.FromSlice("q", []int64{2}, []uint16{65535, 2}), onnx.FromSlice("s", []int64{}, []float32{0.5}))
	require.Equal(t, []float32{32767.5, 1}, engine.F32(out))
}

// The engine's QuantizeLinear gives what this package's quantize computes, so calibration-time
// arithmetic and run-time arithmetic agree.
func TestEngineAndPackageQuantizeAlike(t *testing.T) {
	vals := make([]float32, 2001)
	for i := range vals {
		vals[i] = float32(i-1000) * 0.0173
	}
	p := asymmetricParams(-7.1, 13.9, 0, 255, false)
	out := runOp(t, 13, &onnx.Node{OpType: "QuantizeLinear", Inputs: []string{"x", "s", "z"}, Outputs: []string{"y"}},
		onnx.FromSlice("x", []int64{int64(len(vals))}, vals), onnx.FromSlice("s", []int64{}, []float32{p.scale}),
		onnx.FromSlice("z", []int64{}, []uint8{uint8(p.zp)}))
	for i, v := range vals {
		require.Equal(t, quantize(v, p, 0, 255), int32(engine.View[uint8](out)[i]), "x=%v", v)
	}
}

// QLinearMatMul (the integer kernel onnxruntime fuses QDQ into) agrees with the QDQ form it
// replaces: dequantize, multiply in float, quantize.
func TestQLinearMatMulMatchesItsQDQForm(t *testing.T) {
	a := onnx.FromSlice("a", []int64{2, 3}, []uint8{10, 200, 37, 0, 255, 128})
	b := onnx.FromSlice("b", []int64{3, 2}, []int8{-5, 100, 127, -128, 3, 0})
	as, az := onnx.FromSlice("as", []int64{}, []float32{0.02}), onnx.FromSlice("az", []int64{}, []uint8{128})
	bs, bz := onnx.FromSlice("bs", []int64{2}, []float32{0.01, 0.005}), onnx.FromSlice("bz", []int64{2}, []int8{0, 0})
	ys, yz := onnx.FromSlice("ys", []int64{}, []float32{0.05}), onnx.FromSlice("yz", []int64{}, []uint8{100})
	n := &onnx.Node{OpType: "QLinearMatMul", Inputs: []string{"a", "as", "az", "b", "bs", "bz", "ys", "yz"}, Outputs: []string{"y"}}
	got := engine.View[uint8](runOp(t, 13, n, a, as, az, b, bs, bz, ys, yz))
	av, _ := a.Float64s()
	bv, _ := b.Float64s()
	for i := range 2 {
		for j := range 2 {
			var acc float64
			for k := range 3 {
				acc += (av[i*3+k] - 128) * 0.02 * bv[k*2+j] * []float64{0.01, 0.005}[j]
			}
			want := math.Min(255, math.Max(0, math.RoundToEven(acc/0.05)+100))
			require.InDelta(t, want, float64(got[i*2+j]), 1, "y[%d,%d]", i, j)
		}
	}
}

// A QDQ model runs without allocating, and the same on one thread and on two (QuantizeLinear
// and DequantizeLinear split large tensors between threads).
func TestQuantizedModelRunsAllocationFreeOnAnyThreads(t *testing.T) {
	m := mustApply(t, loadModel(t, "fashion_dwcnn"), "int8-static(calib=32)", loadSet(t, "fashion_calib.npz"))
	test := *loadSet(t, "fashion_test.npz")
	var outs [][]float32
	for _, threads := range []int{1, 2} {
		em, err := engine.Compile(m, engine.WithThreads(threads))
		require.NoError(t, err)
		p, err := em.PlanBatch(16)
		require.NoError(t, err)
		in := engine.Wrap(test.X[:16*784], 16, 1, 28, 28)
		out, err := p.Run(context.Background(), in)
		require.NoError(t, err)
		outs = append(outs, append([]float32{}, engine.F32(out[0])...))
		require.Zero(t, testing.AllocsPerRun(3, func() { p.Run(context.Background(), in) }), "threads %d", threads)
		p.Close()
	}
	require.Equal(t, outs[0], outs[1])
}
