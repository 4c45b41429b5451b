package compress

import (
	"math"
	"slices"
	"sort"

	"gonum.org/v1/gonum/blas/blas64"

	"github.com/tinymlaas/tinyml/internal/onnx"
)

// clusterTarget is one weight tensor to cluster.
type clusterTarget struct {
	name    string     // the initializer
	l       *layer     // the layer it feeds, when its layout is known (for error feedback)
	integer bool       // int8/uint8 values (after quantization)
	scales  []float32  // integer targets of a layer: each output channel's scale
	dtype   onnx.DType // of the initializer
	dims    []int64
	vals    []float64
	keep    bool // zeros stay zeros
}

// applyCluster replaces each layer's weights by at most 2^bits shared values per layer: the
// shared values come from 1-D k-means (linear initialisation, Lloyd iterations; deterministic).
// Zeros stay zeros, so pruning survives: when a layer is sparse enough its nonzero weights get
// all 2^bits values (the packer stores a bitmask and indices); otherwise 0 is one of them. After
// int8 quantization the int8 values are clustered (the shared values are integers, the
// per-channel scales stay).
//
// With calibration data (method=obs, or auto with Options.Calib) each weight goes to a shared
// value in turn and the error it makes is compensated by the weights of the same channel not yet
// assigned, using the layer's input statistics (GPTQ's error feedback): much closer outputs than
// assigning every weight to its nearest shared value (method=nearest).
func applyCluster(r *run, p params) error {
	bits := int(p.get("bits").Int)
	k := 1 << bits
	iters := int(p.get("iterations").Int)
	method := p.get("method").Enum
	if method == "auto" {
		method = "nearest"
		if r.opts.Calib != nil {
			method = "obs"
		}
	}
	if method == "obs" && r.opts.Calib == nil {
		return &CalibrationError{Technique: r.tech, Param: "method",
			Msg: "method=obs needs a calibration dataset (Options.Calib; tinyml compress --calib FILE); method=nearest does not"}
	}
	targets := r.clusterTargets()
	if len(targets) == 0 {
		return r.modelError("", "the model has no Conv, Gemm or MatMul weights (float32, or int8 behind DequantizeLinear) to cluster")
	}
	var ref *onnx.Model
	if method == "obs" {
		ref = r.m.Clone() // before clustering: each layer aims at its outputs there
	}
	minFanIn := int(p.get("min_fan_in").Int)
	for _, t := range targets {
		k, bits := k, bits
		if t.l != nil && t.l.perChannel() < minFanIn && bits < 8 {
			bits++ // few weights that each matter more: twice the shared values
			k *= 2
		}
		book, fixed := codebook(t.vals, k, bits, iters, t.integer, t.keep)
		out := slices.Clone(t.vals)
		done := false
		if method == "obs" && t.l != nil {
			var err error
			if done, err = r.clusterOBS(t, book, fixed, out, ref); err != nil {
				return err
			}
		}
		if !done {
			for i, v := range t.vals {
				if !fixed[i] {
					out[i] = nearest(book, v)
				}
			}
		}
		r.setInit(t.tensor(out))
	}
	return nil
}

// clusterTargets lists the weights to cluster, in graph order: float32 layers, int8 layers
// (behind a per-channel DequantizeLinear), and other integer tensors DequantizeLinear reads.
func (r *run) clusterTargets() []clusterTarget {
	var out []clusterTarget
	for _, l := range r.layers() {
		t, v := r.floatInit(l.w)
		vals := make([]float64, len(v))
		for i, x := range v {
			vals[i] = float64(x)
		}
		out = append(out, clusterTarget{name: l.w, l: &l, dtype: t.DType, dims: t.Dims, vals: vals, keep: true})
	}
	seen := map[string]bool{}
	for _, n := range r.g.Nodes {
		if n.OpType != "DequantizeLinear" || n.Domain != "" || len(n.Inputs) < 2 {
			continue
		}
		t := r.constInit(n.Inputs[0])
		if t == nil || (t.DType != onnx.Int8 && t.DType != onnx.Uint8) || !r.exclusive(t.Name) || seen[t.Name] {
			continue
		}
		seen[t.Name] = true
		zeroIsZero := true
		if len(n.Inputs) > 2 && n.Inputs[2] != "" {
			if zp := r.constInit(n.Inputs[2]); zp == nil || slices.ContainsFunc(zp.Raw, func(b byte) bool { return b != 0 }) {
				zeroIsZero = false
			}
		}
		vals, _ := t.Float64s()
		ct := clusterTarget{name: t.Name, integer: true, dtype: t.DType, dims: t.Dims, vals: vals, keep: zeroIsZero}
		if l, scales, ok := r.quantLayer(n, t); ok && zeroIsZero {
			ct.l, ct.scales = &l, scales
		}
		out = append(out, ct)
	}
	return out
}

// quantLayer recognises a DequantizeLinear that gives a Conv, Gemm or MatMul its weights with one
// scale per output channel (or one for all), and returns the layer and the scales.
func (r *run) quantLayer(dq *onnx.Node, q *onnx.Tensor) (layer, []float32, bool) {
	uses := r.consumers(dq.Outputs[0])
	if len(uses) != 1 || r.isOutput(dq.Outputs[0]) {
		return layer{}, nil, false
	}
	n := uses[0]
	if !isWeightOp(n.OpType) || len(n.Inputs) < 2 || n.Inputs[1] != dq.Outputs[0] || n.Domain != "" {
		return layer{}, nil, false
	}
	l := layer{node: n, w: q.Name, dims: q.Dims}
	switch {
	case n.OpType == "Conv" && len(q.Dims) >= 3:
	case n.OpType == "Gemm" && len(q.Dims) == 2:
		if n.AttrInt("transB", 0) == 0 {
			l.axis = 1
		}
	case n.OpType == "MatMul" && len(q.Dims) == 2:
		l.axis = 1
	default:
		return layer{}, nil, false
	}
	s, sv := r.floatInit(dq.Inputs[1])
	if s == nil {
		return layer{}, nil, false
	}
	scales := make([]float32, l.channels())
	switch {
	case len(sv) == 1:
		for i := range scales {
			scales[i] = sv[0]
		}
	case len(sv) == len(scales) && int(dq.AttrInt("axis", 1)) == l.axis:
		copy(scales, sv)
	default:
		return layer{}, nil, false
	}
	return l, scales, true
}

func (t clusterTarget) tensor(vals []float64) *onnx.Tensor {
	return valuesTensor(t.name, t.dtype, t.dims, vals)
}

func valuesTensor(name string, dt onnx.DType, dims []int64, vals []float64) *onnx.Tensor {
	switch dt {
	case onnx.Int8:
		v := make([]int8, len(vals))
		for i, x := range vals {
			v[i] = int8(x)
		}
		return onnx.FromSlice(name, dims, v)
	case onnx.Uint8:
		v := make([]uint8, len(vals))
		for i, x := range vals {
			v[i] = uint8(x)
		}
		return onnx.FromSlice(name, dims, v)
	}
	v := make([]float32, len(vals))
	for i, x := range vals {
		v[i] = float32(x)
	}
	return onnx.FromSlice(name, dims, v)
}

// clusterOBS assigns a layer's weights to the codebook with error feedback. out receives the
// new values (in the tensor's layout); it reports false when the layer's input statistics are
// not available.
func (r *run) clusterOBS(t clusterTarget, book []float64, fixed []bool, out []float64, ref *onnx.Model) (bool, error) {
	l := *t.l
	hs, err := r.hessians([]layer{l}, hessianSamples, ref)
	if err != nil {
		return false, err
	}
	h := hs[l.node]
	rows, k := l.channels(), l.perChannel()
	if h == nil || len(h.groups) == 0 || rows%len(h.groups) != 0 || h.k != k {
		return false, nil
	}
	// One row per output channel, in float: integer targets are scaled by their channel's scale.
	w := make([]float64, len(t.vals))
	fx := make([]bool, len(t.vals))
	for i, v := range t.vals {
		c, j := l.channelOf(i), l.inputOf(i)
		if t.integer {
			v *= float64(t.scales[c])
		}
		w[c*k+j] = v
		fx[c*k+j] = fixed[i]
	}
	groups := len(h.groups)
	mg := rows / groups
	for g := range groups {
		var cross *blas64.General
		if h.cross != nil {
			cross = &h.cross[g]
		}
		o, err := newOBSOpt(w[g*mg*k:(g+1)*mg*k], mg, k, k, h.groups[g], cross, false)
		if err != nil {
			return false, nil
		}
		o.snap(func(row int, v float64) float64 {
			if !t.integer {
				return nearest(book, v)
			}
			s := float64(t.scales[g*mg+row])
			return s * nearest(book, v/s)
		}, fx[g*mg*k:(g+1)*mg*k])
	}
	for i := range out {
		c, j := l.channelOf(i), l.inputOf(i)
		v := w[c*k+j]
		if t.integer {
			v = nearest(book, v/float64(t.scales[c]))
		}
		if fixed[i] {
			v = 0
		}
		out[i] = v
	}
	return true, nil
}

// codebook chooses at most k shared values for vals and marks the zeros that stay zero. With
// keepZero, zeros stay: if more than 1/bits of the values are zero the nonzero ones get all k
// values (a bitmask plus bits-bit indices is then smaller), otherwise zero is one of the k.
func codebook(vals []float64, k, bits, iters int, integer, keepZero bool) ([]float64, []bool) {
	fixed := make([]bool, len(vals))
	var sub []float64
	zeros := 0
	for i, v := range vals {
		if keepZero && v == 0 {
			fixed[i] = true
			zeros++
			continue
		}
		sub = append(sub, v)
	}
	if zeros > 0 && float64(zeros)/float64(len(vals)) <= 1/float64(bits) {
		k-- // zero takes one of the k values
	}
	if len(sub) == 0 || k < 1 {
		return []float64{0}, fixed
	}
	c := kmeans1D(sub, k, iters)
	if integer {
		for j := range c {
			c[j] = math.Round(c[j])
		}
		slices.Sort(c)
		c = slices.Compact(c)
		if keepZero && zeros > 0 {
			// A rounded centroid of 0 would merge nonzero weights into the pruned ones.
			c = slices.DeleteFunc(c, func(x float64) bool { return x == 0 })
			if len(c) == 0 {
				c = []float64{-1, 1}
			}
		}
	} else {
		for j := range c {
			c[j] = float64(float32(c[j]))
		}
	}
	return c, fixed
}

// nearest returns the centroid closest to v (centroids sorted ascending).
func nearest(c []float64, v float64) float64 {
	j := sort.SearchFloat64s(c, v)
	switch {
	case j == 0:
		return c[0]
	case j == len(c):
		return c[len(c)-1]
	case v-c[j-1] <= c[j]-v:
		return c[j-1]
	}
	return c[j]
}

// kmeans1D clusters values into at most k centroids, returned sorted. Initial centroids are
// spread evenly between the minimum and maximum (linear initialisation keeps the rare large
// weights represented); Lloyd iterations then move each centroid to the mean of its values. In
// one dimension the clusters are runs of the sorted values, so each iteration is k binary
// searches over prefix sums.
func kmeans1D(vals []float64, k, iters int) []float64 {
	s := slices.Clone(vals)
	slices.Sort(s)
	distinct := slices.Compact(slices.Clone(s))
	if len(distinct) <= k {
		return distinct
	}
	prefix := make([]float64, len(s)+1)
	for i, v := range s {
		prefix[i+1] = prefix[i] + v
	}
	lo, hi := s[0], s[len(s)-1]
	c := make([]float64, k)
	if k == 1 {
		c[0] = prefix[len(s)] / float64(len(s))
		return c
	}
	for j := range c {
		c[j] = lo + (hi-lo)*float64(j)/float64(k-1)
	}
	bounds := make([]int, k+1)
	assign := func() {
		bounds[0], bounds[k] = 0, len(s)
		for j := 1; j < k; j++ {
			mid := (c[j-1] + c[j]) / 2
			bounds[j] = sort.Search(len(s), func(i int) bool { return s[i] > mid })
		}
	}
	for range iters {
		// Cluster j holds s[bounds[j]:bounds[j+1]]: the values nearer c[j] than its neighbours.
		assign()
		moved := false
		for j := range k {
			a, b := bounds[j], bounds[j+1]
			if b <= a {
				continue // empty: the centroid stays
			}
			if m := (prefix[b] - prefix[a]) / float64(b-a); m != c[j] {
				c[j], moved = m, true
			}
		}
		slices.Sort(c)
		if !moved {
			break
		}
	}
	assign()
	used := c[:0:0]
	for j := range k {
		if bounds[j+1] > bounds[j] {
			used = append(used, c[j])
		}
	}
	return used
}
