package kernels

import (
	"fmt"
	"unsafe"
)

// PackB packs the k×n matrix B into dst in the panel layout Sgemm reads and
// returns the packed matrix, which refers to dst. Without transB, b is k×n
// with leading dimension ldb (B[kk][j] = b[kk*ldb+j]); with transB, b holds
// Bᵀ, n×k (B[kk][j] = b[j*ldb+kk]). len(dst) must be at least
// PackedBLen(k, n). PackB does not allocate.
func PackB(dst []float32, k, n int, b []float32, ldb int, transB bool) PackedB {
	rows, cols := k, n // of the stored matrix b
	if transB {
		rows, cols = n, k
	}
	switch {
	case k < 0 || n < 0:
		panic(fmt.Sprintf("kernels: PackB k = %d, n = %d < 0", k, n))
	case ldb < max(cols, 1):
		panic(fmt.Sprintf("kernels: PackB ldb = %d < %d", ldb, cols))
	case rows > 0 && cols > 0 && len(b) < (rows-1)*ldb+cols:
		panic(fmt.Sprintf("kernels: PackB len(b) = %d < %d", len(b), (rows-1)*ldb+cols))
	case len(dst) < PackedBLen(k, n):
		panic(fmt.Sprintf("kernels: PackB len(dst) = %d < PackedBLen(%d, %d) = %d", len(dst), k, n, PackedBLen(k, n)))
	}
	dst = dst[:PackedBLen(k, n)]
	if k == 0 || n == 0 {
		return PackedB{K: k, N: n, data: dst}
	}
	if transB {
		packTrans(dst, k, n, b, ldb)
	} else {
		packPlain(dst, k, n, b, ldb)
	}
	return PackedB{K: k, N: n, data: dst}
}

func packPlain(dst []float32, k, n int, b []float32, ldb int) {
	full := n / NR
	for p := range full {
		d := dst[p*NR*k:][:NR*k]
		for kk := range k {
			*(*[NR]float32)(d[kk*NR:]) = *(*[NR]float32)(b[kk*ldb+p*NR:])
		}
	}
	if rem := n - full*NR; rem > 0 {
		d := dst[full*NR*k:][:NR*k]
		for kk := range k {
			row := d[kk*NR:][:NR]
			copy(row, b[kk*ldb+full*NR:][:rem])
			clear(row[rem:])
		}
	}
}

// packTrans packs from Bᵀ (n×k), transposing blocks of NR×NR.
func packTrans(dst []float32, k, n int, b []float32, ldb int) {
	for p := 0; p*NR < n; p++ {
		d := dst[p*NR*k:][:NR*k]
		w := min(NR, n-p*NR)
		for k0 := 0; k0 < k; k0 += NR {
			kw := min(NR, k-k0)
			for jj := range w {
				src := b[(p*NR+jj)*ldb+k0:][:kw]
				for kk, x := range src {
					d[(k0+kk)*NR+jj] = x
				}
			}
			if w < NR {
				for kk := range kw {
					clear(d[(k0+kk)*NR+w : (k0+kk+1)*NR])
				}
			}
		}
	}
}

// Im2colPacked writes the im2col matrix of one image for a convolution
// directly in the packed layout and returns it. src is the c×h×w input of one
// group (NCHW); the kernel is kh×kw with the given padding (top, left),
// strides and dilations; the output is oh×ow. Row (ci*kh+ki)*kw+kj, column
// oy*ow+ox of the result holds src[ci][oy*strideH-padT+ki*dilH][ox*strideW-padL+kj*dilW],
// or zero where that falls in the padding, so that the ONNX weights
// (Cout × c*kh*kw) times it is the convolution. len(dst) must be at least
// PackedBLen(c*kh*kw, oh*ow). Im2colPacked does not allocate.
func Im2colPacked(dst []float32, src []float32, c, h, w, kh, kw, padT, padL, strideH, strideW, dilH, dilW, oh, ow int) PackedB {
	return Im2colPackedCols(dst, src, c, h, w, kh, kw, padT, padL, strideH, strideW, dilH, dilW, oh, ow, 0, oh*ow)
}

// Im2colPackedCols is Im2colPacked restricted to the output positions [j0, j1) (j0 a multiple
// of NR): it packs the K×(j1-j0) block of columns a GEMM over those positions needs, so a
// convolution can build and consume its column matrix in cache-sized blocks. len(dst) must be
// at least PackedBLen(c*kh*kw, j1-j0).
func Im2colPackedCols(dst []float32, src []float32, c, h, w, kh, kw, padT, padL, strideH, strideW, dilH, dilW, oh, ow, j0, j1 int) PackedB {
	k, n := c*kh*kw, oh*ow
	switch {
	case c < 0 || h < 0 || w < 0 || kh < 1 || kw < 1 || oh < 0 || ow < 0:
		panic(fmt.Sprintf("kernels: Im2colPacked bad shape c=%d h=%d w=%d kh=%d kw=%d oh=%d ow=%d", c, h, w, kh, kw, oh, ow))
	case strideH < 1 || strideW < 1 || dilH < 1 || dilW < 1:
		panic(fmt.Sprintf("kernels: Im2colPacked strides (%d, %d) and dilations (%d, %d) must be >= 1", strideH, strideW, dilH, dilW))
	case len(src) < c*h*w:
		panic(fmt.Sprintf("kernels: Im2colPacked len(src) = %d < c*h*w = %d", len(src), c*h*w))
	case j0 < 0 || j0%NR != 0 || j1 < j0 || j1 > n:
		panic(fmt.Sprintf("kernels: Im2colPackedCols(%d, %d) of %d positions: j0 must be a multiple of %d and j0 <= j1 <= N", j0, j1, n, NR))
	case len(dst) < PackedBLen(k, j1-j0):
		panic(fmt.Sprintf("kernels: Im2colPacked len(dst) = %d < PackedBLen(%d, %d) = %d", len(dst), k, j1-j0, PackedBLen(k, j1-j0)))
	}
	dst = dst[:PackedBLen(k, j1-j0)]
	if k == 0 || j1 == j0 {
		return PackedB{K: k, N: j1 - j0, data: dst}
	}
	if kh == 1 && kw == 1 && padT == 0 && padL == 0 && strideH == 1 && strideW == 1 && oh == h && ow == w {
		packPlain(dst, k, j1-j0, src[j0:], h*w)
		return PackedB{K: k, N: j1 - j0, data: dst}
	}
	g := im2colGeom{c: c, h: h, w: w, kh: kh, kw: kw, padT: padT, padL: padL, sh: strideH, sw: strideW, dh: dilH, dw: dilW, oh: oh, ow: ow, j0: j0, j1: j1}
	if active.hasIm2col() && h*w > 0 {
		im2colVector(dst, src, &g)
	} else {
		im2col(dst, src, &g)
	}
	return PackedB{K: k, N: j1 - j0, data: dst}
}

// im2colGeom is the geometry of an Im2colPacked call.
type im2colGeom struct {
	c, h, w, kh, kw, padT, padL, sh, sw, dh, dw, oh, ow int
	j0, j1                                              int // the output positions packed
}

// im2colSeg is a run of the columns of one panel that lie in one output row.
type im2colSeg struct {
	oy, ox, lane, n int
}

func im2col(dst, src []float32, g *im2colGeom) {
	k, n := g.c*g.kh*g.kw, g.j1
	var segs [NR]im2colSeg
	for p := g.j0 / NR; p*NR < n; p++ {
		// Split the panel's columns into runs within one output row.
		ns := 0
		for pos, lane := p*NR, 0; lane < NR && pos < n; ns++ {
			oy, ox := pos/g.ow, pos%g.ow
			cnt := min(g.ow-ox, NR-lane, n-pos)
			segs[ns] = im2colSeg{oy: oy, ox: ox, lane: lane, n: cnt}
			pos += cnt
			lane += cnt
		}
		d := dst[(p-g.j0/NR)*NR*k:][:NR*k]
		krow := 0
		for ci := range g.c {
			plane := src[ci*g.h*g.w:][:g.h*g.w]
			for ki := range g.kh {
				for kj := range g.kw {
					out := (*[NR]float32)(d[krow*NR:])
					krow++
					im2colRow(out, plane, segs[:ns], g, ki*g.dh-g.padT, kj*g.dw-g.padL)
				}
			}
		}
	}
}

// im2colRow fills one packed row (NR columns) for kernel offset (dy, dx).
func im2colRow(out *[NR]float32, plane []float32, segs []im2colSeg, g *im2colGeom, dy, dx int) {
	if len(segs) == 1 && segs[0].n == NR && g.sw == 1 {
		s := segs[0]
		iy, ix := s.oy*g.sh+dy, s.ox+dx
		if iy >= 0 && iy < g.h && ix >= 0 && ix+NR <= g.w {
			*out = *(*[NR]float32)(plane[iy*g.w+ix:])
			return
		}
	}
	*out = [NR]float32{}
	for _, s := range segs {
		iy := s.oy*g.sh + dy
		if iy < 0 || iy >= g.h {
			continue
		}
		row := plane[iy*g.w:][:g.w]
		ix0 := s.ox*g.sw + dx
		// Lanes t in [lo, hi) of the run read row[ix0+t*sw], inside the row.
		lo, hi := 0, s.n
		if ix0 < 0 {
			lo = (-ix0 + g.sw - 1) / g.sw
		}
		if last := ix0 + (hi-1)*g.sw; last >= g.w {
			hi = (g.w - ix0 + g.sw - 1) / g.sw
		}
		if lo >= hi {
			continue
		}
		o := out[s.lane+lo : s.lane+hi]
		if g.sw == 1 {
			copy(o, row[ix0+lo:ix0+hi])
			continue
		}
		for t := range o {
			o[t] = row[ix0+(lo+t)*g.sw]
		}
	}
}

// im2colArgs is the argument block of the vector im2col panel kernel.
type im2colArgs struct {
	dst, src unsafe.Pointer // the panel; channel 0 of the input
	c, h, w  int
	kh, kw   int
	dh, dw   int
	plane    int // bytes per input channel
	mode     int // im2colMode*
	lanes    int // bit mask of the panel's columns < N
	nseg     int
	oy, ox   [NR]int32 // per lane: oy*strideH - padT, ox*strideW - padL
	// Per segment (a run of lanes in one output row): its lanes; the
	// element offset and the column that lane 0 would read at ki = kj = 0
	// (lane L reads offset segBase + L*stride); its oy*strideH - padT.
	segMask, segBase, segCol, segRow [NR]int
}

// Modes of the vector im2col panel kernel.
const (
	im2colStride1Seg1 = iota // stride 1, one segment
	im2colStride1Seg2        // stride 1, two segments
	im2colStride1            // stride 1
	im2colStride2            // stride 2
	im2colGather             // any stride
)

// im2colVector is im2col with a vector panel kernel.
func im2colVector(dst, src []float32, g *im2colGeom) {
	k, n := g.c*g.kh*g.kw, g.j1
	p := im2colArgs{
		src: unsafe.Pointer(&src[0]),
		c:   g.c, h: g.h, w: g.w, kh: g.kh, kw: g.kw, dh: g.dh, dw: g.dw,
		plane: 4 * g.h * g.w,
	}
	oy, ox := g.j0/g.ow, g.j0%g.ow
	for pos0 := g.j0; pos0 < n; pos0 += NR {
		p.lanes, p.nseg = 0, 0
		for l := range NR {
			if pos0+l >= n {
				// Past N: any in-range position, masked off by lanes.
				p.oy[l], p.ox[l] = p.oy[0], p.ox[0]
				continue
			}
			p.lanes |= 1 << l
			p.oy[l] = int32(oy*g.sh - g.padT)
			p.ox[l] = int32(ox*g.sw - g.padL)
			if l == 0 || ox == 0 {
				s := p.nseg
				p.segCol[s] = int(p.ox[l]) - l*g.sw
				p.segRow[s] = int(p.oy[l])
				p.segBase[s] = p.segRow[s]*g.w + p.segCol[s]
				p.segMask[s] = 0
				p.nseg++
			}
			p.segMask[p.nseg-1] |= 1 << l
			if ox++; ox == g.ow {
				ox = 0
				oy++
			}
		}
		switch {
		case g.sw == 1 && p.nseg == 1:
			p.mode = im2colStride1Seg1
		case g.sw == 1 && p.nseg == 2:
			p.mode = im2colStride1Seg2
		case g.sw == 1:
			p.mode = im2colStride1
		case g.sw == 2:
			p.mode = im2colStride2
		default:
			p.mode = im2colGather
		}
		p.dst = unsafe.Pointer(&dst[(pos0-g.j0)*k])
		im2colPanel(&p)
	}
}
