// Package measure evaluates a model over a labelled dataset and summarises latencies: the one
// implementation behind `tinyml eval`, the inference step of a run, and the benchmarks.
package measure

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/tinymlaas/tinyml/internal/dataset"
	"github.com/tinymlaas/tinyml/internal/engine"
	"github.com/tinymlaas/tinyml/internal/onnx"
)

// Latency summarises call times in milliseconds.
type Latency struct {
	Min  float64 `json:"min"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Mean float64 `json:"mean"`
}

// Summarise computes the latency figures of durations (nearest-rank percentiles).
func Summarise(d []time.Duration) Latency {
	if len(d) == 0 {
		return Latency{}
	}
	ms := make([]float64, len(d))
	var sum float64
	for i, x := range d {
		ms[i] = float64(x.Nanoseconds()) / 1e6
		sum += ms[i]
	}
	slices.Sort(ms)
	pct := func(p float64) float64 {
		i := int(math.Ceil(p/100*float64(len(ms)))) - 1
		return ms[min(max(i, 0), len(ms)-1)]
	}
	return Latency{Min: ms[0], P50: pct(50), P90: pct(90), P99: pct(99), Mean: sum / float64(len(ms))}
}

// Options control an evaluation.
type Options struct {
	Batch  int // samples per inference call (default 1)
	Repeat int // passes over the dataset to time (default 1)
	// Outputs, when set, receives every sample's raw outputs (first output) in dataset order.
	Outputs func(sample int, values []float32)
}

// Result is what an evaluation measured.
type Result struct {
	Samples   int             `json:"samples"`
	Correct   int             `json:"correct"`
	Accuracy  float64         `json:"accuracy"`
	Top5      float64         `json:"top5,omitempty"`
	Batch     int             `json:"batch"`
	Calls     int             `json:"calls"`
	Latency   Latency         `json:"latency_ms"`
	PerSample Latency         `json:"-"`
	Durations []time.Duration `json:"-"`
	// Predictions are the top-1 classes in dataset order; Confusion is [true][predicted].
	Predictions []int   `json:"-"`
	Confusion   [][]int `json:"-"`
	Classes     int     `json:"-"`
}

// Evaluate runs the model over the dataset in batches, checking top-1 (and top-5 when there are
// at least ten classes) against the labels, timing every full-size call.
func Evaluate(ctx context.Context, m *engine.Model, ds *dataset.Dataset, opt Options) (*Result, error) {
	if opt.Batch < 1 {
		opt.Batch = 1
	}
	if opt.Repeat < 1 {
		opt.Repeat = 1
	}
	ins := m.Inputs()
	if len(ins) != 1 {
		return nil, fmt.Errorf("the model has %d inputs; evaluation feeds models with one", len(ins))
	}
	if tail := fixedTail(ins[0].Shape); tail != nil {
		if err := ds.Fit(tail); err != nil {
			return nil, err
		}
	}
	batch := min(opt.Batch, ds.N)
	if ds.N == 0 {
		return nil, fmt.Errorf("the dataset has no samples")
	}
	full, err := m.PlanBatch(batch)
	if err != nil {
		return nil, err
	}
	defer full.Close()
	var tail *engine.Plan
	if rem := ds.N % batch; rem != 0 {
		if tail, err = m.PlanBatch(rem); err != nil {
			return nil, err
		}
		defer tail.Close()
	}
	res := &Result{Samples: ds.N, Batch: batch, Predictions: make([]int, ds.N)}
	shape := append([]int{0}, ds.Shape...)
	top5 := 0
	for pass := range opt.Repeat {
		for lo := 0; lo < ds.N; lo += batch {
			hi := min(lo+batch, ds.N)
			plan := full
			if hi-lo != batch {
				plan = tail
			}
			shape[0] = hi - lo
			in := engine.Wrap(ds.X[lo*ds.SampleLen():hi*ds.SampleLen()], shape...)
			start := time.Now()
			out, err := plan.Run(ctx, in)
			took := time.Since(start)
			if err != nil {
				return nil, err
			}
			if plan == full {
				res.Durations = append(res.Durations, took)
			}
			if pass > 0 {
				continue
			}
			if out[0].DType != onnx.Float {
				return nil, fmt.Errorf("the model's output is %s; evaluation reads float32 scores", out[0].DType)
			}
			scores := engine.F32(out[0])
			per := len(scores) / (hi - lo)
			for i := range hi - lo {
				row := scores[i*per : (i+1)*per]
				if opt.Outputs != nil {
					opt.Outputs(lo+i, row)
				}
				pred := argmax(row)
				res.Predictions[lo+i] = pred
				if ds.Y == nil {
					continue
				}
				label := int(ds.Y[lo+i])
				if pred == label {
					res.Correct++
				}
				if inTop5(row, label) {
					top5++
				}
				res.Classes = max(res.Classes, per)
			}
		}
	}
	res.Calls = len(res.Durations)
	if res.Calls == 0 { // only a partial batch: time it after all
		start := time.Now()
		shape[0] = ds.N
		if _, err := tail.Run(ctx, engine.Wrap(ds.X, shape...)); err != nil {
			return nil, err
		}
		res.Durations, res.Calls = []time.Duration{time.Since(start)}, 1
	}
	res.Latency = Summarise(res.Durations)
	if ds.Y != nil {
		res.Accuracy = float64(res.Correct) / float64(ds.N)
		if res.Classes >= 10 {
			res.Top5 = float64(top5) / float64(ds.N)
		}
		// The matrix is as wide as the model's output: a label beyond it can only be wrong, and
		// sizing by labels would let one absurd label allocate without bound.
		res.Confusion = make([][]int, res.Classes)
		for i := range res.Confusion {
			res.Confusion[i] = make([]int, res.Classes)
		}
		for i, p := range res.Predictions {
			if y := int(ds.Y[i]); y < res.Classes && p < res.Classes {
				res.Confusion[y][p]++
			}
		}
	}
	return res, nil
}

// fixedTail is the per-sample shape of an input whose leading dimension is the batch, or nil
// when the model leaves it open.
func fixedTail(shape []int) []int {
	if len(shape) == 0 {
		return nil
	}
	for _, d := range shape[1:] {
		if d < 0 {
			return nil
		}
	}
	return shape[1:]
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

func inTop5(row []float32, label int) bool {
	if label < 0 || label >= len(row) {
		return false
	}
	higher := 0
	for _, v := range row {
		if v > row[label] {
			higher++
		}
	}
	return higher < 5
}
