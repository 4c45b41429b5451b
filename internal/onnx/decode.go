package onnx

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/tinymlaas/tinyml/internal/onnx/onnxpb"
)

// ErrMalformed marks bytes that are not a well-formed ONNX model.
var ErrMalformed = errors.New("malformed ONNX model")

// ErrExternalData marks a model decoded without its directory whose tensors live in external
// files: load it from its path (Load) so they can be found.
var ErrExternalData = errors.New("model keeps tensors in external data files")

// maxSubgraphDepth bounds nesting of graph attributes; real models nest a few levels, hostile
// files nest until the stack runs out.
const maxSubgraphDepth = 64

// Load reads a model file. Tensors stored as external data are read from files beside it, and
// never from outside its directory.
func Load(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read model: %w", err)
	}
	m, err := decode(b, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Decode parses a model from bytes. A model that keeps tensors in external files must be read
// with Load, which knows where the files are.
func Decode(b []byte) (*Model, error) { return decode(b, "") }

func decode(b []byte, dir string) (*Model, error) {
	var pm onnxpb.ModelProto
	if err := proto.Unmarshal(b, &pm); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if pm.Graph == nil {
		return nil, fmt.Errorf("%w: no graph (is this an ONNX model file?)", ErrMalformed)
	}
	d := decoder{dir: dir}
	m := &Model{
		IRVersion:       pm.GetIrVersion(),
		ProducerName:    pm.GetProducerName(),
		ProducerVersion: pm.GetProducerVersion(),
		Domain:          pm.GetDomain(),
		ModelVersion:    pm.GetModelVersion(),
		Doc:             pm.GetDocString(),
	}
	for _, o := range pm.GetOpsetImport() {
		m.Opsets = append(m.Opsets, OpsetID{Domain: o.GetDomain(), Version: o.GetVersion()})
	}
	for _, kv := range pm.GetMetadataProps() {
		m.Metadata = append(m.Metadata, KeyValue{kv.GetKey(), kv.GetValue()})
	}
	g, err := d.graph(pm.Graph, 0)
	if err != nil {
		return nil, err
	}
	m.Graph = g
	// What remains of pm is what Model does not model; Encode writes it back.
	pm.Graph, pm.OpsetImport, pm.MetadataProps = nil, nil, nil
	m.rest = &pm
	return m, nil
}

type decoder struct {
	dir string // where external data lives; "" forbids external data
}

func (d *decoder) graph(pg *onnxpb.GraphProto, depth int) (*Graph, error) {
	if depth > maxSubgraphDepth {
		return nil, fmt.Errorf("%w: subgraphs nested deeper than %d", ErrMalformed, maxSubgraphDepth)
	}
	g := &Graph{Name: pg.GetName(), Doc: pg.GetDocString()}
	for _, pt := range pg.GetInitializer() {
		t, err := d.tensor(pt)
		if err != nil {
			return nil, err
		}
		g.Initializers = append(g.Initializers, t)
	}
	for _, ps := range pg.GetSparseInitializer() {
		t, err := d.sparse(ps)
		if err != nil {
			return nil, err
		}
		g.Initializers = append(g.Initializers, t)
	}
	var err error
	if g.Inputs, err = valueInfos(pg.GetInput()); err != nil {
		return nil, err
	}
	if g.Outputs, err = valueInfos(pg.GetOutput()); err != nil {
		return nil, err
	}
	if g.ValueInfo, err = valueInfos(pg.GetValueInfo()); err != nil {
		return nil, err
	}
	for _, pn := range pg.GetNode() {
		n := &Node{
			Name: pn.GetName(), OpType: pn.GetOpType(), Domain: pn.GetDomain(), Doc: pn.GetDocString(),
			Inputs: pn.GetInput(), Outputs: pn.GetOutput(),
		}
		if n.Domain == "ai.onnx" {
			n.Domain = ""
		}
		for _, pa := range pn.GetAttribute() {
			a, err := d.attr(pa, depth)
			if err != nil {
				return nil, fmt.Errorf("node %s: %w", n.Label(), err)
			}
			n.Attrs = append(n.Attrs, a)
		}
		g.Nodes = append(g.Nodes, n)
	}
	rest := &onnxpb.GraphProto{QuantizationAnnotation: pg.GetQuantizationAnnotation()}
	g.rest = rest
	return g, nil
}

func valueInfos(ps []*onnxpb.ValueInfoProto) ([]ValueInfo, error) {
	out := make([]ValueInfo, 0, len(ps))
	for _, p := range ps {
		v := ValueInfo{Name: p.GetName(), Doc: p.GetDocString()}
		tp := p.GetType()
		switch {
		case tp == nil:
		case tp.GetTensorType() != nil:
			tt := tp.GetTensorType()
			v.DType = DType(tt.GetElemType())
			if tt.GetShape() != nil {
				v.Shape = []Dim{}
				for _, pd := range tt.GetShape().GetDim() {
					var dim Dim
					switch x := pd.GetValue().(type) {
					case *onnxpb.TensorShapeProto_Dimension_DimValue:
						if x.DimValue < 0 {
							return nil, fmt.Errorf("%w: value %q has negative dimension %d", ErrMalformed, v.Name, x.DimValue)
						}
						dim.Value = x.DimValue
					case *onnxpb.TensorShapeProto_Dimension_DimParam:
						dim.Param = x.DimParam
					default:
						dim.Value = -1
					}
					v.Shape = append(v.Shape, dim)
				}
			}
		default:
			v.NotTensor = true
			b, err := proto.MarshalOptions{Deterministic: true}.Marshal(tp)
			if err != nil {
				return nil, fmt.Errorf("%w: value %q: %v", ErrMalformed, v.Name, err)
			}
			v.otherType = b
		}
		out = append(out, v)
	}
	return out, nil
}

func (d *decoder) attr(pa *onnxpb.AttributeProto, depth int) (Attr, error) {
	a := Attr{Name: pa.GetName(), Type: AttrType(pa.GetType()), RefAttrName: pa.GetRefAttrName()}
	if a.Type == AttrUndefined {
		a.Type = inferAttrType(pa) // IR < 3 files leave the type out
	}
	switch a.Type {
	case AttrFloat:
		a.Float = pa.GetF()
	case AttrInt:
		a.Int = pa.GetI()
	case AttrString:
		a.String = string(pa.GetS())
	case AttrTensor:
		if pa.GetT() == nil {
			return a, fmt.Errorf("%w: tensor attribute %q has no tensor", ErrMalformed, a.Name)
		}
		t, err := d.tensor(pa.GetT())
		if err != nil {
			return a, err
		}
		a.Tensor = t
	case AttrGraph:
		if pa.GetG() == nil {
			return a, fmt.Errorf("%w: graph attribute %q has no graph", ErrMalformed, a.Name)
		}
		g, err := d.graph(pa.GetG(), depth+1)
		if err != nil {
			return a, err
		}
		a.Graph = g
	case AttrFloats:
		a.Floats = pa.GetFloats()
	case AttrInts:
		a.Ints = pa.GetInts()
	case AttrStrings:
		for _, s := range pa.GetStrings() {
			a.Strings = append(a.Strings, string(s))
		}
	case AttrTensors:
		for _, pt := range pa.GetTensors() {
			t, err := d.tensor(pt)
			if err != nil {
				return a, err
			}
			a.Tensors = append(a.Tensors, t)
		}
	case AttrGraphs:
		for _, pg := range pa.GetGraphs() {
			g, err := d.graph(pg, depth+1)
			if err != nil {
				return a, err
			}
			a.Graphs = append(a.Graphs, g)
		}
	default:
		// Sparse tensors and type protos as attributes: kept by name only; no op we run uses them.
	}
	return a, nil
}

func inferAttrType(pa *onnxpb.AttributeProto) AttrType {
	switch {
	case pa.F != nil:
		return AttrFloat
	case pa.I != nil:
		return AttrInt
	case pa.S != nil:
		return AttrString
	case pa.T != nil:
		return AttrTensor
	case pa.G != nil:
		return AttrGraph
	case len(pa.Floats) > 0:
		return AttrFloats
	case len(pa.Ints) > 0:
		return AttrInts
	case len(pa.Strings) > 0:
		return AttrStrings
	case len(pa.Tensors) > 0:
		return AttrTensors
	case len(pa.Graphs) > 0:
		return AttrGraphs
	}
	return AttrUndefined
}

// tensor converts a TensorProto to the one little-endian form, whichever field held the data.
func (d *decoder) tensor(pt *onnxpb.TensorProto) (*Tensor, error) {
	t := &Tensor{Name: pt.GetName(), DType: DType(pt.GetDataType()), Dims: pt.GetDims(), Doc: pt.GetDocString()}
	if t.Dims == nil {
		t.Dims = []int64{}
	}
	n, err := numElems(t.Dims)
	if err != nil {
		return nil, fmt.Errorf("%w: tensor %q: %v", ErrMalformed, t.Name, err)
	}
	if pt.Segment != nil {
		return nil, fmt.Errorf("%w: tensor %q is segmented, which ONNX no longer allows", ErrMalformed, t.Name)
	}
	if t.DType == String {
		t.Strings = pt.GetStringData()
		if int64(len(t.Strings)) != n {
			return nil, fmt.Errorf("%w: string tensor %q has %d strings for %d elements", ErrMalformed, t.Name, len(t.Strings), n)
		}
		return t, nil
	}
	size := int64(t.DType.Size())
	if size == 0 {
		return nil, fmt.Errorf("%w: tensor %q has unknown element type %d", ErrMalformed, t.Name, int32(t.DType))
	}
	want := n * size
	switch {
	case pt.GetDataLocation() == onnxpb.TensorProto_EXTERNAL:
		raw, err := d.external(pt, want)
		if err != nil {
			return nil, err
		}
		t.Raw = raw
	case pt.RawData != nil:
		t.Raw = pt.RawData
	default:
		raw, err := typedToRaw(pt, t.DType, n)
		if err != nil {
			return nil, fmt.Errorf("%w: tensor %q: %v", ErrMalformed, t.Name, err)
		}
		t.Raw = raw
	}
	if int64(len(t.Raw)) != want {
		return nil, fmt.Errorf("%w: tensor %q (%s %v) has %d bytes of data, want %d", ErrMalformed, t.Name, t.DType, t.Dims, len(t.Raw), want)
	}
	return t, nil
}

// typedToRaw reads the typed repeated fields, whose layout depends on the element type
// (onnx.proto: int32_data also carries 8- and 16-bit types, uint64_data carries uint32).
func typedToRaw(pt *onnxpb.TensorProto, dt DType, n int64) ([]byte, error) {
	count := func(have int, per int64) error {
		if int64(have) != n*per {
			return fmt.Errorf("%d values for %d elements", have, n)
		}
		return nil
	}
	switch dt {
	case Float, Complex64:
		per := map[DType]int64{Float: 1, Complex64: 2}[dt]
		if err := count(len(pt.FloatData), per); err != nil {
			return nil, err
		}
		return encodeLE(pt.FloatData), nil
	case Double, Complex128:
		per := map[DType]int64{Double: 1, Complex128: 2}[dt]
		if err := count(len(pt.DoubleData), per); err != nil {
			return nil, err
		}
		return encodeLE(pt.DoubleData), nil
	case Int64:
		if err := count(len(pt.Int64Data), 1); err != nil {
			return nil, err
		}
		return encodeLE(pt.Int64Data), nil
	case Uint32, Uint64:
		if err := count(len(pt.Uint64Data), 1); err != nil {
			return nil, err
		}
		if dt == Uint64 {
			return encodeLE(pt.Uint64Data), nil
		}
		v := make([]uint32, len(pt.Uint64Data))
		for i, x := range pt.Uint64Data {
			v[i] = uint32(x)
		}
		return encodeLE(v), nil
	case Int32:
		if err := count(len(pt.Int32Data), 1); err != nil {
			return nil, err
		}
		return encodeLE(pt.Int32Data), nil
	case Int8, Uint8, Bool, Int16, Uint16, Float16, BFloat16:
		if err := count(len(pt.Int32Data), 1); err != nil {
			return nil, err
		}
		out := make([]byte, 0, n*int64(dt.Size()))
		for _, x := range pt.Int32Data {
			if dt.Size() == 1 {
				out = append(out, byte(x))
			} else {
				out = append(out, byte(x), byte(x>>8))
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("no data field for %s", dt)
}

// external reads a tensor kept in a file beside the model (onnx external data: location, offset,
// length), refusing locations that leave the model's directory.
func (d *decoder) external(pt *onnxpb.TensorProto, want int64) ([]byte, error) {
	var loc string
	var offset, length int64 = 0, -1
	for _, kv := range pt.GetExternalData() {
		var err error
		switch kv.GetKey() {
		case "location":
			loc = kv.GetValue()
		case "offset":
			offset, err = strconv.ParseInt(kv.GetValue(), 10, 64)
		case "length":
			length, err = strconv.ParseInt(kv.GetValue(), 10, 64)
		}
		if err != nil || offset < 0 {
			return nil, fmt.Errorf("%w: tensor %q: bad external data %s=%q", ErrMalformed, pt.GetName(), kv.GetKey(), kv.GetValue())
		}
	}
	if d.dir == "" {
		return nil, fmt.Errorf("%w: tensor %q is in %q; load the model from its path so the file can be found", ErrExternalData, pt.GetName(), loc)
	}
	if loc == "" || filepath.IsAbs(loc) || !filepath.IsLocal(loc) || strings.ContainsRune(loc, 0) {
		return nil, fmt.Errorf("%w: tensor %q: external data location %q must be a relative path inside the model's directory", ErrMalformed, pt.GetName(), loc)
	}
	if length >= 0 && length != want {
		return nil, fmt.Errorf("%w: tensor %q: external data length %d, want %d bytes", ErrMalformed, pt.GetName(), length, want)
	}
	root, err := os.OpenRoot(d.dir)
	if err != nil {
		return nil, fmt.Errorf("open model directory: %w", err)
	}
	defer root.Close()
	f, err := root.Open(loc)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: external data: %w", pt.GetName(), err)
	}
	defer f.Close()
	if want > math.MaxInt32*4 {
		return nil, fmt.Errorf("tensor %q: %d bytes is more than this engine loads", pt.GetName(), want)
	}
	buf := make([]byte, want)
	if _, err := f.ReadAt(buf, offset); err != nil && !(errors.Is(err, io.EOF) && want == 0) {
		return nil, fmt.Errorf("tensor %q: external data %q at offset %d: %w", pt.GetName(), loc, offset, err)
	}
	return buf, nil
}

// sparse densifies a sparse initializer: values at indices (flat [NNZ] or coordinates [NNZ, rank]).
func (d *decoder) sparse(ps *onnxpb.SparseTensorProto) (*Tensor, error) {
	if ps.GetValues() == nil || ps.GetIndices() == nil {
		return nil, fmt.Errorf("%w: sparse initializer without values or indices", ErrMalformed)
	}
	vals, err := d.tensor(ps.GetValues())
	if err != nil {
		return nil, err
	}
	idxT, err := d.tensor(ps.GetIndices())
	if err != nil {
		return nil, err
	}
	idx, err := idxT.Int64s()
	if err != nil {
		return nil, fmt.Errorf("%w: sparse initializer %q: %v", ErrMalformed, vals.Name, err)
	}
	dims := ps.GetDims()
	n, err := numElems(dims)
	if err != nil {
		return nil, fmt.Errorf("%w: sparse initializer %q: %v", ErrMalformed, vals.Name, err)
	}
	size := int64(vals.DType.Size())
	if size == 0 {
		return nil, fmt.Errorf("%w: sparse initializer %q of %s", ErrMalformed, vals.Name, vals.DType)
	}
	nnz := vals.NumElems()
	rank := int64(len(dims))
	flat := make([]int64, nnz)
	switch {
	case int64(len(idx)) == nnz:
		copy(flat, idx)
	case rank > 0 && int64(len(idx)) == nnz*rank:
		for i := range nnz {
			var off int64
			for j := range rank {
				off = off*dims[j] + idx[i*rank+j]
			}
			flat[i] = off
		}
	default:
		return nil, fmt.Errorf("%w: sparse initializer %q: %d indices for %d values", ErrMalformed, vals.Name, len(idx), nnz)
	}
	raw := make([]byte, n*size)
	for i, off := range flat {
		if off < 0 || off >= n {
			return nil, fmt.Errorf("%w: sparse initializer %q: index %d out of range", ErrMalformed, vals.Name, off)
		}
		copy(raw[off*size:(off+1)*size], vals.Raw[int64(i)*size:])
	}
	return &Tensor{Name: vals.Name, DType: vals.DType, Dims: dims, Raw: raw}, nil
}
