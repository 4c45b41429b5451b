package engine

import (
	"math"
	"slices"

	"github.com/tinymlaas/tinyml/internal/kernels"
	"github.com/tinymlaas/tinyml/internal/onnx"
)

// Neural-network operators: convolution, matrix products, pooling, normalisation, softmax, pad.

func init() {
	register("Conv", 1, buildConv)
	register("Gemm", 1, buildGemm) // before opset 7: C broadcast only when asked; numpy-style covers it
	register("MatMul", 1, buildMatMul)
	register("MaxPool", 1, buildPool)
	register("AveragePool", 1, buildPool)
	register("GlobalAveragePool", 1, buildGlobalPool)
	register("GlobalMaxPool", 1, buildGlobalPool)
	register("BatchNormalization", 1, buildBatchNorm)
	register("Softmax", 1, buildSoftmax)
	register("LogSoftmax", 1, buildSoftmax)
	register("Pad", 2, buildPad)
}

// window is the geometry of a 2-D sliding window (1-D ops use h = 1).
type window struct {
	h, w, kh, kw, sh, sw, dh, dw int
	pt, pl, pb, pr               int
	oh, ow                       int
}

// spatial reads kernel, strides, dilations, pads and auto_pad for a 1-D or 2-D window over in
// (N, C, spatial...), computing output sizes; ceil selects ceil_mode rounding.
func (b *build) spatial(in []int, kernel []int64, ceil bool) (window, error) {
	var w window
	sp := in[2:]
	if len(sp) != 1 && len(sp) != 2 {
		return w, b.unsupported("%d spatial dimensions (1 or 2 are)", len(sp))
	}
	if len(kernel) != len(sp) {
		return w, b.errorf("kernel %v does not match input %v", kernel, in)
	}
	get := func(name string, n int, def int64) ([]int, error) {
		v := b.attrInts(name, nil)
		if v == nil {
			v = slices.Repeat([]int64{def}, n)
		}
		if len(v) != n {
			return nil, b.errorf("attribute %s %v needs %d values", name, v, n)
		}
		out := make([]int, n)
		for i, x := range v {
			if x < 0 || (x == 0 && name != "pads") {
				return nil, b.errorf("attribute %s %v must be positive", name, v)
			}
			out[i] = int(x)
		}
		return out, nil
	}
	strides, err := get("strides", len(sp), 1)
	if err != nil {
		return w, err
	}
	dil, err := get("dilations", len(sp), 1)
	if err != nil {
		return w, err
	}
	pads, err := get("pads", 2*len(sp), 0)
	if err != nil {
		return w, err
	}
	if len(sp) == 1 { // 1-D as a 2-D window of height 1
		sp = []int{1, sp[0]}
		kernel = []int64{1, kernel[0]}
		strides, dil = []int{1, strides[0]}, []int{1, dil[0]}
		pads = []int{0, pads[0], 0, pads[1]}
	}
	w = window{h: sp[0], w: sp[1], kh: int(kernel[0]), kw: int(kernel[1]), sh: strides[0], sw: strides[1],
		dh: dil[0], dw: dil[1], pt: pads[0], pl: pads[1], pb: pads[2], pr: pads[3]}
	if w.kh < 1 || w.kw < 1 {
		return w, b.errorf("kernel %v must be positive", kernel)
	}
	extH, extW := (w.kh-1)*w.dh+1, (w.kw-1)*w.dw+1
	switch ap := b.attrString("auto_pad", "NOTSET"); ap {
	case "NOTSET":
		w.oh = outSize(w.h+w.pt+w.pb, extH, w.sh, ceil)
		w.ow = outSize(w.w+w.pl+w.pr, extW, w.sw, ceil)
		if ceil { // the last window must start inside the input or its left padding
			if (w.oh-1)*w.sh >= w.h+w.pt {
				w.oh--
			}
			if (w.ow-1)*w.sw >= w.w+w.pl {
				w.ow--
			}
		}
	case "VALID":
		w.pt, w.pl, w.pb, w.pr = 0, 0, 0, 0
		w.oh, w.ow = outSize(w.h, extH, w.sh, false), outSize(w.w, extW, w.sw, false)
	case "SAME_UPPER", "SAME_LOWER":
		w.oh, w.ow = (w.h+w.sh-1)/w.sh, (w.w+w.sw-1)/w.sw
		padH := max(0, (w.oh-1)*w.sh+extH-w.h)
		padW := max(0, (w.ow-1)*w.sw+extW-w.w)
		if ap == "SAME_UPPER" {
			w.pt, w.pl = padH/2, padW/2
		} else {
			w.pt, w.pl = padH-padH/2, padW-padW/2
		}
		w.pb, w.pr = padH-w.pt, padW-w.pl
	default:
		return w, b.errorf("unknown auto_pad %q", ap)
	}
	if w.oh < 1 || w.ow < 1 {
		return w, b.errorf("the window (kernel %v) is larger than the padded input %v", kernel, in[2:])
	}
	return w, nil
}

func outSize(padded, ext, stride int, ceil bool) int {
	if padded < ext {
		return 0
	}
	if ceil {
		return (padded-ext+stride-1)/stride + 1
	}
	return (padded-ext)/stride + 1
}

func (w window) outShape(n, c int, rank int) []int {
	if rank == 3 {
		return []int{n, c, w.ow}
	}
	return []int{n, c, w.oh, w.ow}
}

func buildConv(b *build) error {
	if err := b.need(onnx.Float); err != nil {
		return err
	}
	x, err := b.input(0)
	if err != nil {
		return err
	}
	wt, err := b.input(1)
	if err != nil {
		return err
	}
	if len(x.Shape) < 3 || len(wt.Shape) != len(x.Shape) {
		return b.errorf("input %v and weights %v must both be (N, C, spatial...) of the same rank", x.Shape, wt.Shape)
	}
	kernel := b.attrInts("kernel_shape", nil)
	if kernel == nil {
		for _, d := range wt.Shape[2:] {
			kernel = append(kernel, int64(d))
		}
	}
	if len(x.Shape) > 4 {
		return buildConvND(b, x, wt, kernel)
	}
	win, err := b.spatial(x.Shape, kernel, false)
	if err != nil {
		return err
	}
	n, c := x.Shape[0], x.Shape[1]
	m, cg := wt.Shape[0], wt.Shape[1]
	group := int(b.attrInt("group", 1))
	if group < 1 || c%group != 0 || m%group != 0 || cg != c/group {
		return b.errorf("input channels %d, group %d and weights %v do not agree", c, group, wt.Shape)
	}
	bias := b.optional(2)
	if bias != nil && bias.Len() != m {
		return b.errorf("bias has %d values for %d output channels", bias.Len(), m)
	}
	b.setOut(0, onnx.Float, win.outShape(n, m, len(x.Shape)))
	out := b.out[0]
	mg := m / group
	k := cg * win.kh * win.kw
	hw, ohw := win.h*win.w, win.oh*win.ow
	b.macs = int64(n) * int64(m) * int64(ohw) * int64(k)
	act := b.node.act

	if len(x.Shape) == 4 {
		cs := convShape{x: x, wt: wt, bias: bias, out: out, win: win, n: n, c: c, m: m, group: group}
		if cg == 1 && group > 1 && buildDepthwiseShift(b, cs) {
			return nil
		}
		if buildConvWinograd(b, cs) {
			return nil
		}
		if (cg > 1 || group == 1) && buildConvShift(b, cs) {
			return nil
		}
	}

	if cg == 1 { // depthwise: each output channel reads one input channel
		mult := m / c
		body := func(_, lo, hi int) {
			xs, ws, ys := F32(x), F32(wt), F32(out)
			for i := lo; i < hi; i++ {
				img, oc := i/m, i%m
				ic := oc / mult
				var bv float32
				if bias != nil {
					bv = F32(bias)[oc]
				}
				kernels.DepthwiseConv2D(ys[i*ohw:(i+1)*ohw], xs[(img*c+ic)*hw:(img*c+ic+1)*hw], win.h, win.w,
					ws[oc*k:(oc+1)*k], win.kh, win.kw, win.pt, win.pl, win.sh, win.sw, win.dh, win.dw, win.oh, win.ow, bv, act)
			}
		}
		b.run = func(e *exec) { e.parallel(n*m, body) }
		return nil
	}

	// The column matrix (im2col) of each (image, group) is built and consumed in blocks of
	// output positions small enough to stay in cache: writing it whole would stream it through
	// memory for the GEMM to read back.
	block := max(kernels.NR, convBlockFloats/max(k, 1)/kernels.NR*kernels.NR)
	block = min(block, (ohw+kernels.NR-1)/kernels.NR*kernels.NR)
	nblocks := (ohw + block - 1) / block
	perWorker := kernels.PackedBLen(k, block)
	jobs := n * group
	tasks := jobs * nblocks
	workers := min(b.threads, tasks)
	sc := b.askScratch(perWorker * workers * 4)
	body := func(worker, lo, hi int) {
		col := sc.f32()[worker*perWorker : (worker+1)*perWorker]
		xs, ws, ys := F32(x), F32(wt), F32(out)
		for t := lo; t < hi; t++ {
			job, blk := t/nblocks, t%nblocks
			img, g := job/group, job%group
			j0 := blk * block
			j1 := min(j0+block, ohw)
			src := xs[(img*c+g*cg)*hw : (img*c+(g+1)*cg)*hw]
			pb := kernels.Im2colPackedCols(col, src, cg, win.h, win.w, win.kh, win.kw, win.pt, win.pl, win.sh, win.sw, win.dh, win.dw, win.oh, win.ow, j0, j1)
			ep := kernels.Epilogue{Act: act}
			if bias != nil {
				ep.RowBias = F32(bias)[g*mg : (g+1)*mg]
			}
			kernels.Sgemm(mg, ws[g*mg*k:(g+1)*mg*k], k, pb, ys[(img*m+g*mg)*ohw+j0:], ohw, ep)
		}
	}
	b.run = func(e *exec) { e.parallel(tasks, body) }
	return nil
}

// convBlockFloats is the size of a convolution's column block: 64 KiB, well inside this
// class of core's L2 with the weights and output tile beside it.
const convBlockFloats = 16 << 10

func buildGemm(b *build) error {
	if err := b.need(onnx.Float); err != nil {
		return err
	}
	a, err := b.input(0)
	if err != nil {
		return err
	}
	bt, err := b.input(1)
	if err != nil {
		return err
	}
	if len(a.Shape) != 2 || len(bt.Shape) != 2 {
		return b.errorf("A %v and B %v must be matrices", a.Shape, bt.Shape)
	}
	transA, transB := b.attrInt("transA", 0) != 0, b.attrInt("transB", 0) != 0
	alpha, beta := b.attrFloat("alpha", 1), b.attrFloat("beta", 1)
	m, k := a.Shape[0], a.Shape[1]
	if transA {
		m, k = k, m
	}
	kb, n := bt.Shape[0], bt.Shape[1]
	if transB {
		kb, n = n, kb
	}
	if k != kb {
		return b.errorf("A %v and B %v do not multiply (transA=%v, transB=%v)", a.Shape, bt.Shape, transA, transB)
	}
	b.setOut(0, onnx.Float, []int{m, n})
	out := b.out[0]
	b.macs = int64(m) * int64(n) * int64(k)

	ep := kernels.Epilogue{Alpha: alpha, Act: b.node.act}
	cT := b.optional(2)
	var accumulate func()
	if cT != nil && beta != 0 {
		if _, ok := broadcastShape([]int{m, n}, cT.Shape); !ok || len(cT.Shape) > 2 {
			return b.errorf("C %v does not broadcast to the output [%d %d]", cT.Shape, m, n)
		}
		switch {
		case cT.konst && (cT.Len() == n && (len(cT.Shape) == 1 || cT.Shape[0] == 1)):
			bias := slices.Clone(F32(cT))
			for i := range bias {
				bias[i] *= beta
			}
			ep.ColBias = bias
		default:
			// General C: write beta·C broadcast into the output and accumulate onto it.
			bc := newBcast([]int{m, n}, []int{m, n}, cT.Shape)
			ep.Accumulate = true
			accumulate = func() {
				ys, cs := F32(out), F32(cT)
				bc.rows(func(o, _, co int) {
					row := ys[o : o+bc.inner]
					for i := range row {
						row[i] = beta * cs[co+i*bc.ib]
					}
				})
			}
		}
	}
	var aT region
	if transA {
		aT = b.askScratch(m * k * 4)
	}
	packed, err := b.packedRHS(bt, k, n, transB)
	if err != nil {
		return err
	}
	var pb kernels.PackedB
	rows := func(_, lo, hi int) {
		as := F32(a)
		if transA {
			as = aT.f32()
		}
		kernels.Sgemm(hi-lo, as[lo*k:], max(k, 1), pb, F32(out)[lo*n:], max(n, 1), ep)
	}
	b.run = func(e *exec) {
		if transA {
			transpose2D(aT.f32()[:m*k], F32(a), k, m)
		}
		if accumulate != nil {
			accumulate()
		}
		pb = packed()
		if m >= 4*b.threads {
			e.parallel(m, rows)
		} else {
			rows(0, 0, m)
		}
	}
	return nil
}

// transpose2D writes the transpose of src (r×c) into dst (c×r).
func transpose2D(dst, src []float32, r, c int) {
	for i := range r {
		for j := range c {
			dst[j*r+i] = src[i*c+j]
		}
	}
}

// packedRHS prepares a right-hand matrix (k×n, or n×k when trans) for Sgemm. A constant is packed
// once for all plans; a run-time operand is packed into scratch by each call of the returned
// function (call it once per run, before splitting work between threads).
func (b *build) packedRHS(t *Tensor, k, n int, trans bool) (func() kernels.PackedB, error) {
	ld := n
	if trans {
		ld = k
	}
	ld = max(ld, 1)
	if t.konst {
		v, err := b.node.memoize("packB", func() (any, error) {
			buf := make([]float32, kernels.PackedBLen(k, n))
			return kernels.PackB(buf, k, n, F32(t), ld, trans), nil
		})
		if err != nil {
			return nil, err
		}
		pb := v.(kernels.PackedB)
		return func() kernels.PackedB { return pb }, nil
	}
	sc := b.askScratch(kernels.PackedBLen(k, n) * 4)
	return func() kernels.PackedB { return kernels.PackB(sc.f32(), k, n, F32(t), ld, trans) }, nil
}

func buildMatMul(b *build) error {
	if err := b.need(onnx.Float); err != nil {
		return err
	}
	a, err := b.input(0)
	if err != nil {
		return err
	}
	bt, err := b.input(1)
	if err != nil {
		return err
	}
	as, bs := a.Shape, bt.Shape
	if len(as) == 0 || len(bs) == 0 {
		return b.errorf("MatMul of a scalar (%v, %v)", as, bs)
	}
	// 1-D operands are promoted (a row vector on the left, a column on the right) and the added
	// dimension dropped from the result, as numpy.matmul does.
	aVec, bVec := len(as) == 1, len(bs) == 1
	if aVec {
		as = []int{1, as[0]}
	}
	if bVec {
		bs = []int{bs[0], 1}
	}
	m, k := as[len(as)-2], as[len(as)-1]
	kb, n := bs[len(bs)-2], bs[len(bs)-1]
	if k != kb {
		return b.errorf("A %v and B %v do not multiply", a.Shape, bt.Shape)
	}
	batch, ok := broadcastShape(as[:len(as)-2], bs[:len(bs)-2])
	if !ok {
		return b.errorf("batch dimensions of %v and %v do not broadcast", a.Shape, bt.Shape)
	}
	shape := cloneShape(batch)
	if !aVec {
		shape = append(shape, m)
	}
	if !bVec {
		shape = append(shape, n)
	}
	b.setOut(0, onnx.Float, shape)
	out := b.out[0]
	nb := numel(batch)
	b.macs = int64(nb) * int64(m) * int64(n) * int64(k)
	ep := kernels.Epilogue{Act: b.node.act}

	// B shared by every batch (2-D weights, the Linear-layer case): one GEMM over all rows of A.
	if len(bs) == 2 {
		packed, err := b.packedRHS(bt, k, n, false)
		if err != nil {
			return err
		}
		rowsA := numel(as[:len(as)-1])
		var pb kernels.PackedB
		rows := func(_, lo, hi int) {
			kernels.Sgemm(hi-lo, F32(a)[lo*k:], max(k, 1), pb, F32(out)[lo*n:], max(n, 1), ep)
		}
		b.run = func(e *exec) {
			pb = packed()
			if rowsA >= 4*b.threads {
				e.parallel(rowsA, rows)
			} else {
				rows(0, 0, rowsA)
			}
		}
		return nil
	}
	// General batched product: pack each batch's B at run time.
	sc := b.askScratch(kernels.PackedBLen(k, n) * 4)
	bcA := batchOffsets(batch, as[:len(as)-2])
	bcB := batchOffsets(batch, bs[:len(bs)-2])
	b.run = func(*exec) {
		av, bv, yv := F32(a), F32(bt), F32(out)
		buf := sc.f32()
		for i := range nb {
			pb := kernels.PackB(buf, k, n, bv[bcB[i]*k*n:], max(n, 1), false)
			kernels.Sgemm(m, av[bcA[i]*m*k:], max(k, 1), pb, yv[i*m*n:], max(n, 1), ep)
		}
	}
	return nil
}

// batchOffsets gives, for each index of a broadcast batch shape, the matrix index in an operand
// whose batch shape is op.
func batchOffsets(batch, op []int) []int {
	n := numel(batch)
	out := make([]int, n)
	for i := range n {
		out[i] = bcastOffset(i, batch, op)
	}
	return out
}

func buildPool(b *build) error {
	x, err := b.input(0)
	if err != nil {
		return err
	}
	if len(x.Shape) < 3 {
		return b.errorf("input %v must be (N, C, spatial...)", x.Shape)
	}
	kernel := b.attrInts("kernel_shape", nil)
	if kernel == nil {
		return b.errorf("attribute kernel_shape is required")
	}
	isMax := b.node.op == "MaxPool"
	dilated := slices.ContainsFunc(b.attrInts("dilations", nil), func(d int64) bool { return d != 1 })
	indices := len(b.out) > 1 && b.out[1] != nil
	if x.DType != onnx.Float || len(x.Shape) > 4 || indices || (!isMax && dilated) {
		return buildPoolND(b, x, kernel, isMax)
	}
	win, err := b.spatial(x.Shape, kernel, b.attrInt("ceil_mode", 0) != 0)
	if err != nil {
		return err
	}
	n, c := x.Shape[0], x.Shape[1]
	b.setOut(0, onnx.Float, win.outShape(n, c, len(x.Shape)))
	out := b.out[0]
	includePad := b.attrInt("count_include_pad", 0) != 0
	hw, ohw := win.h*win.w, win.oh*win.ow
	fast := isMax && isMax2x2(win)
	body := func(_, lo, hi int) {
		xs, ys := F32(x), F32(out)
		if fast {
			kernels.MaxPool2x2(ys[lo*ohw:hi*ohw], xs[lo*hw:hi*hw], hi-lo, win.h, win.w, win.oh, win.ow)
			return
		}
		for p := lo; p < hi; p++ {
			pool2D(ys[p*ohw:(p+1)*ohw], xs[p*hw:(p+1)*hw], win, isMax, includePad)
		}
	}
	b.run = func(e *exec) { e.parallel(n*c, body) }
	return nil
}

// isMax2x2 reports whether a max pool is the common 2×2, stride-2, unpadded one (that fits
// its input: no ceil_mode overhang), which kernels.MaxPool2x2 computes.
func isMax2x2(w window) bool {
	return w.kh == 2 && w.kw == 2 && w.sh == 2 && w.sw == 2 && w.dh == 1 && w.dw == 1 &&
		w.pt == 0 && w.pl == 0 && 2*w.oh <= w.h && 2*w.ow <= w.w
}

// pool2D pools one channel.
func pool2D(dst, src []float32, w window, isMax, includePad bool) {
	for oy := range w.oh {
		y0 := oy*w.sh - w.pt
		kyLo, kyHi := windowRange(y0, w.kh, w.dh, w.h)
		for ox := range w.ow {
			x0 := ox*w.sw - w.pl
			kxLo, kxHi := windowRange(x0, w.kw, w.dw, w.w)
			var acc float32
			if isMax {
				acc = float32(math.Inf(-1))
				for ky := kyLo; ky < kyHi; ky++ {
					base := (y0+ky*w.dh)*w.w + x0
					for kx := kxLo; kx < kxHi; kx++ {
						if v := src[base+kx*w.dw]; v > acc || v != v {
							acc = v
						}
					}
				}
				dst[oy*w.ow+ox] = acc
				continue
			}
			for ky := kyLo; ky < kyHi; ky++ {
				base := (y0+ky*w.dh)*w.w + x0
				for kx := kxLo; kx < kxHi; kx++ {
					acc += src[base+kx*w.dw]
				}
			}
			count := (kyHi - kyLo) * (kxHi - kxLo)
			if includePad {
				// Windows are clipped to the padded input, not to its ceil_mode overhang.
				count = (min(y0+w.kh, w.h+w.pb) - y0) * (min(x0+w.kw, w.w+w.pr) - x0)
			}
			if count > 0 {
				acc /= float32(count)
			}
			dst[oy*w.ow+ox] = acc
		}
	}
}

// windowRange is the range of kernel taps k (start + k*dil) that fall inside [0, n).
func windowRange(start, k, dil, n int) (lo, hi int) {
	lo, hi = 0, k
	if start < 0 {
		lo = (-start + dil - 1) / dil
	}
	if last := start + (k-1)*dil; last >= n {
		hi = k - (last-n+dil)/dil
	}
	return lo, max(hi, lo)
}

func buildGlobalPool(b *build) error {
	if err := b.need(onnx.Float); err != nil {
		return err
	}
	x, err := b.input(0)
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
	b.setOut(0, onnx.Float, shape)
	out := b.out[0]
	isMax := b.node.op == "GlobalMaxPool"
	plane := numel(x.Shape[2:])
	b.run = func(*exec) {
		if isMax {
			kernels.MaxRows(F32(out), F32(x), plane)
			return
		}
		kernels.MeanRows(F32(out), F32(x), plane)
	}
	return nil
}

func buildBatchNorm(b *build) error {
	if err := b.need(onnx.Float); err != nil {
		return err
	}
	if b.opset < 7 && b.attrInt("is_test", 0) == 0 {
		return b.unsupported("training-mode BatchNormalization (is_test=0)")
	}
	if b.attrInt("training_mode", 0) != 0 || (len(b.out) > 1 && slices.ContainsFunc(b.out[1:], func(t *Tensor) bool { return t != nil })) {
		return b.unsupported("training-mode BatchNormalization")
	}
	x, err := b.input(0)
	if err != nil {
		return err
	}
	params := make([]*Tensor, 4)
	for i := range params {
		if params[i], err = b.input(i + 1); err != nil {
			return err
		}
	}
	if len(x.Shape) < 2 {
		return b.errorf("input %v needs a channel dimension", x.Shape)
	}
	c := x.Shape[1]
	for i, p := range params {
		if p.Len() != c {
			return b.errorf("parameter %d has %d values for %d channels", i+1, p.Len(), c)
		}
	}
	b.setOut(0, onnx.Float, cloneShape(x.Shape))
	b.mayOverwrite(0, 0)
	out := b.out[0]
	eps := float64(b.attrFloat("epsilon", 1e-5))
	scale, shift := make([]float32, c), make([]float32, c)
	prepare := func() {
		sc, bi, mean, vr := F32(params[0]), F32(params[1]), F32(params[2]), F32(params[3])
		for i := range c {
			s := float32(float64(sc[i]) / math.Sqrt(float64(vr[i])+eps))
			scale[i], shift[i] = s, bi[i]-mean[i]*s
		}
	}
	allConst := true
	for _, p := range params {
		allConst = allConst && p.konst
	}
	if allConst {
		prepare()
	}
	plane := numel(x.Shape[2:])
	n := x.Shape[0]
	b.run = func(*exec) {
		if !allConst {
			prepare()
		}
		xs, ys := F32(x), F32(out)
		for i := range n * c {
			ch := i % c
			s, t := scale[ch], shift[ch]
			src, dst := xs[i*plane:(i+1)*plane], ys[i*plane:(i+1)*plane]
			for j, v := range src {
				dst[j] = v*s + t
			}
		}
	}
	return nil
}

func buildSoftmax(b *build) error {
	if err := b.need(onnx.Float, onnx.Double); err != nil {
		return err
	}
	x, err := b.input(0)
	if err != nil {
		return err
	}
	r := len(x.Shape)
	if r == 0 {
		return b.errorf("softmax of a scalar")
	}
	b.setOut(0, x.DType, cloneShape(x.Shape))
	b.mayOverwrite(0, 0)
	out := b.out[0]
	var outer, axisLen, inner int
	if b.opset < 13 { // coerced to 2-D at axis: softmax over everything after it
		axis := b.attrInt("axis", 1)
		if axis < int64(-r) || axis > int64(r) {
			return b.errorf("axis %d is out of range for rank %d", axis, r)
		}
		if axis < 0 {
			axis += int64(r)
		}
		outer, axisLen, inner = numel(x.Shape[:axis]), numel(x.Shape[axis:]), 1
	} else {
		axis, err := b.normAxis(b.attrInt("axis", -1), r)
		if err != nil {
			return err
		}
		outer, axisLen, inner = numel(x.Shape[:axis]), x.Shape[axis], numel(x.Shape[axis+1:])
	}
	logSoft := b.node.op == "LogSoftmax"
	b.run = func(*exec) {
		for o := range outer {
			for in := range inner {
				base := o*axisLen*inner + in
				mx := math.Inf(-1)
				for j := range axisLen {
					mx = math.Max(mx, loadF64(x, base+j*inner))
				}
				var sum float64
				for j := range axisLen {
					e := math.Exp(loadF64(x, base+j*inner) - mx)
					sum += e
					if !logSoft {
						storeF64(out, base+j*inner, e)
					}
				}
				for j := range axisLen {
					i := base + j*inner
					if logSoft {
						storeF64(out, i, loadF64(x, i)-mx-math.Log(sum))
					} else {
						storeF64(out, i, loadF64(out, i)/sum)
					}
				}
			}
		}
	}
	return nil
}

func buildPad(b *build) error {
	x, err := b.input(0)
	if err != nil {
		return err
	}
	r := len(x.Shape)
	var pads []int64
	value := 0.0
	var valueT *Tensor // the pad value as an input, read when the step runs
	if b.opset < 11 {
		pads = b.attrInts("pads", nil)
		value = float64(b.attrFloat("value", 0))
	} else {
		var ok bool
		if pads, ok, err = b.constInts(1, "pads"); err != nil {
			return err
		} else if !ok {
			return b.errorf("input 1 (pads) is required")
		}
		if v := b.optional(2); v != nil {
			if v.Len() > 1 || v.DType != x.DType {
				return b.errorf("the pad value must be one %s, not %s%v", x.DType, v.DType, v.Shape)
			}
			if v.Len() == 1 {
				valueT = v
			}
		}
	}
	axes := make([]int, 0, r)
	if ax, ok, err := b.constInts(3, "axes"); err != nil {
		return err
	} else if ok {
		for _, a := range ax {
			n, err := b.normAxis(a, r)
			if err != nil {
				return err
			}
			axes = append(axes, n)
		}
	} else {
		for i := range r {
			axes = append(axes, i)
		}
	}
	if len(pads) != 2*len(axes) {
		return b.errorf("pads %v needs %d values", pads, 2*len(axes))
	}
	before, after := make([]int, r), make([]int, r)
	for i, a := range axes {
		before[a], after[a] = int(pads[i]), int(pads[i+len(axes)])
	}
	shape := make([]int, r)
	for i := range r {
		shape[i] = x.Shape[i] + before[i] + after[i]
		if shape[i] < 0 {
			return b.errorf("pads %v remove more than the input %v has", pads, x.Shape)
		}
	}
	mode := b.attrString("mode", "constant")
	if mode != "constant" && mode != "reflect" && mode != "edge" {
		return b.unsupported("pad mode %q", mode)
	}
	if mode != "constant" && x.Len() == 0 {
		return b.errorf("%s padding of an empty tensor", mode)
	}
	b.setOut(0, x.DType, shape)
	out := b.out[0]
	inStrides := stridesOf(x.Shape)
	size := x.DType.Size()
	idx := make([]int, r)
	b.run = func(*exec) {
		value := value
		if valueT != nil {
			value = loadF64(valueT, 0)
		}
		for o := range numel(shape) {
			rem := o
			inside := true
			off := 0
			for d := r - 1; d >= 0; d-- {
				idx[d] = rem%shape[d] - before[d]
				rem /= shape[d]
				i := idx[d]
				n := x.Shape[d]
				if i < 0 || i >= n {
					switch mode {
					case "constant":
						inside = false
					case "edge":
						i = min(max(i, 0), n-1)
					case "reflect":
						for i < 0 || i >= n {
							if n == 1 {
								i = 0
								break
							}
							if i < 0 {
								i = -i
							}
							if i >= n {
								i = 2*(n-1) - i
							}
						}
					}
				}
				off += i * inStrides[d]
			}
			if !inside {
				storeF64(out, o, value)
				continue
			}
			copy(out.Data[o*size:(o+1)*size], x.Data[off*size:(off+1)*size])
		}
	}
	return nil
}
