package report

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Run statuses, in the pipeline's words. A run given with an empty status counts as finished:
// results from outside the pipeline often carry no status at all.
const (
	StatusPending  = "pending"
	StatusRunning  = "running"
	StatusDone     = "generated"
	StatusFailed   = "failed"
	StatusCanceled = "canceled"
)

// BaselineTechnique names the uncompressed run that every other technique is compared against.
const BaselineTechnique = "none"

// Run is one model × dataset × technique × device result.
type Run struct {
	ID        string    `json:"id"`
	Project   string    `json:"project,omitempty"`
	Model     string    `json:"model"`
	Dataset   string    `json:"dataset"`
	Technique string    `json:"technique"`
	Device    string    `json:"device"`
	Status    string    `json:"status"`
	Finished  time.Time `json:"finished,omitzero"`
	Metrics   Metrics   `json:"metrics"`
}

// Latency is the time of one inference, in milliseconds per sample.
type Latency struct {
	Min  float64 `json:"min"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Mean float64 `json:"mean"`
}

// Metrics is what one run measured. Zero means "not measured" for every figure but Accuracy,
// which counts as measured when Samples > 0. Reports treat NaN and infinite figures as not
// measured too.
type Metrics struct {
	Samples  int     `json:"samples"`
	Correct  int     `json:"correct"`
	Accuracy float64 `json:"accuracy"`       // top-1, 0..1
	Top5     float64 `json:"top5,omitempty"` // 0 when not applicable
	Latency  Latency `json:"latency_ms"`
	// LoadMS is the model load time, kept apart from the per-sample latency.
	LoadMS     float64 `json:"load_ms"`
	Throughput float64 `json:"throughput"` // samples per second

	ModelBytes  int64 `json:"model_bytes"`  // the ONNX file
	PackedBytes int64 `json:"packed_bytes"` // compiled / packed for the device
	GzipBytes   int64 `json:"gzip_bytes"`   // gzip of the packed model

	Params        int64 `json:"params"`
	NonZeroParams int64 `json:"nonzero_params"`
	MACs          int64 `json:"macs"`

	ArenaBytes   int64 `json:"arena_bytes"`    // planned activation arena
	PeakMemBytes int64 `json:"peak_mem_bytes"` // measured peak

	// Agreement is the share of predictions equal to the baseline run's (0..1); MaxDiff is the
	// largest absolute output difference from it.
	Agreement float64 `json:"agreement"`
	MaxDiff   float64 `json:"max_diff"`

	Classes          []string  `json:"classes,omitempty"`
	Confusion        [][]int   `json:"confusion,omitempty"` // [true][predicted]
	LatencySamplesMS []float64 `json:"latency_samples_ms,omitempty"`
}

// Done reports whether the run finished and its metrics can be compared.
func (r Run) Done() bool { return r.Status == StatusDone || r.Status == "" }

// IsBaseline reports whether the run is an uncompressed baseline.
func (r Run) IsBaseline() bool {
	return strings.EqualFold(strings.TrimSpace(r.Technique), BaselineTechnique)
}

// Label names the run for a person: "model · technique @ device".
func (r Run) Label() string { return fmt.Sprintf("%s · %s @ %s", r.Model, r.Technique, r.Device) }

// SizeBytes is the size that has to fit on the device: the compiled (packed) model when known,
// else the ONNX file.
func (m Metrics) SizeBytes() int64 {
	if m.PackedBytes > 0 {
		return m.PackedBytes
	}
	return m.ModelBytes
}

// MemoryBytes is the memory the model needs at run time: the measured peak when known, else the
// planned activation arena.
func (m Metrics) MemoryBytes() int64 {
	if m.PeakMemBytes > 0 {
		return m.PeakMemBytes
	}
	return m.ArenaBytes
}

// clean returns a copy of runs whose non-finite figures (NaN, ±Inf) and negative sizes are
// zeroed, i.e. count as not measured, so that one broken measurement cannot break a report.
func clean(runs []Run) []Run {
	out := make([]Run, len(runs))
	for i, r := range runs {
		m := &r.Metrics
		for _, f := range []*float64{&m.Accuracy, &m.Top5, &m.Latency.Min, &m.Latency.P50, &m.Latency.P90,
			&m.Latency.P99, &m.Latency.Mean, &m.LoadMS, &m.Throughput, &m.Agreement, &m.MaxDiff} {
			if math.IsNaN(*f) || math.IsInf(*f, 0) {
				*f = 0
			}
		}
		for _, n := range []*int64{&m.ModelBytes, &m.PackedBytes, &m.GzipBytes, &m.Params, &m.NonZeroParams,
			&m.MACs, &m.ArenaBytes, &m.PeakMemBytes} {
			*n = max(*n, 0)
		}
		if slices.ContainsFunc(m.LatencySamplesMS, func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }) {
			m.LatencySamplesMS = slices.DeleteFunc(slices.Clone(m.LatencySamplesMS), func(v float64) bool {
				return math.IsNaN(v) || math.IsInf(v, 0)
			})
		}
		out[i] = r
	}
	return out
}

// hasAccuracy reports whether accuracy was measured (0 % is a valid, if sad, result).
func (m Metrics) hasAccuracy() bool { return m.Samples > 0 || m.Accuracy > 0 }
