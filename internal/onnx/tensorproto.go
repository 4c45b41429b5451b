package onnx

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/tinymlaas/tinyml/internal/onnx/onnxpb"
)

// DecodeTensor parses one serialized TensorProto, the form ONNX's test data keeps inputs and
// expected outputs in (test_data_set_N/input_K.pb). Tensors kept as external data are refused.
func DecodeTensor(b []byte) (*Tensor, error) {
	var pt onnxpb.TensorProto
	if err := proto.Unmarshal(b, &pt); err != nil {
		return nil, fmt.Errorf("%w: tensor: %v", ErrMalformed, err)
	}
	d := decoder{}
	return d.tensor(&pt)
}
