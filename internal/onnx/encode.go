package onnx

import (
	"fmt"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/proto"

	"github.com/tinymlaas/tinyml/internal/onnx/onnxpb"
)

// Encode writes the model in ONNX's protobuf form, every tensor inline.
func (m *Model) Encode() ([]byte, error) {
	if m.Graph == nil {
		return nil, fmt.Errorf("encode model: no graph")
	}
	pm := &onnxpb.ModelProto{}
	if m.rest != nil {
		pm = proto.Clone(m.rest).(*onnxpb.ModelProto)
	}
	pm.IrVersion = proto.Int64(m.IRVersion)
	pm.ProducerName = optString(m.ProducerName)
	pm.ProducerVersion = optString(m.ProducerVersion)
	pm.Domain = optString(m.Domain)
	pm.DocString = optString(m.Doc)
	if m.ModelVersion != 0 {
		pm.ModelVersion = proto.Int64(m.ModelVersion)
	} else {
		pm.ModelVersion = nil
	}
	pm.OpsetImport = nil
	for _, o := range m.Opsets {
		pm.OpsetImport = append(pm.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: proto.String(o.Domain), Version: proto.Int64(o.Version)})
	}
	pm.MetadataProps = nil
	for _, kv := range m.Metadata {
		pm.MetadataProps = append(pm.MetadataProps, &onnxpb.StringStringEntryProto{Key: proto.String(kv.Key), Value: proto.String(kv.Value)})
	}
	pm.Graph = encodeGraph(m.Graph)
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(pm)
	if err != nil {
		return nil, fmt.Errorf("encode model: %w", err)
	}
	return b, nil
}

// Save writes the model to path atomically: a reader never sees half a file.
func Save(path string, m *Model) error {
	b, err := m.Encode()
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*.onnx")
	if err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("save model: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	return nil
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return proto.String(s)
}

func encodeGraph(g *Graph) *onnxpb.GraphProto {
	pg := &onnxpb.GraphProto{Name: proto.String(g.Name), DocString: optString(g.Doc)}
	if g.rest != nil {
		pg.QuantizationAnnotation = g.rest.QuantizationAnnotation
	}
	for _, t := range g.Initializers {
		pg.Initializer = append(pg.Initializer, encodeTensor(t))
	}
	pg.Input = encodeValueInfos(g.Inputs)
	pg.Output = encodeValueInfos(g.Outputs)
	pg.ValueInfo = encodeValueInfos(g.ValueInfo)
	for _, n := range g.Nodes {
		pn := &onnxpb.NodeProto{
			Name: optString(n.Name), OpType: proto.String(n.OpType), Domain: optString(n.Domain),
			DocString: optString(n.Doc), Input: n.Inputs, Output: n.Outputs,
		}
		for _, a := range n.Attrs {
			pn.Attribute = append(pn.Attribute, encodeAttr(a))
		}
		pg.Node = append(pg.Node, pn)
	}
	return pg
}

func encodeValueInfos(vs []ValueInfo) []*onnxpb.ValueInfoProto {
	out := make([]*onnxpb.ValueInfoProto, 0, len(vs))
	for _, v := range vs {
		pv := &onnxpb.ValueInfoProto{Name: proto.String(v.Name), DocString: optString(v.Doc)}
		if v.NotTensor && v.otherType != nil {
			pv.Type = &onnxpb.TypeProto{}
			if proto.Unmarshal(v.otherType, pv.Type) != nil {
				pv.Type = nil // cannot happen: the bytes are our own encoding
			}
		}
		if !v.NotTensor && (v.DType != Undefined || v.Shape != nil) {
			tt := &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(v.DType))}
			if v.Shape != nil {
				tt.Shape = &onnxpb.TensorShapeProto{}
				for _, d := range v.Shape {
					pd := &onnxpb.TensorShapeProto_Dimension{}
					switch {
					case d.Param != "":
						pd.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: d.Param}
					case d.Value >= 0:
						pd.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d.Value}
					}
					tt.Shape.Dim = append(tt.Shape.Dim, pd)
				}
			}
			pv.Type = &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: tt}}
		}
		out = append(out, pv)
	}
	return out
}

func encodeTensor(t *Tensor) *onnxpb.TensorProto {
	pt := &onnxpb.TensorProto{
		Name: optString(t.Name), DataType: proto.Int32(int32(t.DType)), Dims: t.Dims, DocString: optString(t.Doc),
	}
	if t.DType == String {
		pt.StringData = t.Strings
	} else {
		pt.RawData = t.Raw
		if pt.RawData == nil {
			pt.RawData = []byte{}
		}
	}
	return pt
}

func encodeAttr(a Attr) *onnxpb.AttributeProto {
	pa := &onnxpb.AttributeProto{Name: proto.String(a.Name), RefAttrName: optString(a.RefAttrName)}
	if a.Type != AttrUndefined {
		pa.Type = onnxpb.AttributeProto_AttributeType(a.Type).Enum()
	}
	switch a.Type {
	case AttrFloat:
		pa.F = proto.Float32(a.Float)
	case AttrInt:
		pa.I = proto.Int64(a.Int)
	case AttrString:
		pa.S = []byte(a.String)
	case AttrTensor:
		if a.Tensor != nil {
			pa.T = encodeTensor(a.Tensor)
		}
	case AttrGraph:
		if a.Graph != nil {
			pa.G = encodeGraph(a.Graph)
		}
	case AttrFloats:
		pa.Floats = a.Floats
	case AttrInts:
		pa.Ints = a.Ints
	case AttrStrings:
		for _, s := range a.Strings {
			pa.Strings = append(pa.Strings, []byte(s))
		}
	case AttrTensors:
		for _, t := range a.Tensors {
			pa.Tensors = append(pa.Tensors, encodeTensor(t))
		}
	case AttrGraphs:
		for _, g := range a.Graphs {
			pa.Graphs = append(pa.Graphs, encodeGraph(g))
		}
	}
	return pa
}
