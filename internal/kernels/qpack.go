package kernels

import (
	"encoding/binary"
	"fmt"
	"unsafe"
)

// QConvGeom is the geometry of a 2-D convolution as the integer kernels
// read its input: each input channel is split into SH·SW phase planes
// (rows and columns by residue modulo the stride) and padded, so that every
// tap (ky, kx) of every output position is one phase plane read at a fixed
// offset from the output's position.
//
// Positions are flat: output (oy, ox) is position oy·Wq() + ox of a plane
// Wq() wide, so one run of positions covers several output rows and the
// Wq()−OW positions at the end of each row are computed and thrown away
// (QUnflatten drops them). Padding is filled with the input's zero point,
// which the zero-point correction then cancels exactly.
type QConvGeom struct {
	H, W                   int // input plane
	KH, KW, SH, SW, DH, DW int // kernel, strides, dilations
	PT, PL                 int // top and left padding
	OH, OW                 int // output plane
}

// Phases is the number of phase planes of one channel.
func (g *QConvGeom) Phases() int { return g.SH * g.SW }

// Hq and Wq are the height and width of a phase plane.
func (g *QConvGeom) Hq() int { return g.OH + (g.KH-1)*g.DH/g.SH }
func (g *QConvGeom) Wq() int { return g.OW + (g.KW-1)*g.DW/g.SW }

// PlaneLen is the number of positions of one phase plane.
func (g *QConvGeom) PlaneLen() int { return g.Hq() * g.Wq() }

// Positions is the number of flat positions a convolution computes: OH
// rows of Wq(), the last one only up to OW.
func (g *QConvGeom) Positions() int { return (g.OH-1)*g.Wq() + g.OW }

// Taps is the number of taps of the kernel.
func (g *QConvGeom) Taps() int { return g.KH * g.KW }

// tap returns the phase plane of tap t and its offset in positions.
func (g *QConvGeom) tap(t int) (phase, off int) {
	y, x := t/g.KW*g.DH, t%g.KW*g.DW
	return (y%g.SH)*g.SW + x%g.SW, (y/g.SH)*g.Wq() + x/g.SW
}

func (g *QConvGeom) check() {
	if g.H < 1 || g.W < 1 || g.KH < 1 || g.KW < 1 || g.SH < 1 || g.SW < 1 || g.DH < 1 || g.DW < 1 ||
		g.PT < 0 || g.PL < 0 || g.OH < 1 || g.OW < 1 {
		panic(fmt.Sprintf("kernels: invalid convolution geometry %+v", *g))
	}
}

// QuadsLen is the number of bytes PackQuads writes for c channels.
func (g *QConvGeom) QuadsLen(c int) int { return (c + 3) / 4 * g.Phases() * g.PlaneLen() * 4 }

// PackQuads lays out c input channels (planes of H×W bytes, one after the
// other in x) for QGemm: channels in groups of four, the four bytes of one
// position side by side, as [quad][phase][position][4]. The fourth-group
// channels beyond c repeat its first channel (their weights are zero).
// Phase planes no tap reads (a strided 1×1 kernel reads one) are left
// unwritten. dst needs QuadsLen(c) bytes.
func (g *QConvGeom) PackQuads(dst, x []byte, c int, zp byte) {
	g.check()
	hw := g.H * g.W
	if len(x) < c*hw || len(dst) < g.QuadsLen(c) {
		panic(fmt.Sprintf("kernels: PackQuads of %d channels of %d×%d from %d bytes into %d", c, g.H, g.W, len(x), len(dst)))
	}
	pl := g.PlaneLen()
	used := g.usedPhases()
	fill := uint32(zp) * 0x01010101
	if qactive.kind == qkVNNI && (g.SW == 1 || g.SW == 2) {
		g.packQuadsVNNI(dst, x, c, fill, used)
		return
	}
	var rows [4][]byte
	for q := range (c + 3) / 4 {
		for j := range 4 {
			ch := 4*q + j
			if ch >= c {
				ch = 4 * q
			}
			rows[j] = x[ch*hw:][:hw]
		}
		for ph := range g.Phases() {
			if used&(1<<ph) == 0 {
				continue
			}
			plane := dst[((q*g.Phases()+ph)*pl)*4:][:pl*4]
			g.eachRow(ph, plane, 4, func(row []byte, y, x0, x1, sx int) {
				fill32(row[:x0*4], fill)
				fill32(row[x1*4:], fill)
				if x1 > x0 {
					var r [4][]byte
					for j := range 4 {
						r[j] = rows[j][y*g.W:][:g.W]
					}
					interleave4(row[x0*4:x1*4], r, sx, g.SW)
				}
			}, func(row []byte) { fill32(row, fill) })
		}
	}
}

// qpackArgs is the argument block of the AVX-512 PackQuads kernel: one
// phase plane of one channel quad.
type qpackArgs struct {
	dst        unsafe.Pointer // the phase plane
	src        unsafe.Pointer // the quad's first channel
	c1, c2, c3 int            // offsets of its other channels (0 repeats the first)
	h, w       int            // input plane
	hq, wq     int            // phase plane
	sh, y0     int            // input row of phase row yq: y0 + yq·sh
	x0, x1, sx int            // phase columns inside the image, and the input column of x0
	fill       int64          // four zero-point bytes
}

func (g *QConvGeom) packQuadsVNNI(dst, x []byte, c int, fill uint32, used uint64) {
	hw, pl := g.H*g.W, g.PlaneLen()
	p := qpackArgs{h: g.H, w: g.W, hq: g.Hq(), wq: g.Wq(), sh: g.SH, fill: int64(fill)}
	for q := range (c + 3) / 4 {
		p.src = unsafe.Pointer(&x[4*q*hw])
		offs := [3]*int{&p.c1, &p.c2, &p.c3}
		for j, o := range offs {
			*o = 0
			if 4*q+j+1 < c {
				*o = (j + 1) * hw
			}
		}
		for ph := range g.Phases() {
			if used&(1<<ph) == 0 {
				continue
			}
			ry, rx := ph/g.SW, ph%g.SW
			p.dst = unsafe.Pointer(&dst[((q*g.Phases()+ph)*pl)*4])
			p.y0 = ry - g.PT
			p.x0 = max(0, (g.PL-rx+g.SW-1)/g.SW)
			p.x1 = max(p.x0, min(p.wq, (g.W+g.PL-rx+g.SW-1)/g.SW))
			p.sx = p.x0*g.SW + rx - g.PL
			if g.SW == 2 {
				qpackQuads2VNNI(&p)
			} else {
				qpackQuads1VNNI(&p)
			}
		}
	}
}

// usedPhases returns the set of phase planes the taps read, as bits.
func (g *QConvGeom) usedPhases() uint64 {
	var used uint64
	for t := range g.Taps() {
		ph, _ := g.tap(t)
		used |= 1 << ph
	}
	if g.Phases() > 64 {
		return ^uint64(0)
	}
	return used
}

// eachRow calls inside for every row of phase plane ph (size bytes per
// position) whose input row y lies in the image, with the columns
// [x0, x1) that lie inside it and the input column sx of x0; and pad for
// the other rows.
func (g *QConvGeom) eachRow(ph int, plane []byte, size int, inside func(row []byte, y, x0, x1, sx int), pad func(row []byte)) {
	ry, rx := ph/g.SW, ph%g.SW
	hq, wq := g.Hq(), g.Wq()
	// Columns xq whose input column xq·SW + rx − PL lies inside [0, W).
	x0 := max(0, (g.PL-rx+g.SW-1)/g.SW)
	x1 := max(x0, min(wq, (g.W+g.PL-rx+g.SW-1)/g.SW))
	sx := x0*g.SW + rx - g.PL
	for yq := range hq {
		row := plane[yq*wq*size:][:wq*size]
		if y := yq*g.SH + ry - g.PT; y >= 0 && y < g.H {
			inside(row, y, x0, x1, sx)
		} else {
			pad(row)
		}
	}
}

// interleave4 writes dst[4i+j] = rows[j][x0 + i·step] for each position i.
func interleave4(dst []byte, rows [4][]byte, x0, step int) {
	n := len(dst) / 4
	i := interleave4Fast(dst, rows, x0, step, n)
	if i == n {
		return
	}
	last := x0 + (n-1)*step
	r0, r1, r2, r3 := rows[0][:last+1], rows[1][:last+1], rows[2][:last+1], rows[3][:last+1]
	for ; i < n; i++ {
		s := x0 + i*step
		binary.LittleEndian.PutUint32(dst[4*i:], uint32(r0[s])|uint32(r1[s])<<8|uint32(r2[s])<<16|uint32(r3[s])<<24)
	}
}

func fill32(b []byte, v uint32) {
	for i := 0; i+4 <= len(b); i += 4 {
		binary.LittleEndian.PutUint32(b[i:], v)
	}
}

// QuadOffsets writes the QGemm offsets of PackQuads's layout for c
// channels: k-quad kq = quad·Taps() + tap, so the weights' k index is
// (quad·Taps() + tap)·4 + channel%4. dst needs (c+3)/4·Taps() entries.
func (g *QConvGeom) QuadOffsets(dst []int32, c int) {
	pl, t := g.PlaneLen(), g.Taps()
	for q := range (c + 3) / 4 {
		for tp := range t {
			ph, o := g.tap(tp)
			dst[q*t+tp] = int32(((q*g.Phases()+ph)*pl + o) * 4)
		}
	}
}

// PlanesLen is the number of bytes PackPlanes writes for c channels.
func (g *QConvGeom) PlanesLen(c int) int { return c * g.Phases() * g.PlaneLen() }

// PackPlanes lays out c input channels one byte per position, as
// [channel][phase][position], for QDepthwise and PackTaps. dst needs
// PlanesLen(c) bytes.
func (g *QConvGeom) PackPlanes(dst, x []byte, c int, zp byte) {
	g.check()
	hw := g.H * g.W
	if len(x) < c*hw || len(dst) < g.PlanesLen(c) {
		panic(fmt.Sprintf("kernels: PackPlanes of %d channels of %d×%d from %d bytes into %d", c, g.H, g.W, len(x), len(dst)))
	}
	pl := g.PlaneLen()
	for ch := range c {
		src := x[ch*hw:][:hw]
		for ph := range g.Phases() {
			plane := dst[(ch*g.Phases()+ph)*pl:][:pl]
			g.eachRow(ph, plane, 1, func(row []byte, y, x0, x1, sx int) {
				fillBytes(row[:x0], zp)
				fillBytes(row[x1:], zp)
				in := src[y*g.W:][:g.W]
				if g.SW == 1 {
					copy(row[x0:x1], in[sx:])
					return
				}
				for i := range row[x0:x1] {
					row[x0+i] = in[sx+i*g.SW]
				}
			}, func(row []byte) { fillBytes(row, zp) })
		}
	}
}

func fillBytes(b []byte, v byte) {
	for i := range b {
		b[i] = v
	}
}

// PlaneOffsets writes the QDepthwise offsets of one channel of PackPlanes's
// layout: tap t reads at dst[t] + position from the channel's first byte.
func (g *QConvGeom) PlaneOffsets(dst []int32) {
	pl := g.PlaneLen()
	for t := range g.Taps() {
		ph, o := g.tap(t)
		dst[t] = int32(ph*pl + o)
	}
}

// TapsLen is the number of bytes PackTaps writes for c channels.
func (g *QConvGeom) TapsLen(c int) int { return (c*g.Taps() + 3) / 4 * g.Positions() * 4 }

// PackTaps writes the column matrix of the convolution for QGemm from the
// channels' planes (PackPlanes's layout): k = channel·Taps() + tap, four
// consecutive k side by side for each position, as [k-quad][position][4];
// k beyond c·Taps() repeat the quad's first k. It suits inputs with fewer
// than four channels, which PackQuads would pad with unused channels.
// The offsets are kq·Positions()·4 (TapOffsets).
func (g *QConvGeom) PackTaps(dst, planes []byte, c int) {
	np, pl, t := g.Positions(), g.PlaneLen(), g.Taps()
	k := c * t
	if len(planes) < g.PlanesLen(c) || len(dst) < g.TapsLen(c) {
		panic(fmt.Sprintf("kernels: PackTaps of %d channels from %d bytes into %d", c, len(planes), len(dst)))
	}
	var rows [4][]byte
	for q := range (k + 3) / 4 {
		for j := range 4 {
			kk := 4*q + j
			if kk >= k {
				kk = 4 * q
			}
			ph, o := g.tap(kk % t)
			rows[j] = planes[(kk/t*g.Phases()+ph)*pl+o:][:np]
		}
		interleave4(dst[q*np*4:][:np*4], rows, 0, 1)
	}
}

// TapOffsets writes the QGemm offsets of PackTaps's layout for c channels.
func (g *QConvGeom) TapOffsets(dst []int32, c int) {
	np := g.Positions()
	for q := range (c*g.Taps() + 3) / 4 {
		dst[q] = int32(q * np * 4)
	}
}

// QPackRowQuads lays out the rows × k uint8 matrix a (row r at a[r*lda:])
// for QGemm with the rows as positions: dst[(kq·rows + r)·4 + j] =
// a[r][4kq+j], zero beyond k. The offsets are kq·rows·4. dst needs
// rows·4·⌈k/4⌉ bytes.
func QPackRowQuads(dst, a []byte, rows, k, lda int) {
	kq := (k + 3) / 4
	if lda < k || len(dst) < rows*kq*4 || (rows > 0 && k > 0 && len(a) < (rows-1)*lda+k) {
		panic(fmt.Sprintf("kernels: QPackRowQuads of %d×%d (lda %d) from %d bytes into %d", rows, k, lda, len(a), len(dst)))
	}
	full := k / 4
	for r := range rows {
		src := a[r*lda:][:k]
		for q := range full {
			copy(dst[(q*rows+r)*4:][:4], src[4*q:4*q+4])
		}
		if full < kq {
			var v [4]byte
			copy(v[:], src[4*full:])
			copy(dst[(full*rows+r)*4:][:4], v[:])
		}
	}
}

// Unflatten copies the outputs of rows channels computed on flat positions
// (channel i at src[i·Positions()·size:], size bytes per element) into dst
// as rows × OH × OW, dropping the Wq()−OW positions at the end of each row.
func (g *QConvGeom) Unflatten(dst, src []byte, rows, size int) {
	np, wq, ow := g.Positions(), g.Wq(), g.OW*size
	ohw := g.OH * ow
	if len(dst) < rows*ohw || len(src) < ((rows-1)*np+np)*size {
		panic(fmt.Sprintf("kernels: Unflatten of %d rows from %d bytes into %d", rows, len(src), len(dst)))
	}
	for r := range rows {
		s := src[r*np*size:]
		d := dst[r*ohw:]
		for oy := range g.OH {
			copySmall(d[oy*ow:][:ow], s[oy*wq*size:][:ow])
		}
	}
}

// copySmall copies a short row with word moves (the last one overlapping)
// rather than a call to memmove.
func copySmall(dst, src []byte) {
	n := len(dst)
	if n < 8 {
		for i := range dst {
			dst[i] = src[i]
		}
		return
	}
	src = src[:n]
	for i := 0; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(dst[i:], binary.LittleEndian.Uint64(src[i:]))
	}
	binary.LittleEndian.PutUint64(dst[n-8:], binary.LittleEndian.Uint64(src[n-8:]))
}

// FlatTable returns what QGemmFlat needs to store only the outputs among
// the flat positions: for each tile of 32 positions, the mask of those
// that are outputs and the output index of the first of them.
func (g *QConvGeom) FlatTable() []int32 {
	np, wq := g.Positions(), g.Wq()
	tab := make([]int32, 2*((np+31)/32))
	for t := range len(tab) / 2 {
		var mask uint32
		first := -1
		for i := range 32 {
			p := 32*t + i
			if p < np && p%wq < g.OW {
				mask |= 1 << i
				if first < 0 {
					first = p/wq*g.OW + p%wq
				}
			}
		}
		tab[2*t], tab[2*t+1] = int32(mask), int32(max(first, 0))
	}
	return tab
}

// QGemmFlat is QGemm over the convolution's Positions() flat positions
// that writes only its OH×OW outputs: row i at c[i·OH·OW:], as a
// convolution's output. table is FlatTable(); implementations that cannot
// drop the other positions in registers compute into tmp (a.M·Positions()
// bytes; nil when QGemmCompacts) and copy.
func (g *QConvGeom) QGemmFlat(a QPackedA, b []byte, off []int32, table []int32, c, tmp []byte, ep *QEpilogue) {
	g.qgemmFlat(a, b, off, table, unsafe.Pointer(unsafe.SliceData(c)), len(c), tmp, 1, ep)
}

// QGemmFlatF32 is QGemmFlat with float32 outputs (QGemmF32); tmp holds
// a.M·Positions()·4 bytes.
func (g *QConvGeom) QGemmFlatF32(a QPackedA, b []byte, off []int32, table []int32, c []float32, tmp []byte, ep *QEpilogue) {
	g.qgemmFlat(a, b, off, table, unsafe.Pointer(unsafe.SliceData(c)), len(c), tmp, 4, ep)
}

func (g *QConvGeom) qgemmFlat(a QPackedA, b []byte, off []int32, table []int32, c unsafe.Pointer, lenC int, tmp []byte, size int, ep *QEpilogue) {
	np, ohw := g.Positions(), g.OH*g.OW
	if a.M == 0 {
		return
	}
	if lenC < a.M*ohw || len(table) < 2*((np+31)/32) {
		panic(fmt.Sprintf("kernels: QGemmFlat of %d rows into %d outputs (table %d)", a.M, lenC, len(table)))
	}
	qgemmCheck(a, np, b, off, a.M*np, np, ep)
	if !QGemmCompacts() {
		if len(tmp) < a.M*np*size {
			panic(fmt.Sprintf("kernels: QGemmFlat scratch of %d bytes for %d", len(tmp), a.M*np*size))
		}
		qgemm(a, np, b, off, unsafe.Pointer(unsafe.SliceData(tmp)), np, size, ep, nil)
		g.Unflatten(unsafe.Slice((*byte)(c), lenC*size), tmp, a.M, size)
		return
	}
	qgemm(a, np, b, off, c, ohw, size, ep, unsafe.Pointer(unsafe.SliceData(table)))
}

// QGemmCompacts reports whether QGemmFlat needs no scratch.
func QGemmCompacts() bool { return qactive.kind == qkVNNI }

// QSamePlan is a stride-1 convolution whose output has its input's size
// ("same" padding) computed by QGemm from channel quads packed without
// padding: the taps that fall outside the image are masked and read as the
// zero point. There are no padding positions to compute and drop. Made by
// QConvGeom.SamePlan when SameDirect reports it can run.
type QSamePlan struct {
	g     QConvGeom
	c     int     // input channels
	off   []int32 // per k-quad (quad·taps + tap): byte offset from the position
	mask  []uint32
	tiles int
}

// SameDirect reports whether SamePlan can run g on this CPU (the AVX-512
// VNNI kernels) and helps: a 1×1 kernel has no padding to mask.
func (g *QConvGeom) SameDirect() bool {
	return qactive.kind == qkVNNI && g.SH == 1 && g.SW == 1 && g.OH == g.H && g.OW == g.W && g.Taps() > 1
}

// SamePlan prepares the offsets and masks of c input channels. The weights'
// k index is that of PackQuads: (quad·Taps() + tap)·4 + channel%4.
func (g *QConvGeom) SamePlan(c int) *QSamePlan {
	g.check()
	n := g.H * g.W
	p := &QSamePlan{g: *g, c: c, tiles: (n + 31) / 32}
	taps := g.Taps()
	kq := (c + 3) / 4 * taps
	p.off = make([]int32, kq)
	p.mask = make([]uint32, kq*p.tiles)
	for q := range (c + 3) / 4 {
		for t := range taps {
			dy, dx := t/g.KW*g.DH-g.PT, t%g.KW*g.DW-g.PL
			k := q*taps + t
			p.off[k] = int32((q*n + dy*g.W + dx) * 4)
			for pos := range n {
				if y, x := pos/g.W+dy, pos%g.W+dx; y >= 0 && y < g.H && x >= 0 && x < g.W {
					p.mask[k*p.tiles+pos/32] |= 1 << (pos % 32)
				}
			}
		}
	}
	return p
}

// PackLen is the number of bytes Pack writes.
func (p *QSamePlan) PackLen() int { return (p.c + 3) / 4 * p.g.H * p.g.W * 4 }

// Pack lays out the input channels (planes of H×W bytes in x) as channel
// quads without padding.
func (p *QSamePlan) Pack(dst, x []byte) {
	one := QConvGeom{H: p.g.H, W: p.g.W, KH: 1, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1, OH: p.g.H, OW: p.g.W}
	one.PackQuads(dst, x, p.c, 0)
}

// Gemm computes the convolution's outputs (rows of a, H×W each, in c) from
// Pack's layout in b, the input's zero point being zpIn.
func (p *QSamePlan) Gemm(a QPackedA, b []byte, c []byte, zpIn byte, ep *QEpilogue) {
	p.gemm(a, b, unsafe.Pointer(unsafe.SliceData(c)), len(c), 1, zpIn, ep)
}

// GemmF32 is Gemm with float32 outputs.
func (p *QSamePlan) GemmF32(a QPackedA, b []byte, c []float32, zpIn byte, ep *QEpilogue) {
	p.gemm(a, b, unsafe.Pointer(unsafe.SliceData(c)), len(c), 4, zpIn, ep)
}

func (p *QSamePlan) gemm(a QPackedA, b []byte, c unsafe.Pointer, lenC, size int, zpIn byte, ep *QEpilogue) {
	n := p.g.H * p.g.W
	if a.M == 0 {
		return
	}
	if qactive.kind != qkVNNI {
		panic("kernels: QSamePlan without its kernel (check SameDirect)")
	}
	if a.KQ != len(p.off) || len(b) < p.PackLen() || lenC < a.M*n || len(ep.Corr) < a.M || len(ep.Mult) < a.M {
		panic(fmt.Sprintf("kernels: QSamePlan.Gemm of %d rows × %d k-quads (plan %d) from %d bytes into %d outputs",
			a.M, a.KQ, len(p.off), len(b), lenC))
	}
	q := qgemmArgs{mtab: unsafe.Pointer(unsafe.SliceData(p.mask)), mstride: 4 * p.tiles, zpIn: int64(uint32(zpIn) * 0x01010101)}
	qgemmRun(&q, a, n, b, p.off, c, n, size, ep)
}
