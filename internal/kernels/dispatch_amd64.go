//go:build !purego

package kernels

import "golang.org/x/sys/cpu"

var (
	hasAVX2   = cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasBMI2
	hasAVX512 = hasAVX2 && cpu.X86.HasAVX512F
)

// avx2TailMask[16-n:] starts with n lanes of all ones (see sgemm_avx2_amd64.s).
var avx2TailMask = [32]int32{-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1}

var avx512 = &implementation{name: "avx512", kind: kindAVX512, mr: 8, kc: 256, l2Floats: 128 << 10}

var avx2 = &implementation{name: "avx2+fma", kind: kindAVX2, mr: 6, kc: 256, l2Floats: 128 << 10}

func best() *implementation {
	switch {
	case hasAVX512:
		return avx512
	case hasAVX2:
		return avx2
	}
	return generic
}

// useAVX2 switches to the AVX2+FMA kernels and reports whether the CPU has them.
func useAVX2() bool {
	if !hasAVX2 {
		return false
	}
	active = avx2
	return true
}

// useAVX512 switches to the AVX-512 kernels and reports whether the CPU has them.
func useAVX512() bool {
	if !hasAVX512 {
		return false
	}
	active = avx512
	return true
}
