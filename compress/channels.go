package compress

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"

	"github.com/tinymlaas/tinyml/internal/onnx"
)

// Structured pruning: remove whole output channels of a Conv (or units of a Gemm/MatMul) and the
// matching inputs of whatever reads them, so every tensor on the way gets smaller.

// slice is one constant to cut along an axis: keep the given channels, each block entries long
// along that axis (a Flatten turns one channel of C×H×W into H·W consecutive columns).
type slice struct {
	tensor string
	axis   int
	block  int
}

// channelPlan is what removing channels of one layer touches.
type channelPlan struct {
	slices []slice
	groups []*onnx.Node // depthwise Convs whose group attribute is the channel count
	values []string     // values whose channel count changes (their value_info goes)
	refit  []*onnx.Node // the layers that read the channels: refitted after the cut
}

// passThrough ops keep the channel layout of their first input.
var passThrough = map[string]bool{
	"Relu": true, "LeakyRelu": true, "Sigmoid": true, "Tanh": true, "Elu": true, "Selu": true,
	"Softplus": true, "Softsign": true, "HardSigmoid": true, "HardSwish": true, "Clip": true,
	"Dropout": true, "Identity": true, "MaxPool": true, "AveragePool": true, "LpPool": true,
	"GlobalAveragePool": true, "GlobalMaxPool": true, "GlobalLpPool": true, "Neg": true, "Abs": true,
	"Exp": true, "Log": true, "Sqrt": true, "Erf": true, "Gelu": true, "Mish": true, "ThresholdedRelu": true,
}

// planChannels follows the layer's output to every reader and says how to rewire them, or why it
// cannot be done.
func (r *run) planChannels(l layer) (*channelPlan, string) {
	n := l.node
	if n.OpType == "Conv" && n.AttrInt("group", 1) != 1 {
		return nil, "a grouped (depthwise) Conv: its channels follow its input's"
	}
	if n.OpType == "Gemm" && n.AttrInt("transA", 0) != 0 {
		return nil, "a Gemm with transA=1"
	}
	m := l.channels()
	plan := &channelPlan{slices: []slice{{tensor: l.w, axis: l.axis, block: 1}}}
	if len(n.Inputs) > 2 && n.Inputs[2] != "" && n.OpType != "MatMul" {
		switch t := r.constInit(n.Inputs[2]); {
		case l.bias != "":
			plan.slices = append(plan.slices, slice{tensor: l.bias, axis: 0, block: 1})
		case t != nil && t.NumElems() == 1:
		default:
			return nil, "its bias is not a float32 constant with one value per channel that only it reads"
		}
	}
	type item struct {
		value  string
		flat   bool // went through a Flatten: channels are blocks of columns
		matrix bool // [N, channels] already
	}
	queue := []item{{value: n.Outputs[0], matrix: n.OpType != "Conv"}}
	visited := map[string]bool{}
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		if visited[it.value] {
			continue
		}
		visited[it.value] = true
		plan.values = append(plan.values, it.value)
		if r.isOutput(it.value) {
			return nil, fmt.Sprintf("its channels reach the model's output %q", it.value)
		}
		for _, c := range r.g.Nodes {
			if readsInSubgraph(c, it.value) {
				return nil, fmt.Sprintf("its channels reach a subgraph of %s", c.Label())
			}
			pos := slices.Index(c.Inputs, it.value)
			if pos < 0 {
				continue
			}
			if slices.Index(c.Inputs[pos+1:], it.value) >= 0 || c.Domain != "" {
				return nil, fmt.Sprintf("its channels reach %s %s, which cannot be rewired", c.OpType, c.Label())
			}
			next := item{value: "", flat: it.flat, matrix: it.matrix}
			if len(c.Outputs) > 0 {
				next.value = c.Outputs[0]
			}
			switch op := c.OpType; {
			case passThrough[op] && pos == 0:
				if len(c.Outputs) > 1 && slices.ContainsFunc(c.Outputs[1:], func(s string) bool { return s != "" && r.uses(s) > 0 }) {
					return nil, fmt.Sprintf("its channels reach %s %s, whose second output is read", op, c.Label())
				}
				for _, extra := range c.Inputs[1:] {
					if extra != "" && (r.constInit(extra) == nil || r.constInit(extra).NumElems() != 1) {
						return nil, fmt.Sprintf("its channels reach %s %s with a per-channel operand", op, c.Label())
					}
				}
				queue = append(queue, next)
			case op == "Add" || op == "Sub" || op == "Mul" || op == "Div":
				other := c.Inputs[1-pos]
				if t := r.constInit(other); t == nil || t.NumElems() != 1 {
					return nil, fmt.Sprintf("its channels reach %s %s (a residual connection or a per-channel operand)", op, c.Label())
				}
				queue = append(queue, next)
			case op == "BatchNormalization" && pos == 0:
				for _, p := range c.Inputs[1:5] {
					t, v := r.floatInit(p)
					if t == nil || len(v) != m || !r.exclusive(p) {
						return nil, fmt.Sprintf("BatchNormalization %s has parameters it shares or that are not constants", c.Label())
					}
					plan.slices = append(plan.slices, slice{tensor: p, axis: 0, block: 1})
				}
				queue = append(queue, next)
			case op == "Flatten" && pos == 0:
				if c.AttrInt("axis", 1) != 1 {
					return nil, fmt.Sprintf("its channels reach Flatten %s with axis ≠ 1", c.Label())
				}
				next.flat = true
				queue = append(queue, next)
			case op == "Conv" && pos == 0:
				w, _ := r.floatInit(c.Inputs[1])
				if w == nil || !r.exclusive(w.Name) || it.flat || it.matrix {
					return nil, fmt.Sprintf("Conv %s has weights it shares or that are not constants", c.Label())
				}
				g := c.AttrInt("group", 1)
				switch {
				case g == 1:
					plan.slices = append(plan.slices, slice{tensor: w.Name, axis: 1, block: 1})
					plan.refit = append(plan.refit, c)
				case g == int64(m) && w.Dims[0] == int64(m) && w.Dims[1] == 1:
					// Depthwise: its channel c reads only input channel c; it passes the cut on.
					plan.slices = append(plan.slices, slice{tensor: w.Name, axis: 0, block: 1})
					if len(c.Inputs) > 2 && c.Inputs[2] != "" {
						if b, _ := r.floatInit(c.Inputs[2]); b == nil || !r.exclusive(b.Name) {
							return nil, fmt.Sprintf("depthwise Conv %s has a bias it shares", c.Label())
						}
						plan.slices = append(plan.slices, slice{tensor: c.Inputs[2], axis: 0, block: 1})
					}
					plan.groups = append(plan.groups, c)
					queue = append(queue, next)
				default:
					return nil, fmt.Sprintf("its channels reach the grouped Conv %s", c.Label())
				}
			case (op == "Gemm" || op == "MatMul") && pos == 0:
				if !it.flat && !it.matrix {
					return nil, fmt.Sprintf("its channels reach %s %s without a Flatten", op, c.Label())
				}
				if op == "Gemm" && c.AttrInt("transA", 0) != 0 {
					return nil, fmt.Sprintf("its channels reach Gemm %s with transA=1", c.Label())
				}
				w, _ := r.floatInit(c.Inputs[1])
				if w == nil || len(w.Dims) != 2 || !r.exclusive(w.Name) {
					return nil, fmt.Sprintf("%s %s has weights it shares or that are not constants", op, c.Label())
				}
				axis := 0
				if op == "Gemm" && c.AttrInt("transB", 0) != 0 {
					axis = 1
				}
				k := int(w.Dims[axis])
				if k%m != 0 || (!it.flat && k != m) {
					return nil, fmt.Sprintf("%s %s reads %d inputs, not a whole number per channel", op, c.Label(), k)
				}
				plan.slices = append(plan.slices, slice{tensor: w.Name, axis: axis, block: k / m})
				plan.refit = append(plan.refit, c)
			default:
				return nil, fmt.Sprintf("its channels reach %s %s, which cannot be rewired", op, c.Label())
			}
		}
	}
	return plan, ""
}

// applyPruneChannels removes the output channels of smallest L1 norm from every layer whose
// readers can be rewired, layer by layer in graph order.
func applyPruneChannels(r *run, p params) error {
	ratio := p.get("ratio").Float
	method := p.get("method").Enum
	if method == "auto" {
		method = "l1"
		if r.opts.Calib != nil {
			method = "ls"
		}
	}
	if method == "ls" && r.opts.Calib == nil {
		return &CalibrationError{Technique: r.tech, Param: "method",
			Msg: "method=ls needs a calibration dataset (Options.Calib; tinyml compress --calib FILE); method=l1 does not"}
	}
	var ref *onnx.Model
	if method == "ls" {
		ref = r.m.Clone() // before any cut: the layers after a cut are refitted to their outputs there
	}
	nodes := r.layers()
	if len(nodes) == 0 {
		return r.modelError("", "the model has no Conv, Gemm or MatMul with constant float32 weights: prune-channels removes their output channels")
	}
	removed, prunedLayers := 0, 0
	for _, first := range nodes {
		l, ok := r.layerOf(first.node)
		if !ok {
			continue
		}
		plan, why := r.planChannels(l)
		if why != "" {
			r.note(l.node.Label(), "kept all %d channels: %s", l.channels(), why)
			continue
		}
		m := l.channels()
		drop := min(int(math.Floor(ratio*float64(m))), m-1)
		if drop <= 0 {
			continue
		}
		_, w := r.floatInit(l.w)
		norms := make([]float64, m)
		for i, x := range w {
			norms[l.channelOf(i)] += math.Abs(float64(x))
		}
		order := make([]int, m)
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(norms[b], norms[a]) })
		keep := order[:m-drop]
		slices.Sort(keep)
		for _, s := range plan.slices {
			t := r.init(s.tensor)
			r.setInit(sliceTensor(t, s.axis, s.block, keep))
		}
		for _, g := range plan.groups {
			g.SetAttr(attrInt("group", int64(len(keep))))
		}
		r.dropValueInfo(plan.values...)
		for _, n := range plan.refit {
			if ref == nil {
				break
			}
			if err := r.refitLayer(n, ref); err != nil {
				var ce *CalibrationError
				if errors.As(err, &ce) {
					return err
				}
				r.note(n.Label(), "not refitted: %v", err)
			}
		}
		removed += drop
		prunedLayers++
	}
	if prunedLayers == 0 {
		r.note("", "no layer could lose channels (see the notes above): the model is unchanged")
	} else {
		r.note("", "removed %d channels from %d layers", removed, prunedLayers)
	}
	return nil
}

// layerOf re-reads a node's layer (its weights may have been cut by an earlier layer's pruning).
func (r *run) layerOf(n *onnx.Node) (layer, bool) {
	for _, l := range r.layers() {
		if l.node == n {
			return l, true
		}
	}
	return layer{}, false
}

// sliceTensor keeps blocks keep[i]·block … +block along axis.
func sliceTensor(t *onnx.Tensor, axis, block int, keep []int) *onnx.Tensor {
	size := t.DType.Size()
	dims := slices.Clone(t.Dims)
	outer, inner := 1, size
	for i, d := range dims {
		if i < axis {
			outer *= int(d)
		} else if i > axis {
			inner *= int(d)
		}
	}
	full := int(dims[axis])
	dims[axis] = int64(len(keep) * block)
	out := make([]byte, 0, outer*len(keep)*block*inner)
	for o := range outer {
		base := o * full * inner
		for _, k := range keep {
			lo := base + k*block*inner
			out = append(out, t.Raw[lo:lo+block*inner]...)
		}
	}
	return &onnx.Tensor{Name: t.Name, DType: t.DType, Dims: dims, Raw: out, Doc: t.Doc}
}

// refitLayer refits a layer whose inputs lost channels: its weights and bias become the least-
// squares fit, on the calibration samples, of its outputs in ref (the model before any cut) from
// the inputs it now gets (He et al., 2017: channel pruning with reconstruction).
func (r *run) refitLayer(n *onnx.Node, ref *onnx.Model) error {
	l, ok := r.layerOf(n)
	if !ok {
		return fmt.Errorf("its weights are not a float32 constant it alone reads")
	}
	wref := ref.Graph.Initializer(l.w)
	if wref == nil || wref.DType != onnx.Float {
		return fmt.Errorf("no reference weights")
	}
	wrefv, err := onnx.Values[float32](wref)
	if err != nil {
		return err
	}
	lref := layer{node: n, w: l.w, dims: wref.Dims, axis: l.axis}
	hs, err := r.hessians([]layer{l}, hessianSamples, ref)
	if err != nil {
		return err
	}
	h := hs[n]
	rows, k, kr := l.channels(), l.perChannel(), lref.perChannel()
	if h == nil || len(h.groups) != 1 || h.cross == nil || h.k != k || h.kRef != kr || lref.channels() != rows {
		return fmt.Errorf("input statistics do not match the layer")
	}
	bias := l.bias
	if bias == "" && len(n.Inputs) < 3 && n.OpType != "MatMul" {
		bias = r.unique(r.names(), l.w+"_bias")
		r.g.Initializers = append(r.g.Initializers, onnx.FromSlice(bias, []int64{int64(rows)}, make([]float32, rows)))
		n.Inputs = append(n.Inputs, bias)
	}
	var bref []float32
	if bias != "" {
		bref = make([]float32, rows)
		if t := ref.Graph.Initializer(bias); t != nil {
			if v, err := onnx.Values[float32](t); err == nil && len(v) == rows {
				bref = v
			}
		}
	}
	wr := rowsOf(lref, wrefv)
	fit, err := lsFit(wr, bref, rows, k, kr, h.groups[0], h.cross[0])
	if err != nil {
		return err
	}
	w := make([]float32, rows*k)
	for i := range rows {
		for j := range k {
			w[i*k+j] = float32(fit[i*(k+1)+j])
		}
	}
	if l.axis == 1 { // stored [K, N]
		t := make([]float32, len(w))
		kk, nn := int(l.dims[0]), int(l.dims[1])
		for i := range kk {
			for j := range nn {
				t[i*nn+j] = w[j*kk+i]
			}
		}
		w = t
	}
	r.setInit(onnx.FromSlice(l.w, l.dims, w))
	if bias != "" {
		b := make([]float32, rows)
		for i := range rows {
			b[i] = float32(fit[i*(k+1)+k])
		}
		t := r.init(bias)
		r.setInit(onnx.FromSlice(bias, t.Dims, b))
	}
	return nil
}

// lsFit returns (rows × (k+1), the last column the bias) W·C·H⁻¹: the least-squares fit of the
// reference outputs W·x_ref (W rows × kr with bias b) from the inputs x, given H = Σ x̃x̃ᵀ
// ((k+1)², dampened by 1% of its mean diagonal) and C = Σ x̃_ref x̃ᵀ ((kr+1)×(k+1)). Without a
// bias (b nil) the constant input is left out.
func lsFit(w []float32, b []float32, rows, k, kr int, h blas64.Symmetric, cross blas64.General) ([]float64, error) {
	n, nr := k+1, kr+1
	if b == nil {
		n, nr = k, kr
	}
	hd := mat.NewSymDense(n, nil)
	var mean float64
	for i := range n {
		mean += h.Data[i*h.Stride+i]
	}
	mean /= float64(n)
	if mean <= 0 {
		return nil, fmt.Errorf("the layer's inputs were all zero")
	}
	for i := range n {
		for j := i; j < n; j++ {
			hd.SetSym(i, j, h.Data[i*h.Stride+j])
		}
		if hd.At(i, i) == 0 {
			hd.SetSym(i, i, 1)
		}
		hd.SetSym(i, i, hd.At(i, i)+0.01*mean)
	}
	var ch mat.Cholesky
	if !ch.Factorize(hd) {
		return nil, fmt.Errorf("the input statistics are not positive definite")
	}
	wm := mat.NewDense(rows, nr, nil)
	for i := range rows {
		for j := range kr {
			wm.Set(i, j, float64(w[i*kr+j]))
		}
		if b != nil {
			wm.Set(i, kr, float64(b[i]))
		}
	}
	c := mat.NewDense(nr, n, nil)
	for i := range nr {
		for j := range n {
			c.Set(i, j, cross.Data[i*cross.Stride+j])
		}
	}
	var wc mat.Dense
	wc.Mul(wm, c) // rows × n
	// fit·H = W·C, so H·fitᵀ = (W·C)ᵀ.
	var fitT mat.Dense
	if err := ch.SolveTo(&fitT, wc.T()); err != nil {
		return nil, err
	}
	out := make([]float64, rows*(k+1))
	for i := range rows {
		for j := range n {
			out[i*(k+1)+j] = fitT.At(j, i)
		}
	}
	return out, nil
}
