package kernels

import (
	"fmt"
	"unsafe"
)

// qdwArgs is the argument block of QDepthwise: channels channels, channel i reading x at
// i·xstride, its weights at w + i·taps, writing C at c + i·ldc.
type qdwArgs struct {
	x        unsafe.Pointer // channel 0 at position 0
	xstride  int            // bytes from one channel's input to the next
	off      unsafe.Pointer // *int32: byte offset of each tap
	w        unsafe.Pointer // *int8: taps weights per channel
	taps     int
	n        int // positions
	c        unsafe.Pointer
	ldc      int            // bytes from one channel's output to the next
	corr     unsafe.Pointer // *int32 per channel
	mult     unsafe.Pointer // *float64 per channel
	channels int
	lo, hi   float64
	zp       int64
	f32      int
}

// QDepthwise computes positions [0, n) of channels channels of a depthwise convolution:
// channel i has acc[p] = Σ_t x[i·xstride + off[t] + p] · w[i·taps + t] (uint8 × int8, taps =
// len(off)) and writes the requantized bytes to c[i·ldc + p] with row i of ep. Every read must
// lie inside x. It does not allocate.
func QDepthwise(channels, n int, x []byte, xstride int, off []int32, w []int8, c []byte, ldc int, ep *QEpilogue) {
	if channels <= 0 || n <= 0 {
		return
	}
	p := qdwSetup(channels, n, x, xstride, off, w, len(c), ldc, ep)
	p.c = unsafe.Pointer(unsafe.SliceData(c))
	qactive.depthwise(&p)
}

// QDepthwiseF32 is QDepthwise with float32 outputs (see QGemmF32); ldc counts float32s.
func QDepthwiseF32(channels, n int, x []byte, xstride int, off []int32, w []int8, c []float32, ldc int, ep *QEpilogue) {
	if channels <= 0 || n <= 0 {
		return
	}
	p := qdwSetup(channels, n, x, xstride, off, w, len(c), ldc, ep)
	p.c = unsafe.Pointer(unsafe.SliceData(c))
	p.ldc *= 4
	p.f32 = 1
	qactive.depthwise(&p)
}

func qdwSetup(channels, n int, x []byte, xstride int, off []int32, w []int8, lenC, ldc int, ep *QEpilogue) qdwArgs {
	taps := len(off)
	if taps == 0 || len(w) < channels*taps {
		panic(fmt.Sprintf("kernels: QDepthwise with %d offsets and %d weights for %d channels", taps, len(w), channels))
	}
	for _, o := range off {
		if o < 0 || (channels-1)*xstride+int(o)+n > len(x) {
			panic(fmt.Sprintf("kernels: QDepthwise offset %d + %d positions is outside x (%d bytes)", o, n, len(x)))
		}
	}
	if ldc < n || lenC < (channels-1)*ldc+n || len(ep.Corr) < channels || len(ep.Mult) < channels {
		panic(fmt.Sprintf("kernels: QDepthwise of %d channels × %d positions into %d outputs (ldc %d)", channels, n, lenC, ldc))
	}
	return qdwArgs{x: unsafe.Pointer(unsafe.SliceData(x)), xstride: xstride, off: unsafe.Pointer(unsafe.SliceData(off)),
		w: unsafe.Pointer(unsafe.SliceData(w)), taps: taps, n: n, ldc: ldc,
		corr: unsafe.Pointer(unsafe.SliceData(ep.Corr)), mult: unsafe.Pointer(unsafe.SliceData(ep.Mult)),
		channels: channels, lo: ep.Lo, hi: ep.Hi, zp: int64(ep.ZeroPoint)}
}

// qdwGeneric is the portable depthwise kernel over positions [p0, p.n) of every channel.
func qdwGeneric(p *qdwArgs, p0 int) {
	const chunk = 64
	var acc [chunk]int32
	off := unsafe.Slice((*int32)(p.off), p.taps)
	g := qgemmArgs{lo: p.lo, hi: p.hi, zp: p.zp, f32: p.f32}
	for ch := range p.channels {
		x := unsafe.Add(p.x, ch*p.xstride)
		w := unsafe.Slice((*int8)(unsafe.Add(p.w, ch*p.taps)), p.taps)
		corr := *(*int32)(unsafe.Add(p.corr, 4*ch))
		mult := *(*float64)(unsafe.Add(p.mult, 8*ch))
		c := unsafe.Add(p.c, ch*p.ldc)
		for q0 := p0; q0 < p.n; q0 += chunk {
			np := min(chunk, p.n-q0)
			for i := range np {
				acc[i] = corr
			}
			for t, o := range off {
				wt := int32(w[t])
				src := unsafe.Slice((*byte)(unsafe.Add(x, int(o)+q0)), np)
				for i, v := range src {
					acc[i] += int32(v) * wt
				}
			}
			qstore(c, q0, acc[:np], mult, &g)
		}
	}
}

// qdwDirectArgs is the argument block of the depthwise kernels that read
// the input planes in place (QConvGeom.QDepthwiseDirect).
type qdwDirectArgs struct {
	x        unsafe.Pointer // channel 0's input plane
	xstride  int            // bytes from one channel's input to the next
	w, h     int            // input plane
	oh, ow   int
	sh, dh   int
	pt       int
	kh, kw   int
	tab      unsafe.Pointer // *int32: per column block and kx, the column offset and the lanes' mask
	wt       unsafe.Pointer // *int32: per channel and tap, the weight as VPDPWSSD takes it
	c        unsafe.Pointer // channel 0's output plane
	cstride  int            // bytes from one channel's output to the next
	corr     unsafe.Pointer // *int32 per channel
	mult     unsafe.Pointer // *float64 per channel
	channels int
	zpIn     int64
	lo, hi   float64
	zp       int64
	f32      int
}

// qdwFlatArgs is the argument block of the flat-position depthwise kernel.
type qdwFlatArgs struct {
	x        unsafe.Pointer // channel 0's input plane
	xstride  int
	off      unsafe.Pointer // *int32 per tap: input offset from the output position
	mask     unsafe.Pointer // *uint16 per tap and tile of 16 positions: the lanes inside the image
	mstride  int            // bytes from one tap's masks to the next
	taps     int
	n        int // positions (OH·OW)
	wt       unsafe.Pointer
	c        unsafe.Pointer
	cstride  int
	corr     unsafe.Pointer
	mult     unsafe.Pointer
	channels int
	zpIn     int64
	lo, hi   float64
	zp       int64
	f32      int
}

// QDepthwisePlan is a depthwise convolution that reads its input planes in
// place (no packing, no flat positions to drop), for one geometry: made by
// QConvGeom.DepthwisePlan when DepthwiseDirect reports it can run.
type QDepthwisePlan struct {
	g    QConvGeom
	flat bool    // stride 1 and outputs as wide as the input: flat positions
	tab  []int32 // rows: per column block and kx, the column offset and the lanes' mask
	off  []int32 // flat: per tap, the input offset
	mask []uint16
}

// DepthwiseDirect reports whether DepthwisePlan can run g on this CPU: it
// needs the AVX-512 VNNI kernels and a column stride of 1 or 2. Without
// it, a depthwise convolution packs its input (PackPlanes) for QDepthwise.
func (g *QConvGeom) DepthwiseDirect() bool {
	return qactive.kind == qkVNNI && (g.SW == 1 || g.SW == 2)
}

// DepthwisePlan prepares the tables of the depthwise kernels that read the
// input in place. Only when DepthwiseDirect().
func (g *QConvGeom) DepthwisePlan() *QDepthwisePlan {
	g.check()
	p := &QDepthwisePlan{g: *g}
	if g.SH == 1 && g.SW == 1 && g.OW == g.W {
		p.flat = true
		n := g.OH * g.OW
		tiles := (n + 15) / 16
		p.off = make([]int32, g.Taps())
		p.mask = make([]uint16, g.Taps()*tiles)
		for t := range g.Taps() {
			ky, kx := t/g.KW, t%g.KW
			dy, dx := ky*g.DH-g.PT, kx*g.DW-g.PL
			p.off[t] = int32(dy*g.W + dx)
			for q := range n {
				oy, ox := q/g.OW, q%g.OW
				if y, x := oy+dy, ox+dx; y >= 0 && y < g.H && x >= 0 && x < g.W {
					p.mask[t*tiles+q/16] |= 1 << (q % 16)
				}
			}
		}
		return p
	}
	blocks := (g.OW + 15) / 16
	p.tab = make([]int32, 2*blocks*g.KW)
	for b := range blocks {
		for kx := range g.KW {
			off := kx*g.DW - g.PL
			var mask uint32
			for i := range 16 {
				ox := 16*b + i
				if x := ox*g.SW + off; ox < g.OW && x >= 0 && x < g.W {
					mask |= 1 << (i * g.SW)
				}
			}
			p.tab[2*(b*g.KW+kx)], p.tab[2*(b*g.KW+kx)+1] = int32(off), int32(mask)
		}
	}
	return p
}

// QDepthwiseWeights writes the weights of a QDepthwisePlan: each int8 as
// the dword VPDPWSSD multiplies (sign-extended to 16 bits, high half 0).
func QDepthwiseWeights(dst []int32, w []int8) {
	for i, v := range w[:len(dst)] {
		dst[i] = int32(uint16(int16(v)))
	}
}

// Run computes channels output channels of the depthwise convolution with
// channel multiplier mult (output channel i reads input channel i/mult; a
// convolution of one input channel is one with mult equal to its outputs)
// from the input planes (H×W bytes each, in x) into the output planes
// (OH×OW each, in c), reading the padding as zpIn. wt holds
// QDepthwiseWeights of the output channels' weights (Taps() each); the
// epilogue has a row per output channel.
func (p *QDepthwisePlan) Run(channels, mult int, x []byte, wt []int32, c []byte, zpIn byte, ep *QEpilogue) {
	a := p.args(channels, mult, x, wt, len(c), zpIn, ep)
	a.c, a.cstride = unsafe.Pointer(unsafe.SliceData(c)), p.g.OH*p.g.OW
	p.run(&a, mult)
}

// RunF32 is Run with float32 outputs.
func (p *QDepthwisePlan) RunF32(channels, mult int, x []byte, wt []int32, c []float32, zpIn byte, ep *QEpilogue) {
	a := p.args(channels, mult, x, wt, len(c), zpIn, ep)
	a.c, a.cstride, a.f32 = unsafe.Pointer(unsafe.SliceData(c)), 4*p.g.OH*p.g.OW, 1
	p.run(&a, mult)
}

func (p *QDepthwisePlan) args(channels, mult int, x []byte, wt []int32, lenC int, zpIn byte, ep *QEpilogue) qdwDirectArgs {
	g := &p.g
	if !g.DepthwiseDirect() {
		panic("kernels: QDepthwisePlan without its kernel (check DepthwiseDirect)")
	}
	if mult < 1 || channels%mult != 0 || len(x) < channels/mult*g.H*g.W || len(wt) < channels*g.Taps() ||
		lenC < channels*g.OH*g.OW || len(ep.Corr) < channels || len(ep.Mult) < channels {
		panic(fmt.Sprintf("kernels: QDepthwisePlan.Run of %d channels (multiplier %d): x %d, weights %d, outputs %d",
			channels, mult, len(x), len(wt), lenC))
	}
	return qdwDirectArgs{x: unsafe.Pointer(unsafe.SliceData(x)), xstride: g.H * g.W, w: g.W, h: g.H, oh: g.OH, ow: g.OW,
		sh: g.SH, dh: g.DH, pt: g.PT, kh: g.KH, kw: g.KW, tab: unsafe.Pointer(unsafe.SliceData(p.tab)),
		wt: unsafe.Pointer(unsafe.SliceData(wt)), corr: unsafe.Pointer(unsafe.SliceData(ep.Corr)),
		mult: unsafe.Pointer(unsafe.SliceData(ep.Mult)), channels: channels, zpIn: int64(zpIn),
		lo: ep.Lo, hi: ep.Hi, zp: int64(ep.ZeroPoint)}
}

// run runs the kernel: once over all channels, or, with a channel
// multiplier, once per input channel over its outputs (reading the same
// plane: xstride 0).
func (p *QDepthwisePlan) run(a *qdwDirectArgs, mult int) {
	if a.channels <= 0 {
		return
	}
	if mult == 1 {
		p.run1(a)
		return
	}
	q := *a
	q.channels, q.xstride = mult, 0
	taps := p.g.Taps()
	for i := range a.channels / mult {
		q.x = unsafe.Add(a.x, i*a.xstride)
		q.wt = unsafe.Add(a.wt, 4*i*mult*taps)
		q.c = unsafe.Add(a.c, i*mult*a.cstride)
		q.corr = unsafe.Add(a.corr, 4*i*mult)
		q.mult = unsafe.Add(a.mult, 8*i*mult)
		p.run1(&q)
	}
}

func (p *QDepthwisePlan) run1(a *qdwDirectArgs) {
	g := &p.g
	switch {
	case p.flat:
		f := qdwFlatArgs{x: a.x, xstride: a.xstride, off: unsafe.Pointer(unsafe.SliceData(p.off)),
			mask: unsafe.Pointer(unsafe.SliceData(p.mask)), mstride: 2 * ((g.OH*g.OW + 15) / 16), taps: g.Taps(),
			n: g.OH * g.OW, wt: a.wt, c: a.c, cstride: a.cstride, corr: a.corr, mult: a.mult, channels: a.channels,
			zpIn: a.zpIn, lo: a.lo, hi: a.hi, zp: a.zp, f32: a.f32}
		qdwFlatVNNI(&f)
	case g.KW == 3 && g.OW <= 8 && g.SW == 2:
		qdwDirect2K3Y(a)
	case g.KW == 3 && g.OW <= 8:
		qdwDirect1K3Y(a)
	case g.KW == 3 && g.SW == 2:
		qdwDirect2K3VNNI(a)
	case g.KW == 3:
		qdwDirect1K3VNNI(a)
	case g.SW == 2:
		qdwDirect2VNNI(a)
	default:
		qdwDirect1VNNI(a)
	}
}
