package compress

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/tinymlaas/tinyml/internal/dataset"
	"github.com/tinymlaas/tinyml/internal/engine"
	"github.com/tinymlaas/tinyml/internal/onnx"
	"github.com/tinymlaas/tinyml/internal/pack"
)

// Figures are the static figures of a compiled model: what it stores and what one inference
// costs, known without running it on a device.
type Figures struct {
	// Params counts weight elements: every initializer except quantization scales and zero
	// points and integer shape constants. NonZeroParams counts those that are not 0.
	Params        int64 `json:"params"`
	NonZeroParams int64 `json:"nonzero_params"`
	// MACs is the multiply-accumulates of one inference of one sample (the engine's plan at
	// batch 1).
	MACs int64 `json:"macs"`
	// ONNXBytes is the size of the ONNX file; PackedBytes of the packed artifact a device
	// installs (internal/pack); GzipBytes of the ONNX file gzipped (level 9), the usual "how
	// much would a generic compressor save" reference.
	ONNXBytes   int64 `json:"onnx_bytes"`
	PackedBytes int64 `json:"packed_bytes"`
	GzipBytes   int64 `json:"gzip_bytes"`
	// ArenaBytes is the activation memory of one inference at batch 1 (activations and scratch,
	// reused by lifetime).
	ArenaBytes int64 `json:"arena_bytes"`
}

// Measure computes a model's figures. The engine must be able to plan the model at batch 1.
func Measure(m *onnx.Model) (Figures, error) {
	b, err := m.Encode()
	if err != nil {
		return Figures{}, err
	}
	packed, err := pack.Encode(m)
	if err != nil {
		return Figures{}, err
	}
	return measureModel(m, b, packed)
}

func measureModel(m *onnx.Model, onnxBytes, packed []byte) (Figures, error) {
	f := Figures{ONNXBytes: int64(len(onnxBytes)), PackedBytes: int64(len(packed))}
	var z bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
	zw.Write(onnxBytes)
	zw.Close()
	f.GzipBytes = int64(z.Len())
	f.Params, f.NonZeroParams = countParams(m.Graph)
	em, err := engine.Compile(m)
	if err != nil {
		return f, fmt.Errorf("%w: %w", errNoPlan, err)
	}
	p, err := em.PlanBatch(1)
	if err != nil {
		return f, fmt.Errorf("%w: %w", errNoPlan, err)
	}
	defer p.Close()
	f.MACs, f.ArenaBytes = p.MACs(), int64(p.ArenaBytes())
	return f, nil
}

// errNoPlan marks figures without MACs and arena: the engine could not plan the model.
var errNoPlan = errors.New("MACs and arena unknown: the engine cannot plan the model")

// countParams counts weight elements and the nonzero ones.
func countParams(g *onnx.Graph) (total, nonzero int64) {
	qparam := map[string]bool{} // scales and zero points
	for _, n := range g.Nodes {
		if (n.OpType == "QuantizeLinear" || n.OpType == "DequantizeLinear") && n.Domain == "" {
			for _, in := range n.Inputs[1:] {
				qparam[in] = true
			}
		}
	}
	for _, t := range g.Initializers {
		if qparam[t.Name] || t.DType == onnx.Int64 || t.DType == onnx.String || t.DType.Size() == 0 {
			continue
		}
		total += t.NumElems()
		size := t.DType.Size()
		for i := 0; i+size <= len(t.Raw); i += size {
			e := t.Raw[i : i+size]
			zero := true
			for _, x := range e {
				zero = zero && x == 0
			}
			// -0.0 is zero too.
			if !zero && (t.DType == onnx.Float || t.DType == onnx.Float16) {
				zero = allZeroButSign(e)
			}
			if !zero {
				nonzero++
			}
		}
	}
	return total, nonzero
}

func allZeroButSign(e []byte) bool {
	for i, x := range e {
		if i == len(e)-1 {
			x &= 0x7f
		}
		if x != 0 {
			return false
		}
	}
	return true
}

// Artifact is a compiled model: the compressed ONNX model, its packed form, figures and notes.
type Artifact struct {
	Spec    string       `json:"spec"` // the chain, canonical
	Model   *onnx.Model  `json:"-"`
	ONNX    []byte       `json:"-"`
	Packed  []byte       `json:"-"`
	Figures Figures      `json:"figures"`
	Tensors []TensorInfo `json:"tensors"`
	Notes   []Note       `json:"notes"`
}

// TensorInfo says how the packed artifact stores one initializer.
type TensorInfo = pack.TensorInfo

// Compile optimises, compresses and packs a model: the compile step of a run.
func Compile(ctx context.Context, m *onnx.Model, chain Chain, opts Options) (*Artifact, error) {
	res, err := Apply(ctx, m, chain, opts)
	if err != nil {
		return nil, err
	}
	b, err := res.Model.Encode()
	if err != nil {
		return nil, err
	}
	packed, infos, err := pack.EncodeInfo(res.Model)
	if err != nil {
		return nil, err
	}
	f, err := measureModel(res.Model, b, packed)
	switch {
	case errors.Is(err, errNoPlan):
		// The model may still run elsewhere (onnxruntime, a user's toolchain): say so, go on.
		res.Notes = append(res.Notes, Note{Step: len(chain) - 1, Technique: "compile", Msg: err.Error()})
	case err != nil:
		return nil, err
	}
	return &Artifact{Spec: chain.String(), Model: res.Model, ONNX: b, Packed: packed, Figures: f, Tensors: infos, Notes: res.Notes}, nil
}

// FileOptions are Options for CompileFile, with the calibration dataset given as a file.
type FileOptions struct {
	Calib string // calibration dataset file (.csv, .npy, .npz or a directory); "" for none
	Seed  int64
}

// CompileFile is Compile for files: the model is an ONNX file or a packed artifact, the
// calibration dataset any format internal/dataset reads.
func CompileFile(ctx context.Context, modelPath string, chain Chain, opts FileOptions) (*Artifact, error) {
	m, err := LoadModel(modelPath)
	if err != nil {
		return nil, err
	}
	o := Options{Seed: opts.Seed}
	if opts.Calib != "" {
		ds, err := dataset.Load(opts.Calib)
		if err != nil {
			return nil, &CalibrationError{Technique: "compress", Param: "calib", Msg: "cannot read the calibration dataset", Err: err}
		}
		o.Calib = ds
	}
	return Compile(ctx, m, chain, o)
}

// LoadModel reads an ONNX file or a packed artifact (told apart by pack.Magic).
func LoadModel(path string) (*onnx.Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read model: %w", err)
	}
	if pack.IsPacked(b) {
		m, err := pack.Decode(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return m, nil
	}
	return onnx.Load(path)
}
