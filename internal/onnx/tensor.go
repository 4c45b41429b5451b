package onnx

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"
)

// DType is an ONNX tensor element type; the values are TensorProto.DataType's.
type DType int32

// The element types of ONNX (TensorProto.DataType).
const (
	Undefined  DType = 0
	Float      DType = 1
	Uint8      DType = 2
	Int8       DType = 3
	Uint16     DType = 4
	Int16      DType = 5
	Int32      DType = 6
	Int64      DType = 7
	String     DType = 8
	Bool       DType = 9
	Float16    DType = 10
	Double     DType = 11
	Uint32     DType = 12
	Uint64     DType = 13
	Complex64  DType = 14
	Complex128 DType = 15
	BFloat16   DType = 16
)

var dtypeNames = map[DType]string{
	Undefined: "undefined", Float: "float32", Uint8: "uint8", Int8: "int8", Uint16: "uint16",
	Int16: "int16", Int32: "int32", Int64: "int64", String: "string", Bool: "bool",
	Float16: "float16", Double: "float64", Uint32: "uint32", Uint64: "uint64",
	Complex64: "complex64", Complex128: "complex128", BFloat16: "bfloat16",
}

func (d DType) String() string {
	if s, ok := dtypeNames[d]; ok {
		return s
	}
	return fmt.Sprintf("dtype(%d)", int32(d))
}

// Size is the number of bytes of one element, 0 for strings and unknown types.
func (d DType) Size() int {
	switch d {
	case Uint8, Int8, Bool:
		return 1
	case Uint16, Int16, Float16, BFloat16:
		return 2
	case Float, Int32, Uint32:
		return 4
	case Int64, Double, Uint64, Complex64:
		return 8
	case Complex128:
		return 16
	}
	return 0
}

// Elem is a Go type that can hold a tensor's elements. Float16 and BFloat16 tensors are read
// and written as their uint16 bit patterns.
type Elem interface {
	~float32 | ~float64 | ~int8 | ~uint8 | ~int16 | ~uint16 | ~int32 | ~uint32 | ~int64 | ~uint64 | ~bool
}

// DTypeOf names the ONNX element type stored in a Go slice of T (uint16 means Uint16).
func DTypeOf[T Elem]() DType {
	var z T
	switch any(z).(type) {
	case float32:
		return Float
	case float64:
		return Double
	case int8:
		return Int8
	case uint8:
		return Uint8
	case int16:
		return Int16
	case uint16:
		return Uint16
	case int32:
		return Int32
	case uint32:
		return Uint32
	case int64:
		return Int64
	case uint64:
		return Uint64
	case bool:
		return Bool
	}
	return Undefined
}

// Tensor is a constant tensor of a model (an initializer or an attribute value).
//
// Element data is kept as little-endian bytes whatever field of the file it came from, so that
// every consumer reads one form and writing the model back is a copy.
type Tensor struct {
	Name    string
	DType   DType
	Dims    []int64
	Raw     []byte   // len == NumElems()*DType.Size(); nil for strings
	Strings [][]byte // only for DType String
	Doc     string
}

// NumElems is the product of the dimensions (1 for a scalar).
func (t *Tensor) NumElems() int64 {
	n, _ := numElems(t.Dims)
	return n
}

// numElems multiplies dims, refusing negative dimensions and overflow (malformed files carry both).
func numElems(dims []int64) (int64, error) {
	n := int64(1)
	for _, d := range dims {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension %d in %v", d, dims)
		}
		if d != 0 && n > math.MaxInt32*int64(64)/d {
			return 0, fmt.Errorf("dimensions %v hold too many elements", dims)
		}
		n *= d
	}
	return n, nil
}

// FromSlice makes a tensor holding a copy of data with the given dims.
func FromSlice[T Elem](name string, dims []int64, data []T) *Tensor {
	t := &Tensor{Name: name, DType: DTypeOf[T](), Dims: append([]int64{}, dims...)}
	t.Raw = encodeLE(data)
	return t
}

// Values decodes the tensor's elements as T. T must match the tensor's type (uint16 also reads
// Float16 and BFloat16 bits).
func Values[T Elem](t *Tensor) ([]T, error) {
	want := DTypeOf[T]()
	if t.DType != want && !(want == Uint16 && (t.DType == Float16 || t.DType == BFloat16)) {
		return nil, fmt.Errorf("tensor %q holds %s, not %s", t.Name, t.DType, want)
	}
	n := t.NumElems()
	size := want.Size()
	if int64(len(t.Raw)) != n*int64(size) {
		return nil, fmt.Errorf("tensor %q: %d bytes of data for %d elements of %s", t.Name, len(t.Raw), n, t.DType)
	}
	return decodeLE[T](t.Raw, int(n)), nil
}

// Float32s widens any numeric tensor to float32, the form the float engine computes in.
func (t *Tensor) Float32s() ([]float32, error) {
	switch t.DType {
	case Float:
		return Values[float32](t)
	case Float16:
		v, err := Values[uint16](t)
		if err != nil {
			return nil, err
		}
		out := make([]float32, len(v))
		for i, h := range v {
			out[i] = HalfToFloat(h)
		}
		return out, nil
	}
	f, err := t.Float64s()
	if err != nil {
		return nil, err
	}
	out := make([]float32, len(f))
	for i, x := range f {
		out[i] = float32(x)
	}
	return out, nil
}

// Float64s widens any numeric tensor to float64.
func (t *Tensor) Float64s() ([]float64, error) {
	out := make([]float64, t.NumElems())
	conv := func(err error, f func()) ([]float64, error) {
		if err != nil {
			return nil, err
		}
		f()
		return out, nil
	}
	switch t.DType {
	case Float:
		v, err := Values[float32](t)
		return conv(err, func() { widen(out, v) })
	case Double:
		v, err := Values[float64](t)
		return conv(err, func() { copy(out, v) })
	case Int8:
		v, err := Values[int8](t)
		return conv(err, func() { widen(out, v) })
	case Uint8:
		v, err := Values[uint8](t)
		return conv(err, func() { widen(out, v) })
	case Int16:
		v, err := Values[int16](t)
		return conv(err, func() { widen(out, v) })
	case Uint16:
		v, err := Values[uint16](t)
		return conv(err, func() { widen(out, v) })
	case Int32:
		v, err := Values[int32](t)
		return conv(err, func() { widen(out, v) })
	case Uint32:
		v, err := Values[uint32](t)
		return conv(err, func() { widen(out, v) })
	case Int64:
		v, err := Values[int64](t)
		return conv(err, func() { widen(out, v) })
	case Uint64:
		v, err := Values[uint64](t)
		return conv(err, func() { widen(out, v) })
	case Bool:
		v, err := Values[bool](t)
		return conv(err, func() {
			for i, b := range v {
				if b {
					out[i] = 1
				}
			}
		})
	case Float16, BFloat16:
		v, err := Values[uint16](t)
		return conv(err, func() {
			for i, h := range v {
				if t.DType == Float16 {
					out[i] = float64(HalfToFloat(h))
				} else {
					out[i] = float64(math.Float32frombits(uint32(h) << 16))
				}
			}
		})
	}
	return nil, fmt.Errorf("tensor %q: %s is not numeric", t.Name, t.DType)
}

// Int64s reads an integer tensor (shape inputs, axes, indices) as int64.
func (t *Tensor) Int64s() ([]int64, error) {
	switch t.DType {
	case Int64:
		return Values[int64](t)
	case Int32, Int16, Int8, Uint8, Uint16, Uint32, Uint64, Bool:
		f, err := t.Float64s()
		if err != nil {
			return nil, err
		}
		out := make([]int64, len(f))
		for i, x := range f {
			out[i] = int64(x)
		}
		return out, nil
	}
	return nil, fmt.Errorf("tensor %q holds %s, not integers", t.Name, t.DType)
}

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	c := *t
	c.Dims = append([]int64(nil), t.Dims...)
	c.Raw = append([]byte(nil), t.Raw...)
	if t.Strings != nil {
		c.Strings = make([][]byte, len(t.Strings))
		for i, s := range t.Strings {
			c.Strings[i] = append([]byte(nil), s...)
		}
	}
	return &c
}

type number interface {
	~float32 | ~float64 | ~int8 | ~uint8 | ~int16 | ~uint16 | ~int32 | ~uint32 | ~int64 | ~uint64
}

func widen[T number](dst []float64, src []T) {
	for i, v := range src {
		dst[i] = float64(v)
	}
}

// encodeLE and decodeLE copy through unsafe views: every Elem has a fixed size, and ONNX stores
// little-endian, which is what the platforms we build for use; isBigEndian guards the rest.
func encodeLE[T Elem](data []T) []byte {
	if len(data) == 0 {
		return []byte{}
	}
	if isBigEndian {
		return encodeSlow(data)
	}
	size := int(unsafe.Sizeof(data[0]))
	return append([]byte(nil), unsafe.Slice((*byte)(unsafe.Pointer(&data[0])), len(data)*size)...)
}

func decodeLE[T Elem](raw []byte, n int) []T {
	out := make([]T, n)
	if n == 0 {
		return out
	}
	if isBigEndian {
		decodeSlow(out, raw)
		return out
	}
	size := int(unsafe.Sizeof(out[0]))
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&out[0])), n*size), raw)
	if DTypeOf[T]() == Bool {
		// Any non-zero byte is true; normalise so the Go bool is valid.
		b := any(out).([]bool)
		for i := range b {
			b[i] = raw[i] != 0
		}
	}
	return out
}

var isBigEndian = binary.NativeEndian.Uint16([]byte{0, 1}) == 1

func encodeSlow[T Elem](data []T) []byte {
	size := DTypeOf[T]().Size()
	out := make([]byte, len(data)*size)
	for i, v := range data {
		putLE(out[i*size:], v)
	}
	return out
}

func decodeSlow[T Elem](out []T, raw []byte) {
	size := DTypeOf[T]().Size()
	for i := range out {
		out[i] = getLE[T](raw[i*size:])
	}
}

func putLE[T Elem](b []byte, v T) {
	switch x := any(v).(type) {
	case float32:
		binary.LittleEndian.PutUint32(b, math.Float32bits(x))
	case float64:
		binary.LittleEndian.PutUint64(b, math.Float64bits(x))
	case int8:
		b[0] = byte(x)
	case uint8:
		b[0] = x
	case bool:
		if x {
			b[0] = 1
		}
	case int16:
		binary.LittleEndian.PutUint16(b, uint16(x))
	case uint16:
		binary.LittleEndian.PutUint16(b, x)
	case int32:
		binary.LittleEndian.PutUint32(b, uint32(x))
	case uint32:
		binary.LittleEndian.PutUint32(b, x)
	case int64:
		binary.LittleEndian.PutUint64(b, uint64(x))
	case uint64:
		binary.LittleEndian.PutUint64(b, x)
	}
}

func getLE[T Elem](b []byte) T {
	var z T
	var v any
	switch any(z).(type) {
	case float32:
		v = math.Float32frombits(binary.LittleEndian.Uint32(b))
	case float64:
		v = math.Float64frombits(binary.LittleEndian.Uint64(b))
	case int8:
		v = int8(b[0])
	case uint8:
		v = b[0]
	case bool:
		v = b[0] != 0
	case int16:
		v = int16(binary.LittleEndian.Uint16(b))
	case uint16:
		v = binary.LittleEndian.Uint16(b)
	case int32:
		v = int32(binary.LittleEndian.Uint32(b))
	case uint32:
		v = binary.LittleEndian.Uint32(b)
	case int64:
		v = int64(binary.LittleEndian.Uint64(b))
	case uint64:
		v = binary.LittleEndian.Uint64(b)
	}
	return v.(T)
}

// HalfToFloat converts IEEE 754 binary16 bits to float32.
func HalfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: normalise
		e := uint32(127 - 15 + 1)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		mant &= 0x3ff
		return math.Float32frombits(sign | e<<23 | mant<<13)
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// FloatToHalf converts float32 to IEEE 754 binary16 bits, rounding to nearest even.
func FloatToHalf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23&0xff) - 127 + 15
	mant := b & 0x7fffff
	switch {
	case b&0x7fffffff == 0:
		return sign
	case exp >= 0x1f: // overflow, inf or nan
		if b&0x7f800000 == 0x7f800000 && mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	case exp <= 0: // subnormal or zero in half
		if exp < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint32(14 - exp)
		half := mant >> shift
		rem := mant & (1<<shift - 1)
		mid := uint32(1) << (shift - 1)
		if rem > mid || (rem == mid && half&1 == 1) {
			half++
		}
		return sign | uint16(half)
	}
	half := uint32(exp)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && half&1 == 1) {
		half++ // may carry into the exponent, which is the correct rounding
	}
	return sign | uint16(half)
}
