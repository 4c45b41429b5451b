package dataset

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/require"

	"github.com/tinymlaas/tinyml/internal/testenv"
)

// Rows shaped as Hugging Face datasets (pyarrow) writes them.
type pqListRow struct {
	Label    int64     `parquet:"label"`
	Features []float32 `parquet:"features,list"` // optional group (LIST) { repeated group list { element } }
}

// pqArrowRow is pyarrow's own layout: everything optional.
type pqArrowRow struct {
	Label    *int64     `parquet:"label,optional"`
	Features []*float32 `parquet:"features,optional,list"` // optional group (LIST) { repeated group list { optional float element } }
}

type pqLegacyRow struct {
	Label  int32     `parquet:"label"`
	Pixels []float64 `parquet:"pixels"` // repeated double, without the LIST annotation
}

type pqImage struct {
	Bytes []byte `parquet:"bytes,optional"`
	Path  string `parquet:"path,optional"`
}

type pqImageRow struct {
	Image *pqImage `parquet:"image,optional"`
	Label int64    `parquet:"label"`
	Note  string   `parquet:"note"` // a text column, ignored
}

// hfMetadata is the "huggingface" key datasets stores in the file's metadata.
func hfMetadata(features map[string]any) string {
	b, _ := json.Marshal(map[string]any{"info": map[string]any{"features": features}})
	return string(b)
}

func writeParquet[T any](t testing.TB, rows []T, opts ...parquet.WriterOption) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[T](&buf, opts...)
	_, err := w.Write(rows)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// writeScalarParquet writes one float column per feature (f00, f01, ...) and an int64 label.
func writeScalarParquet(t testing.TB, d *Dataset) []byte {
	t.Helper()
	group := parquet.Group{"label": parquet.Int(64)}
	for j := range d.SampleLen() {
		group[fmt.Sprintf("f%02d", j)] = parquet.Leaf(parquet.FloatType)
	}
	schema := parquet.NewSchema("digits", group)
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[any](&buf, schema)
	rows := make([]parquet.Row, d.N)
	for i := range d.N {
		// Columns are ordered by name: f00..f63, then label.
		for j, v := range d.Sample(i) {
			rows[i] = append(rows[i], parquet.ValueOf(v).Level(0, 0, j))
		}
		rows[i] = append(rows[i], parquet.ValueOf(d.Y[i]).Level(0, 0, d.SampleLen()))
	}
	_, err := w.WriteRows(rows)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

func digitsCSV(t testing.TB) *Dataset {
	t.Helper()
	f, err := os.Open(testenv.RepoFile(t, "testdata/data/digits_test.csv"))
	require.NoError(t, err)
	defer f.Close()
	d, err := ReadCSV(f)
	require.NoError(t, err)
	return d
}

func TestParquetTabularMatchesCSV(t *testing.T) {
	want := digitsCSV(t)
	n := want.SampleLen()
	list := make([]pqListRow, want.N)
	legacy := make([]pqLegacyRow, want.N)
	arrow := make([]pqArrowRow, want.N)
	for i := range want.N {
		list[i] = pqListRow{Label: want.Y[i], Features: want.Sample(i)}
		arrow[i].Label = &want.Y[i]
		for j := range want.Sample(i) {
			arrow[i].Features = append(arrow[i].Features, &want.Sample(i)[j])
		}
		legacy[i] = pqLegacyRow{Label: int32(want.Y[i])}
		for _, v := range want.Sample(i) {
			legacy[i].Pixels = append(legacy[i].Pixels, float64(v))
		}
	}
	names := []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
	meta := hfMetadata(map[string]any{"label": map[string]any{"_type": "ClassLabel", "names": names}, "features": map[string]any{"_type": "Sequence"}})
	for name, file := range map[string][]byte{
		"list<float>":            writeParquet(t, list, parquet.KeyValueMetadata("huggingface", meta), parquet.MaxRowsPerRowGroup(100)),
		"repeated double":        writeParquet(t, legacy),
		"one column per feature": writeScalarParquet(t, want),
		"list<float>, one group": writeParquet(t, list),
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "test.parquet")
			require.NoError(t, os.WriteFile(path, file, 0o644))
			d, err := Load(path, WithShape([]int{1, 8, 8}))
			require.NoError(t, err)
			require.Equal(t, want.N, d.N)
			require.Equal(t, []int{1, 8, 8}, d.Shape)
			require.Equal(t, want.X, d.X)
			require.Equal(t, want.Y, d.Y)
			require.Equal(t, n, d.SampleLen())
			if name == "list<float>" {
				require.Equal(t, names, d.ClassNames, "class names come from the ClassLabel metadata")
			}
		})
	}
}

func digitImage(d *Dataset, i int, rgb bool) image.Image {
	if rgb {
		m := image.NewRGBA(image.Rect(0, 0, 8, 8))
		for p, v := range d.Sample(i) {
			c := uint8(v * 15)
			m.Set(p%8, p/8, color.RGBA{c, c, 255 - c, 255})
		}
		return m
	}
	m := image.NewGray(image.Rect(0, 0, 8, 8))
	for p, v := range d.Sample(i) {
		m.Pix[p] = uint8(v * 15)
	}
	return m
}

func encode(t testing.TB, m image.Image, asJPEG bool) []byte {
	t.Helper()
	var b bytes.Buffer
	if asJPEG {
		require.NoError(t, jpeg.Encode(&b, m, &jpeg.Options{Quality: 95}))
	} else {
		require.NoError(t, png.Encode(&b, m))
	}
	return b.Bytes()
}

// A Hub image dataset (an Image column of PNG and JPEG bytes, gray and RGB, and ClassLabel
// names) reads exactly as the same images in a class folder do.
func TestParquetImagesMatchAnImageFolder(t *testing.T) {
	src := digitsCSV(t).Subset(0, 40)
	dir := t.TempDir()
	names := []string{"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"}
	// The folder orders samples class by class, then by file name: write the parquet rows in
	// that order.
	var rows []pqImageRow
	for class := range 10 {
		for i := range src.N {
			if int(src.Y[i]) != class {
				continue
			}
			name := fmt.Sprintf("%03d.png", i)
			b := encode(t, digitImage(src, i, i%3 == 0), false)
			if i%4 == 0 {
				name = fmt.Sprintf("%03d.jpg", i)
				b = encode(t, digitImage(src, i, false), true)
			}
			writeFile(t, filepath.Join(dir, "images", names[class], name), b)
			rows = append(rows, pqImageRow{Image: &pqImage{Bytes: b, Path: name}, Label: int64(class), Note: "ignored"})
		}
	}
	meta := hfMetadata(map[string]any{"image": map[string]any{"_type": "Image"}, "label": map[string]any{"_type": "ClassLabel", "names": names}})
	path := filepath.Join(dir, "test-00000-of-00001.parquet")
	require.NoError(t, os.WriteFile(path, writeParquet(t, rows, parquet.KeyValueMetadata("huggingface", meta)), 0o644))

	for _, opts := range [][]Option{
		nil,
		{WithShape([]int{1, 8, 8}), WithNormalization(UnitScale())},
		{WithShape([]int{3, 16, 16})},
		{WithShape([]int{192})},
	} {
		folder, err := Load(filepath.Join(dir, "images"), opts...)
		require.NoError(t, err)
		pq, err := Load(path, opts...)
		require.NoError(t, err)
		require.Equal(t, folder.Shape, pq.Shape)
		require.Equal(t, folder.X, pq.X)
		require.Equal(t, folder.Y, pq.Y)
		require.Equal(t, names, pq.ClassNames)
		require.Equal(t, folder.Images.Resized, pq.Images.Resized)
		require.Equal(t, folder.Images.Converted, pq.Images.Converted)
		require.Equal(t, rows[0].Image.Path, pq.Images.Files[0])
	}
	// Fit re-renders from the decoded originals, as for a folder.
	pq, err := Load(path)
	require.NoError(t, err)
	require.Equal(t, []int{3, 8, 8}, pq.Shape, "mixed gray and RGB images load as RGB")
	require.NoError(t, pq.Fit([]int{1, 28, 28}))
	require.Equal(t, []int{1, 28, 28}, pq.Shape)
	require.Contains(t, pq.Images.String(), "resized")
}

func TestParquetLabelColumns(t *testing.T) {
	type digitRow struct {
		Digit    uint8     `parquet:"digit"`
		Features []float32 `parquet:"features,list"`
	}
	rows := []digitRow{{Digit: 3, Features: []float32{1, 2}}, {Digit: 200, Features: []float32{3, 4}}}
	meta := hfMetadata(map[string]any{"digit": map[string]any{"_type": "ClassLabel", "names": []string{"a", "b"}}})
	d, err := ReadParquet(bytes.NewReader(writeParquet(t, rows, parquet.KeyValueMetadata("huggingface", meta))), 0)
	require.ErrorIs(t, err, ErrFormat, "a size below the file's")

	b := writeParquet(t, rows, parquet.KeyValueMetadata("huggingface", meta))
	d, err = ReadParquet(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	require.Equal(t, []int64{3, 200}, d.Y, "the ClassLabel column is the label (unsigned bytes read as such)")
	require.Equal(t, []float32{1, 2, 3, 4}, d.X)

	// Without any label column the dataset is unlabelled, and every numeric column a feature.
	b = writeParquet(t, rows)
	d, err = ReadParquet(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	require.Nil(t, d.Y)
	require.Equal(t, []float32{3, 1, 2, 200, 3, 4}, d.X)
}

func TestParquetErrorsSayWhatIsWrong(t *testing.T) {
	type textLabel struct {
		Label string    `parquet:"label"`
		X     []float32 `parquet:"x,list"`
	}
	type onlyText struct {
		Label int64  `parquet:"label"`
		Text  string `parquet:"text"`
	}
	type nullable struct {
		Label int64    `parquet:"label"`
		X     *float32 `parquet:"x,optional"`
	}
	type twoImages struct {
		A     *pqImage `parquet:"a,optional"`
		B     *pqImage `parquet:"b,optional"`
		Label int64    `parquet:"label"`
	}
	type multiLabel struct {
		Label []int64   `parquet:"label,list"`
		X     []float32 `parquet:"x,list"`
	}
	one := float32(1)
	png1 := encode(t, image.NewGray(image.Rect(0, 0, 2, 2)), false)
	good := writeParquet(t, []pqListRow{{Label: 1, Features: []float32{1, 2}}})
	for _, tc := range []struct {
		name string
		file []byte
		opts []Option
		says string
		err  error
	}{
		{"text labels", writeParquet(t, []textLabel{{Label: "cat", X: []float32{1}}}), nil, `label column label holds text; labels are integer class indices (in Python: dataset.class_encode_column("label")`, ErrFormat},
		{"multi-label", writeParquet(t, []multiLabel{{Label: []int64{1, 2}, X: []float32{1}}}), nil, "multi-label datasets are not supported", ErrFormat},
		{"no features", writeParquet(t, []onlyText{{Label: 1, Text: "hi"}}), nil, "no feature columns: a dataset needs an image column (a struct of bytes and path, as datasets' Image feature writes) or numeric columns; it holds label (int64), text (byte_array)", ErrFormat},
		{"ragged lists", writeParquet(t, []pqListRow{{Label: 1, Features: []float32{1, 2}}, {Label: 2, Features: []float32{1, 2, 3}}}), nil, "row 1: column features holds 3 values where row 0 holds 2", ErrFormat},
		{"a null feature", writeParquet(t, []nullable{{Label: 1, X: &one}, {Label: 1}}), nil, "row 1: column x is null", ErrFormat},
		{"a null in a list", writeParquet(t, []pqArrowRow{{Features: []*float32{&one, nil}}}), nil, "row 0 holds a null element in a list", ErrFormat},
		{"a null label", writeParquet(t, []pqArrowRow{{Features: []*float32{&one}}}), nil, "row 0 has no label (the label column is null)", ErrFormat},
		{"a negative label", writeParquet(t, []pqListRow{{Label: -1, Features: []float32{1}}}), nil, "row 0: label -1", ErrFormat},
		{"an image by path only", writeParquet(t, []pqImageRow{{Image: &pqImage{Path: "/data/cat.png"}, Label: 1}}), nil, `row 0 holds no image bytes (only its path "/data/cat.png"); save the dataset with the images embedded`, ErrFormat},
		{"not an image", writeParquet(t, []pqImageRow{{Image: &pqImage{Bytes: []byte("GIF89a...."), Path: "x.gif"}, Label: 1}}), nil, "image row 0 (x.gif) is not a PNG or JPEG image", ErrFormat},
		{"two image columns", writeParquet(t, []twoImages{{A: &pqImage{Bytes: png1}, B: &pqImage{Bytes: png1}}}), nil, "2 image columns (a, b); keep the one to use", ErrFormat},
		{"not parquet", []byte("label,f0\n1,2\n"), nil, "does not start with PAR1", ErrFormat},
		{"truncated", good[:len(good)-10], nil, "parquet", ErrFormat},
		{"normalising numbers", good, []Option{WithNormalization(UnitScale())}, "normalisation (x/255) applies to image folders", nil},
		{"too large", good, []Option{WithImageLimits(0, 8)}, "the columns used hold more than 0 MiB uncompressed", ErrImageTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadParquet(bytes.NewReader(tc.file), int64(len(tc.file)), tc.opts...)
			require.ErrorContains(t, err, tc.says)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
			}
		})
	}
}

func FuzzReadParquet(f *testing.F) {
	f.Add(writeParquet(f, []pqListRow{{Label: 1, Features: []float32{1, 2}}, {Label: 0, Features: []float32{3, 4}}}))
	f.Add(writeParquet(f, []pqLegacyRow{{Label: 2, Pixels: []float64{0.5}}}))
	f.Add(writeParquet(f, []pqImageRow{{Image: &pqImage{Bytes: encode(f, image.NewGray(image.Rect(0, 0, 2, 2)), false), Path: "a.png"}, Label: 1}},
		parquet.KeyValueMetadata("huggingface", hfMetadata(map[string]any{"label": map[string]any{"_type": "ClassLabel", "names": []string{"a", "b"}}}))))
	f.Add(writeParquet(f, []pqImageRow{{Label: 1}}))
	f.Fuzz(func(t *testing.T, in []byte) {
		d, err := ReadParquet(bytes.NewReader(in), int64(len(in)), WithImageLimits(1<<12, 1<<20))
		if err != nil {
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrImageTooLarge) {
				t.Fatalf("error %v is neither ErrFormat nor ErrImageTooLarge", err)
			}
			return
		}
		if d.N <= 0 || len(d.X) != d.N*d.SampleLen() {
			t.Fatalf("%d samples of %v hold %d values", d.N, d.Shape, len(d.X))
		}
		if d.Y != nil && len(d.Y) != d.N {
			t.Fatalf("%d labels for %d samples", len(d.Y), d.N)
		}
		for _, y := range d.Y {
			if y < 0 || y >= MaxClasses {
				t.Fatalf("label %d", y)
			}
		}
	})
}
