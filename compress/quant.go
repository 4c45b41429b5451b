package compress

import (
	"math"

	"github.com/tinymlaas/tinyml/internal/onnx"
)

// Weight quantization shared by int8-dynamic and int8-static, and int8-dynamic itself.

// minQuantOpset is the default-domain opset that has per-axis DequantizeLinear.
const minQuantOpset = 13

func (r *run) needQuantOpset() error {
	v := r.m.OpsetVersion("")
	if v == 0 || v >= minQuantOpset {
		return nil
	}
	return r.modelError("", "per-channel int8 needs opset %d or later (DequantizeLinear with axis); the model imports opset %d: re-export it with opset_version=%d or later",
		minQuantOpset, v, minQuantOpset)
}

func (r *run) noLayersToQuantize() error {
	for _, n := range r.g.Nodes {
		if n.OpType == "DequantizeLinear" && n.Domain == "" {
			return r.modelError("", "the model is already quantized (its weights go through DequantizeLinear): quantizing twice adds error and saves nothing")
		}
	}
	return r.modelError("", "the model has no Conv, Gemm or MatMul with constant float32 weights to quantize")
}

// halfExactScale rounds a positive scale up to the nearest value a float16 holds exactly, when
// that is a normal float16: the scale then costs two bytes in the packed artifact, and rounding
// up (by less than 0.05%) never clips a weight.
func halfExactScale(s float32) float32 {
	if !(s >= 6.2e-5 && s <= 60000) {
		return s
	}
	h := onnx.FloatToHalf(s)
	if f := onnx.HalfToFloat(h); f >= s {
		return f
	}
	return onnx.HalfToFloat(h + 1)
}

// qparams are one scale's quantization parameters.
type qparams struct {
	scale float32
	zp    int32
}

// symmetricParams: int8 in [-127, 127], zero point 0, scale = max|w| / 127.
func symmetricParams(vals []float32) qparams {
	var m float32
	for _, v := range vals {
		m = max(m, float32(math.Abs(float64(v))))
	}
	if m == 0 {
		return qparams{scale: 1}
	}
	return qparams{scale: halfExactScale(m / 127)}
}

// asymmetricParams maps [min(w,0), max(w,0)] onto [qmin, qmax].
func asymmetricParams(lo, hi float32, qmin, qmax int32, halfExact bool) qparams {
	lo, hi = min(lo, 0), max(hi, 0)
	if hi == lo {
		return qparams{scale: 1, zp: max(qmin, min(qmax, 0))}
	}
	s := (hi - lo) / float32(qmax-qmin)
	if halfExact {
		s = halfExactScale(s)
	}
	zp := int32(math.RoundToEven(float64(float32(qmin) - lo/s)))
	return qparams{scale: s, zp: max(qmin, min(qmax, zp))}
}

// quantize is ONNX QuantizeLinear of one value: saturate(round_half_even(v/s) + zp).
func quantize(v float32, p qparams, qmin, qmax int32) int32 {
	q := math.RoundToEven(float64(v/p.scale)) + float64(p.zp)
	return int32(max(float64(qmin), min(float64(qmax), q)))
}

// quantized is a weight tensor in integer form: values, per-scale parameters, and the layout
// DequantizeLinear needs.
type quantized struct {
	dtype  onnx.DType // Int8 or Uint8
	q      []int32
	params []qparams
}

// quantizeRows quantizes vals as rows of rowLen values, one scale per row.
func quantizeRows(vals []float32, rowLen int, symmetric bool) quantized {
	rows := len(vals) / rowLen
	out := quantized{dtype: onnx.Int8, q: make([]int32, len(vals)), params: make([]qparams, rows)}
	qmin, qmax := int32(-127), int32(127)
	if !symmetric {
		out.dtype, qmin, qmax = onnx.Uint8, 0, 255
	}
	for r := range rows {
		row := vals[r*rowLen : (r+1)*rowLen]
		var p qparams
		if symmetric {
			p = symmetricParams(row)
		} else {
			lo, hi := row[0], row[0]
			for _, v := range row {
				lo, hi = min(lo, v), max(hi, v)
			}
			p = asymmetricParams(lo, hi, qmin, qmax, true)
		}
		out.params[r] = p
		for i, v := range row {
			out.q[r*rowLen+i] = quantize(v, p, qmin, qmax)
		}
	}
	return out
}

// rowsOf lays out a layer's weights as one row per output channel: a copy of the weights with
// the channel axis first.
func rowsOf(l layer, w []float32) []float32 {
	if l.axis == 0 {
		return w
	}
	k, n := int(l.dims[0]), int(l.dims[1])
	t := make([]float32, len(w))
	for i := range k {
		for j := range n {
			t[j*k+i] = w[i*n+j]
		}
	}
	return t
}

func (q quantized) tensor(name string, dims []int64) *onnx.Tensor {
	if q.dtype == onnx.Uint8 {
		v := make([]uint8, len(q.q))
		for i, x := range q.q {
			v[i] = uint8(x)
		}
		return onnx.FromSlice(name, dims, v)
	}
	v := make([]int8, len(q.q))
	for i, x := range q.q {
		v[i] = int8(x)
	}
	return onnx.FromSlice(name, dims, v)
}

func (q quantized) scales(name string) *onnx.Tensor {
	v := make([]float32, len(q.params))
	for i, p := range q.params {
		v[i] = p.scale
	}
	return onnx.FromSlice(name, []int64{int64(len(v))}, v)
}

func (q quantized) zeroPoints(name string) *onnx.Tensor {
	if q.dtype == onnx.Uint8 {
		v := make([]uint8, len(q.params))
		for i, p := range q.params {
			v[i] = uint8(p.zp)
		}
		return onnx.FromSlice(name, []int64{int64(len(v))}, v)
	}
	v := make([]int8, len(q.params))
	for i, p := range q.params {
		v[i] = int8(p.zp)
	}
	return onnx.FromSlice(name, []int64{int64(len(v))}, v)
}

// quantizeWeights replaces a layer's float32 weights by integers and a DequantizeLinear whose
// output keeps the weights' name, so the layer reads float32 as before. groupSize > 0 uses one
// scale per group of that many weights of a channel (the weights are stored as
// [channels·groups, groupSize] and reshaped back, and transposed when the channel axis is 1).
func (r *run) quantizeWeights(l layer, taken map[string]bool, symmetric bool, groupSize int) (quantized, string) {
	_, w := r.floatInit(l.w)
	rows := rowsOf(l, w)
	rowLen := l.perChannel()
	grouped := groupSize > 0 && rowLen%groupSize == 0 && groupSize < rowLen
	unit := rowLen
	if grouped {
		unit = groupSize
	}
	q := quantizeRows(rows, unit, symmetric)
	base := l.w
	qName := r.unique(taken, base+"_quantized")
	sName := r.unique(taken, base+"_scale")
	r.removeInit(l.w)
	r.g.Initializers = append(r.g.Initializers, q.scales(sName))
	dq := &onnx.Node{OpType: "DequantizeLinear", Inputs: []string{qName, sName}, Attrs: []onnx.Attr{attrInt("axis", 0)}}
	if !symmetric { // symmetric int8 has zero points 0, which is DequantizeLinear's default
		zName := r.unique(taken, base+"_zero_point")
		r.g.Initializers = append(r.g.Initializers, q.zeroPoints(zName))
		dq.Inputs = append(dq.Inputs, zName)
	}
	if !grouped && l.axis == 0 {
		r.g.Initializers = append(r.g.Initializers, q.tensor(qName, l.dims))
		dq.Outputs = []string{l.w}
		r.insertBefore(l.node, dq)
		return q, sName
	}
	if !grouped { // per channel along axis 1: quantized as rows, stored in the original layout
		back := make([]int32, len(q.q))
		k, n := int(l.dims[0]), int(l.dims[1])
		for i := range k {
			for j := range n {
				back[i*n+j] = q.q[j*k+i]
			}
		}
		stored := quantized{dtype: q.dtype, q: back, params: q.params}
		r.g.Initializers = append(r.g.Initializers, stored.tensor(qName, l.dims))
		dq.Attrs = []onnx.Attr{attrInt("axis", 1)}
		dq.Outputs = []string{l.w}
		r.insertBefore(l.node, dq)
		return q, sName
	}
	groups := int64(len(q.params))
	r.g.Initializers = append(r.g.Initializers, q.tensor(qName, []int64{groups, int64(groupSize)}))
	dq.Outputs = []string{r.unique(taken, base+"_grouped")}
	rowDims := append([]int64{}, l.dims...)
	if l.axis == 1 {
		rowDims = []int64{l.dims[1], l.dims[0]}
	}
	shapeName := r.unique(taken, base+"_shape")
	r.g.Initializers = append(r.g.Initializers, onnx.FromSlice(shapeName, []int64{int64(len(rowDims))}, rowDims))
	reshape := &onnx.Node{OpType: "Reshape", Inputs: []string{dq.Outputs[0], shapeName}}
	nodes := []*onnx.Node{dq, reshape}
	if l.axis == 0 {
		reshape.Outputs = []string{l.w}
	} else {
		reshape.Outputs = []string{r.unique(taken, base+"_rows")}
		nodes = append(nodes, &onnx.Node{OpType: "Transpose",
			Inputs: reshape.Outputs, Outputs: []string{l.w}, Attrs: []onnx.Attr{attrInts("perm", []int64{1, 0})}})
	}
	r.insertBefore(l.node, nodes...)
	return q, sName
}

// applyInt8Dynamic quantizes the weights of every Conv, Gemm and MatMul; activations stay
// float32.
func applyInt8Dynamic(r *run, p params) error {
	if err := r.needQuantOpset(); err != nil {
		return err
	}
	layers := r.layers()
	if len(layers) == 0 {
		return r.noLayersToQuantize()
	}
	taken := r.names()
	symmetric := p.get("symmetric").Bool
	group := 0
	if p.get("granularity").Enum == "per-group" {
		group = int(p.get("group_size").Int)
	}
	for _, l := range layers {
		if group > 0 && (l.perChannel()%group != 0 || group >= l.perChannel()) {
			r.note(l.node.Label(), "%d weights per channel do not split into groups of %d: quantized per channel", l.perChannel(), group)
		}
		r.quantizeWeights(l, taken, symmetric, group)
	}
	return nil
}
