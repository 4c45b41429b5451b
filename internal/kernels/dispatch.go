package kernels

import "unsafe"

// implKind identifies a set of kernels for a CPU feature level.
type implKind uint8

const (
	kindGeneric implKind = iota
	kindAVX2
	kindAVX512
)

// implementation is one set of kernels and its tuning. The kernels are
// called through switches on kind rather than function values, so that
// escape analysis sees the (non-escaping) callees and nothing allocates.
type implementation struct {
	name string
	kind implKind

	// Sgemm tuning: the row-tile height (micro-kernels exist for 1..mr
	// rows), the K block, and the number of floats of B to keep in L2.
	mr       int
	kc       int
	l2Floats int
}

var generic = &implementation{name: "generic", kind: kindGeneric, mr: 4, kc: 256, l2Floats: 128 << 10}

// active is the implementation in use, chosen once from the CPU features
// (like golang.org/x/sys/cpu itself); tests switch it with useGeneric,
// useAVX2 and useAVX512.
var active = best()

// Impl names the active implementation: "avx512", "avx2+fma" or "generic".
func Impl() string { return active.name }

// useGeneric switches to the portable kernels.
func useGeneric() { active = generic }

func (impl *implementation) gemm(rows int, p *gemmArgs) {
	switch impl.kind {
	case kindAVX512:
		sgemmAVX512(rows, p)
	case kindAVX2:
		sgemmAVX2(rows, p)
	default:
		gemmGeneric(rows, p)
	}
}

// gemmShift is gemm for SgemmShift.
func (impl *implementation) gemmShift(rows int, p *gemmArgs) {
	switch impl.kind {
	case kindAVX512:
		sgemmShiftAVX512(rows, p)
	default:
		gemmShiftGeneric(rows, p)
	}
}

// dwShift runs the DepthwiseShift kernel.
func (impl *implementation) dwShift(p *dwShiftArgs) {
	switch {
	case impl.kind == kindAVX512 && p.fast == 1:
		dw3x3s1FastAVX512(p)
	case impl.kind == kindAVX512 && p.fast == 2:
		dw3x3s2FastAVX512(p)
	case impl.kind == kindAVX512 && p.taps == 9:
		dwShift9AVX512(p)
	default:
		dwShiftGeneric(p)
	}
}

func (impl *implementation) winoInput(p *winoInArgs) {
	if impl.kind == kindAVX512 {
		winoInputAVX512(p)
		return
	}
	winoInputGeneric(p)
}

func (impl *implementation) winoOutput(p *winoOutArgs) {
	if impl.kind == kindAVX512 {
		winoOutputAVX512(p)
		return
	}
	winoOutputGeneric(p)
}

func (impl *implementation) winoCopy(p *winoCopyArgs) {
	if impl.kind == kindAVX512 {
		winoCopyAVX512(p)
		return
	}
	winoCopyGeneric(p)
}

// WinogradAccelerated reports whether Winograd has vector transforms on
// this CPU; without them, SgemmShift or Im2colPacked and Sgemm are faster.
func WinogradAccelerated() bool { return active.kind == kindAVX512 }

// ShiftAccelerated reports whether SgemmShift has a vector implementation
// on this CPU; without one, Im2colPacked and Sgemm are faster.
func ShiftAccelerated() bool { return active.kind == kindAVX512 }

// DepthwiseShiftAccelerated reports whether DepthwiseShift has a vector
// implementation for kernels of taps taps; without one, DepthwiseConv2D is
// faster.
func DepthwiseShiftAccelerated(taps int) bool { return active.kind == kindAVX512 && taps == 9 }

// dwChannel computes one depthwise channel with stride 1 or 2 along the
// width; only implementations with hasDWChannel have it.
func (impl *implementation) dwChannel(stride int, p *dwArgs) {
	switch impl.kind {
	case kindAVX512:
		switch {
		case p.ntaps == 9 && p.kw == 3 && stride == 1:
			dw3x3s1AVX512(p)
		case p.ntaps == 9 && p.kw == 3 && stride == 2:
			dw3x3s2AVX512(p)
		default:
			dwChannelAVX512(stride, p)
		}
	case kindAVX2:
		dwChannelAVX2(stride, p)
	default:
		panic("kernels: no vector depthwise kernel")
	}
}

func (impl *implementation) hasDWChannel() bool { return impl.kind != kindGeneric }

func (impl *implementation) hasIm2col() bool { return impl.kind == kindAVX512 }

func im2colPanel(p *im2colArgs) { im2colPanelAVX512(p) }

func deinterleave(p *deinterleaveArgs) { deinterleaveAVX512(p) }

func (impl *implementation) binary(op int, dst, a, b *float32, n int) {
	switch impl.kind {
	case kindAVX512:
		binaryAVX512(op, dst, a, b, n)
	case kindAVX2:
		binaryAVX2Go(op, dst, a, b, n)
	default:
		binaryGeneric(op, dst, a, b, n)
	}
}

func (impl *implementation) addScalar(dst, a *float32, s float32, n int) {
	switch impl.kind {
	case kindAVX512:
		addScalarAVX512(dst, a, s, n)
	case kindAVX2:
		addScalarAVX2Go(dst, a, s, n)
	default:
		addScalarGeneric(dst, a, s, n)
	}
}

func (impl *implementation) activate(dst *float32, n, flags int, lo, hi, leak float32) {
	switch impl.kind {
	case kindAVX512:
		activateAVX512(dst, n, flags, lo, hi, leak)
	case kindAVX2:
		activateAVX2(dst, n, flags, lo, hi, leak)
	default:
		activateGeneric(dst, n, flags, lo, hi, leak)
	}
}

// Prefetch asks the CPU to bring s into its L2 cache ahead of use, where
// the implementation can; it never faults and has no other effect.
func Prefetch(s []float32) {
	if len(s) > 0 && active.kind != kindGeneric {
		prefetchAVX512(unsafe.Pointer(&s[0]), 4*len(s))
	}
}
