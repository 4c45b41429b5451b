package kernels

import (
	"fmt"
	"unsafe"
)

// maxDWTaps bounds the kernel size (kh*kw) the vectorised depthwise path
// handles; larger kernels use the portable code.
const maxDWTaps = 49

// dwTap is one tap of a depthwise kernel: input (oy*sh+dy, ox*sw+dx) feeds
// output (oy, ox) with weight w; off is the byte offset (dy*w+dx)*4.
type dwTap struct {
	off    int
	dy, dx int32
	w      float32
	_      float32
}

// dwArgs is the argument block of a depthwise channel kernel (stride 1 or 2
// along the width): dst[oy][ox] = act(bias + Σ taps src[oy*sh+dy][ox*sw+dx]),
// skipping taps that fall outside the h×w input.
type dwArgs struct {
	dst, src     unsafe.Pointer
	taps         *dwTap
	ntaps        int
	kw           int // taps per kernel row
	h, w         int
	oh, ow       int
	sh           int
	dxMin, dxMax int // range of the taps' dx
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
	impl := active
	if !impl.hasDWChannel() || kh*kw > maxDWTaps || strideW > 2 || h*w == 0 {
		g := dwGeom{h: h, w: w, kh: kh, kw: kw, padT: padT, padL: padL, sh: strideH, sw: strideW, dh: dilH, dw: dilW, oh: oh, ow: ow}
		for oy := range oh {
			dwRowGeneric(dst[oy*ow:][:ow], src, ker, &g, oy, bias, act)
		}
		return
	}
	var taps [maxDWTaps]dwTap
	nt := 0
	for ki := range kh {
		dy := ki*dilH - padT
		for kj := range kw {
			dx := kj*dilW - padL
			taps[nt] = dwTap{off: 4 * (dy*w + dx), dy: int32(dy), dx: int32(dx), w: ker[ki*kw+kj]}
			nt++
		}
	}
	p := dwArgs{
		dst: unsafe.Pointer(&dst[0]), src: unsafe.Pointer(&src[0]),
		taps: &taps[0], ntaps: nt, kw: kw,
		h: h, w: w, oh: oh, ow: ow, sh: strideH,
		dxMin: -padL, dxMax: (kw-1)*dilW - padL,
		bias: bias, leak: 1,
	}
	var ga gemmArgs
	flags := actFlags(act, &ga)
	p.lo, p.hi = clampBounds(flags, ga.lo, ga.hi)
	if flags&flagLeaky != 0 {
		p.leak = ga.leak
	}
	impl.dwChannel(strideW, &p)
}

// dwGeom is the geometry of a DepthwiseConv2D call.
type dwGeom struct {
	h, w, kh, kw, padT, padL, sh, sw, dh, dw, oh, ow int
}

// dwRowGeneric computes output row oy.
func dwRowGeneric(out, src, ker []float32, g *dwGeom, oy int, bias float32, act Activation) {
	for i := range out {
		out[i] = bias
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
			lo, hi := 0, len(out)
			if dx < 0 {
				lo = (-dx + g.sw - 1) / g.sw
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
		for i, x := range out {
			out[i] = act.apply(x)
		}
	}
}
