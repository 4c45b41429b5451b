package engine

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinymlaas/tinyml/internal/onnx"
)

// Operator behaviour that ONNX 1.12's conformance data (TestONNXConformance) does not reach:
// newer opsets, and the refusals that name what is unsupported.

// nodeCase is one operator node run on its own: inputs are fed at run time, consts become
// initializers.
type nodeCase struct {
	opset   int64
	op      string
	attrs   []onnx.Attr
	inputs  []*Tensor // runtime inputs, named x0, x1, ...; nil leaves the input out
	consts  map[int]*onnx.Tensor
	outputs int
}

func (c nodeCase) model() *onnx.Model {
	g := &onnx.Graph{}
	n := &onnx.Node{Name: "n0", OpType: c.op, Attrs: c.attrs}
	for i := range max(len(c.inputs), maxKey(c.consts)+1) {
		name := string(rune('a' + i))
		switch {
		case c.consts[i] != nil:
			t := c.consts[i].Clone()
			t.Name = name
			g.Initializers = append(g.Initializers, t)
		case i < len(c.inputs) && c.inputs[i] != nil:
			dims := make([]onnx.Dim, len(c.inputs[i].Shape))
			for j, d := range c.inputs[i].Shape {
				dims[j] = onnx.Dim{Value: int64(d)}
			}
			g.Inputs = append(g.Inputs, onnx.ValueInfo{Name: name, DType: c.inputs[i].DType, Shape: dims})
		default:
			name = ""
		}
		n.Inputs = append(n.Inputs, name)
	}
	for i := range max(c.outputs, 1) {
		name := string(rune('y' - i))
		n.Outputs = append(n.Outputs, name)
		g.Outputs = append(g.Outputs, onnx.ValueInfo{Name: name})
	}
	g.Nodes = []*onnx.Node{n}
	return &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: c.opset}}, Graph: g}
}

func maxKey(m map[int]*onnx.Tensor) int {
	k := -1
	for i := range m {
		k = max(k, i)
	}
	return k
}

func (c nodeCase) run(t *testing.T) ([]*Tensor, error) {
	t.Helper()
	m, err := Compile(c.model())
	if err != nil {
		return nil, err
	}
	var feed []*Tensor
	for _, in := range c.inputs {
		if in != nil {
			feed = append(feed, in)
		}
	}
	p, err := m.PlanBatch(feed[0].Shape[0])
	if err != nil {
		return nil, err
	}
	defer p.Close()
	out, err := p.Run(context.Background(), feed...)
	if err != nil {
		return nil, err
	}
	var kept []*Tensor
	for _, o := range out {
		kept = append(kept, o.Clone())
	}
	return kept, nil
}

func constInts64(v ...int64) *onnx.Tensor { return onnx.FromSlice("", []int64{int64(len(v))}, v) }

func intAttr(name string, v int64) onnx.Attr {
	return onnx.Attr{Name: name, Type: onnx.AttrInt, Int: v}
}
func stringAttr(name, v string) onnx.Attr {
	return onnx.Attr{Name: name, Type: onnx.AttrString, String: v}
}

func TestGelu(t *testing.T) {
	x := []float32{-3, -1, -0.5, 0, 0.5, 1, 3}
	for _, approx := range []string{"none", "tanh"} {
		t.Run(approx, func(t *testing.T) {
			out, err := nodeCase{opset: 20, op: "Gelu", attrs: []onnx.Attr{stringAttr("approximate", approx)},
				inputs: []*Tensor{FromSlice(x, 1, len(x))}}.run(t)
			require.NoError(t, err)
			for i, v := range F32(out[0]) {
				xv := float64(x[i])
				want := 0.5 * xv * (1 + math.Erf(xv/math.Sqrt2))
				require.InDelta(t, want, v, 1e-3, "x=%v", xv) // tanh approximates within 1e-3
			}
		})
	}
	_, err := nodeCase{opset: 17, op: "Gelu", inputs: []*Tensor{FromSlice([]float32{1}, 1)}}.run(t)
	require.ErrorIs(t, err, ErrUnsupported, "Gelu before opset 20")
}

func TestReduceAxesInputSinceOpset18(t *testing.T) {
	x := FromSlice([]float32{1, 2, 3, 4, 5, 6}, 1, 2, 3)
	out, err := nodeCase{opset: 18, op: "ReduceMean", inputs: []*Tensor{x}, consts: map[int]*onnx.Tensor{1: constInts64(-1)}}.run(t)
	require.NoError(t, err)
	require.Equal(t, []int{1, 2, 1}, out[0].Shape)
	require.Equal(t, []float32{2, 5}, F32(out[0]))

	// No axes with noop_with_empty_axes: the input passes through.
	out, err = nodeCase{opset: 18, op: "ReduceMax", attrs: []onnx.Attr{intAttr("noop_with_empty_axes", 1)}, inputs: []*Tensor{x}}.run(t)
	require.NoError(t, err)
	require.Equal(t, F32(x), F32(out[0]))

	// Before 18 the axes are an attribute.
	out, err = nodeCase{opset: 13, op: "ReduceL2", attrs: []onnx.Attr{{Name: "axes", Type: onnx.AttrInts, Ints: []int64{1}}, intAttr("keepdims", 0)},
		inputs: []*Tensor{FromSlice([]float32{3, 0, 4, 0}, 1, 2, 2)}}.run(t)
	require.NoError(t, err)
	require.Equal(t, []int{1, 2}, out[0].Shape)
	require.Equal(t, []float32{5, 0}, F32(out[0]))
}

func TestSplitNumOutputs(t *testing.T) {
	// Opset 18: 5 elements in 3 outputs are chunks of 2, 2 and 1.
	out, err := nodeCase{opset: 18, op: "Split", attrs: []onnx.Attr{intAttr("num_outputs", 3), intAttr("axis", 1)},
		inputs: []*Tensor{FromSlice([]float32{1, 2, 3, 4, 5}, 1, 5)}, outputs: 3}.run(t)
	require.NoError(t, err)
	require.Equal(t, []float32{1, 2}, F32(out[0]))
	require.Equal(t, []float32{3, 4}, F32(out[1]))
	require.Equal(t, []float32{5}, F32(out[2]))
}

func TestSliceNegativeStepsClamp(t *testing.T) {
	x := FromSlice([]float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 1, 10)
	out, err := nodeCase{opset: 13, op: "Slice", inputs: []*Tensor{x},
		consts: map[int]*onnx.Tensor{1: constInts64(100), 2: constInts64(math.MinInt64), 3: constInts64(1), 4: constInts64(-3)}}.run(t)
	require.NoError(t, err)
	require.Equal(t, []float32{9, 6, 3, 0}, F32(out[0]))
}

func TestResizeLinearHalfPixelSymmetric(t *testing.T) {
	// Opset 19's half_pixel_symmetric, upsampling 2 → 4: coordinates 0.5·(1−1)+(o+0.5)/2−0.5.
	out, err := nodeCase{opset: 19, op: "Resize",
		attrs:  []onnx.Attr{stringAttr("mode", "linear"), stringAttr("coordinate_transformation_mode", "half_pixel_symmetric")},
		inputs: []*Tensor{FromSlice([]float32{0, 4}, 1, 1, 1, 2)},
		consts: map[int]*onnx.Tensor{2: onnx.FromSlice("", []int64{4}, []float32{1, 1, 1, 2})}}.run(t)
	require.NoError(t, err)
	require.Equal(t, []float32{0, 1, 3, 4}, F32(out[0]))
}

// The engine names what it refuses.
func TestUnsupportedOperatorFeatures(t *testing.T) {
	x := FromSlice([]float32{1, 2, 3, 4}, 1, 4)
	cases := []struct {
		name string
		c    nodeCase
		want string
	}{
		{"pad wrap", nodeCase{opset: 19, op: "Pad", attrs: []onnx.Attr{stringAttr("mode", "wrap")}, inputs: []*Tensor{x},
			consts: map[int]*onnx.Tensor{1: constInts64(0, 1, 0, 1)}}, `pad mode "wrap"`},
		{"resize antialias", nodeCase{opset: 18, op: "Resize", attrs: []onnx.Attr{intAttr("antialias", 1)}, inputs: []*Tensor{x},
			consts: map[int]*onnx.Tensor{2: onnx.FromSlice("", []int64{2}, []float32{1, 2})}}, "Resize with antialias"},
		{"resize scales at run time", nodeCase{opset: 13, op: "Resize", inputs: []*Tensor{x, nil, FromSlice([]float32{1, 2}, 2)}},
			"scales computed at run time"},
		{"nonzero at run time", nodeCase{opset: 13, op: "NonZero", inputs: []*Tensor{x}}, "NonZero of a tensor computed at run time"},
		{"training dropout", nodeCase{opset: 13, op: "Dropout", inputs: []*Tensor{x},
			consts: map[int]*onnx.Tensor{2: onnx.FromSlice("", []int64{}, []bool{true})}}, "training-mode Dropout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.c.run(t)
			require.ErrorIs(t, err, ErrUnsupported)
			require.ErrorContains(t, err, tc.want)
		})
	}
}
