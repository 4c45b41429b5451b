//go:build !purego

package kernels

import "testing"

// BenchmarkFMAPeak measures the core's FMA peak with 12 independent
// register-only vector FMA chains.
func BenchmarkFMAPeak(b *testing.B) {
	const iters = 1 << 16
	b.Run("avx512", func(b *testing.B) {
		if !hasAVX512 {
			b.Skip("no AVX-512")
		}
		tm := startCPU(b)
		for b.Loop() {
			fmaPeakAVX512(iters)
		}
		tm.reportFlops(b, iters*12*16*2)
	})
	b.Run("avx2", func(b *testing.B) {
		if !hasAVX2 {
			b.Skip("no AVX2")
		}
		tm := startCPU(b)
		for b.Loop() {
			fmaPeakAVX2(iters)
		}
		tm.reportFlops(b, iters*12*8*2)
	})
}
