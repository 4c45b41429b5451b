package tinyml

import (
	"context"
	"time"

	"github.com/tinymlaas/tinyml/internal/measure"
)

// Latency is a latency summary in milliseconds.
type Latency = measure.Latency

// EvalOptions control Evaluate.
type EvalOptions struct {
	Batch  int // samples per inference call (default 1)
	Repeat int // timed passes over the dataset (default 1)
}

// EvalResult is what Evaluate measured. Latency is per inference call of Batch samples; LoadMS
// is the model's load and compile time, kept apart from inference.
type EvalResult struct {
	Samples  int     `json:"samples"`
	Correct  int     `json:"correct"`
	Accuracy float64 `json:"accuracy"`
	Top5     float64 `json:"top5,omitempty"`
	Batch    int     `json:"batch"`
	LoadMS   float64 `json:"load_ms"`
	Latency  Latency `json:"latency_ms"`
	// Throughput is samples per second over the timed calls.
	Throughput  float64 `json:"throughput"`
	Predictions []int   `json:"-"`
	Confusion   [][]int `json:"-"`
}

// Evaluate runs the model over a labelled dataset in-process and reports accuracy and latency.
// Samples whose values count matches the model's input are reshaped to it (flat CSV features
// feeding an image model).
func Evaluate(ctx context.Context, m *Model, d *Dataset, opt EvalOptions) (*EvalResult, error) {
	r, err := measure.Evaluate(ctx, m.m, d.d, measure.Options{Batch: opt.Batch, Repeat: opt.Repeat})
	if err != nil {
		return nil, err
	}
	return fromMeasure(r, m.loadTime), nil
}

// Predict runs the model over a dataset and calls emit with each sample's raw outputs (first
// output) in dataset order; the slice is reused between calls.
func Predict(ctx context.Context, m *Model, d *Dataset, batch int, emit func(sample int, outputs []float32)) error {
	_, err := measure.Evaluate(ctx, m.m, d.d, measure.Options{Batch: batch, Outputs: emit})
	return err
}

func fromMeasure(r *measure.Result, load time.Duration) *EvalResult {
	out := &EvalResult{
		Samples: r.Samples, Correct: r.Correct, Accuracy: r.Accuracy, Top5: r.Top5, Batch: r.Batch,
		LoadMS: float64(load.Microseconds()) / 1000, Latency: r.Latency,
		Predictions: r.Predictions, Confusion: r.Confusion,
	}
	if total := r.Latency.Mean * float64(r.Calls); total > 0 {
		out.Throughput = float64(r.Calls*r.Batch) / (total / 1000)
	}
	return out
}
