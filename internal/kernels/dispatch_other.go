//go:build !amd64 || purego

package kernels

import "unsafe"

func best() *implementation { return generic }

// useAVX2 reports false: this build has no assembly kernels.
func useAVX2() bool { return false }

// useAVX512 reports false: this build has no assembly kernels.
func useAVX512() bool { return false }

// The assembly entry points never run in this build (active is generic).

func sgemmAVX512(rows int, p *gemmArgs)                 { gemmGeneric(rows, p) }
func sgemmAVX2(rows int, p *gemmArgs)                   { gemmGeneric(rows, p) }
func dwChannelAVX512(stride int, p *dwArgs)             { panic("kernels: no AVX-512") }
func dwChannelAVX2(stride int, p *dwArgs)               { panic("kernels: no AVX2") }
func binaryAVX512(op int, dst, a, b *float32, n int)    { binaryGeneric(op, dst, a, b, n) }
func binaryAVX2Go(op int, dst, a, b *float32, n int)    { binaryGeneric(op, dst, a, b, n) }
func addScalarAVX512(dst, a *float32, s float32, n int) { addScalarGeneric(dst, a, s, n) }
func addScalarAVX2Go(dst, a *float32, s float32, n int) { addScalarGeneric(dst, a, s, n) }
func activateAVX512(dst *float32, n, flags int, lo, hi, leak float32) {
	activateGeneric(dst, n, flags, lo, hi, leak)
}
func activateAVX2(dst *float32, n, flags int, lo, hi, leak float32) {
	activateGeneric(dst, n, flags, lo, hi, leak)
}

func im2colPanelAVX512(p *im2colArgs)        { panic("kernels: no AVX-512") }
func sgemmShiftAVX512(rows int, p *gemmArgs) { gemmShiftGeneric(rows, p) }
func dwShift9AVX512(p *dwShiftArgs)          { dwShiftGeneric(p) }
func dw3x3s1AVX512(p *dwArgs)                { panic("kernels: no AVX-512") }
func dw3x3s2AVX512(p *dwArgs)                { panic("kernels: no AVX-512") }
func deinterleaveAVX512(p *deinterleaveArgs) { panic("kernels: no AVX-512") }
func gatherS2AVX512(p *gatherArgs)           { panic("kernels: no AVX-512") }
func prefetchAVX512(p unsafe.Pointer, n int) {}
func winoInputAVX512(p *winoInArgs)          { winoInputGeneric(p) }
func winoOutputAVX512(p *winoOutArgs)        { winoOutputGeneric(p) }
func winoCopyAVX512(p *winoCopyArgs)         { winoCopyGeneric(p) }
func reduceRowsAVX512(dst, src *float32, rows, n int, scale float32, isMax int) {
	panic("kernels: no AVX-512")
}
func maxPool2x2AVX512(p *maxPoolArgs)  { panic("kernels: no AVX-512") }
func dw3x3s1FastAVX512(p *dwShiftArgs) { dwShiftGeneric(p) }
func dw3x3s2FastAVX512(p *dwShiftArgs) { dwShiftGeneric(p) }
