package onnx

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/tinymlaas/tinyml/internal/onnx/onnxpb"
	"github.com/tinymlaas/tinyml/internal/testenv"
)

// addModel builds a one-node model: Y = Add(X, B) with B an initializer.
func addModel() *Model {
	return &Model{
		IRVersion: 8,
		Opsets:    []OpsetID{{Version: 13}},
		Graph: &Graph{
			Name:         "add",
			Inputs:       []ValueInfo{{Name: "X", DType: Float, Shape: []Dim{{Param: "batch"}, {Value: 3}}}},
			Outputs:      []ValueInfo{{Name: "Y", DType: Float, Shape: []Dim{{Param: "batch"}, {Value: 3}}}},
			Initializers: []*Tensor{FromSlice("B", []int64{3}, []float32{1, 2, 3})},
			Nodes:        []*Node{{Name: "add0", OpType: "Add", Inputs: []string{"X", "B"}, Outputs: []string{"Y"}}},
		},
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	m := addModel()
	m.Metadata = []KeyValue{{"author", "test"}}
	m.Graph.Nodes[0].Attrs = []Attr{
		{Name: "f", Type: AttrFloat, Float: 0.5},
		{Name: "ints", Type: AttrInts, Ints: []int64{1, 2}},
		{Name: "s", Type: AttrString, String: "x"},
		{Name: "t", Type: AttrTensor, Tensor: FromSlice("", []int64{2}, []int64{7, 8})},
	}
	b, err := m.Encode()
	require.NoError(t, err)
	got, err := Decode(b)
	require.NoError(t, err)
	require.NoError(t, got.Validate())
	require.Equal(t, m.Graph.Nodes, got.Graph.Nodes)
	require.Equal(t, m.Graph.Inputs, got.Graph.Inputs)
	require.Equal(t, m.Metadata, got.Metadata)
	v, err := Values[float32](got.Graph.Initializer("B"))
	require.NoError(t, err)
	require.Equal(t, []float32{1, 2, 3}, v)
	require.EqualValues(t, 13, got.OpsetVersion("ai.onnx"))
}

func TestTypedFieldsReadLikeRawData(t *testing.T) {
	cases := []struct {
		name string
		pt   *onnxpb.TensorProto
		want *Tensor
	}{
		{"float_data", &onnxpb.TensorProto{DataType: proto.Int32(int32(Float)), Dims: []int64{2}, FloatData: []float32{1.5, -2}},
			FromSlice("", []int64{2}, []float32{1.5, -2})},
		{"int32_data carries int8", &onnxpb.TensorProto{DataType: proto.Int32(int32(Int8)), Dims: []int64{3}, Int32Data: []int32{-128, 0, 127}},
			FromSlice("", []int64{3}, []int8{-128, 0, 127})},
		{"int32_data carries float16 bits", &onnxpb.TensorProto{DataType: proto.Int32(int32(Float16)), Dims: []int64{1}, Int32Data: []int32{0x3c00}},
			&Tensor{DType: Float16, Dims: []int64{1}, Raw: []byte{0x00, 0x3c}}},
		{"uint64_data carries uint32", &onnxpb.TensorProto{DataType: proto.Int32(int32(Uint32)), Dims: []int64{1}, Uint64Data: []uint64{7}},
			FromSlice("", []int64{1}, []uint32{7})},
		{"int64_data", &onnxpb.TensorProto{DataType: proto.Int32(int32(Int64)), Dims: []int64{2}, Int64Data: []int64{-1, 1 << 40}},
			FromSlice("", []int64{2}, []int64{-1, 1 << 40})},
		{"scalar", &onnxpb.TensorProto{DataType: proto.Int32(int32(Double)), DoubleData: []float64{3}},
			FromSlice("", []int64{}, []float64{3})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var d decoder
			got, err := d.tensor(c.pt)
			require.NoError(t, err)
			require.Equal(t, c.want.DType, got.DType)
			require.Equal(t, c.want.Dims, got.Dims)
			require.Equal(t, c.want.Raw, got.Raw)
		})
	}
}

func TestHalfConversionRoundTrips(t *testing.T) {
	for _, f := range []float32{0, 1, -2.5, 65504, 6.1035156e-05, 5.9604645e-08, 0.333251953125} {
		require.Equal(t, f, HalfToFloat(FloatToHalf(f)), "value %g", f)
	}
	require.Equal(t, uint16(0x7c00), FloatToHalf(1e6), "overflow saturates to +inf")
}

func TestMalformedBytesAreErrors(t *testing.T) {
	good, err := addModel().Encode()
	require.NoError(t, err)
	for name, b := range map[string][]byte{
		"empty":      {},
		"garbage":    []byte("this is not a protobuf"),
		"truncated":  good[:len(good)/2],
		"wrong-size": mustEncodeProto(t, &onnxpb.ModelProto{Graph: &onnxpb.GraphProto{Initializer: []*onnxpb.TensorProto{{DataType: proto.Int32(1), Dims: []int64{4}, RawData: []byte{1, 2}}}}}),
		"negative":   mustEncodeProto(t, &onnxpb.ModelProto{Graph: &onnxpb.GraphProto{Initializer: []*onnxpb.TensorProto{{DataType: proto.Int32(1), Dims: []int64{-4}}}}}),
		"huge":       mustEncodeProto(t, &onnxpb.ModelProto{Graph: &onnxpb.GraphProto{Initializer: []*onnxpb.TensorProto{{DataType: proto.Int32(1), Dims: []int64{1 << 40, 1 << 40}}}}}),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Decode(b)
			require.Error(t, err)
			require.ErrorIs(t, err, ErrMalformed)
		})
	}
}

func mustEncodeProto(t *testing.T, m proto.Message) []byte {
	b, err := proto.Marshal(m)
	require.NoError(t, err)
	return b
}

func TestExternalDataIsReadFromBesideTheModel(t *testing.T) {
	dir := t.TempDir()
	weights := FromSlice("", nil, []float32{4, 5, 6})
	require.NoError(t, os.WriteFile(filepath.Join(dir, "w.bin"), append([]byte{0, 0, 0, 0}, weights.Raw...), 0o644))

	write := func(location string) string {
		pm := &onnxpb.ModelProto{
			IrVersion:   proto.Int64(8),
			OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: proto.Int64(13)}},
			Graph: &onnxpb.GraphProto{Initializer: []*onnxpb.TensorProto{{
				Name: proto.String("W"), DataType: proto.Int32(int32(Float)), Dims: []int64{3},
				DataLocation: onnxpb.TensorProto_EXTERNAL.Enum(),
				ExternalData: []*onnxpb.StringStringEntryProto{
					{Key: proto.String("location"), Value: proto.String(location)},
					{Key: proto.String("offset"), Value: proto.String("4")},
				},
			}}},
		}
		path := filepath.Join(dir, "m.onnx")
		require.NoError(t, os.WriteFile(path, mustEncodeProto(t, pm), 0o644))
		return path
	}

	m, err := Load(write("w.bin"))
	require.NoError(t, err)
	v, err := Values[float32](m.Graph.Initializer("W"))
	require.NoError(t, err)
	require.Equal(t, []float32{4, 5, 6}, v)

	for _, bad := range []string{"../w.bin", "/etc/passwd", ""} {
		_, err := Load(write(bad))
		require.ErrorIs(t, err, ErrMalformed, "location %q", bad)
	}
	b, err := os.ReadFile(write("w.bin"))
	require.NoError(t, err)
	_, err = Decode(b)
	require.ErrorIs(t, err, ErrExternalData)
}

func TestValidateNamesTheProblem(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(m *Model)
		want  string
		valid bool
	}{
		{"valid", func(*Model) {}, "", true},
		{"undefined input", func(m *Model) { m.Graph.Nodes[0].Inputs[1] = "nope" }, `input "nope" is not defined`, false},
		{"output not produced", func(m *Model) { m.Graph.Outputs[0].Name = "Z" }, `graph output "Z"`, false},
		{"defined twice", func(m *Model) {
			m.Graph.Nodes = append(m.Graph.Nodes, &Node{OpType: "Relu", Inputs: []string{"X"}, Outputs: []string{"Y"}})
		}, `value "Y" is defined more than once`, false},
		{"dtype conflict", func(m *Model) { m.Graph.ValueInfo = []ValueInfo{{Name: "B", DType: Int64}} }, `initializer "B" holds float32 but is declared int64`, false},
		{"cycle", func(m *Model) {
			m.Graph.Nodes = []*Node{
				{Name: "a", OpType: "Relu", Inputs: []string{"v2"}, Outputs: []string{"v1"}},
				{Name: "b", OpType: "Relu", Inputs: []string{"v1"}, Outputs: []string{"v2"}},
				{Name: "c", OpType: "Add", Inputs: []string{"X", "B"}, Outputs: []string{"Y"}},
			}
		}, "cycle through nodes a, b", false},
		{"out of order is reordered", func(m *Model) {
			m.Graph.Nodes = []*Node{
				{Name: "second", OpType: "Relu", Inputs: []string{"T"}, Outputs: []string{"Y"}},
				{Name: "first", OpType: "Add", Inputs: []string{"X", "B"}, Outputs: []string{"T"}},
			}
		}, "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := addModel()
			c.edit(m)
			err := m.Validate()
			if c.valid {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalid)
			var ve *ValidationError
			require.True(t, errors.As(err, &ve))
			require.ErrorContains(t, err, c.want)
		})
	}
	m := addModel()
	m.Graph.Nodes = []*Node{
		{Name: "second", OpType: "Relu", Inputs: []string{"T"}, Outputs: []string{"Y"}},
		{Name: "first", OpType: "Add", Inputs: []string{"X", "B"}, Outputs: []string{"T"}},
	}
	require.NoError(t, m.Validate())
	require.Equal(t, "first", m.Graph.Nodes[0].Name, "Validate puts nodes in topological order")
}

func TestCloneIsDeep(t *testing.T) {
	m := addModel()
	c := m.Clone()
	c.Graph.Nodes[0].Inputs[0] = "changed"
	c.Graph.Initializers[0].Raw[0] = 0xff
	require.Equal(t, "X", m.Graph.Nodes[0].Inputs[0])
	require.NotEqual(t, byte(0xff), m.Graph.Initializers[0].Raw[0])
}

// Every model Debian's ONNX test data ships decodes, validates and survives a write-read cycle.
func TestOnnxTestdataModelsRoundTrip(t *testing.T) {
	root := testenv.OnnxTestdata(t)
	paths, err := filepath.Glob(filepath.Join(root, "*", "*", "model.onnx"))
	require.NoError(t, err)
	require.Greater(t, len(paths), 500)
	for _, p := range paths {
		m, err := Load(p)
		require.NoError(t, err, p)
		require.NoError(t, m.Validate(), p)
		b, err := m.Encode()
		require.NoError(t, err, p)
		again, err := Decode(b)
		require.NoError(t, err, p)
		require.Equal(t, m.Graph.Nodes, again.Graph.Nodes, p)
		require.Equal(t, len(m.Graph.Initializers), len(again.Graph.Initializers), p)
		for i, init := range m.Graph.Initializers {
			require.Equal(t, init.Raw, again.Graph.Initializers[i].Raw, p)
		}
	}
}

// FuzzDecode: no input makes the decoder panic, and what decodes re-encodes to an equal model.
func FuzzDecode(f *testing.F) {
	good, err := addModel().Encode()
	require.NoError(f, err)
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{0x3a, 0x02, 0x0a, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		_ = m.Validate()
		out, err := m.Encode()
		if err != nil {
			t.Fatalf("a decoded model failed to encode: %v", err)
		}
		again, err := Decode(out)
		if err != nil {
			t.Fatalf("re-decoding our own output: %v", err)
		}
		require.Equal(t, len(m.Graph.Nodes), len(again.Graph.Nodes))
	})
}
