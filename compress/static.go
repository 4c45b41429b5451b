package compress

import (
	"math"

	"github.com/tinymlaas/tinyml/internal/onnx"
)

// applyInt8Static writes the model in onnxruntime's QDQ form: each activation read or written
// by a Conv, Gemm or MatMul goes through QuantizeLinear → DequantizeLinear with a per-tensor
// scale and zero point from calibration; weights are int8 per output channel (symmetric) behind
// a DequantizeLinear; biases are int32 with scale input_scale·weight_scale. A Relu (or a Clip
// from 0) after a layer is dropped when the quantization of its output already clamps at zero,
// as onnxruntime's quantizer does. The model's outputs stay float32.
func applyInt8Static(r *run, p params) error {
	if err := r.needQuantOpset(); err != nil {
		return err
	}
	layers := r.layers()
	if len(layers) == 0 {
		return r.noLayersToQuantize()
	}
	qmin, qmax, actType := int32(0), int32(255), onnx.Uint8
	if p.get("activations").Enum == "int8" {
		qmin, qmax, actType = -128, 127, onnx.Int8
	}

	// The activations to quantize: each layer's input, and its output (after a Relu/Clip that
	// only it feeds, which may then be dropped).
	type activation struct {
		name string
		act  *onnx.Node // a Relu/Clip to drop when quantization clamps like it, or nil
	}
	var acts []activation
	seen := map[string]bool{}
	add := func(a activation) {
		if a.name == "" || seen[a.name] || r.isOutput(a.name) || r.init(a.name) != nil {
			return
		}
		seen[a.name] = true
		acts = append(acts, a)
	}
	for _, l := range layers {
		add(activation{name: l.node.Inputs[0]})
		out := l.node.Outputs[0]
		if act := r.removableActivation(out); act != nil {
			add(activation{name: act.Outputs[0], act: act})
		} else {
			add(activation{name: out})
		}
	}
	names := make([]string, len(acts))
	for i, a := range acts {
		names[i] = a.name
	}
	ranges, err := r.calibrate(names, p)
	if err != nil {
		return err
	}

	taken := r.names()
	type actScale struct {
		scale float32
		name  string
	}
	scaleOf := map[string]actScale{} // dequantized activation → its scale, for biases
	for _, a := range acts {
		rg, ok := ranges[a.name]
		if !ok {
			r.note(a.name, "not float32 at run time: left unquantized")
			continue
		}
		qp := asymmetricParams(rg[0], rg[1], qmin, qmax, false)
		src := a.name
		if a.act != nil && qp.zp == qmin {
			// Quantization saturates at the zero point's value 0, and at the range's top, which
			// is inside the Clip's: it does what the activation did.
			src = a.act.Inputs[0]
		}
		sName := r.unique(taken, a.name+"_scale")
		zName := r.unique(taken, a.name+"_zero_point")
		qName := r.unique(taken, a.name+"_quantized")
		dqName := r.unique(taken, a.name+"_dequantized")
		r.g.Initializers = append(r.g.Initializers,
			onnx.FromSlice(sName, []int64{}, []float32{qp.scale}), zeroPointScalar(zName, actType, qp.zp))
		q := &onnx.Node{OpType: "QuantizeLinear",
			Inputs: []string{src, sName, zName}, Outputs: []string{qName}}
		dq := &onnx.Node{OpType: "DequantizeLinear",
			Inputs: []string{qName, sName, zName}, Outputs: []string{dqName}}
		r.renameUses(a.name, dqName, q)
		if src != a.name {
			r.insertAfter(r.producer(src), q, dq)
			r.removeNode(a.act)
		} else if prod := r.producer(a.name); prod != nil {
			r.insertAfter(prod, q, dq)
		} else {
			r.insertBefore(firstNode(r), q, dq)
		}
		scaleOf[dqName] = actScale{qp.scale, sName}
	}

	for _, l := range layers {
		q, swName := r.quantizeWeights(l, taken, true, 0)
		sx, ok := scaleOf[l.node.Inputs[0]]
		if l.bias == "" || !ok {
			continue
		}
		r.quantizeBias(l, q, sx.scale, sx.name, swName, taken)
	}
	return nil
}

func firstNode(r *run) *onnx.Node {
	if len(r.g.Nodes) == 0 {
		return nil
	}
	return r.g.Nodes[0]
}

func zeroPointScalar(name string, dt onnx.DType, zp int32) *onnx.Tensor {
	if dt == onnx.Int8 {
		return onnx.FromSlice(name, []int64{}, []int8{int8(zp)})
	}
	return onnx.FromSlice(name, []int64{}, []uint8{uint8(zp)})
}

// removableActivation returns the Relu, or Clip with a lower bound 0, that alone reads out, if
// out has no other reader and the activation's output is not a model output.
func (r *run) removableActivation(out string) *onnx.Node {
	if !r.exclusive(out) {
		return nil
	}
	c := r.consumers(out)
	if len(c) != 1 {
		return nil
	}
	n := c[0]
	if n.Domain != "" || len(n.Outputs) != 1 || r.isOutput(n.Outputs[0]) || n.Inputs[0] != out {
		return nil
	}
	switch n.OpType {
	case "Relu":
		return n
	case "Clip":
		if r.m.OpsetVersion("") < 11 {
			if n.AttrFloat("min", float32(math.Inf(-1))) == 0 {
				return n
			}
			return nil
		}
		if len(n.Inputs) < 2 || n.Inputs[1] == "" {
			return nil
		}
		_, lo := r.floatInit(n.Inputs[1])
		if len(lo) != 1 || lo[0] != 0 {
			return nil
		}
		if len(n.Inputs) > 2 && n.Inputs[2] != "" {
			if _, hi := r.floatInit(n.Inputs[2]); len(hi) != 1 {
				return nil
			}
		}
		return n
	}
	return nil
}

// quantizeBias stores a layer's bias as int32 at scale input_scale·weight_scale[channel] (what
// QLinearConv and onnxruntime's fused kernels add to their int32 accumulators). The scale is not
// stored: a Mul of the two scales computes it, and both the engine and onnxruntime fold it at load.
func (r *run) quantizeBias(l layer, wq quantized, sx float32, sxName, swName string, taken map[string]bool) {
	_, b := r.floatInit(l.bias)
	if len(b) != len(wq.params) {
		return
	}
	qb := make([]int32, len(b))
	for i, v := range b {
		s := sx * wq.params[i].scale
		q := math.RoundToEven(float64(v / s))
		if s == 0 || math.Abs(q) > math.MaxInt32/2 {
			r.note(l.node.Label(), "bias too large for int32 at its scale: left float32")
			return
		}
		qb[i] = int32(q)
	}
	qName := r.unique(taken, l.bias+"_quantized")
	sName := r.unique(taken, l.bias+"_scale")
	r.removeInit(l.bias)
	r.g.Initializers = append(r.g.Initializers, onnx.FromSlice(qName, []int64{int64(len(qb))}, qb))
	mul := &onnx.Node{OpType: "Mul",
		Inputs: []string{sxName, swName}, Outputs: []string{sName}}
	dq := &onnx.Node{OpType: "DequantizeLinear",
		Inputs: []string{qName, sName}, Outputs: []string{l.bias}, Attrs: []onnx.Attr{attrInt("axis", 0)}}
	r.insertBefore(l.node, mul, dq)
}
