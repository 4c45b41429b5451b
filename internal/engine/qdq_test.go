package engine

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinymlaas/tinyml/internal/onnx"
	"github.com/tinymlaas/tinyml/internal/testenv"
)

// The fused integer operators of qdq.go against the reference operators of ops_quant.go (and
// the float operators of the unfused QDQ graph), on random layers.

// qlayer is a random quantized layer: a Conv, Gemm or MatMul with its quantization.
type qlayer struct {
	op                string // Conv, Gemm, MatMul
	xShape            []int
	xType, yType      onnx.DType
	xs, ys            float32
	xz, yz            int32
	w                 []int8
	wShape            []int
	ws                []float32 // per output channel, or one
	bias              []int32   // nil: none
	attrs             []onnx.Attr
	act               string // "", Relu, Clip
	clipLo, clipHi    float32
	m                 int // output channels
	transB, perTensor bool
}

func zpTensor(name string, dt onnx.DType, v int32) *onnx.Tensor {
	if dt == onnx.Int8 {
		return onnx.FromSlice(name, []int64{}, []int8{int8(v)})
	}
	return onnx.FromSlice(name, []int64{}, []uint8{uint8(v)})
}

func dims(s []int) []int64 {
	d := make([]int64, len(s))
	for i, v := range s {
		d[i] = int64(v)
	}
	return d
}

func intsAttr(name string, v ...int64) onnx.Attr {
	return onnx.Attr{Name: name, Type: onnx.AttrInts, Ints: v}
}

func staticShape(s []int) []onnx.Dim {
	d := make([]onnx.Dim, len(s))
	for i, v := range s {
		d[i] = onnx.Dim{Value: int64(v)}
	}
	return d
}

// qdqModel writes the layer the way onnxruntime's quantizer and compress's int8-static do:
// DequantizeLinear of x, weights and bias, the float operator, an optional activation and a
// QuantizeLinear of the output (none when float output).
func (l *qlayer) qdqModel(floatOut bool) *onnx.Model {
	g := &onnx.Graph{Name: "qdq",
		Inputs: []onnx.ValueInfo{{Name: "xq", DType: l.xType, Shape: staticShape(l.xShape)}}}
	wsShape := []int64{int64(len(l.ws))}
	if len(l.ws) == 1 {
		wsShape = []int64{} // a scale of shape [1] would be per axis for a weight of rank > 1
	}
	g.Initializers = append(g.Initializers,
		onnx.FromSlice("xs", []int64{}, []float32{l.xs}), zpTensor("xz", l.xType, l.xz),
		onnx.FromSlice("wq", dims(l.wShape), l.w), onnx.FromSlice("ws", wsShape, l.ws),
		onnx.FromSlice("ys", []int64{}, []float32{l.ys}), zpTensor("yz", l.yType, l.yz))
	axis := int64(0)
	if (l.op == "Gemm" && !l.transB) || l.op == "MatMul" {
		axis = 1
	}
	wdq := &onnx.Node{OpType: "DequantizeLinear", Inputs: []string{"wq", "ws"}, Outputs: []string{"w"}}
	if len(l.ws) > 1 {
		wdq.Attrs = []onnx.Attr{intAttr("axis", axis)}
	}
	g.Nodes = append(g.Nodes,
		&onnx.Node{OpType: "DequantizeLinear", Inputs: []string{"xq", "xs", "xz"}, Outputs: []string{"x"}}, wdq)
	in := []string{"x", "w"}
	if l.bias != nil {
		g.Initializers = append(g.Initializers, onnx.FromSlice("bq", []int64{int64(len(l.bias))}, l.bias))
		bdq := &onnx.Node{OpType: "DequantizeLinear", Inputs: []string{"bq", "bs"}, Outputs: []string{"b"}}
		if len(l.ws) > 1 {
			bdq.Attrs = []onnx.Attr{intAttr("axis", 0)}
		}
		g.Nodes = append(g.Nodes, &onnx.Node{OpType: "Mul", Inputs: []string{"xs", "ws"}, Outputs: []string{"bs"}}, bdq)
		in = append(in, "b")
	}
	g.Nodes = append(g.Nodes, &onnx.Node{Name: "layer", OpType: l.op, Inputs: in, Outputs: []string{"y"}, Attrs: l.attrs})
	last := "y"
	switch l.act {
	case "Relu":
		g.Nodes = append(g.Nodes, &onnx.Node{OpType: "Relu", Inputs: []string{"y"}, Outputs: []string{"ya"}})
		last = "ya"
	case "Clip":
		g.Initializers = append(g.Initializers, onnx.FromSlice("lo", []int64{}, []float32{l.clipLo}), onnx.FromSlice("hi", []int64{}, []float32{l.clipHi}))
		g.Nodes = append(g.Nodes, &onnx.Node{OpType: "Clip", Inputs: []string{"y", "lo", "hi"}, Outputs: []string{"ya"}})
		last = "ya"
	}
	if floatOut {
		g.Outputs = []onnx.ValueInfo{{Name: last, DType: onnx.Float}}
	} else {
		g.Nodes = append(g.Nodes, &onnx.Node{OpType: "QuantizeLinear", Inputs: []string{last, "ys", "yz"}, Outputs: []string{"yq"}})
		g.Outputs = []onnx.ValueInfo{{Name: "yq", DType: l.yType}}
	}
	return &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 13}}, Graph: g}
}

// qlinearModel writes the layer as one QLinearConv or QLinearMatMul (no activation; a Gemm
// as QLinearMatMul of the weights' transpose).
func (l *qlayer) qlinearModel() *onnx.Model {
	g := &onnx.Graph{Name: "qlinear",
		Inputs: []onnx.ValueInfo{{Name: "xq", DType: l.xType, Shape: staticShape(l.xShape)}}}
	w, wShape := l.w, l.wShape
	if l.op == "Gemm" && l.transB { // QLinearMatMul takes K×N
		k, n := wShape[1], wShape[0]
		t := make([]int8, len(w))
		for i := range n {
			for j := range k {
				t[j*n+i] = w[i*k+j]
			}
		}
		w, wShape = t, []int{k, n}
	}
	g.Initializers = append(g.Initializers,
		onnx.FromSlice("xs", []int64{}, []float32{l.xs}), zpTensor("xz", l.xType, l.xz),
		onnx.FromSlice("wq", dims(wShape), w), onnx.FromSlice("ws", []int64{int64(len(l.ws))}, l.ws),
		onnx.FromSlice("wz", []int64{int64(len(l.ws))}, make([]int8, len(l.ws))),
		onnx.FromSlice("ys", []int64{}, []float32{l.ys}), zpTensor("yz", l.yType, l.yz))
	in := []string{"xq", "xs", "xz", "wq", "ws", "wz", "ys", "yz"}
	op := "QLinearConv"
	attrs := l.attrs
	if l.op != "Conv" {
		op, attrs = "QLinearMatMul", nil
	} else if l.bias != nil {
		g.Initializers = append(g.Initializers, onnx.FromSlice("bq", []int64{int64(len(l.bias))}, l.bias))
		in = append(in, "bq")
	}
	g.Nodes = []*onnx.Node{{Name: "layer", OpType: op, Inputs: in, Outputs: []string{"yq"}, Attrs: attrs}}
	g.Outputs = []onnx.ValueInfo{{Name: "yq", DType: l.yType}}
	return &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 13}}, Graph: g}
}

func randType(r *rand.Rand) onnx.DType {
	if r.IntN(3) == 0 {
		return onnx.Int8
	}
	return onnx.Uint8
}

func randZero(r *rand.Rand, dt onnx.DType) int32 {
	if dt == onnx.Int8 {
		return int32(r.IntN(256) - 128)
	}
	return int32(r.IntN(256))
}

// randLayer makes a random layer of kind op; the scales keep outputs mostly inside the range.
func randLayer(r *rand.Rand, op string) *qlayer {
	l := &qlayer{op: op, xType: randType(r), yType: randType(r), xs: float32(0.01 + r.Float64()*0.05)}
	l.xz, l.yz = randZero(r, l.xType), randZero(r, l.yType)
	var k int
	switch op {
	case "Conv":
		n, c := 1+r.IntN(3), 1+r.IntN(9)
		group := 1
		switch r.IntN(4) {
		case 0:
			group = c // depthwise
		case 1:
			if c%2 == 0 {
				group = 2
			}
		}
		m := group * (1 + r.IntN(max(1, 12/group)))
		if group == c && r.IntN(2) == 0 {
			m = c
		}
		kh, kw := 1+r.IntN(3), 1+r.IntN(3)
		h, w := kh+r.IntN(10), kw+r.IntN(10)
		sh, sw := 1+r.IntN(2), 1+r.IntN(2)
		dh, dw := 1, 1
		if r.IntN(5) == 0 {
			dh, dw = 2, 1+r.IntN(2)
			h, w = h+kh, w+kw
		}
		pads := []int64{int64(r.IntN(kh)), int64(r.IntN(kw)), int64(r.IntN(kh)), int64(r.IntN(kw))}
		if r.IntN(2) == 0 { // "same"
			pads = []int64{int64((kh - 1) * dh / 2), int64((kw - 1) * dw / 2), int64((kh - 1) * dh / 2), int64((kw - 1) * dw / 2)}
			sh, sw = 1, 1
		}
		l.xShape = []int{n, c, h, w}
		l.wShape = []int{m, c / group, kh, kw}
		l.m, k = m, c/group*kh*kw
		l.attrs = []onnx.Attr{intsAttr("kernel_shape", int64(kh), int64(kw)), intsAttr("strides", int64(sh), int64(sw)),
			intsAttr("pads", pads...), intsAttr("dilations", int64(dh), int64(dw)), intAttr("group", int64(group))}
	case "Gemm":
		rows := 1 + r.IntN(40)
		k, l.m = 1+r.IntN(70), 1+r.IntN(20)
		l.xShape = []int{rows, k}
		l.transB = r.IntN(2) == 0
		l.wShape = []int{k, l.m}
		if l.transB {
			l.wShape = []int{l.m, k}
		}
		l.attrs = []onnx.Attr{intAttr("transB", map[bool]int64{false: 0, true: 1}[l.transB])}
	case "MatMul":
		k, l.m = 1+r.IntN(70), 1+r.IntN(20)
		l.xShape = []int{1 + r.IntN(3), 1 + r.IntN(9), k}
		l.wShape = []int{k, l.m}
	}
	l.w = make([]int8, numel(l.wShape))
	for i := range l.w {
		l.w[i] = int8(r.IntN(255) - 127)
	}
	nws := l.m
	if r.IntN(4) == 0 {
		nws, l.perTensor = 1, true
	}
	l.ws = make([]float32, nws)
	for i := range l.ws {
		l.ws[i] = float32(0.002 + r.Float64()*0.01)
	}
	l.ys = float32(float64(l.xs) * float64(l.ws[0]) * 127 * math.Sqrt(float64(k)) * (0.02 + r.Float64()*0.05))
	if op != "MatMul" && r.IntN(4) != 0 {
		l.bias = make([]int32, l.m)
		for i := range l.bias {
			l.bias[i] = int32(r.IntN(20001) - 10000)
		}
	}
	switch r.IntN(4) {
	case 0:
		l.act = "Relu"
	case 1:
		l.act, l.clipLo, l.clipHi = "Clip", float32(-r.Float64()*2), float32(r.Float64()*4)
	}
	return l
}

func (l *qlayer) input(r *rand.Rand) *Tensor {
	t := NewTensor(l.xType, l.xShape...)
	for i := range t.Data {
		t.Data[i] = byte(r.IntN(256))
	}
	return t
}

func runModel(t *testing.T, m *Model, in *Tensor) *Tensor {
	t.Helper()
	p, err := m.Plan(map[string][]int{"xq": in.Shape})
	require.NoError(t, err)
	defer p.Close()
	out, err := p.Run(context.Background(), in)
	require.NoError(t, err)
	return out[0].Clone()
}

func opsOfModel(m *Model) []string {
	var ops []string
	for _, n := range m.g.nodes {
		ops = append(ops, n.op)
	}
	return ops
}

// A fused QDQ layer gives what the reference QLinearConv / QLinearMatMul gives, exactly, and
// what the float QDQ graph gives within one quantization step; QLinearConv and QLinearMatMul
// with constant weights, fused too, equal the reference exactly; on one thread and on two.
func TestQDQLayersMatchReference(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	steps := map[string]int{}
	for iter := range 240 {
		op := []string{"Conv", "Conv", "Conv", "Gemm", "MatMul"}[iter%5]
		l := randLayer(r, op)
		in := l.input(r)
		name := fmt.Sprintf("%d %s x%v w%v %s→%s act=%s", iter, op, l.xShape, l.wShape, l.xType, l.yType, l.act)
		for _, threads := range []int{1, 2} {
			qdq := l.qdqModel(false)
			fused, err := Compile(qdq, WithThreads(threads))
			require.NoError(t, err, name)
			require.Contains(t, opsOfModel(fused), map[string]string{"Conv": qconvOp, "Gemm": qgemmOp, "MatMul": qgemmOp}[op], name)
			require.Len(t, opsOfModel(fused), 1, "%s: %v", name, opsOfModel(fused))
			ref, err := CompileWithoutQDQFusion(qdq)
			require.NoError(t, err)
			got, want := runModel(t, fused, in), runModel(t, ref, in)
			require.Equal(t, want.Shape, got.Shape, name)
			maxStep := 0
			for i := range got.Data {
				d := int(loadI64(got, i) - loadI64(want, i))
				maxStep = max(maxStep, d, -d)
			}
			require.LessOrEqual(t, maxStep, 1, name)
			steps[op] = max(steps[op], maxStep)

			if l.act != "" {
				continue
			}
			ql := l.qlinearModel()
			qfused, err := Compile(ql, WithThreads(threads))
			require.NoError(t, err, name)
			require.NotContains(t, opsOfModel(qfused), "QLinearConv", name)
			require.NotContains(t, opsOfModel(qfused), "QLinearMatMul", name)
			qref, err := CompileWithoutQDQFusion(ql)
			require.NoError(t, err)
			exact := runModel(t, qref, in)
			require.Equal(t, exact.Data, runModel(t, qfused, in).Data, "%s: QLinear fused vs reference", name)
			if op == "Conv" || l.bias == nil { // QLinearMatMul has no bias
				require.Equal(t, exact.Data, got.Data, "%s: QDQ fused vs reference QLinear", name)
			}
		}
	}
	t.Logf("largest difference from the float QDQ graph, in quantization steps: %v", steps)
}

// A layer with a float output (no QuantizeLinear after it: a classifier's last Gemm) gives the
// float graph's values up to float rounding.
func TestQDQFloatOutput(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for iter := range 60 {
		op := []string{"Conv", "Gemm", "MatMul"}[iter%3]
		l := randLayer(r, op)
		in := l.input(r)
		m := l.qdqModel(true)
		fused, err := Compile(m)
		require.NoError(t, err)
		require.Len(t, opsOfModel(fused), 1, "%v", opsOfModel(fused))
		ref, err := CompileWithoutQDQFusion(m)
		require.NoError(t, err)
		got, want := runModel(t, fused, in), runModel(t, ref, in)
		g, w := F32(got), F32(want)
		var scale float64
		for _, v := range w {
			scale = max(scale, math.Abs(float64(v)))
		}
		for i := range g {
			require.InDelta(t, w[i], g[i], 1e-5*max(scale, 1), "iter %d %s element %d", iter, op, i)
		}
	}
}

// The fused operators around the layers compute what the dequantize → float operator →
// quantize sequences compute, exactly: the input normalisation with its QuantizeLinear, a
// MaxPool and a Transpose on the integers (with a requantization, and without one when both
// sides share their parameters), residual additions (same shape and broadcast, with a Relu,
// quantized or float), a global average pool.
func TestQDQElementwiseExact(t *testing.T) {
	const n, c, h, w = 3, 5, 6, 8
	g := &onnx.Graph{Name: "ops", Inputs: []onnx.ValueInfo{
		{Name: "xf", DType: onnx.Float, Shape: staticShape([]int{n, c, h, w})},
		{Name: "xq", DType: onnx.Uint8, Shape: staticShape([]int{n, c, h, w})},
		{Name: "yq", DType: onnx.Int8, Shape: staticShape([]int{1, c, 1, 1})},
	}}
	f := func(name string, v float32) {
		g.Initializers = append(g.Initializers, onnx.FromSlice(name, []int64{}, []float32{v}))
	}
	f("c255", 255)
	f("mean", 0.286)
	f("std", 0.353)
	f("two", 2)
	for _, q := range []struct {
		name string
		s    float32
		dt   onnx.DType
		z    int32
	}{{"a", 0.0213, onnx.Uint8, 61}, {"b", 0.0301, onnx.Uint8, 40}, {"x", 0.0157, onnx.Uint8, 128}, {"y", 0.011, onnx.Int8, -3},
		{"c", 0.0312, onnx.Uint8, 0}, {"bc", 0.02, onnx.Int8, 5}, {"d", 0.0093, onnx.Uint8, 0}} {
		f(q.name+"_s", q.s)
		g.Initializers = append(g.Initializers, zpTensor(q.name+"_z", q.dt, q.z))
	}
	node := func(op string, in []string, out string, attrs ...onnx.Attr) {
		g.Nodes = append(g.Nodes, &onnx.Node{Name: out, OpType: op, Inputs: in, Outputs: []string{out}, Attrs: attrs})
	}
	dq := func(q, out string) {
		node("DequantizeLinear", []string{q, q[:len(q)-1] + "_s", q[:len(q)-1] + "_z"}, out)
	}
	// The normalisation x/255, −mean, /std, ·2 → QuantizeLinear: one QQuantize.
	node("Div", []string{"xf", "c255"}, "n1")
	node("Sub", []string{"n1", "mean"}, "n2")
	node("Div", []string{"n2", "std"}, "n3")
	node("Mul", []string{"two", "n3"}, "n4")
	node("QuantizeLinear", []string{"n4", "a_s", "a_z"}, "aq")
	// MaxPool on the integers, then a requantization to other parameters.
	dq("aq", "a1")
	node("MaxPool", []string{"a1"}, "p1", intsAttr("kernel_shape", 2, 2), intsAttr("strides", 2, 2))
	node("Flatten", []string{"p1"}, "p2")
	node("QuantizeLinear", []string{"p2", "b_s", "b_z"}, "bq")
	// A Transpose between a DequantizeLinear and a QuantizeLinear of the same parameters.
	dq("aq", "a2")
	node("Transpose", []string{"a2"}, "t1", intsAttr("perm", 0, 2, 3, 1))
	node("QuantizeLinear", []string{"t1", "a_s", "a_z"}, "eq")
	// A residual addition with a Relu, quantized.
	dq("aq", "a3")
	dq("xq", "x3")
	node("Add", []string{"a3", "x3"}, "s1")
	node("Relu", []string{"s1"}, "s2")
	node("QuantizeLinear", []string{"s2", "c_s", "c_z"}, "cq")
	// A broadcast addition of an int8 tensor, quantized to int8; and one left float.
	dq("aq", "a4")
	dq("yq", "y4")
	node("Add", []string{"a4", "y4"}, "s3")
	node("QuantizeLinear", []string{"s3", "bc_s", "bc_z"}, "bcq")
	dq("xq", "x5")
	dq("yq", "y5")
	node("Add", []string{"y5", "x5"}, "ff")
	// A global average pool of the residual sum.
	dq("cq", "c6")
	node("GlobalAveragePool", []string{"c6"}, "g1")
	node("Flatten", []string{"g1"}, "g2")
	node("QuantizeLinear", []string{"g2", "d_s", "d_z"}, "dq")
	for _, o := range []string{"bq", "eq", "cq", "bcq", "ff", "dq"} {
		g.Outputs = append(g.Outputs, onnx.ValueInfo{Name: o})
	}
	om := &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 13}}, Graph: g}
	fused, err := Compile(om)
	require.NoError(t, err)
	ops := opsOfModel(fused)
	for _, op := range []string{qquantOp, qmaxpoolOp, qrequantOp, qaddOp, qgapOp} {
		require.Contains(t, ops, op)
	}
	require.NotContains(t, ops, "DequantizeLinear", "%v", ops)
	require.NotContains(t, ops, "Div", "%v", ops)
	ref, err := CompileWithoutQDQFusion(om)
	require.NoError(t, err)

	r := rand.New(rand.NewPCG(15, 16))
	for range 5 {
		xf, xq, yq := NewTensor(onnx.Float, n, c, h, w), NewTensor(onnx.Uint8, n, c, h, w), NewTensor(onnx.Int8, 1, c, 1, 1)
		for i, v := range F32(xf) {
			_ = v
			F32(xf)[i] = float32(r.IntN(256)) // pixel values: many exact ties
		}
		F32(xf)[0] = float32(math.NaN())
		for _, tt := range []*Tensor{xq, yq} {
			for i := range tt.Data {
				tt.Data[i] = byte(r.IntN(256))
			}
		}
		run := func(m *Model) []*Tensor {
			p, err := m.PlanBatch(n)
			require.NoError(t, err)
			defer p.Close()
			out, err := p.Run(context.Background(), xf, xq, yq)
			require.NoError(t, err)
			var res []*Tensor
			for _, o := range out {
				res = append(res, o.Clone())
			}
			return res
		}
		got, want := run(fused), run(ref)
		for i := range want {
			require.Equal(t, want[i].DType, got[i].DType, "output %s", g.Outputs[i].Name)
			require.Equal(t, want[i].Shape, got[i].Shape, "output %s", g.Outputs[i].Name)
			require.Equal(t, want[i].Data, got[i].Data, "output %s", g.Outputs[i].Name)
		}
	}
}

// ONNX's QLinearConv and QLinearMatMul backend cases, with their weights and quantization
// parameters bound as constants (as a model stores them): the engine gives the expected
// outputs. Their uint8 weights minus zero point do not fit in int8, so those stay with the
// reference; the same cases with the weights made int8 (w − zero point, saturated) run fused
// (where the weights are 2-D) and equal the reference exactly.
func TestQLinearBackendCasesBound(t *testing.T) {
	root := testenv.OnnxTestdata(t)
	for _, name := range []string{"test_qlinearconv", "test_qlinearmatmul_2D", "test_qlinearmatmul_3D"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(root, "node", name)
			om, err := onnx.Load(filepath.Join(dir, "model.onnx"))
			require.NoError(t, err)
			sets, err := loadConformanceSets(dir, om.Graph)
			require.NoError(t, err)
			set := sets[0]
			bind := func(w *onnx.Tensor, wz *onnx.Tensor) *onnx.Model {
				m := *om
				g := *om.Graph
				m.Graph = &g
				g.Inputs = g.Inputs[:1]
				g.Initializers = nil
				for i, in := range set.inputs[1:] {
					c := *in
					c.Name = om.Graph.Inputs[i+1].Name
					switch i + 1 {
					case 3:
						if w != nil {
							c = *w
						}
					case 5:
						if wz != nil {
							c = *wz
						}
					}
					c.Name = om.Graph.Inputs[i+1].Name
					g.Initializers = append(g.Initializers, &c)
				}
				return &m
			}
			x, err := fromONNX(set.inputs[0])
			require.NoError(t, err)
			run := func(m *Model) *Tensor {
				p, err := m.Plan(map[string][]int{om.Graph.Inputs[0].Name: x.Shape})
				require.NoError(t, err)
				defer p.Close()
				out, err := p.Run(context.Background(), x)
				require.NoError(t, err)
				return out[0].Clone()
			}
			bound := bind(nil, nil)
			m, err := Compile(bound)
			require.NoError(t, err)
			want, err := fromONNX(set.outputs[0])
			require.NoError(t, err)
			require.Equal(t, want.Data, run(m).Data)

			// int8 weights: w − zero point, saturated; zero point 0 (per column for MatMul).
			w, wz := set.inputs[3], set.inputs[5]
			q := make([]int8, len(w.Raw))
			for i, v := range w.Raw {
				z := int(wz.Raw[0])
				if len(wz.Raw) > 1 {
					z = int(wz.Raw[i%len(wz.Raw)])
				}
				q[i] = int8(min(max(int(v)-z, -128), 127))
			}
			w8 := onnx.FromSlice("", w.Dims, q)
			z8 := onnx.FromSlice("", wz.Dims, make([]int8, len(wz.Raw)))
			b8 := bind(w8, z8)
			fused, err := Compile(b8)
			require.NoError(t, err)
			if len(w.Dims) != 3 {
				require.NotContains(t, opsOfModel(fused), om.Graph.Nodes[0].OpType, "fused")
			}
			ref, err := CompileWithoutQDQFusion(b8)
			require.NoError(t, err)
			require.Equal(t, run(ref).Data, run(fused).Data)
		})
	}
}
