package engine

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/tinymlaas/tinyml/internal/onnx"
)

// Operators that select, repeat, rearrange or generate tensor elements: Slice, Split, Expand,
// Tile, Range, ConstantOfShape, OneHot, DepthToSpace, SpaceToDepth, Trilu, GatherElements,
// ScatterElements, GatherND, ScatterND, CumSum, TopK, CastLike, EyeLike, NonZero, Compress.

func init() {
	register("Slice", 1, buildSlice)
	register("Split", 1, buildSplit)
	register("Expand", 8, buildExpand)
	register("Tile", 6, buildTile)
	register("Range", 11, buildRange)
	register("ConstantOfShape", 9, buildConstantOfShape)
	register("OneHot", 9, buildOneHot)
	register("DepthToSpace", 1, buildDepthToSpace)
	register("SpaceToDepth", 1, buildSpaceToDepth)
	register("Trilu", 14, buildTrilu)
	register("GatherElements", 11, buildGatherElements)
	register("ScatterElements", 11, buildScatterElements)
	register("Scatter", 9, buildScatterElements) // deprecated alias of ScatterElements (opset 9-10)
	register("GatherND", 11, buildGatherND)
	register("ScatterND", 11, buildScatterND)
	register("CumSum", 11, buildCumSum)
	register("TopK", 1, buildTopK)
	register("CastLike", 15, buildCastLike)
	register("EyeLike", 9, buildEyeLike)
	register("NonZero", 9, buildNonZero)
	register("Compress", 9, buildCompress)
}

// constScalarInt reads a constant integer input holding one value.
func (b *build) constScalarInt(i int, what string) (int64, bool, error) {
	v, ok, err := b.constInts(i, what)
	if err != nil || !ok {
		return 0, ok, err
	}
	if len(v) != 1 {
		return 0, false, b.errorf("%s (input %d) must hold one value, not %d", what, i, len(v))
	}
	return v[0], true, nil
}

// strided copies elements of size bytes into dst (dense in shape) from src starting at element
// base, stepping by strides (in elements, possibly negative) per dimension of shape.
type strided struct {
	shape, strides []int
	base, size     int
	idx            []int
}

func newStrided(shape, strides []int, base, size int) *strided {
	return &strided{shape: shape, strides: strides, base: base, size: size, idx: make([]int, len(shape))}
}

func (s *strided) copy(dst, src []byte) {
	n := numel(s.shape)
	if n == 0 {
		return
	}
	r := len(s.shape)
	if r == 0 {
		copy(dst, src[s.base*s.size:(s.base+1)*s.size])
		return
	}
	clear(s.idx)
	size := s.size
	inner, innerStride := s.shape[r-1], s.strides[r-1]
	off := s.base
	for o := 0; o < n; o += inner {
		if innerStride == 1 {
			copy(dst[o*size:(o+inner)*size], src[off*size:(off+inner)*size])
		} else {
			for k := range inner {
				p := (off + k*innerStride) * size
				copy(dst[(o+k)*size:(o+k+1)*size], src[p:p+size])
			}
		}
		for d := r - 2; d >= 0; d-- {
			s.idx[d]++
			off += s.strides[d]
			if s.idx[d] < s.shape[d] {
				break
			}
			off -= s.idx[d] * s.strides[d]
			s.idx[d] = 0
		}
	}
}

func buildSlice(b *build) error {
	x, err := b.input(0)
	if err != nil {
		return err
	}
	r := len(x.Shape)
	var starts, ends, axes, steps []int64
	if b.opset < 10 {
		starts, ends, axes = b.attrInts("starts", nil), b.attrInts("ends", nil), b.attrInts("axes", nil)
	} else {
		var ok bool
		if starts, ok, err = b.constInts(1, "starts"); err != nil {
			return err
		} else if !ok {
			return b.errorf("input 1 (starts) is required")
		}
		if ends, ok, err = b.constInts(2, "ends"); err != nil {
			return err
		} else if !ok {
			return b.errorf("input 2 (ends) is required")
		}
		if axes, _, err = b.constInts(3, "axes"); err != nil {
			return err
		}
		if steps, _, err = b.constInts(4, "steps"); err != nil {
			return err
		}
	}
	if len(starts) != len(ends) {
		return b.errorf("starts %v and ends %v differ in length", starts, ends)
	}
	if axes == nil {
		for i := range starts {
			axes = append(axes, int64(i))
		}
	}
	if steps == nil {
		steps = slices.Repeat([]int64{1}, len(starts))
	}
	if len(axes) != len(starts) || len(steps) != len(starts) {
		return b.errorf("starts %v, ends %v, axes %v and steps %v must have the same length", starts, ends, axes, steps)
	}
	shape := cloneShape(x.Shape)
	first := make([]int, r)
	step := make([]int, r)
	for i := range step {
		step[i] = 1
	}
	seen := make([]bool, r)
	for i, a := range axes {
		ax, err := b.normAxis(a, r)
		if err != nil {
			return err
		}
		if seen[ax] {
			return b.errorf("axis %d is repeated in axes %v", a, axes)
		}
		seen[ax] = true
		st := steps[i]
		if st == 0 {
			return b.errorf("steps %v has a zero", steps)
		}
		d := int64(x.Shape[ax])
		s, e := starts[i], ends[i]
		if s < 0 {
			s += d
		}
		if e < 0 {
			e += d
		}
		var n int64
		if st > 0 {
			s, e = min(max(s, 0), d), min(max(e, 0), d)
			n = max(0, (e-s+st-1)/st)
		} else {
			s, e = min(max(s, 0), d-1), min(max(e, -1), d-1)
			n = max(0, (s-e-st-1)/(-st))
		}
		shape[ax], first[ax], step[ax] = int(n), int(s), int(st)
	}
	b.setOut(0, x.DType, shape)
	inStrides := stridesOf(x.Shape)
	base := 0
	strides := make([]int, r)
	for i := range r {
		base += first[i] * inStrides[i]
		strides[i] = step[i] * inStrides[i]
	}
	out := b.out[0]
	if numel(shape) == 0 {
		b.run = func(*exec) {}
		return nil
	}
	cp := newStrided(shape, strides, base, x.DType.Size())
	b.run = func(*exec) { cp.copy(out.Data, x.Data) }
	return nil
}

func buildSplit(b *build) error {
	x, err := b.input(0)
	if err != nil {
		return err
	}
	axis, err := b.normAxis(b.attrInt("axis", 0), len(x.Shape))
	if err != nil {
		return err
	}
	dim := x.Shape[axis]
	n := len(b.out)
	var split []int64
	if b.opset >= 13 {
		if split, _, err = b.constInts(1, "split"); err != nil {
			return err
		}
	} else {
		split = b.attrInts("split", nil)
		if b.opset < 2 && split == nil { // Split-1 also took the parts as input 1
			if split, _, err = b.constInts(1, "split"); err != nil {
				return err
			}
		}
	}
	if split == nil {
		if k := b.attrInt("num_outputs", 0); k > 0 {
			if int(k) != n {
				return b.errorf("num_outputs %d, but the node has %d outputs", k, n)
			}
			// Opset 18: chunks of ceil(dim/n), the last one smaller.
			chunk := (dim + n - 1) / n
			for i := range n {
				split = append(split, int64(max(0, min(chunk, dim-i*chunk))))
			}
		} else {
			if n == 0 || dim%n != 0 {
				return b.errorf("axis %d of size %d does not split into %d equal parts", axis, dim, n)
			}
			split = slices.Repeat([]int64{int64(dim / n)}, n)
		}
	}
	if len(split) != n {
		return b.errorf("split %v has %d parts for %d outputs", split, len(split), n)
	}
	total := int64(0)
	for _, s := range split {
		if s < 0 {
			return b.errorf("split %v has a negative part", split)
		}
		total += s
	}
	if total != int64(dim) {
		return b.errorf("split %v adds up to %d; axis %d has size %d", split, total, axis, dim)
	}
	outer := numel(x.Shape[:axis])
	inner := numel(x.Shape[axis+1:]) * x.DType.Size()
	offs := make([]int, n)
	off := 0
	for i, s := range split {
		shape := cloneShape(x.Shape)
		shape[axis] = int(s)
		b.setOut(i, x.DType, shape)
		offs[i] = off
		off += int(s)
	}
	row := dim * inner
	b.run = func(*exec) {
		for i, t := range b.out {
			if t == nil {
				continue
			}
			part := int(split[i]) * inner
			for o := range outer {
				src := o*row + offs[i]*inner
				copy(t.Data[o*part:(o+1)*part], x.Data[src:src+part])
			}
		}
	}
	return nil
}

// broadcastInto plans a copy of x broadcast to out's shape (Expand, Tile).
func broadcastInto(b *build, x, out *Tensor, xShape []int) {
	bc := newBcast(out.Shape, xShape, xShape)
	size := x.DType.Size()
	b.run = func(*exec) {
		bc.rows(func(o, ao, _ int) {
			dst := out.Data[o*size : (o+bc.inner)*size]
			if bc.ia == 1 {
				copy(dst, x.Data[ao*size:(ao+bc.inner)*size])
				return
			}
			v := x.Data[ao*size : (ao+1)*size]
			for i := 0; i < len(dst); i += size {
				copy(dst[i:i+size], v)
			}
		})
	}
}

func buildExpand(b *build) error {
	x, err := b.input(0)
	if err != nil {
		return err
	}
	spec, ok, err := b.constInts(1, "shape")
	if err != nil {
		return err
	}
	if !ok {
		return b.errorf("input 1 (shape) is required")
	}
	want := make([]int, len(spec))
	for i, d := range spec {
		if d < 0 {
			return b.errorf("shape %v has a negative dimension", spec)
		}
		want[i] = int(d)
	}
	shape, ok := broadcastShape(x.Shape, want)
	if !ok {
		return b.errorf("input %v cannot be expanded to %v", x.Shape, spec)
	}
	b.setOut(0, x.DType, shape)
	broadcastInto(b, x, b.out[0], x.Shape)
	return nil
}

func buildTile(b *build) error {
	x, err := b.input(0)
	if err != nil {
		return err
	}
	reps, ok, err := b.constInts(1, "repeats")
	if err != nil {
		return err
	}
	if !ok || len(reps) != len(x.Shape) {
		return b.errorf("repeats %v must have one value per dimension of %v", reps, x.Shape)
	}
	// Tiling is broadcasting [1, d0, 1, d1, ...] to [r0, d0, r1, d1, ...], whose row-major
	// layout is the tiled tensor's.
	shape := make([]int, len(x.Shape))
	var from, to []int
	for i, d := range x.Shape {
		if reps[i] < 0 {
			return b.errorf("repeats %v has a negative value", reps)
		}
		shape[i] = d * int(reps[i])
		from = append(from, 1, d)
		to = append(to, int(reps[i]), d)
	}
	b.setOut(0, x.DType, shape)
	out := &Tensor{DType: x.DType, Shape: to}
	broadcastInto(b, x, out, from)
	run, dst := b.run, b.out[0]
	b.run = func(x *exec) {
		out.Data = dst.Data
		run(x)
	}
	return nil
}

func buildRange(b *build) error {
	for i := range 3 {
		t, err := b.input(i)
		if err != nil {
			return err
		}
		if !t.konst {
			return b.unsupported("Range with a %s computed at run time (its output's length depends on it)", []string{"start", "limit", "delta"}[i])
		}
		if t.Len() != 1 || t.DType != b.in[0].DType {
			return b.errorf("start, limit and delta must be scalars of one type")
		}
	}
	dt := b.in[0].DType
	if !isFloat(dt) && !isInt(dt) {
		return b.unsupported("Range of %s", dt)
	}
	var n int
	if isInt(dt) {
		start, limit, delta := loadI64(b.in[0], 0), loadI64(b.in[1], 0), loadI64(b.in[2], 0)
		if delta == 0 {
			return b.errorf("delta is zero")
		}
		n = int(max(0, ceilDiv(limit-start, delta)))
	} else {
		start, limit, delta := loadF64(b.in[0], 0), loadF64(b.in[1], 0), loadF64(b.in[2], 0)
		if delta == 0 {
			return b.errorf("delta is zero")
		}
		n = int(max(0, math.Ceil((limit-start)/delta)))
	}
	b.setOut(0, dt, []int{n})
	out := b.out[0]
	b.run = func(*exec) {
		if isInt(dt) {
			start, delta := loadI64(b.in[0], 0), loadI64(b.in[2], 0)
			for i := range n {
				storeI64(out, i, start+int64(i)*delta)
			}
			return
		}
		start, delta := loadF64(b.in[0], 0), loadF64(b.in[2], 0)
		if dt == onnx.Float { // accumulate in float32 like the reference implementations
			s, d := float32(start), float32(delta)
			for i := range n {
				F32(out)[i] = s + float32(i)*d
			}
			return
		}
		for i := range n {
			storeF64(out, i, start+float64(i)*delta)
		}
	}
	return nil
}

func ceilDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) == (b < 0)) {
		q++
	}
	return q
}

func buildConstantOfShape(b *build) error {
	spec, ok, err := b.constInts(0, "shape")
	if err != nil {
		return err
	}
	if !ok {
		return b.errorf("input 0 (shape) is required")
	}
	shape := make([]int, len(spec))
	for i, d := range spec {
		if d < 0 {
			return b.errorf("shape %v has a negative dimension", spec)
		}
		shape[i] = int(d)
	}
	value := FromSlice([]float32{0}, 1)
	if a, ok := b.node.src.Attr("value"); ok && a.Tensor != nil {
		if value, err = fromONNX(a.Tensor); err != nil {
			return b.unsupported("value: %v", err)
		}
		if value.Len() != 1 {
			return b.errorf("value must hold one element, not %d", value.Len())
		}
	}
	b.setOut(0, value.DType, shape)
	out := b.out[0]
	size := value.DType.Size()
	b.run = func(*exec) {
		for i := 0; i < len(out.Data); i += size {
			copy(out.Data[i:i+size], value.Data)
		}
	}
	return nil
}

func buildOneHot(b *build) error {
	idx, err := b.input(0)
	if err != nil {
		return err
	}
	depthT, err := b.input(1)
	if err != nil {
		return err
	}
	values, err := b.input(2)
	if err != nil {
		return err
	}
	if !depthT.konst {
		return b.unsupported("OneHot with a depth computed at run time")
	}
	if depthT.Len() != 1 || values.Len() != 2 {
		return b.errorf("depth must be a scalar and values must hold [off, on]")
	}
	depth := int(loadF64(depthT, 0))
	if depth < 1 {
		return b.errorf("depth %d must be positive", depth)
	}
	r := len(idx.Shape) + 1
	axis, err := b.normAxis(b.attrInt("axis", -1), r)
	if err != nil {
		return err
	}
	shape := slices.Insert(cloneShape(idx.Shape), axis, depth)
	b.setOut(0, values.DType, shape)
	out := b.out[0]
	outer, inner := numel(idx.Shape[:axis]), numel(idx.Shape[axis:])
	size := values.DType.Size()
	b.run = func(*exec) {
		off, on := values.Data[:size], values.Data[size:2*size]
		for i := 0; i < len(out.Data); i += size {
			copy(out.Data[i:i+size], off)
		}
		for o := range outer {
			for j := range inner {
				k := int(loadF64(idx, o*inner+j))
				if k < 0 {
					k += depth
				}
				if k < 0 || k >= depth {
					continue
				}
				p := ((o*depth+k)*inner + j) * size
				copy(out.Data[p:p+size], on)
			}
		}
	}
	return nil
}

// permuted plans out = transpose(x viewed as shape, perm), reshaped to out's shape.
func permuted(b *build, x, out *Tensor, shape []int, perm []int) {
	st := stridesOf(shape)
	dims := make([]int, len(perm))
	strides := make([]int, len(perm))
	for i, p := range perm {
		dims[i], strides[i] = shape[p], st[p]
	}
	cp := newStrided(dims, strides, 0, x.DType.Size())
	b.run = func(*exec) { cp.copy(out.Data, x.Data) }
}

func buildDepthToSpace(b *build) error {
	x, err := b.input(0)
	if err != nil {
		return err
	}
	bs := int(b.attrInt("blocksize", 0))
	if len(x.Shape) != 4 {
		return b.errorf("input %v must be (N, C, H, W)", x.Shape)
	}
	n, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	if bs < 1 || c%(bs*bs) != 0 {
		return b.errorf("blocksize %d does not divide the %d channels into blocks", bs, c)
	}
	c2 := c / (bs * bs)
	b.setOut(0, x.DType, []int{n, c2, h * bs, w * bs})
	switch mode := b.attrString("mode", "DCR"); mode {
	case "DCR":
		permuted(b, x, b.out[0], []int{n, bs, bs, c2, h, w}, []int{0, 3, 4, 1, 5, 2})
	case "CRD":
		permuted(b, x, b.out[0], []int{n, c2, bs, bs, h, w}, []int{0, 1, 4, 2, 5, 3})
	default:
		return b.errorf("unknown mode %q (DCR or CRD)", mode)
	}
	return nil
}

func buildSpaceToDepth(b *build) error {
	x, err := b.input(0)
	if err != nil {
		return err
	}
	bs := int(b.attrInt("blocksize", 0))
	if len(x.Shape) != 4 {
		return b.errorf("input %v must be (N, C, H, W)", x.Shape)
	}
	n, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	if bs < 1 || h%bs != 0 || w%bs != 0 {
		return b.errorf("blocksize %d does not divide the spatial size %dx%d", bs, h, w)
	}
	b.setOut(0, x.DType, []int{n, c * bs * bs, h / bs, w / bs})
	permuted(b, x, b.out[0], []int{n, c, h / bs, bs, w / bs, bs}, []int{0, 3, 5, 1, 2, 4})
	return nil
}

func buildTrilu(b *build) error {
	x, err := b.input(0)
	if err != nil {
		return err
	}
	if len(x.Shape) < 2 {
		return b.errorf("input %v must have at least 2 dimensions", x.Shape)
	}
	k, _, err := b.constScalarInt(1, "k")
	if err != nil {
		return err
	}
	upper := b.attrInt("upper", 1) != 0
	b.setOut(0, x.DType, cloneShape(x.Shape))
	b.mayOverwrite(0, 0)
	out := b.out[0]
	r := len(x.Shape)
	rows, cols := x.Shape[r-2], x.Shape[r-1]
	size := x.DType.Size()
	mats := numel(x.Shape[:r-2])
	b.run = func(*exec) {
		if &out.Data[0] != &x.Data[0] {
			copy(out.Data, x.Data)
		}
		for m := range mats {
			for i := range rows {
				row := out.Data[(m*rows+i)*cols*size : (m*rows+i+1)*cols*size]
				for j := range cols {
					d := int64(j - i)
					if (upper && d < k) || (!upper && d > k) {
						clear(row[j*size : (j+1)*size])
					}
				}
			}
		}
	}
	if x.Len() == 0 {
		b.run = func(*exec) {}
	}
	return nil
}

// indexAt reads an int32 or int64 index tensor's element i, wrapping negatives by dim and
// reporting those out of range.
func indexAt(t *Tensor, i, dim int) (int, error) {
	k := int(loadI64(t, i))
	if k < 0 {
		k += dim
	}
	if k < 0 || k >= dim {
		return 0, fmt.Errorf("index %d is out of range for a dimension of size %d", loadI64(t, i), dim)
	}
	return k, nil
}

// elementsGeometry maps a flat index of a tensor of shape idxShape to the offset in a tensor of
// shape dataShape with the same index except along axis, which is replaced.
type elementsGeometry struct {
	idxShape   []int
	dataStride []int
	axis       int
}

func (g elementsGeometry) offset(flat, k int) int {
	off := 0
	for d := len(g.idxShape) - 1; d >= 0; d-- {
		i := flat % g.idxShape[d]
		flat /= g.idxShape[d]
		if d == g.axis {
			i = k
		}
		off += i * g.dataStride[d]
	}
	return off
}

func (b *build) checkIndices(idx *Tensor) error {
	if idx.DType != onnx.Int64 && idx.DType != onnx.Int32 {
		return b.errorf("indices must be int32 or int64, not %s", idx.DType)
	}
	return nil
}

func buildGatherElements(b *build) error {
	x, err := b.input(0)
	if err != nil {
		return err
	}
	idx, err := b.input(1)
	if err != nil {
		return err
	}
	if err := b.checkIndices(idx); err != nil {
		return err
	}
	if len(idx.Shape) != len(x.Shape) {
		return b.errorf("indices %v must have the rank of the data %v", idx.Shape, x.Shape)
	}
	axis, err := b.normAxis(b.attrInt("axis", 0), len(x.Shape))
	if err != nil {
		return err
	}
	b.setOut(0, x.DType, cloneShape(idx.Shape))
	out := b.out[0]
	g := elementsGeometry{idxShape: idx.Shape, dataStride: stridesOf(x.Shape), axis: axis}
	size := x.DType.Size()
	dim := x.Shape[axis]
	b.run = func(e *exec) {
		for i := range idx.Len() {
			k, err := indexAt(idx, i, dim)
			if err != nil {
				e.fail(b.node, err)
				return
			}
			src := g.offset(i, k) * size
			copy(out.Data[i*size:(i+1)*size], x.Data[src:src+size])
		}
	}
	return nil
}

// scatterCombine returns how an update combines with the current value (reduction attribute).
func (b *build) scatterCombine(dt onnx.DType) (func(out, upd *Tensor, at, i int), error) {
	red := b.attrString("reduction", "none")
	var f func(a, v float64) float64
	switch red {
	case "none":
		size := dt.Size()
		return func(out, upd *Tensor, at, i int) {
			copy(out.Data[at*size:(at+1)*size], upd.Data[i*size:(i+1)*size])
		}, nil
	case "add":
		f = func(a, v float64) float64 { return a + v }
	case "mul":
		f = func(a, v float64) float64 { return a * v }
	case "max":
		f = math.Max
	case "min":
		f = math.Min
	default:
		return nil, b.errorf("unknown reduction %q", red)
	}
	if isInt(dt) {
		return func(out, upd *Tensor, at, i int) {
			a, v := loadI64(out, at), loadI64(upd, i)
			var r int64
			switch red {
			case "add":
				r = a + v
			case "mul":
				r = a * v
			case "max":
				r = max(a, v)
			default:
				r = min(a, v)
			}
			storeI64(out, at, r)
		}, nil
	}
	return func(out, upd *Tensor, at, i int) { storeF64(out, at, f(loadF64(out, at), loadF64(upd, i))) }, nil
}

func buildScatterElements(b *build) error {
	x, err := b.input(0)
	if err != nil {
		return err
	}
	idx, err := b.input(1)
	if err != nil {
		return err
	}
	upd, err := b.input(2)
	if err != nil {
		return err
	}
	if err := b.checkIndices(idx); err != nil {
		return err
	}
	if len(idx.Shape) != len(x.Shape) || !sameShape(idx.Shape, upd.Shape) || upd.DType != x.DType {
		return b.errorf("indices %v and updates %s%v must match each other and the rank of the data %s%v", idx.Shape, upd.DType, upd.Shape, x.DType, x.Shape)
	}
	axis, err := b.normAxis(b.attrInt("axis", 0), len(x.Shape))
	if err != nil {
		return err
	}
	combine, err := b.scatterCombine(x.DType)
	if err != nil {
		return err
	}
	b.setOut(0, x.DType, cloneShape(x.Shape))
	b.mayOverwrite(0, 0)
	out := b.out[0]
	g := elementsGeometry{idxShape: idx.Shape, dataStride: stridesOf(x.Shape), axis: axis}
	dim := x.Shape[axis]
	b.run = func(e *exec) {
		if len(out.Data) > 0 && &out.Data[0] != &x.Data[0] {
			copy(out.Data, x.Data)
		}
		for i := range idx.Len() {
			k, err := indexAt(idx, i, dim)
			if err != nil {
				e.fail(b.node, err)
				return
			}
			combine(out, upd, g.offset(i, k), i)
		}
	}
	return nil
}

// ndGeometry is the shared geometry of GatherND and ScatterND: index tuples of length k address
// slices of data of `slice` elements, after `batch` leading batch dimensions.
type ndGeometry struct {
	tuples, k, slice int
	batch            int // number of batches (product of the batch dimensions)
	perBatch         int // index tuples per batch
	dataDims         []int
	dataStride       []int
	batchStride      int // elements of data per batch
}

func (g ndGeometry) offset(idx *Tensor, t int) (int, error) {
	off := (t / g.perBatch) * g.batchStride
	for j := range g.k {
		i, err := indexAt(idx, t*g.k+j, g.dataDims[j])
		if err != nil {
			return 0, err
		}
		off += i * g.dataStride[j]
	}
	return off, nil
}

func (b *build) ndGeometry(x, idx *Tensor, batchDims int) (ndGeometry, error) {
	var g ndGeometry
	if err := b.checkIndices(idx); err != nil {
		return g, err
	}
	q := len(idx.Shape)
	if q < 1 || batchDims < 0 || batchDims >= q || batchDims > len(x.Shape) {
		return g, b.errorf("indices %v do not fit data %v with batch_dims %d", idx.Shape, x.Shape, batchDims)
	}
	g.k = idx.Shape[q-1]
	if batchDims+g.k > len(x.Shape) {
		return g, b.errorf("index tuples of length %d address more dimensions than data %v has", g.k, x.Shape)
	}
	for i := range batchDims {
		if idx.Shape[i] != x.Shape[i] {
			return g, b.errorf("batch dimensions of indices %v and data %v differ", idx.Shape, x.Shape)
		}
	}
	g.batch = numel(x.Shape[:batchDims])
	g.tuples = numel(idx.Shape[:q-1])
	g.perBatch = max(1, g.tuples/max(g.batch, 1))
	g.dataDims = x.Shape[batchDims : batchDims+g.k]
	g.dataStride = stridesOf(x.Shape[batchDims:])[:g.k]
	g.slice = numel(x.Shape[batchDims+g.k:])
	g.batchStride = numel(x.Shape[batchDims:])
	return g, nil
}

func buildGatherND(b *build) error {
	x, err := b.input(0)
	if err != nil {
		return err
	}
	idx, err := b.input(1)
	if err != nil {
		return err
	}
	batchDims := int(b.attrInt("batch_dims", 0))
	g, err := b.ndGeometry(x, idx, batchDims)
	if err != nil {
		return err
	}
	shape := slices.Concat(idx.Shape[:len(idx.Shape)-1], x.Shape[batchDims+g.k:])
	b.setOut(0, x.DType, nonNil(shape))
	out := b.out[0]
	chunk := g.slice * x.DType.Size()
	b.run = func(e *exec) {
		for t := range g.tuples {
			off, err := g.offset(idx, t)
			if err != nil {
				e.fail(b.node, err)
				return
			}
			copy(out.Data[t*chunk:(t+1)*chunk], x.Data[off*x.DType.Size():off*x.DType.Size()+chunk])
		}
	}
	return nil
}

func buildScatterND(b *build) error {
	x, err := b.input(0)
	if err != nil {
		return err
	}
	idx, err := b.input(1)
	if err != nil {
		return err
	}
	upd, err := b.input(2)
	if err != nil {
		return err
	}
	g, err := b.ndGeometry(x, idx, 0)
	if err != nil {
		return err
	}
	want := slices.Concat(idx.Shape[:len(idx.Shape)-1], x.Shape[g.k:])
	if !sameShape(upd.Shape, want) || upd.DType != x.DType {
		return b.errorf("updates are %s%v; they must be %s%v", upd.DType, upd.Shape, x.DType, want)
	}
	combine, err := b.scatterCombine(x.DType)
	if err != nil {
		return err
	}
	b.setOut(0, x.DType, cloneShape(x.Shape))
	b.mayOverwrite(0, 0)
	out := b.out[0]
	b.run = func(e *exec) {
		if len(out.Data) > 0 && &out.Data[0] != &x.Data[0] {
			copy(out.Data, x.Data)
		}
		for t := range g.tuples {
			off, err := g.offset(idx, t)
			if err != nil {
				e.fail(b.node, err)
				return
			}
			for j := range g.slice {
				combine(out, upd, off+j, t*g.slice+j)
			}
		}
	}
	return nil
}

func buildCumSum(b *build) error {
	x, err := b.input(0)
	if err != nil {
		return err
	}
	if !isFloat(x.DType) && !isInt(x.DType) {
		return b.unsupported("CumSum of %s", x.DType)
	}
	a, ok, err := b.constScalarInt(1, "axis")
	if err != nil {
		return err
	}
	if !ok {
		return b.errorf("input 1 (axis) is required")
	}
	axis, err := b.normAxis(a, len(x.Shape))
	if err != nil {
		return err
	}
	exclusive, reverse := b.attrInt("exclusive", 0) != 0, b.attrInt("reverse", 0) != 0
	b.setOut(0, x.DType, cloneShape(x.Shape))
	out := b.out[0]
	outer, dim, inner := numel(x.Shape[:axis]), x.Shape[axis], numel(x.Shape[axis+1:])
	integer := isInt(x.DType)
	b.run = func(*exec) {
		for o := range outer {
			for in := range inner {
				var accF float64
				var accI int64
				for s := range dim {
					j := s
					if reverse {
						j = dim - 1 - s
					}
					i := (o*dim+j)*inner + in
					if integer {
						v := loadI64(x, i)
						if !exclusive {
							accI += v
						}
						storeI64(out, i, accI)
						if exclusive {
							accI += v
						}
						continue
					}
					v := loadF64(x, i)
					if !exclusive {
						accF += v
					}
					storeF64(out, i, accF)
					if exclusive {
						accF += v
					}
				}
			}
		}
	}
	return nil
}

// topkOrder sorts the positions of one slice by value (stable: equal values keep index order).
type topkOrder struct {
	pos     []int
	vals    []float64
	largest bool
}

func (t *topkOrder) Len() int      { return len(t.pos) }
func (t *topkOrder) Swap(i, j int) { t.pos[i], t.pos[j] = t.pos[j], t.pos[i] }
func (t *topkOrder) Less(i, j int) bool {
	a, b := t.vals[t.pos[i]], t.vals[t.pos[j]]
	if t.largest {
		return a > b || (a == a && b != b) // NaN last
	}
	return a < b || (a == a && b != b)
}

func buildTopK(b *build) error {
	x, err := b.input(0)
	if err != nil {
		return err
	}
	if !isFloat(x.DType) && !isInt(x.DType) {
		return b.unsupported("TopK of %s", x.DType)
	}
	if len(x.Shape) == 0 {
		return b.errorf("TopK of a scalar")
	}
	axis, err := b.normAxis(b.attrInt("axis", -1), len(x.Shape))
	if err != nil {
		return err
	}
	var k int64
	if b.opset < 10 {
		k = b.attrInt("k", -1)
	} else {
		var ok bool
		if k, ok, err = b.constScalarInt(1, "K"); err != nil {
			return err
		} else if !ok {
			return b.errorf("input 1 (K) is required")
		}
	}
	dim := x.Shape[axis]
	if k < 0 || k > int64(dim) {
		return b.errorf("K %d is out of range for axis %d of size %d", k, axis, dim)
	}
	shape := cloneShape(x.Shape)
	shape[axis] = int(k)
	b.setOut(0, x.DType, shape)
	b.setOut(1, onnx.Int64, cloneShape(shape))
	vals, inds := b.out[0], b.out[1]
	outer, inner := numel(x.Shape[:axis]), numel(x.Shape[axis+1:])
	order := &topkOrder{pos: make([]int, dim), vals: make([]float64, dim), largest: b.attrInt("largest", 1) != 0}
	kk := int(k)
	b.run = func(*exec) {
		for o := range outer {
			for in := range inner {
				for j := range dim {
					order.pos[j] = j
					order.vals[j] = loadF64(x, (o*dim+j)*inner+in)
				}
				sort.Stable(order)
				for j := range kk {
					at := (o*kk+j)*inner + in
					src := (o*dim+order.pos[j])*inner + in
					if vals != nil {
						size := x.DType.Size()
						copy(vals.Data[at*size:(at+1)*size], x.Data[src*size:(src+1)*size])
					}
					if inds != nil {
						View[int64](inds)[at] = int64(order.pos[j])
					}
				}
			}
		}
	}
	return nil
}

func buildCastLike(b *build) error {
	like, err := b.input(1)
	if err != nil {
		return err
	}
	return castTo(b, like.DType)
}

func buildEyeLike(b *build) error {
	x, err := b.input(0)
	if err != nil {
		return err
	}
	if len(x.Shape) != 2 {
		return b.errorf("input %v must be a matrix", x.Shape)
	}
	dt := x.DType
	if a, ok := b.node.src.Attr("dtype"); ok {
		dt = onnx.DType(a.Int)
	}
	if !isFloat(dt) && !isInt(dt) && dt != onnx.Bool {
		return b.unsupported("EyeLike of %s", dt)
	}
	k := int(b.attrInt("k", 0))
	rows, cols := x.Shape[0], x.Shape[1]
	b.setOut(0, dt, []int{rows, cols})
	out := b.out[0]
	b.run = func(*exec) {
		clear(out.Data)
		for i := range rows {
			if j := i + k; j >= 0 && j < cols {
				storeF64(out, i*cols+j, 1)
			}
		}
	}
	return nil
}

// buildNonZero: the output's length is the number of non-zeros, known only for a constant input.
func buildNonZero(b *build) error {
	x, err := b.input(0)
	if err != nil {
		return err
	}
	if !x.konst {
		return b.unsupported("NonZero of a tensor computed at run time (its output's shape depends on the values)")
	}
	var nz []int
	for i := range x.Len() {
		if loadF64(x, i) != 0 {
			nz = append(nz, i)
		}
	}
	r := len(x.Shape)
	b.setOut(0, onnx.Int64, []int{r, len(nz)})
	out := b.out[0]
	b.run = func(*exec) {
		ys := View[int64](out)
		for j, flat := range nz {
			for d := r - 1; d >= 0; d-- {
				ys[d*len(nz)+j] = int64(flat % x.Shape[d])
				flat /= x.Shape[d]
			}
		}
	}
	return nil
}

// buildCompress: the output's length is the number of true conditions, known only when the
// condition is a constant.
func buildCompress(b *build) error {
	x, err := b.input(0)
	if err != nil {
		return err
	}
	cond, err := b.input(1)
	if err != nil {
		return err
	}
	if !cond.konst {
		return b.unsupported("Compress with a condition computed at run time (its output's shape depends on it)")
	}
	if len(cond.Shape) != 1 {
		return b.errorf("condition %v must be 1-D", cond.Shape)
	}
	shape := []int{x.Len()}
	axis := 0
	outer, dim, inner := 1, x.Len(), 1
	if a, ok := b.node.src.Attr("axis"); ok {
		if axis, err = b.normAxis(a.Int, len(x.Shape)); err != nil {
			return err
		}
		shape = cloneShape(x.Shape)
		outer, dim, inner = numel(x.Shape[:axis]), x.Shape[axis], numel(x.Shape[axis+1:])
	}
	if cond.Len() > dim {
		return b.errorf("condition has %d values for %d slices", cond.Len(), dim)
	}
	var keep []int
	for i := range cond.Len() {
		if cond.Data[i] != 0 {
			keep = append(keep, i)
		}
	}
	shape[axis] = len(keep)
	return compressRun(b, x, shape, keep, outer, dim, inner)
}

func compressRun(b *build, x *Tensor, shape, keep []int, outer, dim, inner int) error {
	b.setOut(0, x.DType, shape)
	out := b.out[0]
	chunk := inner * x.DType.Size()
	b.run = func(*exec) {
		for o := range outer {
			for j, k := range keep {
				src := (o*dim + k) * chunk
				dst := (o*len(keep) + j) * chunk
				copy(out.Data[dst:dst+chunk], x.Data[src:src+chunk])
			}
		}
	}
	return nil
}
