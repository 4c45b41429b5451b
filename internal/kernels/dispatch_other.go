//go:build !amd64 || purego

package kernels

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

func im2colPanelAVX512(p *im2colArgs) { panic("kernels: no AVX-512") }
func dw3x3s1AVX512(p *dwArgs)         { panic("kernels: no AVX-512") }
func dw3x3s2AVX512(p *dwArgs)         { panic("kernels: no AVX-512") }
