package engine

import (
	"fmt"
	"slices"
	"sort"

	"github.com/tinymlaas/tinyml/internal/onnx"
)

// opDef is an operator's plan-time half: it checks inputs, sets output types and shapes, and
// returns the function that computes the outputs.
type opDef struct {
	minOpset int64
	build    func(b *build) error
}

// registry maps ONNX op types (default domain) to their definitions. Op files add themselves in
// init, like database/sql drivers do.
var registry = map[string]opDef{}

func register(op string, minOpset int64, build func(b *build) error) {
	registry[op] = opDef{minOpset: minOpset, build: build}
}

// build is what an operator sees while it is planned.
type build struct {
	node    *gnode
	opset   int64
	threads int
	in      []*Tensor // nil for omitted optional inputs
	out     []*Tensor // the builder sets DType and Shape of each

	run     func(x *exec) // computes out from in; reads tensors' Data at run time
	scratch *scratch      // per-call working memory, if asked for
	aliases map[int]int   // out index → in index sharing its bytes (Reshape and kin)
	inplace map[int]int   // out index → in index it may overwrite when that input dies here
	macs    int64         // multiply-accumulates per call, for figures and profiles
}

// scratch is working memory of one step, placed in the arena like activations.
type scratch struct {
	size int
	buf  []byte
}

// region is a part of a step's scratch.
type region struct {
	s      *scratch
	off, n int
}

func (r region) bytes() []byte  { return r.s.buf[r.off : r.off+r.n] }
func (r region) f32() []float32 { return f32s(r.bytes()) }

func (b *build) name() string { return b.node.label() }

func (b *build) attrInt(name string, def int64) int64       { return b.node.src.AttrInt(name, def) }
func (b *build) attrFloat(name string, def float32) float32 { return b.node.src.AttrFloat(name, def) }
func (b *build) attrInts(name string, def []int64) []int64  { return b.node.src.AttrInts(name, def) }
func (b *build) attrString(name, def string) string         { return b.node.src.AttrString(name, def) }

// input returns input i, failing when a required input is missing.
func (b *build) input(i int) (*Tensor, error) {
	if i >= len(b.in) || b.in[i] == nil {
		return nil, b.errorf("input %d is required", i)
	}
	return b.in[i], nil
}

// optional returns input i or nil.
func (b *build) optional(i int) *Tensor {
	if i >= len(b.in) {
		return nil
	}
	return b.in[i]
}

func (b *build) setOut(i int, dt onnx.DType, shape []int) {
	if i < len(b.out) && b.out[i] != nil {
		b.out[i].DType = dt
		b.out[i].Shape = shape
	}
}

// askScratch reserves n more bytes of the step's per-call working memory.
func (b *build) askScratch(n int) region {
	if b.scratch == nil {
		b.scratch = &scratch{}
	}
	off := align64(b.scratch.size)
	b.scratch.size = off + n
	return region{s: b.scratch, off: off, n: n}
}

func (b *build) alias(out, in int) {
	if b.aliases == nil {
		b.aliases = map[int]int{}
	}
	b.aliases[out] = in
}

func (b *build) mayOverwrite(out, in int) {
	if b.inplace == nil {
		b.inplace = map[int]int{}
	}
	b.inplace[out] = in
}

func (b *build) errorf(format string, args ...any) error {
	return &ShapeError{Node: b.name(), Msg: fmt.Sprintf(format, args...)}
}

func (b *build) unsupported(format string, args ...any) error {
	return &UnsupportedOpError{Op: b.node.op, Node: b.name(), Opset: b.opset, Reason: fmt.Sprintf(format, args...)}
}

// need checks dtypes: every given input must be one of the allowed types.
func (b *build) need(allowed ...onnx.DType) error {
	for i, t := range b.in {
		if t != nil && !slices.Contains(allowed, t.DType) {
			return b.unsupported("input %d of type %s", i, t.DType)
		}
	}
	return nil
}

// step is one kernel call of a plan.
type step struct {
	node    *gnode
	run     func(x *exec)
	scratch *scratch
	outs    []*Tensor
	macs    int64
}

// buffer is a block of the arena holding one or more tensors that share bytes (aliases and
// in-place outputs) or a step's scratch, live from node index first to last.
type buffer struct {
	size, first, last int
	offset            int
	tensors           []*Tensor
	scratch           *scratch
}

// planner turns the graph into steps for concrete input shapes.
type planner struct {
	g       *graph
	threads int
	values  map[string]*Tensor
	names   map[*Tensor]string
	lastUse map[string]int // node index of a value's last reader; len(nodes) for graph outputs
	steps   []*step
	bufOf   map[*Tensor]*buffer
	buffers []*buffer
}

func newPlan(g *graph, shapes map[string][]int, threads int) (*Plan, error) {
	p := &planner{
		g: g, threads: threads, values: map[string]*Tensor{}, names: map[*Tensor]string{},
		lastUse: map[string]int{}, bufOf: map[*Tensor]*buffer{},
	}
	for i, n := range g.nodes {
		for _, in := range n.inputs {
			p.lastUse[in] = i
		}
	}
	for _, out := range g.outputs {
		p.lastUse[out.Name] = len(g.nodes)
	}
	for name, t := range g.consts {
		p.values[name] = t
	}
	plan := &Plan{threads: threads}
	for _, in := range g.inputs {
		shape, ok := shapes[in.Name]
		if !ok {
			return nil, &ShapeError{Msg: fmt.Sprintf("no shape given for input %q (the model's inputs: %s)", in.Name, inputNames(g))}
		}
		if err := checkInputShape(in, shape); err != nil {
			return nil, err
		}
		t := &Tensor{DType: in.DType, Shape: slices.Clone(shape)}
		p.define(in.Name, t)
		p.newBuffer(t, -1)
		plan.inputs = append(plan.inputs, t)
		plan.inputNames = append(plan.inputNames, in.Name)
	}
	for i, n := range g.nodes {
		if err := p.node(i, n); err != nil {
			return nil, err
		}
	}
	for _, out := range g.outputs {
		t := p.values[out.Name]
		if t == nil {
			return nil, &ShapeError{Msg: fmt.Sprintf("graph output %q is not computed", out.Name)}
		}
		plan.outputs = append(plan.outputs, t)
		plan.outputNames = append(plan.outputNames, out.Name)
	}
	plan.arena = p.placeBuffers()
	plan.steps = p.steps
	for _, s := range p.steps {
		plan.macs += s.macs
	}
	return plan, nil
}

func inputNames(g *graph) string {
	var names []string
	for _, in := range g.inputs {
		names = append(names, fmt.Sprintf("%q %s", in.Name, declared(in.Shape)))
	}
	return fmt.Sprint(names)
}

func (p *planner) define(name string, t *Tensor) {
	p.values[name] = t
	p.names[t] = name
}

func checkInputShape(in onnx.ValueInfo, shape []int) error {
	if in.Shape == nil {
		return nil
	}
	ok := len(in.Shape) == len(shape)
	for i := 0; ok && i < len(shape); i++ {
		ok = shape[i] >= 0 && (!in.Shape[i].Known() || int64(shape[i]) == in.Shape[i].Value)
	}
	if !ok {
		return &ShapeError{Msg: fmt.Sprintf("input %q has shape %v; the model expects %s", in.Name, shape, declared(in.Shape))}
	}
	return nil
}

func declared(dims []onnx.Dim) string {
	if dims == nil {
		return "[any]"
	}
	parts := make([]string, len(dims))
	for i, d := range dims {
		parts[i] = d.String()
	}
	return fmt.Sprintf("%v", parts)
}

// node plans one node: its builder infers output types and shapes; then the node is either
// computed now (all inputs constant) or becomes a step.
func (p *planner) node(idx int, n *gnode) error {
	b := &build{node: n, opset: p.g.opset, threads: p.threads}
	allConst := true
	for _, name := range n.inputs {
		if name == "" {
			b.in = append(b.in, nil)
			continue
		}
		t := p.values[name]
		if t == nil {
			return &ShapeError{Node: n.label(), Msg: fmt.Sprintf("input %q has no value", name)}
		}
		allConst = allConst && t.konst
		b.in = append(b.in, t)
	}
	for _, name := range n.outputs {
		if name == "" {
			b.out = append(b.out, nil)
		} else {
			b.out = append(b.out, &Tensor{})
		}
	}
	if err := opDefOf(n.op).build(b); err != nil {
		return err
	}
	for i, t := range b.out {
		if t == nil {
			continue
		}
		if t.DType == onnx.Undefined || t.Shape == nil {
			return fmt.Errorf("engine: %s left output %d without a type or shape", n.label(), i)
		}
		if slices.ContainsFunc(t.Shape, func(d int) bool { return d < 0 }) {
			return &ShapeError{Node: n.label(), Msg: fmt.Sprintf("output %d would have shape %v", i, t.Shape)}
		}
	}
	if allConst {
		return p.fold(n, b)
	}
	onlyViews := b.scratch == nil
	for i, t := range b.out {
		if t == nil {
			continue
		}
		p.define(n.outputs[i], t)
		if t.konst { // known from shapes alone (Shape, Size)
			continue
		}
		if src, ok := b.aliases[i]; ok && b.in[src] != nil {
			p.share(t, b.in[src])
			continue
		}
		onlyViews = false
		if src, ok := b.inplace[i]; ok && p.canOverwrite(b.in[src], t, idx) {
			p.share(t, b.in[src])
			continue
		}
		p.newBuffer(t, idx)
	}
	if b.scratch != nil && b.scratch.size > 0 {
		p.buffers = append(p.buffers, &buffer{size: b.scratch.size, first: idx, last: idx, scratch: b.scratch})
	}
	if !onlyViews { // a pure view (Reshape, Flatten, ...) needs no call at run time
		p.steps = append(p.steps, &step{node: n, run: b.run, scratch: b.scratch, outs: b.out, macs: b.macs})
	}
	return nil
}

// fold computes, once, a node whose inputs are all constants.
func (p *planner) fold(n *gnode, b *build) error {
	for i, t := range b.out {
		if t == nil {
			continue
		}
		switch src, ok := b.aliases[i]; {
		case t.konst:
		case ok && b.in[src] != nil:
			t.Data = b.in[src].Data[:numel(t.Shape)*t.DType.Size()]
		default:
			t.Data = alignedBytes(numel(t.Shape) * t.DType.Size())
		}
		t.konst = true
		p.define(n.outputs[i], t)
	}
	if b.scratch != nil {
		b.scratch.buf = alignedBytes(b.scratch.size)
	}
	if b.run != nil {
		x := &exec{}
		b.run(x)
		return x.err
	}
	return nil
}

func (p *planner) newBuffer(t *Tensor, first int) {
	b := &buffer{size: numel(t.Shape) * t.DType.Size(), first: first, tensors: []*Tensor{t}}
	p.bufOf[t] = b
	p.buffers = append(p.buffers, b)
}

// share makes t a view of src's bytes.
func (p *planner) share(t, src *Tensor) {
	b := p.bufOf[src]
	if b == nil { // src is a constant
		t.Data = src.Data[:numel(t.Shape)*t.DType.Size()]
		return
	}
	b.tensors = append(b.tensors, t)
	p.bufOf[t] = b
}

// canOverwrite: an elementwise op may write its output over an input whose bytes nothing reads
// later, that is not a graph input or output, and that has the output's size.
func (p *planner) canOverwrite(in, out *Tensor, idx int) bool {
	b := p.bufOf[in]
	if b == nil || b.first < 0 || b.scratch != nil || b.size != numel(out.Shape)*out.DType.Size() {
		return false
	}
	for _, t := range b.tensors {
		if p.lastUse[p.names[t]] > idx {
			return false
		}
	}
	return true
}

// placeBuffers gives every buffer an offset in one arena so that buffers live at the same time
// never overlap: largest first, each at the lowest offset that fits (the greedy-by-size
// strategy of TFLite's memory planner). It returns the arena with every tensor bound.
func (p *planner) placeBuffers() []byte {
	for _, b := range p.buffers {
		if b.scratch != nil {
			continue
		}
		b.last = b.first
		for _, t := range b.tensors {
			if u, ok := p.lastUse[p.names[t]]; ok && u > b.last {
				b.last = u
			}
		}
	}
	order := slices.Clone(p.buffers)
	sort.SliceStable(order, func(i, j int) bool { return order[i].size > order[j].size })
	var placed []*buffer
	total := 0
	for _, b := range order {
		size := align64(b.size)
		var clash []*buffer
		for _, o := range placed {
			if o.first <= b.last && b.first <= o.last {
				clash = append(clash, o)
			}
		}
		sort.Slice(clash, func(i, j int) bool { return clash[i].offset < clash[j].offset })
		off := 0
		for _, o := range clash {
			if off+size <= o.offset {
				break
			}
			off = max(off, o.offset+align64(o.size))
		}
		b.offset = off
		total = max(total, off+size)
		placed = append(placed, b)
	}
	arena := alignedBytes(total)
	for _, b := range p.buffers {
		mem := arena[b.offset : b.offset+b.size : b.offset+b.size]
		if b.scratch != nil {
			b.scratch.buf = mem
		}
		for _, t := range b.tensors {
			t.Data = mem[:numel(t.Shape)*t.DType.Size()]
		}
	}
	return arena
}

func align64(n int) int { return (n + 63) &^ 63 }
