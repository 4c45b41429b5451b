package dataset

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// Parquet datasets
//
// A parquet file is read the way Hugging Face `datasets` writes one (push_to_hub, and the
// Hub's refs/convert/parquet branch): one row per sample, with
//
//   - a label column: "label", else "labels", else the one column the file's "huggingface"
//     metadata declares a ClassLabel; integer class indices (floats holding integers pass).
//     The ClassLabel's names become the class names. Without any, the dataset is unlabelled;
//   - an image column — a struct of bytes and path, as datasets' Image feature stores images —
//     whose PNG or JPEG bytes are decoded as an image folder's files are (see the notes on
//     image folders: the same limits, rendering to a model's shape and normalisation), or else
//   - numeric feature columns — scalars (integers, floats, booleans) and lists of numbers,
//     which must hold as many values in every row — concatenated in schema order into one flat
//     sample (Fit reshapes it to the model's input).
//
// Other columns (text, ids, file names) are ignored, and so are numeric ones beside an image.
// Only the columns used are read. The uncompressed size of those columns is bounded by the
// image-folder byte limit (WithImageLimits; 1 GiB by default), and a malformed file fails with
// ErrFormat, whatever the parquet library makes of it.

// ReadParquet reads a parquet dataset (see the notes above). Options apply as for Load.
func ReadParquet(r io.ReaderAt, size int64, opts ...Option) (*Dataset, error) {
	return readParquet("parquet data", r, size, newOptions(opts))
}

func loadParquet(path string, o options) (*Dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	return readParquet(path, f, st.Size(), o)
}

// pqLeaf is a leaf column the reader uses.
type pqLeaf struct {
	name     string // the top-level column it belongs to
	index    int    // leaf index in the row group's column chunks
	kind     parquet.Kind
	unsigned bool
	maxRep   int
	maxDef   int
	repDef   int // the definition level of the innermost repeated column on its path (0: none)
}

type pqPlan struct {
	label      *pqLeaf
	imageBytes *pqLeaf
	imagePath  *pqLeaf
	features   []*pqLeaf
	classNames []string
}

func readParquet(name string, r io.ReaderAt, size int64, o options) (d *Dataset, err error) {
	defer func() {
		// The parquet library trusts the file more than a reader of uploads may: any panic on a
		// malformed file is a format error.
		if p := recover(); p != nil {
			d, err = nil, fmt.Errorf("%w: %s is malformed parquet: %v", ErrFormat, name, p)
		}
	}()
	var magic [4]byte
	if size < 12 {
		return nil, fmt.Errorf("%w: %s is not a parquet file (%d bytes)", ErrFormat, name, size)
	}
	if _, err := r.ReadAt(magic[:], 0); err != nil || string(magic[:]) != "PAR1" {
		return nil, fmt.Errorf("%w: %s is not a parquet file (it does not start with PAR1)", ErrFormat, name)
	}
	// The footer's length is read from the file's end; the library would allocate whatever it
	// says before reading it.
	var tail [8]byte
	if _, err := r.ReadAt(tail[:], size-8); err != nil || string(tail[4:]) != "PAR1" {
		return nil, fmt.Errorf("%w: %s is not a parquet file, or it is truncated (it does not end with PAR1)", ErrFormat, name)
	}
	footer := int64(binary.LittleEndian.Uint32(tail[:4]))
	if footer > size-12 {
		return nil, fmt.Errorf("%w: %s is truncated: its footer claims %d bytes of a %d-byte file", ErrFormat, name, footer, size)
	}
	if footer > maxParquetFooter {
		return nil, fmt.Errorf("%w: %s has a footer of %d MiB; more than %d MiB of metadata is refused", ErrFormat, name, footer>>20, maxParquetFooter>>20)
	}
	meta := make([]byte, footer)
	if _, err := r.ReadAt(meta, size-8-footer); err != nil {
		return nil, fmt.Errorf("%w: %s: reading the footer: %v", ErrFormat, name, err)
	}
	if err := checkThrift(meta, nil); err != nil {
		return nil, fmt.Errorf("%w: %s: the footer is malformed: %v", ErrFormat, name, err)
	}
	f, err := parquet.OpenFile(r, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true), parquet.ReadBufferSize(64<<10))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrFormat, name, err)
	}
	plan, err := planParquet(f)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrFormat, name, err)
	}
	if err := checkParquetSize(f, plan, o.maxBytes); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := checkParquetPages(r, size-8-footer, f, plan, o.maxBytes); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	cols, n, err := readParquetColumns(f, plan)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrFormat, name, err)
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: %s has no rows", ErrFormat, name)
	}
	d = &Dataset{N: n, ClassNames: plan.classNames}
	if plan.label != nil {
		if d.Y, err = parquetLabels(cols[plan.label.index], plan.label); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrFormat, name, err)
		}
	}
	if plan.imageBytes != nil {
		return parquetImages(name, d, plan, cols, o)
	}
	if d.X, d.Shape, err = parquetFeatures(n, plan, cols); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrFormat, name, err)
	}
	return finish(d, nil)(name, o)
}

// planParquet chooses the label, image and feature columns from the schema and the
// "huggingface" metadata.
func planParquet(f *parquet.File) (*pqPlan, error) {
	var hfMeta struct {
		Info struct {
			Features map[string]json.RawMessage `json:"features"`
		} `json:"info"`
	}
	if s, ok := f.Lookup("huggingface"); ok {
		_ = json.Unmarshal([]byte(s), &hfMeta) // advisory: a broken one is ignored
	}
	feature := func(col string) (typ string, names []string) {
		var ft struct {
			Type  string   `json:"_type"`
			Names []string `json:"names"`
		}
		if raw, ok := hfMeta.Info.Features[col]; ok && json.Unmarshal(raw, &ft) == nil {
			return ft.Type, ft.Names
		}
		return "", nil
	}

	type top struct {
		name    string
		leaves  []*pqLeaf
		image   bool // a struct {bytes, path}
		numeric bool // every leaf is a number
		scalar  bool // one non-repeated leaf
		kinds   string
	}
	var tops []top
	for _, c := range f.Root().Columns() {
		t := top{name: c.Name()}
		var walk func(c *parquet.Column, repDef int)
		walk = func(c *parquet.Column, repDef int) {
			if c.Repeated() {
				repDef = c.MaxDefinitionLevel()
			}
			if c.Leaf() {
				l := &pqLeaf{name: t.name, index: c.Index(), kind: c.Type().Kind(), maxRep: c.MaxRepetitionLevel(), maxDef: c.MaxDefinitionLevel(), repDef: repDef}
				if lt := c.Type().LogicalType(); lt != nil {
					if it, ok := lt.Value.(*format.IntType); ok && !it.IsSigned {
						l.unsigned = true
					}
				}
				t.leaves = append(t.leaves, l)
				return
			}
			for _, k := range c.Columns() {
				walk(k, repDef)
			}
		}
		walk(c, 0)
		t.numeric = len(t.leaves) > 0
		var kinds []string
		for _, l := range t.leaves {
			kinds = append(kinds, l.kind.String())
			switch l.kind {
			case parquet.Boolean, parquet.Int32, parquet.Int64, parquet.Float, parquet.Double:
			default:
				t.numeric = false
			}
		}
		t.kinds = strings.Join(kinds, ",")
		t.scalar = c.Leaf() && len(t.leaves) == 1 && t.leaves[0].maxRep == 0
		if !c.Leaf() {
			if b := c.Column("bytes"); b != nil && b.Leaf() && b.Type().Kind() == parquet.ByteArray {
				t.image = true
			}
		}
		tops = append(tops, t)
	}
	describe := func() string {
		var s []string
		for _, t := range tops {
			s = append(s, fmt.Sprintf("%s (%s)", t.name, strings.ToLower(t.kinds)))
		}
		return strings.Join(s, ", ")
	}

	p := &pqPlan{}
	labelCol := -1
	for _, want := range []string{"label", "labels"} {
		for i, t := range tops {
			if t.name == want && labelCol < 0 {
				labelCol = i
			}
		}
	}
	if labelCol < 0 {
		var classLabels []int
		for i, t := range tops {
			if typ, _ := feature(t.name); typ == "ClassLabel" {
				classLabels = append(classLabels, i)
			}
		}
		if len(classLabels) == 1 {
			labelCol = classLabels[0]
		}
	}
	if labelCol >= 0 {
		t := tops[labelCol]
		switch {
		case !t.numeric && len(t.leaves) == 1 && t.leaves[0].kind == parquet.ByteArray:
			return nil, fmt.Errorf("the label column %s holds text; labels are integer class indices (in Python: dataset.class_encode_column(%q) before saving)", t.name, t.name)
		case !t.numeric || !t.scalar:
			return nil, fmt.Errorf("the label column %s is %s; it must be one integer class index per row (multi-label datasets are not supported)", t.name, strings.ToLower(t.kinds))
		}
		p.label = t.leaves[0]
		_, p.classNames = feature(t.name)
		if len(p.classNames) > MaxClasses {
			p.classNames = nil
		}
	}
	var images []string
	for i, t := range tops {
		if i == labelCol {
			continue
		}
		typ, _ := feature(t.name)
		if t.image || (typ == "Image" && !t.numeric) {
			if !t.image {
				return nil, fmt.Errorf("the image column %s is not a struct of bytes and path (it is %s)", t.name, strings.ToLower(t.kinds))
			}
			images = append(images, t.name)
			for _, l := range t.leaves {
				if l.maxRep > 0 {
					return nil, fmt.Errorf("the image column %s holds lists of images; one image per row is supported", t.name)
				}
			}
			col := f.Root().Column(t.name)
			p.imageBytes = leafOf(t.leaves, col.Column("bytes").Index())
			if pc := col.Column("path"); pc != nil && pc.Leaf() && pc.Type().Kind() == parquet.ByteArray {
				p.imagePath = leafOf(t.leaves, pc.Index())
			}
			continue
		}
		if t.numeric && len(t.leaves) == 1 {
			p.features = append(p.features, t.leaves[0])
		}
	}
	switch {
	case len(images) > 1:
		return nil, fmt.Errorf("it holds %d image columns (%s); keep the one to use", len(images), strings.Join(images, ", "))
	case len(images) == 1:
		p.features = nil
	case len(p.features) == 0:
		return nil, fmt.Errorf("no feature columns: a dataset needs an image column (a struct of bytes and path, as datasets' Image feature writes) or numeric columns; it holds %s", describe())
	}
	return p, nil
}

func leafOf(leaves []*pqLeaf, index int) *pqLeaf {
	for _, l := range leaves {
		if l.index == index {
			return l
		}
	}
	return nil
}

func (p *pqPlan) leaves() []*pqLeaf {
	var out []*pqLeaf
	for _, l := range append([]*pqLeaf{p.label, p.imageBytes, p.imagePath}, p.features...) {
		if l != nil {
			out = append(out, l)
		}
	}
	return out
}

// checkParquetSize bounds what reading the chosen columns decompresses, from the footer.
func checkParquetSize(f *parquet.File, p *pqPlan, limit int64) error {
	var total int64
	for _, rg := range f.Metadata().RowGroups {
		for _, l := range p.leaves() {
			if l.index >= len(rg.Columns) {
				return fmt.Errorf("%w: a row group lacks column %d", ErrFormat, l.index)
			}
			s := rg.Columns[l.index].MetaData.TotalUncompressedSize
			if s < 0 {
				return fmt.Errorf("%w: column %s declares a negative size", ErrFormat, l.name)
			}
			if total += s; total > limit || total < 0 {
				return fmt.Errorf("%w: the columns used hold more than %d MiB uncompressed; give a smaller file (a split, or fewer rows) or raise the limit", ErrImageTooLarge, limit>>20)
			}
		}
	}
	return nil
}

// pqColumn is one leaf column read: its non-null values and, per row, how many there are.
type pqColumn struct {
	floats []float32 // numbers (labels and features)
	bytes  [][]byte  // byte arrays (image bytes and paths); nil entries are nulls
	counts []int32   // values per row
	nulls  []bool    // per row: the row's value (or list) is null
}

// readParquetColumns reads the plan's leaf columns, row group by row group.
func readParquetColumns(f *parquet.File, p *pqPlan) (map[int]*pqColumn, int, error) {
	cols := map[int]*pqColumn{}
	for _, l := range p.leaves() {
		cols[l.index] = &pqColumn{}
	}
	rows := 0
	for g, rg := range f.RowGroups() {
		want := rg.NumRows()
		if want < 0 || want > maxElements {
			return nil, 0, fmt.Errorf("row group %d declares %d rows", g, want)
		}
		chunks := rg.ColumnChunks()
		for _, l := range p.leaves() {
			if l.index >= len(chunks) {
				return nil, 0, fmt.Errorf("row group %d lacks column %s", g, l.name)
			}
			got, err := readParquetLeaf(chunks[l.index], l, cols[l.index], want)
			if err != nil {
				return nil, 0, fmt.Errorf("row group %d, column %s: %v", g, l.name, err)
			}
			if got != want {
				return nil, 0, fmt.Errorf("row group %d, column %s holds %d rows where the group declares %d", g, l.name, got, want)
			}
		}
		rows += int(want)
		if rows > maxElements {
			return nil, 0, fmt.Errorf("more than %d rows", maxElements)
		}
	}
	return cols, rows, nil
}

func readParquetLeaf(chunk parquet.ColumnChunk, l *pqLeaf, c *pqColumn, maxRows int64) (int64, error) {
	pages := chunk.Pages()
	defer pages.Close()
	buf := make([]parquet.Value, 512)
	var rows int64
	for {
		page, err := pages.ReadPage()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return rows, err
		}
		vr := page.Values()
		for {
			n, err := vr.ReadValues(buf)
			for _, v := range buf[:n] {
				if v.RepetitionLevel() == 0 {
					if rows++; rows > maxRows {
						return rows, fmt.Errorf("more rows than the row group declares (%d)", maxRows)
					}
					c.counts = append(c.counts, 0)
					c.nulls = append(c.nulls, false)
				} else if rows == 0 {
					return rows, errors.New("a value continues a row that never started")
				}
				last := len(c.counts) - 1
				if v.IsNull() {
					switch {
					case l.maxRep == 0: // a null scalar
						c.nulls[last] = true
					case v.DefinitionLevel() >= l.repDef: // a slot of a list holding null
						return rows, fmt.Errorf("row %d holds a null element in a list", len(c.counts)-1)
					} // else a null or empty list: no values
					continue
				}
				c.counts[last]++
				if l.kind == parquet.ByteArray {
					c.bytes = append(c.bytes, bytes.Clone(v.ByteArray()))
					continue
				}
				x, err := pqFloat(v, l)
				if err != nil {
					return rows, fmt.Errorf("row %d: %v", len(c.counts)-1, err)
				}
				c.floats = append(c.floats, x)
				if len(c.floats) > maxElements {
					return rows, fmt.Errorf("more than %d values", maxElements)
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return rows, err
			}
		}
	}
}

func pqFloat(v parquet.Value, l *pqLeaf) (float32, error) {
	var x float64
	switch v.Kind() {
	case parquet.Boolean:
		if v.Boolean() {
			x = 1
		}
	case parquet.Int32:
		if l.unsigned {
			x = float64(v.Uint32())
		} else {
			x = float64(v.Int32())
		}
	case parquet.Int64:
		if l.unsigned {
			x = float64(v.Uint64())
		} else {
			x = float64(v.Int64())
		}
	case parquet.Float:
		return v.Float(), nil
	case parquet.Double:
		x = v.Double()
		if !math.IsInf(x, 0) && !math.IsNaN(x) && math.Abs(x) > math.MaxFloat32 {
			return 0, fmt.Errorf("%v is beyond the float32 range", x)
		}
	default:
		return 0, fmt.Errorf("a %s value where a number was expected", v.Kind())
	}
	return float32(x), nil
}

func parquetLabels(c *pqColumn, l *pqLeaf) ([]int64, error) {
	y := make([]int64, len(c.counts))
	for i := range y {
		if c.nulls[i] || c.counts[i] != 1 {
			return nil, fmt.Errorf("row %d has no label (the %s column is null)", i, l.name)
		}
	}
	for i, v := range c.floats {
		if !(v >= 0 && v < MaxClasses) || float64(v) != math.Trunc(float64(v)) {
			return nil, fmt.Errorf("row %d: label %v; labels must be class indices from 0 to %d", i, v, MaxClasses-1)
		}
		y[i] = int64(v)
	}
	return y, nil
}

// parquetFeatures concatenates the feature columns row by row; every row must hold as many.
func parquetFeatures(n int, p *pqPlan, cols map[int]*pqColumn) ([]float32, []int, error) {
	width := 0
	for _, l := range p.features {
		c := cols[l.index]
		width += int(c.counts[0])
		for i := range n {
			if c.nulls[i] && l.maxRep == 0 {
				return nil, nil, fmt.Errorf("row %d: column %s is null", i, l.name)
			}
			if c.counts[i] != c.counts[0] {
				return nil, nil, fmt.Errorf("row %d: column %s holds %d values where row 0 holds %d; every sample needs as many features", i, l.name, c.counts[i], c.counts[0])
			}
		}
	}
	if width == 0 {
		return nil, nil, errors.New("the feature columns hold no values")
	}
	if n > maxElements/width {
		return nil, nil, fmt.Errorf("%d rows of %d features are more than %d values", n, width, maxElements)
	}
	x := make([]float32, 0, n*width)
	for i := range n {
		for _, l := range p.features {
			c := cols[l.index]
			k := int(c.counts[0])
			x = append(x, c.floats[i*k:(i+1)*k]...)
		}
	}
	return x, []int{width}, nil
}

// parquetImages decodes the image column and renders it as LoadImages renders a folder.
func parquetImages(name string, d *Dataset, p *pqPlan, cols map[int]*pqColumn, o options) (*Dataset, error) {
	t, asImage := asImageShape(o.shape)
	if err := o.norm.Validate(t.c); err != nil {
		return nil, fmt.Errorf("dataset %s: %w", name, err)
	}
	bc := cols[p.imageBytes.index]
	var paths []string
	if p.imagePath != nil {
		pc := cols[p.imagePath.index]
		k := 0
		for i := range d.N {
			s := ""
			if pc.counts[i] == 1 {
				s, k = string(pc.bytes[k]), k+1
			}
			paths = append(paths, s)
		}
	}
	files := make([]string, d.N)
	raw := make([][]byte, d.N)
	k := 0
	for i := range d.N {
		files[i] = fmt.Sprintf("row %d", i)
		if paths != nil && paths[i] != "" {
			files[i] = paths[i]
		}
		if bc.counts[i] != 1 {
			hint := ""
			if paths != nil && paths[i] != "" {
				hint = fmt.Sprintf(" (only its path %q)", paths[i])
			}
			return nil, fmt.Errorf("%w: %s: row %d holds no image bytes%s; save the dataset with the images embedded (datasets' push_to_hub and to_parquet embed them)", ErrFormat, name, i, hint)
		}
		raw[i], k = bc.bytes[k], k+1
	}
	label := func(i int) string { return fmt.Sprintf("%s: %s row %d (%s)", name, p.imageBytes.name, i, files[i]) }
	var total int64
	for i, b := range raw {
		cfg, _, err := checkConfig(label(i), bufio.NewReader(bytes.NewReader(b)), o.maxPixels)
		if err != nil {
			return nil, err
		}
		px := int64(cfg.Width) * int64(cfg.Height)
		if cfg.ColorModel != color.GrayModel && cfg.ColorModel != color.Gray16Model {
			px *= 4
		}
		if total += px; total > o.maxBytes {
			return nil, fmt.Errorf("%w: the images of %s decode to more than %d MiB (at row %d); give a smaller file or raise the limit",
				ErrImageTooLarge, name, o.maxBytes>>20, i)
		}
	}
	set := &imageSet{pics: make([]image.Image, d.N)}
	err := parallel(d.N, func(i int) error {
		m, err := readImage(label(i), bytes.NewReader(raw[i]), o.maxPixels)
		set.pics[i] = m
		return err
	})
	if err != nil {
		return nil, err
	}
	d.img = set
	d.Images = &ImageInfo{Root: name, Files: files, Filter: "bilinear", Norm: o.norm}
	if !asImage {
		t = nativeTarget(set.pics)
	}
	if err := d.renderImages(t, o.norm); err != nil {
		return nil, fmt.Errorf("dataset %s: %w", name, err)
	}
	if o.shape != nil && !asImage {
		if err := d.Fit(o.shape); err != nil {
			return nil, fmt.Errorf("dataset %s: %w", name, err)
		}
	}
	if len(d.ClassNames) > 0 && slices.ContainsFunc(d.Y, func(y int64) bool { return y >= int64(len(d.ClassNames)) }) {
		d.ClassNames = nil // names that do not cover the labels would mislead
	}
	return d, nil
}

// The parquet library allocates what a file declares (list lengths in its thrift metadata, page
// sizes, value counts) before reading it. The reader therefore walks the footer and the page
// headers of the columns it will read first, refusing any length that exceeds the bytes that
// remain or the limits, so that a malformed or hostile file fails cleanly instead of exhausting
// memory.

const (
	maxParquetFooter    = 16 << 20 // bytes of footer metadata
	maxThriftElements   = 1 << 20  // list elements in one thrift structure
	maxThriftDepth      = 32
	compactStop         = 0
	compactTrue         = 1
	compactFalse        = 2
	compactByte         = 3
	compactI16          = 4
	compactI32          = 5
	compactI64          = 6
	compactDouble       = 7
	compactBinary       = 8
	compactList         = 9
	compactSet          = 10
	compactMap          = 11
	compactStruct       = 12
	pageUncompressed    = 2 // PageHeader's fields
	pageCompressed      = 3
	pageDataV1          = 5
	pageDictionary      = 7
	pageDataV2          = 8
	pageHeaderNumValues = 1 // num_values in each of the page kinds' headers
)

// thriftWalk walks one compact-protocol struct, checking every length against the bytes left.
type thriftWalk struct {
	b     []byte
	off   int
	count int
	// ints receives the integer fields of the outer struct (path of one field id) and of the
	// structs directly inside it (two ids).
	ints func(path [2]int16, depth int, v int64)
}

// checkThrift validates a compact-protocol struct at the start of b and returns how many bytes
// it takes.
func checkThrift(b []byte, ints func(path [2]int16, depth int, v int64)) error {
	_, err := walkThrift(b, ints)
	return err
}

func walkThrift(b []byte, ints func(path [2]int16, depth int, v int64)) (int, error) {
	w := &thriftWalk{b: b, ints: ints}
	err := w.structure(0, [2]int16{})
	return w.off, err
}

var errThriftShort = errors.New("a length runs past the end of the data")

func (w *thriftWalk) byte1() (byte, error) {
	if w.off >= len(w.b) {
		return 0, errThriftShort
	}
	w.off++
	return w.b[w.off-1], nil
}

func (w *thriftWalk) uvarint() (uint64, error) {
	v, n := binary.Uvarint(w.b[w.off:])
	if n <= 0 {
		return 0, errors.New("a malformed varint")
	}
	w.off += n
	return v, nil
}

func (w *thriftWalk) length() (int, error) {
	n, err := w.uvarint()
	if err != nil {
		return 0, err
	}
	if n > uint64(len(w.b)-w.off) {
		return 0, errThriftShort
	}
	return int(n), nil
}

func (w *thriftWalk) structure(depth int, path [2]int16) error {
	if depth > maxThriftDepth {
		return errors.New("structures nested too deep")
	}
	var id int16
	for {
		h, err := w.byte1()
		if err != nil {
			return err
		}
		if h == compactStop {
			return nil
		}
		typ := h & 0x0f
		if delta := int16(h >> 4); delta != 0 {
			id += delta
		} else {
			v, err := w.uvarint()
			if err != nil {
				return err
			}
			id = int16(int64(v>>1) ^ -int64(v&1))
		}
		p := path
		if depth < 2 {
			p[depth] = id
		}
		if err := w.value(typ, depth, p); err != nil {
			return err
		}
	}
}

func (w *thriftWalk) value(typ byte, depth int, path [2]int16) error {
	switch typ {
	case compactTrue, compactFalse:
		return nil
	case compactByte:
		_, err := w.byte1()
		return err
	case compactI16, compactI32, compactI64:
		v, err := w.uvarint()
		if err == nil && w.ints != nil && depth < 2 {
			w.ints(path, depth, int64(v>>1)^-int64(v&1))
		}
		return err
	case compactDouble:
		if len(w.b)-w.off < 8 {
			return errThriftShort
		}
		w.off += 8
		return nil
	case compactBinary:
		n, err := w.length()
		w.off += n
		return err
	case compactList, compactSet:
		h, err := w.byte1()
		if err != nil {
			return err
		}
		n := int(h >> 4)
		if n == 15 {
			if n, err = w.length(); err != nil { // each element takes a byte at least
				return err
			}
		}
		return w.elements(n, func() error { return w.value(h&0x0f, depth+1, path) })
	case compactMap:
		n, err := w.length()
		if err != nil || n == 0 {
			return err
		}
		kv, err := w.byte1()
		if err != nil {
			return err
		}
		return w.elements(n, func() error {
			if err := w.value(kv>>4, depth+1, path); err != nil {
				return err
			}
			return w.value(kv&0x0f, depth+1, path)
		})
	case compactStruct:
		return w.structure(depth+1, path)
	}
	return fmt.Errorf("unknown thrift type %d", typ)
}

func (w *thriftWalk) elements(n int, each func() error) error {
	if w.count += n; w.count > maxThriftElements {
		return fmt.Errorf("more than %d list elements", maxThriftElements)
	}
	for range n {
		if err := each(); err != nil {
			return err
		}
	}
	return nil
}

// checkParquetPages walks the page headers of the column chunks the plan reads: each must parse,
// its compressed bytes must lie within the chunk, its uncompressed size within the byte limit,
// and the values all pages declare within what the limit allows to decode.
func checkParquetPages(r io.ReaderAt, dataEnd int64, f *parquet.File, p *pqPlan, limit int64) error {
	valueBudget := max(limit/8, 1<<20)
	for g, rg := range f.Metadata().RowGroups {
		for _, l := range p.leaves() {
			m := rg.Columns[l.index].MetaData
			start := m.DataPageOffset
			if m.DictionaryPageOffset != 0 {
				start = m.DictionaryPageOffset
			}
			if start < 4 || m.TotalCompressedSize < 0 || m.TotalCompressedSize > dataEnd-start {
				return fmt.Errorf("%w: row group %d, column %s lies outside the file", ErrFormat, g, l.name)
			}
			if m.TotalCompressedSize > limit {
				return fmt.Errorf("%w: row group %d, column %s holds more than %d MiB", ErrImageTooLarge, g, l.name, limit>>20)
			}
			chunk := make([]byte, m.TotalCompressedSize)
			if _, err := r.ReadAt(chunk, start); err != nil {
				return fmt.Errorf("%w: row group %d, column %s: %v", ErrFormat, g, l.name, err)
			}
			for off := 0; off < len(chunk); {
				var uncompressed, compressed, values int64 = -1, -1, 0
				n, err := walkThrift(chunk[off:], func(path [2]int16, depth int, v int64) {
					switch {
					case depth == 0 && path[0] == pageUncompressed:
						uncompressed = v
					case depth == 0 && path[0] == pageCompressed:
						compressed = v
					case depth == 1 && path[1] == pageHeaderNumValues && (path[0] == pageDataV1 || path[0] == pageDictionary || path[0] == pageDataV2):
						values = v
					}
				})
				if err != nil {
					return fmt.Errorf("%w: row group %d, column %s: a page header is malformed: %v", ErrFormat, g, l.name, err)
				}
				off += n
				switch {
				case compressed < 0 || compressed > int64(len(chunk)-off):
					return fmt.Errorf("%w: row group %d, column %s: a page claims %d bytes where %d remain", ErrFormat, g, l.name, compressed, len(chunk)-off)
				case uncompressed < 0 || uncompressed > limit:
					return fmt.Errorf("%w: row group %d, column %s: a page decompresses to %d bytes (the limit is %d MiB)", ErrImageTooLarge, g, l.name, uncompressed, limit>>20)
				case values < 0:
					return fmt.Errorf("%w: row group %d, column %s: a page declares %d values", ErrFormat, g, l.name, values)
				}
				if valueBudget -= values; valueBudget < 0 {
					return fmt.Errorf("%w: the columns used declare more values than %d MiB allows", ErrImageTooLarge, limit>>20)
				}
				off += int(compressed)
			}
		}
	}
	return nil
}
