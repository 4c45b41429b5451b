package pack

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinymlaas/tinyml/internal/onnx"
	"github.com/tinymlaas/tinyml/internal/testenv"
)

// model wraps tensors in a one-node model (Identity of the first) so that it encodes.
func model(tensors ...*onnx.Tensor) *onnx.Model {
	g := &onnx.Graph{Name: "g", Initializers: tensors,
		Inputs:  []onnx.ValueInfo{{Name: "x", DType: onnx.Float, Shape: []onnx.Dim{{Value: 1}}}},
		Outputs: []onnx.ValueInfo{{Name: "y", DType: onnx.Float}},
		Nodes:   []*onnx.Node{{Name: "id", OpType: "Identity", Inputs: []string{"x"}, Outputs: []string{"y"}}},
	}
	return &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 13}}, ProducerName: "pack_test", Graph: g}
}

func encoded(t *testing.T, m *onnx.Model) []byte {
	t.Helper()
	b, err := m.Encode()
	require.NoError(t, err)
	return b
}

// roundTrip packs m, unpacks it and checks the ONNX bytes are identical.
func roundTrip(t *testing.T, m *onnx.Model) ([]byte, []TensorInfo) {
	t.Helper()
	b, infos, err := EncodeInfo(m)
	require.NoError(t, err)
	require.True(t, IsPacked(b))
	back, err := Decode(b)
	require.NoError(t, err)
	require.Equal(t, encoded(t, m), encoded(t, back))
	return b, infos
}

func TestEveryEncodingIsExactAndChosenWhenSmallest(t *testing.T) {
	n := 1000
	dense := make([]float32, n)
	sparse := make([]float32, n)
	clustered := make([]float32, n)
	halves := make([]float32, n)
	skewed := make([]int8, n)
	for i := range n {
		dense[i] = float32(math.Sin(float64(i)*0.37)) * 1.2345
		if i%10 == 0 {
			sparse[i] = float32(i)*1.0001 + 0.5
		}
		clustered[i] = []float32{-0.75, 0.1, 0.3, 2.5}[i*7%4]
		halves[i] = onnx.HalfToFloat(uint16(i*37%30000 + 1000))
		skewed[i] = []int8{1, 1, 1, 1, 1, 1, 1, 2, 3, -70}[i%10]
	}
	negZero := []float32{0, float32(math.Copysign(0, -1)), 1, float32(math.NaN())}
	small := make([]int32, n)
	wide := make([]int64, n)
	for i := range small {
		small[i] = int32(i%300) - 150
		wide[i] = int64(i) << 20
	}
	tensors := []*onnx.Tensor{
		onnx.FromSlice("dense", []int64{10, 100}, dense),
		onnx.FromSlice("sparse", []int64{int64(n)}, sparse),
		onnx.FromSlice("clustered", []int64{int64(n)}, clustered),
		onnx.FromSlice("halves", []int64{int64(n)}, halves),
		onnx.FromSlice("skewed", []int64{int64(n)}, skewed),
		onnx.FromSlice("negzero", []int64{4}, negZero),
		onnx.FromSlice("small", []int64{int64(n)}, small),
		onnx.FromSlice("wide", []int64{int64(n)}, wide),
		onnx.FromSlice("scalar", []int64{}, []float32{3}),
		onnx.FromSlice("empty", []int64{0, 5}, []float32{}),
		onnx.FromSlice("bools", []int64{3}, []bool{true, false, true}),
		onnx.FromSlice("f64", []int64{2}, []float64{1.5, -2}),
		{Name: "strings", DType: onnx.String, Dims: []int64{2}, Strings: [][]byte{[]byte("a"), {}}},
	}
	tensors[0].Doc = "a doc string survives"
	_, infos := roundTrip(t, model(tensors...))
	enc := map[string]string{}
	for _, in := range infos {
		enc[in.Name] = in.Encoding
	}
	require.Equal(t, "raw", enc["dense"])
	require.Equal(t, "sparse+raw", enc["sparse"])
	require.Equal(t, "clustered", enc["clustered"])
	require.Equal(t, "half", enc["halves"])
	require.Equal(t, "huffman", enc["skewed"])
	require.Equal(t, "narrow", enc["small"])
	require.Equal(t, "strings", enc["strings"])
	for _, in := range infos {
		if in.Name == "clustered" {
			require.Equal(t, 1+1+16+n*2/8, in.Bytes, "2-bit indices and a 4-value codebook")
		}
	}
}

func TestTestdataModelsRoundTrip(t *testing.T) {
	paths, err := filepath.Glob(testenv.RepoFile(t, "testdata/models/*.onnx"))
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	for _, p := range paths {
		m, err := onnx.Load(p)
		require.NoError(t, err)
		b, _ := roundTrip(t, m)
		require.Less(t, len(b), len(encoded(t, m)), "%s: packing a float model still saves its graph's bytes", p)
	}
}

func TestDamagedArtifactsAreErrors(t *testing.T) {
	good, err := Encode(model(onnx.FromSlice("w", []int64{3}, []float32{1, 2, 3})))
	require.NoError(t, err)
	withCRC := func(body []byte) []byte {
		return binary.LittleEndian.AppendUint32(append([]byte{}, body...), crc32.ChecksumIEEE(body))
	}
	body := good[:len(good)-4]
	cases := map[string][]byte{
		"empty":     {},
		"onnx file": encoded(t, model()),
		"truncated": good[:len(good)-1],
		"bit flip":  append(append([]byte{}, good[:20]...), append([]byte{good[20] ^ 1}, good[21:]...)...),
		"version":   withCRC(append(append([]byte(Magic), 9), body[len(Magic)+1:]...)),
		"short":     withCRC(body[:len(body)-2]),
	}
	for name, b := range cases {
		_, err := Decode(b)
		require.Error(t, err, name)
		require.True(t, errors.Is(err, ErrFormat), "%s: %v", name, err)
	}
}

// FuzzDecode: no input panics or allocates without bound; what decodes packs back to the same.
// The fuzzer mutates the body and the checksum is recomputed, so that mutations reach the parser.
func FuzzDecode(f *testing.F) {
	sparse := make([]float32, 64)
	sparse[3], sparse[40] = 1, -2
	seeds := []*onnx.Model{
		model(onnx.FromSlice("w", []int64{2, 3}, []float32{1, 2, 3, 4, 5, 6})),
		model(onnx.FromSlice("s", []int64{64}, sparse), onnx.FromSlice("i", []int64{4}, []int32{1, -1, 300, 0})),
		model(onnx.FromSlice("c", []int64{40}, []int8{1, 1, 1, 1, 2, 2, 3, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 0, 0, 0,
			1, 1, 1, 1, 2, 2, 3, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 0, 0, 0})),
	}
	for _, m := range seeds {
		b, err := Encode(m)
		require.NoError(f, err)
		f.Add(b[:len(b)-4])
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		b := binary.LittleEndian.AppendUint32(append([]byte{}, body...), crc32.ChecksumIEEE(body))
		m, err := Decode(b)
		if err != nil {
			return
		}
		again, err := Encode(m)
		if err != nil {
			return // a decoded graph the ONNX encoder refuses (no graph) is not ours to fix
		}
		m2, err := Decode(again)
		require.NoError(t, err, "our own output must decode")
		require.Equal(t, len(m.Graph.Initializers), len(m2.Graph.Initializers))
	})
}
