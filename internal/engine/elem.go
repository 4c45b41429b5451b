package engine

import (
	"math"

	"github.com/tinymlaas/tinyml/internal/onnx"
)

// Element access for the less common types. Hot paths use typed views directly; these serve Cast
// and the operators' rarely used type variants.

func isFloat(dt onnx.DType) bool { return dt == onnx.Float || dt == onnx.Double || dt == onnx.Float16 }

func isInt(dt onnx.DType) bool {
	switch dt {
	case onnx.Int8, onnx.Uint8, onnx.Int16, onnx.Uint16, onnx.Int32, onnx.Uint32, onnx.Int64, onnx.Uint64:
		return true
	}
	return false
}

// numericTypes are what arithmetic operators accept.
var numericTypes = []onnx.DType{onnx.Float, onnx.Double, onnx.Float16, onnx.Int8, onnx.Uint8, onnx.Int16,
	onnx.Uint16, onnx.Int32, onnx.Uint32, onnx.Int64, onnx.Uint64}

func loadF64(t *Tensor, i int) float64 {
	switch t.DType {
	case onnx.Float:
		return float64(F32(t)[i])
	case onnx.Double:
		return View[float64](t)[i]
	case onnx.Float16:
		return float64(onnx.HalfToFloat(View[uint16](t)[i]))
	case onnx.BFloat16:
		return float64(math.Float32frombits(uint32(View[uint16](t)[i]) << 16))
	case onnx.Bool:
		return float64(t.Data[i])
	}
	return float64(loadI64(t, i))
}

func loadI64(t *Tensor, i int) int64 {
	switch t.DType {
	case onnx.Int8:
		return int64(View[int8](t)[i])
	case onnx.Uint8, onnx.Bool:
		return int64(t.Data[i])
	case onnx.Int16:
		return int64(View[int16](t)[i])
	case onnx.Uint16:
		return int64(View[uint16](t)[i])
	case onnx.Int32:
		return int64(View[int32](t)[i])
	case onnx.Uint32:
		return int64(View[uint32](t)[i])
	case onnx.Int64:
		return View[int64](t)[i]
	case onnx.Uint64:
		return int64(View[uint64](t)[i])
	}
	return int64(loadF64(t, i))
}

func storeF64(t *Tensor, i int, v float64) {
	switch t.DType {
	case onnx.Float:
		F32(t)[i] = float32(v)
	case onnx.Double:
		View[float64](t)[i] = v
	case onnx.Float16:
		View[uint16](t)[i] = onnx.FloatToHalf(float32(v))
	case onnx.BFloat16:
		View[uint16](t)[i] = uint16(math.Float32bits(float32(v)) >> 16)
	case onnx.Bool:
		if v != 0 {
			t.Data[i] = 1
		} else {
			t.Data[i] = 0
		}
	default:
		// Float to integer truncates toward zero (C semantics, as ONNX's Cast does); NaN and
		// out-of-range values are implementation-defined there and saturate here.
		switch {
		case math.IsNaN(v):
			storeI64(t, i, 0)
		case v >= math.MaxInt64:
			storeI64(t, i, math.MaxInt64)
		case v <= math.MinInt64:
			storeI64(t, i, math.MinInt64)
		default:
			storeI64(t, i, int64(v))
		}
	}
}

func storeI64(t *Tensor, i int, v int64) {
	switch t.DType {
	case onnx.Int8:
		View[int8](t)[i] = int8(v)
	case onnx.Uint8:
		t.Data[i] = uint8(v)
	case onnx.Bool:
		if v != 0 {
			t.Data[i] = 1
		} else {
			t.Data[i] = 0
		}
	case onnx.Int16:
		View[int16](t)[i] = int16(v)
	case onnx.Uint16:
		View[uint16](t)[i] = uint16(v)
	case onnx.Int32:
		View[int32](t)[i] = int32(v)
	case onnx.Uint32:
		View[uint32](t)[i] = uint32(v)
	case onnx.Int64:
		View[int64](t)[i] = v
	case onnx.Uint64:
		View[uint64](t)[i] = uint64(v)
	default:
		storeF64(t, i, float64(v))
	}
}

// converter returns the element conversion Cast performs. Integer to integer goes through int64
// so that large values keep their precision.
func converter(from, to onnx.DType) (func(out, x *Tensor), error) {
	if from == onnx.String || to == onnx.String || from.Size() == 0 || to.Size() == 0 ||
		from == onnx.Complex64 || from == onnx.Complex128 || to == onnx.Complex64 || to == onnx.Complex128 {
		return nil, ErrUnsupported
	}
	if (isInt(from) || from == onnx.Bool) && (isInt(to) || to == onnx.Bool) {
		return func(out, x *Tensor) {
			for i := range x.Len() {
				storeI64(out, i, loadI64(x, i))
			}
		}, nil
	}
	if from == onnx.Float && to == onnx.Float16 {
		return func(out, x *Tensor) {
			h, f := View[uint16](out), F32(x)
			for i := range f {
				h[i] = onnx.FloatToHalf(f[i])
			}
		}, nil
	}
	return func(out, x *Tensor) {
		for i := range x.Len() {
			storeF64(out, i, loadF64(x, i))
		}
	}, nil
}
