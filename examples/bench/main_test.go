package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseBatches(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []int
		err  string
	}{
		{"1,full", []int{1, fullBatch}, ""},
		{" 1, 16 ,full", []int{1, 16, fullBatch}, ""},
		{"0", nil, "neither"},
		{"x", nil, "neither"},
		{"", nil, "empty"},
	} {
		got, err := parseBatches(tc.in)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
}

func TestDataMap(t *testing.T) {
	root := "/repo"
	d, err := parseDataMap("", root)
	require.NoError(t, err)
	p, err := d.For("x/digits_cnn_int8.onnx")
	require.NoError(t, err)
	require.Equal(t, "/repo/testdata/data/digits_test.csv", p)
	p, err = d.For("fashion_resnet.onnx")
	require.NoError(t, err)
	require.Equal(t, "/repo/testdata/data/fashion_test.npz", p)
	_, err = d.For("my.onnx")
	require.ErrorContains(t, err, "-data")

	d, err = parseDataMap("mine.csv", root)
	require.NoError(t, err)
	p, _ = d.For("fashion_resnet.onnx")
	require.Equal(t, "mine.csv", p, "one path feeds every model")

	d, err = parseDataMap("my=a.npz,digits_mlp.onnx=b.csv", root)
	require.NoError(t, err)
	p, _ = d.For("m/my.onnx")
	require.Equal(t, "a.npz", p)
	p, _ = d.For("digits_mlp.onnx")
	require.Equal(t, "b.csv", p)
	p, _ = d.For("fashion_dwcnn.onnx")
	require.Equal(t, "/repo/testdata/data/fashion_test.npz", p, "unlisted models keep the defaults")

	_, err = parseDataMap("a=b,c", root)
	require.ErrorContains(t, err, "model=path")
}

func TestSampleShape(t *testing.T) {
	for _, tc := range []struct {
		input, sample, want []int
		err                 string
	}{
		{[]int{-1, 64}, []int{64}, []int{64}, ""},
		{[]int{-1, 1, 8, 8}, []int{64}, []int{1, 8, 8}, ""},
		{[]int{-1, 1, 28, 28}, []int{1, 28, 28}, []int{1, 28, 28}, ""},
		{[]int{-1, 3, -1}, []int{12}, []int{3, 4}, ""},
		{[]int{-1, 1, 9, 9}, []int{64}, nil, "takes 81"},
		{[]int{-1, -1, -1}, []int{64}, nil, "more than one"},
		{[]int{-1, 5, -1}, []int{64}, nil, "does not fit"},
	} {
		got, err := sampleShape(tc.input, tc.sample)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tc.want, got)
	}
}

func TestBatchesOfWrapAround(t *testing.T) {
	x := []float32{0, 0, 1, 1, 2, 2, 3, 3, 4, 4} // 5 samples of 2 values
	b := batchesOf(x, 5, 2, 2)
	require.Equal(t, [][]float32{{0, 0, 1, 1}, {2, 2, 3, 3}, {4, 4, 0, 0}}, b)
	require.Len(t, batchesOf(x, 5, 2, 1), 5)
	require.Equal(t, [][]float32{x}, batchesOf(x, 5, 2, 5))
}

func TestChunkSplitsEveryCall(t *testing.T) {
	for _, total := range []int{1, 3, 20, 301} {
		sum := 0
		for r := range 4 {
			sum += chunk(total, 4, r)
		}
		require.Equal(t, total, sum)
	}
}

func TestSummarise(t *testing.T) {
	var d []time.Duration
	for i := 10; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	l := summarise(d, 4)
	require.Equal(t, 10, l.Calls)
	require.InDelta(t, 1, l.Min, 1e-9)
	require.InDelta(t, 5, l.P50, 1e-9)
	require.InDelta(t, 9, l.P90, 1e-9)
	require.InDelta(t, 10, l.P99, 1e-9)
	require.InDelta(t, 5.5, l.Mean, 1e-9)
	require.InDelta(t, 800, l.SamplesPerSec, 1e-9)
}

func TestCompare(t *testing.T) {
	ours := []output{{Name: "logits", DType: "float32", Dims: []int{2, 3}, Values: []float64{1, 2, 3, 3, 2, 1}}}
	ort := []output{{Name: "logits", DType: "float32", Dims: []int{2, 3}, Values: []float64{1, 2.5, 3, 3, 4, 1}}}
	a := compare(ours, ort)
	require.Empty(t, a.Error)
	require.InDelta(t, 2, a.MaxAbsDiff, 1e-12)
	require.Equal(t, 1, a.Top1Agree)
	require.Equal(t, 2, a.Top1Rows)

	ort[0].Values[0] = math.NaN()
	require.Equal(t, 1, compare(ours, ort).NonFinite)

	ort[0].Dims = []int{3, 2}
	require.Contains(t, compare(ours, ort).Error, "[3 2]")
}

func TestToFloat64(t *testing.T) {
	raw := binary.LittleEndian.AppendUint32(nil, math.Float32bits(-1.5))
	v, err := toFloat64("float32", raw)
	require.NoError(t, err)
	require.Equal(t, []float64{-1.5}, v)
	v, err = toFloat64("int64", binary.LittleEndian.AppendUint64(nil, uint64(0xFFFFFFFFFFFFFFFE)))
	require.NoError(t, err)
	require.Equal(t, []float64{-2}, v)
	_, err = toFloat64("string", []byte("x"))
	require.ErrorContains(t, err, "string")
}

func TestWriteNPY(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.npy")
	require.NoError(t, writeNPY(path, []float32{1, 2, 3, 4, 5, 6}, []int{3, 2}))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "\x93NUMPY\x01\x00", string(b[:8]))
	hlen := int(binary.LittleEndian.Uint16(b[8:]))
	require.Zero(t, (10+hlen)%64, "data starts 64-byte aligned")
	require.Contains(t, string(b[10:10+hlen]), "'shape': (3, 2)")
	require.Len(t, b, 10+hlen+24)
	require.Equal(t, math.Float32bits(6), binary.LittleEndian.Uint32(b[len(b)-4:]))
}

// The program end to end on one testdata model, our engine alone.
func TestRunOursAlone(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"-models", testModel(t), "-ort=false",
		"-reps", "3", "-reps-full", "1", "-rounds", "2", "-warmup", "1", "-warmup-full", "0", "-q", "-profile", "2"}, &out, &errOut)
	require.NoError(t, err, errOut.String())
	require.Regexp(t, `digits_mlp\s+360\s+\d+\.\d+ ms\s+-`, out.String())
	require.Contains(t, out.String(), "Ours, digits_mlp batch 360: costliest steps")
	require.Contains(t, out.String(), "Gemm")
}

// The program end to end against onnxruntime, when node and onnxruntime-node are installed.
func TestRunAgainstORT(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed")
	}
	if _, err := os.Stat("ort/node_modules/onnxruntime-node"); err != nil {
		t.Skip("onnxruntime-node is not installed: cd examples/bench/ort && ONNXRUNTIME_NODE_INSTALL=skip npm install")
	}
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"-models", testModel(t), "-json", "-batch", "1,7,full",
		"-reps", "3", "-reps-full", "1", "-rounds", "1", "-warmup", "1", "-warmup-full", "0", "-q"}, &out, &errOut)
	require.NoError(t, err, errOut.String())
	var rep report
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep))
	require.Len(t, rep.Cases, 3)
	for _, c := range rep.Cases {
		require.NotNil(t, c.ORT)
		require.Equal(t, c.Ours.Calls, c.ORT.Calls)
		require.NotNil(t, c.Agreement)
		require.Empty(t, c.Agreement.Error)
		require.Less(t, c.Agreement.MaxAbsDiff, 1e-3)
		require.Equal(t, c.Agreement.Top1Rows, c.Agreement.Top1Agree)
	}
	require.Equal(t, 360, rep.Cases[0].Agreement.Top1Rows)
	require.Equal(t, 7*52, rep.Cases[1].Agreement.Top1Rows, "batch 7 wraps around the 360 samples")
	require.True(t, strings.HasPrefix(rep.Meta.NodeVersion, "v"))
}

func testModel(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("../../testdata/models/digits_mlp.onnx")
	require.NoError(t, err)
	return p
}
