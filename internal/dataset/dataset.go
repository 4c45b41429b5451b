// Package dataset reads labelled datasets in the formats users bring: CSV (label first, no
// header), NumPy (.npy pairs or .npz with x and y) and, for images, folders of class directories
// (see LoadImages). Every reader checks what it reads and says what was wrong and where.
//
// A Dataset is fitted to a model's per-sample input shape with Fit (or WithShape when loading):
// flat features are reshaped when the element counts match, and image folders are re-rendered
// (resized, gray↔RGB) from the decoded originals.
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

	// ClassNames names the classes by label when the source names them (an image folder's class
	// folders, sorted); nil otherwise.
	ClassNames []string
	// Images records how an image folder became X (nil for other sources).
	Images *ImageInfo

	img *imageSet // an image folder's decoded originals, for Fit to re-render
}

// MaxClasses bounds labels: a label is a class index below it.
const MaxClasses = 1 << 20

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

// Classes is the number of classes: one more than the largest label, or the number of class
// names when more (0 when unlabelled and unnamed).
func (d *Dataset) Classes() int {
	c := int64(-1)
	for _, y := range d.Y {
		c = max(c, y)
	}
	return max(int(c+1), len(d.ClassNames))
}

// Subset returns samples [lo, hi) sharing memory with d.
func (d *Dataset) Subset(lo, hi int) *Dataset {
	n := d.SampleLen()
	s := &Dataset{N: hi - lo, Shape: d.Shape, X: d.X[lo*n : hi*n], ClassNames: d.ClassNames}
	if d.Y != nil {
		s.Y = d.Y[lo:hi]
	}
	if d.img != nil {
		s.img = &imageSet{pics: d.img.pics[lo:hi]}
		info := *d.Images
		info.Files = d.Images.Files[lo:hi]
		s.Images = &info
	}
	return s
}

// Fit fits the samples to a model's per-sample input shape. An image folder is re-rendered from
// its decoded originals when the shape reads as an image ([C,H,W] or [H,W,C] with C 1 or 3, or
// [H,W]) and differs from the current one: resized bilinearly, converted gray↔RGB, normalised as
// loaded. Otherwise the samples are reshaped when the element counts match (flat CSV features
// feeding a [1,8,8] input, say), and the mismatch is explained when they do not. Fit replaces
// d.X and d.Shape rather than writing into them, so a shallow copy of a Dataset can be fitted
// without touching the original.
func (d *Dataset) Fit(sample []int) error {
	if d.img != nil && d.Images != nil {
		if t, ok := asImageShape(sample); ok {
			if slices.Equal(sample, d.Shape) && t.layout == d.Images.Layout {
				return nil
			}
			if err := d.renderImages(t, d.Images.Norm); err != nil {
				return fmt.Errorf("%w: %v", ErrShape, err)
			}
			return nil
		}
	}
	want, overflow := 1, false
	for _, s := range sample {
		if s < 0 || (s > 0 && want > maxElements/s) {
			overflow = true
			break
		}
		want *= s
	}
	if overflow || want != d.SampleLen() {
		hint := ""
		if d.img != nil {
			hint = "; an image sample is [C,H,W] or [H,W,C] with C 1 or 3, or [H,W]"
		}
		return fmt.Errorf("%w: each sample has shape %v (%d values) but the model's input takes %v (%d values) per sample%s",
			ErrShape, d.Shape, d.SampleLen(), sample, want, hint)
	}
	d.Shape = slices.Clone(sample)
	return nil
}

// Option tunes Load and LoadImages.
type Option func(*options)

type options struct {
	shape     []int
	norm      Normalization
	maxPixels int64
	maxBytes  int64
}

func newOptions(opts []Option) options {
	o := options{maxPixels: DefaultMaxImagePixels, maxBytes: DefaultMaxImageBytes}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithShape fits the dataset to a model's per-sample input shape (the input's shape without the
// batch dimension) as it loads: image folders are rendered at that shape, other formats are
// fitted as Fit does.
func WithShape(sample []int) Option {
	return func(o *options) { o.shape = slices.Clone(sample) }
}

// WithNormalization maps an image folder's pixel values (raw 0..255 by default). Other formats
// are read as stored, and refuse a normalisation.
func WithNormalization(n Normalization) Option {
	return func(o *options) { o.norm = n }
}

// WithImageLimits bounds the size of any one image (pixels, checked from its header before it
// is decoded) and the decoded pixels of a whole folder (bytes); 0 keeps a default.
func WithImageLimits(maxPixels, maxBytes int64) Option {
	return func(o *options) {
		if maxPixels > 0 {
			o.maxPixels = maxPixels
		}
		if maxBytes > 0 {
			o.maxBytes = maxBytes
		}
	}
}

// ErrShape marks a dataset that cannot feed a model.
var ErrShape = errors.New("dataset does not fit the model")

// Load reads a dataset, choosing the reader by file name: .csv, .npy (x; labels from the
// matching y file), .npz (arrays x and y), a directory holding x.npy and y.npy, or an image
// folder (class subfolders of .png/.jpg images; see LoadImages). An archive of any of these is
// extracted by the caller first (volume.Extract), and its directory loaded.
func Load(path string, opts ...Option) (*Dataset, error) {
	o := newOptions(opts)
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	if st.IsDir() {
		x := filepath.Join(path, "x.npy")
		if _, err := os.Stat(x); err == nil {
			return finish(loadNPYPair(x))(path, o)
		}
		if _, ok := imageRoot(path); ok {
			return LoadImages(path, opts...)
		}
		hint := ""
		if img := firstImage(path); img != "" {
			hint = fmt.Sprintf(" (it holds %s: name the folder whose subfolders are the classes)", img)
		}
		return nil, fmt.Errorf("%w: dataset %s: a directory must hold x.npy and y.npy, or one subfolder per class holding .png or .jpg images (CLASS/IMAGE.png)%s", ErrFormat, path, hint)
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
	case ".parquet":
		return loadParquet(path, o)
	case ".png", ".jpg", ".jpeg":
		return nil, fmt.Errorf("%w: dataset %s is a single image; give the folder holding one subfolder per class (CLASS/IMAGE.png)", ErrFormat, path)
	default:
		return nil, fmt.Errorf("%w: dataset %s: unknown format %q (use .csv, .npy, .npz, .parquet, a directory of x.npy and y.npy, or an image folder)", ErrFormat, path, ext)
	}
	return finish(d, err)(path, o)
}

// finish applies the options that concern a loaded non-image dataset.
func finish(d *Dataset, err error) func(string, options) (*Dataset, error) {
	return func(path string, o options) (*Dataset, error) {
		if err != nil {
			return nil, err
		}
		if !o.norm.IsZero() {
			return nil, fmt.Errorf("dataset %s: normalisation (%s) applies to image folders; the values of this file are used as stored, so normalise them when saving it", path, o.norm)
		}
		if o.shape != nil {
			if err := d.Fit(o.shape); err != nil {
				return nil, fmt.Errorf("dataset %s: %w", path, err)
			}
		}
		return d, nil
	}
}

// ReadCSV reads rows of `label,f0,f1,...` with no header; every row must have the same length.
// Blank lines and a leading UTF-8 byte-order mark are ignored; every error names the line.
func ReadCSV(r io.Reader) (*Dataset, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 64<<20)
	d := &Dataset{}
	width := -1
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if line == 1 {
			text = strings.TrimPrefix(text, "\ufeff")
		}
		text = strings.TrimSpace(text)
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
			if d.N == 0 {
				hint = " (CSV datasets have no header row: the first field of each row is the integer label)"
			}
			return nil, fmt.Errorf("%w: csv line %d: label %q: %v%s", ErrFormat, line, fields[0], err, hint)
		}
		d.Y = append(d.Y, label)
		for j, f := range fields[1:] {
			v, err := strconv.ParseFloat(strings.TrimSpace(f), 32)
			if err != nil {
				what := "is not a number"
				if errors.Is(err, strconv.ErrRange) {
					what = "is beyond the float32 range"
				}
				return nil, fmt.Errorf("%w: csv line %d, feature %d: %q %s", ErrFormat, line, j, f, what)
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
		if v < 0 || v >= MaxClasses {
			return 0, fmt.Errorf("labels must be class indices from 0 to %d", MaxClasses-1)
		}
		return v, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || f < 0 || f >= MaxClasses {
		return 0, fmt.Errorf("not an integer class index from 0 to %d", MaxClasses-1)
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
	size := int64(-1)
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	a, err := readNPY(f, size)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

func loadNPZ(path string) (*Dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	d, err := ReadNPZ(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// ReadNPZ reads an .npz archive (numpy.savez or savez_compressed) holding arrays x (features,
// samples first) and y (labels); other members are ignored.
func ReadNPZ(r io.ReaderAt, size int64) (*Dataset, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) { // member names are only compared here
		return nil, fmt.Errorf("%w: npz is a zip archive: %v", ErrFormat, err)
	}
	arrays := map[string]*Array{}
	var names []string
	for _, f := range zr.File {
		name := strings.TrimSuffix(f.Name, ".npy")
		names = append(names, name)
		if name != "x" && name != "y" && name != "X" {
			continue
		}
		if arrays[strings.ToLower(name)] != nil {
			return nil, fmt.Errorf("%w: npz holds two arrays named %s", ErrFormat, strings.ToLower(name))
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("%w: member %s: %v", ErrFormat, f.Name, err)
		}
		// The member's declared size bounds what its header may announce (the zip reader
		// checks the real size against it), so a lying header fails before any allocation.
		a, err := readNPY(rc, int64(min(f.UncompressedSize64, math.MaxInt64)))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("member %s: %w", f.Name, err)
		}
		arrays[strings.ToLower(name)] = a
	}
	if arrays["x"] == nil {
		return nil, fmt.Errorf("%w: no array named x (it holds %v); save with numpy.savez(path, x=features, y=labels)", ErrFormat, names)
	}
	return fromArrays(arrays["x"], arrays["y"])
}

// WriteNPZ writes the dataset as an .npz that Load and numpy.load read: x, float32 of shape
// [N, Shape...], and y, int64 labels, when labelled. It is the compact form of a fitted dataset:
// an image folder rendered at a model's input shape, say, which a device job then reads without
// decoding images. Class names and preprocessing are not stored; keep them beside it.
func (d *Dataset) WriteNPZ(w io.Writer) error {
	zw := zip.NewWriter(w)
	member := func(name string, write func(io.Writer) error) error {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			return err
		}
		return write(fw)
	}
	err := member("x.npy", func(w io.Writer) error { return WriteNPY(w, append([]int{d.N}, d.Shape...), d.X) })
	if err == nil && d.Y != nil {
		err = member("y.npy", func(w io.Writer) error { return writeInt64NPY(w, []int{d.N}, d.Y) })
	}
	if err != nil {
		return err
	}
	return zw.Close()
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
		if !(v >= 0 && v < MaxClasses) || v != math.Trunc(v) {
			return nil, fmt.Errorf("%w: label %d is %v; labels must be class indices from 0 to %d", ErrFormat, i, v, MaxClasses-1)
		}
		d.Y[i] = int64(v)
	}
	return d, nil
}
