// Package dataset reads labelled datasets in the formats users bring: CSV (label first, no
// header), NumPy (.npy pairs or .npz with x and y) and, for images, folders of class directories.
// Every reader checks what it reads and says what was wrong and where.
package dataset

import (
	"archive/zip"
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Dataset is N samples of float32 features, each of shape Shape, with optional integer labels.
type Dataset struct {
	N     int
	Shape []int     // shape of one sample
	X     []float32 // N × prod(Shape), sample-major
	Y     []int64   // N labels, or nil when unlabelled
}

// SampleLen is the number of features per sample.
func (d *Dataset) SampleLen() int {
	n := 1
	for _, s := range d.Shape {
		n *= s
	}
	return n
}

// Sample returns sample i's features.
func (d *Dataset) Sample(i int) []float32 {
	n := d.SampleLen()
	return d.X[i*n : (i+1)*n]
}

// Classes is one more than the largest label (0 when unlabelled).
func (d *Dataset) Classes() int {
	c := int64(-1)
	for _, y := range d.Y {
		c = max(c, y)
	}
	return int(c + 1)
}

// Subset returns samples [lo, hi) sharing memory with d.
func (d *Dataset) Subset(lo, hi int) *Dataset {
	n := d.SampleLen()
	s := &Dataset{N: hi - lo, Shape: d.Shape, X: d.X[lo*n : hi*n]}
	if d.Y != nil {
		s.Y = d.Y[lo:hi]
	}
	return s
}

// Fit reshapes the samples to a model's per-sample input shape when the element counts match
// (flat CSV features feeding a [1,8,8] image input, say), and explains the mismatch otherwise.
func (d *Dataset) Fit(sample []int) error {
	want := 1
	for _, s := range sample {
		want *= s
	}
	if want != d.SampleLen() {
		return fmt.Errorf("%w: each sample has shape %v (%d values) but the model's input takes %v (%d values) per sample",
			ErrShape, d.Shape, d.SampleLen(), sample, want)
	}
	d.Shape = slices.Clone(sample)
	return nil
}

// ErrShape marks a dataset that cannot feed a model.
var ErrShape = errors.New("dataset does not fit the model")

// Load reads a dataset, choosing the reader by file name: .csv, .npy (x; labels from the
// matching y file), .npz (arrays x and y), or a directory holding x.npy and y.npy.
func Load(path string) (*Dataset, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	if st.IsDir() {
		x := filepath.Join(path, "x.npy")
		if _, err := os.Stat(x); err == nil {
			return loadNPYPair(x)
		}
		return nil, fmt.Errorf("dataset %s: a directory must hold x.npy and y.npy", path)
	}
	var d *Dataset
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".csv":
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("dataset: %w", err)
		}
		defer f.Close()
		d, err = ReadCSV(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	case ".npy":
		d, err = loadNPYPair(path)
	case ".npz":
		d, err = loadNPZ(path)
	default:
		return nil, fmt.Errorf("dataset %s: unknown format %q (use .csv, .npy, .npz or a directory)", path, ext)
	}
	return d, err
}

// ReadCSV reads rows of `label,f0,f1,...` with no header; every row must have the same length.
func ReadCSV(r io.Reader) (*Dataset, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 64<<20)
	d := &Dataset{}
	width := -1
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		fields := strings.Split(text, ",")
		if width < 0 {
			width = len(fields)
			if width < 2 {
				return nil, fmt.Errorf("%w: csv line %d: a row needs a label and at least one feature", ErrFormat, line)
			}
		}
		if len(fields) != width {
			return nil, fmt.Errorf("%w: csv line %d has %d fields; earlier rows have %d", ErrFormat, line, len(fields), width)
		}
		label, err := parseLabel(strings.TrimSpace(fields[0]))
		if err != nil {
			hint := ""
			if line == 1 {
				hint = " (CSV datasets have no header row: the first field of each row is the integer label)"
			}
			return nil, fmt.Errorf("%w: csv line %d: label %q: %v%s", ErrFormat, line, fields[0], err, hint)
		}
		d.Y = append(d.Y, label)
		for j, f := range fields[1:] {
			v, err := strconv.ParseFloat(strings.TrimSpace(f), 32)
			if err != nil {
				return nil, fmt.Errorf("%w: csv line %d, feature %d: %q is not a number", ErrFormat, line, j, f)
			}
			d.X = append(d.X, float32(v))
		}
		d.N++
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: csv line %d: %v", ErrFormat, line+1, err)
	}
	if d.N == 0 {
		return nil, fmt.Errorf("%w: csv has no rows", ErrFormat)
	}
	d.Shape = []int{width - 1}
	return d, nil
}

func parseLabel(s string) (int64, error) {
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		if v < 0 {
			return 0, errors.New("labels must be non-negative class indices")
		}
		return v, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || f < 0 || f > math.MaxInt32 {
		return 0, errors.New("not a non-negative integer class index")
	}
	return int64(f), nil
}

// loadNPYPair reads features from path and labels from the matching file: x.npy → y.npy,
// name_x.npy → name_y.npy. Without a label file the dataset is unlabelled.
func loadNPYPair(path string) (*Dataset, error) {
	x, err := readNPYFile(path)
	if err != nil {
		return nil, err
	}
	var y *Array
	dir, base := filepath.Split(path)
	for _, pair := range [][2]string{{"x.npy", "y.npy"}, {"_x.npy", "_y.npy"}, {"X.npy", "y.npy"}} {
		if strings.HasSuffix(base, pair[0]) {
			yp := filepath.Join(dir, strings.TrimSuffix(base, pair[0])+pair[1])
			if _, err := os.Stat(yp); err == nil {
				if y, err = readNPYFile(yp); err != nil {
					return nil, err
				}
			}
			break
		}
	}
	d, err := fromArrays(x, y)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

func readNPYFile(path string) (*Array, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	a, err := ReadNPY(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

func loadNPZ(path string) (*Dataset, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: npz is a zip archive: %v", path, ErrFormat, err)
	}
	defer zr.Close()
	arrays := map[string]*Array{}
	var names []string
	for _, f := range zr.File {
		name := strings.TrimSuffix(f.Name, ".npy")
		names = append(names, name)
		if name != "x" && name != "y" && name != "X" {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("%s: %w: member %s: %v", path, ErrFormat, f.Name, err)
		}
		a, err := ReadNPY(rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("%s member %s: %w", path, f.Name, err)
		}
		arrays[strings.ToLower(name)] = a
	}
	if arrays["x"] == nil {
		return nil, fmt.Errorf("%s: %w: no array named x (it holds %v); save with numpy.savez(path, x=features, y=labels)", path, ErrFormat, names)
	}
	d, err := fromArrays(arrays["x"], arrays["y"])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

func fromArrays(x, y *Array) (*Dataset, error) {
	if len(x.Shape) < 1 {
		return nil, fmt.Errorf("%w: x is a scalar; it needs a leading sample dimension", ErrFormat)
	}
	d := &Dataset{N: x.Shape[0], Shape: slices.Clone(x.Shape[1:]), X: x.Floats()}
	if len(d.Shape) == 0 {
		d.Shape = []int{1}
	}
	if y == nil {
		return d, nil
	}
	if y.Len() != d.N {
		return nil, fmt.Errorf("%w: %d labels for %d samples", ErrFormat, y.Len(), d.N)
	}
	d.Y = make([]int64, d.N)
	for i := range d.N {
		var v float64
		if y.I64 != nil {
			v = float64(y.I64[i])
		} else {
			v = float64(y.F32[i])
		}
		if v < 0 || v != math.Trunc(v) {
			return nil, fmt.Errorf("%w: label %d is %v; labels must be non-negative class indices", ErrFormat, i, v)
		}
		d.Y[i] = int64(v)
	}
	return d, nil
}
