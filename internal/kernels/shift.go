package kernels

import (
	"fmt"
	"unsafe"
)

// ConvGeom is the geometry of a 2-D convolution of one group of one image:
// C input channels of H×W, a KH×KW kernel with the given padding before the
// first row and column, strides and dilations, and an OH×OW output.
type ConvGeom struct {
	C, H, W          int
	KH, KW           int
	PadT, PadL       int
	StrideH, StrideW int
	DilH, DilW       int
	OH, OW           int
}

// ShiftConv is a convolution planned as an implicit GEMM: the right-hand
// operand (the im2col matrix) is never written. Its row (t, ci), for kernel
// tap t = ki*KW+kj and input channel ci, is channel ci of the input shifted by
// the tap's offset, read straight from the input planes with one vector load
// per 16 output positions; positions whose input falls in the padding are
// masked to zero. The K dimension is therefore ordered tap-major
// (k = t*C + ci): PackWeights reorders ONNX weights (ci-major) to match.
//
// Stride 1 with an output the size of the input ("same" padding) reads the
// input in place. Other strides, and several images at once, first Gather
// the input into phase planes (the input rows ≡ py and columns ≡ px modulo
// the stride, each OH×OW), where every tap is again a shift.
//
// A ShiftConv is read-only after NewShiftConv and may be shared by
// concurrent calls.
type ShiftConv struct {
	g       ConvGeom
	images  int
	gather  bool // the input is copied into phase planes first
	phases  []int
	taps    int
	n       int // columns: images*OH*OW
	cstride int // floats from one channel's plane to the next in the B operand
	inLen   int // floats Gather writes
	table32 []shiftEntry
	table16 []shiftEntry

	// The 3×3 depthwise kernels with padding 1 and dilation 1 (stride 1
	// in place, or stride 2 gathered): 1 or 2, else 0; the byte offsets of
	// their base registers; and five masks per vector (see dw3x3Fast512).
	dwFast  int
	dwBases [6]int
	dwMasks []dwMask
}

// dwMask holds the masks of one vector for dw3x3Fast512: rows dy = -1, 0,
// 1 and columns dx = -1, 1 of the taps' input inside the image (R0: the
// lanes below N).
type dwMask struct {
	rm, r0, rp, cm, cp uint16
	_                  [3]uint16
}

// shiftEntry is, for one block of output columns and one tap, the lanes
// whose input lies inside the image (and below N) and the byte offset of the
// tap's input for the block's first column. The assembly reads it.
type shiftEntry struct {
	mask uint32
	off  int32
}

// NewShiftConv plans the convolution g over images images at once (their
// output positions side by side as the GEMM's columns). It reports false for
// geometries it cannot express as shifts (then use Im2colPacked): stride 1
// needs an output the size of the input, and every tap must read, from the
// phase plane of its input, positions inside that plane.
func NewShiftConv(g ConvGeom, images int) (*ShiftConv, bool) {
	switch {
	case g.C < 1 || g.H < 1 || g.W < 1 || g.KH < 1 || g.KW < 1 || g.OH < 1 || g.OW < 1 || images < 1:
		return nil, false
	case g.StrideH < 1 || g.StrideW < 1 || g.DilH < 1 || g.DilW < 1:
		return nil, false
	}
	sh, sw := g.StrideH, g.StrideW
	s := &ShiftConv{g: g, images: images, taps: g.KH * g.KW}
	ohw := g.OH * g.OW
	s.n = images * ohw
	s.gather = images > 1 || sh > 1 || sw > 1
	if sh == 1 && sw == 1 && (g.OH != g.H || g.OW != g.W) {
		return nil, false
	}
	if s.n > 1<<28 || g.C*g.H*g.W > 1<<28 {
		return nil, false
	}
	// Each tap reads phase (py, px) at (oy+ay, ox+ax) for input (oy*sh+dy, ox*sw+dx).
	type tap struct{ dy, dx, phase, ay, ax int }
	taps := make([]tap, 0, s.taps)
	phaseIdx := map[int]int{}
	for ki := range g.KH {
		for kj := range g.KW {
			dy, dx := ki*g.DilH-g.PadT, kj*g.DilW-g.PadL
			py, px := mod(dy, sh), mod(dx, sw)
			ay, ax := (dy-py)/sh, (dx-px)/sw
			ph := py*sw + px
			if _, ok := phaseIdx[ph]; !ok {
				phaseIdx[ph] = len(s.phases)
				s.phases = append(s.phases, ph)
			}
			t := tap{dy: dy, dx: dx, phase: phaseIdx[ph], ay: ay, ax: ax}
			if s.gather {
				// A valid read must stay inside its OH×OW phase plane.
				for oy := range g.OH {
					iy := oy*sh + dy
					if iy >= 0 && iy < g.H && (oy+ay < 0 || oy+ay >= g.OH) {
						return nil, false
					}
				}
				for ox := range g.OW {
					ix := ox*sw + dx
					if ix >= 0 && ix < g.W && (ox+ax < 0 || ox+ax >= g.OW) {
						return nil, false
					}
				}
			}
			taps = append(taps, t)
		}
	}
	offs := make([]int, len(taps))
	if s.gather {
		s.cstride = images * ohw
		s.inLen = len(s.phases) * g.C * s.cstride
		for i, t := range taps {
			offs[i] = t.phase*g.C*s.cstride + t.ay*g.OW + t.ax
		}
	} else {
		s.cstride = g.H * g.W
		for i, t := range taps {
			offs[i] = t.dy*g.W + t.dx
		}
	}
	s.planDepthwise3x3(offs)
	valid := func(j int, t tap) bool {
		if j >= s.n {
			return false
		}
		pos := j % ohw
		iy, ix := pos/g.OW*sh+t.dy, pos%g.OW*sw+t.dx
		return iy >= 0 && iy < g.H && ix >= 0 && ix < g.W
	}
	table := func(width int) []shiftEntry {
		blocks := (s.n + width - 1) / width
		tab := make([]shiftEntry, blocks*len(taps))
		for b := range blocks {
			for i, t := range taps {
				var mask uint32
				for l := range width {
					if valid(b*width+l, t) {
						mask |= 1 << l
					}
				}
				tab[b*len(taps)+i] = shiftEntry{mask: mask, off: int32(4 * offs[i])}
			}
		}
		return tab
	}
	s.table32 = table(2 * NR)
	s.table16 = table(NR)
	return s, true
}

// planDepthwise3x3 fills the dw* fields when the geometry suits the fast
// 3×3 depthwise kernels; offs are the taps' element offsets.
func (s *ShiftConv) planDepthwise3x3(offs []int) {
	g := s.g
	if g.KH != 3 || g.KW != 3 || g.DilH != 1 || g.DilW != 1 || g.PadT != 1 || g.PadL != 1 || s.images != 1 {
		return
	}
	st := g.StrideH
	if g.StrideW != st || st > 2 || st == 1 && s.gather || st == 2 && len(s.phases) != 4 {
		return
	}
	for ky := range 3 {
		row := offs[3*ky:][:3]
		if st == 1 {
			if row[0] != row[1]-1 || row[2] != row[1]+1 {
				return
			}
			s.dwBases[ky] = 4 * row[1]
			continue
		}
		if row[0] != row[2]-1 { // dx = -1 and 1 share the odd-column phase
			return
		}
		s.dwBases[2*ky], s.dwBases[2*ky+1] = 4*row[1], 4*row[2]
	}
	lanes := func(ok func(oy, ox int) bool, v int) uint16 {
		var m uint16
		for l := range NR {
			if q := v*NR + l; q < s.n && ok(q/g.OW, q%g.OW) {
				m |= 1 << l
			}
		}
		return m
	}
	s.dwMasks = make([]dwMask, (s.n+NR-1)/NR)
	for v := range s.dwMasks {
		s.dwMasks[v] = dwMask{
			rm: lanes(func(oy, _ int) bool { return oy*st-1 >= 0 }, v),
			r0: lanes(func(int, int) bool { return true }, v),
			rp: lanes(func(oy, _ int) bool { return oy*st+1 < g.H }, v),
			cm: lanes(func(_, ox int) bool { return ox*st-1 >= 0 }, v),
			cp: lanes(func(_, ox int) bool { return ox*st+1 < g.W }, v),
		}
	}
	s.dwFast = st
}

func mod(a, b int) int {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// K is the GEMM depth, C*KH*KW.
func (s *ShiftConv) K() int { return s.g.C * s.taps }

// N is the number of GEMM columns: images*OH*OW output positions, image by
// image.
func (s *ShiftConv) N() int { return s.n }

// GatherLen is the number of floats Gather writes to dst (0 when the input
// is read in place).
func (s *ShiftConv) GatherLen() int { return s.inLen }

// PackWeights reorders ONNX convolution weights w (m × C × KH × KW) into
// dst (m × K, tap-major) for SgemmShift, or, with C = 1, per-channel taps for
// DepthwiseShift (where the order is the same).
func (s *ShiftConv) PackWeights(dst, w []float32, m int) {
	k := s.K()
	if len(dst) < m*k || len(w) < m*k {
		panic(fmt.Sprintf("kernels: ShiftConv.PackWeights needs %d floats, dst has %d and w %d", m*k, len(dst), len(w)))
	}
	for o := range m {
		for ci := range s.g.C {
			for t := range s.taps {
				dst[o*k+t*s.g.C+ci] = w[o*k+ci*s.taps+t]
			}
		}
	}
}

// ShiftB is the right-hand operand of SgemmShift and DepthwiseShift: the
// convolution input as Gather returned it.
type ShiftB struct {
	s   *ShiftConv
	src []float32
}

// Gather prepares the input of the plan's images (image i is C planes of
// H×W at src[i*imgStride:]) and returns the operand. When the plan reads its
// input in place it returns src itself; otherwise it copies the input into
// dst, which must hold GatherLen floats. Gather does not allocate.
func (s *ShiftConv) Gather(dst, src []float32, imgStride int) ShiftB {
	g := s.g
	chw := g.C * g.H * g.W
	if len(src) < (s.images-1)*imgStride+chw {
		panic(fmt.Sprintf("kernels: ShiftConv.Gather len(src) = %d < %d", len(src), (s.images-1)*imgStride+chw))
	}
	if !s.gather {
		return ShiftB{s: s, src: src[:chw]}
	}
	if len(dst) < s.inLen {
		panic(fmt.Sprintf("kernels: ShiftConv.Gather len(dst) = %d < %d", len(dst), s.inLen))
	}
	dst = dst[:s.inLen]
	sh, sw := g.StrideH, g.StrideW
	ohw := g.OH * g.OW
	if active.kind == kindAVX512 && sw == 2 && sh <= 2 && g.W <= 2*NR && g.OW <= NR {
		s.gatherS2(dst, src, imgStride)
		return ShiftB{s: s, src: dst}
	}
	if sh == 1 && sw == 1 {
		// Phase planes are the input planes: copy them whole.
		for ci := range g.C {
			for img := range s.images {
				copy(dst[ci*s.cstride+img*ohw:][:ohw], src[img*imgStride+ci*ohw:][:ohw])
			}
		}
		return ShiftB{s: s, src: dst}
	}
	var phaseDst [4]int // for the vector path: 1 + index of phase (py, px) in s.phases, or 0
	vector := active.kind == kindAVX512 && sw == 2 && sh <= 2
	if vector {
		for pi, ph := range s.phases {
			phaseDst[ph/sw*2+ph%sw] = pi + 1
		}
	}
	for ci := range g.C {
		for img := range s.images {
			plane := src[img*imgStride+ci*g.H*g.W:][:g.H*g.W]
			at := func(pi int) []float32 { return dst[(pi*g.C+ci)*s.cstride+img*ohw:][:ohw] }
			if vector {
				for py := range min(sh, g.H) {
					args := deinterleaveArgs{
						src: unsafe.Pointer(&plane[py*g.W]), rows: min(g.OH, (g.H-py+sh-1)/sh), w: g.W,
						sstride: 4 * sh * g.W, dstride: 4 * g.OW,
						nEven: min(g.OW, (g.W+1)/2), nOdd: min(g.OW, g.W/2),
					}
					if pi := phaseDst[py*2]; pi > 0 {
						args.even = unsafe.Pointer(&at(pi - 1)[0])
					}
					if pi := phaseDst[py*2+1]; pi > 0 {
						args.odd = unsafe.Pointer(&at(pi - 1)[0])
					}
					deinterleave(&args)
				}
				continue
			}
			for pi, ph := range s.phases {
				py, px := ph/sw, ph%sw
				out := at(pi)
				// Entries that correspond to no input are never read (masked).
				for i := range g.OH {
					iy := i*sh + py
					if iy >= g.H {
						break
					}
					row := out[i*g.OW:][:g.OW]
					in := plane[iy*g.W:][:g.W]
					if sw == 1 {
						copy(row, in)
						continue
					}
					// Columns j with j*sw+px < W come from the input.
					if nj := min(g.OW, max(0, (g.W-px+sw-1)/sw)); nj > 0 {
						gatherStrided(row[:nj], in[px:], sw)
					}
				}
			}
		}
	}
	return ShiftB{s: s, src: dst}
}

// gatherArgs is the argument block of gatherS2AVX512 (see gather_amd64.s).
type gatherArgs struct {
	src                        unsafe.Pointer
	dst0, dst1, dst2, dst3     unsafe.Pointer
	outer, inner               int
	ostride, istride, dplane   int
	pairs, rows                int
	w4, dadv                   int
	kin0, kin1, k0, k1, k2, k3 int
}

// gatherS2 is Gather for stride 2 along the width (1 or 2 along the height)
// and inputs at most 32 columns wide, in one vector kernel call.
func (s *ShiftConv) gatherS2(dst, src []float32, imgStride int) {
	g := s.g
	sh := g.StrideH
	lanes := func(n int) int { return 1<<min(max(n, 0), NR) - 1 }
	var ptr [4]unsafe.Pointer
	var mask [4]int
	nEven, nOdd := min(g.OW, (g.W+1)/2), min(g.OW, g.W/2)
	for pi, ph := range s.phases {
		py, px := ph/2, ph%2
		ptr[py*2+px] = unsafe.Pointer(&dst[pi*g.C*s.cstride])
		mask[py*2+px] = lanes([2]int{nEven, nOdd}[px])
	}
	for i := range ptr {
		if ptr[i] == nil {
			ptr[i] = unsafe.Pointer(&dst[0]) // never written: its mask is empty
		}
	}
	rows := min(g.H, sh*g.OH)
	p := gatherArgs{
		src: unsafe.Pointer(&src[0]), dst0: ptr[0], dst1: ptr[1], dst2: ptr[2], dst3: ptr[3],
		outer: g.C, inner: s.images, ostride: 4 * g.H * g.W, istride: 4 * imgStride,
		dplane: 4 * g.OH * g.OW, pairs: rows / 2, rows: rows,
		w4: 4 * g.W, dadv: 4 * g.OW,
		kin0: lanes(g.W), kin1: lanes(g.W - NR), k0: mask[0], k1: mask[1], k2: mask[2], k3: mask[3],
	}
	if sh == 1 {
		// Both rows of a pair go to phase row 0, one output row apart.
		p.dst2, p.dst3 = unsafe.Add(ptr[0], 4*g.OW), unsafe.Add(ptr[1], 4*g.OW)
		p.k2, p.k3 = mask[0], mask[1]
		p.dadv = 8 * g.OW
	}
	gatherS2AVX512(&p)
}

// deinterleaveArgs is the argument block of the vector stride-2 gather:
// see gather_amd64.s.
type deinterleaveArgs struct {
	src, even, odd   unsafe.Pointer
	rows, w          int
	sstride, dstride int
	nEven, nOdd      int
}

// gatherStrided sets dst[j] = src[j*stride].
func gatherStrided(dst, src []float32, stride int) {
	if stride == 2 && len(dst) > 0 {
		src = src[:2*len(dst)-1]
		for j := range dst {
			dst[j] = src[2*j]
		}
		return
	}
	for j := range dst {
		dst[j] = src[j*stride]
	}
}

// SgemmShift computes C = act(alpha·A·B + RowBias (+ C)) as described by ep
// (ColBias is also honoured), where A holds m rows of weights in the order
// PackWeights writes (lda >= K), B is the convolution input b, and C is
// m × N with leading dimension ldc: for one image, NCHW output planes.
// SgemmShift does not allocate.
func SgemmShift(m int, a []float32, lda int, b ShiftB, c []float32, ldc int, ep Epilogue) {
	s := b.s
	if s == nil {
		panic("kernels: SgemmShift of a zero ShiftB")
	}
	k, n := s.K(), s.n
	switch {
	case m < 0:
		panic(fmt.Sprintf("kernels: SgemmShift m = %d < 0", m))
	case lda < k:
		panic(fmt.Sprintf("kernels: SgemmShift lda = %d < K = %d", lda, k))
	case ldc < n:
		panic(fmt.Sprintf("kernels: SgemmShift ldc = %d < N = %d", ldc, n))
	}
	if m == 0 {
		return
	}
	switch {
	case len(a) < (m-1)*lda+k:
		panic(fmt.Sprintf("kernels: SgemmShift len(a) = %d < %d", len(a), (m-1)*lda+k))
	case len(c) < (m-1)*ldc+n:
		panic(fmt.Sprintf("kernels: SgemmShift len(c) = %d < %d", len(c), (m-1)*ldc+n))
	case ep.RowBias != nil && len(ep.RowBias) < m:
		panic(fmt.Sprintf("kernels: SgemmShift len(RowBias) = %d < m = %d", len(ep.RowBias), m))
	case ep.ColBias != nil && len(ep.ColBias) < n:
		panic(fmt.Sprintf("kernels: SgemmShift len(ColBias) = %d < N = %d", len(ep.ColBias), n))
	}
	impl := active
	var p gemmArgs
	p.lda = lda * 4
	p.ldc = ldc * 4
	p.n = n
	p.alpha = ep.Alpha
	p.cin = s.g.C
	p.cstride = s.cstride * 4
	p.tstride = s.taps * int(unsafe.Sizeof(shiftEntry{}))
	p.b = unsafe.Pointer(&b.src[0])
	alphaFlag := 0
	if p.alpha != 0 && p.alpha != 1 {
		alphaFlag = flagAlpha
	}
	lastFlags := alphaFlag | actFlags(ep.Act, &p)
	if ep.RowBias != nil {
		lastFlags |= flagRowBias
	}
	if ep.ColBias != nil {
		lastFlags |= flagColBias
		p.colBias = unsafe.Pointer(&ep.ColBias[0])
	}
	// K blocks of whole taps keep a row tile of A in L1.
	tb := max(1, impl.kc/s.g.C)
	nkb := (s.taps + tb - 1) / tb
	tb = (s.taps + nkb - 1) / nkb
	tiles := (m + impl.mr - 1) / impl.mr
	rowsLo, extra := m/tiles, m%tiles
	for t0 := 0; t0 < s.taps; t0 += tb {
		p.taps = min(tb, s.taps-t0)
		p.flags = alphaFlag
		if t0 > 0 || ep.Accumulate {
			p.flags |= flagLoadC
		}
		if t0+tb >= s.taps {
			p.flags |= lastFlags
		}
		p.table = unsafe.Pointer(&s.table32[t0])
		for t, i0 := 0, 0; t < tiles; t++ {
			rows := rowsLo
			if t < extra {
				rows++
			}
			p.a = unsafe.Pointer(&a[i0*lda+t0*s.g.C])
			p.c = unsafe.Pointer(&c[i0*ldc])
			if ep.RowBias != nil {
				p.rowBias = unsafe.Pointer(&ep.RowBias[i0])
			}
			impl.gemmShift(rows, &p)
			i0 += rows
		}
	}
}

// gemmShiftGeneric is the portable shifted micro-kernel: the semantics of
// the assembly for any number of rows.
func gemmShiftGeneric(rows int, p *gemmArgs) {
	n, cin, taps := p.n, p.cin, p.taps
	lda, ldc, cs := p.lda/4, p.ldc/4, p.cstride/4
	tstride := p.tstride / int(unsafe.Sizeof(shiftEntry{}))
	nblocks := (n + 2*NR - 1) / (2 * NR)
	table := unsafe.Slice((*shiftEntry)(p.table), (nblocks-1)*tstride+taps)
	a := unsafe.Slice((*float32)(p.a), (rows-1)*lda+taps*cin)
	c := unsafe.Slice((*float32)(p.c), (rows-1)*ldc+n)
	var rowBias, colBias []float32
	if p.flags&flagRowBias != 0 {
		rowBias = unsafe.Slice((*float32)(p.rowBias), rows)
	}
	if p.flags&flagColBias != 0 {
		colBias = unsafe.Slice((*float32)(p.colBias), n)
	}
	var acc [4][2 * NR]float32
	var bv [2 * NR]float32
	for blk := range nblocks {
		j0 := blk * 2 * NR
		w := min(2*NR, n-j0)
		ents := table[blk*tstride:][:taps]
		for i := 0; i < rows; i += 4 {
			nr := min(4, rows-i)
			acc = [4][2 * NR]float32{}
			for t, e := range ents {
				for ci := range cin {
					// Lane l reads b + off + 4*(j0+l) + ci*cstride bytes, if its mask bit is set.
					base := int(e.off)/4 + j0 + ci*cs
					for l := range w {
						bv[l] = 0
						if e.mask&(1<<l) != 0 {
							bv[l] = *(*float32)(unsafe.Add(p.b, 4*(base+l)))
						}
					}
					kk := t*cin + ci
					for r := range nr {
						x := a[(i+r)*lda+kk]
						row := &acc[r]
						for l := range w {
							row[l] += x * bv[l]
						}
					}
				}
			}
			for r := range nr {
				epilogueGeneric(p, acc[r][:w], c[(i+r)*ldc+j0:][:w], rowBias, i+r, colBias, j0)
			}
		}
	}
}

// DepthwiseShift computes a depthwise convolution (group = C, one output
// channel per input channel) of the plan's input b, whose geometry has C
// channels and one image: plane p of dst (OH×OW at dst[p*ldd:]) is
// act(bias[p] + Σ_t ker[p*T+t] · input p shifted by tap t), T = KH*KW.
// bias may be nil. DepthwiseShift does not allocate.
func DepthwiseShift(dst []float32, ldd int, b ShiftB, ker, bias []float32, act Activation) {
	s := b.s
	if s == nil {
		panic("kernels: DepthwiseShift of a zero ShiftB")
	}
	planes, n, taps := s.g.C, s.n, s.taps
	switch {
	case s.images != 1:
		panic("kernels: DepthwiseShift of a plan for several images")
	case ldd < n:
		panic(fmt.Sprintf("kernels: DepthwiseShift ldd = %d < N = %d", ldd, n))
	case len(dst) < (planes-1)*ldd+n:
		panic(fmt.Sprintf("kernels: DepthwiseShift len(dst) = %d < %d", len(dst), (planes-1)*ldd+n))
	case len(ker) < planes*taps:
		panic(fmt.Sprintf("kernels: DepthwiseShift len(ker) = %d < %d", len(ker), planes*taps))
	case bias != nil && len(bias) < planes:
		panic(fmt.Sprintf("kernels: DepthwiseShift len(bias) = %d < %d", len(bias), planes))
	}
	var ga gemmArgs
	flags := actFlags(act, &ga)
	p := dwShiftArgs{
		dst: unsafe.Pointer(&dst[0]), src: unsafe.Pointer(&b.src[0]), ker: unsafe.Pointer(&ker[0]),
		bias: unsafe.Pointer(&zeroBias), table: unsafe.Pointer(&s.table16[0]),
		planes: planes, taps: taps, n: n,
		sstride: 4 * s.cstride, dstride: 4 * ldd,
		leak: 1,
	}
	if bias != nil {
		p.bias, p.bstride = unsafe.Pointer(&bias[0]), 4
	}
	p.lo, p.hi = clampBounds(flags, ga.lo, ga.hi)
	if flags&flagLeaky != 0 {
		p.leak = ga.leak
		p.flags = flagLeaky
	}
	if s.dwFast != 0 {
		p.fast, p.bases, p.mtab = s.dwFast, s.dwBases, unsafe.Pointer(&s.dwMasks[0])
	}
	active.dwShift(&p)
}

var zeroBias float32

// dwShiftArgs is the argument block of the depthwise shift kernels.
type dwShiftArgs struct {
	dst, src         unsafe.Pointer // plane 0
	ker, bias        unsafe.Pointer // taps floats per plane; the bias of plane 0
	table            unsafe.Pointer // shiftEntry per vector of NR columns and tap
	planes, taps, n  int
	sstride, dstride int // bytes from one plane to the next
	bstride          int // bytes from one bias to the next (0 without bias)
	flags            int // flagLeaky: apply leak
	lo, hi, leak     float32
	fast             int            // ShiftConv.dwFast
	bases            [6]int         // ShiftConv.dwBases
	mtab             unsafe.Pointer // ShiftConv.dwMasks
}

// dwShiftGeneric is the portable depthwise shift kernel.
func dwShiftGeneric(p *dwShiftArgs) {
	n, taps := p.n, p.taps
	nvec := (n + NR - 1) / NR
	table := unsafe.Slice((*shiftEntry)(p.table), nvec*taps)
	ker := unsafe.Slice((*float32)(p.ker), p.planes*taps)
	for pl := range p.planes {
		src := unsafe.Add(p.src, pl*p.sstride)
		dst := unsafe.Slice((*float32)(unsafe.Add(p.dst, pl*p.dstride)), n)
		bias := *(*float32)(unsafe.Add(p.bias, pl*p.bstride))
		w := ker[pl*taps:][:taps]
		for v := range nvec {
			j0 := v * NR
			var acc [NR]float32
			for l := range acc {
				acc[l] = bias
			}
			for t, e := range table[v*taps:][:taps] {
				for l := range NR {
					if e.mask&(1<<l) != 0 {
						acc[l] += w[t] * *(*float32)(unsafe.Add(src, int(e.off)+4*(j0+l)))
					}
				}
			}
			for l := 0; l < NR && j0+l < n; l++ {
				x := min(max(acc[l], p.lo), p.hi)
				if x < 0 {
					x *= p.leak
				}
				dst[j0+l] = x
			}
		}
	}
}
