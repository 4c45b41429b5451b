package engine

import (
	"math"
	"slices"

	"github.com/tinymlaas/tinyml/internal/onnx"
)

// Reductions: ReduceSum and kin over a set of axes, ArgMax and ArgMin along one.

func init() {
	for op := range reducers {
		register(op, 1, buildReduce)
	}
	register("ArgMax", 1, buildArg)
	register("ArgMin", 1, buildArg)
}

// reducer is a reduction: acc starts at init, step folds each value in, fin turns the
// accumulator into the result given the number of values. Accumulation is in float64 for
// floats; exact integer reductions (sum, product, max, min) use i64.
type reducer struct {
	init float64
	step func(acc, v float64) float64
	fin  func(acc float64, n int) float64
	i64  func(acc, v int64) int64 // integer form, nil when the float form serves
	i64I int64
}

func reduceAdd(acc, v float64) float64      { return acc + v }
func reduceKeep(acc float64, _ int) float64 { return acc }

var reducers = map[string]reducer{
	"ReduceSum":  {step: reduceAdd, fin: reduceKeep, i64: func(a, v int64) int64 { return a + v }},
	"ReduceMean": {step: reduceAdd, fin: func(a float64, n int) float64 { return a / float64(n) }},
	"ReduceProd": {init: 1, step: func(a, v float64) float64 { return a * v }, fin: reduceKeep,
		i64: func(a, v int64) int64 { return a * v }, i64I: 1},
	"ReduceMax": {init: math.Inf(-1), step: func(a, v float64) float64 {
		if v > a || v != v {
			return v
		}
		return a
	}, fin: reduceKeep, i64: func(a, v int64) int64 { return max(a, v) }, i64I: math.MinInt64},
	"ReduceMin": {init: math.Inf(1), step: func(a, v float64) float64 {
		if v < a || v != v {
			return v
		}
		return a
	}, fin: reduceKeep, i64: func(a, v int64) int64 { return min(a, v) }, i64I: math.MaxInt64},
	"ReduceL1":        {step: func(a, v float64) float64 { return a + math.Abs(v) }, fin: reduceKeep},
	"ReduceL2":        {step: func(a, v float64) float64 { return a + v*v }, fin: func(a float64, _ int) float64 { return math.Sqrt(a) }},
	"ReduceSumSquare": {step: func(a, v float64) float64 { return a + v*v }, fin: reduceKeep},
	"ReduceLogSum":    {step: reduceAdd, fin: func(a float64, _ int) float64 { return math.Log(a) }},
	"ReduceLogSumExp": {step: func(a, v float64) float64 { return a + math.Exp(v) }, fin: func(a float64, _ int) float64 { return math.Log(a) }},
}

// reduceAxes reads a reduction's axes: the attribute before the opset where they became
// input 1 (13 for ReduceSum, 18 for the others). It returns which dimensions are reduced, or nil
// for "none" (noop_with_empty_axes with no axes).
func (b *build) reduceAxes(rank int) ([]bool, error) {
	since := int64(18)
	if b.node.op == "ReduceSum" {
		since = 13
	}
	var axes []int64
	if b.opset >= since {
		var err error
		if axes, _, err = b.constInts(1, "axes"); err != nil {
			return nil, err
		}
	} else {
		axes = b.attrInts("axes", nil)
	}
	red := make([]bool, rank)
	if len(axes) == 0 {
		if b.opset >= since && b.attrInt("noop_with_empty_axes", 0) != 0 {
			return nil, nil
		}
		for i := range red {
			red[i] = true
		}
		return red, nil
	}
	for _, a := range axes {
		ax, err := b.normAxis(a, rank)
		if err != nil {
			return nil, err
		}
		if red[ax] {
			return nil, b.errorf("axis %d is repeated in axes %v", a, axes)
		}
		red[ax] = true
	}
	return red, nil
}

// reduction is the geometry of a reduction, fixed at plan time: the input offset where each
// output element's values start (base) and the offsets of the reduced values from it (either
// 0..count-1 when the reduced dimensions are the trailing ones, or offs).
type reduction struct {
	base   []int
	offs   []int // nil when contiguous
	count  int
	stride int // for the single-axis case: distance between reduced values (offs is nil)
}

func newReduction(shape []int, red []bool) reduction {
	st := stridesOf(shape)
	var keptDims, keptStr, redDims, redStr []int
	for i, d := range shape {
		if red[i] {
			redDims, redStr = append(redDims, d), append(redStr, st[i])
		} else {
			keptDims, keptStr = append(keptDims, d), append(keptStr, st[i])
		}
	}
	r := reduction{base: offsetsOf(keptDims, keptStr), count: numel(redDims), stride: 1}
	// Trailing reduced dimensions are contiguous: offsets 0..count-1. One reduced dimension
	// is a single stride.
	trailing := true
	seen := false
	for i := range shape {
		if red[i] {
			seen = true
		} else if seen && shape[i] != 1 {
			trailing = false
		}
	}
	var nonUnit []int
	for i := range redDims {
		if redDims[i] != 1 {
			nonUnit = append(nonUnit, i)
		}
	}
	switch {
	case trailing:
	case len(nonUnit) == 1:
		r.stride = redStr[nonUnit[0]]
	default:
		r.offs = offsetsOf(redDims, redStr)
	}
	return r
}

// offsetsOf lists, in row-major order over dims, the offsets sum(index·stride).
func offsetsOf(dims, strides []int) []int {
	n := numel(dims)
	out := make([]int, n)
	idx := make([]int, len(dims))
	off := 0
	for i := range n {
		out[i] = off
		for d := len(dims) - 1; d >= 0; d-- {
			idx[d]++
			off += strides[d]
			if idx[d] < dims[d] {
				break
			}
			off -= idx[d] * strides[d]
			idx[d] = 0
		}
	}
	return out
}

// at is the input offset of the j-th reduced value of output element o.
func (r *reduction) at(o, j int) int {
	if r.offs != nil {
		return r.base[o] + r.offs[j]
	}
	return r.base[o] + j*r.stride
}

func buildReduce(b *build) error {
	x, err := b.input(0)
	if err != nil {
		return err
	}
	if !isFloat(x.DType) && !isInt(x.DType) {
		return b.unsupported("%s of %s", b.node.op, x.DType)
	}
	red, err := b.reduceAxes(len(x.Shape))
	if err != nil {
		return err
	}
	if red == nil { // noop_with_empty_axes and no axes: the input passes through
		b.setOut(0, x.DType, cloneShape(x.Shape))
		b.alias(0, 0)
		b.run = func(*exec) {}
		return nil
	}
	keep := b.attrInt("keepdims", 1) != 0
	var shape []int
	for i, d := range x.Shape {
		switch {
		case !red[i]:
			shape = append(shape, d)
		case keep:
			shape = append(shape, 1)
		}
	}
	b.setOut(0, x.DType, nonNil(shape))
	out := b.out[0]
	rd := reducers[b.node.op]
	r := newReduction(x.Shape, red)
	switch {
	case x.DType == onnx.Float:
		b.run = func(*exec) {
			xs, ys := F32(x), F32(out)
			for o := range ys {
				acc := rd.init
				if r.offs == nil && r.stride == 1 {
					for _, v := range xs[r.base[o] : r.base[o]+r.count] {
						acc = rd.step(acc, float64(v))
					}
				} else {
					for j := range r.count {
						acc = rd.step(acc, float64(xs[r.at(o, j)]))
					}
				}
				ys[o] = float32(rd.fin(acc, r.count))
			}
		}
	case isInt(x.DType) && rd.i64 != nil:
		b.run = func(*exec) {
			for o := range len(r.base) {
				acc := rd.i64I
				for j := range r.count {
					acc = rd.i64(acc, loadI64(x, r.at(o, j)))
				}
				storeI64(out, o, acc)
			}
		}
	default:
		b.run = func(*exec) {
			for o := range len(r.base) {
				acc := rd.init
				for j := range r.count {
					acc = rd.step(acc, loadF64(x, r.at(o, j)))
				}
				storeF64(out, o, rd.fin(acc, r.count))
			}
		}
	}
	return nil
}

func buildArg(b *build) error {
	x, err := b.input(0)
	if err != nil {
		return err
	}
	if !isFloat(x.DType) && !isInt(x.DType) {
		return b.unsupported("%s of %s", b.node.op, x.DType)
	}
	if len(x.Shape) == 0 {
		return b.errorf("%s of a scalar", b.node.op)
	}
	axis, err := b.normAxis(b.attrInt("axis", 0), len(x.Shape))
	if err != nil {
		return err
	}
	if x.Shape[axis] == 0 {
		return b.errorf("%s along axis %d of size 0", b.node.op, axis)
	}
	shape := cloneShape(x.Shape)
	if b.attrInt("keepdims", 1) != 0 {
		shape[axis] = 1
	} else {
		shape = slices.Delete(shape, axis, axis+1)
	}
	b.setOut(0, onnx.Int64, shape)
	out := b.out[0]
	red := make([]bool, len(x.Shape))
	red[axis] = true
	r := newReduction(x.Shape, red)
	isMax := b.node.op == "ArgMax"
	last := b.attrInt("select_last_index", 0) != 0
	better := func(v, best float64) bool {
		if isMax {
			return v > best || (last && v == best)
		}
		return v < best || (last && v == best)
	}
	b.run = func(*exec) {
		ys := View[int64](out)
		for o := range ys {
			best, at := loadF64(x, r.at(o, 0)), 0
			for j := 1; j < r.count; j++ {
				if v := loadF64(x, r.at(o, j)); better(v, best) {
					best, at = v, j
				}
			}
			ys[o] = int64(at)
		}
	}
	return nil
}
