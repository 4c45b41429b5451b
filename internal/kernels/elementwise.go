package kernels

import (
	"fmt"
	"math"
	"unsafe"
)

func checkLen(op string, dst []float32, srcs ...[]float32) {
	for _, s := range srcs {
		if len(s) != len(dst) {
			panic(fmt.Sprintf("kernels: %s operands have lengths %d and %d", op, len(dst), len(s)))
		}
	}
}

// Add sets dst[i] = a[i] + b[i]. The three slices must have the same length;
// dst may be a or b.
func Add(dst, a, b []float32) {
	checkLen("Add", dst, a, b)
	if len(dst) > 0 {
		active.binary(opAdd, &dst[0], &a[0], &b[0], len(dst))
	}
}

// Mul sets dst[i] = a[i] * b[i]. The three slices must have the same length;
// dst may be a or b.
func Mul(dst, a, b []float32) {
	checkLen("Mul", dst, a, b)
	if len(dst) > 0 {
		active.binary(opMul, &dst[0], &a[0], &b[0], len(dst))
	}
}

// AddScalar sets dst[i] = a[i] + s. dst and a must have the same length and
// may be the same slice.
func AddScalar(dst, a []float32, s float32) {
	checkLen("AddScalar", dst, a)
	if len(dst) > 0 {
		active.addScalar(&dst[0], &a[0], s, len(dst))
	}
}

// ApplyActivation applies act to every element of dst in place.
func ApplyActivation(dst []float32, act Activation) {
	if len(dst) == 0 || act.Kind == ActNone {
		return
	}
	var p gemmArgs
	flags := actFlags(act, &p)
	active.activate(&dst[0], len(dst), flags, p.lo, p.hi, p.leak)
}

// AddRowBias adds bias[i] to each element of row i of the m×n matrix c with
// leading dimension ldc.
func AddRowBias(m, n int, c []float32, ldc int, bias []float32) {
	switch {
	case m < 0 || n < 0 || ldc < max(n, 1):
		panic(fmt.Sprintf("kernels: AddRowBias m = %d, n = %d, ldc = %d", m, n, ldc))
	case m == 0 || n == 0:
		return
	case len(c) < (m-1)*ldc+n || len(bias) < m:
		panic(fmt.Sprintf("kernels: AddRowBias len(c) = %d, len(bias) = %d for m = %d, n = %d, ldc = %d", len(c), len(bias), m, n, ldc))
	}
	for i := range m {
		row := &c[i*ldc]
		active.addScalar(row, row, bias[i], n)
	}
}

// Binary operations of the element-wise kernels.
const (
	opAdd = iota
	opMul
)

func binaryGeneric(op int, dst, a, b *float32, n int) {
	d, x, y := unsafe.Slice(dst, n), unsafe.Slice(a, n), unsafe.Slice(b, n)
	switch op {
	case opAdd:
		for i := range d {
			d[i] = x[i] + y[i]
		}
	case opMul:
		for i := range d {
			d[i] = x[i] * y[i]
		}
	}
}

func addScalarGeneric(dst, a *float32, s float32, n int) {
	d, x := unsafe.Slice(dst, n), unsafe.Slice(a, n)
	for i := range d {
		d[i] = x[i] + s
	}
}

func activateGeneric(dst *float32, n, flags int, lo, hi, leak float32) {
	d := unsafe.Slice(dst, n)
	if flags&flagMin != 0 {
		for i, x := range d {
			d[i] = max(x, lo)
		}
	}
	if flags&flagMax != 0 {
		for i, x := range d {
			d[i] = min(x, hi)
		}
	}
	if flags&flagLeaky != 0 {
		for i, x := range d {
			if x < 0 {
				d[i] = x * leak
			}
		}
	}
}

// clampBounds returns the bounds clamp kernels use for the flags.
func clampBounds(flags int, lo, hi float32) (float32, float32) {
	if flags&flagMin == 0 {
		lo = float32(math.Inf(-1))
	}
	if flags&flagMax == 0 {
		hi = float32(math.Inf(1))
	}
	return lo, hi
}
