package engine

import (
	"fmt"
	"math"

	"github.com/tinymlaas/tinyml/internal/kernels"
	"github.com/tinymlaas/tinyml/internal/onnx"
)

// Opset range of the default domain the engine accepts. Operators whose meaning changed within
// it read the model's opset and follow it.
const (
	MinOpset = 1
	MaxOpset = 21
)

// gnode is a node of the engine's working graph: the model's node plus what the optimiser
// decided (a fused activation, renamed inputs and outputs).
type gnode struct {
	src     *onnx.Node
	op      string
	inputs  []string
	outputs []string
	act     kernels.Activation // fused Relu/Clip/LeakyRelu applied by the kernel's epilogue
	fused   []string           // labels of nodes folded or fused into this one
	memo    map[string]any     // batch-independent plan-time work (packed weights), shared by plans
}

func (n *gnode) label() string { return n.src.Label() }

func (n *gnode) memoize(key string, f func() (any, error)) (any, error) {
	if v, ok := n.memo[key]; ok {
		return v, nil
	}
	v, err := f()
	if err != nil {
		return nil, err
	}
	if n.memo == nil {
		n.memo = map[string]any{}
	}
	n.memo[key] = v
	return v, nil
}

// graph is the model after import and optimisation, ready to be planned for given input shapes.
type graph struct {
	nodes   []*gnode
	consts  map[string]*Tensor
	inputs  []onnx.ValueInfo // what a caller feeds
	outputs []onnx.ValueInfo
	opset   int64
}

// importGraph checks that the engine can run every node and turns the model into a graph.
func importGraph(m *onnx.Model) (*graph, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	opset := m.OpsetVersion("")
	if opset == 0 {
		opset = MaxOpset // no import means "latest" for writers that omit it
	}
	g := &graph{consts: map[string]*Tensor{}, opset: opset, outputs: m.Graph.Outputs}
	for _, it := range m.Graph.Initializers {
		t, err := fromONNX(it)
		if err != nil {
			return nil, &UnsupportedOpError{Op: "initializer", Node: it.Name, Opset: opset, Reason: err.Error()}
		}
		g.consts[it.Name] = t
	}
	for _, in := range m.Graph.RuntimeInputs() {
		if in.NotTensor {
			return nil, &UnsupportedOpError{Op: "graph input", Node: in.Name, Opset: opset, Reason: "a non-tensor input"}
		}
		g.inputs = append(g.inputs, in)
	}
	for _, out := range m.Graph.Outputs {
		if out.NotTensor {
			return nil, &UnsupportedOpError{Op: "graph output", Node: out.Name, Opset: opset, Reason: "a non-tensor output (sequence, map or optional)"}
		}
	}
	for _, n := range m.Graph.Nodes {
		def, ok := registry[n.OpType]
		if n.Domain != "" || !ok {
			return nil, &UnsupportedOpError{Op: n.OpType, Domain: n.Domain, Node: n.Label(), Opset: m.OpsetVersion(n.Domain)}
		}
		if opset < MinOpset || opset > MaxOpset {
			return nil, &UnsupportedOpError{Op: n.OpType, Node: n.Label(), Opset: opset,
				Reason: fmt.Sprintf("default-domain opset %d (the engine runs %d to %d)", opset, MinOpset, MaxOpset)}
		}
		if def.minOpset > opset {
			return nil, &UnsupportedOpError{Op: n.OpType, Node: n.Label(), Opset: opset,
				Reason: fmt.Sprintf("this operator before opset %d", def.minOpset)}
		}
		g.nodes = append(g.nodes, &gnode{src: n, op: n.OpType, inputs: append([]string(nil), n.Inputs...), outputs: append([]string(nil), n.Outputs...)})
	}
	return g, nil
}

// optimise rewrites the graph without changing its results (beyond float rounding): drop
// Identity and inference-time Dropout, fold BatchNormalization into a preceding Conv or Gemm,
// and fuse a following Relu/Clip/LeakyRelu into Conv, Gemm and MatMul.
func (g *graph) optimise() {
	g.fuseQDQ() // before folding: quantized weights stay int8
	g.foldConstants()
	g.dropIdentities()
	g.foldBatchNorm()
	g.foldInputScale()
	g.fuseActivations()
}

// foldConstants computes, once, every node whose inputs are all constants (Constant nodes, and
// arithmetic on initializers), so that later passes see plain constants: Clip bounds given by
// Constant nodes, BatchNormalization parameters computed in the graph. A node that fails to
// fold stays, for planning to report.
func (g *graph) foldConstants() {
	p := &planner{g: g, threads: 1, values: map[string]*Tensor{}, names: map[*Tensor]string{},
		lastUse: map[string]int{}, bufOf: map[*Tensor]*buffer{}}
	for name, t := range g.consts {
		p.values[name] = t
	}
	kept := g.nodes[:0]
	for _, n := range g.nodes {
		foldable := true
		for _, in := range n.inputs {
			if in != "" && g.consts[in] == nil {
				foldable = false
				break
			}
		}
		if !foldable || p.node(-1, n) != nil {
			kept = append(kept, n)
			continue
		}
		for _, out := range n.outputs {
			if t := p.values[out]; out != "" && t != nil {
				g.consts[out] = t
			}
		}
	}
	g.nodes = kept
}

// consumers counts uses of each value; graph outputs count as a use.
func (g *graph) consumers() map[string]int {
	c := map[string]int{}
	for _, n := range g.nodes {
		for _, in := range n.inputs {
			c[in]++
		}
	}
	for _, out := range g.outputs {
		c[out.Name]++
	}
	return c
}

func (g *graph) isOutput(name string) bool {
	for _, out := range g.outputs {
		if out.Name == name {
			return true
		}
	}
	return false
}

func (g *graph) rename(from, to string) {
	for _, n := range g.nodes {
		for i, in := range n.inputs {
			if in == from {
				n.inputs[i] = to
			}
		}
	}
}

func (g *graph) remove(dead map[*gnode]bool) {
	kept := g.nodes[:0]
	for _, n := range g.nodes {
		if !dead[n] {
			kept = append(kept, n)
		}
	}
	g.nodes = kept
}

func (g *graph) dropIdentities() {
	dead := map[*gnode]bool{}
	for _, n := range g.nodes {
		passThrough := n.op == "Identity" ||
			(n.op == "Dropout" && (len(n.outputs) < 2 || n.outputs[1] == "") && !dropoutTraining(n, g) && !legacyTraining(n, g))
		if !passThrough || len(n.inputs) == 0 || n.inputs[0] == "" || g.isOutput(n.outputs[0]) {
			continue
		}
		g.rename(n.outputs[0], n.inputs[0])
		dead[n] = true
	}
	g.remove(dead)
}

// legacyTraining: before opset 7, BatchNormalization and Dropout said inference with is_test=1.
func legacyTraining(n *gnode, g *graph) bool {
	return g.opset < 7 && n.src.AttrInt("is_test", 0) == 0
}

func dropoutTraining(n *gnode, g *graph) bool {
	if len(n.inputs) < 3 || n.inputs[2] == "" {
		return false
	}
	t := g.consts[n.inputs[2]]
	return t == nil || t.Len() != 1 || t.Data[0] != 0
}

// producerOf maps each value to the node producing it.
func (g *graph) producers() map[string]*gnode {
	p := map[string]*gnode{}
	for _, n := range g.nodes {
		for _, out := range n.outputs {
			p[out] = n
		}
	}
	return p
}

// foldBatchNorm folds an inference BatchNormalization into the Conv or Gemm that feeds it when
// that node's weights are constants and the BN is its only consumer: y = s·(Wx + b − mean) + beta
// with s = scale/√(var+eps) becomes (s·W)x + s·(b − mean) + beta.
func (g *graph) foldBatchNorm() {
	uses := g.consumers()
	prod := g.producers()
	dead := map[*gnode]bool{}
	for _, bn := range g.nodes {
		if bn.op != "BatchNormalization" || len(bn.inputs) != 5 || bn.src.AttrInt("training_mode", 0) != 0 || legacyTraining(bn, g) {
			continue
		}
		if len(bn.outputs) > 1 && bn.outputs[1] != "" {
			continue
		}
		p := prod[bn.inputs[0]]
		if p == nil || uses[bn.inputs[0]] != 1 || p.act.Kind != kernels.ActNone {
			continue
		}
		params := make([][]float32, 4)
		ok := true
		for i := range params {
			t := g.consts[bn.inputs[1+i]]
			if t == nil || t.DType != onnx.Float {
				ok = false
				break
			}
			params[i] = F32(t)
		}
		if !ok {
			continue
		}
		eps := float64(bn.src.AttrFloat("epsilon", 1e-5))
		c := len(params[0])
		s := make([]float32, c)
		shift := make([]float32, c)
		for i := range c {
			s[i] = float32(float64(params[0][i]) / math.Sqrt(float64(params[3][i])+eps))
			shift[i] = params[1][i] - params[2][i]*s[i]
		}
		var folded bool
		switch p.op {
		case "Conv":
			folded = g.foldIntoConv(p, s, shift)
		case "Gemm":
			folded = g.foldIntoGemm(p, s, shift)
		}
		if !folded {
			continue
		}
		p.outputs[0] = bn.outputs[0]
		p.fused = append(p.fused, bn.label())
		dead[bn] = true
	}
	g.remove(dead)
}

func (g *graph) foldIntoConv(conv *gnode, s, shift []float32) bool {
	if len(conv.inputs) < 2 {
		return false
	}
	w := g.consts[conv.inputs[1]]
	if w == nil || w.DType != onnx.Float || len(w.Shape) < 3 || w.Shape[0] != len(s) {
		return false
	}
	var b []float32
	if len(conv.inputs) > 2 && conv.inputs[2] != "" {
		bt := g.consts[conv.inputs[2]]
		if bt == nil || bt.DType != onnx.Float || bt.Len() != len(s) {
			return false
		}
		b = F32(bt)
	}
	nw := w.Clone()
	nw.konst = true
	wv := F32(nw)
	per := len(wv) / len(s)
	for m := range s {
		for k := range per {
			wv[m*per+k] *= s[m]
		}
	}
	nb := NewTensor(onnx.Float, len(s))
	nb.konst = true
	bv := F32(nb)
	for m := range s {
		var bias float32
		if b != nil {
			bias = b[m]
		}
		bv[m] = bias*s[m] + shift[m]
	}
	wName, bName := conv.outputs[0]+"::folded_W", conv.outputs[0]+"::folded_B"
	g.consts[wName], g.consts[bName] = nw, nb
	conv.inputs = []string{conv.inputs[0], wName, bName}
	return true
}

func (g *graph) foldIntoGemm(gemm *gnode, s, shift []float32) bool {
	if len(gemm.inputs) < 2 || gemm.src.AttrInt("transA", 0) != 0 {
		return false
	}
	w := g.consts[gemm.inputs[1]]
	if w == nil || w.DType != onnx.Float || len(w.Shape) != 2 {
		return false
	}
	transB := gemm.src.AttrInt("transB", 0) != 0
	k, n := w.Shape[0], w.Shape[1]
	if transB {
		n, k = k, n
	}
	if n != len(s) {
		return false
	}
	alpha, beta := gemm.src.AttrFloat("alpha", 1), gemm.src.AttrFloat("beta", 1)
	var c []float32
	if len(gemm.inputs) > 2 && gemm.inputs[2] != "" {
		ct := g.consts[gemm.inputs[2]]
		if ct == nil || ct.DType != onnx.Float || (ct.Len() != n && ct.Len() != 1) {
			return false
		}
		c = F32(ct)
	}
	nw := w.Clone()
	nw.konst = true
	wv := F32(nw)
	for kk := range k {
		for j := range n {
			if transB {
				wv[j*k+kk] *= s[j] * alpha
			} else {
				wv[kk*n+j] *= s[j] * alpha
			}
		}
	}
	nb := NewTensor(onnx.Float, n)
	nb.konst = true
	bv := F32(nb)
	for j := range n {
		var bias float32
		switch len(c) {
		case 1:
			bias = c[0]
		case n:
			bias = c[j]
		}
		bv[j] = beta*bias*s[j] + shift[j]
	}
	wName, bName := gemm.outputs[0]+"::folded_W", gemm.outputs[0]+"::folded_B"
	g.consts[wName], g.consts[bName] = nw, nb
	gemm.inputs = []string{gemm.inputs[0], wName, bName}
	// alpha and beta are now inside the weights and bias.
	gemm.src = cloneWithAttrs(gemm.src, onnx.Attr{Name: "alpha", Type: onnx.AttrFloat, Float: 1}, onnx.Attr{Name: "beta", Type: onnx.AttrFloat, Float: 1})
	return true
}

func cloneWithAttrs(n *onnx.Node, attrs ...onnx.Attr) *onnx.Node {
	c := n.Clone()
	for _, a := range attrs {
		c.SetAttr(a)
	}
	return c
}

// foldInputScale folds a scalar Mul or Div on the input of a Conv, Gemm or MatMul with constant
// weights into those weights: conv(x/16, W) = conv(x, W/16), exactly for zero padding too. The
// input normalisation exporters put in front of the first layer then costs nothing.
func (g *graph) foldInputScale() {
	uses := g.consumers()
	dead := map[*gnode]bool{}
	for _, c := range g.nodes {
		if (c.op != "Conv" && c.op != "Gemm" && c.op != "MatMul") || len(c.inputs) < 2 {
			continue
		}
		if c.op == "Gemm" && c.src.AttrInt("transA", 0) != 0 {
			continue
		}
		w := g.consts[c.inputs[1]]
		if w == nil || w.DType != onnx.Float {
			continue
		}
		var scaler *gnode
		for _, n := range g.nodes {
			if len(n.outputs) > 0 && n.outputs[0] == c.inputs[0] {
				scaler = n
			}
		}
		if scaler == nil || dead[scaler] || (scaler.op != "Mul" && scaler.op != "Div") || len(scaler.inputs) != 2 || uses[c.inputs[0]] != 1 {
			continue
		}
		k := g.consts[scaler.inputs[1]]
		if k == nil || k.DType != onnx.Float || k.Len() != 1 || g.consts[scaler.inputs[0]] != nil {
			continue
		}
		factor := F32(k)[0]
		if scaler.op == "Div" {
			if factor == 0 {
				continue
			}
			factor = 1 / factor
		}
		nw := w.Clone()
		nw.konst = true
		for i, v := range F32(nw) {
			F32(nw)[i] = v * factor
		}
		name := c.outputs[0] + "::scaled_W"
		g.consts[name] = nw
		c.inputs[0], c.inputs[1] = scaler.inputs[0], name
		c.fused = append(c.fused, scaler.label())
		dead[scaler] = true
	}
	g.remove(dead)
}

// fuseActivations moves a Relu, Clip (constant bounds) or LeakyRelu into the epilogue of the
// Conv, Gemm or MatMul that is its only input.
func (g *graph) fuseActivations() {
	uses := g.consumers()
	prod := g.producers()
	dead := map[*gnode]bool{}
	for _, a := range g.nodes {
		if len(a.inputs) == 0 {
			continue
		}
		p := prod[a.inputs[0]]
		if p == nil || dead[p] || uses[a.inputs[0]] != 1 || p.act.Kind != kernels.ActNone {
			continue
		}
		if p.op != "Conv" && p.op != "Gemm" && p.op != "MatMul" {
			continue
		}
		act, ok := g.activationOf(a)
		if !ok {
			continue
		}
		p.act = act
		p.outputs[0] = a.outputs[0]
		p.fused = append(p.fused, a.label())
		dead[a] = true
	}
	g.remove(dead)
}

func (g *graph) activationOf(n *gnode) (kernels.Activation, bool) {
	switch n.op {
	case "Relu":
		return kernels.Activation{Kind: kernels.ActRelu}, true
	case "LeakyRelu":
		return kernels.Activation{Kind: kernels.ActLeakyRelu, Alpha: n.src.AttrFloat("alpha", 0.01)}, true
	case "Clip":
		lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
		if g.opset < 11 {
			lo, hi = n.src.AttrFloat("min", lo), n.src.AttrFloat("max", hi)
		} else {
			for i, dst := range []*float32{&lo, &hi} {
				if len(n.inputs) <= i+1 || n.inputs[i+1] == "" {
					continue
				}
				t := g.consts[n.inputs[i+1]]
				if t == nil || t.DType != onnx.Float || t.Len() != 1 {
					return kernels.Activation{}, false
				}
				*dst = F32(t)[0]
			}
		}
		return kernels.Activation{Kind: kernels.ActClip, Min: lo, Max: hi}, true
	}
	return kernels.Activation{}, false
}
