// Package pack writes and reads the compiled artifact a device installs: an ONNX model whose
// weights are stored in the smallest exact encoding each allows.
//
// Pruned weights are mostly zeros, clustered weights take a few distinct values, int8 weights are
// bytes, and some float32 tensors (quantization scales chosen for it) are exact float16 values.
// ONNX stores all of them at full width; a packed artifact stores each initializer as whichever
// of these is smallest, and decoding gives back exactly the same tensors:
//
//	raw        the little-endian elements, as ONNX has them
//	half       float32 values that are all exact float16: 2 bytes each
//	narrow     integers that all fit a narrower integer: 1, 2 or 4 bytes each
//	clustered  at most 256 distinct values: a codebook and bit-packed indices (1–8 bits)
//	huffman    the same codebook with canonical Huffman codes instead of fixed-width indices
//	sparse     a bitmask of the nonzero elements, then those elements in one of the above
//	strings    string tensors: length-prefixed bytes
//
// Layout (integers little-endian, "uvarint" as encoding/binary):
//
//	magic    8 bytes  "\x89TMLPK\r\n"
//	version  1 byte   1
//	flags    1 byte   0 (reserved)
//	meta     1 byte method (0 stored, 1 deflate, 2 deflate with the preset dictionary metaDict),
//	         uvarint raw length, uvarint stored length, bytes
//	payload  the tensors' encoded data, one after another in meta's order
//	crc      4 bytes  CRC-32 (IEEE) of everything before it
//
// meta, once inflated, is: uvarint length + the ONNX ModelProto without its initializers; uvarint
// tensor count; then per initializer: uvarint-prefixed name, uvarint-prefixed doc string, uvarint
// data type, uvarint rank and dims, 1 byte encoding, uvarint payload length. The graph and the
// tensor table are deflated when that is smaller (names repeat a lot); tensor payloads never are,
// so a device can read weights in place.
//
// Decode treats its input as hostile: every length is checked against what is left, and no
// encoding yields more than 64 bytes per input byte, so memory stays bounded by the input size.
package pack

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/bits"

	"github.com/tinymlaas/tinyml/internal/onnx"
)

// Magic starts every packed artifact (an ONNX file starts with a protobuf tag, never 0x89).
const Magic = "\x89TMLPK\r\n"

// Version is the container version Encode writes and Decode reads.
const Version = 1

// ErrFormat marks bytes that are not a packed artifact this package can read.
var ErrFormat = errors.New("malformed packed model")

// Encoding is how one tensor's elements are stored.
type Encoding uint8

// Encodings, as stored in the tensor table.
const (
	Raw Encoding = iota
	Half
	Narrow
	Clustered
	Sparse
	Strings
	Huffman
)

func (e Encoding) String() string {
	switch e {
	case Raw:
		return "raw"
	case Half:
		return "half"
	case Narrow:
		return "narrow"
	case Clustered:
		return "clustered"
	case Sparse:
		return "sparse"
	case Strings:
		return "strings"
	case Huffman:
		return "huffman"
	}
	return fmt.Sprintf("encoding(%d)", uint8(e))
}

const (
	metaStored  = 0
	metaDeflate = 1
	// metaDeflateDict is deflate with metaDict as the preset dictionary: the words every
	// quantized ONNX graph repeats cost nothing the first time either.
	metaDeflateDict = 2
	// maxMeta bounds the inflated graph and tensor table.
	maxMeta = 256 << 20
	// maxDims bounds a tensor's rank.
	maxDims = 64
)

// IsPacked reports whether b starts like a packed artifact.
func IsPacked(b []byte) bool { return len(b) >= len(Magic) && string(b[:len(Magic)]) == Magic }

// TensorInfo describes how one initializer was stored.
type TensorInfo struct {
	Name     string     `json:"name"`
	DType    onnx.DType `json:"-"`
	Type     string     `json:"dtype"`
	Elems    int64      `json:"elems"`
	Encoding string     `json:"encoding"` // e.g. "sparse+clustered"
	Bytes    int        `json:"bytes"`    // payload bytes
}

// Encode packs a model. The model is not modified.
func Encode(m *onnx.Model) ([]byte, error) {
	b, _, err := EncodeInfo(m)
	return b, err
}

// EncodeInfo packs a model and says how each initializer was stored.
func EncodeInfo(m *onnx.Model) ([]byte, []TensorInfo, error) {
	if m == nil || m.Graph == nil {
		return nil, nil, fmt.Errorf("pack: the model has no graph")
	}
	mc := *m
	gc := *m.Graph
	gc.Initializers = nil
	mc.Graph = &gc
	graph, err := mc.Encode()
	if err != nil {
		return nil, nil, fmt.Errorf("pack: %w", err)
	}
	var meta, payload []byte
	meta = appendBytes(meta, graph)
	meta = binary.AppendUvarint(meta, uint64(len(m.Graph.Initializers)))
	infos := make([]TensorInfo, 0, len(m.Graph.Initializers))
	for _, t := range m.Graph.Initializers {
		enc, data, err := encodeTensor(t)
		if err != nil {
			return nil, nil, fmt.Errorf("pack: initializer %q: %w", t.Name, err)
		}
		meta = appendBytes(meta, []byte(t.Name))
		meta = appendBytes(meta, []byte(t.Doc))
		meta = binary.AppendUvarint(meta, uint64(t.DType))
		meta = binary.AppendUvarint(meta, uint64(len(t.Dims)))
		for _, d := range t.Dims {
			meta = binary.AppendUvarint(meta, uint64(d))
		}
		meta = append(meta, byte(enc))
		meta = binary.AppendUvarint(meta, uint64(len(data)))
		payload = append(payload, data...)
		infos = append(infos, TensorInfo{Name: t.Name, DType: t.DType, Type: t.DType.String(), Elems: t.NumElems(),
			Encoding: describe(enc, data), Bytes: len(data)})
	}
	out := append([]byte(Magic), Version, 0)
	method, stored := byte(metaStored), meta
	if z := deflate(meta, nil); len(z) < len(stored) {
		method, stored = metaDeflate, z
	}
	if z := deflate(meta, []byte(metaDict)); len(z) < len(stored) {
		method, stored = metaDeflateDict, z
	}
	out = append(out, method)
	out = binary.AppendUvarint(out, uint64(len(meta)))
	out = appendBytes(out, stored)
	out = append(out, payload...)
	return binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(out)), infos, nil
}

func describe(enc Encoding, data []byte) string {
	if enc == Sparse && len(data) > 0 {
		return "sparse+" + Encoding(data[0]).String()
	}
	return enc.String()
}

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func deflate(b, dict []byte) []byte {
	var buf bytes.Buffer
	w, _ := flate.NewWriterDict(&buf, flate.BestCompression, dict)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// encodeTensor chooses the smallest exact encoding of t.
func encodeTensor(t *onnx.Tensor) (Encoding, []byte, error) {
	if t.DType == onnx.String {
		var out []byte
		for _, s := range t.Strings {
			out = appendBytes(out, s)
		}
		return Strings, out, nil
	}
	size := t.DType.Size()
	if size == 0 {
		return 0, nil, fmt.Errorf("element type %s cannot be stored", t.DType)
	}
	if int64(len(t.Raw)) != t.NumElems()*int64(size) {
		return 0, nil, fmt.Errorf("%d bytes of data for %d elements of %s", len(t.Raw), t.NumElems(), t.DType)
	}
	enc, data := dense(t.Raw, t.DType)
	n := len(t.Raw) / size
	// Sparse: a bitmask, then the nonzero elements densely encoded.
	nz := make([]byte, 0, len(t.Raw))
	mask := make([]byte, (n+7)/8)
	for i := range n {
		e := t.Raw[i*size : (i+1)*size]
		if !allZero(e) {
			mask[i/8] |= 1 << (i % 8)
			nz = append(nz, e...)
		}
	}
	if len(nz) < len(t.Raw) {
		inner, idata := dense(nz, t.DType)
		if cost := 1 + len(mask) + len(idata); cost < len(data) {
			sp := make([]byte, 0, cost)
			sp = append(sp, byte(inner))
			sp = append(sp, mask...)
			return Sparse, append(sp, idata...), nil
		}
	}
	return enc, data, nil
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// dense picks the smallest of raw, half, narrow and clustered for elements raw of type dt.
func dense(raw []byte, dt onnx.DType) (Encoding, []byte) {
	size := dt.Size()
	n := len(raw) / size
	best, data := Raw, raw
	if dt == onnx.Float {
		if h, ok := toHalf(raw); ok && len(h) < len(data) {
			best, data = Half, h
		}
	}
	if w, ok := narrowWidth(raw, dt); ok && w < size && 1+n*w < len(data) {
		best, data = Narrow, narrow(raw, dt, w)
	}
	if enc, c, ok := cluster(raw, size); ok && len(c) < len(data) {
		best, data = enc, c
	}
	return best, data
}

func toHalf(raw []byte) ([]byte, bool) {
	out := make([]byte, len(raw)/2)
	for i := 0; i < len(raw)/4; i++ {
		bitsF := binary.LittleEndian.Uint32(raw[i*4:])
		h := onnx.FloatToHalf(math.Float32frombits(bitsF))
		if math.Float32bits(onnx.HalfToFloat(h)) != bitsF {
			return nil, false
		}
		binary.LittleEndian.PutUint16(out[i*2:], h)
	}
	return out, true
}

func isSigned(dt onnx.DType) bool {
	return dt == onnx.Int8 || dt == onnx.Int16 || dt == onnx.Int32 || dt == onnx.Int64
}

func isNarrowable(dt onnx.DType) bool {
	switch dt {
	case onnx.Int16, onnx.Int32, onnx.Int64, onnx.Uint16, onnx.Uint32, onnx.Uint64:
		return true
	}
	return false
}

// element reads element i of an integer tensor as a two's-complement 64-bit value.
func element(raw []byte, size, i int, signed bool) uint64 {
	var v uint64
	for b := size - 1; b >= 0; b-- {
		v = v<<8 | uint64(raw[i*size+b])
	}
	if signed && size < 8 {
		shift := 64 - 8*uint(size)
		v = uint64(int64(v<<shift) >> shift)
	}
	return v
}

// narrowWidth is the fewest bytes (1, 2 or 4) that hold every element exactly.
func narrowWidth(raw []byte, dt onnx.DType) (int, bool) {
	if !isNarrowable(dt) {
		return 0, false
	}
	size, signed := dt.Size(), isSigned(dt)
	w := 1
	for i := 0; i < len(raw)/size; i++ {
		v := element(raw, size, i, signed)
		for w < size && !fits(v, w, signed) {
			w *= 2
		}
	}
	return w, true
}

func fits(v uint64, w int, signed bool) bool {
	if signed {
		x := int64(v)
		lim := int64(1) << (8*w - 1)
		return x >= -lim && x < lim
	}
	return v < uint64(1)<<(8*w)
}

func narrow(raw []byte, dt onnx.DType, w int) []byte {
	size, signed := dt.Size(), isSigned(dt)
	n := len(raw) / size
	out := make([]byte, 1, 1+n*w)
	out[0] = byte(w)
	for i := range n {
		v := element(raw, size, i, signed)
		for b := range w {
			out = append(out, byte(v>>(8*b)))
		}
	}
	return out
}

// cluster encodes elements with at most 256 distinct values as: bits (1 byte), uvarint count,
// the distinct elements (raw), and the bit-packed indices; or with Huffman codes (huffman) when
// that is smaller.
func cluster(raw []byte, size int) (Encoding, []byte, bool) {
	n := len(raw) / size
	if n == 0 {
		return 0, nil, false
	}
	index := map[string]int{}
	var book []byte
	idx := make([]int, n)
	for i := range n {
		e := string(raw[i*size : (i+1)*size])
		j, ok := index[e]
		if !ok {
			if len(index) == 256 {
				return 0, nil, false
			}
			j = len(index)
			index[e] = j
			book = append(book, e...)
		}
		idx[i] = j
	}
	k := len(index)
	b := max(1, bits.Len(uint(k-1)))
	out := []byte{byte(b)}
	out = binary.AppendUvarint(out, uint64(k))
	out = append(out, book...)
	packed := make([]byte, (n*b+7)/8)
	for i, j := range idx {
		pos := i * b
		for bit := range b {
			if j>>bit&1 != 0 {
				packed[(pos+bit)/8] |= 1 << ((pos + bit) % 8)
			}
		}
	}
	out = append(out, packed...)
	if h := huffman(book, k, idx); len(h) < len(out) {
		return Huffman, h, true
	}
	return Clustered, out, true
}

// Decode reads a packed artifact back into the ONNX model it was made from.
func Decode(b []byte) (*onnx.Model, error) {
	if !IsPacked(b) {
		return nil, fmt.Errorf("%w: missing the magic %q (is this a packed model?)", ErrFormat, Magic)
	}
	if len(b) < len(Magic)+2+4 {
		return nil, fmt.Errorf("%w: truncated", ErrFormat)
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch (the file is damaged or truncated)", ErrFormat)
	}
	r := &reader{b: body[len(Magic):]}
	if v := r.byte(); v != Version {
		return nil, fmt.Errorf("%w: container version %d; this build reads version %d", ErrFormat, v, Version)
	}
	r.byte() // flags
	method := r.byte()
	rawLen := r.uvarint()
	stored := r.bytes(r.uvarint())
	if r.err != nil {
		return nil, r.err
	}
	if rawLen > maxMeta {
		return nil, fmt.Errorf("%w: graph section of %d bytes", ErrFormat, rawLen)
	}
	var meta []byte
	switch method {
	case metaStored:
		meta = stored
	case metaDeflate, metaDeflateDict:
		var dict []byte
		if method == metaDeflateDict {
			dict = []byte(metaDict)
		}
		zr := flate.NewReaderDict(bytes.NewReader(stored), dict)
		buf, err := io.ReadAll(io.LimitReader(zr, int64(rawLen)+1))
		if err != nil {
			return nil, fmt.Errorf("%w: graph section: %v", ErrFormat, err)
		}
		meta = buf
	default:
		return nil, fmt.Errorf("%w: unknown graph section method %d", ErrFormat, method)
	}
	if uint64(len(meta)) != rawLen {
		return nil, fmt.Errorf("%w: graph section is %d bytes, header says %d", ErrFormat, len(meta), rawLen)
	}
	payload := r.rest()
	mr := &reader{b: meta}
	graph := mr.bytes(mr.uvarint())
	count := mr.uvarint()
	if mr.err != nil {
		return nil, mr.err
	}
	m, err := onnx.Decode(graph)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	if len(m.Graph.Initializers) > 0 {
		return nil, fmt.Errorf("%w: the graph section holds initializers; they belong in the tensor table", ErrFormat)
	}
	if count > uint64(len(meta)) { // each entry takes several bytes
		return nil, fmt.Errorf("%w: %d tensors in a %d-byte table", ErrFormat, count, len(meta))
	}
	pr := &reader{b: payload}
	m.Graph.Initializers = make([]*onnx.Tensor, 0, count)
	for i := uint64(0); i < count; i++ {
		t := &onnx.Tensor{Name: string(mr.bytes(mr.uvarint())), Doc: string(mr.bytes(mr.uvarint()))}
		t.DType = onnx.DType(mr.uvarint())
		rank := mr.uvarint()
		if rank > maxDims {
			return nil, fmt.Errorf("%w: tensor %q has rank %d", ErrFormat, t.Name, rank)
		}
		t.Dims = make([]int64, 0, rank)
		for j := uint64(0); j < rank && mr.err == nil; j++ {
			t.Dims = append(t.Dims, int64(mr.uvarint()))
		}
		enc := Encoding(mr.byte())
		data := pr.bytes(mr.uvarint())
		if mr.err != nil {
			return nil, mr.err
		}
		if pr.err != nil {
			return nil, fmt.Errorf("%w: tensor %q: payload runs past the end", ErrFormat, t.Name)
		}
		if err := decodeTensor(t, enc, data); err != nil {
			return nil, fmt.Errorf("%w: tensor %q: %v", ErrFormat, t.Name, err)
		}
		m.Graph.Initializers = append(m.Graph.Initializers, t)
	}
	if len(mr.b) != 0 || len(pr.b) != 0 {
		return nil, fmt.Errorf("%w: %d unread table bytes, %d unread payload bytes", ErrFormat, len(mr.b), len(pr.b))
	}
	return m, nil
}

// elems checks dims and returns the element count, which must be plausible for a payload of
// the given size (no encoding stores an element in less than one bit).
func elems(dims []int64, payload int) (int, error) {
	n := int64(1)
	limit := int64(payload)*8 + 8
	for _, d := range dims {
		if d < 0 || d > limit {
			return 0, fmt.Errorf("dimension %d in %v", d, dims)
		}
		if d == 0 {
			return 0, nil
		}
		if n > limit/d {
			return 0, fmt.Errorf("dims %v hold more elements than a %d-byte payload can encode", dims, payload)
		}
		n *= d
	}
	return int(n), nil
}

func decodeTensor(t *onnx.Tensor, enc Encoding, data []byte) error {
	n, err := elems(t.Dims, len(data))
	if err != nil {
		return err
	}
	if t.DType == onnx.String {
		if enc != Strings {
			return fmt.Errorf("a string tensor stored as %s", enc)
		}
		r := &reader{b: data}
		t.Strings = make([][]byte, 0, min(n, len(data)))
		for range n {
			s := r.bytes(r.uvarint())
			if r.err != nil {
				return r.err
			}
			t.Strings = append(t.Strings, append([]byte{}, s...))
		}
		if len(r.b) != 0 {
			return fmt.Errorf("%d extra bytes", len(r.b))
		}
		return nil
	}
	size := t.DType.Size()
	if size == 0 || t.DType == onnx.Undefined {
		return fmt.Errorf("element type %d", int32(t.DType))
	}
	if enc == Sparse {
		if len(data) < 1+(n+7)/8 {
			return fmt.Errorf("sparse payload of %d bytes for %d elements", len(data), n)
		}
		inner := Encoding(data[0])
		if inner == Sparse || inner == Strings {
			return fmt.Errorf("sparse tensor with %s values", inner)
		}
		mask := data[1 : 1+(n+7)/8]
		nnz := 0
		for i := range n {
			if mask[i/8]>>(i%8)&1 != 0 {
				nnz++
			}
		}
		if n%8 != 0 && mask[len(mask)-1]>>(n%8) != 0 {
			return fmt.Errorf("bitmask marks elements past the end")
		}
		vals, err := decodeDense(inner, data[1+len(mask):], nnz, t.DType)
		if err != nil {
			return err
		}
		t.Raw = make([]byte, n*size)
		k := 0
		for i := range n {
			if mask[i/8]>>(i%8)&1 != 0 {
				e := vals[k*size : (k+1)*size]
				if allZero(e) {
					return fmt.Errorf("a zero stored as a nonzero element")
				}
				copy(t.Raw[i*size:], e)
				k++
			}
		}
		return nil
	}
	raw, err := decodeDense(enc, data, n, t.DType)
	if err != nil {
		return err
	}
	t.Raw = raw
	return nil
}

// decodeDense decodes n elements of dt stored with enc, consuming data exactly.
func decodeDense(enc Encoding, data []byte, n int, dt onnx.DType) ([]byte, error) {
	size := dt.Size()
	switch enc {
	case Raw:
		if len(data) != n*size {
			return nil, fmt.Errorf("raw payload of %d bytes for %d elements of %s", len(data), n, dt)
		}
		return append([]byte{}, data...), nil
	case Half:
		if dt != onnx.Float || len(data) != 2*n {
			return nil, fmt.Errorf("half payload of %d bytes for %d elements of %s", len(data), n, dt)
		}
		out := make([]byte, 4*n)
		for i := range n {
			f := onnx.HalfToFloat(binary.LittleEndian.Uint16(data[2*i:]))
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(f))
		}
		return out, nil
	case Narrow:
		if !isNarrowable(dt) || len(data) < 1 {
			return nil, fmt.Errorf("narrow payload for %s", dt)
		}
		w := int(data[0])
		if (w != 1 && w != 2 && w != 4) || w >= size || len(data) != 1+n*w {
			return nil, fmt.Errorf("narrow payload of width %d and %d bytes for %d elements of %s", w, len(data), n, dt)
		}
		out := make([]byte, n*size)
		signed := isSigned(dt)
		for i := range n {
			v := element(data[1:], w, i, signed)
			for b := range size {
				out[i*size+b] = byte(v >> (8 * b))
			}
		}
		return out, nil
	case Clustered:
		r := &reader{b: data}
		b := int(r.byte())
		k := r.uvarint()
		if r.err != nil || b < 1 || b > 8 || k < 1 || k > 1<<b {
			return nil, fmt.Errorf("clustered payload with %d bits and %d values", b, k)
		}
		book := r.bytes(k * uint64(size))
		packed := r.rest()
		if r.err != nil || len(packed) != (n*b+7)/8 {
			return nil, fmt.Errorf("clustered payload of %d bytes for %d elements", len(data), n)
		}
		out := make([]byte, n*size)
		for i := range n {
			j := 0
			for bit := range b {
				pos := i*b + bit
				j |= int(packed[pos/8]>>(pos%8)&1) << bit
			}
			if uint64(j) >= k {
				return nil, fmt.Errorf("index %d of a %d-value codebook", j, k)
			}
			copy(out[i*size:], book[j*size:(j+1)*size])
		}
		return out, nil
	case Huffman:
		return unhuffman(data, n, size)
	}
	return nil, fmt.Errorf("unknown encoding %d", uint8(enc))
}

// reader consumes bytes, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = fmt.Errorf("%w: truncated", ErrFormat)
	}
	r.b = nil
}

func (r *reader) byte() byte {
	if len(r.b) < 1 {
		r.fail()
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(n uint64) []byte {
	if r.err != nil || n > uint64(len(r.b)) {
		r.fail()
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) rest() []byte {
	v := r.b
	r.b = nil
	return v
}

// metaDict is the preset dictionary of meta method 2: strings that ONNX graphs, and quantized
// ones in particular, repeat. It is part of the format: never change it (add a method instead).
const metaDict = "\x08\x07\x12\x07pytorch\x1a\x061.13.0:" +
	"ai.onnx.mlai.onnxtorch_jitbatchinputoutputlogits" +
	"kernel_shapestridespadsdilationsgroupauto_padaxistransAtransBalphabetaepsilonmomentumperm" +
	"BatchNormalizationGlobalAveragePoolGlobalMaxPoolMaxPoolAveragePoolFlattenReshapeTranspose" +
	"SqueezeUnsqueezeConcatSoftmaxSigmoidIdentityDropoutConstantCastClipReluAddSubMulDivGemmMatMulConv" +
	"onnx::Conv_onnx::Gemm_onnx::MatMul_.weight.bias/Constant_output_0/Relu_output_0" +
	"_output_0_scale_zero_point_quantized_dequantized_fp16_cast" +
	"QuantizeLinearDequantizeLinear"
