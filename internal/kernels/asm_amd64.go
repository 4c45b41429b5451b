//go:build !purego

package kernels

import "unsafe"

// dwEvenIdx selects the even lanes of two AVX-512 vectors (VPERMT2PS).
var dwEvenIdx = [16]int32{0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30}

//go:noescape
func dwChannelAVX512(stride int, p *dwArgs)

//go:noescape
func dw3x3s1AVX512(p *dwArgs)

//go:noescape
func dw3x3s2AVX512(p *dwArgs)

//go:noescape
func dwChannelAVX2(stride int, p *dwArgs)

//go:noescape
func im2colPanelAVX512(p *im2colArgs)

//go:noescape
func deinterleaveAVX512(p *deinterleaveArgs)

//go:noescape
func gatherS2AVX512(p *gatherArgs)

//go:noescape
func binaryAVX512(op int, dst, a, b *float32, n int)

//go:noescape
func addScalarAVX512(dst, a *float32, s float32, n int)

//go:noescape
func clampAVX512(dst *float32, n int, lo, hi float32)

//go:noescape
func leakyAVX512(dst *float32, n int, alpha float32)

// The AVX2 element-wise kernels handle n rounded down to a multiple of 8.

//go:noescape
func binaryAVX2(op int, dst, a, b *float32, n int)

//go:noescape
func addScalarAVX2(dst, a *float32, s float32, n int)

//go:noescape
func clampAVX2(dst *float32, n int, lo, hi float32)

//go:noescape
func leakyAVX2(dst *float32, n int, alpha float32)

// fmaPeakAVX512 and fmaPeakAVX2 run n iterations of 12 independent
// register-only vector FMAs; the benchmarks use them to measure the peak.
func fmaPeakAVX512(n int)
func fmaPeakAVX2(n int)

func activateAVX512(dst *float32, n, flags int, lo, hi, leak float32) {
	if flags&(flagMin|flagMax) != 0 {
		lo, hi = clampBounds(flags, lo, hi)
		clampAVX512(dst, n, lo, hi)
	}
	if flags&flagLeaky != 0 {
		leakyAVX512(dst, n, leak)
	}
}

// tail returns the pointers to element i of dst and src.
func tail(dst *float32, i int) *float32 {
	return (*float32)(unsafe.Add(unsafe.Pointer(dst), 4*i))
}

func binaryAVX2Go(op int, dst, a, b *float32, n int) {
	v := n &^ 7
	if v > 0 {
		binaryAVX2(op, dst, a, b, v)
	}
	if v < n {
		binaryGeneric(op, tail(dst, v), tail(a, v), tail(b, v), n-v)
	}
}

func addScalarAVX2Go(dst, a *float32, s float32, n int) {
	v := n &^ 7
	if v > 0 {
		addScalarAVX2(dst, a, s, v)
	}
	if v < n {
		addScalarGeneric(tail(dst, v), tail(a, v), s, n-v)
	}
}

func activateAVX2(dst *float32, n, flags int, lo, hi, leak float32) {
	v := n &^ 7
	if v > 0 {
		if flags&(flagMin|flagMax) != 0 {
			l, h := clampBounds(flags, lo, hi)
			clampAVX2(dst, v, l, h)
		}
		if flags&flagLeaky != 0 {
			leakyAVX2(dst, v, leak)
		}
	}
	if v < n {
		activateGeneric(tail(dst, v), n-v, flags, lo, hi, leak)
	}
}

//go:noescape
func prefetchAVX512(p unsafe.Pointer, n int)

// winoInterleaveLo and winoInterleaveHi interleave the lanes of two vectors
// (VPERMT2PS): lanes 0..7 and 8..15 of a with those of b.
var (
	winoInterleaveLo = [16]int32{0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23}
	winoInterleaveHi = [16]int32{8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31}
)

//go:noescape
func winoInputAVX512(p *winoInArgs)

//go:noescape
func winoOutputAVX512(p *winoOutArgs)

//go:noescape
func winoCopyAVX512(p *winoCopyArgs)

//go:noescape
func reduceRowsAVX512(dst, src *float32, rows, n int, scale float32, isMax int)

//go:noescape
func maxPool2x2AVX512(p *maxPoolArgs)
