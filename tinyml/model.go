package tinyml

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/tinymlaas/tinyml/compress"
	"github.com/tinymlaas/tinyml/internal/engine"
	"github.com/tinymlaas/tinyml/internal/onnx"
	"github.com/tinymlaas/tinyml/internal/pack"
)

// Tensor is a dense row-major tensor: element type, shape and little-endian bytes. Make one with
// NewTensor (copies) or WrapTensor (shares your slice); read it with Float32s or Values.
type Tensor = engine.Tensor

// DType is a tensor element type (ONNX's numbering).
type DType = onnx.DType

// Element types a model's inputs and outputs commonly have.
const (
	Float32 = onnx.Float
	Float64 = onnx.Double
	Int64   = onnx.Int64
	Int32   = onnx.Int32
	Int8    = onnx.Int8
	Uint8   = onnx.Uint8
	Bool    = onnx.Bool
)

// Elem is a Go element type a Tensor can hold.
type Elem = onnx.Elem

// NewTensor returns a tensor holding a copy of data with the given shape.
func NewTensor[T Elem](data []T, shape ...int) *Tensor { return engine.FromSlice(data, shape...) }

// WrapTensor returns a tensor that uses data in place (no copy): feed a Session without
// allocating.
func WrapTensor[T Elem](data []T, shape ...int) *Tensor { return engine.Wrap(data, shape...) }

// Values returns a view of the tensor's elements as T (no copy); T must match its DType.
func Values[T Elem](t *Tensor) ([]T, error) {
	if want := onnx.DTypeOf[T](); t.DType != want {
		return nil, fmt.Errorf("tensor holds %s, not %s", t.DType, want)
	}
	return engine.View[T](t), nil
}

// Model is an ONNX model compiled for the built-in pure-Go engine. It is safe for concurrent use.
type Model struct {
	m        *engine.Model
	onnx     *onnx.Model
	bytes    int64
	loadTime time.Duration

	mu       sync.Mutex
	sessions map[string][]*Session // idle sessions by input shapes, for Run
}

// ModelOption configures LoadModel.
type ModelOption func(*modelConfig)

type modelConfig struct{ threads int }

// WithThreads sets how many goroutines each inference call uses (default 1; 0 or less: one per
// CPU). One thread gives the steadiest latency on small boards.
func WithThreads(n int) ModelOption { return func(c *modelConfig) { c.threads = n } }

// IO describes a model input or output; -1 marks a dimension fixed at run time (the batch).
type IO = engine.IO

// LoadModel reads and compiles an ONNX file or a packed artifact (.tmlpack, what the compile
// step installs). A model the engine cannot run fails here with an error matching
// ErrUnsupported that names the operator, node and opset.
func LoadModel(path string, opts ...ModelOption) (*Model, error) {
	start := time.Now()
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	om, err := compress.LoadModel(path)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	m, err := compile(om, opts)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	m.bytes, m.loadTime = st.Size(), time.Since(start)
	return m, nil
}

// ParseModel compiles an ONNX model held in memory.
func ParseModel(b []byte, opts ...ModelOption) (*Model, error) {
	start := time.Now()
	var om *onnx.Model
	var err error
	if pack.IsPacked(b) {
		om, err = pack.Decode(b)
	} else {
		om, err = onnx.Decode(b)
	}
	if err != nil {
		return nil, fmt.Errorf("parse model: %w", err)
	}
	m, err := compile(om, opts)
	if err != nil {
		return nil, fmt.Errorf("parse model: %w", err)
	}
	m.bytes, m.loadTime = int64(len(b)), time.Since(start)
	return m, nil
}

func compile(om *onnx.Model, opts []ModelOption) (*Model, error) {
	cfg := modelConfig{threads: 1}
	for _, o := range opts {
		o(&cfg)
	}
	em, err := engine.Compile(om, engine.WithThreads(cfg.threads))
	if err != nil {
		return nil, err
	}
	return &Model{m: em, onnx: om, sessions: map[string][]*Session{}}, nil
}

// Inputs and Outputs describe the model's interface.
func (m *Model) Inputs() []IO  { return m.m.Inputs() }
func (m *Model) Outputs() []IO { return m.m.Outputs() }

// Params is the number of weight elements the compiled model reads.
func (m *Model) Params() int64 { return m.m.Params() }

// FileBytes is the size of the ONNX model the Model was loaded from.
func (m *Model) FileBytes() int64 { return m.bytes }

// LoadTime is how long reading and compiling took.
func (m *Model) LoadTime() time.Duration { return m.loadTime }

// Session runs a model for fixed input shapes without allocating: the engine's plan, with one
// arena for all activations. A Session is not safe for concurrent use; make one per goroutine.
type Session struct {
	p   *engine.Plan
	key string
}

// NewSession plans the model for a batch size (the leading dimension of every input).
func (m *Model) NewSession(batch int) (*Session, error) {
	p, err := m.m.PlanBatch(batch)
	if err != nil {
		return nil, err
	}
	return &Session{p: p}, nil
}

// NewSessionShapes plans the model for explicit input shapes, by input name.
func (m *Model) NewSessionShapes(shapes map[string][]int) (*Session, error) {
	p, err := m.m.Plan(shapes)
	if err != nil {
		return nil, err
	}
	return &Session{p: p}, nil
}

// Run computes the outputs. They belong to the session and are overwritten by its next Run:
// Clone what you keep.
func (s *Session) Run(ctx context.Context, inputs ...*Tensor) ([]*Tensor, error) {
	return s.p.Run(ctx, inputs...)
}

// ArenaBytes is the activation memory the session holds (activations and scratch, reused by
// lifetime).
func (s *Session) ArenaBytes() int { return s.p.ArenaBytes() }

// MACs is the number of multiply-accumulates of one Run.
func (s *Session) MACs() int64 { return s.p.MACs() }

// NodeProfile is one step's share of the run time.
type NodeProfile = engine.NodeProfile

// EnableProfile makes every later Run time each step; Profile returns the totals.
func (s *Session) EnableProfile()         { s.p.EnableProfile() }
func (s *Session) Profile() []NodeProfile { return s.p.Profile() }

// Close releases the session's worker goroutines.
func (s *Session) Close() { s.p.Close() }

// Run is the convenient form: it plans for the inputs' shapes (reusing idle sessions), runs,
// and returns outputs the caller owns. Safe for concurrent use.
func (m *Model) Run(ctx context.Context, inputs ...*Tensor) ([]*Tensor, error) {
	ins := m.Inputs()
	if len(inputs) != len(ins) {
		return nil, fmt.Errorf("%d inputs given; the model takes %d", len(inputs), len(ins))
	}
	shapes := map[string][]int{}
	key := ""
	for i, in := range ins {
		shapes[in.Name] = inputs[i].Shape
		key += fmt.Sprint(inputs[i].Shape)
	}
	m.mu.Lock()
	var s *Session
	if idle := m.sessions[key]; len(idle) > 0 {
		s, m.sessions[key] = idle[len(idle)-1], idle[:len(idle)-1]
	}
	m.mu.Unlock()
	if s == nil {
		var err error
		if s, err = m.NewSessionShapes(shapes); err != nil {
			return nil, err
		}
		s.key = key
	}
	outs, err := s.Run(ctx, inputs...)
	var owned []*Tensor
	for _, o := range outs {
		owned = append(owned, o.Clone())
	}
	m.mu.Lock()
	m.sessions[key] = append(m.sessions[key], s)
	m.mu.Unlock()
	return owned, err
}

// Close releases idle sessions.
func (m *Model) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, idle := range m.sessions {
		for _, s := range idle {
			s.Close()
		}
	}
	m.sessions = map[string][]*Session{}
}

// SupportedOps lists the ONNX operators (default domain) the built-in engine runs.
func SupportedOps() []string { return engine.SupportedOps() }
