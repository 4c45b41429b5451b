package kernels

import (
	"fmt"
	"unsafe"
)

// maxDWTaps bounds the kernel size (kh*kw) the vectorised depthwise path
// handles; larger kernels use the portable code.
const maxDWTaps = 64

// dwTap is one tap of a depthwise row: the byte offset of its first input
// element from the start of the input plane, and its weight.
type dwTap struct {
	off int
	w   float32
	_   float32
}

// dwArgs is the argument block of a depthwise row kernel: it computes n
// outputs at dst, output t being act(bias + Σ taps[i].w * src[taps[i].off/4 + t*stride]).
type dwArgs struct {
	dst, src     unsafe.Pointer
	taps         *dwTap
	ntaps        int
	n            int
	flags        int // flagMin | flagMax | flagLeaky
	bias, lo, hi float32
	leak         float32
}

// DepthwiseConv2D computes one channel of a depthwise convolution (ONNX Conv
// with group == channels): dst (oh×ow) = act(bias + src (h×w) ⋆ ker (kh×kw))
// with the given padding (top, left), strides and dilations. Input outside
// src reads as zero. DepthwiseConv2D does not allocate.
func DepthwiseConv2D(dst, src []float32, h, w int, ker []float32, kh, kw, padT, padL, strideH, strideW, dilH, dilW, oh, ow int, bias float32, act Activation) {
	switch {
	case h < 0 || w < 0 || kh < 1 || kw < 1 || oh < 0 || ow < 0:
		panic(fmt.Sprintf("kernels: DepthwiseConv2D bad shape h=%d w=%d kh=%d kw=%d oh=%d ow=%d", h, w, kh, kw, oh, ow))
	case strideH < 1 || strideW < 1 || dilH < 1 || dilW < 1:
		panic(fmt.Sprintf("kernels: DepthwiseConv2D strides (%d, %d) and dilations (%d, %d) must be >= 1", strideH, strideW, dilH, dilW))
	case len(src) < h*w:
		panic(fmt.Sprintf("kernels: DepthwiseConv2D len(src) = %d < h*w = %d", len(src), h*w))
	case len(ker) < kh*kw:
		panic(fmt.Sprintf("kernels: DepthwiseConv2D len(ker) = %d < kh*kw = %d", len(ker), kh*kw))
	case len(dst) < oh*ow:
		panic(fmt.Sprintf("kernels: DepthwiseConv2D len(dst) = %d < oh*ow = %d", len(dst), oh*ow))
	}
	if oh == 0 || ow == 0 {
		return
	}
	g := dwGeom{h: h, w: w, kh: kh, kw: kw, padT: padT, padL: padL, sh: strideH, sw: strideW, dh: dilH, dw: dilW, oh: oh, ow: ow}
	// Interior columns [oxLo, oxHi): every tap reads inside the row.
	oxLo := min(max(0, (padL+strideW-1)/strideW), ow)
	oxHi := ow
	if last := (kw-1)*dilW - padL; last >= w {
		oxHi = 0
	} else {
		oxHi = min(ow, (w-1-last)/strideW+1)
	}
	oxHi = max(oxHi, oxLo)
	impl := active
	vec := impl.hasDWRow() && kh*kw <= maxDWTaps && strideW <= 2
	for oy := range oh {
		out := dst[oy*ow:][:ow]
		if !vec || oxHi == oxLo {
			dwRowGeneric(out, src, ker, &g, oy, 0, ow, bias, act)
			continue
		}
		dwRowGeneric(out, src, ker, &g, oy, 0, oxLo, bias, act)
		dwRowGeneric(out, src, ker, &g, oy, oxHi, ow, bias, act)
		var taps [maxDWTaps]dwTap
		nt := 0
		for ki := range kh {
			iy := oy*strideH - padT + ki*dilH
			if iy < 0 || iy >= h {
				continue
			}
			for kj := range kw {
				taps[nt] = dwTap{off: 4 * (iy*w + oxLo*strideW - padL + kj*dilW), w: ker[ki*kw+kj]}
				nt++
			}
		}
		if nt == 0 {
			dwRowGeneric(out, src, ker, &g, oy, oxLo, oxHi, bias, act)
			continue
		}
		p := dwArgs{dst: unsafe.Pointer(&out[oxLo]), src: unsafe.Pointer(&src[0]), taps: &taps[0], ntaps: nt, n: oxHi - oxLo, bias: bias}
		var ga gemmArgs
		p.flags = actFlags(act, &ga)
		p.lo, p.hi = clampBounds(p.flags, ga.lo, ga.hi)
		p.leak = 1
		if p.flags&flagLeaky != 0 {
			p.leak = ga.leak
		}
		impl.dwRow(strideW, &p)
	}
}

// dwGeom is the geometry of a DepthwiseConv2D call.
type dwGeom struct {
	h, w, kh, kw, padT, padL, sh, sw, dh, dw, oh, ow int
}

// dwRowGeneric computes outputs [ox0, ox1) of output row oy.
func dwRowGeneric(out, src, ker []float32, g *dwGeom, oy, ox0, ox1 int, bias float32, act Activation) {
	if ox0 >= ox1 {
		return
	}
	o := out[ox0:ox1]
	for i := range o {
		o[i] = bias
	}
	for ki := range g.kh {
		iy := oy*g.sh - g.padT + ki*g.dh
		if iy < 0 || iy >= g.h {
			continue
		}
		in := src[iy*g.w:][:g.w]
		for kj := range g.kw {
			wv := ker[ki*g.kw+kj]
			// Outputs ox with 0 <= ox*sw + dx < w.
			dx := kj*g.dw - g.padL
			lo, hi := ox0, ox1
			if dx < 0 {
				lo = max(lo, (-dx+g.sw-1)/g.sw)
			}
			if g.w-dx <= 0 {
				continue
			}
			hi = min(hi, (g.w-dx+g.sw-1)/g.sw)
			if lo >= hi {
				continue
			}
			oo := out[lo:hi]
			if g.sw == 1 {
				ii := in[lo+dx : hi+dx]
				for i := range oo {
					oo[i] += wv * ii[i]
				}
				continue
			}
			for i := range oo {
				oo[i] += wv * in[(lo+i)*g.sw+dx]
			}
		}
	}
	if act.Kind != ActNone {
		for i, x := range o {
			o[i] = act.apply(x)
		}
	}
}
