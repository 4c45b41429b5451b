package engine

import (
	"math"
	"slices"
	"sort"

	"github.com/tinymlaas/tinyml/internal/kernels"
	"github.com/tinymlaas/tinyml/internal/onnx"
)

// fuseQDQ recognises quantized (QDQ) patterns and replaces them with fused integer operators,
// so that a model quantized the way onnxruntime's quantizer (and compress's int8-static) writes
// it runs with int8 × uint8 kernels and int32 accumulation instead of dequantizing to float:
//
//   - DequantizeLinear(x) and DequantizeLinear(int8 weights, per tensor or per output channel,
//     zero point 0) into Conv, Gemm or MatMul, with an optional int32 bias behind a
//     DequantizeLinear of scale x_scale·w_scale, an optional Relu or Clip, and an optional
//     QuantizeLinear of the output: a QConv or QGemm (operators of the engine only), whose
//     output is uint8/int8 with the QuantizeLinear's scale and zero point (the activation is a
//     clamp in the quantized domain), or float32 without one. The weights stay int8.
//   - QLinearConv and QLinearMatMul with constant weights and quantization parameters: the same.
//   - DequantizeLinear → MaxPool, Flatten, Reshape, Transpose, Squeeze, Unsqueeze → QuantizeLinear:
//     the operators run on the integers (they only move or compare values, which dequantization
//     preserves) and the pair becomes a QRequantize (a 256-entry table), or nothing when both
//     have the same parameters. Fused operators then consume each other's integers directly.
//   - DequantizeLinear(a) + DequantizeLinear(b) → Add, optional Relu/Clip, optional
//     QuantizeLinear (residual connections): a QAdd.
//   - DequantizeLinear → GlobalAveragePool → views → QuantizeLinear: a QGlobalAveragePool.
//   - The QuantizeLinear nodes left (a float input's): a QQuantize, vectorised, that also takes
//     in the Add/Sub/Mul/Div by constants in front of it (the input normalisation).
//
// MaxPool on the integers is a QMaxPool (the float operator's kernel takes float32 only).
// QConv and QGemm accumulate exactly and requantize as QLinearConv does (in float64, rounding
// half to even), so they equal the reference QLinearConv/QLinearMatMul bit for bit; against
// the float QDQ graph they differ only where float rounding crosses a quantization step
// boundary (at most one step). QAdd, QGlobalAveragePool, QRequantize and QQuantize compute
// in float32 exactly as the dequantize → float operator → quantize sequence does, and give the
// same integers. Anything else stays as it was and runs in float through the reference
// QuantizeLinear/DequantizeLinear.
func (g *graph) fuseQDQ() {
	if !slices.ContainsFunc(g.nodes, func(n *gnode) bool {
		return n.op == "DequantizeLinear" || n.op == "QLinearConv" || n.op == "QLinearMatMul"
	}) {
		return
	}
	g.foldConstantsKeepingDQ()
	g.fuseQLinear()
	g.fuseQDQLayers()
	g.fuseQDQAdds()
	g.fuseQDQGlobalPools()
	g.fuseQDQChains()
	g.dropDeadQDQ()
	g.fastQuantize()
}

// Operators the engine adds; they are not in the registry (a model cannot name them).
const (
	qconvOp    = "QConv"
	qgemmOp    = "QGemm"
	qaddOp     = "QAdd"
	qgapOp     = "QGlobalAveragePool"
	qrequantOp = "QRequantize"
	qquantOp   = "QQuantize"
	qmaxpoolOp = "QMaxPool"
)

// qspecKey is the gnode.memo entry holding a fused node's *qspec.
const qspecKey = "qdq.spec"

// qparam is a per-tensor quantization: real = (q − zp)·scale. dt is Uint8 or Int8, or Float
// for a value that is not quantized (a fused operator's float output).
type qparam struct {
	scale float32
	zp    int32
	dt    onnx.DType
}

func (q qparam) quantized() bool { return q.dt == onnx.Uint8 || q.dt == onnx.Int8 }

// qspec is what a fused node knows besides its inputs.
type qspec struct {
	in     []qparam  // the quantized inputs: QConv/QGemm x; QAdd a and b; QGlobalAveragePool/QRequantize x
	wScale []float32 // QConv/QGemm: the weights' scale per output channel
	out    qparam
	lo, hi float32          // a fused activation's bounds in the real domain (−Inf, +Inf: none)
	pre    []kernels.QPreOp // QQuantize: element-wise operations with constants before quantizing
}

func specOf(n *gnode) *qspec {
	s, _ := n.memo[qspecKey].(*qspec)
	return s
}

func newFused(n *gnode, op string, s *qspec) {
	n.op = op
	n.memo = map[string]any{qspecKey: s}
}

// foldConstantsKeepingDQ folds constant subgraphs (the Mul of two scales that gives a bias its
// scale, Constant nodes) while leaving every DequantizeLinear as it is: folding one of int8
// weights would widen them to float32 before the fusion can keep them.
func (g *graph) foldConstantsKeepingDQ() {
	order := make(map[*gnode]int, len(g.nodes))
	var held, rest []*gnode
	for i, n := range g.nodes {
		order[n] = i
		if n.op == "DequantizeLinear" {
			held = append(held, n)
		} else {
			rest = append(rest, n)
		}
	}
	g.nodes = rest
	g.foldConstants()
	g.nodes = append(g.nodes, held...)
	sort.SliceStable(g.nodes, func(i, j int) bool { return order[g.nodes[i]] < order[g.nodes[j]] })
}

// qctx holds the graph's use counts and producers during one rewriting pass.
type qctx struct {
	g    *graph
	uses map[string]int
	prod map[string]*gnode
	dead map[*gnode]bool
}

func (g *graph) qctx() *qctx {
	return &qctx{g: g, uses: g.consumers(), prod: g.producers(), dead: map[*gnode]bool{}}
}

func (c *qctx) done() { c.g.remove(c.dead) }

// sole returns the only node reading name, when it has exactly one reader and is not a graph
// output.
func (c *qctx) sole(name string) *gnode {
	if name == "" || c.uses[name] != 1 || c.g.isOutput(name) {
		return nil
	}
	for _, n := range c.g.nodes {
		if !c.dead[n] && slices.Contains(n.inputs, name) {
			return n
		}
	}
	return nil
}

// scalarF32 reads a constant float32 scalar (or one-element tensor).
func (g *graph) scalarF32(name string) (float32, bool) {
	t := g.consts[name]
	if name == "" || t == nil || t.DType != onnx.Float || t.Len() != 1 {
		return 0, false
	}
	return F32(t)[0], true
}

// zeroPoint reads an optional constant 8-bit zero point of one element.
func (g *graph) zeroPoint(name string) (int32, onnx.DType, bool) {
	if name == "" {
		return 0, onnx.Undefined, true
	}
	t := g.consts[name]
	if t == nil || !is8bit(t.DType) || t.Len() != 1 {
		return 0, onnx.Undefined, false
	}
	return int32(loadI64(t, 0)), t.DType, true
}

func inputOr(n *gnode, i int) string {
	if i < len(n.inputs) {
		return n.inputs[i]
	}
	return ""
}

func (g *graph) blocked(n *gnode) bool { return g.opset >= 21 && n.src.AttrInt("block_size", 0) != 0 }

// dqActivation reads a per-tensor DequantizeLinear of a run-time 8-bit value.
func (c *qctx) dqActivation(dq *gnode) (qparam, bool) {
	if dq == nil || dq.op != "DequantizeLinear" || c.g.consts[dq.inputs[0]] != nil || c.g.blocked(dq) {
		return qparam{}, false
	}
	s, ok := c.g.scalarF32(inputOr(dq, 1))
	if !ok || !(s > 0) || math.IsInf(float64(s), 0) {
		return qparam{}, false
	}
	zp, dt, ok := c.g.zeroPoint(inputOr(dq, 2))
	if !ok {
		return qparam{}, false
	}
	if dt == onnx.Undefined {
		if dt, ok = c.quantType(dq.inputs[0]); !ok {
			return qparam{}, false
		}
	}
	return qparam{scale: s, zp: zp, dt: dt}, true
}

// qOutput reads a per-tensor QuantizeLinear to 8 bits.
func (c *qctx) qOutput(q *gnode) (qparam, bool) {
	if q == nil || q.op != "QuantizeLinear" || c.g.blocked(q) || len(q.outputs) != 1 {
		return qparam{}, false
	}
	s, ok := c.g.scalarF32(inputOr(q, 1))
	if !ok || !(s > 0) || math.IsInf(float64(s), 0) {
		return qparam{}, false
	}
	zp, dt, ok := c.g.zeroPoint(inputOr(q, 2))
	if !ok {
		return qparam{}, false
	}
	if dt == onnx.Undefined {
		dt = onnx.Uint8
		if c.g.opset >= 21 {
			if od := onnx.DType(q.src.AttrInt("output_dtype", 0)); od != 0 {
				dt = od
			}
		}
	}
	if !is8bit(dt) {
		return qparam{}, false
	}
	return qparam{scale: s, zp: zp, dt: dt}, true
}

// exactOnQuantized lists the operators that only move or select values: on the integers of a
// per-tensor quantized tensor they give the quantization of their float result.
func exactOnQuantized(n *gnode) bool {
	switch n.op {
	case "Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Identity":
		return len(n.outputs) == 1
	case "MaxPool":
		return len(n.outputs) == 1 || n.outputs[1] == ""
	}
	return false
}

// quantType is the element type of a run-time value when it is known to be 8-bit.
func (c *qctx) quantType(name string) (onnx.DType, bool) {
	for range 64 {
		if t := c.g.consts[name]; t != nil {
			return t.DType, is8bit(t.DType)
		}
		p := c.prod[name]
		if p == nil {
			for _, in := range c.g.inputs {
				if in.Name == name {
					return in.DType, is8bit(in.DType)
				}
			}
			return onnx.Undefined, false
		}
		switch {
		case p.op == "QuantizeLinear":
			q, ok := c.qOutput(p)
			return q.dt, ok
		case specOf(p) != nil:
			s := specOf(p)
			return s.out.dt, s.out.quantized()
		case exactOnQuantized(p) && p.outputs[0] == name:
			name = p.inputs[0]
		default:
			return onnx.Undefined, false
		}
	}
	return onnx.Undefined, false
}

// activationBounds reads a Relu or a Clip with constant bounds as a clamp.
func (g *graph) activationBounds(n *gnode) (lo, hi float32, ok bool) {
	if n == nil || (n.op != "Relu" && n.op != "Clip") {
		return 0, 0, false
	}
	act, ok := g.activationOf(n)
	if !ok {
		return 0, 0, false
	}
	switch act.Kind {
	case kernels.ActRelu:
		return 0, float32(math.Inf(1)), true
	case kernels.ActClip:
		return act.Min, act.Max, act.Min <= act.Max
	}
	return 0, 0, false
}

// tail follows a value to an optional Relu/Clip and an optional QuantizeLinear that alone read
// it; it returns the output name the fused node takes over, the nodes it absorbs, the clamp and
// the output's quantization (Float when the value stays float).
func (c *qctx) tail(out string) (name string, absorbed []*gnode, lo, hi float32, q qparam) {
	name, lo, hi, q = out, float32(math.Inf(-1)), float32(math.Inf(1)), qparam{dt: onnx.Float, scale: 1}
	next := c.sole(name)
	if next != nil && next.inputs[0] == name {
		if l, h, ok := c.g.activationBounds(next); ok {
			lo, hi = l, h
			absorbed = append(absorbed, next)
			name = next.outputs[0]
			next = c.sole(name)
		}
	}
	if next != nil && next.inputs[0] == name {
		if qp, ok := c.qOutput(next); ok {
			absorbed = append(absorbed, next)
			name, q = next.outputs[0], qp
		}
	}
	return name, absorbed, lo, hi, q
}

// weightScales reads the per-channel (or per-tensor) scales of int8 weights with zero point 0
// behind a DequantizeLinear; axis is the output-channel axis of the weights, m their count.
func (c *qctx) weightScales(dq *gnode, axis, m int) ([]float32, bool) {
	if dq == nil || dq.op != "DequantizeLinear" || c.g.blocked(dq) {
		return nil, false
	}
	w := c.g.consts[dq.inputs[0]]
	st := c.g.consts[inputOr(dq, 1)]
	if w == nil || w.DType != onnx.Int8 || st == nil || st.DType != onnx.Float {
		return nil, false
	}
	if zn := inputOr(dq, 2); zn != "" {
		zt := c.g.consts[zn]
		if zt == nil || zt.DType != onnx.Int8 || slices.ContainsFunc(View[int8](zt), func(v int8) bool { return v != 0 }) {
			return nil, false
		}
	}
	return channelScales(F32(st), dq.src.AttrInt("axis", 1), len(w.Shape), axis, m)
}

// channelScales expands a per-tensor scale, or checks a per-axis one along axis.
func channelScales(s []float32, attrAxis int64, rank, axis, m int) ([]float32, bool) {
	out := make([]float32, m)
	switch {
	case len(s) == 1:
		for i := range out {
			out[i] = s[0]
		}
	case len(s) == m && m > 0:
		if attrAxis < 0 {
			attrAxis += int64(rank)
		}
		if int(attrAxis) != axis {
			return nil, false
		}
		copy(out, s)
	default:
		return nil, false
	}
	for _, v := range out {
		if !(v > 0) || math.IsInf(float64(v), 0) {
			return nil, false
		}
	}
	return out, true
}

// quantizedBias reads an int32 bias behind a DequantizeLinear whose scale is x_scale·w_scale
// (what QLinearConv adds to its accumulators).
func (c *qctx) quantizedBias(name string, xs float32, ws []float32) (string, bool) {
	dq := c.prod[name]
	if dq == nil || dq.op != "DequantizeLinear" || c.g.blocked(dq) {
		return "", false
	}
	bt := c.g.consts[dq.inputs[0]]
	st := c.g.consts[inputOr(dq, 1)]
	if bt == nil || bt.DType != onnx.Int32 || bt.Len() != len(ws) || st == nil || st.DType != onnx.Float {
		return "", false
	}
	if zn := inputOr(dq, 2); zn != "" {
		zt := c.g.consts[zn]
		if zt == nil || zt.DType != onnx.Int32 || slices.ContainsFunc(View[int32](zt), func(v int32) bool { return v != 0 }) {
			return "", false
		}
	}
	s := F32(st)
	for i, w := range ws {
		si := s[0]
		if len(s) > 1 {
			if len(s) != len(ws) {
				return "", false
			}
			si = s[i]
		}
		if si != xs*w {
			return "", false
		}
	}
	return dq.inputs[0], true
}

// fuseQDQLayers fuses DequantizeLinear → Conv/Gemm/MatMul → [Relu/Clip] → [QuantizeLinear].
func (g *graph) fuseQDQLayers() {
	c := g.qctx()
	for _, n := range g.nodes {
		if c.dead[n] || (n.op != "Conv" && n.op != "Gemm" && n.op != "MatMul") || len(n.inputs) < 2 {
			continue
		}
		xp, ok := c.dqActivation(c.prod[n.inputs[0]])
		if !ok {
			continue
		}
		dqw := c.prod[n.inputs[1]]
		if dqw == nil || dqw.op != "DequantizeLinear" {
			continue
		}
		w := g.consts[dqw.inputs[0]]
		if w == nil {
			continue
		}
		var (
			ws     []float32
			wName  = dqw.inputs[0]
			bias   string
			biasIn = ""
			op     = qconvOp
		)
		switch n.op {
		case "Conv":
			if len(w.Shape) != 3 && len(w.Shape) != 4 {
				continue
			}
			if ws, ok = c.weightScales(dqw, 0, w.Shape[0]); !ok {
				continue
			}
			biasIn = inputOr(n, 2)
		case "Gemm":
			if len(w.Shape) != 2 || n.src.AttrInt("transA", 0) != 0 || n.src.AttrFloat("alpha", 1) != 1 {
				continue
			}
			transB := n.src.AttrInt("transB", 0) != 0
			axis, m := 1, w.Shape[1]
			if transB {
				axis, m = 0, w.Shape[0]
			}
			if ws, ok = c.weightScales(dqw, axis, m); !ok {
				continue
			}
			if biasIn = inputOr(n, 2); biasIn != "" && n.src.AttrFloat("beta", 1) != 1 {
				continue
			}
			if !transB {
				wName = g.transposedWeights(n, w)
			}
			op = qgemmOp
		case "MatMul":
			if len(w.Shape) != 2 {
				continue
			}
			if ws, ok = c.weightScales(dqw, 1, w.Shape[1]); !ok {
				continue
			}
			wName = g.transposedWeights(n, w)
			op = qgemmOp
		}
		if biasIn != "" {
			if bias, ok = c.quantizedBias(biasIn, xp.scale, ws); !ok {
				continue
			}
		}
		out, absorbed, lo, hi, q := c.tail(n.outputs[0])
		xq := c.prod[n.inputs[0]].inputs[0]
		spec := &qspec{in: []qparam{xp}, wScale: ws, out: q, lo: lo, hi: hi}
		for _, d := range []*gnode{c.prod[n.inputs[0]], dqw, c.prod[biasIn]} {
			if d != nil {
				n.fused = append(n.fused, d.label())
			}
		}
		for _, a := range absorbed {
			n.fused = append(n.fused, a.label())
			c.dead[a] = true
		}
		n.inputs = []string{xq, wName}
		if bias != "" {
			n.inputs = append(n.inputs, bias)
		}
		n.outputs = []string{out}
		newFused(n, op, spec)
	}
	c.done()
}

// transposedWeights stores the transpose of 2-D int8 weights (k×n) as n×k, one row per output
// channel, under a name of the node's.
func (g *graph) transposedWeights(n *gnode, w *Tensor) string {
	k, m := w.Shape[0], w.Shape[1]
	t := NewTensor(onnx.Int8, m, k)
	t.konst = true
	src, dst := View[int8](w), View[int8](t)
	for i := range k {
		for j := range m {
			dst[j*k+i] = src[i*m+j]
		}
	}
	name := n.outputs[0] + "::qW"
	g.consts[name] = t
	return name
}

// fuseQLinear turns QLinearConv and QLinearMatMul nodes with constant weights and
// quantization parameters into QConv and QGemm: the same computation, with the fast kernels.
// Weights that are not int8 with zero point 0 are rewritten as such when w − w_zero_point fits
// in int8; otherwise the node stays with the reference implementation.
func (g *graph) fuseQLinear() {
	for _, n := range g.nodes {
		if (n.op != "QLinearConv" && n.op != "QLinearMatMul") || len(n.inputs) < 8 || g.consts[n.inputs[0]] != nil {
			continue
		}
		xs, ok1 := g.scalarF32(n.inputs[1])
		xz, xdt, ok2 := g.zeroPoint(n.inputs[2])
		ys, ok3 := g.scalarF32(n.inputs[6])
		yz, ydt, ok4 := g.zeroPoint(n.inputs[7])
		w, wst, wzt := g.consts[n.inputs[3]], g.consts[n.inputs[4]], g.consts[n.inputs[5]]
		if !ok1 || !ok2 || !ok3 || !ok4 || xdt == onnx.Undefined || ydt == onnx.Undefined || !(xs > 0) || !(ys > 0) ||
			w == nil || !is8bit(w.DType) || wst == nil || wst.DType != onnx.Float || wzt == nil || wzt.DType != w.DType {
			continue
		}
		var (
			ws   []float32
			axis int
			m    int
			op   = qconvOp
		)
		if n.op == "QLinearConv" {
			if len(w.Shape) != 3 && len(w.Shape) != 4 {
				continue
			}
			axis, m = 0, w.Shape[0]
		} else {
			if len(w.Shape) != 2 {
				continue
			}
			axis, m, op = 1, w.Shape[1], qgemmOp
		}
		ws, ok := channelScales(F32(wst), int64(axis), len(w.Shape), axis, m)
		if !ok || (wzt.Len() != 1 && wzt.Len() != m) {
			continue
		}
		wName, ok := g.int8Weights(n, w, wzt, axis)
		if !ok {
			continue
		}
		bias := ""
		if n.op == "QLinearConv" && len(n.inputs) > 8 && n.inputs[8] != "" {
			bt := g.consts[n.inputs[8]]
			if bt == nil || bt.DType != onnx.Int32 || bt.Len() != m {
				continue
			}
			bias = n.inputs[8]
		}
		if n.op == "QLinearMatMul" {
			wName = g.transposedWeights(n, g.consts[wName])
		}
		n.inputs = []string{n.inputs[0], wName}
		if bias != "" {
			n.inputs = append(n.inputs, bias)
		}
		newFused(n, op, &qspec{in: []qparam{{scale: xs, zp: xz, dt: xdt}}, wScale: ws,
			out: qparam{scale: ys, zp: yz, dt: ydt}, lo: float32(math.Inf(-1)), hi: float32(math.Inf(1))})
	}
}

// int8Weights returns the name of int8 weights with zero point 0 equal to w − zp (zp per
// tensor or per index along axis), or false when some difference does not fit in int8.
func (g *graph) int8Weights(n *gnode, w, zp *Tensor, axis int) (string, bool) {
	if w.DType == onnx.Int8 && !slices.ContainsFunc(View[int8](zp), func(v int8) bool { return v != 0 }) {
		return n.inputs[3], true
	}
	t := NewTensor(onnx.Int8, slices.Clone(w.Shape)...)
	t.konst = true
	inner := numel(w.Shape[axis+1:])
	dim := w.Shape[axis]
	dst := View[int8](t)
	for i := range dst {
		z := loadI64(zp, 0)
		if zp.Len() > 1 {
			z = loadI64(zp, i/inner%dim)
		}
		v := loadI64(w, i) - z
		if v < math.MinInt8 || v > math.MaxInt8 {
			return "", false
		}
		dst[i] = int8(v)
	}
	name := n.outputs[0] + "::qW8"
	g.consts[name] = t
	return name, true
}

// fuseQDQAdds fuses DequantizeLinear(a) + DequantizeLinear(b) → [Relu/Clip] → [QuantizeLinear].
func (g *graph) fuseQDQAdds() {
	c := g.qctx()
	for _, n := range g.nodes {
		if c.dead[n] || n.op != "Add" || len(n.inputs) != 2 {
			continue
		}
		da, db := c.prod[n.inputs[0]], c.prod[n.inputs[1]]
		pa, okA := c.dqActivation(da)
		pb, okB := c.dqActivation(db)
		if !okA || !okB {
			continue
		}
		out, absorbed, lo, hi, q := c.tail(n.outputs[0])
		n.fused = append(n.fused, da.label(), db.label())
		for _, a := range absorbed {
			n.fused = append(n.fused, a.label())
			c.dead[a] = true
		}
		n.inputs = []string{da.inputs[0], db.inputs[0]}
		n.outputs = []string{out}
		newFused(n, qaddOp, &qspec{in: []qparam{pa, pb}, out: q, lo: lo, hi: hi})
	}
	c.done()
}

// viewChain follows name through operators that are exact on quantized values and alone read
// their input, up to a node that is not one; it returns them and the last value.
func (c *qctx) viewChain(name string) ([]*gnode, string, *gnode) {
	var chain []*gnode
	for {
		next := c.sole(name)
		if next == nil || next.inputs[0] != name || !exactOnQuantized(next) {
			return chain, name, next
		}
		chain = append(chain, next)
		name = next.outputs[0]
	}
}

// fuseQDQGlobalPools fuses DequantizeLinear → GlobalAveragePool → views → QuantizeLinear.
func (g *graph) fuseQDQGlobalPools() {
	c := g.qctx()
	for _, n := range g.nodes {
		if c.dead[n] || n.op != "GlobalAveragePool" {
			continue
		}
		dq := c.prod[n.inputs[0]]
		xp, ok := c.dqActivation(dq)
		if !ok {
			continue
		}
		chain, last, next := c.viewChain(n.outputs[0])
		q, ok := c.qOutput(next)
		if !ok || next.inputs[0] != last {
			continue
		}
		n.fused = append(n.fused, dq.label(), next.label())
		n.inputs = []string{dq.inputs[0]}
		newFused(n, qgapOp, &qspec{in: []qparam{xp}, out: q})
		c.takeOutput(n, chain, next)
	}
	c.done()
}

// takeOutput removes the QuantizeLinear q that ends a fused node's chain of views: the chain's
// last node (or the fused node itself) writes q's output.
func (c *qctx) takeOutput(n *gnode, chain []*gnode, q *gnode) {
	last := n
	if len(chain) > 0 {
		last = chain[len(chain)-1]
	}
	last.outputs[0] = q.outputs[0]
	c.dead[q] = true
}

// fuseQDQChains runs DequantizeLinear → views → QuantizeLinear on the integers.
func (g *graph) fuseQDQChains() {
	c := g.qctx()
	for _, dq := range g.nodes {
		if c.dead[dq] || dq.op != "DequantizeLinear" {
			continue
		}
		xp, ok := c.dqActivation(dq)
		if !ok {
			continue
		}
		chain, last, next := c.viewChain(dq.outputs[0])
		q, ok := c.qOutput(next)
		if !ok || next.inputs[0] != last {
			continue
		}
		if len(chain) > 0 {
			chain[0].inputs[0] = dq.inputs[0]
			for _, v := range chain {
				v.fused = append(v.fused, dq.label())
				if v.op == "MaxPool" {
					v.op = qmaxpoolOp // MaxPool of the integers, with its own kernel
				}
			}
		}
		if q == xp {
			if len(chain) == 0 {
				// Q(DQ(x)) with the same parameters is x: read x itself.
				if g.isOutput(next.outputs[0]) {
					continue
				}
				g.rename(next.outputs[0], dq.inputs[0])
				c.dead[next] = true
				continue
			}
			c.takeOutput(chain[0], chain, next)
			continue
		}
		next.inputs = []string{last}
		if len(chain) == 0 {
			next.inputs = []string{dq.inputs[0]}
		}
		next.fused = append(next.fused, dq.label())
		newFused(next, qrequantOp, &qspec{in: []qparam{xp}, out: q})
	}
	c.done()
}

// dropDeadQDQ removes the DequantizeLinear and QuantizeLinear nodes nothing reads any more (the
// weights' and biases' among them), so that constant folding does not widen them to float.
func (g *graph) dropDeadQDQ() {
	for {
		uses := g.consumers()
		dead := map[*gnode]bool{}
		for _, n := range g.nodes {
			if (n.op == "DequantizeLinear" || n.op == "QuantizeLinear") && uses[n.outputs[0]] == 0 {
				dead[n] = true
			}
		}
		if len(dead) == 0 {
			return
		}
		g.remove(dead)
	}
}

// fastQuantize gives the QuantizeLinear nodes left (a float model input's, typically) with a
// constant per-tensor scale and zero point the vector kernel; at plan time it falls back to the
// reference for inputs other than float32. Element-wise Add, Sub, Mul and Div by constant
// scalars that alone feed it (the input normalisation exporters write) run in the same pass,
// with the same float32 operations.
func (g *graph) fastQuantize() {
	c := g.qctx()
	for _, n := range g.nodes {
		q, ok := c.qOutput(n)
		if !ok || len(n.inputs) < 2 {
			continue
		}
		s := &qspec{out: q}
		for {
			p := c.prod[n.inputs[0]]
			if p == nil || c.dead[p] || c.sole(n.inputs[0]) != n {
				break
			}
			op, x, ok := g.preOp(p)
			if !ok {
				break
			}
			s.pre = append([]kernels.QPreOp{op}, s.pre...)
			n.fused = append(n.fused, p.label())
			n.inputs[0] = x
			c.dead[p] = true
		}
		n.op = qquantOp
		if n.memo == nil {
			n.memo = map[string]any{}
		}
		n.memo[qspecKey] = s
	}
	c.done()
}

// preOp reads an Add, Sub, Mul or Div of a run-time value and a constant float32 scalar (of
// rank 0 or 1, so that the result has the value's shape unless it is a scalar itself).
func (g *graph) preOp(n *gnode) (kernels.QPreOp, string, bool) {
	if len(n.inputs) != 2 || len(n.outputs) != 1 {
		return kernels.QPreOp{}, "", false
	}
	constant := func(name string) (float32, bool) {
		t := g.consts[name]
		if t == nil || t.DType != onnx.Float || t.Len() != 1 || len(t.Shape) > 1 {
			return 0, false
		}
		return F32(t)[0], true
	}
	a, b := n.inputs[0], n.inputs[1]
	if cb, ok := constant(b); ok && g.consts[a] == nil {
		switch n.op {
		case "Add":
			return kernels.QPreOp{Kind: kernels.QAddC, C: cb}, a, true
		case "Sub":
			return kernels.QPreOp{Kind: kernels.QSubC, C: cb}, a, true
		case "Mul":
			return kernels.QPreOp{Kind: kernels.QMulC, C: cb}, a, true
		case "Div":
			return kernels.QPreOp{Kind: kernels.QDivC, C: cb}, a, true
		}
	}
	if ca, ok := constant(a); ok && g.consts[b] == nil {
		switch n.op {
		case "Add":
			return kernels.QPreOp{Kind: kernels.QAddC, C: ca}, b, true
		case "Sub":
			return kernels.QPreOp{Kind: kernels.QRSubC, C: ca}, b, true
		case "Mul":
			return kernels.QPreOp{Kind: kernels.QMulC, C: ca}, b, true
		case "Div":
			return kernels.QPreOp{Kind: kernels.QRDivC, C: ca}, b, true
		}
	}
	return kernels.QPreOp{}, "", false
}
