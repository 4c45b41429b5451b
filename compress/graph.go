package compress

import (
	"fmt"
	"slices"

	"github.com/tinymlaas/tinyml/internal/onnx"
)

// Graph editing helpers. Models here are small (hundreds of nodes), so lookups scan the graph
// instead of keeping indexes that every edit would have to maintain.

func (r *run) init(name string) *onnx.Tensor {
	if name == "" {
		return nil
	}
	return r.g.Initializer(name)
}

// constInit is an initializer the graph's caller cannot override (IR < 4 lists initializers as
// inputs too; those are defaults, not constants).
func (r *run) constInit(name string) *onnx.Tensor {
	t := r.init(name)
	if t == nil || r.isInput(name) {
		return nil
	}
	return t
}

// floatInit returns a constant float32 initializer and its values.
func (r *run) floatInit(name string) (*onnx.Tensor, []float32) {
	t := r.constInit(name)
	if t == nil || t.DType != onnx.Float {
		return nil, nil
	}
	v, err := onnx.Values[float32](t)
	if err != nil {
		return nil, nil
	}
	return t, v
}

func (r *run) isInput(name string) bool {
	return slices.ContainsFunc(r.g.Inputs, func(v onnx.ValueInfo) bool { return v.Name == name })
}

func (r *run) isOutput(name string) bool {
	return slices.ContainsFunc(r.g.Outputs, func(v onnx.ValueInfo) bool { return v.Name == name })
}

// consumers lists the nodes reading a value.
func (r *run) consumers(name string) []*onnx.Node {
	var out []*onnx.Node
	for _, n := range r.g.Nodes {
		if slices.Contains(n.Inputs, name) {
			out = append(out, n)
		}
	}
	return out
}

// uses counts the reads of a value: node inputs (each occurrence), graph outputs, and subgraphs.
func (r *run) uses(name string) int {
	c := 0
	for _, n := range r.g.Nodes {
		for _, in := range n.Inputs {
			if in == name {
				c++
			}
		}
		if readsInSubgraph(n, name) {
			c++
		}
	}
	if r.isOutput(name) {
		c++
	}
	return c
}

// exclusive: the value is read exactly once, by an input of a node (not a graph output).
func (r *run) exclusive(name string) bool { return r.uses(name) == 1 && !r.isOutput(name) }

func (r *run) producer(name string) *onnx.Node {
	for _, n := range r.g.Nodes {
		if slices.Contains(n.Outputs, name) {
			return n
		}
	}
	return nil
}

// readsInSubgraph reports whether a node's subgraphs read an outer value by name.
func readsInSubgraph(n *onnx.Node, name string) bool {
	for _, a := range n.Attrs {
		subs := a.Graphs
		if a.Graph != nil {
			subs = append(subs, a.Graph)
		}
		for _, g := range subs {
			for _, sn := range g.Nodes {
				if slices.Contains(sn.Inputs, name) || readsInSubgraph(sn, name) {
					return true
				}
			}
		}
	}
	return false
}

func hasSubgraph(n *onnx.Node) bool {
	return slices.ContainsFunc(n.Attrs, func(a onnx.Attr) bool { return a.Graph != nil || len(a.Graphs) > 0 })
}

// renameUses makes every reader of from (node inputs) read to instead.
func (r *run) renameUses(from, to string, except ...*onnx.Node) {
	for _, n := range r.g.Nodes {
		if slices.Contains(except, n) {
			continue
		}
		for i, in := range n.Inputs {
			if in == from {
				n.Inputs[i] = to
			}
		}
	}
}

// names collects every name in use: values, initializers, nodes.
func (r *run) names() map[string]bool {
	set := map[string]bool{}
	for _, v := range slices.Concat(r.g.Inputs, r.g.Outputs, r.g.ValueInfo) {
		set[v.Name] = true
	}
	for _, t := range r.g.Initializers {
		set[t.Name] = true
	}
	for _, n := range r.g.Nodes {
		set[n.Name] = true
		for _, s := range slices.Concat(n.Inputs, n.Outputs) {
			set[s] = true
		}
	}
	return set
}

// unique returns base, or base with a number appended, that no value or node uses yet.
func (r *run) unique(taken map[string]bool, base string) string {
	name := base
	for i := 1; taken[name]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	taken[name] = true
	return name
}

// insertBefore puts nodes just before at (at the end when at is not in the graph).
func (r *run) insertBefore(at *onnx.Node, nodes ...*onnx.Node) {
	i := slices.Index(r.g.Nodes, at)
	if i < 0 {
		r.g.Nodes = append(r.g.Nodes, nodes...)
		return
	}
	r.g.Nodes = slices.Insert(r.g.Nodes, i, nodes...)
}

// insertAfter puts nodes just after at.
func (r *run) insertAfter(at *onnx.Node, nodes ...*onnx.Node) {
	i := slices.Index(r.g.Nodes, at)
	if i < 0 {
		r.g.Nodes = append(r.g.Nodes, nodes...)
		return
	}
	r.g.Nodes = slices.Insert(r.g.Nodes, i+1, nodes...)
}

func (r *run) removeNode(n *onnx.Node) {
	r.g.Nodes = slices.DeleteFunc(r.g.Nodes, func(x *onnx.Node) bool { return x == n })
}

// setInit replaces the initializer of t's name, or adds it.
func (r *run) setInit(t *onnx.Tensor) {
	for i, old := range r.g.Initializers {
		if old.Name == t.Name {
			r.g.Initializers[i] = t
			return
		}
	}
	r.g.Initializers = append(r.g.Initializers, t)
}

func (r *run) removeInit(name string) {
	r.g.Initializers = slices.DeleteFunc(r.g.Initializers, func(t *onnx.Tensor) bool { return t.Name == name })
}

// dropValueInfo forgets what value_info declares about values whose type or shape changed.
func (r *run) dropValueInfo(names ...string) {
	r.g.ValueInfo = slices.DeleteFunc(r.g.ValueInfo, func(v onnx.ValueInfo) bool { return slices.Contains(names, v.Name) })
}

// cleanup removes nodes whose outputs nobody reads, initializers no node reads, and value_info
// of values that no longer exist.
func (r *run) cleanup() {
	live := map[string]bool{}
	for _, o := range r.g.Outputs {
		live[o.Name] = true
	}
	keep := make([]bool, len(r.g.Nodes))
	for i := len(r.g.Nodes) - 1; i >= 0; i-- {
		n := r.g.Nodes[i]
		needed := len(n.Outputs) == 0
		for _, o := range n.Outputs {
			needed = needed || (o != "" && live[o])
		}
		if !needed {
			continue
		}
		keep[i] = true
		for _, in := range n.Inputs {
			live[in] = true
		}
		markSubgraphReads(n, live)
	}
	kept := r.g.Nodes[:0]
	for i, n := range r.g.Nodes {
		if keep[i] {
			kept = append(kept, n)
		}
	}
	clear(r.g.Nodes[len(kept):])
	r.g.Nodes = kept
	r.g.Initializers = slices.DeleteFunc(r.g.Initializers, func(t *onnx.Tensor) bool {
		return !live[t.Name] && !r.isInput(t.Name)
	})
	defined := map[string]bool{}
	for _, n := range r.g.Nodes {
		for _, o := range n.Outputs {
			defined[o] = true
		}
	}
	r.g.ValueInfo = slices.DeleteFunc(r.g.ValueInfo, func(v onnx.ValueInfo) bool { return !defined[v.Name] && !live[v.Name] })
}

func markSubgraphReads(n *onnx.Node, live map[string]bool) {
	for _, a := range n.Attrs {
		subs := a.Graphs
		if a.Graph != nil {
			subs = append(subs, a.Graph)
		}
		for _, g := range subs {
			for _, sn := range g.Nodes {
				for _, in := range sn.Inputs {
					live[in] = true
				}
				markSubgraphReads(sn, live)
			}
		}
	}
}

// layer is a Conv, Gemm or MatMul whose weights are a constant float32 initializer that only it
// reads: what the weight techniques change.
type layer struct {
	node *onnx.Node
	w    string // weight initializer
	dims []int64
	// axis is the output-channel axis of w as stored: 0 for Conv and Gemm with transB=1, 1 for
	// Gemm with transB=0 and MatMul.
	axis int
	bias string // float32 bias initializer (Conv input 2, 1-D Gemm C) only this layer reads, or ""
}

// channels is the number of output channels (units).
func (l layer) channels() int { return int(l.dims[l.axis]) }

// perChannel is the number of weights per output channel.
func (l layer) perChannel() int {
	n := 1
	for _, d := range l.dims {
		n *= int(d)
	}
	return n / l.channels()
}

// channelOf maps a flat weight index to its output channel.
func (l layer) channelOf(i int) int {
	if l.axis == 0 {
		return i / l.perChannel()
	}
	return i % int(l.dims[1])
}

// inputOf maps a flat weight index to its position within its channel's weights.
func (l layer) inputOf(i int) int {
	if l.axis == 0 {
		return i % l.perChannel()
	}
	return i / int(l.dims[1])
}

// layers lists the weight layers in graph order.
func (r *run) layers() []layer {
	var out []layer
	for _, n := range r.g.Nodes {
		if n.Domain != "" || len(n.Inputs) < 2 {
			continue
		}
		w, _ := r.floatInit(n.Inputs[1])
		if w == nil || !r.exclusive(w.Name) || r.init(n.Inputs[0]) != nil {
			continue
		}
		l := layer{node: n, w: w.Name, dims: w.Dims}
		switch n.OpType {
		case "Conv":
			if len(w.Dims) < 3 {
				continue
			}
		case "Gemm":
			if len(w.Dims) != 2 {
				continue
			}
			if n.AttrInt("transB", 0) == 0 {
				l.axis = 1
			}
		case "MatMul":
			if len(w.Dims) != 2 {
				continue
			}
			l.axis = 1
		default:
			continue
		}
		if l.channels() == 0 || l.perChannel() == 0 {
			continue
		}
		if len(n.Inputs) > 2 && n.Inputs[2] != "" && n.OpType != "MatMul" {
			if b, _ := r.floatInit(n.Inputs[2]); b != nil && len(b.Dims) == 1 && int(b.Dims[0]) == l.channels() && r.exclusive(b.Name) {
				l.bias = b.Name
			}
		}
		out = append(out, l)
	}
	return out
}

// weightOps are the operators whose constant input 1 is a layer's weights.
func isWeightOp(op string) bool { return op == "Conv" || op == "Gemm" || op == "MatMul" }

func attrInt(name string, v int64) onnx.Attr {
	return onnx.Attr{Name: name, Type: onnx.AttrInt, Int: v}
}

func attrInts(name string, v []int64) onnx.Attr {
	return onnx.Attr{Name: name, Type: onnx.AttrInts, Ints: v}
}
