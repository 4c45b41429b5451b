package compress

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/tinymlaas/tinyml/internal/dataset"
	"github.com/tinymlaas/tinyml/internal/engine"
	"github.com/tinymlaas/tinyml/internal/onnx"
)

// Calibration: run the float model in the engine with the tensors to quantize exposed as graph
// outputs, and choose each one's range with an observer.

const (
	calibBatch = 32
	histBins   = 2048
)

// tensorStats gathers what an observer needs about one tensor.
type tensorStats struct {
	min, max float32
	seen     bool
	// hist covers [0, histMax] of |x| (or of x when it is never negative) for entropy, and
	// [min, max] for percentile.
	hist    []float64
	histMax float32
}

// calibrate returns the range [lo, hi] chosen for each tensor; tensors that are not float32
// are left out.
func (r *run) calibrate(tensors []string, p params) (map[string][2]float32, error) {
	samples, err := r.calibSamples(p)
	if err != nil {
		return nil, err
	}
	c := r.m.Clone()
	for _, t := range tensors {
		if !r.isOutput(t) {
			c.Graph.Outputs = append(c.Graph.Outputs, onnx.ValueInfo{Name: t})
		}
	}
	em, err := engine.Compile(c)
	if err != nil {
		return nil, fmt.Errorf("%s: calibration: the float model does not run in the engine: %w", r.tech, err)
	}
	outIndex := map[string]int{}
	for i, o := range em.Outputs() {
		outIndex[o.Name] = i
	}
	stats := map[string]*tensorStats{}
	for _, t := range tensors {
		stats[t] = &tensorStats{}
	}
	observer := p.get("observer").Enum
	pass := func(collect func(st *tensorStats, v []float32)) error {
		return runBatches(r, em, nil, samples, func(outs, _ []*engine.Tensor) {
			for _, t := range tensors {
				o := outs[outIndex[t]]
				if o.DType != onnx.Float {
					delete(stats, t)
					continue
				}
				if st := stats[t]; st != nil {
					collect(st, engine.F32(o))
				}
			}
		})
	}
	if err := pass(observeMinMax); err != nil {
		return nil, err
	}
	if observer != "minmax" {
		for _, st := range stats {
			st.hist = make([]float64, histBins)
			switch {
			case observer == "percentile":
				st.histMax = st.max
			case st.min >= 0:
				st.histMax = st.max
			default:
				st.histMax = max(st.max, -st.min)
			}
		}
		collect := observeEntropy
		if observer == "percentile" {
			collect = observePercentile
		}
		if err := pass(collect); err != nil {
			return nil, err
		}
	}
	ranges := map[string][2]float32{}
	for t, st := range stats {
		if !st.seen {
			continue
		}
		var lo, hi float32
		switch {
		case observer == "minmax" || !r.afterLayer(t):
			// (The model's normalised input keeps its full range whatever the observer:
			// clipping it loses information no layer has seen yet.)
			lo, hi = st.min, st.max
		case observer == "percentile":
			lo, hi = st.percentileRange(p.get("percentile").Float)
		default:
			lo, hi = st.entropyRange()
		}
		ranges[t] = [2]float32{min(lo, 0), max(hi, 0)}
	}
	return ranges, nil
}

// afterLayer reports whether a Conv, Gemm or MatMul computes the value, directly or through other
// nodes; values computed from the graph inputs alone are not.
func (r *run) afterLayer(name string) bool {
	seen := map[string]bool{}
	var walk func(v string) bool
	walk = func(v string) bool {
		if seen[v] {
			return false
		}
		seen[v] = true
		p := r.producer(v)
		if p == nil {
			return false
		}
		if isWeightOp(p.OpType) {
			return true
		}
		for _, in := range p.Inputs {
			if in != "" && walk(in) {
				return true
			}
		}
		return false
	}
	return walk(name)
}

// calibSamples checks the calibration dataset against the model and picks the samples.
func (r *run) calibSamples(p params) (*dataset.Dataset, error) {
	ds := r.opts.Calib
	if ds == nil || ds.N == 0 {
		return nil, &CalibrationError{Technique: r.tech, Param: "calib",
			Msg: "needs a calibration dataset (Options.Calib; tinyml compress --calib FILE): a few hundred samples like those the model will see"}
	}
	ins := r.g.RuntimeInputs()
	if len(ins) != 1 {
		return nil, &CalibrationError{Technique: r.tech, Msg: fmt.Sprintf("calibration feeds models with one input; this one has %d", len(ins))}
	}
	in := ins[0]
	if in.DType != onnx.Float {
		return nil, &CalibrationError{Technique: r.tech, Msg: fmt.Sprintf("the model's input %q is %s; calibration feeds float32", in.Name, in.DType)}
	}
	var tail []int
	for i, d := range in.Shape {
		if i == 0 {
			continue
		}
		if !d.Known() {
			return nil, &CalibrationError{Technique: r.tech, Msg: fmt.Sprintf("the model's input %q has an unknown dimension %d besides the batch", in.Name, i)}
		}
		tail = append(tail, int(d.Value))
	}
	d := *ds // Fit reshapes; never touch the caller's dataset
	if in.Shape != nil {
		if err := d.Fit(tail); err != nil {
			return nil, &CalibrationError{Technique: r.tech, Param: "calib",
				Msg: fmt.Sprintf("the calibration dataset does not fit the model's input %q (samples of shape %v)", in.Name, tail), Err: err}
		}
	}
	want := int(p.get("calib").Int)
	if d.N < want {
		r.note("", "calibrated on all %d samples of the calibration dataset (calib=%d asks for more)", d.N, want)
		want = d.N
	}
	if r.opts.Seed == 0 {
		return d.Subset(0, want), nil
	}
	rng := rand.New(rand.NewPCG(uint64(r.opts.Seed), 0x7e57))
	pick := rng.Perm(d.N)[:want]
	slices.Sort(pick)
	out := &dataset.Dataset{N: want, Shape: d.Shape, X: make([]float32, 0, want*d.SampleLen())}
	for _, i := range pick {
		out.X = append(out.X, d.Sample(i)...)
	}
	return out, nil
}

// runBatches runs the model (and ref, when not nil) over the samples, calling f with each
// batch's outputs.
func runBatches(r *run, em, ref *engine.Model, ds *dataset.Dataset, f func(outs, refOuts []*engine.Tensor)) error {
	batch := min(calibBatch, ds.N)
	plans := map[int]*engine.Plan{}
	refPlans := map[int]*engine.Plan{}
	defer func() {
		for _, p := range plans {
			p.Close()
		}
		for _, p := range refPlans {
			p.Close()
		}
	}()
	shape := append([]int{0}, ds.Shape...)
	for lo := 0; lo < ds.N; lo += batch {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		hi := min(lo+batch, ds.N)
		p := plans[hi-lo]
		if p == nil {
			var err error
			if p, err = em.PlanBatch(hi - lo); err != nil {
				return fmt.Errorf("%s: calibration: %w", r.tech, err)
			}
			plans[hi-lo] = p
		}
		shape[0] = hi - lo
		in := engine.Wrap(ds.X[lo*ds.SampleLen():hi*ds.SampleLen()], shape...)
		outs, err := p.Run(r.ctx, in)
		if err != nil {
			return fmt.Errorf("%s: calibration: %w", r.tech, err)
		}
		var refOuts []*engine.Tensor
		if ref != nil {
			rp := refPlans[hi-lo]
			if rp == nil {
				if rp, err = ref.PlanBatch(hi - lo); err != nil {
					return fmt.Errorf("%s: calibration: %w", r.tech, err)
				}
				refPlans[hi-lo] = rp
			}
			if refOuts, err = rp.Run(r.ctx, in); err != nil {
				return fmt.Errorf("%s: calibration: %w", r.tech, err)
			}
		}
		f(outs, refOuts)
	}
	return nil
}

func observeMinMax(st *tensorStats, v []float32) {
	for _, x := range v {
		if x != x {
			continue
		}
		if !st.seen {
			st.min, st.max, st.seen = x, x, true
		}
		st.min, st.max = min(st.min, x), max(st.max, x)
	}
}

// observePercentile histograms x over [min, max].
func observePercentile(st *tensorStats, v []float32) {
	width := float64(st.max-st.min) / histBins
	if width <= 0 {
		return
	}
	for _, x := range v {
		if x != x {
			continue
		}
		i := int(float64(x-st.min) / width)
		st.hist[min(max(i, 0), histBins-1)]++
	}
}

// observeEntropy histograms x (never-negative tensors) or |x| over [0, histMax]. Exact zeros
// are left out: quantization represents them exactly (the zero point), and the spike a Relu
// makes there would otherwise pull the threshold far down.
func observeEntropy(st *tensorStats, v []float32) {
	if st.histMax <= 0 {
		return
	}
	width := float64(st.histMax) / histBins
	for _, x := range v {
		if x != x || x == 0 {
			continue
		}
		i := int(math.Abs(float64(x)) / width)
		st.hist[min(i, histBins-1)]++
	}
}

// percentileRange keeps pct % of the values: it cuts (100 − pct)/2 % of them at each end, or
// (100 − pct) % at the top for a tensor that is never negative (which keeps its minimum, 0).
func (st *tensorStats) percentileRange(pct float64) (float32, float32) {
	var total float64
	for _, c := range st.hist {
		total += c
	}
	if total == 0 || st.max == st.min {
		return st.min, st.max
	}
	width := float64(st.max-st.min) / histBins
	cut := total * (100 - pct) / 100
	if st.min < 0 {
		cut /= 2
	}
	// Upper bound: the smallest edge with at most cut values above it.
	hi := st.max
	var above float64
	for i := histBins - 1; i >= 0; i-- {
		if above+st.hist[i] > cut {
			frac := (cut - above) / st.hist[i]
			hi = st.min + float32((float64(i+1)-frac)*width)
			break
		}
		above += st.hist[i]
	}
	lo := st.min
	if st.min < 0 {
		var below float64
		for i := range histBins {
			if below+st.hist[i] > cut {
				frac := (cut - below) / st.hist[i]
				lo = st.min + float32((float64(i)+frac)*width)
				break
			}
			below += st.hist[i]
		}
	}
	return lo, hi
}

// entropyRange picks the threshold whose clipped and quantized distribution is closest (in KL
// divergence) to the observed one, as TensorRT's entropy calibrator does: over [0, T] with 256
// levels for tensors that are never negative, over [−T, T] with 128 levels a side otherwise.
func (st *tensorStats) entropyRange() (float32, float32) {
	if st.histMax <= 0 {
		return st.min, st.max
	}
	levels := 128
	if st.min >= 0 {
		levels = 256
	}
	bins := klThreshold(st.hist, levels)
	t := float32(float64(bins) * float64(st.histMax) / histBins)
	if st.min >= 0 {
		return 0, min(t, st.max)
	}
	return max(-t, st.min), min(t, st.max)
}

// klThreshold returns the number of histogram bins to keep (≥ levels) minimising
// KL(P‖Q), P the histogram clipped there (outliers folded into the last bin) and Q P's
// quantization to levels bins spread back over the non-empty bins.
func klThreshold(hist []float64, levels int) int {
	n := len(hist)
	if n <= levels {
		return n
	}
	best, bestKL := n, math.Inf(1)
	p := make([]float64, n)
	q := make([]float64, n)
	var suffix float64
	tail := make([]float64, n+1) // tail[i] = sum of hist[i:]
	for i := n - 1; i >= 0; i-- {
		suffix += hist[i]
		tail[i] = suffix
	}
	for i := levels; i <= n; i++ {
		copy(p, hist[:i])
		p[i-1] += tail[i]
		// Quantize hist[:i] into levels chunks, each spread evenly over its non-empty bins.
		for j := range levels {
			start := j * i / levels
			stop := (j + 1) * i / levels
			var sum float64
			nonzero := 0
			for k := start; k < stop; k++ {
				sum += hist[k]
				if p[k] != 0 {
					nonzero++
				}
			}
			for k := start; k < stop; k++ {
				q[k] = 0
				if p[k] != 0 && nonzero > 0 {
					q[k] = sum / float64(nonzero)
				}
			}
		}
		var ps, qs float64
		for k := range i {
			ps += p[k]
			qs += q[k]
		}
		if ps == 0 || qs == 0 {
			continue
		}
		var kl float64
		for k := range i {
			if p[k] == 0 {
				continue
			}
			pk := p[k] / ps
			qk := q[k] / qs
			if qk <= 0 {
				qk = 1e-12
			}
			kl += pk * math.Log(pk/qk)
		}
		if kl < bestKL {
			best, bestKL = i, kl
		}
	}
	return best
}
