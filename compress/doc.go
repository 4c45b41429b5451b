// Package compress is the compression catalogue: what each technique does to a model, its
// parameters, and Apply, which performs a technique or a chain of them on an ONNX model.
//
// # Techniques and chains
//
// Catalogue lists the techniques (none, fp16, int8-dynamic, int8-static, prune, prune-channels,
// cluster, lowrank) with typed parameters, defaults and allowed values. A spec names one or a
// chain, applied left to right:
//
//	int8-static
//	prune(sparsity=0.5) | int8-static(calib=200) | cluster(bits=3)
//
// Parse checks names, values and order (nothing that needs float32 weights after int8
// quantization; cluster is the exception and clusters the int8 values) and Chain.String prints
// the canonical form, which Parse reads back to an equal chain. Errors are typed: *SyntaxError
// (with the position and what was expected), *UnknownTechniqueError, *ParamError (naming the
// technique, the parameter and the allowed values), *ChainError, *ModelError and
// *CalibrationError, matching ErrSyntax, ErrUnknownTechnique, ErrBadParam, ErrBadChain,
// ErrModel and ErrCalibration.
//
// # What Apply writes
//
// Apply never modifies its input. Every chain starts with the lossless clean-up of none. The
// result is standard ONNX that the engine and onnxruntime both run, with the model's opsets:
// float16 weights are FLOAT16 initializers behind a Cast, int8 weights are int8 initializers
// behind DequantizeLinear (per channel, or per group through a Reshape), and int8-static is
// onnxruntime's QDQ form (QuantizeLinear/DequantizeLinear pairs on the activations of every
// Conv, Gemm and MatMul, int32 biases at scale input·weight). Pruned and clustered weights stay
// float32 (or int8) in the ONNX file; the packed artifact (internal/pack) is where they shrink.
//
// Techniques that read data (int8-static; prune and cluster with method=obs, which auto picks
// when Options.Calib is set) run the model in the engine over calibration samples.
//
// # Compiling
//
// Compile is the compile step of a run: Apply, then the ONNX bytes, the packed artifact and the
// static Figures (parameters, nonzero parameters, MACs, ONNX / packed / gzip bytes, activation
// arena). CompileFile does the same from files.
package compress
