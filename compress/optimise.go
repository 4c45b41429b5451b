package compress

import (
	"context"
	"math"
	"slices"

	"github.com/tinymlaas/tinyml/internal/engine"
	"github.com/tinymlaas/tinyml/internal/onnx"
)

// optimise is the lossless clean-up every chain starts with (the `none` technique): Constant
// nodes become initializers, Identity and inference Dropout go, BatchNormalization folds into
// the Conv or Gemm before it, nodes computable from constants are computed (when that does not
// make the model bigger), and what nothing reads is removed. The result is standard ONNX with
// the same opsets.
func optimise(r *run) error {
	r.constantsToInitializers()
	r.dropIdentities()
	r.foldConstants()
	r.foldBatchNorms()
	return nil
}

// constantsToInitializers turns Constant nodes holding a tensor or numbers into initializers.
// IR version 3 requires initializers to be graph inputs as well, so such models keep theirs.
func (r *run) constantsToInitializers() {
	if r.m.IRVersion < 4 {
		return
	}
	for _, n := range slices.Clone(r.g.Nodes) {
		if n.OpType != "Constant" || n.Domain != "" || len(n.Outputs) != 1 || len(n.Attrs) != 1 || r.isOutput(n.Outputs[0]) {
			continue
		}
		a := n.Attrs[0]
		var t *onnx.Tensor
		switch {
		case a.Name == "value" && a.Type == onnx.AttrTensor && a.Tensor != nil:
			t = a.Tensor.Clone()
		case a.Name == "value_float" && a.Type == onnx.AttrFloat:
			t = onnx.FromSlice("", nil, []float32{a.Float})
		case a.Name == "value_floats" && a.Type == onnx.AttrFloats:
			t = onnx.FromSlice("", []int64{int64(len(a.Floats))}, a.Floats)
		case a.Name == "value_int" && a.Type == onnx.AttrInt:
			t = onnx.FromSlice("", nil, []int64{a.Int})
		case a.Name == "value_ints" && a.Type == onnx.AttrInts:
			t = onnx.FromSlice("", []int64{int64(len(a.Ints))}, a.Ints)
		default:
			continue
		}
		if t.Dims == nil {
			t.Dims = []int64{}
		}
		t.Name = n.Outputs[0]
		r.removeNode(n)
		r.g.Initializers = append(r.g.Initializers, t)
	}
}

// dropIdentities removes Identity and inference-mode Dropout nodes.
func (r *run) dropIdentities() {
	for _, n := range slices.Clone(r.g.Nodes) {
		if n.Domain != "" || len(n.Inputs) == 0 || n.Inputs[0] == "" || len(n.Outputs) == 0 {
			continue
		}
		switch n.OpType {
		case "Identity":
		case "Dropout":
			if len(n.Outputs) > 1 && n.Outputs[1] != "" && r.uses(n.Outputs[1]) > 0 {
				continue // the mask is read
			}
			if len(n.Inputs) > 2 && n.Inputs[2] != "" {
				t := r.constInit(n.Inputs[2])
				if t == nil || len(t.Raw) != 1 || t.Raw[0] != 0 {
					continue // training mode, or unknown
				}
			}
		default:
			continue
		}
		in, out := n.Inputs[0], n.Outputs[0]
		if readsInSubgraph(n, in) {
			continue
		}
		if !r.isOutput(out) {
			r.renameUses(out, in)
			r.removeNode(n)
			continue
		}
		// The output is a graph output: let the producer of the input write it directly.
		p := r.producer(in)
		if p == nil || r.uses(in) != 1 || r.isOutput(in) {
			continue
		}
		for i, o := range p.Outputs {
			if o == in {
				p.Outputs[i] = out
			}
		}
		r.dropValueInfo(in)
		r.removeNode(n)
	}
}

// foldBatchNorms folds inference BatchNormalization into the Conv or Gemm that feeds it:
// y = s·(Wx + b − mean) + beta with s = scale/√(var + eps) becomes (s·W)x + s·(b − mean) + beta.
func (r *run) foldBatchNorms() {
	for _, bn := range slices.Clone(r.g.Nodes) {
		if bn.OpType != "BatchNormalization" || bn.Domain != "" || len(bn.Inputs) != 5 || bn.AttrInt("training_mode", 0) != 0 {
			continue
		}
		if len(bn.Outputs) > 1 && slices.ContainsFunc(bn.Outputs[1:], func(s string) bool { return s != "" }) {
			continue
		}
		p := r.producer(bn.Inputs[0])
		if p == nil || p.Domain != "" || !r.exclusive(bn.Inputs[0]) || len(p.Outputs) != 1 {
			continue
		}
		params := make([][]float32, 4)
		ok := true
		for i := range params {
			_, params[i] = r.floatInit(bn.Inputs[1+i])
			ok = ok && params[i] != nil && len(params[i]) == len(params[0])
		}
		if !ok {
			continue
		}
		eps := float64(bn.AttrFloat("epsilon", 1e-5))
		c := len(params[0])
		s, shift := make([]float32, c), make([]float32, c)
		for i := range c {
			s[i] = float32(float64(params[0][i]) / math.Sqrt(float64(params[3][i])+eps))
			shift[i] = params[1][i] - params[2][i]*s[i]
		}
		var folded bool
		switch p.OpType {
		case "Conv":
			folded = r.foldIntoConv(p, s, shift)
		case "Gemm":
			folded = r.foldIntoGemm(p, s, shift)
		}
		if !folded {
			continue
		}
		p.Outputs[0] = bn.Outputs[0]
		r.dropValueInfo(bn.Inputs[0])
		r.removeNode(bn)
	}
}

// biasFor returns the values of a node's exclusive float bias input (or zeros when it has
// none) and a name to store the folded bias under.
func (r *run) biasFor(n *onnx.Node, idx, count int, taken map[string]bool) ([]float32, string, bool) {
	if len(n.Inputs) > idx && n.Inputs[idx] != "" {
		t, v := r.floatInit(n.Inputs[idx])
		if t == nil || !r.exclusive(t.Name) || (len(v) != count && len(v) != 1) {
			return nil, "", false
		}
		out := make([]float32, count)
		for i := range out {
			out[i] = v[min(i, len(v)-1)]
		}
		return out, t.Name, true
	}
	return make([]float32, count), r.unique(taken, n.Outputs[0]+"_bias"), true
}

func (r *run) foldIntoConv(conv *onnx.Node, s, shift []float32) bool {
	if len(conv.Inputs) < 2 {
		return false
	}
	w, wv := r.floatInit(conv.Inputs[1])
	if w == nil || !r.exclusive(w.Name) || len(w.Dims) < 3 || int(w.Dims[0]) != len(s) {
		return false
	}
	b, bName, ok := r.biasFor(conv, 2, len(s), r.names())
	if !ok {
		return false
	}
	per := len(wv) / len(s)
	for m := range s {
		for k := range per {
			wv[m*per+k] *= s[m]
		}
		b[m] = b[m]*s[m] + shift[m]
	}
	r.setInit(onnx.FromSlice(w.Name, w.Dims, wv))
	r.setInit(onnx.FromSlice(bName, []int64{int64(len(s))}, b))
	conv.Inputs = []string{conv.Inputs[0], w.Name, bName}
	return true
}

func (r *run) foldIntoGemm(gemm *onnx.Node, s, shift []float32) bool {
	if len(gemm.Inputs) < 2 || gemm.AttrInt("transA", 0) != 0 {
		return false
	}
	w, wv := r.floatInit(gemm.Inputs[1])
	if w == nil || !r.exclusive(w.Name) || len(w.Dims) != 2 {
		return false
	}
	transB := gemm.AttrInt("transB", 0) != 0
	k, n := int(w.Dims[0]), int(w.Dims[1])
	if transB {
		k, n = n, k
	}
	if n != len(s) {
		return false
	}
	alpha, beta := gemm.AttrFloat("alpha", 1), gemm.AttrFloat("beta", 1)
	if len(gemm.Inputs) > 2 && gemm.Inputs[2] != "" {
		if c := r.constInit(gemm.Inputs[2]); c == nil || (len(c.Dims) > 1 && !(len(c.Dims) == 2 && c.Dims[0] == 1)) {
			return false
		}
	}
	b, bName, ok := r.biasFor(gemm, 2, n, r.names())
	if !ok {
		return false
	}
	for kk := range k {
		for j := range n {
			if transB {
				wv[j*k+kk] *= s[j] * alpha
			} else {
				wv[kk*n+j] *= s[j] * alpha
			}
		}
	}
	for j := range n {
		b[j] = beta*b[j]*s[j] + shift[j]
	}
	r.setInit(onnx.FromSlice(w.Name, w.Dims, wv))
	r.setInit(onnx.FromSlice(bName, []int64{int64(n)}, b))
	gemm.Inputs = []string{gemm.Inputs[0], w.Name, bName}
	gemm.SetAttr(onnx.Attr{Name: "alpha", Type: onnx.AttrFloat, Float: 1})
	gemm.SetAttr(onnx.Attr{Name: "beta", Type: onnx.AttrFloat, Float: 1})
	return true
}

// foldConstants computes, with the engine, nodes whose inputs are all constants, when their
// outputs take no more bytes than their inputs (a Reshape or Transpose of a weight, shape
// arithmetic) — never a DequantizeLinear, whose int8 input is the point.
func (r *run) foldConstants() {
	for _, n := range slices.Clone(r.g.Nodes) {
		if n.Domain != "" || hasSubgraph(n) || len(n.Outputs) == 0 {
			continue
		}
		switch n.OpType {
		case "DequantizeLinear", "QuantizeLinear", "Constant":
			continue
		}
		var ins []*onnx.Tensor
		inBytes := 0
		ok := true
		for _, in := range n.Inputs {
			if in == "" {
				continue
			}
			t := r.constInit(in)
			if t == nil || t.DType == onnx.String {
				ok = false
				break
			}
			ins = append(ins, t)
			inBytes += len(t.Raw)
		}
		if !ok || len(ins) == 0 || slices.ContainsFunc(n.Outputs, r.isOutput) {
			continue
		}
		outs, err := evalConst(r.ctx, r.m, n, ins)
		if err != nil {
			continue
		}
		outBytes := 0
		for _, t := range outs {
			if t != nil {
				outBytes += len(t.Raw)
			}
		}
		if outBytes > inBytes {
			continue
		}
		for _, t := range outs {
			if t != nil {
				r.g.Initializers = append(r.g.Initializers, t)
			}
		}
		r.dropValueInfo(n.Outputs...)
		r.removeNode(n)
	}
}

// evalConst runs one node on constant inputs in the engine.
func evalConst(ctx context.Context, m *onnx.Model, n *onnx.Node, ins []*onnx.Tensor) ([]*onnx.Tensor, error) {
	g := &onnx.Graph{Name: "fold", Nodes: []*onnx.Node{n.Clone()}, Initializers: ins}
	for _, o := range n.Outputs {
		if o != "" {
			g.Outputs = append(g.Outputs, onnx.ValueInfo{Name: o})
		}
	}
	mini := &onnx.Model{IRVersion: max(m.IRVersion, 4), Opsets: m.Opsets, Graph: g}
	em, err := engine.Compile(mini)
	if err != nil {
		return nil, err
	}
	p, err := em.Plan(map[string][]int{})
	if err != nil {
		return nil, err
	}
	defer p.Close()
	res, err := p.Run(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*onnx.Tensor, len(n.Outputs))
	k := 0
	for i, o := range n.Outputs {
		if o == "" {
			continue
		}
		t := res[k]
		k++
		dims := make([]int64, len(t.Shape))
		for j, d := range t.Shape {
			dims[j] = int64(d)
		}
		out[i] = &onnx.Tensor{Name: o, DType: t.DType, Dims: dims, Raw: append([]byte{}, t.Data...)}
	}
	return out, nil
}
