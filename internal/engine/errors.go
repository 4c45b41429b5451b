package engine

import (
	"errors"
	"fmt"
)

// ErrUnsupported is matched (errors.Is) by every refusal to run a model: an operator, an
// attribute value, an element type or an opset the engine does not implement.
var ErrUnsupported = errors.New("unsupported by the engine")

// UnsupportedOpError names what the engine cannot run and where.
type UnsupportedOpError struct {
	Op     string // operator type, e.g. "LSTM"
	Domain string // "" for the default ONNX domain
	Node   string // the node's name or label
	Opset  int64  // the model's opset for the domain
	Reason string // what exactly is unsupported, when it is not the operator as a whole
}

func (e *UnsupportedOpError) Error() string {
	op := e.Op
	if e.Domain != "" {
		op = e.Domain + "." + e.Op
	}
	msg := fmt.Sprintf("operator %s (node %s, opset %d) is not supported", op, e.Node, e.Opset)
	if e.Reason != "" {
		msg = fmt.Sprintf("operator %s (node %s, opset %d): %s is not supported", op, e.Node, e.Opset, e.Reason)
	}
	return msg + "; see the README's list of supported operators"
}

// Is makes errors.Is(err, ErrUnsupported) true.
func (e *UnsupportedOpError) Is(target error) bool { return target == ErrUnsupported }

// ErrShape is matched by errors about tensor shapes: inputs that do not fit the model, or
// operands an operator cannot combine.
var ErrShape = errors.New("shape mismatch")

// ShapeError explains a shape problem at a node or a graph input.
type ShapeError struct {
	Node string
	Msg  string
}

func (e *ShapeError) Error() string {
	if e.Node == "" {
		return "shape mismatch: " + e.Msg
	}
	return fmt.Sprintf("shape mismatch at node %s: %s", e.Node, e.Msg)
}

// Is makes errors.Is(err, ErrShape) true.
func (e *ShapeError) Is(target error) bool { return target == ErrShape }
