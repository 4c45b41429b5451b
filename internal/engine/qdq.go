package engine

// fuseQDQ recognises quantized (QDQ) patterns around Conv, Gemm and MatMul and replaces them
// with fused integer operators. Until those land, QDQ graphs run through the reference
// QuantizeLinear/DequantizeLinear operators.
func (g *graph) fuseQDQ() {}
