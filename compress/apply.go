package compress

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/tinymlaas/tinyml/internal/dataset"
	"github.com/tinymlaas/tinyml/internal/onnx"
)

// Options configure Apply.
type Options struct {
	// Calib holds calibration samples, for the techniques that calibrate (int8-static). Its
	// samples are reshaped to the model's input shape when the element counts match.
	Calib *dataset.Dataset
	// Seed picks the calibration samples: 0 takes the first ones, any other value a
	// reproducible random choice. Every technique is otherwise deterministic.
	Seed int64
	// Logger receives progress at debug level; nil logs nothing.
	Logger *slog.Logger
}

// Note is something a technique wants the user to know: a layer it skipped and why, fewer
// calibration samples than asked, a fallback it took.
type Note struct {
	Step      int    `json:"step"` // index in the chain; -1 for the clean-up that precedes it
	Technique string `json:"technique"`
	Node      string `json:"node,omitempty"`
	Msg       string `json:"msg"`
}

func (n Note) String() string {
	if n.Node != "" {
		return fmt.Sprintf("%s: %s: %s", n.Technique, n.Node, n.Msg)
	}
	return n.Technique + ": " + n.Msg
}

// Result is a compressed model and the notes its techniques left.
type Result struct {
	Model *onnx.Model
	Notes []Note
}

// Apply compresses a copy of m (m itself is never modified): first the lossless clean-up of
// `none`, then each technique of the chain in order. The result validates as ONNX and runs in
// the engine and in onnxruntime.
func Apply(ctx context.Context, m *onnx.Model, chain Chain, opts Options) (*Result, error) {
	if err := chain.Validate(); err != nil {
		return nil, err
	}
	if m == nil || m.Graph == nil {
		return nil, &ModelError{Technique: "none", Msg: "the model has no graph"}
	}
	c := m.Clone()
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("compress: the input model: %w", err)
	}
	r := &run{ctx: ctx, opts: opts, m: c, g: c.Graph, step: -1, tech: "none"}
	if r.opts.Logger == nil {
		r.opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := optimise(r); err != nil {
		return nil, err
	}
	if err := r.finish(); err != nil {
		return nil, err
	}
	for i, s := range chain {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t := lookup(s.Technique)
		r.step, r.tech = i, t.Name
		r.opts.Logger.Debug("compress: applying", "step", i, "technique", s.String())
		if err := t.apply(r, resolve(t, s)); err != nil {
			return nil, err
		}
		if err := r.finish(); err != nil {
			return nil, err
		}
	}
	return &Result{Model: c, Notes: r.notes}, nil
}

// finish removes what a step left unused and checks the graph is still valid ONNX.
func (r *run) finish() error {
	r.cleanup()
	if err := r.m.Validate(); err != nil {
		return fmt.Errorf("compress: %s produced an invalid graph (a bug; please report it): %w", r.tech, err)
	}
	return nil
}

// run is the state of one Apply: the model being edited and the notes so far.
type run struct {
	ctx   context.Context
	opts  Options
	m     *onnx.Model
	g     *onnx.Graph
	step  int
	tech  string
	notes []Note
}

func (r *run) note(node, format string, args ...any) {
	n := Note{Step: r.step, Technique: r.tech, Node: node, Msg: fmt.Sprintf(format, args...)}
	r.notes = append(r.notes, n)
	r.opts.Logger.Debug("compress: note", "note", n.String())
}

func (r *run) modelError(node, format string, args ...any) error {
	return &ModelError{Technique: r.tech, Node: node, Msg: fmt.Sprintf(format, args...)}
}
