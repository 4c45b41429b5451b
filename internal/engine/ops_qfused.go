package engine

import (
	bin "encoding/binary"
	"math"

	"github.com/tinymlaas/tinyml/internal/kernels"
	"github.com/tinymlaas/tinyml/internal/onnx"
)

// The fused integer operators fuseQDQ creates (qdq.go). They are not ONNX operators: the
// registry does not list them, so a model cannot name them, and only the planner finds them
// (opDefOf).

var internalOps = map[string]opDef{}

func init() {
	internalOps[qconvOp] = opDef{build: buildQConv}
	internalOps[qgemmOp] = opDef{build: buildQGemm}
	internalOps[qaddOp] = opDef{build: buildQAdd}
	internalOps[qgapOp] = opDef{build: buildQGlobalAveragePool}
	internalOps[qrequantOp] = opDef{build: buildQRequantize}
	internalOps[qquantOp] = opDef{build: buildQQuantize}
	internalOps[qmaxpoolOp] = opDef{build: buildQMaxPool}
}

// opDefOf returns the definition the planner uses for a node's operator.
func opDefOf(op string) opDef {
	if d, ok := registry[op]; ok {
		return d
	}
	return internalOps[op]
}

// needQuantized checks that input i has the element type the fusion expected.
func (b *build) needQuantized(i int, q qparam) (*Tensor, error) {
	t, err := b.input(i)
	if err != nil {
		return nil, err
	}
	if t.DType != q.dt {
		return nil, b.unsupported("input %d of type %s (the fused quantization expects %s)", i, t.DType, q.dt)
	}
	return t, nil
}

// requantization computes, for output channel i, the correction bias[i] − x_zp·Σ w[i] (so
// that the kernels can multiply the raw uint8 input), the multiplier x_scale·w_scale[i]/y_scale
// (float32 arithmetic, as QLinearConv computes it) and the clamp of the output.
func (s *qspec) requantization(w []int8, k int, bias []int32) kernels.QEpilogue {
	m := len(s.wScale)
	ep := kernels.QEpilogue{Corr: make([]int32, m), Mult: make([]float64, m)}
	zx := unsignedZero(s.in[0])
	for i := range m {
		var sum int32
		for _, v := range w[i*k : (i+1)*k] {
			sum += int32(v)
		}
		var bv int32
		if bias != nil {
			bv = bias[i]
		}
		ep.Corr[i] = bv - zx*sum
		prod := s.in[0].scale * s.wScale[i]
		if s.out.quantized() {
			ep.Mult[i] = float64(prod / s.out.scale)
		} else {
			ep.Mult[i] = float64(prod)
		}
	}
	ep.Lo, ep.Hi, ep.ZeroPoint = s.bounds()
	ep.Prepare()
	return ep
}

// The integer kernels multiply unsigned bytes. An int8 input is read XOR 0x80 (its value plus
// 128, as a byte) with its zero point moved by 128: the differences x − zero point, all the
// kernels need, are the same.
func unsignedZero(q qparam) int32 {
	if q.dt == onnx.Int8 {
		return q.zp + 128
	}
	return q.zp
}

// unsignedInput returns the run-time view of an 8-bit input as the kernels read it: the tensor
// itself for uint8, and for int8 a scratch copy XOR 0x80 that prepare fills (call it once per
// run, before the kernels).
func (b *build) unsignedInput(x *Tensor) (data func() []byte, prepare func()) {
	if x.DType != onnx.Int8 {
		return func() []byte { return x.Data }, func() {}
	}
	sc := b.askScratch(x.Len())
	return sc.bytes, func() { xor80(sc.bytes(), x.Data) }
}

// xor80 writes src XOR 0x80 (each byte) into dst.
func xor80(dst, src []byte) {
	dst = dst[:len(src)]
	i := 0
	for ; i+8 <= len(src); i += 8 {
		bin.LittleEndian.PutUint64(dst[i:], bin.LittleEndian.Uint64(src[i:])^0x8080808080808080)
	}
	for ; i < len(src); i++ {
		dst[i] = src[i] ^ 0x80
	}
}

// bounds is the clamp of the epilogue: the output type's range and the fused activation, in
// the quantized domain (relative to the zero point) or, for a float output, the activation's.
func (s *qspec) bounds() (lo, hi float64, zp int32) {
	if !s.out.quantized() {
		return float64(s.lo), float64(s.hi), 0
	}
	qmin, qmax, _ := qrange(s.out.dt)
	z := s.out.zp
	l, h := qmin, qmax
	// Quantization is monotone, so Q(clip(v, lo, hi)) = clip(Q(v), Q(lo), Q(hi)).
	if !math.IsInf(float64(s.lo), -1) {
		l = quantizeOne(s.lo, s.out.scale, z, qmin, qmax)
	}
	if !math.IsInf(float64(s.hi), 1) {
		h = quantizeOne(s.hi, s.out.scale, z, qmin, qmax)
	}
	return float64(l - z), float64(h - z), z
}

// qconvPrep is a QConv's batch-independent work: packed weights and requantization.
type qconvPrep struct {
	packed []kernels.QPackedA  // per group (GEMM strategies)
	dw     []int8              // depthwise: the weights, Taps per output channel (the constant's)
	dwWide []int32             // depthwise: the same as QDepthwiseDirect takes them
	ep     []kernels.QEpilogue // per group (GEMM), or per input channel (depthwise)
	all    kernels.QEpilogue   // depthwise: every output channel's
}

// Convolution strategies.
const (
	qconvQuads     = iota // channels in groups of four (PackQuads): the input packed once, no im2col
	qconvTaps             // k = channel·tap in groups of four (PackTaps): few channels
	qconvDepthwise        // one channel per group (PackPlanes, QDepthwise)
)

func buildQConv(b *build) error {
	s := specOf(b.node)
	x, err := b.needQuantized(0, s.in[0])
	if err != nil {
		return err
	}
	w, err := b.input(1)
	if err != nil {
		return err
	}
	win, n, c, m, group, err := b.convGeometry(x, w)
	if err != nil {
		return err
	}
	if w.DType != onnx.Int8 || len(s.wScale) != m {
		return b.errorf("fused weights %s%v for %d output channels", w.DType, w.Shape, len(s.wScale))
	}
	bias := b.optional(2)
	if bias != nil && (bias.DType != onnx.Int32 || bias.Len() != m) {
		return b.errorf("bias must be int32 with %d values, not %s%v", m, bias.DType, bias.Shape)
	}
	b.setOut(0, s.out.dt, win.outShape(n, m, len(x.Shape)))
	out := b.out[0]
	k := w.Len() / m
	b.macs = int64(out.Len()) * int64(k)
	geom := kernels.QConvGeom{H: win.h, W: win.w, KH: win.kh, KW: win.kw, SH: win.sh, SW: win.sw,
		DH: win.dh, DW: win.dw, PT: win.pt, PL: win.pl, OH: win.oh, OW: win.ow}
	cg, mg := c/group, m/group
	taps := geom.Taps()
	strategy := qconvQuads
	switch {
	case cg == 1 && (group > 1 || geom.DepthwiseDirect()):
		// One input channel per group (or one in all: the convolution is a depthwise one with
		// a channel multiplier).
		strategy = qconvDepthwise
	case cg <= 2:
		strategy = qconvTaps
	}
	v, err := b.node.memoize("qconv", func() (any, error) {
		var bv []int32
		if bias != nil {
			bv = View[int32](bias)
		}
		ws := View[int8](w)
		all := s.requantization(ws, k, bv)
		p := &qconvPrep{}
		if strategy == qconvDepthwise {
			// One kernel call per input channel and its m/c output channels. The kernels that
			// read the input in place take the weights widened; the others, as they are.
			p.dw = ws
			if geom.DepthwiseDirect() {
				p.dwWide = make([]int32, len(ws))
				kernels.QDepthwiseWeights(p.dwWide, ws)
			}
			mult := m / c
			for ic := range c {
				e := all
				e.Corr, e.Mult = all.Corr[ic*mult:(ic+1)*mult], all.Mult[ic*mult:(ic+1)*mult]
				p.ep = append(p.ep, e)
			}
			p.all = all
			return p, nil
		}
		for g := range group {
			gw := ws[g*mg*k : (g+1)*mg*k]
			var a kernels.QPackedA
			if strategy == qconvTaps {
				a = kernels.QPackA(make([]int8, kernels.QPackedALen(mg, k)), gw, mg, k, k)
			} else {
				// k = (quad·taps + tap)·4 + channel%4.
				kq := (cg + 3) / 4 * taps
				re := make([]int8, mg*kq*4)
				for oc := range mg {
					for ic := range cg {
						for t := range taps {
							re[oc*kq*4+((ic/4)*taps+t)*4+ic%4] = gw[(oc*cg+ic)*taps+t]
						}
					}
				}
				a = kernels.QPackA(make([]int8, kernels.QPackedALen(mg, kq*4)), re, mg, kq*4, kq*4)
			}
			p.packed = append(p.packed, a)
			e := all
			e.Corr, e.Mult = all.Corr[g*mg:(g+1)*mg], all.Mult[g*mg:(g+1)*mg]
			p.ep = append(p.ep, e)
		}
		return p, nil
	})
	if err != nil {
		return err
	}
	prep := v.(*qconvPrep)

	np, ohw := geom.Positions(), win.oh*win.ow
	hw := win.h * win.w
	zx := byte(unsignedZero(s.in[0]))
	xdata, prepareX := b.unsignedInput(x)
	size := out.DType.Size()
	mult := 1
	if strategy == qconvDepthwise {
		mult = m / c
	}
	if strategy == qconvDepthwise && geom.DepthwiseDirect() {
		// Straight from the input planes to the output planes: nothing to pack.
		dw := geom.DepthwisePlan()
		body := func(_, lo, hi int) {
			for img := lo; img < hi; img++ {
				xs := xdata()[img*c*hw : (img+1)*c*hw]
				o := out.Data[img*m*ohw*size : (img+1)*m*ohw*size]
				if size == 4 {
					dw.RunF32(m, mult, xs, prep.dwWide, f32s(o), zx, &prep.all)
				} else {
					dw.Run(m, mult, xs, prep.dwWide, o, zx, &prep.all)
				}
			}
		}
		b.run = func(e *exec) {
			prepareX()
			e.parallel(n, body)
		}
		return nil
	}
	if strategy == qconvQuads && geom.SameDirect() {
		// Output as large as the input: the quads are packed without padding and the kernel
		// masks the taps that fall outside the image.
		same := geom.SamePlan(cg)
		packLen := same.PackLen()
		workers := min(b.threads, n)
		sc := b.askScratch(align64(packLen) * workers)
		body := func(worker, lo, hi int) {
			buf := sc.bytes()[worker*align64(packLen):][:packLen]
			for img := lo; img < hi; img++ {
				xs := xdata()[img*c*hw : (img+1)*c*hw]
				o := out.Data[img*m*ohw*size : (img+1)*m*ohw*size]
				for g := range group {
					same.Pack(buf, xs[g*cg*hw:(g+1)*cg*hw])
					gd := o[g*mg*ohw*size : (g+1)*mg*ohw*size]
					if size == 4 {
						same.GemmF32(prep.packed[g], buf, f32s(gd), zx, &prep.ep[g])
					} else {
						same.Gemm(prep.packed[g], buf, gd, zx, &prep.ep[g])
					}
				}
			}
		}
		b.run = func(e *exec) {
			prepareX()
			e.parallel(n, body)
		}
		return nil
	}
	var off []int32
	var packLen int
	switch strategy {
	case qconvQuads:
		off = make([]int32, (cg+3)/4*taps)
		geom.QuadOffsets(off, cg)
		packLen = geom.QuadsLen(cg)
	case qconvTaps:
		off = make([]int32, (cg*taps+3)/4)
		geom.TapOffsets(off, cg)
		packLen = geom.PlanesLen(cg) + geom.TapsLen(cg)
	case qconvDepthwise:
		off = make([]int32, taps)
		geom.PlaneOffsets(off)
		packLen = geom.PlanesLen(c)
	}
	// The flat positions are the output's when rows have no padding columns; otherwise the GEMM
	// kernels store only the outputs (QGemmFlat), through scratch where they cannot do it in
	// registers, and the depthwise one always through scratch.
	direct := geom.Wq() == win.ow
	table := geom.FlatTable()
	flatLen := 0
	if !direct && (strategy == qconvDepthwise || !kernels.QGemmCompacts()) {
		flatLen = m * np * size
	}
	perWorker := align64(packLen) + align64(flatLen)
	workers := min(b.threads, n)
	sc := b.askScratch(perWorker * workers)
	chLen := geom.Phases() * geom.PlaneLen()

	body := func(worker, lo, hi int) {
		mem := sc.bytes()[worker*perWorker : (worker+1)*perWorker]
		buf := mem[:packLen]
		flat := mem[align64(packLen):][:flatLen]
		for img := lo; img < hi; img++ {
			xs := xdata()[img*c*hw : (img+1)*c*hw]
			o := out.Data[img*m*ohw*size : (img+1)*m*ohw*size]
			if strategy == qconvDepthwise {
				dst, ldc := o, ohw
				if !direct {
					dst, ldc = flat, np
				}
				geom.PackPlanes(buf, xs, c, zx)
				if mult == 1 { // every channel in one call
					if size == 4 {
						kernels.QDepthwiseF32(m, np, buf, chLen, off, prep.dw, f32s(dst), ldc, &prep.all)
					} else {
						kernels.QDepthwise(m, np, buf, chLen, off, prep.dw, dst, ldc, &prep.all)
					}
				} else {
					for ic := range c {
						src := buf[ic*chLen:][:chLen]
						w := prep.dw[ic*mult*taps:]
						if size == 4 {
							kernels.QDepthwiseF32(mult, np, src, 0, off, w, f32s(dst[ic*mult*ldc*4:]), ldc, &prep.ep[ic])
						} else {
							kernels.QDepthwise(mult, np, src, 0, off, w, dst[ic*mult*ldc:], ldc, &prep.ep[ic])
						}
					}
				}
				if !direct {
					geom.Unflatten(o, flat, m, size)
				}
				continue
			}
			for g := range group {
				gx := xs[g*cg*hw : (g+1)*cg*hw]
				in := buf
				if strategy == qconvTaps {
					planes := buf[:geom.PlanesLen(cg)]
					geom.PackPlanes(planes, gx, cg, zx)
					in = buf[geom.PlanesLen(cg):]
					geom.PackTaps(in, planes, cg)
				} else {
					geom.PackQuads(in, gx, cg, zx)
				}
				gd := o[g*mg*ohw*size : (g+1)*mg*ohw*size]
				switch {
				case direct && size == 4:
					kernels.QGemmF32(prep.packed[g], np, in, off, f32s(gd), ohw, &prep.ep[g])
				case direct:
					kernels.QGemm(prep.packed[g], np, in, off, gd, ohw, &prep.ep[g])
				case size == 4:
					geom.QGemmFlatF32(prep.packed[g], in, off, table, f32s(gd), flat, &prep.ep[g])
				default:
					geom.QGemmFlat(prep.packed[g], in, off, table, gd, flat, &prep.ep[g])
				}
			}
		}
	}
	b.run = func(e *exec) {
		prepareX()
		e.parallel(n, body)
	}
	return nil
}

// qgemmPrep is a QGemm's batch-independent work.
type qgemmPrep struct {
	packed kernels.QPackedA
	ep     kernels.QEpilogue
}

// buildQGemm runs x (…, K) times weights stored as N×K (one row per output): the rows of x are
// the kernel's positions.
func buildQGemm(b *build) error {
	s := specOf(b.node)
	x, err := b.needQuantized(0, s.in[0])
	if err != nil {
		return err
	}
	w, err := b.input(1)
	if err != nil {
		return err
	}
	if len(x.Shape) == 0 || w.DType != onnx.Int8 || len(w.Shape) != 2 {
		return b.errorf("fused product of %s%v and weights %s%v", x.DType, x.Shape, w.DType, w.Shape)
	}
	nOut, k := w.Shape[0], w.Shape[1]
	if x.Shape[len(x.Shape)-1] != k || len(s.wScale) != nOut {
		return b.errorf("A %v and weights %v (as N×K) do not multiply", x.Shape, w.Shape)
	}
	bias := b.optional(2)
	if bias != nil && (bias.DType != onnx.Int32 || bias.Len() != nOut) {
		return b.errorf("bias must be int32 with %d values, not %s%v", nOut, bias.DType, bias.Shape)
	}
	rows := numel(x.Shape[:len(x.Shape)-1])
	b.setOut(0, s.out.dt, append(cloneShape(x.Shape[:len(x.Shape)-1]), nOut))
	out := b.out[0]
	b.macs = int64(rows) * int64(nOut) * int64(k)
	v, err := b.node.memoize("qgemm", func() (any, error) {
		var bv []int32
		if bias != nil {
			bv = View[int32](bias)
		}
		ws := View[int8](w)
		return &qgemmPrep{
			packed: kernels.QPackA(make([]int8, kernels.QPackedALen(nOut, k)), ws, nOut, k, k),
			ep:     s.requantization(ws, k, bv),
		}, nil
	})
	if err != nil {
		return err
	}
	prep := v.(*qgemmPrep)
	kq := (k + 3) / 4
	off := make([]int32, kq)
	for q := range off {
		off[q] = int32(q * rows * 4)
	}
	size := out.DType.Size()
	xdata, prepareX := b.unsignedInput(x)
	xq := b.askScratch(rows * kq * 4)
	tmp := b.askScratch(nOut * rows * size) // the kernel's output, N×rows
	body := func(_, lo, hi int) {
		if hi <= lo {
			return
		}
		in := xq.bytes()[4*lo:]
		if size == 4 {
			kernels.QGemmF32(prep.packed, hi-lo, in, off, tmp.f32()[lo:], rows, &prep.ep)
		} else {
			kernels.QGemm(prep.packed, hi-lo, in, off, tmp.bytes()[lo:], rows, &prep.ep)
		}
	}
	// Positions are split between threads in blocks of whole vectors.
	const block = 32
	blocks := (rows + block - 1) / block
	split := func(worker, lo, hi int) { body(worker, lo*block, min(hi*block, rows)) }
	b.run = func(e *exec) {
		prepareX()
		kernels.QPackRowQuads(xq.bytes(), xdata(), rows, k, k)
		if blocks >= 2*b.threads && b.threads > 1 {
			e.parallel(blocks, split)
		} else {
			body(0, 0, rows)
		}
		if size == 4 {
			transpose2D(F32(out), tmp.f32()[:nOut*rows], nOut, rows)
		} else {
			transposeBytes(out.Data, tmp.bytes()[:nOut*rows], nOut, rows)
		}
	}
	return nil
}

// transposeBytes writes the transpose of src (r×c) into dst (c×r).
func transposeBytes(dst, src []byte, r, c int) {
	for i := range r {
		row := src[i*c : (i+1)*c]
		for j, v := range row {
			dst[j*r+i] = v
		}
	}
}

// dequantTable is the float32 value of each 8-bit code: (q − zp)·scale, computed as
// DequantizeLinear computes it.
func dequantTable(q qparam) *[256]float32 {
	var t [256]float32
	z := float32(q.zp)
	for i := range t {
		v := float32(i)
		if q.dt == onnx.Int8 {
			v = float32(int8(uint8(i)))
		}
		t[i] = (v - z) * q.scale
	}
	return &t
}

// quantizer is QuantizeLinear of one value to q (saturate(round_half_even(v/scale) + zp)),
// with the same float32 operations as the reference operator.
type quantizer struct {
	s, lo, hi float32
	z         int32
}

func newQuantizer(q qparam) quantizer {
	qmin, qmax, _ := qrange(q.dt)
	return quantizer{s: q.scale, lo: float32(qmin - q.zp), hi: float32(qmax - q.zp), z: q.zp}
}

func (qz quantizer) byteOf(v float32) byte {
	q := min(max(v/qz.s, qz.lo), qz.hi)
	if q != q {
		q = 0
	}
	return byte(int32(roundHalfEven32(q)) + qz.z)
}

// buildQAdd adds two quantized tensors (numpy broadcasting) as DequantizeLinear, Add, the
// fused Relu/Clip and QuantizeLinear do, in float32, without the float tensors.
func buildQAdd(b *build) error {
	s := specOf(b.node)
	a, err := b.needQuantized(0, s.in[0])
	if err != nil {
		return err
	}
	c, err := b.needQuantized(1, s.in[1])
	if err != nil {
		return err
	}
	shape, ok := broadcastShape(a.Shape, c.Shape)
	if !ok {
		return b.errorf("shapes %v and %v do not broadcast", a.Shape, c.Shape)
	}
	b.setOut(0, s.out.dt, shape)
	out := b.out[0]
	p := &kernels.QAddParams{ScaleA: s.in[0].scale, ZeroA: float32(s.in[0].zp), SignedA: s.in[0].dt == onnx.Int8,
		ScaleB: s.in[1].scale, ZeroB: float32(s.in[1].zp), SignedB: s.in[1].dt == onnx.Int8,
		Lo: s.lo, Hi: s.hi, ScaleY: s.out.scale, ZeroY: s.out.zp}
	float := !s.out.quantized()
	if !float {
		p.QMin, p.QMax, _ = qrange(s.out.dt)
	}
	total := numel(shape)
	if sameShape(a.Shape, c.Shape) {
		const chunk = 1 << 14
		parts := (total + chunk - 1) / chunk
		body := func(_, lo, hi int) {
			i0, i1 := lo*chunk, min(hi*chunk, total)
			if float {
				kernels.QAddF32(F32(out)[i0:i1], a.Data[i0:i1], c.Data[i0:i1], p)
			} else {
				kernels.QAdd(out.Data[i0:i1], a.Data[i0:i1], c.Data[i0:i1], p)
			}
		}
		b.run = func(e *exec) { e.parallel(parts, body) }
		return nil
	}
	// Broadcasting: element by element, with the same arithmetic.
	ta, tc := dequantTable(s.in[0]), dequantTable(s.in[1])
	qz := newQuantizer(s.out)
	bc := newBcast(shape, a.Shape, c.Shape)
	rows := func(o, ao, co int) {
		for i := range bc.inner {
			v := min(max(ta[a.Data[ao+i*bc.ia]]+tc[c.Data[co+i*bc.ib]], p.Lo), p.Hi)
			if float {
				F32(out)[o+i] = v
			} else {
				out.Data[o+i] = qz.byteOf(v)
			}
		}
	}
	b.run = func(*exec) { bc.rows(rows) }
	return nil
}

// buildQGlobalAveragePool averages each channel of a quantized tensor and quantizes the mean,
// as DequantizeLinear, GlobalAveragePool and QuantizeLinear do in float32.
func buildQGlobalAveragePool(b *build) error {
	s := specOf(b.node)
	x, err := b.needQuantized(0, s.in[0])
	if err != nil {
		return err
	}
	if len(x.Shape) < 3 {
		return b.errorf("input %v must be (N, C, spatial...)", x.Shape)
	}
	shape := cloneShape(x.Shape)
	for i := 2; i < len(shape); i++ {
		shape[i] = 1
	}
	b.setOut(0, s.out.dt, shape)
	out := b.out[0]
	plane := numel(x.Shape[2:])
	t := dequantTable(s.in[0])
	qz := newQuantizer(s.out)
	b.run = func(*exec) {
		// Four channels at a time: four independent chains of float32 additions, each in the
		// reference's order.
		p, n := 0, len(out.Data)
		for ; p+4 <= n; p += 4 {
			x0 := x.Data[p*plane : (p+1)*plane]
			x1 := x.Data[(p+1)*plane : (p+2)*plane]
			x2 := x.Data[(p+2)*plane : (p+3)*plane]
			x3 := x.Data[(p+3)*plane : (p+4)*plane]
			var s0, s1, s2, s3 float32
			for i := range x0 {
				s0 += t[x0[i]]
				s1 += t[x1[i]]
				s2 += t[x2[i]]
				s3 += t[x3[i]]
			}
			out.Data[p] = qz.byteOf(s0 / float32(plane))
			out.Data[p+1] = qz.byteOf(s1 / float32(plane))
			out.Data[p+2] = qz.byteOf(s2 / float32(plane))
			out.Data[p+3] = qz.byteOf(s3 / float32(plane))
		}
		for ; p < n; p++ {
			var sum float32
			for _, v := range x.Data[p*plane : (p+1)*plane] {
				sum += t[v]
			}
			out.Data[p] = qz.byteOf(sum / float32(plane))
		}
	}
	return nil
}

// buildQRequantize maps each code of one quantization to another's (QuantizeLinear of
// DequantizeLinear) through a table.
func buildQRequantize(b *build) error {
	s := specOf(b.node)
	x, err := b.needQuantized(0, s.in[0])
	if err != nil {
		return err
	}
	b.setOut(0, s.out.dt, cloneShape(x.Shape))
	b.mayOverwrite(0, 0)
	out := b.out[0]
	t := dequantTable(s.in[0])
	qz := newQuantizer(s.out)
	var lut [256]byte
	for i := range lut {
		lut[i] = qz.byteOf(t[i])
	}
	b.run = func(*exec) {
		for i, v := range x.Data {
			out.Data[i] = lut[v]
		}
	}
	return nil
}

// buildQQuantize is QuantizeLinear with a vector kernel for the common case (float32 input, a
// constant per-tensor scale and zero point); the reference operator does everything else.
func buildQQuantize(b *build) error {
	s := specOf(b.node)
	x, err := b.input(0)
	if err != nil {
		return err
	}
	if x.DType != onnx.Float {
		if len(s.pre) > 0 {
			return b.unsupported("a fused normalisation of a %s input", x.DType)
		}
		return buildQuantize(b)
	}
	shape := cloneShape(x.Shape)
	if len(shape) == 0 && len(s.pre) > 0 {
		shape = []int{1} // a constant of rank 1 broadcast the scalar
	}
	b.setOut(0, s.out.dt, shape)
	out := b.out[0]
	qmin, qmax, _ := qrange(s.out.dt)
	n := x.Len()
	const chunk = 1 << 14
	parts := (n + chunk - 1) / chunk
	body := func(_, lo, hi int) {
		i0, i1 := lo*chunk, min(hi*chunk, n)
		kernels.QuantizeAffine(out.Data[i0:i1], F32(x)[i0:i1], s.pre, s.out.scale, s.out.zp, qmin, qmax)
	}
	b.run = func(e *exec) { e.parallel(parts, body) }
	return nil
}

// buildQMaxPool is MaxPool of 8-bit integers (2-D, no indices): the maximum of the codes is
// the code of the maximum.
func buildQMaxPool(b *build) error {
	x, err := b.input(0)
	if err != nil {
		return err
	}
	if !is8bit(x.DType) || len(x.Shape) != 4 {
		return buildPool(b)
	}
	kernel := b.attrInts("kernel_shape", nil)
	if kernel == nil {
		return b.errorf("attribute kernel_shape is required")
	}
	win, err := b.spatial(x.Shape, kernel, b.attrInt("ceil_mode", 0) != 0)
	if err != nil {
		return err
	}
	n, c := x.Shape[0], x.Shape[1]
	b.setOut(0, x.DType, win.outShape(n, c, len(x.Shape)))
	out := b.out[0]
	hw, ohw := win.h*win.w, win.oh*win.ow
	signed := x.DType == onnx.Int8
	if win.kh == 2 && win.kw == 2 && win.sh == 2 && win.sw == 2 && win.dh == 1 && win.dw == 1 &&
		win.pt == 0 && win.pl == 0 && win.h == 2*win.oh && win.w%2 == 0 {
		// Every pair of input rows of every plane makes an output row: one loop over all of them.
		rows := n * c * win.oh
		w, ow := win.w, win.ow
		body := func(_, lo, hi int) {
			xs, os := x.Data[2*lo*w:2*hi*w], out.Data[lo*ow:hi*ow]
			j := 0
			for o := 0; o < len(os); j += w {
				for end := o + ow; o < end; o, j = o+1, j+2 {
					// int32 maxima compile to conditional moves: the data would mispredict branches.
					a, b := int32(xs[j]), int32(xs[j+1])
					c, d := int32(xs[j+w]), int32(xs[j+w+1])
					if signed {
						a, b, c, d = int32(int8(a)), int32(int8(b)), int32(int8(c)), int32(int8(d))
					}
					os[o] = byte(max(max(a, b), max(c, d)))
				}
			}
		}
		b.run = func(e *exec) { e.parallel(rows, body) }
		return nil
	}
	body := func(_, lo, hi int) {
		for p := lo; p < hi; p++ {
			src, dst := x.Data[p*hw:(p+1)*hw], out.Data[p*ohw:(p+1)*ohw]
			if signed {
				maxPool8(View[int8](&Tensor{Data: dst}), View[int8](&Tensor{Data: src}), win)
			} else {
				maxPool8(dst, src, win)
			}
		}
	}
	b.run = func(e *exec) { e.parallel(n*c, body) }
	return nil
}

func maxPool8[T int8 | uint8](dst, src []T, w window) {
	if w.kh == 2 && w.kw == 2 && w.sh == 2 && w.sw == 2 && w.dh == 1 && w.dw == 1 &&
		w.pt == 0 && w.pl == 0 && 2*w.oh <= w.h && 2*w.ow <= w.w {
		for oy := range w.oh {
			r0 := src[2*oy*w.w:][:2*w.ow]
			r1 := src[(2*oy+1)*w.w:][:2*w.ow]
			out := dst[oy*w.ow:][:w.ow]
			for ox := range out {
				out[ox] = max(r0[2*ox], r0[2*ox+1], r1[2*ox], r1[2*ox+1])
			}
		}
		return
	}
	for oy := range w.oh {
		y0 := oy*w.sh - w.pt
		kyLo, kyHi := windowRange(y0, w.kh, w.dh, w.h)
		for ox := range w.ow {
			x0 := ox*w.sw - w.pl
			kxLo, kxHi := windowRange(x0, w.kw, w.dw, w.w)
			m, any := src[0], false
			for ky := kyLo; ky < kyHi; ky++ {
				base := (y0+ky*w.dh)*w.w + x0
				for kx := kxLo; kx < kxHi; kx++ {
					if v := src[base+kx*w.dw]; !any || v > m {
						m, any = v, true
					}
				}
			}
			dst[oy*w.ow+ox] = m
		}
	}
}
