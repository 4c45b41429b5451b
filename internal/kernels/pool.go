package kernels

import (
	"fmt"
	"math"
	"unsafe"
)

// MeanRows sets dst[i] to the mean of the n floats src[i*n:(i+1)*n], for
// every i < len(dst): a global average pool over planes of n elements.
func MeanRows(dst, src []float32, n int) {
	checkRows("MeanRows", dst, src, n)
	if len(dst) == 0 || n == 0 {
		return
	}
	if active.kind == kindAVX512 {
		reduceRowsAVX512(&dst[0], &src[0], len(dst), n, 1/float32(n), 0)
		return
	}
	for i := range dst {
		var s float32
		for _, x := range src[i*n : (i+1)*n] {
			s += x
		}
		dst[i] = s / float32(n)
	}
}

// MaxRows sets dst[i] to the maximum of the n floats src[i*n:(i+1)*n] (NaN
// if any is NaN), for every i < len(dst): a global max pool.
func MaxRows(dst, src []float32, n int) {
	checkRows("MaxRows", dst, src, n)
	if len(dst) == 0 || n == 0 {
		return
	}
	if active.kind == kindAVX512 {
		reduceRowsAVX512(&dst[0], &src[0], len(dst), n, 1, 1)
		return
	}
	for i := range dst {
		m := float32(math.Inf(-1))
		for _, x := range src[i*n : (i+1)*n] {
			m = max(m, x)
		}
		dst[i] = m
	}
}

func checkRows(op string, dst, src []float32, n int) {
	if n < 0 || len(src) < len(dst)*n {
		panic(fmt.Sprintf("kernels: %s len(src) = %d < %d rows of %d", op, len(src), len(dst), n))
	}
}

// MaxPool2x2 computes a 2×2 max pool with stride 2 and no padding of planes
// planes of h×w (src, one after the other) into planes of oh×ow (dst), with
// 2*oh <= h and 2*ow <= w. A window holding a NaN gives NaN.
func MaxPool2x2(dst, src []float32, planes, h, w, oh, ow int) {
	switch {
	case planes < 0 || oh < 0 || ow < 0 || 2*oh > h || 2*ow > w:
		panic(fmt.Sprintf("kernels: MaxPool2x2 of %d planes %d×%d into %d×%d", planes, h, w, oh, ow))
	case len(src) < planes*h*w || len(dst) < planes*oh*ow:
		panic(fmt.Sprintf("kernels: MaxPool2x2 len(src) = %d, len(dst) = %d for %d planes %d×%d into %d×%d", len(src), len(dst), planes, h, w, oh, ow))
	case planes == 0 || oh == 0 || ow == 0:
		return
	}
	if active.kind == kindAVX512 {
		p := maxPoolArgs{dst: unsafe.Pointer(&dst[0]), src: unsafe.Pointer(&src[0]), planes: planes, h: h, w: w, oh: oh, ow: ow}
		maxPool2x2AVX512(&p)
		return
	}
	for pl := range planes {
		in, out := src[pl*h*w:][:h*w], dst[pl*oh*ow:][:oh*ow]
		for oy := range oh {
			r0 := in[2*oy*w:][:2*ow]
			r1 := in[(2*oy+1)*w:][:2*ow]
			o := out[oy*ow:][:ow]
			for ox := range o {
				a, b, c, d := r0[2*ox], r0[2*ox+1], r1[2*ox], r1[2*ox+1]
				o[ox] = max(a, b, c, d) // NaN if any is NaN
			}
		}
	}
}

// maxPoolArgs is the argument block of maxPool2x2AVX512.
type maxPoolArgs struct {
	dst, src     unsafe.Pointer
	planes, h, w int
	oh, ow       int
}
