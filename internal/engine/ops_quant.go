package engine

import (
	"math"
	"slices"

	"github.com/tinymlaas/tinyml/internal/onnx"
)

// Quantization operators: QuantizeLinear and DequantizeLinear (per tensor, per axis, blocked),
// DynamicQuantizeLinear, and reference implementations of the integer operators QLinearConv,
// QLinearMatMul, MatMulInteger and ConvInteger.
//
// These are written to be obviously right rather than fast: they are the oracle that fused
// integer kernels (and the planner's QDQ-pattern fusion) are tested against. Rounding is ONNX's:
// round half to even, then saturate to the integer type's range.

func init() {
	register("QuantizeLinear", 10, buildQuantize)
	register("DequantizeLinear", 10, buildDequantize)
	register("DynamicQuantizeLinear", 11, buildDynamicQuantize)
	register("QLinearMatMul", 10, buildQLinearMatMul)
	register("MatMulInteger", 10, buildMatMulInteger)
	register("QLinearConv", 10, buildQLinearConv)
	register("ConvInteger", 10, buildConvInteger)
}

// qrange is the integer range of a quantized element type.
func qrange(dt onnx.DType) (lo, hi int32, ok bool) {
	switch dt {
	case onnx.Uint8:
		return 0, math.MaxUint8, true
	case onnx.Int8:
		return math.MinInt8, math.MaxInt8, true
	case onnx.Uint16:
		return 0, math.MaxUint16, true
	case onnx.Int16:
		return math.MinInt16, math.MaxInt16, true
	}
	return 0, 0, false
}

// roundHalfEven32 rounds v (already clamped to ±2^22) to the nearest integer, ties to even: adding
// and subtracting 1.5·2^23 leaves no fraction bits, and IEEE addition rounds ties to even.
func roundHalfEven32(v float32) float32 {
	const magic = 12582912 // 1.5 * 2^23
	return (v + magic) - magic
}

// qlayout says which scale (and zero point) each element of a quantized tensor uses: one for the
// tensor, one per index along an axis, or one per block of blockSize indices along the axis.
type qlayout struct {
	outer, dim, inner int // the tensor as [outer, dim, inner] around the axis
	perAxis           bool
	block             int // > 0: blocked
	nblocks           int
}

// runs calls f for each run of contiguous elements [lo, hi): element j uses parameter
// p + (j-lo)*step.
func (l qlayout) runs(f func(lo, hi, p, step int)) {
	switch {
	case l.block > 0:
		for o := range l.outer {
			for d := range l.dim {
				lo := (o*l.dim + d) * l.inner
				f(lo, lo+l.inner, (o*l.nblocks+d/l.block)*l.inner, 1)
			}
		}
	case l.perAxis:
		for o := range l.outer {
			for d := range l.dim {
				lo := (o*l.dim + d) * l.inner
				f(lo, lo+l.inner, d, 0)
			}
		}
	default:
		f(0, l.outer*l.dim*l.inner, 0, 0)
	}
}

// quantLayout checks a scale (and zero point) against x for the op's opset and attributes.
func (b *build) quantLayout(x, scale, zp *Tensor) (qlayout, error) {
	if zp != nil && !sameShape(zp.Shape, scale.Shape) {
		return qlayout{}, b.errorf("zero point %v and scale %v must have the same shape", zp.Shape, scale.Shape)
	}
	n := x.Len()
	block := int(b.attrInt("block_size", 0))
	if block < 0 {
		return qlayout{}, b.errorf("block_size %d must not be negative", block)
	}
	if block > 0 && b.opset < 21 {
		return qlayout{}, b.errorf("block_size needs opset 21 (the model imports %d)", b.opset)
	}
	if block == 0 && (len(scale.Shape) == 0 || (scale.Len() == 1 && len(scale.Shape) == 1 && len(x.Shape) <= 1)) {
		return qlayout{outer: 1, dim: 1, inner: n}, nil
	}
	if b.opset < 13 {
		return qlayout{}, b.errorf("a non-scalar scale %v needs opset 13 (the model imports %d)", scale.Shape, b.opset)
	}
	axis, err := b.normAxis(b.attrInt("axis", 1), len(x.Shape))
	if err != nil {
		return qlayout{}, err
	}
	l := qlayout{outer: numel(x.Shape[:axis]), dim: x.Shape[axis], inner: numel(x.Shape[axis+1:])}
	if block == 0 {
		if len(scale.Shape) != 1 || scale.Shape[0] != l.dim {
			return qlayout{}, b.errorf("per-axis scale %v must be 1-D with %d values (axis %d of %v)", scale.Shape, l.dim, axis, x.Shape)
		}
		l.perAxis = true
		return l, nil
	}
	want := slices.Clone(x.Shape)
	want[axis] = (want[axis] + block - 1) / block
	if !sameShape(scale.Shape, want) {
		return qlayout{}, b.errorf("blocked scale %v must have shape %v (block_size %d along axis %d of %v)", scale.Shape, want, block, axis, x.Shape)
	}
	l.block, l.nblocks = block, want[axis]
	return l, nil
}

// scaleAt reads a scale element as float32 (scales are float32, or float16/bfloat16 from opset 19).
func scaleAt(t *Tensor, i int) float32 {
	if t.DType == onnx.Float {
		return F32(t)[i]
	}
	return float32(loadF64(t, i))
}

func zeroPointAt(t *Tensor, i int) int32 {
	if t == nil {
		return 0
	}
	return int32(loadI64(t, i))
}

func isScaleType(dt onnx.DType, opset int64) bool {
	return dt == onnx.Float || (opset >= 19 && (dt == onnx.Float16 || dt == onnx.BFloat16))
}

func buildQuantize(b *build) error {
	x, err := b.input(0)
	if err != nil {
		return err
	}
	scale, err := b.input(1)
	if err != nil {
		return err
	}
	zp := b.optional(2)
	switch {
	case x.DType == onnx.Float || x.DType == onnx.Int32:
	case b.opset >= 19 && (x.DType == onnx.Float16 || x.DType == onnx.BFloat16):
	default:
		return b.unsupported("input of type %s", x.DType)
	}
	if !isScaleType(scale.DType, b.opset) {
		return b.unsupported("scale of type %s", scale.DType)
	}
	to := onnx.Uint8
	switch {
	case zp != nil:
		to = zp.DType
	case b.opset >= 21 && b.attrInt("output_dtype", 0) != 0:
		to = onnx.DType(b.attrInt("output_dtype", 0))
	}
	qmin, qmax, ok := qrange(to)
	if !ok || ((to == onnx.Int16 || to == onnx.Uint16) && b.opset < 21) {
		return b.unsupported("quantizing to %s", to)
	}
	if zp != nil && zp.DType != to {
		return b.errorf("zero point is %s but output_dtype is %s", zp.DType, to)
	}
	l, err := b.quantLayout(x, scale, zp)
	if err != nil {
		return err
	}
	b.setOut(0, to, slices.Clone(x.Shape))
	out := b.out[0]
	b.run = func(*exec) {
		var xs []float32
		if x.DType == onnx.Float {
			xs = F32(x)
		}
		l.runs(func(lo, hi, p, step int) {
			for j := lo; j < hi; j++ {
				pi := p + (j-lo)*step
				s, z := scaleAt(scale, pi), zeroPointAt(zp, pi)
				var v float32
				if xs != nil {
					v = xs[j]
				} else {
					v = float32(loadF64(x, j))
				}
				storeI64(out, j, int64(quantizeOne(v, s, z, qmin, qmax)))
			}
		})
	}
	if x.DType == onnx.Float && l.block == 0 {
		// The common case (activations, weights): a typed loop per run.
		row := func(lo, hi, p int) {
			xs := F32(x)
			s, z := scaleAt(scale, p), zeroPointAt(zp, p)
			switch to {
			case onnx.Uint8:
				quantizeRow(out.Data[lo:hi], xs[lo:hi], s, z, qmin, qmax)
			case onnx.Int8:
				quantizeRow(View[int8](out)[lo:hi], xs[lo:hi], s, z, qmin, qmax)
			case onnx.Int16:
				quantizeRow(View[int16](out)[lo:hi], xs[lo:hi], s, z, qmin, qmax)
			case onnx.Uint16:
				quantizeRow(View[uint16](out)[lo:hi], xs[lo:hi], s, z, qmin, qmax)
			}
		}
		b.run = b.runRows(l, row)
	}
	return nil
}

// quantChunk is how many elements one worker takes when a per-tensor (de)quantization is split
// between threads.
const quantChunk = 1 << 14

// runRows returns the run function of a (de)quantization computed run by run: per tensor, the
// tensor is split in chunks between the plan's threads.
func (b *build) runRows(l qlayout, row func(lo, hi, p int)) func(*exec) {
	if !l.perAxis && l.block == 0 {
		n := l.outer * l.dim * l.inner
		parts := (n + quantChunk - 1) / quantChunk
		body := func(_, lo, hi int) { row(lo*quantChunk, min(hi*quantChunk, n), 0) }
		return func(e *exec) { e.parallel(parts, body) }
	}
	runs := func(lo, hi, p, _ int) { row(lo, hi, p) }
	return func(*exec) { l.runs(runs) }
}

// quantizeOne is ONNX's saturate(round_half_even(v / s) + z).
// Clamping to [qmin−z, qmax−z] before rounding gives the same result as saturating after it
// (the bounds are integers), and keeps the rounding trick in range. NaN has no defined result;
// it gives the zero point.
func quantizeOne(v, s float32, z, qmin, qmax int32) int32 {
	q := min(max(v/s, float32(qmin-z)), float32(qmax-z))
	if q != q {
		q = 0
	}
	return int32(roundHalfEven32(q)) + z
}

// quantizeRow is quantizeOne over a row. min and max compile to branch-free instructions: the
// signs of activations are as good as random, and mispredicted branches cost 4× the arithmetic.
func quantizeRow[Q int8 | uint8 | int16 | uint16](dst []Q, src []float32, s float32, z, qmin, qmax int32) {
	lo, hi := float32(qmin-z), float32(qmax-z)
	dst = dst[:len(src)]
	for i, v := range src {
		q := min(max(v/s, lo), hi)
		if q != q {
			q = 0
		}
		dst[i] = Q(int32(roundHalfEven32(q)) + z)
	}
}

func buildDequantize(b *build) error {
	x, err := b.input(0)
	if err != nil {
		return err
	}
	scale, err := b.input(1)
	if err != nil {
		return err
	}
	zp := b.optional(2)
	switch x.DType {
	case onnx.Uint8, onnx.Int8, onnx.Int32:
	case onnx.Uint16, onnx.Int16:
		if b.opset < 21 {
			return b.unsupported("input of type %s before opset 21", x.DType)
		}
	default:
		return b.unsupported("input of type %s", x.DType)
	}
	if !isScaleType(scale.DType, b.opset) {
		return b.unsupported("scale of type %s", scale.DType)
	}
	if zp != nil && zp.DType != x.DType {
		return b.errorf("zero point is %s but the input is %s", zp.DType, x.DType)
	}
	l, err := b.quantLayout(x, scale, zp)
	if err != nil {
		return err
	}
	b.setOut(0, scale.DType, slices.Clone(x.Shape))
	out := b.out[0]
	b.run = func(*exec) {
		var ys []float32
		if out.DType == onnx.Float {
			ys = F32(out)
		}
		l.runs(func(lo, hi, p, step int) {
			for j := lo; j < hi; j++ {
				pi := p + (j-lo)*step
				v := (float32(loadI64(x, j)) - float32(zeroPointAt(zp, pi))) * scaleAt(scale, pi)
				if ys != nil {
					ys[j] = v
				} else {
					storeF64(out, j, float64(v))
				}
			}
		})
	}
	if out.DType == onnx.Float && l.block == 0 && (x.DType == onnx.Uint8 || x.DType == onnx.Int8) {
		// The common case: 8-bit weights and activations to float32, a typed loop per run.
		row := func(lo, hi, p int) {
			ys := F32(out)
			s, z := scaleAt(scale, p), float32(zeroPointAt(zp, p))
			if x.DType == onnx.Uint8 {
				dequantizeRow(ys[lo:hi], x.Data[lo:hi], s, z)
			} else {
				dequantizeRow(ys[lo:hi], View[int8](x)[lo:hi], s, z)
			}
		}
		b.run = b.runRows(l, row)
	}
	return nil
}

func dequantizeRow[Q int8 | uint8](dst []float32, src []Q, s, z float32) {
	for i, q := range src {
		dst[i] = (float32(q) - z) * s
	}
}

// buildDynamicQuantize: y_scale = (max(0, max x) − min(0, min x)) / 255, y_zero_point =
// saturate(round(−min/scale)), y = saturate(round(x/scale) + zero point), all uint8.
func buildDynamicQuantize(b *build) error {
	x, err := b.input(0)
	if err != nil {
		return err
	}
	if x.DType != onnx.Float {
		return b.unsupported("input of type %s", x.DType)
	}
	b.setOut(0, onnx.Uint8, slices.Clone(x.Shape))
	b.setOut(1, onnx.Float, []int{})
	b.setOut(2, onnx.Uint8, []int{})
	y, ys, yz := b.out[0], b.out[1], b.out[2]
	b.run = func(*exec) {
		xs := F32(x)
		lo, hi := float32(0), float32(0)
		for _, v := range xs {
			lo, hi = min(lo, v), max(hi, v)
		}
		scale := (hi - lo) / 255
		var z int32
		if scale != 0 {
			z = quantizeOne(-lo, scale, 0, 0, 255)
		}
		if ys != nil {
			F32(ys)[0] = scale
		}
		if yz != nil {
			yz.Data[0] = uint8(z)
		}
		if y == nil {
			return
		}
		if scale == 0 {
			clear(y.Data)
			return
		}
		quantizeRow(y.Data, xs, scale, z, 0, 255)
	}
	return nil
}

// intMatrix reads an 8-bit integer operand as int32 with its zero point subtracted; zp has one
// value, or one per row (per = rows) or per column (per = cols) of the trailing matrix.
func intOperand(dst []int32, t *Tensor, zp *Tensor, rows, cols int, perRow bool) {
	src := t.Data
	signed := t.DType == onnx.Int8
	for i := range dst {
		var v int32
		if signed {
			v = int32(int8(src[i]))
		} else {
			v = int32(src[i])
		}
		if zp != nil {
			k := 0
			if zp.Len() > 1 {
				if perRow {
					k = (i / cols) % rows
				} else {
					k = i % cols
				}
			}
			v -= zeroPointAt(zp, k)
		}
		dst[i] = v
	}
}

// matmulShapes is MatMul's numpy semantics for operand shapes a and b: the output shape, the
// matrix sizes, and per output batch index the matrix index of each operand.
func (b *build) matmulShapes(as, bs []int) (shape []int, m, k, n int, offA, offB []int, err error) {
	if len(as) == 0 || len(bs) == 0 {
		return nil, 0, 0, 0, nil, nil, b.errorf("product of a scalar (%v, %v)", as, bs)
	}
	aVec, bVec := len(as) == 1, len(bs) == 1
	if aVec {
		as = []int{1, as[0]}
	}
	if bVec {
		bs = []int{bs[0], 1}
	}
	m, k = as[len(as)-2], as[len(as)-1]
	kb := bs[len(bs)-2]
	n = bs[len(bs)-1]
	if k != kb {
		return nil, 0, 0, 0, nil, nil, b.errorf("A %v and B %v do not multiply", as, bs)
	}
	batch, ok := broadcastShape(as[:len(as)-2], bs[:len(bs)-2])
	if !ok {
		return nil, 0, 0, 0, nil, nil, b.errorf("batch dimensions of %v and %v do not broadcast", as, bs)
	}
	shape = slices.Clone(batch)
	if !aVec {
		shape = append(shape, m)
	}
	if !bVec {
		shape = append(shape, n)
	}
	return shape, m, k, n, batchOffsets(batch, as[:len(as)-2]), batchOffsets(batch, bs[:len(bs)-2]), nil
}

// intMatMul accumulates (A − a_zp)·(B − b_zp) over broadcast batches into acc.
func intMatMul(acc, a, bm []int32, m, k, n int, offA, offB []int) {
	for bi := range offA {
		am := a[offA[bi]*m*k:]
		bmat := bm[offB[bi]*k*n:]
		out := acc[bi*m*n : (bi+1)*m*n]
		clear(out)
		for i := range m {
			row := out[i*n : (i+1)*n]
			for p := range k {
				av := am[i*k+p]
				if av == 0 {
					continue
				}
				brow := bmat[p*n : (p+1)*n]
				for j := range n {
					row[j] += av * brow[j]
				}
			}
		}
	}
}

func is8bit(dt onnx.DType) bool { return dt == onnx.Uint8 || dt == onnx.Int8 }

// checkZeroPoint: a zero point must have the operand's type and one value or want values.
func (b *build) checkZeroPoint(zp *Tensor, of onnx.DType, want int, what string) error {
	if zp == nil {
		return nil
	}
	if zp.DType != of {
		return b.errorf("%s zero point is %s; the operand is %s", what, zp.DType, of)
	}
	if zp.Len() != 1 && zp.Len() != want {
		return b.errorf("%s zero point has %d values; it takes 1 or %d", what, zp.Len(), want)
	}
	return nil
}

func buildMatMulInteger(b *build) error {
	a, err := b.input(0)
	if err != nil {
		return err
	}
	bt, err := b.input(1)
	if err != nil {
		return err
	}
	if !is8bit(a.DType) || !is8bit(bt.DType) {
		return b.unsupported("MatMulInteger of %s and %s", a.DType, bt.DType)
	}
	shape, m, k, n, offA, offB, err := b.matmulShapes(a.Shape, bt.Shape)
	if err != nil {
		return err
	}
	azp, bzp := b.optional(2), b.optional(3)
	if err := b.checkZeroPoint(azp, a.DType, m, "A"); err != nil {
		return err
	}
	if err := b.checkZeroPoint(bzp, bt.DType, n, "B"); err != nil {
		return err
	}
	b.setOut(0, onnx.Int32, shape)
	out := b.out[0]
	b.macs = int64(len(offA)) * int64(m) * int64(n) * int64(k)
	sa, sb := b.askScratch(a.Len()*4), b.askScratch(bt.Len()*4)
	b.run = func(*exec) {
		ai, bi := i32s(sa.bytes()), i32s(sb.bytes())
		intOperand(ai, a, azp, m, k, true)
		intOperand(bi, bt, bzp, k, n, false)
		intMatMul(View[int32](out), ai, bi, m, k, n, offA, offB)
	}
	return nil
}

func i32s(b []byte) []int32 {
	t := &Tensor{DType: onnx.Int32, Data: b}
	return View[int32](t)
}

// requantize writes saturate(round(acc·mult) + z) for one output element.
func requantize(acc int32, mult float32, z, qmin, qmax int32) int32 {
	v := math.RoundToEven(float64(acc)*float64(mult)) + float64(z)
	return int32(min(max(v, float64(qmin)), float64(qmax)))
}

func buildQLinearMatMul(b *build) error {
	in := make([]*Tensor, 8)
	for i := range in {
		t, err := b.input(i)
		if err != nil {
			return err
		}
		in[i] = t
	}
	a, as, azp, bt, bs, bzp, ys, yzp := in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7]
	if !is8bit(a.DType) || !is8bit(bt.DType) || !is8bit(yzp.DType) {
		return b.unsupported("QLinearMatMul of %s and %s to %s", a.DType, bt.DType, yzp.DType)
	}
	for _, s := range []*Tensor{as, bs, ys} {
		if !isScaleType(s.DType, b.opset) {
			return b.unsupported("scale of type %s", s.DType)
		}
	}
	shape, m, k, n, offA, offB, err := b.matmulShapes(a.Shape, bt.Shape)
	if err != nil {
		return err
	}
	if err := b.checkZeroPoint(azp, a.DType, m, "a"); err != nil {
		return err
	}
	if err := b.checkZeroPoint(bzp, bt.DType, n, "b"); err != nil {
		return err
	}
	if (as.Len() != 1 && as.Len() != m) || (bs.Len() != 1 && bs.Len() != n) || ys.Len() != 1 || yzp.Len() != 1 {
		return b.errorf("scales a %v, b %v, y %v: a takes 1 or %d values, b 1 or %d, y one", as.Shape, bs.Shape, ys.Shape, m, n)
	}
	qmin, qmax, _ := qrange(yzp.DType)
	b.setOut(0, yzp.DType, shape)
	out := b.out[0]
	b.macs = int64(len(offA)) * int64(m) * int64(n) * int64(k)
	sa, sb, sacc := b.askScratch(a.Len()*4), b.askScratch(bt.Len()*4), b.askScratch(numel(shape)*4)
	b.run = func(*exec) {
		ai, bi, acc := i32s(sa.bytes()), i32s(sb.bytes()), i32s(sacc.bytes())
		intOperand(ai, a, azp, m, k, true)
		intOperand(bi, bt, bzp, k, n, false)
		intMatMul(acc, ai, bi, m, k, n, offA, offB)
		y, z := scaleAt(ys, 0), zeroPointAt(yzp, 0)
		for i, v := range acc {
			row, col := (i/n)%m, i%n
			sA, sB := scaleAt(as, 0), scaleAt(bs, 0)
			if as.Len() > 1 {
				sA = scaleAt(as, row)
			}
			if bs.Len() > 1 {
				sB = scaleAt(bs, col)
			}
			storeI64(out, i, int64(requantize(v, sA*sB/y, z, qmin, qmax)))
		}
	}
	return nil
}

// convGeometry checks x and w of an integer convolution like Conv does and returns the window.
func (b *build) convGeometry(x, w *Tensor) (win window, n, c, m, group int, err error) {
	if len(x.Shape) < 3 || len(w.Shape) != len(x.Shape) {
		return win, 0, 0, 0, 0, b.errorf("input %v and weights %v must both be (N, C, spatial...) of the same rank", x.Shape, w.Shape)
	}
	kernel := b.attrInts("kernel_shape", nil)
	if kernel == nil {
		for _, d := range w.Shape[2:] {
			kernel = append(kernel, int64(d))
		}
	}
	if win, err = b.spatial(x.Shape, kernel, false); err != nil {
		return win, 0, 0, 0, 0, err
	}
	n, c, m = x.Shape[0], x.Shape[1], w.Shape[0]
	group = int(b.attrInt("group", 1))
	if group < 1 || c%group != 0 || m%group != 0 || w.Shape[1] != c/group {
		return win, 0, 0, 0, 0, b.errorf("input channels %d, group %d and weights %v do not agree", c, group, w.Shape)
	}
	return win, n, c, m, group, nil
}

// intConv accumulates a grouped 2-D convolution of integer operands (zero points already
// subtracted, so padding contributes nothing) into acc laid out (N, M, OH, OW).
func intConv(acc, x, w []int32, n, c, m, group int, win window) {
	cg, mg := c/group, m/group
	hw, ohw := win.h*win.w, win.oh*win.ow
	k := cg * win.kh * win.kw
	for img := range n {
		for oc := range m {
			g := oc / mg
			ws := w[oc*k : (oc+1)*k]
			dst := acc[(img*m+oc)*ohw : (img*m+oc+1)*ohw]
			for oy := range win.oh {
				for ox := range win.ow {
					var s int32
					for ic := range cg {
						plane := x[(img*c+g*cg+ic)*hw : (img*c+g*cg+ic+1)*hw]
						for ky := range win.kh {
							y := oy*win.sh - win.pt + ky*win.dh
							if y < 0 || y >= win.h {
								continue
							}
							for kx := range win.kw {
								xx := ox*win.sw - win.pl + kx*win.dw
								if xx < 0 || xx >= win.w {
									continue
								}
								s += plane[y*win.w+xx] * ws[(ic*win.kh+ky)*win.kw+kx]
							}
						}
					}
					dst[oy*win.ow+ox] = s
				}
			}
		}
	}
}

func buildConvInteger(b *build) error {
	x, err := b.input(0)
	if err != nil {
		return err
	}
	w, err := b.input(1)
	if err != nil {
		return err
	}
	if !is8bit(x.DType) || !is8bit(w.DType) {
		return b.unsupported("ConvInteger of %s and %s", x.DType, w.DType)
	}
	win, n, c, m, group, err := b.convGeometry(x, w)
	if err != nil {
		return err
	}
	xzp, wzp := b.optional(2), b.optional(3)
	if err := b.checkZeroPoint(xzp, x.DType, 1, "x"); err != nil {
		return err
	}
	if err := b.checkZeroPoint(wzp, w.DType, m, "w"); err != nil {
		return err
	}
	b.setOut(0, onnx.Int32, win.outShape(n, m, len(x.Shape)))
	out := b.out[0]
	k := w.Len() / max(m, 1)
	b.macs = int64(out.Len()) * int64(k)
	sx, sw := b.askScratch(x.Len()*4), b.askScratch(w.Len()*4)
	b.run = func(*exec) {
		xi, wi := i32s(sx.bytes()), i32s(sw.bytes())
		intOperand(xi, x, xzp, 1, x.Len(), true)
		intOperand(wi, w, wzp, m, k, true)
		intConv(View[int32](out), xi, wi, n, c, m, group, win)
	}
	return nil
}

func buildQLinearConv(b *build) error {
	in := make([]*Tensor, 8)
	for i := range in {
		t, err := b.input(i)
		if err != nil {
			return err
		}
		in[i] = t
	}
	x, xs, xzp, w, ws, wzp, ys, yzp := in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7]
	bias := b.optional(8)
	if !is8bit(x.DType) || !is8bit(w.DType) || !is8bit(yzp.DType) {
		return b.unsupported("QLinearConv of %s and %s to %s", x.DType, w.DType, yzp.DType)
	}
	for _, s := range []*Tensor{xs, ws, ys} {
		if !isScaleType(s.DType, b.opset) {
			return b.unsupported("scale of type %s", s.DType)
		}
	}
	win, n, c, m, group, err := b.convGeometry(x, w)
	if err != nil {
		return err
	}
	if err := b.checkZeroPoint(xzp, x.DType, 1, "x"); err != nil {
		return err
	}
	if err := b.checkZeroPoint(wzp, w.DType, m, "w"); err != nil {
		return err
	}
	if xs.Len() != 1 || ys.Len() != 1 || yzp.Len() != 1 || (ws.Len() != 1 && ws.Len() != m) {
		return b.errorf("x, y scales and zero points take one value, w's scale 1 or %d", m)
	}
	if bias != nil && (bias.DType != onnx.Int32 || bias.Len() != m) {
		return b.errorf("bias must be int32 with %d values, not %s%v", m, bias.DType, bias.Shape)
	}
	qmin, qmax, _ := qrange(yzp.DType)
	b.setOut(0, yzp.DType, win.outShape(n, m, len(x.Shape)))
	out := b.out[0]
	k := w.Len() / max(m, 1)
	ohw := win.oh * win.ow
	b.macs = int64(out.Len()) * int64(k)
	sx, sw, sacc := b.askScratch(x.Len()*4), b.askScratch(w.Len()*4), b.askScratch(out.Len()*4)
	b.run = func(*exec) {
		xi, wi, acc := i32s(sx.bytes()), i32s(sw.bytes()), i32s(sacc.bytes())
		intOperand(xi, x, xzp, 1, x.Len(), true)
		intOperand(wi, w, wzp, m, k, true)
		intConv(acc, xi, wi, n, c, m, group, win)
		sX, sY, z := scaleAt(xs, 0), scaleAt(ys, 0), zeroPointAt(yzp, 0)
		for i, v := range acc {
			oc := (i / max(ohw, 1)) % m
			sW := scaleAt(ws, 0)
			if ws.Len() > 1 {
				sW = scaleAt(ws, oc)
			}
			if bias != nil {
				v += View[int32](bias)[oc]
			}
			storeI64(out, i, int64(requantize(v, sX*sW/sY, z, qmin, qmax)))
		}
	}
	return nil
}
