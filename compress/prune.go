package compress

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/gonum/blas/blas64"

	"github.com/tinymlaas/tinyml/internal/onnx"
)

// hessianSamples is how many calibration samples data-aware pruning reads: input statistics
// settle long before that, and the cost grows with every sample.
const hessianSamples = 64

// applyPrune zeroes weights of every Conv, Gemm and MatMul until the target share of them is
// zero. Two choices: how many each layer loses (scope) and which (method).
//
// scope=layer prunes every layer to the target; scope=global ranks all weights together by
// magnitude; scope=lamp ranks them by LAMP score (Lee et al., 2021: a weight's square over the
// sum of the squares of its layer's weights at least as large), which compares layers of very
// different scale fairly and spares small, sensitive layers (depthwise, first and last).
//
// method=magnitude zeroes the smallest weights of each layer; method=obs also uses calibration
// data: it zeroes the weights whose removal changes the layer's output least and adjusts the
// remaining weights and the bias to compensate (SparseGPT); method=auto is obs when a
// calibration dataset is given and magnitude otherwise.
func applyPrune(r *run, p params) error {
	layers := r.layers()
	if len(layers) == 0 {
		return r.modelError("", "the model has no Conv, Gemm or MatMul with constant float32 weights to prune")
	}
	sparsity := p.get("sparsity").Float
	method := p.get("method").Enum
	if method == "auto" {
		method = "magnitude"
		if r.opts.Calib != nil {
			method = "obs"
		}
	}
	if method == "obs" && r.opts.Calib == nil {
		return &CalibrationError{Technique: r.tech, Param: "method",
			Msg: "method=obs needs a calibration dataset (Options.Calib; tinyml compress --calib FILE); method=magnitude does not"}
	}
	weights := make([][]float32, len(layers))
	for i, l := range layers {
		_, weights[i] = r.floatInit(l.w)
	}
	// Layers of small fan-in (3×3 depthwise, a first layer on a one-channel image) hold few
	// weights, each of which matters a lot: the others take their share, when they can.
	minFanIn := int(p.get("min_fan_in").Int)
	total, small := 0, 0
	spared := make([]bool, len(layers))
	for i, l := range layers {
		total += len(weights[i])
		if l.perChannel() < minFanIn {
			spared[i] = true
			small += len(weights[i])
		}
	}
	target := sparsity
	if small > 0 && total > small && sparsity*float64(total)/float64(total-small) <= 0.95 {
		target = sparsity * float64(total) / float64(total-small)
		var names []string
		for i, l := range layers {
			if spared[i] {
				names = append(names, l.node.Label())
			}
		}
		r.note("", "not pruned (fewer than %d weights per output channel): %s", minFanIn, strings.Join(names, ", "))
	} else {
		clear(spared)
	}
	var rest [][]float32
	for i, w := range weights {
		if !spared[i] {
			rest = append(rest, w)
		}
	}
	restCounts := allocate(rest, target, p.get("scope").Enum)
	counts := make([]int, len(layers))
	for i, j := 0, 0; i < len(layers); i++ {
		if !spared[i] {
			counts[i] = restCounts[j]
			j++
		}
	}
	var ref *onnx.Model
	if method == "obs" {
		ref = r.m.Clone() // the model before pruning: each layer aims at its outputs there
	}
	var per []string
	for i, l := range layers {
		v := weights[i]
		var h *layerHessian
		if method == "obs" && counts[i] > 0 {
			// Layer by layer, each on the inputs the already pruned layers before it produce,
			// so that it also compensates their error.
			hs, err := r.hessians([]layer{l}, hessianSamples, ref)
			if err != nil {
				return err
			}
			h = hs[l.node]
		}
		if h != nil {
			if err := r.obsLayer(l, v, h, float64(counts[i])/float64(len(v))); err != nil {
				r.note(l.node.Label(), "%v: pruned by magnitude", err)
				pruneSmallest(v, counts[i])
			}
		} else {
			pruneSmallest(v, counts[i])
		}
		zeros := 0
		for _, x := range v {
			if x == 0 {
				zeros++
			}
		}
		t := r.init(l.w)
		r.setInit(onnx.FromSlice(t.Name, t.Dims, v))
		per = append(per, fmt.Sprintf("%s %.2f", l.node.Label(), float64(zeros)/float64(len(v))))
		if zeros == len(v) && len(v) > 0 {
			r.note(l.node.Label(), "every weight of the layer is zero: lower the sparsity or use scope=lamp")
		}
	}
	r.note("", "%s pruning, sparsity per layer: %s", method, strings.Join(per, ", "))
	return nil
}

// allocate decides how many weights each layer loses.
func allocate(weights [][]float32, sparsity float64, scope string) []int {
	counts := make([]int, len(weights))
	total := 0
	for _, v := range weights {
		total += len(v)
	}
	if scope == "layer" {
		for i, v := range weights {
			counts[i] = int(math.Round(sparsity * float64(len(v))))
		}
		return counts
	}
	type ref struct {
		score    float64
		layer, i int
	}
	refs := make([]ref, 0, total)
	for li, v := range weights {
		order := magnitudeOrder(v)
		var suffix float64
		scores := make([]float64, len(order))
		for j := len(order) - 1; j >= 0; j-- {
			x := float64(v[order[j]])
			if scope == "global" {
				scores[j] = math.Abs(x)
				continue
			}
			suffix += x * x
			if suffix > 0 {
				scores[j] = x * x / suffix
			}
		}
		for j, i := range order {
			refs = append(refs, ref{scores[j], li, i})
		}
	}
	slices.SortFunc(refs, func(a, b ref) int {
		return cmp.Or(cmp.Compare(a.score, b.score), cmp.Compare(a.layer, b.layer), cmp.Compare(a.i, b.i))
	})
	for _, rf := range refs[:int(math.Round(sparsity*float64(total)))] {
		counts[rf.layer]++
	}
	return counts
}

// magnitudeOrder returns the indices of v from the smallest magnitude up (ties by index).
func magnitudeOrder(v []float32) []int {
	order := make([]int, len(v))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Compare(math.Abs(float64(v[a])), math.Abs(float64(v[b])))
	})
	return order
}

func pruneSmallest(v []float32, k int) {
	for _, i := range magnitudeOrder(v)[:k] {
		v[i] = 0
	}
}

// obsLayer prunes one layer's weights (in place) and bias with obsPrune, group by group.
func (r *run) obsLayer(l layer, v []float32, h *layerHessian, sparsity float64) error {
	rows := l.channels()
	k := l.perChannel()
	groups := len(h.groups)
	if groups == 0 || rows%groups != 0 || h.k != k {
		return fmt.Errorf("input statistics of %d values do not match %d weights per channel", h.k, k)
	}
	w := rowsOf(l, v) // one row per output channel
	if l.axis == 0 {
		w = slices.Clone(v)
	}
	bias := l.bias
	if bias == "" && len(l.node.Inputs) < 3 && l.node.OpType != "MatMul" {
		// No bias yet: give it one, for the compensation to go into.
		bias = r.unique(r.names(), l.w+"_bias")
		r.g.Initializers = append(r.g.Initializers, onnx.FromSlice(bias, []int64{int64(rows)}, make([]float32, rows)))
		l.node.Inputs = append(l.node.Inputs, bias)
	}
	var b []float32
	if bias != "" {
		_, b = r.floatInit(bias)
	}
	mg := rows / groups
	n := k
	if b != nil {
		n = k + 1 // the bias is a column fed a constant 1: it absorbs compensation
	}
	ms := make([]*obsMatrix, groups)
	for g := range groups {
		m := make([]float64, mg*n)
		for i := range mg {
			for j := range k {
				m[i*n+j] = float64(w[(g*mg+i)*k+j])
			}
			if b != nil {
				m[i*n+k] = float64(b[g*mg+i])
			}
		}
		var cross *blas64.General
		if h.cross != nil {
			cross = &h.cross[g]
		}
		o, err := newOBS(m, mg, n, k, h.groups[g], cross)
		if err != nil {
			return err
		}
		ms[g] = o
	}
	obsPrune(ms, sparsity)
	for g, o := range ms {
		for i := range mg {
			for j := range k {
				w[(g*mg+i)*k+j] = float32(o.w[i*n+j])
			}
			if b != nil {
				b[g*mg+i] = float32(o.w[i*n+k])
			}
		}
	}
	if l.axis == 0 {
		copy(v, w)
	} else {
		kk, nn := int(l.dims[0]), int(l.dims[1])
		for i := range kk {
			for j := range nn {
				v[i*nn+j] = w[j*kk+i]
			}
		}
	}
	if b != nil {
		t := r.init(bias)
		r.setInit(onnx.FromSlice(t.Name, t.Dims, b))
	}
	return nil
}

var onlyLayer = -1

var allocWanda = false
