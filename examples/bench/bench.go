package main

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tinymlaas/tinyml/tinyml"
)

// bench holds every model's inputs and cases, and what was measured on them.
type bench struct {
	cfg    *config
	ort    *ortRunner
	log    *slog.Logger
	tmp    string
	models []*modelBench
}

// modelBench is one model with its dataset in the model's input layout.
type modelBench struct {
	name, path, data string
	n                int       // samples
	sampleShape      []int     // the model's input shape without the batch dimension
	x                []float32 // n samples, sample-major
	npy              string    // x as a float32 .npy, for node
	oursLoad         []time.Duration
	cases            []*caseBench
}

// caseBench is one model at one batch size.
type caseBench struct {
	batch        int
	full         bool
	reps, warmup int
	inputs       []*tinyml.Tensor // the distinct batches, in call order
	macs         int64
	arena        int

	ours, ort       []time.Duration
	oursCPU, ortCPU []time.Duration // process CPU time per call: steady under machine load
	ortLoad         []time.Duration
	oursOut, ortOut []output
	profile         []stepShare // with -profile
}

// prepare reads every model's interface and dataset, and writes the inputs node will read.
func (b *bench) prepare() error {
	for i, path := range b.cfg.models {
		mb, err := b.prepareModel(i, path)
		if err != nil {
			return err
		}
		b.models = append(b.models, mb)
	}
	return nil
}

func (b *bench) prepareModel(i int, path string) (*modelBench, error) {
	data, err := b.cfg.data.For(path)
	if err != nil {
		return nil, err
	}
	m, err := tinyml.LoadModel(path, tinyml.WithThreads(b.cfg.threads))
	if err != nil {
		return nil, err
	}
	defer m.Close()
	ins := m.Inputs()
	if len(ins) != 1 {
		return nil, fmt.Errorf("%s has %d inputs; the benchmark feeds models with one input", path, len(ins))
	}
	if ins[0].DType != tinyml.Float32 {
		return nil, fmt.Errorf("%s takes %s input %q; the benchmark feeds float32 datasets", path, ins[0].DType, ins[0].Name)
	}
	ds, err := tinyml.LoadDataset(data)
	if err != nil {
		return nil, fmt.Errorf("dataset for %s: %w", path, err)
	}
	if ds.Len() == 0 {
		return nil, fmt.Errorf("dataset %s is empty", data)
	}
	shape, err := sampleShape(ins[0].Shape, ds.SampleShape())
	if err != nil {
		return nil, fmt.Errorf("%s with dataset %s: %w", path, data, err)
	}
	mb := &modelBench{name: modelName(path), path: path, data: data, n: ds.Len(), sampleShape: shape}
	if mb.path, err = filepath.Abs(path); err != nil {
		return nil, err
	}
	sampleLen := numel(shape)
	mb.x = make([]float32, 0, mb.n*sampleLen)
	for s := range mb.n {
		mb.x = append(mb.x, ds.Sample(s)...)
	}
	mb.npy = filepath.Join(b.tmp, fmt.Sprintf("%02d_%s.npy", i, mb.name))
	if err := writeNPY(mb.npy, mb.x, append([]int{mb.n}, shape...)); err != nil {
		return nil, err
	}
	for _, batch := range b.cfg.batches {
		c := &caseBench{batch: batch, full: batch == fullBatch}
		if c.full {
			c.batch = mb.n
		}
		c.reps, c.warmup = b.cfg.reps, b.cfg.warmup
		if c.full || c.batch >= bigBatch {
			c.reps, c.warmup = b.cfg.repsFull, b.cfg.warmupFull
		}
		for _, xb := range batchesOf(mb.x, mb.n, sampleLen, c.batch) {
			c.inputs = append(c.inputs, tinyml.WrapTensor(xb, append([]int{c.batch}, shape...)...))
		}
		s, err := m.NewSession(c.batch)
		if err != nil {
			return nil, fmt.Errorf("%s at batch %d: %w", path, c.batch, err)
		}
		c.macs, c.arena = s.MACs(), s.ArenaBytes()
		s.Close()
		mb.cases = append(mb.cases, c)
	}
	return mb, nil
}

// sampleShape resolves a model input shape (batch first, -1 where fixed at run time) against a
// dataset's sample shape: the dataset's values are taken row-major in the model's layout, so
// flat features feed an image model when the counts match.
func sampleShape(input, sample []int) ([]int, error) {
	if len(input) == 0 {
		return nil, fmt.Errorf("the model's input is a scalar; the benchmark needs a batch dimension")
	}
	have := numel(sample)
	shape := slices.Clone(input[1:])
	known, unknown := 1, -1
	for i, d := range shape {
		if d < 0 {
			if unknown >= 0 {
				return nil, fmt.Errorf("the model's input %v has more than one dimension besides the batch fixed at run time; the benchmark cannot tell their sizes", input)
			}
			unknown = i
			continue
		}
		known *= d
	}
	if unknown >= 0 {
		if known == 0 || have%known != 0 {
			return nil, fmt.Errorf("a sample of shape %v (%d values) does not fit the model's input %v", sample, have, input)
		}
		shape[unknown] = have / known
	}
	if numel(shape) != have {
		return nil, fmt.Errorf("a sample of shape %v has %d values; the model's input %v takes %d per sample", sample, have, input, numel(shape))
	}
	return shape, nil
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// batchesOf cuts x (n samples) into ceil(n/batch) batches: batch k holds the samples
// k*batch .. k*batch+batch-1, modulo n. bench.js builds the same batches.
func batchesOf(x []float32, n, sampleLen, batch int) [][]float32 {
	var out [][]float32
	for lo := 0; lo < n; lo += batch {
		if lo+batch <= n {
			out = append(out, x[lo*sampleLen:(lo+batch)*sampleLen])
			continue
		}
		b := make([]float32, 0, batch*sampleLen)
		for j := range batch {
			s := (lo + j) % n
			b = append(b, x[s*sampleLen:(s+1)*sampleLen]...)
		}
		out = append(out, b)
	}
	return out
}

// chunk is round r's share of total calls.
func chunk(total, rounds, r int) int {
	n := total / rounds
	if r < total%rounds {
		n++
	}
	return n
}

// measure runs the rounds. Each round loads every model afresh in both engines, and runs each
// case in both, the engine going first alternating between rounds and cases; round 0 also
// collects both engines' outputs over the whole dataset.
func (b *bench) measure(ctx context.Context) error {
	step := 0
	for r := range b.cfg.rounds {
		for _, mb := range b.models {
			start := time.Now()
			m, err := tinyml.LoadModel(mb.path, tinyml.WithThreads(b.cfg.threads))
			if err != nil {
				return err
			}
			mb.oursLoad = append(mb.oursLoad, time.Since(start))
			for _, c := range mb.cases {
				reps := chunk(c.reps, b.cfg.rounds, r)
				if reps == 0 && r > 0 {
					continue
				}
				oursFirst := step%2 == 0
				step++
				for _, ours := range []bool{oursFirst, !oursFirst} {
					if ours {
						err = b.runOurs(ctx, m, c, r == 0, reps)
					} else if b.ort != nil {
						err = b.runORT(ctx, mb, c, r == 0, reps)
					}
					if err != nil {
						m.Close()
						return err
					}
				}
				b.log.Info("measured", "round", fmt.Sprintf("%d/%d", r+1, b.cfg.rounds), "model", mb.name, "batch", c.batch,
					"calls", reps, "ours_p50_ms", msRound(median(lastN(c.ours, reps))), "ort_p50_ms", msRound(median(lastN(c.ort, reps))))
			}
			m.Close()
		}
	}
	return nil
}

func lastN(d []time.Duration, n int) []time.Duration { return d[max(0, len(d)-n):] }

// runOurs times reps calls of Session.Run, after an output pass (check) and warm-up calls.
func (b *bench) runOurs(ctx context.Context, m *tinyml.Model, c *caseBench, check bool, reps int) error {
	s, err := m.NewSession(c.batch)
	if err != nil {
		return err
	}
	defer s.Close()
	if check {
		names := m.Outputs()
		var parts [][]output
		for _, in := range c.inputs {
			outs, err := s.Run(ctx, in)
			if err != nil {
				return err
			}
			var p []output
			for i, t := range outs {
				v, err := toFloat64(t.DType.String(), t.Data)
				if err != nil {
					return fmt.Errorf("our output %d: %w", i, err)
				}
				p = append(p, output{Name: names[i].Name, DType: t.DType.String(), Dims: slices.Clone(t.Shape), Values: v[:numel(t.Shape)]})
			}
			parts = append(parts, p)
		}
		c.oursOut = concatOutputs(parts)
	}
	k := 0
	for range c.warmup {
		if _, err := s.Run(ctx, c.inputs[k%len(c.inputs)]); err != nil {
			return err
		}
		k++
	}
	runtime.GC() // the engine allocates nothing while running; collect the set-up's garbage now
	for range reps {
		in := c.inputs[k%len(c.inputs)]
		k++
		cpu0 := processCPU()
		start := time.Now()
		_, err := s.Run(ctx, in)
		d := time.Since(start)
		cpu := processCPU() - cpu0
		if err != nil {
			return err
		}
		c.ours = append(c.ours, d)
		c.oursCPU = append(c.oursCPU, cpu)
	}
	return nil
}

func (b *bench) runORT(ctx context.Context, mb *modelBench, c *caseBench, check bool, reps int) error {
	res, err := b.ort.run(ctx, ortCall{model: mb.path, input: mb.npy, batch: c.batch, warmup: c.warmup, reps: reps, check: check})
	if err != nil {
		return err
	}
	c.ortLoad = append(c.ortLoad, time.Duration(res.LoadNS))
	for _, ns := range res.Latencies {
		c.ort = append(c.ort, time.Duration(ns))
	}
	for _, us := range res.CPU {
		c.ortCPU = append(c.ortCPU, time.Duration(us*1000))
	}
	if check {
		if c.ortOut, err = res.outputs(); err != nil {
			return err
		}
	}
	return nil
}

// output is one model output over the whole dataset, as float64.
type output struct {
	Name   string
	DType  string
	Dims   []int
	Values []float64
}

// concatOutputs joins per-batch outputs along the batch dimension.
func concatOutputs(parts [][]output) []output {
	if len(parts) == 0 {
		return nil
	}
	outs := make([]output, len(parts[0]))
	for i, o := range parts[0] {
		outs[i] = output{Name: o.Name, DType: o.DType, Dims: slices.Clone(o.Dims)}
		for _, p := range parts {
			outs[i].Values = append(outs[i].Values, p[i].Values...)
		}
		if len(outs[i].Dims) > 0 {
			outs[i].Dims[0] *= len(parts)
		}
	}
	return outs
}

// toFloat64 reads little-endian elements of an ONNX element type (named as onnxruntime-node and
// tinyml name them) as float64.
func toFloat64(dtype string, raw []byte) ([]float64, error) {
	var size int
	var get func([]byte) float64
	le := binary.LittleEndian
	switch dtype {
	case "float32":
		size, get = 4, func(b []byte) float64 { return float64(math.Float32frombits(le.Uint32(b))) }
	case "float64":
		size, get = 8, func(b []byte) float64 { return math.Float64frombits(le.Uint64(b)) }
	case "int64":
		size, get = 8, func(b []byte) float64 { return float64(int64(le.Uint64(b))) }
	case "uint64":
		size, get = 8, func(b []byte) float64 { return float64(le.Uint64(b)) }
	case "int32":
		size, get = 4, func(b []byte) float64 { return float64(int32(le.Uint32(b))) }
	case "uint32":
		size, get = 4, func(b []byte) float64 { return float64(le.Uint32(b)) }
	case "int16":
		size, get = 2, func(b []byte) float64 { return float64(int16(le.Uint16(b))) }
	case "uint16":
		size, get = 2, func(b []byte) float64 { return float64(le.Uint16(b)) }
	case "int8":
		size, get = 1, func(b []byte) float64 { return float64(int8(b[0])) }
	case "uint8", "bool":
		size, get = 1, func(b []byte) float64 { return float64(b[0]) }
	default:
		return nil, fmt.Errorf("element type %s cannot be compared", dtype)
	}
	v := make([]float64, len(raw)/size)
	for i := range v {
		v[i] = get(raw[i*size:])
	}
	return v, nil
}

// writeNPY writes a float32 array as a version 1.0 .npy file.
func writeNPY(path string, x []float32, shape []int) error {
	var ds []string
	for _, d := range shape {
		ds = append(ds, strconv.Itoa(d))
	}
	dims := strings.Join(ds, ", ")
	if len(shape) == 1 {
		dims += ","
	}
	header := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", dims)
	// magic (6) + version (2) + header length (2) + header + '\n', padded to 64 bytes.
	pad := 64 - (10+len(header)+1)%64
	if pad == 64 {
		pad = 0
	}
	header += fmt.Sprintf("%*s\n", pad, "")
	buf := make([]byte, 0, 10+len(header)+4*len(x))
	buf = append(buf, "\x93NUMPY\x01\x00"...)
	buf = binary.LittleEndian.AppendUint16(buf, uint16(len(header)))
	buf = append(buf, header...)
	for _, v := range x {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
	}
	return os.WriteFile(path, buf, 0o644)
}

// stepShare is one step of our engine's plan (a node, with what was fused into it) and its share
// of the run time.
type stepShare struct {
	Node  string   `json:"node"`
	Op    string   `json:"op"`
	Fused []string `json:"fused,omitempty"`
	Share float64  `json:"share"` // of the summed step times
	// MSPerCall is the step's mean time per call in its fastest profiling pass.
	MSPerCall float64 `json:"ms_per_call"`
	MACs      int64   `json:"macs"`
	GMACPerS  float64 `json:"gmac_per_s,omitempty"`
}

// profile times every step of our engine per case (Session.EnableProfile), in a pass of its own
// after the measurement so that the profiling overhead stays out of the latency table.
func (b *bench) profile(ctx context.Context) error {
	for _, mb := range b.models {
		m, err := tinyml.LoadModel(mb.path, tinyml.WithThreads(b.cfg.threads))
		if err != nil {
			return err
		}
		for _, c := range mb.cases {
			if err := profileCase(ctx, m, c); err != nil {
				m.Close()
				return err
			}
		}
		m.Close()
	}
	return nil
}

func profileCase(ctx context.Context, m *tinyml.Model, c *caseBench) error {
	s, err := m.NewSession(c.batch)
	if err != nil {
		return err
	}
	defer s.Close()
	for i := range c.warmup {
		if _, err := s.Run(ctx, c.inputs[i%len(c.inputs)]); err != nil {
			return err
		}
	}
	// Several passes; each step keeps its fastest pass's mean, so that a preemption in one pass
	// (on a busy machine) does not pin the blame on whichever step it hit.
	const passes = 5
	calls := max(1, min(c.reps, 100)/passes)
	s.EnableProfile()
	var prev, prof []tinyml.NodeProfile
	best := map[int]time.Duration{}
	k := 0
	for range passes {
		for range calls {
			if _, err := s.Run(ctx, c.inputs[k%len(c.inputs)]); err != nil {
				return err
			}
			k++
		}
		prof = s.Profile()
		for i, p := range prof {
			d, n := p.Total, p.Calls
			if prev != nil {
				d, n = d-prev[i].Total, n-prev[i].Calls
			}
			if n == 0 {
				continue
			}
			if mean := d / time.Duration(n); best[i] == 0 || mean < best[i] {
				best[i] = mean
			}
		}
		prev = prof
	}
	var total time.Duration
	for _, d := range best {
		total += d
	}
	c.profile = nil
	for i, p := range prof {
		per, ok := best[i]
		if !ok || total == 0 {
			continue
		}
		st := stepShare{Node: p.Node, Op: p.Op, Fused: p.Fused, Share: float64(per) / float64(total),
			MSPerCall: ms(per), MACs: p.MACs}
		if per > 0 && p.MACs > 0 {
			st.GMACPerS = float64(p.MACs) / per.Seconds() / 1e9
		}
		c.profile = append(c.profile, st)
	}
	slices.SortStableFunc(c.profile, func(a, b stepShare) int { return cmp.Compare(b.Share, a.Share) })
	return nil
}
