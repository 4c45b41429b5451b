package engine

import "github.com/tinymlaas/tinyml/internal/onnx"

// CompileWithoutQDQFusion compiles like Compile but leaves quantized patterns to the reference
// QuantizeLinear/DequantizeLinear/QLinear* operators: the oracle of the fused integer path.
func CompileWithoutQDQFusion(om *onnx.Model) (*Model, error) {
	g, err := importGraph(om)
	if err != nil {
		return nil, err
	}
	g.foldConstants()
	g.dropIdentities()
	g.foldBatchNorm()
	g.foldInputScale()
	g.fuseActivations()
	return &Model{g: g, threads: 1}, nil
}

// FusedOps lists the operators of a compiled model's graph, fused ones included.
func FusedOps(m *Model) []string {
	var ops []string
	for _, n := range m.g.nodes {
		ops = append(ops, n.op)
	}
	return ops
}
