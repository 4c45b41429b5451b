package kernels

import (
	"fmt"
	"unsafe"
)

// Winograd is a 3×3 convolution with stride 1 and padding 1 (the output the
// size of the input) computed with Winograd's minimal filtering algorithm
// F(2×2, 3×3): the output is cut into 2×2 tiles; each tile's 4×4 input patch
// d and each 3×3 kernel g are transformed (V = Bᵀ d B, U = G g Gᵀ), and the
// 16 element-wise products, summed over the input channels, are 16 GEMMs
// M_ξ = U_ξ · V_ξ (output channels × input channels × tiles); the tile is
// Aᵀ M A. That is 16 multiplications per tile and channel pair instead of
// 36, for a few additions per element of the input and the output.
//
// The transforms are vectorised across 16 tiles (one panel of the GEMMs'
// right-hand operand), whose patches are read from the input's four phase
// planes (rows and columns by parity) like a 4×4, stride-2 ShiftConv. The
// tiles are processed in blocks so that the transformed input and the GEMM
// outputs stay in cache. The arithmetic is exact in the coefficients (0, ±1,
// ±½), so results differ from direct convolution only by rounding.
//
// A Winograd is read-only after NewWinograd and may be shared by concurrent
// calls that use different scratch memory.
type Winograd struct {
	c, h, w   int
	tx, tiles int // tiles per row, tiles
	panels    int // of 16 tiles
	block     int // panels per block
	patch     *ShiftConv
}

// NewWinograd plans the convolution of c channels of h×w. It reports false
// for more than 256 channels (the GEMMs are not blocked along K).
func NewWinograd(c, h, w int) (*Winograd, bool) {
	if c < 1 || c > 256 || h < 1 || w < 1 {
		return nil, false
	}
	ty, tx := (h+1)/2, (w+1)/2
	patch, ok := NewShiftConv(ConvGeom{C: c, H: h, W: w, KH: 4, KW: 4, PadT: 1, PadL: 1, StrideH: 2, StrideW: 2, DilH: 1, DilW: 1, OH: ty, OW: tx}, 1)
	if !ok {
		return nil, false
	}
	wg := &Winograd{c: c, h: h, w: w, tx: tx, tiles: ty * tx, patch: patch}
	wg.panels = (wg.tiles + NR - 1) / NR
	// A block's transformed input (16·c·16·block floats) within 64 KiB.
	wg.block = max(1, min(wg.panels, (16<<10)/(16*NR*c)))
	return wg, true
}

// WeightsLen is the number of floats TransformWeights writes for m output
// channels.
func (wg *Winograd) WeightsLen(m int) int { return 16 * m * wg.c }

// TransformWeights writes U = G g Gᵀ of ONNX weights w (m × c × 3 × 3) to
// dst as 16 matrices m × c, one per element ξ of the 4×4 transform.
func (wg *Winograd) TransformWeights(dst, w []float32, m int) {
	c := wg.c
	if len(dst) < wg.WeightsLen(m) || len(w) < m*c*9 {
		panic(fmt.Sprintf("kernels: Winograd.TransformWeights needs %d and %d floats, has %d and %d", wg.WeightsLen(m), m*c*9, len(dst), len(w)))
	}
	for o := range m {
		for ci := range c {
			g := w[(o*c+ci)*9:][:9]
			// t = G g (4×3), then u = t Gᵀ (4×4), in float64.
			var t [4][3]float64
			for j := range 3 {
				g0, g1, g2 := float64(g[j]), float64(g[3+j]), float64(g[6+j])
				t[0][j] = g0
				t[1][j] = (g0 + g1 + g2) / 2
				t[2][j] = (g0 - g1 + g2) / 2
				t[3][j] = g2
			}
			for r := range 4 {
				u := [4]float64{t[r][0], (t[r][0] + t[r][1] + t[r][2]) / 2, (t[r][0] - t[r][1] + t[r][2]) / 2, t[r][2]}
				for cc, v := range u {
					dst[((r*4+cc)*m+o)*c+ci] = float32(v)
				}
			}
		}
	}
}

// ScratchLen is the number of floats Conv needs as scratch for m output
// channels.
func (wg *Winograd) ScratchLen(m int) int {
	return wg.patch.GatherLen() + // phase planes
		16*(wg.block*wg.c*NR+winoSkew) + // V of a block
		16*(m*wg.block*NR+winoSkew) + // M of a block
		2*m*wg.panels*2*NR + // the transformed tiles, by output row parity
		NR // slack for whole-vector reads of the last M row
}

// Conv computes the convolution of one image: dst (m × h × w, NCHW) =
// act(bias + conv(src (c × h × w), weights)), with u from TransformWeights.
// bias may be nil. Conv does not allocate.
func (wg *Winograd) Conv(dst, src, u []float32, m int, bias []float32, act Activation, scratch []float32) {
	c, hw := wg.c, wg.h*wg.w
	switch {
	case len(dst) < m*hw || len(src) < c*hw:
		panic(fmt.Sprintf("kernels: Winograd.Conv len(dst) = %d, len(src) = %d for m = %d, c = %d, %d×%d", len(dst), len(src), m, c, wg.h, wg.w))
	case len(u) < wg.WeightsLen(m) || len(scratch) < wg.ScratchLen(m):
		panic(fmt.Sprintf("kernels: Winograd.Conv len(u) = %d, len(scratch) = %d, need %d and %d", len(u), len(scratch), wg.WeightsLen(m), wg.ScratchLen(m)))
	case bias != nil && len(bias) < m:
		panic(fmt.Sprintf("kernels: Winograd.Conv len(bias) = %d < m = %d", len(bias), m))
	case m == 0:
		return
	}
	impl := active
	gl := wg.patch.GatherLen()
	// The 16 planes ξ of V and M are read or written together: a skew keeps
	// them from sharing L1 sets when their size is a multiple of 4 KiB.
	vx := wg.block*c*NR + winoSkew
	vLen := 16 * vx
	ldm := wg.block * NR
	mx := m*ldm + winoSkew
	mLen := 16 * mx
	ldo := wg.panels * 2 * NR
	gbuf, vbuf, mbuf, obuf := scratch[:gl], scratch[gl:gl+vLen], scratch[gl+vLen:gl+vLen+mLen], scratch[gl+vLen+mLen:]
	b := wg.patch.Gather(gbuf, src, c*hw)

	var ga gemmArgs
	flags := actFlags(act, &ga)
	out := winoOutArgs{
		bias: unsafe.Pointer(&zeroBias), m: m,
		xstride: 4 * mx, mrow: 4 * ldm, istride: 4 * m * ldo, orow: 4 * ldo,
		leak: 1,
	}
	if bias != nil {
		out.bias, out.bstride = unsafe.Pointer(&bias[0]), 4
	}
	out.lo, out.hi = clampBounds(flags, ga.lo, ga.hi)
	if flags&flagLeaky != 0 {
		out.leak, out.flags = ga.leak, flagLeaky
	}
	tiles := (m + impl.mr - 1) / impl.mr
	rowsLo, extra := m/tiles, m%tiles
	for p0 := 0; p0 < wg.panels; p0 += wg.block {
		np := min(wg.block, wg.panels-p0)
		n := min(np*NR, wg.tiles-p0*NR) // tiles in this block
		in := winoInArgs{
			src: unsafe.Pointer(&b.src[0]), col: 4 * p0 * NR, table: unsafe.Pointer(&wg.patch.table16[p0*16]),
			dst: unsafe.Pointer(&vbuf[0]), c: c, panels: np,
			cstride: 4 * wg.patch.cstride, xstride: 4 * vx,
		}
		impl.winoInput(&in)
		// The 16 GEMMs M_ξ (m × n) = U_ξ (m × c) · V_ξ (c × n), V_ξ packed.
		var p gemmArgs
		p.k, p.n = c, n
		p.lda, p.ldc, p.bstride = 4*c, 4*ldm, 4*c*NR
		for xi := range 16 {
			p.b = unsafe.Pointer(&vbuf[xi*vx])
			for t, i0 := 0, 0; t < tiles; t++ {
				rows := rowsLo
				if t < extra {
					rows++
				}
				p.a = unsafe.Pointer(&u[(xi*m+i0)*c])
				p.c = unsafe.Pointer(&mbuf[xi*mx+i0*ldm])
				impl.gemm(rows, &p)
				i0 += rows
			}
		}
		out.src = unsafe.Pointer(&mbuf[0])
		out.dst = unsafe.Pointer(&obuf[p0*2*NR])
		out.panels = np
		impl.winoOutput(&out)
	}
	cp := winoCopyArgs{
		src: unsafe.Pointer(&obuf[0]), dst: unsafe.Pointer(&dst[0]),
		m: m, h: wg.h, w: wg.w, istride: 4 * m * ldo, orow: 4 * ldo, trow: 4 * 2 * wg.tx,
	}
	impl.winoCopy(&cp)
}

// winoSkew is the number of floats between consecutive planes ξ of the
// transformed input and of the GEMM outputs, beyond their size.
const winoSkew = 2 * NR

// winoInArgs is the argument block of the input transform: for each panel
// of 16 tiles and channel, the 16 patch vectors d[r][c] (lanes = tiles) are
// read through table (16 shiftEntries per panel, from the first panel of
// the call) at src + col + ci*cstride, transformed, and V_ξ stored at
// dst + ξ*xstride + (panel*c + ci)*64.
type winoInArgs struct {
	src, table, dst unsafe.Pointer
	col             int // byte offset of the call's first panel in the phase planes
	c, panels       int
	cstride         int
	xstride         int
}

// winoOutArgs is the argument block of the output transform: for each
// output channel co and panel of 16 tiles, M_ξ is read at src + ξ*xstride +
// co*mrow + panel*64, the 2×2 tiles computed, biased and activated, and row
// i of the tiles (interleaved: 32 floats per panel) stored at dst +
// i*istride + co*orow + panel*128.
type winoOutArgs struct {
	src, dst, bias unsafe.Pointer
	bstride        int
	m, panels      int
	xstride, mrow  int
	istride, orow  int
	flags          int
	lo, hi, leak   float32
}

// winoCopyArgs is the argument block of the final copy: output row oy of
// channel co (w floats) comes from src + (oy&1)*istride + co*orow +
// (oy>>1)*trow.
type winoCopyArgs struct {
	src, dst      unsafe.Pointer
	m, h, w       int
	istride, orow int
	trow          int
}

func winoInputGeneric(p *winoInArgs) {
	for pl := range p.panels {
		ents := unsafe.Slice((*shiftEntry)(unsafe.Add(p.table, pl*16*int(unsafe.Sizeof(shiftEntry{})))), 16)
		for ci := range p.c {
			var d [16][NR]float32
			for t, e := range ents {
				// Only the lanes of the mask point inside the input (checkptr checks every
				// unsafe.Add).
				off := p.col + pl*4*NR + ci*p.cstride + int(e.off)
				for l := range NR {
					if e.mask&(1<<l) != 0 {
						d[t][l] = *(*float32)(unsafe.Add(p.src, off+4*l))
					}
				}
			}
			for l := range NR {
				var t [4][4]float32
				for c := range 4 {
					d0, d1, d2, d3 := d[c][l], d[4+c][l], d[8+c][l], d[12+c][l]
					t[0][c], t[1][c], t[2][c], t[3][c] = d0-d2, d1+d2, d2-d1, d1-d3
				}
				for r := range 4 {
					v := [4]float32{t[r][0] - t[r][2], t[r][1] + t[r][2], t[r][2] - t[r][1], t[r][1] - t[r][3]}
					for c, x := range v {
						*(*float32)(unsafe.Add(p.dst, (r*4+c)*p.xstride+(pl*p.c+ci)*4*NR+4*l)) = x
					}
				}
			}
		}
	}
}

func winoOutputGeneric(p *winoOutArgs) {
	at := func(base unsafe.Pointer, off int) *float32 { return (*float32)(unsafe.Add(base, off)) }
	for co := range p.m {
		bias := *at(p.bias, co*p.bstride)
		for pl := range p.panels {
			for l := range NR {
				var s [2][4]float32
				for c := range 4 {
					m := func(r int) float32 { return *at(p.src, (r*4+c)*p.xstride+co*p.mrow+pl*4*NR+4*l) }
					m0, m1, m2, m3 := m(0), m(1), m(2), m(3)
					s[0][c], s[1][c] = m0+m1+m2, m1-m2-m3
				}
				for i := range 2 {
					y := [2]float32{s[i][0] + s[i][1] + s[i][2], s[i][1] - s[i][2] - s[i][3]}
					for j, x := range y {
						x = min(max(x+bias, p.lo), p.hi)
						if p.flags&flagLeaky != 0 && x < 0 {
							x *= p.leak
						}
						*at(p.dst, i*p.istride+co*p.orow+pl*8*NR+4*(2*l+j)) = x
					}
				}
			}
		}
	}
}

func winoCopyGeneric(p *winoCopyArgs) {
	for co := range p.m {
		for oy := range p.h {
			src := unsafe.Slice((*float32)(unsafe.Add(p.src, (oy&1)*p.istride+co*p.orow+(oy>>1)*p.trow)), p.w)
			copy(unsafe.Slice((*float32)(unsafe.Add(p.dst, 4*(co*p.h+oy)*p.w)), p.w), src)
		}
	}
}
