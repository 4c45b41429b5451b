// Package engine runs ONNX models in pure Go.
//
// Compile imports a model (refusing what it cannot run with an *UnsupportedOpError) and
// optimises its graph once: Identity and Dropout dropped, BatchNormalization folded into the
// Conv or Gemm before it, Relu/Clip/LeakyRelu fused into the kernel before them. A Plan then fixes
// the input shapes: it infers every shape, folds everything computable from constants (the
// Shape→Gather→Concat→Reshape chains exporters emit), packs the weights into the GEMM kernel's
// layout, and places all activations and scratch in one arena by lifetime. Running a plan
// allocates nothing.
package engine

import (
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/tinymlaas/tinyml/internal/onnx"
)

// Model is a compiled model: optimised graph and packed weights, shared by its plans. It is safe
// for concurrent use; its plans are not.
type Model struct {
	g       *graph
	threads int
	mu      sync.Mutex // guards plan-time memoisation in g
}

// Option configures Compile.
type Option func(*Model)

// WithThreads sets how many goroutines a plan's kernels use (default 1; n <= 0 means one per CPU).
func WithThreads(n int) Option {
	return func(m *Model) {
		if n <= 0 {
			n = runtime.GOMAXPROCS(0)
		}
		m.threads = n
	}
}

// IO describes a model input or output. Shape has -1 for dimensions fixed only when planning
// (a named batch dimension); Shape is nil when the model does not declare one.
type IO struct {
	Name  string
	DType onnx.DType
	Shape []int
}

// Compile prepares a model for running. It fails with an error matching ErrUnsupported when an
// operator cannot run, naming the operator, the node and the opset.
func Compile(om *onnx.Model, opts ...Option) (*Model, error) {
	g, err := importGraph(om)
	if err != nil {
		return nil, err
	}
	g.optimise()
	m := &Model{g: g, threads: 1}
	for _, o := range opts {
		o(m)
	}
	// Plan once with a batch of 1 so that attribute values the engine cannot run are reported
	// now, not at the first inference.
	if shapes, ok := m.defaultShapes(1); ok {
		p, err := m.Plan(shapes)
		if err != nil {
			return nil, err
		}
		p.Close()
	}
	return m, nil
}

// Inputs lists what the model must be fed.
func (m *Model) Inputs() []IO { return ios(m.g.inputs) }

// Outputs lists what the model returns.
func (m *Model) Outputs() []IO { return ios(m.g.outputs) }

func ios(vs []onnx.ValueInfo) []IO {
	out := make([]IO, len(vs))
	for i, v := range vs {
		out[i] = IO{Name: v.Name, DType: v.DType}
		if v.Shape != nil {
			out[i].Shape = make([]int, len(v.Shape))
			for j, d := range v.Shape {
				out[i].Shape[j] = -1
				if d.Known() {
					out[i].Shape[j] = int(d.Value)
				}
			}
		}
	}
	return out
}

// defaultShapes gives each input its declared shape with unknown dimensions set to batch when
// they lead, and reports false when another dimension is unknown.
func (m *Model) defaultShapes(batch int) (map[string][]int, bool) {
	shapes := map[string][]int{}
	for _, in := range m.Inputs() {
		if in.Shape == nil {
			return nil, false
		}
		s := append([]int{}, in.Shape...)
		for j, d := range s {
			switch {
			case d >= 0:
			case j == 0:
				s[j] = batch
			default:
				return nil, false
			}
		}
		shapes[in.Name] = s
	}
	return shapes, true
}

// PlanBatch plans for the declared input shapes with the leading (batch) dimension set.
func (m *Model) PlanBatch(batch int) (*Plan, error) {
	if batch < 1 {
		return nil, fmt.Errorf("batch size %d: it must be at least 1", batch)
	}
	shapes, ok := m.defaultShapes(batch)
	if !ok {
		return nil, &ShapeError{Msg: fmt.Sprintf("the model's inputs %s have unknown dimensions besides the batch; plan with explicit shapes", inputNames(m.g))}
	}
	return m.Plan(shapes)
}

// Plan fixes input shapes (by input name) and prepares a run.
func (m *Model) Plan(shapes map[string][]int) (*Plan, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return newPlan(m.g, shapes, m.threads)
}

// Params counts the elements of the constants the optimised graph reads (its weights).
func (m *Model) Params() int64 {
	var n int64
	seen := map[string]bool{}
	for _, node := range m.g.nodes {
		for _, in := range node.inputs {
			if t := m.g.consts[in]; t != nil && !seen[in] {
				seen[in] = true
				n += int64(t.Len())
			}
		}
	}
	return n
}

// SupportedOps lists the operator types the engine runs (default ONNX domain), sorted.
func SupportedOps() []string {
	ops := make([]string, 0, len(registry))
	for op := range registry {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	return ops
}
