package tinyml

import (
	"github.com/tinymlaas/tinyml/internal/dataset"
	"github.com/tinymlaas/tinyml/internal/engine"
	"github.com/tinymlaas/tinyml/internal/onnx"
)

// Errors callers can test with errors.Is and errors.As.
var (
	// ErrUnsupported: the engine cannot run an operator, attribute or element type of the model.
	ErrUnsupported = engine.ErrUnsupported
	// ErrShape: inputs or a dataset do not fit the model.
	ErrShape = engine.ErrShape
	// ErrDatasetShape: a dataset's samples do not have as many values as the model's input.
	ErrDatasetShape = dataset.ErrShape
	// ErrMalformedModel: the bytes are not an ONNX model.
	ErrMalformedModel = onnx.ErrMalformed
	// ErrInvalidModel: the model breaks ONNX's rules (undefined inputs, cycles, type conflicts).
	ErrInvalidModel = onnx.ErrInvalid
	// ErrDatasetFormat: a dataset file is not in the format its name says.
	ErrDatasetFormat = dataset.ErrFormat
)

// UnsupportedOpError names the operator, node and opset the engine refused.
type UnsupportedOpError = engine.UnsupportedOpError
