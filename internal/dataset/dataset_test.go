package dataset

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReadCSV(t *testing.T) {
	d, err := ReadCSV(strings.NewReader("\ufeff1, 0.5,2\r\n\n0,3,-4e2\n 2.0 ,1,1\n"))
	require.NoError(t, err)
	require.Equal(t, 3, d.N)
	require.Equal(t, []int{2}, d.Shape)
	require.Equal(t, []int64{1, 0, 2}, d.Y)
	require.Equal(t, []float32{0.5, 2, 3, -400, 1, 1}, d.X)
	require.Equal(t, 3, d.Classes())

	for _, tc := range []struct{ in, msg string }{
		{"", "csv has no rows"},
		{"label,a,b\n0,1,2\n", "csv line 1: label \"label\": not an integer class index from 0 to 1048575 (CSV datasets have no header row"},
		{"1\n", "csv line 1: a row needs a label and at least one feature"},
		{"0,1,2\n1,2\n", "csv line 2 has 2 fields; earlier rows have 3"},
		{"0,1,2\n\n1,2,x\n", "csv line 3, feature 1: \"x\" is not a number"},
		{"0,1,1e40\n", "csv line 1, feature 1: \"1e40\" is beyond the float32 range"},
		{"0,1\n-1,2\n", "csv line 2: label \"-1\": labels must be class indices from 0 to 1048575"},
		{"0,1\n1.5,2\n", "csv line 2: label \"1.5\": not an integer"},
		{"99999999999,1\n", "csv line 1: label"},
	} {
		_, err := ReadCSV(strings.NewReader(tc.in))
		require.ErrorIs(t, err, ErrFormat, tc.msg)
		require.ErrorContains(t, err, tc.msg)
	}
}

func npyBytes(t testing.TB, shape []int, data []float32) []byte {
	var b bytes.Buffer
	require.NoError(t, WriteNPY(&b, shape, data))
	return b.Bytes()
}

// rawNPY builds a .npy with any header dict and data bytes.
func rawNPY(version byte, header string, data []byte) []byte {
	var b bytes.Buffer
	b.WriteString("\x93NUMPY")
	b.WriteByte(version)
	b.WriteByte(0)
	if version == 1 {
		binary.Write(&b, binary.LittleEndian, uint16(len(header)))
	} else {
		binary.Write(&b, binary.LittleEndian, uint32(len(header)))
	}
	b.WriteString(header)
	b.Write(data)
	return b.Bytes()
}

func TestReadNPY(t *testing.T) {
	a, err := ReadNPY(bytes.NewReader(npyBytes(t, []int{2, 3}, []float32{1, 2, 3, 4, 5, 6})))
	require.NoError(t, err)
	require.Equal(t, []int{2, 3}, a.Shape)
	require.Equal(t, []float32{1, 2, 3, 4, 5, 6}, a.F32)

	be := make([]byte, 0, 16)
	for _, v := range []int32{1, -2, 3, 4} {
		be = binary.BigEndian.AppendUint32(be, uint32(v))
	}
	a, err = ReadNPY(bytes.NewReader(rawNPY(2, "{'descr': '>i4', 'fortran_order': True, 'shape': (2, 2), }\n", be)))
	require.NoError(t, err)
	require.Equal(t, []int64{1, 3, -2, 4}, a.I64, "column-major reordered")

	half := []byte{0x00, 0x3c, 0x00, 0xc0} // 1.0, -2.0
	a, err = ReadNPY(bytes.NewReader(rawNPY(1, "{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", half)))
	require.NoError(t, err)
	require.Equal(t, []float32{1, -2}, a.F32)

	a, err = ReadNPY(bytes.NewReader(rawNPY(1, "{'descr': '|b1', 'fortran_order': False, 'shape': (), }", []byte{1})))
	require.NoError(t, err)
	require.Equal(t, []int64{1}, a.I64)
	require.Empty(t, a.Shape)

	for _, tc := range []struct {
		in  []byte
		msg string
	}{
		{[]byte("PK\x03\x04"), "npy"},
		{[]byte("\x93NUMPX\x01\x00"), "missing the \\x93NUMPY magic"},
		{rawNPY(4, "{}", nil), "version 4.0 is not supported"},
		{rawNPY(1, "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", make([]byte, 8)), "dtype \"<c8\" is not supported"},
		{rawNPY(1, "{'descr': '<f4', 'shape': (1,), 'extra': 1}", make([]byte, 4)), "unknown key"},
		{rawNPY(1, "{'descr': '<f4', 'shape': (-1,), }", nil), "bad dimension"},
		{rawNPY(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", make([]byte, 8)), "npy data (3 elements of <f4)"},
		{rawNPY(1, "{'descr': '<f8', 'shape': (100000, 100000, 100000), }", nil), "is too large"},
		{rawNPY(1, "{'descr': '<f8', 'shape': (99999999999999999999,), }", nil), "bad dimension"},
	} {
		_, err := ReadNPY(bytes.NewReader(tc.in))
		require.ErrorIs(t, err, ErrFormat, tc.msg)
		require.ErrorContains(t, err, tc.msg)
	}
}

// A header announcing 2^31-1 elements over a short stream fails having read only what is there.
func TestReadNPYHugeHeaderFailsFast(t *testing.T) {
	in := rawNPY(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2147483647,), }", make([]byte, 1024))
	allocs := testing.AllocsPerRun(3, func() {
		_, err := ReadNPY(bytes.NewReader(in))
		require.ErrorContains(t, err, "npy data (2147483647 elements of <f8)")
	})
	require.Less(t, allocs, 100.0)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _ = ReadNPY(bytes.NewReader(in))
	runtime.ReadMemStats(&after)
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "allocated %d bytes", after.TotalAlloc-before.TotalAlloc)
}

func writeNPZ(t testing.TB, members map[string][]byte, deflate bool) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for name, data := range members {
		method := zip.Store
		if deflate {
			method = zip.Deflate
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method})
		require.NoError(t, err)
		_, err = w.Write(data)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return b.Bytes()
}

func TestLoadFiles(t *testing.T) {
	dir := t.TempDir()
	x := []float32{1, 2, 3, 4, 5, 6, 7, 8}
	y := []float32{0, 1}
	writeFile(t, filepath.Join(dir, "pair", "x.npy"), npyBytes(t, []int{2, 4}, x))
	writeFile(t, filepath.Join(dir, "pair", "y.npy"), npyBytes(t, []int{2}, y))
	writeFile(t, filepath.Join(dir, "digits_x.npy"), npyBytes(t, []int{2, 2, 2}, x))
	writeFile(t, filepath.Join(dir, "digits_y.npy"), npyBytes(t, []int{2}, y))
	writeFile(t, filepath.Join(dir, "d.npz"), writeNPZ(t, map[string][]byte{"x.npy": npyBytes(t, []int{2, 4}, x), "y.npy": npyBytes(t, []int{2}, y), "meta.npy": []byte("ignored")}, true))
	writeFile(t, filepath.Join(dir, "d.csv"), []byte("0,1,2,3,4\n1,5,6,7,8\n"))

	for _, p := range []string{"pair", "pair/x.npy", "digits_x.npy", "d.npz", "d.csv"} {
		t.Run(p, func(t *testing.T) {
			d, err := Load(filepath.Join(dir, p), WithShape([]int{1, 2, 2}))
			require.NoError(t, err)
			require.Equal(t, 2, d.N)
			require.Equal(t, []int{1, 2, 2}, d.Shape)
			require.Equal(t, x, d.X)
			require.Equal(t, []int64{0, 1}, d.Y)
			require.Nil(t, d.Images)

			err = d.Fit([]int{1, 28, 28})
			require.ErrorIs(t, err, ErrShape)
			require.EqualError(t, err, "dataset does not fit the model: each sample has shape [1 2 2] (4 values) but the model's input takes [1 28 28] (784 values) per sample")
		})
	}

	_, err := Load(filepath.Join(dir, "d.csv"), WithShape([]int{64}))
	require.ErrorIs(t, err, ErrShape)
	require.ErrorContains(t, err, "d.csv: dataset does not fit the model: each sample has shape [4] (4 values) but the model's input takes [64] (64 values) per sample")

	writeFile(t, filepath.Join(dir, "d.parquet"), []byte("PAR1"))
	_, err = Load(filepath.Join(dir, "d.parquet"))
	require.ErrorIs(t, err, ErrFormat)
	require.ErrorContains(t, err, "d.parquet is not a parquet file")
	_, err = Load(filepath.Join(dir, "missing.csv"))
	require.ErrorIs(t, err, os.ErrNotExist)
	empty := t.TempDir()
	_, err = Load(empty)
	require.ErrorContains(t, err, "a directory must hold x.npy and y.npy, or one subfolder per class")
}

func TestReadNPZ(t *testing.T) {
	x := npyBytes(t, []int{3, 2}, []float32{1, 2, 3, 4, 5, 6})
	for _, tc := range []struct {
		name    string
		members map[string][]byte
		msg     string
	}{
		{"no x", map[string][]byte{"features.npy": x}, "no array named x (it holds [features])"},
		{"label count", map[string][]byte{"x.npy": x, "y.npy": npyBytes(t, []int{2}, []float32{0, 1})}, "2 labels for 3 samples"},
		{"bad label", map[string][]byte{"x.npy": x, "y.npy": npyBytes(t, []int{3}, []float32{0, 1.5, 2})}, "label 1 is 1.5"},
		{"huge label", map[string][]byte{"x.npy": x, "y.npy": npyBytes(t, []int{3}, []float32{0, 1e9, 2})}, "label 1 is 1e+09"},
		{"nan label", map[string][]byte{"x.npy": x, "y.npy": npyBytes(t, []int{3}, []float32{0, float32(math.NaN()), 2})}, "label 1 is NaN"},
		{"scalar x", map[string][]byte{"x.npy": npyBytes(t, []int{}, []float32{1})}, "x is a scalar"},
		// The header announces a million floats; the member is 100 bytes long.
		{"lying header", map[string][]byte{"x.npy": rawNPY(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000,), }", make([]byte, 16))}, "needs 4000000 bytes but the file holds 16"},
		{"not npy", map[string][]byte{"x.npy": []byte("hello")}, "member x.npy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := writeNPZ(t, tc.members, false)
			_, err := ReadNPZ(bytes.NewReader(b), int64(len(b)))
			require.ErrorIs(t, err, ErrFormat)
			require.ErrorContains(t, err, tc.msg)
		})
	}
	_, err := ReadNPZ(bytes.NewReader([]byte("not a zip")), 9)
	require.ErrorContains(t, err, "npz is a zip archive")

	d, err := ReadNPZ(bytes.NewReader(writeNPZ(t, map[string][]byte{"X.npy": x}, true)), int64(len(writeNPZ(t, map[string][]byte{"X.npy": x}, true))))
	require.NoError(t, err)
	require.Nil(t, d.Y, "unlabelled")
	require.Equal(t, 0, d.Classes())
}

func TestWriteNPYRoundTrip(t *testing.T) {
	for _, shape := range [][]int{{0}, {5}, {2, 3}, {1, 1, 4}, {3, 0, 2}} {
		n := 1
		for _, s := range shape {
			n *= s
		}
		data := make([]float32, n)
		for i := range data {
			data[i] = float32(i) / 3
		}
		a, err := ReadNPY(bytes.NewReader(npyBytes(t, shape, data)))
		require.NoError(t, err, fmt.Sprint(shape))
		require.Equal(t, shape, a.Shape)
		require.Equal(t, data, a.F32)
	}
}
