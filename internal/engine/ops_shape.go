package engine

import (
	"fmt"
	"slices"

	"github.com/tinymlaas/tinyml/internal/onnx"
)

// Operators that move or reinterpret data: shapes, views, copies.

func init() {
	register("Constant", 1, buildConstant)
	register("Identity", 1, buildIdentity)
	register("Dropout", 1, buildDropout)
	register("Shape", 1, buildShape)
	register("Size", 1, buildSize)
	register("Reshape", 5, buildReshape)
	register("Flatten", 1, buildFlatten)
	register("Squeeze", 1, buildSqueeze)
	register("Unsqueeze", 1, buildUnsqueeze)
	register("Transpose", 1, buildTranspose)
	register("Concat", 4, buildConcat)
	register("Gather", 1, buildGather)
	register("Cast", 6, buildCast)
}

// constInts reads a constant integer input (shape, axes, pads); exporters compute these from
// Shape chains, which planning has folded by now.
func (b *build) constInts(i int, what string) ([]int64, bool, error) {
	t := b.optional(i)
	if t == nil {
		return nil, false, nil
	}
	if !t.konst {
		return nil, false, b.unsupported("%s computed at run time (input %d)", what, i)
	}
	if t.DType != onnx.Int64 && t.DType != onnx.Int32 {
		return nil, false, b.errorf("%s (input %d) must be int64, not %s", what, i, t.DType)
	}
	return tensorInts(t), true, nil
}

func tensorInts(t *Tensor) []int64 {
	if t.DType == onnx.Int32 {
		v := View[int32](t)
		out := make([]int64, len(v))
		for i, x := range v {
			out[i] = int64(x)
		}
		return out
	}
	return slices.Clone(View[int64](t))
}

// normAxis maps a possibly negative axis into [0, rank).
func (b *build) normAxis(axis int64, rank int) (int, error) {
	if axis < int64(-rank) || axis >= int64(rank) {
		return 0, b.errorf("axis %d is out of range for rank %d", axis, rank)
	}
	if axis < 0 {
		axis += int64(rank)
	}
	return int(axis), nil
}

func buildConstant(b *build) error {
	for _, a := range b.node.src.Attrs {
		var t *Tensor
		var err error
		switch {
		case a.Name == "value" && a.Tensor != nil:
			t, err = fromONNX(a.Tensor)
		case a.Name == "value_float":
			t = FromSlice([]float32{a.Float})
		case a.Name == "value_floats":
			t = FromSlice(a.Floats, len(a.Floats))
		case a.Name == "value_int":
			t = FromSlice([]int64{a.Int})
		case a.Name == "value_ints":
			t = FromSlice(a.Ints, len(a.Ints))
		default:
			continue
		}
		if err != nil {
			return b.unsupported("constant value: %v", err)
		}
		t.Shape = nonNil(t.Shape)
		b.setOut(0, t.DType, t.Shape)
		b.run = func(*exec) { copy(b.out[0].Data, t.Data) }
		return nil
	}
	return b.unsupported("a Constant without a value, value_float(s) or value_int(s) attribute")
}

func nonNil(s []int) []int {
	if s == nil {
		return []int{}
	}
	return s
}

func buildIdentity(b *build) error {
	x, err := b.input(0)
	if err != nil {
		return err
	}
	b.setOut(0, x.DType, cloneShape(x.Shape))
	b.alias(0, 0)
	if len(b.out) > 1 && b.out[1] != nil { // Dropout's mask: all true at inference
		b.setOut(1, onnx.Bool, cloneShape(x.Shape))
	}
	b.run = func(*exec) {
		if len(b.out) > 1 && b.out[1] != nil {
			for i := range b.out[1].Data {
				b.out[1].Data[i] = 1
			}
		}
	}
	return nil
}

// buildDropout: inference Dropout passes its input through. Training mode (is_test=0 before
// opset 7, a training_mode input that is not a constant false since opset 12) draws random masks.
func buildDropout(b *build) error {
	if b.opset < 7 && b.attrInt("is_test", 0) == 0 {
		return b.unsupported("training-mode Dropout (is_test=0)")
	}
	if tm := b.optional(2); tm != nil {
		if !tm.konst || tm.Len() != 1 {
			return b.unsupported("Dropout whose training_mode is computed at run time")
		}
		if tm.Data[0] != 0 {
			return b.unsupported("training-mode Dropout (random masks)")
		}
	}
	return buildIdentity(b)
}

func buildShape(b *build) error {
	x, err := b.input(0)
	if err != nil {
		return err
	}
	rank := len(x.Shape)
	start, end := int(b.attrInt("start", 0)), int(b.attrInt("end", int64(rank)))
	clamp := func(v int) int {
		if v < 0 {
			v += rank
		}
		return min(max(v, 0), rank)
	}
	start, end = clamp(start), clamp(end)
	dims := []int64{}
	for i := start; i < end; i++ {
		dims = append(dims, int64(x.Shape[i]))
	}
	return b.constant(0, FromSlice(dims, len(dims)))
}

// constant makes output i a plan-time constant whatever the inputs (shapes are known).
func (b *build) constant(i int, t *Tensor) error {
	b.setOut(i, t.DType, t.Shape)
	b.out[i].konst = true
	b.out[i].Data = t.Data
	return nil
}

func buildSize(b *build) error {
	x, err := b.input(0)
	if err != nil {
		return err
	}
	return b.constant(0, FromSlice([]int64{int64(x.Len())}, []int{}...))
}

// view makes output 0 a reinterpretation of input 0 with a new shape.
func (b *build) view(x *Tensor, shape []int) error {
	if numel(shape) != x.Len() {
		return b.errorf("cannot view %v (%d elements) as %v", x.Shape, x.Len(), shape)
	}
	b.setOut(0, x.DType, shape)
	b.alias(0, 0)
	b.run = func(*exec) {}
	return nil
}

func buildReshape(b *build) error {
	x, err := b.input(0)
	if err != nil {
		return err
	}
	spec, ok, err := b.constInts(1, "target shape")
	if err != nil {
		return err
	}
	if !ok {
		return b.errorf("input 1 (shape) is required")
	}
	allowZero := b.attrInt("allowzero", 0) != 0
	shape := make([]int, len(spec))
	infer := -1
	known := 1
	for i, d := range spec {
		switch {
		case d == -1:
			if infer >= 0 {
				return b.errorf("target shape %v has more than one -1", spec)
			}
			infer = i
			continue
		case d == 0 && !allowZero:
			if i >= len(x.Shape) {
				return b.errorf("target shape %v copies dimension %d that %v does not have", spec, i, x.Shape)
			}
			shape[i] = x.Shape[i]
		case d < 0:
			return b.errorf("target shape %v has a negative dimension", spec)
		default:
			shape[i] = int(d)
		}
		known *= shape[i]
	}
	if infer >= 0 {
		if known == 0 || x.Len()%known != 0 {
			return b.errorf("cannot reshape %v (%d elements) to %v", x.Shape, x.Len(), spec)
		}
		shape[infer] = x.Len() / known
	}
	return b.view(x, shape)
}

func buildFlatten(b *build) error {
	x, err := b.input(0)
	if err != nil {
		return err
	}
	axis := b.attrInt("axis", 1)
	r := len(x.Shape)
	if axis < int64(-r) || axis > int64(r) {
		return b.errorf("axis %d is out of range for rank %d", axis, r)
	}
	if axis < 0 {
		axis += int64(r)
	}
	return b.view(x, []int{numel(x.Shape[:axis]), numel(x.Shape[axis:])})
}

// axesArg reads axes from the attribute (older opsets) or input 1 (since opset 13).
func (b *build) axesArg(inputSince int64) ([]int64, bool, error) {
	if b.opset >= inputSince {
		return b.constInts(1, "axes")
	}
	a, ok := b.node.src.Attr("axes")
	return a.Ints, ok, nil
}

func buildSqueeze(b *build) error {
	x, err := b.input(0)
	if err != nil {
		return err
	}
	axes, given, err := b.axesArg(13)
	if err != nil {
		return err
	}
	drop := map[int]bool{}
	for _, a := range axes {
		ax, err := b.normAxis(a, len(x.Shape))
		if err != nil {
			return err
		}
		if x.Shape[ax] != 1 {
			return b.errorf("cannot squeeze axis %d of %v: its size is not 1", a, x.Shape)
		}
		drop[ax] = true
	}
	shape := []int{}
	for i, d := range x.Shape {
		if (given && !drop[i]) || (!given && d != 1) {
			shape = append(shape, d)
		}
	}
	return b.view(x, shape)
}

func buildUnsqueeze(b *build) error {
	x, err := b.input(0)
	if err != nil {
		return err
	}
	axes, _, err := b.axesArg(13)
	if err != nil {
		return err
	}
	rank := len(x.Shape) + len(axes)
	ins := map[int]bool{}
	for _, a := range axes {
		ax, err := b.normAxis(a, rank)
		if err != nil {
			return err
		}
		if ins[ax] {
			return b.errorf("axis %d repeated", a)
		}
		ins[ax] = true
	}
	shape := make([]int, 0, rank)
	j := 0
	for i := range rank {
		if ins[i] {
			shape = append(shape, 1)
		} else {
			shape = append(shape, x.Shape[j])
			j++
		}
	}
	return b.view(x, shape)
}

func buildTranspose(b *build) error {
	x, err := b.input(0)
	if err != nil {
		return err
	}
	r := len(x.Shape)
	perm := b.attrInts("perm", nil)
	if perm == nil {
		for i := r - 1; i >= 0; i-- {
			perm = append(perm, int64(i))
		}
	}
	if len(perm) != r {
		return b.errorf("perm %v has %d entries for rank %d", perm, len(perm), r)
	}
	p := make([]int, r)
	seen := make([]bool, r)
	shape := make([]int, r)
	for i, v := range perm {
		if v < 0 || v >= int64(r) || seen[v] {
			return b.errorf("perm %v is not a permutation of 0..%d", perm, r-1)
		}
		seen[v] = true
		p[i] = int(v)
		shape[i] = x.Shape[v]
	}
	b.setOut(0, x.DType, shape)
	// Strides of the input, visited in output order.
	inStrides := stridesOf(x.Shape)
	st := make([]int, r)
	for i := range r {
		st[i] = inStrides[p[i]]
	}
	size := x.DType.Size()
	out := b.out[0]
	idx := make([]int, r)
	b.run = func(*exec) { permute(out.Data, x.Data, shape, st, size, idx) }
	return nil
}

func stridesOf(shape []int) []int {
	st := make([]int, len(shape))
	s := 1
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = s
		s *= shape[i]
	}
	return st
}

// permute copies elements of size bytes: dst is dense in shape, src is read with strides
// (in elements) given per dst dimension.
func permute(dst, src []byte, shape, strides []int, size int, idx []int) {
	n := numel(shape)
	if n == 0 {
		return
	}
	r := len(shape)
	if r == 0 {
		copy(dst, src[:size])
		return
	}
	clear(idx)
	inner, innerStride := shape[r-1], strides[r-1]
	off := 0
	for o := 0; o < n; o += inner {
		if size == 4 {
			d := dst[o*4 : (o+inner)*4]
			for k := range inner {
				s := (off + k*innerStride) * 4
				copy(d[k*4:k*4+4], src[s:s+4])
			}
		} else {
			for k := range inner {
				s := (off + k*innerStride) * size
				copy(dst[(o+k)*size:(o+k+1)*size], src[s:s+size])
			}
		}
		for d := r - 2; d >= 0; d-- {
			idx[d]++
			off += strides[d]
			if idx[d] < shape[d] {
				break
			}
			off -= idx[d] * strides[d]
			idx[d] = 0
		}
	}
}

func buildConcat(b *build) error {
	if len(b.in) == 0 {
		return b.errorf("Concat needs at least one input")
	}
	first, err := b.input(0)
	if err != nil {
		return err
	}
	axis, err := b.normAxis(b.attrInt("axis", 0), len(first.Shape))
	if err != nil {
		return err
	}
	shape := cloneShape(first.Shape)
	shape[axis] = 0
	for i, t := range b.in {
		if t == nil {
			continue
		}
		if t.DType != first.DType || len(t.Shape) != len(first.Shape) {
			return b.errorf("input %d is %s%v, not compatible with %s%v", i, t.DType, t.Shape, first.DType, first.Shape)
		}
		for d := range shape {
			if d != axis && t.Shape[d] != first.Shape[d] {
				return b.errorf("input %d has shape %v; all inputs must match %v except on axis %d", i, t.Shape, first.Shape, axis)
			}
		}
		shape[axis] += t.Shape[axis]
	}
	b.setOut(0, first.DType, shape)
	outer := numel(shape[:axis])
	size := first.DType.Size()
	out := b.out[0]
	b.run = func(*exec) {
		off := 0
		rowOut := numel(shape[axis:]) * size
		for _, t := range b.in {
			if t == nil {
				continue
			}
			row := numel(t.Shape[axis:]) * size
			for o := range outer {
				copy(out.Data[o*rowOut+off:o*rowOut+off+row], t.Data[o*row:(o+1)*row])
			}
			off += row
		}
	}
	return nil
}

func buildGather(b *build) error {
	x, err := b.input(0)
	if err != nil {
		return err
	}
	idx, err := b.input(1)
	if err != nil {
		return err
	}
	if idx.DType != onnx.Int64 && idx.DType != onnx.Int32 {
		return b.errorf("indices must be int32 or int64, not %s", idx.DType)
	}
	axis, err := b.normAxis(b.attrInt("axis", 0), len(x.Shape))
	if err != nil {
		return err
	}
	shape := slices.Concat(x.Shape[:axis], idx.Shape, x.Shape[axis+1:])
	b.setOut(0, x.DType, shape)
	dim := x.Shape[axis]
	if idx.konst {
		for _, k := range tensorInts(idx) {
			if k < int64(-dim) || k >= int64(dim) {
				return b.errorf("index %d is out of range for axis %d of size %d", k, axis, dim)
			}
		}
	}
	g := gather{out: b.out[0], x: x, idx: idx, outer: numel(x.Shape[:axis]), dim: dim, chunk: numel(x.Shape[axis+1:]) * x.DType.Size()}
	b.run = func(e *exec) {
		var err error
		if idx.DType == onnx.Int32 {
			err = gatherRows(g, View[int32](idx))
		} else {
			err = gatherRows(g, View[int64](idx))
		}
		if err != nil {
			e.fail(b.node, err)
		}
	}
	return nil
}

type gather struct {
	out, x, idx       *Tensor
	outer, dim, chunk int
}

func gatherRows[I int32 | int64](g gather, indices []I) error {
	n := len(indices)
	for o := range g.outer {
		for j, k := range indices {
			if k < 0 {
				k += I(g.dim)
			}
			if k < 0 || int(k) >= g.dim {
				return fmt.Errorf("index %d is out of range for a dimension of size %d", indices[j], g.dim)
			}
			src := (o*g.dim + int(k)) * g.chunk
			dst := (o*n + j) * g.chunk
			copy(g.out.Data[dst:dst+g.chunk], g.x.Data[src:src+g.chunk])
		}
	}
	return nil
}

func buildCast(b *build) error {
	return castTo(b, onnx.DType(b.attrInt("to", 0)))
}

// castTo plans Cast (and CastLike) of input 0 to the given type.
func castTo(b *build, to onnx.DType) error {
	x, err := b.input(0)
	if err != nil {
		return err
	}
	if to.Size() == 0 || x.DType.Size() == 0 {
		return b.unsupported("cast from %s to %s", x.DType, to)
	}
	b.setOut(0, to, cloneShape(x.Shape))
	out := b.out[0]
	if to == x.DType {
		b.alias(0, 0)
		b.run = func(*exec) {}
		return nil
	}
	conv, err := converter(x.DType, to)
	if err != nil {
		return b.unsupported("cast from %s to %s", x.DType, to)
	}
	b.run = func(*exec) { conv(out, x) }
	return nil
}

// cloneShape copies a shape; a scalar's shape stays non-nil (nil means "not set" to the planner).
func cloneShape(s []int) []int { return append([]int{}, s...) }
