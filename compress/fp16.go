package compress

import (
	"slices"

	"github.com/tinymlaas/tinyml/internal/onnx"
)

// applyFP16 stores every float32 initializer of more than one element as FLOAT16 and inserts a
// Cast(to=FLOAT) that restores the original name, so every reader still sees float32. The
// engine folds the Cast at load; onnxruntime runs it as written.
func applyFP16(r *run, _ params) error {
	taken := r.names()
	converted := 0
	for _, t := range slices.Clone(r.g.Initializers) {
		if t.DType != onnx.Float || t.NumElems() < 2 || r.isInput(t.Name) || r.isOutput(t.Name) {
			continue
		}
		v, err := onnx.Values[float32](t)
		if err != nil {
			continue
		}
		h := make([]uint16, len(v))
		for i, x := range v {
			h[i] = onnx.FloatToHalf(x)
		}
		half := onnx.FromSlice(r.unique(taken, t.Name+"_fp16"), t.Dims, h)
		half.DType = onnx.Float16
		r.removeInit(t.Name)
		r.g.Initializers = append(r.g.Initializers, half)
		cast := &onnx.Node{
			OpType:  "Cast",
			Inputs:  []string{half.Name},
			Outputs: []string{t.Name},
			Attrs:   []onnx.Attr{attrInt("to", int64(onnx.Float))},
		}
		// Before its first reader keeps the file in order.
		var first *onnx.Node
		if c := r.consumers(t.Name); len(c) > 0 {
			first = c[0]
		}
		r.insertBefore(first, cast)
		converted++
	}
	if converted == 0 {
		r.note("", "the model has no float32 weights to convert")
	}
	return nil
}
