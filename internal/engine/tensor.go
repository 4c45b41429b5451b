package engine

import (
	"fmt"
	"unsafe"

	"github.com/tinymlaas/tinyml/internal/onnx"
)

// Tensor is a dense row-major tensor. Its bytes are little-endian elements of DType.
//
// Tensors a Plan returns point into the plan's arena: they are valid until the plan's next Run.
type Tensor struct {
	DType onnx.DType
	Shape []int
	Data  []byte

	konst bool // a plan-time constant (initializer, Constant, or folded)
}

// NewTensor returns a zeroed tensor.
func NewTensor(dt onnx.DType, shape ...int) *Tensor {
	return &Tensor{DType: dt, Shape: shape, Data: alignedBytes(numel(shape) * dt.Size())}
}

// FromSlice returns a tensor holding a copy of data.
func FromSlice[T onnx.Elem](data []T, shape ...int) *Tensor {
	t := NewTensor(onnx.DTypeOf[T](), shape...)
	if numel(shape) != len(data) {
		panic(fmt.Sprintf("engine.FromSlice: %d values for shape %v", len(data), shape))
	}
	copy(View[T](t), data)
	return t
}

// Wrap returns a tensor that shares data (no copy): the way to feed a Plan without allocating.
func Wrap[T onnx.Elem](data []T, shape ...int) *Tensor {
	var b []byte
	if len(data) > 0 {
		b = unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(data))), len(data)*int(unsafe.Sizeof(data[0])))
	}
	return &Tensor{DType: onnx.DTypeOf[T](), Shape: shape, Data: b}
}

// View reinterprets the tensor's bytes as []T without copying. T must have the tensor's element
// size (callers check DType); uint16 views float16 bits.
func View[T onnx.Elem](t *Tensor) []T {
	var z T
	size := int(unsafe.Sizeof(z))
	if len(t.Data) == 0 {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(t.Data))), len(t.Data)/size)
}

// f32s views bytes as float32s.
func f32s(b []byte) []float32 {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/4)
}

// F32 is View[float32], the engine's most common view.
func F32(t *Tensor) []float32 { return View[float32](t) }

// Len is the number of elements.
func (t *Tensor) Len() int { return numel(t.Shape) }

func (t *Tensor) String() string { return fmt.Sprintf("%s%v", t.DType, t.Shape) }

// Clone copies the tensor, detaching it from any arena.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{DType: t.DType, Shape: append([]int(nil), t.Shape...), Data: append([]byte(nil), t.Data...)}
}

// fromONNX converts a model constant.
func fromONNX(ot *onnx.Tensor) (*Tensor, error) {
	if ot.DType == onnx.String || ot.DType.Size() == 0 {
		return nil, fmt.Errorf("tensor %q of %s is not supported", ot.Name, ot.DType)
	}
	shape := make([]int, len(ot.Dims))
	for i, d := range ot.Dims {
		shape[i] = int(d)
	}
	if len(ot.Raw) != numel(shape)*ot.DType.Size() {
		return nil, fmt.Errorf("tensor %q: %d bytes for %s%v", ot.Name, len(ot.Raw), ot.DType, shape)
	}
	// Copy into a fresh 8-byte-aligned buffer: raw protobuf bytes have no alignment guarantee
	// and views of them as float32 or int64 must be aligned.
	t := NewTensor(ot.DType, shape...)
	copy(t.Data, ot.Raw)
	t.konst = true
	return t, nil
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// alignedBytes allocates n bytes aligned to 64 (a cache line, and an AVX-512 vector).
func alignedBytes(n int) []byte {
	if n == 0 {
		return []byte{}
	}
	words := make([]uint64, (n+63)/8+8)
	b := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), len(words)*8)
	off := int((64 - uintptr(unsafe.Pointer(&b[0]))%64) % 64)
	return b[off : off+n : off+n]
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
