package engine

import (
	"math"
	"slices"

	"github.com/tinymlaas/tinyml/internal/kernels"
	"github.com/tinymlaas/tinyml/internal/onnx"
)

// Elementwise operators: arithmetic and comparisons with NumPy-style (multidirectional)
// broadcasting, and unary math.

func init() {
	// Before opset 7 the binary operators broadcast only when asked (broadcast=1), and then
	// by an axis or by suffix; numpy-style broadcasting covers all but the axis form, which
	// legacyBroadcast refuses.
	for _, op := range []string{"Add", "Sub", "Mul", "Div", "Pow", "Mod", "BitShift"} {
		register(op, 1, buildArith)
	}
	for _, op := range []string{"Max", "Min", "Sum", "Mean"} {
		register(op, 6, buildVariadic)
	}
	for _, op := range []string{"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor"} {
		register(op, 1, buildCompare)
	}
	register("Where", 9, buildWhere)
	register("PRelu", 1, buildPRelu)
	for op := range unaryOps {
		// Before opset 6 these took a consumed_inputs attribute, an optimisation hint of old
		// runtimes that does not change the result.
		register(op, 1, buildUnary)
	}
	register("Clip", 6, buildClip)
}

// legacyBroadcast refuses the broadcasting of opsets before 7 that numpy-style broadcasting
// does not reproduce: broadcast=1 with an axis.
func (b *build) legacyBroadcast() error {
	if b.opset >= 7 || b.attrInt("broadcast", 0) == 0 {
		return nil
	}
	if _, ok := b.node.src.Attr("axis"); ok {
		return b.unsupported("broadcasting along an axis (broadcast=1 with axis, before opset 7)")
	}
	return nil
}

// broadcastShape is ONNX's multidirectional broadcasting of two shapes.
func broadcastShape(a, b []int) ([]int, bool) {
	r := max(len(a), len(b))
	out := make([]int, r)
	for i := range r {
		da, db := 1, 1
		if j := i - (r - len(a)); j >= 0 {
			da = a[j]
		}
		if j := i - (r - len(b)); j >= 0 {
			db = b[j]
		}
		switch {
		case da == db || db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, false
		}
	}
	return out, true
}

// bcast walks an output shape row by row, giving the offsets of two broadcast operands. Dims are
// collapsed so that the common cases (same shape, scalar, per-channel) become long inner rows.
type bcast struct {
	outer      []int // collapsed outer dims
	sa, sb     []int // element strides of a and b per outer dim (0 when broadcast)
	inner      int   // length of a row
	ia, ib     int   // inner strides: 1, or 0 when the operand is broadcast along the row
	idx        []int
	n          int
	aLen, bLen int
}

func newBcast(out, a, b []int) *bcast {
	r := len(out)
	pad := func(s []int) []int {
		p := make([]int, r)
		for i := range p {
			p[i] = 1
		}
		copy(p[r-len(s):], s)
		return p
	}
	pa, pb := pad(a), pad(b)
	// Collapse adjacent dims whose broadcast pattern (a full?, b full?) is the same.
	type dim struct {
		size         int
		fullA, fullB bool
	}
	var dims []dim
	for i := range r {
		if out[i] == 1 {
			continue
		}
		d := dim{out[i], pa[i] == out[i], pb[i] == out[i]}
		if len(dims) > 0 && dims[len(dims)-1].fullA == d.fullA && dims[len(dims)-1].fullB == d.fullB {
			dims[len(dims)-1].size *= d.size
			continue
		}
		dims = append(dims, d)
	}
	bc := &bcast{n: numel(out), aLen: numel(a), bLen: numel(b)}
	if len(dims) == 0 {
		bc.inner, bc.ia, bc.ib = 1, 0, 0
		return bc
	}
	last := dims[len(dims)-1]
	bc.inner = last.size
	if last.fullA {
		bc.ia = 1
	}
	if last.fullB {
		bc.ib = 1
	}
	strideA, strideB := 1, 1
	if last.fullA {
		strideA = last.size
	}
	if last.fullB {
		strideB = last.size
	}
	outer := dims[:len(dims)-1]
	bc.outer = make([]int, len(outer))
	bc.sa = make([]int, len(outer))
	bc.sb = make([]int, len(outer))
	for i := len(outer) - 1; i >= 0; i-- {
		bc.outer[i] = outer[i].size
		if outer[i].fullA {
			bc.sa[i] = strideA
			strideA *= outer[i].size
		}
		if outer[i].fullB {
			bc.sb[i] = strideB
			strideB *= outer[i].size
		}
	}
	bc.idx = make([]int, len(outer))
	return bc
}

// rows calls f for each output row with the offsets of the row in out, a and b.
func (bc *bcast) rows(f func(o, ao, bo int)) {
	if bc.n == 0 {
		return
	}
	clear(bc.idx)
	ao, bo := 0, 0
	for o := 0; o < bc.n; o += bc.inner {
		f(o, ao, bo)
		for d := len(bc.idx) - 1; d >= 0; d-- {
			bc.idx[d]++
			ao += bc.sa[d]
			bo += bc.sb[d]
			if bc.idx[d] < bc.outer[d] {
				break
			}
			ao -= bc.idx[d] * bc.sa[d]
			bo -= bc.idx[d] * bc.sb[d]
			bc.idx[d] = 0
		}
	}
}

type number interface {
	~float32 | ~float64 | ~int8 | ~uint8 | ~int16 | ~uint16 | ~int32 | ~uint32 | ~int64 | ~uint64
}

// binRow applies f along one row; ia and ib are 0 or 1.
func binRow[T, U number](dst []U, a, b []T, ia, ib int, f func(x, y T) U) {
	switch {
	case ia == 1 && ib == 1:
		b = b[:len(dst)]
		a = a[:len(dst)]
		for i := range dst {
			dst[i] = f(a[i], b[i])
		}
	case ia == 1:
		y := b[0]
		for i := range dst {
			dst[i] = f(a[i], y)
		}
	case ib == 1:
		x := a[0]
		for i := range dst {
			dst[i] = f(x, b[i])
		}
	default:
		v := f(a[0], b[0])
		for i := range dst {
			dst[i] = v
		}
	}
}

// f32Arith is the float32 fast path of Add/Sub/Mul/Div: plain loops the compiler keeps tight.
func f32Arith(op string, dst, a, b []float32, ia, ib int) {
	n := len(dst)
	switch {
	case ia == 1 && ib == 1:
		a, b = a[:n], b[:n]
		switch op {
		case "Add":
			kernels.Add(dst, a, b)
		case "Sub":
			for i := range dst {
				dst[i] = a[i] - b[i]
			}
		case "Mul":
			kernels.Mul(dst, a, b)
		case "Div":
			for i := range dst {
				dst[i] = a[i] / b[i]
			}
		}
	case ia == 1:
		y := b[0]
		a = a[:n]
		switch op {
		case "Add":
			kernels.AddScalar(dst, a, y)
		case "Sub":
			kernels.AddScalar(dst, a, -y)
		case "Mul":
			for i := range dst {
				dst[i] = a[i] * y
			}
		case "Div":
			for i := range dst {
				dst[i] = a[i] / y
			}
		}
	case ib == 1:
		x := a[0]
		b = b[:n]
		switch op {
		case "Add":
			kernels.AddScalar(dst, b, x)
		case "Sub":
			for i := range dst {
				dst[i] = x - b[i]
			}
		case "Mul":
			for i := range dst {
				dst[i] = x * b[i]
			}
		case "Div":
			for i := range dst {
				dst[i] = x / b[i]
			}
		}
	default:
		var v float32
		switch op {
		case "Add":
			v = a[0] + b[0]
		case "Sub":
			v = a[0] - b[0]
		case "Mul":
			v = a[0] * b[0]
		case "Div":
			v = a[0] / b[0]
		}
		for i := range dst {
			dst[i] = v
		}
	}
}

func arithF[T float32 | float64](op string) func(x, y T) T {
	switch op {
	case "Add":
		return func(x, y T) T { return x + y }
	case "Sub":
		return func(x, y T) T { return x - y }
	case "Mul":
		return func(x, y T) T { return x * y }
	case "Div":
		return func(x, y T) T { return x / y }
	case "Pow":
		return func(x, y T) T { return T(math.Pow(float64(x), float64(y))) }
	case "Max":
		return func(x, y T) T {
			if x != x || y != y {
				return T(math.NaN())
			}
			return max(x, y)
		}
	case "Min":
		return func(x, y T) T {
			if x != x || y != y {
				return T(math.NaN())
			}
			return min(x, y)
		}
	}
	return nil
}

func arithI[T number](op string, fmod bool) func(x, y T) T {
	switch op {
	case "Add", "Sum":
		return func(x, y T) T { return x + y }
	case "Sub":
		return func(x, y T) T { return x - y }
	case "Mul":
		return func(x, y T) T { return x * y }
	case "Div":
		return func(x, y T) T {
			if y == 0 {
				return 0
			}
			return x / y
		}
	case "Pow":
		return func(x, y T) T { return T(math.Pow(float64(x), float64(y))) }
	case "Max":
		return func(x, y T) T { return max(x, y) }
	case "Min":
		return func(x, y T) T { return min(x, y) }
	case "Mod":
		return func(x, y T) T {
			if y == 0 {
				return 0
			}
			fx, fy := float64(x), float64(y)
			r := math.Mod(fx, fy)
			if !fmod && r != 0 && (r < 0) != (fy < 0) {
				r += fy // Python-style: the result takes the divisor's sign
			}
			return T(r)
		}
	}
	return nil
}

func arithFloatMod[T float32 | float64](fmod bool) func(x, y T) T {
	return func(x, y T) T {
		r := math.Mod(float64(x), float64(y))
		if !fmod && r != 0 && (r < 0) != (y < 0) {
			r += float64(y)
		}
		return T(r)
	}
}

// binary plans out = f(a, b) with broadcasting, typed by T.
func binary[T, U number](b *build, x, y *Tensor, out *Tensor, f func(x, y T) U, fast func(dst []U, a, b []T, ia, ib int)) {
	bc := newBcast(out.Shape, x.Shape, y.Shape)
	b.run = func(*exec) {
		dst, av, bv := View[U](out), View[T](x), View[T](y)
		bc.rows(func(o, ao, bo int) {
			row := dst[o : o+bc.inner]
			if fast != nil {
				fast(row, av[ao:], bv[bo:], bc.ia, bc.ib)
			} else {
				binRow(row, av[ao:], bv[bo:], bc.ia, bc.ib, f)
			}
		})
	}
}

func (b *build) broadcastOut(x, y *Tensor) ([]int, error) {
	if x.DType != y.DType {
		return nil, b.errorf("operands are %s and %s; they must have the same type", x.DType, y.DType)
	}
	shape, ok := broadcastShape(x.Shape, y.Shape)
	if !ok {
		return nil, b.errorf("shapes %v and %v cannot be broadcast together", x.Shape, y.Shape)
	}
	return shape, nil
}

func buildArith(b *build) error {
	if err := b.legacyBroadcast(); err != nil {
		return err
	}
	x, err := b.input(0)
	if err != nil {
		return err
	}
	y, err := b.input(1)
	if err != nil {
		return err
	}
	op := b.node.op
	if op == "Pow" && x.DType != y.DType {
		// Pow allows a different exponent type: compute in float64, typed like the base.
		return buildMixedPow(b, x, y)
	}
	if op == "BitShift" {
		return buildBitShift(b, x, y)
	}
	shape, err := b.broadcastOut(x, y)
	if err != nil {
		return err
	}
	b.setOut(0, x.DType, shape)
	if sameShape(shape, x.Shape) {
		b.mayOverwrite(0, 0)
	}
	out := b.out[0]
	fmod := b.attrInt("fmod", 0) != 0
	if op == "Mod" && isFloat(x.DType) && !fmod {
		return b.unsupported("Mod of floats without fmod=1")
	}
	switch x.DType {
	case onnx.Float:
		if op == "Mod" {
			binary(b, x, y, out, arithFloatMod[float32](fmod), nil)
		} else if op == "Pow" {
			binary(b, x, y, out, arithF[float32](op), nil)
		} else {
			binary(b, x, y, out, nil, func(d, a, c []float32, ia, ib int) { f32Arith(op, d, a, c, ia, ib) })
		}
	case onnx.Double:
		if op == "Mod" {
			binary(b, x, y, out, arithFloatMod[float64](fmod), nil)
		} else {
			binary(b, x, y, out, arithF[float64](op), nil)
		}
	case onnx.Int32:
		binary(b, x, y, out, arithI[int32](op, fmod), nil)
	case onnx.Int64:
		binary(b, x, y, out, arithI[int64](op, fmod), nil)
	case onnx.Int8:
		binary(b, x, y, out, arithI[int8](op, fmod), nil)
	case onnx.Uint8:
		binary(b, x, y, out, arithI[uint8](op, fmod), nil)
	case onnx.Int16:
		binary(b, x, y, out, arithI[int16](op, fmod), nil)
	case onnx.Uint16:
		binary(b, x, y, out, arithI[uint16](op, fmod), nil)
	case onnx.Uint32:
		binary(b, x, y, out, arithI[uint32](op, fmod), nil)
	case onnx.Uint64:
		binary(b, x, y, out, arithI[uint64](op, fmod), nil)
	case onnx.Float16, onnx.BFloat16:
		f := arithF[float64](op)
		if op == "Mod" {
			f = arithFloatMod[float64](fmod)
		}
		binaryF64(b, x, y, out, f)
	default:
		return b.unsupported("%s of %s", op, x.DType)
	}
	return nil
}

// binaryF64 plans out = f(a, b) with broadcasting through float64 element access: the path of
// the 16-bit float types.
func binaryF64(b *build, x, y, out *Tensor, f func(x, y float64) float64) {
	bc := newBcast(out.Shape, x.Shape, y.Shape)
	b.run = func(*exec) {
		bc.rows(func(o, ao, bo int) {
			for i := range bc.inner {
				storeF64(out, o+i, f(loadF64(x, ao+i*bc.ia), loadF64(y, bo+i*bc.ib)))
			}
		})
	}
}

func buildBitShift(b *build, x, y *Tensor) error {
	shape, err := b.broadcastOut(x, y)
	if err != nil {
		return err
	}
	b.setOut(0, x.DType, shape)
	left := b.attrString("direction", "") == "LEFT"
	shift := func(v, s uint64) uint64 {
		if left {
			return v << s
		}
		return v >> s
	}
	switch x.DType {
	case onnx.Uint8:
		binary(b, x, y, b.out[0], func(v, s uint8) uint8 { return uint8(shift(uint64(v), uint64(s))) }, nil)
	case onnx.Uint16:
		binary(b, x, y, b.out[0], func(v, s uint16) uint16 { return uint16(shift(uint64(v), uint64(s))) }, nil)
	case onnx.Uint32:
		binary(b, x, y, b.out[0], func(v, s uint32) uint32 { return uint32(shift(uint64(v), uint64(s))) }, nil)
	case onnx.Uint64:
		binary(b, x, y, b.out[0], func(v, s uint64) uint64 { return shift(v, s) }, nil)
	default:
		return b.unsupported("BitShift of %s", x.DType)
	}
	return nil
}

func buildMixedPow(b *build, x, y *Tensor) error {
	for _, t := range []*Tensor{x, y} {
		if !isFloat(t.DType) && !isInt(t.DType) {
			return b.unsupported("Pow of %s", t.DType)
		}
	}
	shape, ok := broadcastShape(x.Shape, y.Shape)
	if !ok {
		return b.errorf("shapes %v and %v cannot be broadcast together", x.Shape, y.Shape)
	}
	b.setOut(0, x.DType, shape)
	out := b.out[0]
	bc := newBcast(shape, x.Shape, y.Shape)
	intBase := isInt(x.DType)
	b.run = func(*exec) {
		bc.rows(func(o, ao, bo int) {
			for i := range bc.inner {
				v := math.Pow(loadF64(x, ao+i*bc.ia), loadF64(y, bo+i*bc.ib))
				if intBase {
					storeI64(out, o+i, int64(v))
				} else {
					storeF64(out, o+i, v)
				}
			}
		})
	}
	return nil
}

func buildVariadic(b *build) error {
	var ins []*Tensor
	for _, t := range b.in {
		if t != nil {
			ins = append(ins, t)
		}
	}
	if len(ins) == 0 {
		return b.errorf("needs at least one input")
	}
	shape := ins[0].Shape
	for _, t := range ins[1:] {
		s, err := b.broadcastOut(ins[0], t)
		if err != nil {
			return err
		}
		if shape, err = b.broadcastOut(&Tensor{DType: t.DType, Shape: shape}, &Tensor{DType: t.DType, Shape: s}); err != nil {
			return err
		}
	}
	dt := ins[0].DType
	b.setOut(0, dt, shape)
	out := b.out[0]
	op := b.node.op
	if op == "Sum" || op == "Mean" {
		op = "Add"
	}
	type stage struct {
		bc  *bcast
		src *Tensor
	}
	var stages []stage
	for _, t := range ins {
		stages = append(stages, stage{newBcast(shape, shape, t.Shape), t})
	}
	var pair func(dst, a, c *Tensor, bc *bcast, first bool)
	switch dt {
	case onnx.Float:
		pair = variadicPair(arithF[float32](op))
	case onnx.Double:
		pair = variadicPair(arithF[float64](op))
	case onnx.Int32:
		pair = variadicPair(arithI[int32](op, false))
	case onnx.Int64:
		pair = variadicPair(arithI[int64](op, false))
	case onnx.Int8:
		pair = variadicPair(arithI[int8](op, false))
	case onnx.Uint8:
		pair = variadicPair(arithI[uint8](op, false))
	case onnx.Int16:
		pair = variadicPair(arithI[int16](op, false))
	case onnx.Uint16:
		pair = variadicPair(arithI[uint16](op, false))
	case onnx.Uint32:
		pair = variadicPair(arithI[uint32](op, false))
	case onnx.Uint64:
		pair = variadicPair(arithI[uint64](op, false))
	case onnx.Float16, onnx.BFloat16:
		f := arithF[float64](op)
		pair = func(dst, _, c *Tensor, bc *bcast, first bool) {
			bc.rows(func(o, _, bo int) {
				for i := range bc.inner {
					v := loadF64(c, bo+i*bc.ib)
					if !first {
						v = f(loadF64(dst, o+i), v)
					}
					storeF64(dst, o+i, v)
				}
			})
		}
	default:
		return b.unsupported("%s of %s", b.node.op, dt)
	}
	mean := b.node.op == "Mean"
	b.run = func(*exec) {
		for i, s := range stages {
			pair(out, out, s.src, s.bc, i == 0)
		}
		if mean {
			for i := range out.Len() {
				storeF64(out, i, loadF64(out, i)/float64(len(stages)))
			}
		}
	}
	return nil
}

// variadicPair folds one more input into dst (dst = f(dst, src)); the first input is copied.
func variadicPair[T number](f func(x, y T) T) func(dst, a, c *Tensor, bc *bcast, first bool) {
	return func(dst, a, c *Tensor, bc *bcast, first bool) {
		d, s := View[T](dst), View[T](c)
		bc.rows(func(o, _, bo int) {
			row := d[o : o+bc.inner]
			if first {
				if bc.ib == 1 {
					copy(row, s[bo:bo+bc.inner])
				} else {
					for i := range row {
						row[i] = s[bo]
					}
				}
				return
			}
			binRow(row, row, s[bo:], 1, bc.ib, f)
		})
	}
}

func buildCompare(b *build) error {
	if err := b.legacyBroadcast(); err != nil {
		return err
	}
	x, err := b.input(0)
	if err != nil {
		return err
	}
	y, err := b.input(1)
	if err != nil {
		return err
	}
	shape, err := b.broadcastOut(x, y)
	if err != nil {
		return err
	}
	b.setOut(0, onnx.Bool, shape)
	out := b.out[0]
	op := b.node.op
	switch op {
	case "And", "Or", "Xor":
		if x.DType != onnx.Bool {
			return b.errorf("%s needs bool inputs, not %s", op, x.DType)
		}
		binary(b, x, y, out, func(p, q uint8) uint8 {
			switch op {
			case "And":
				return p & q & 1
			case "Or":
				return (p | q) & 1
			}
			return (p ^ q) & 1
		}, nil)
		return nil
	}
	switch x.DType {
	case onnx.Float:
		binary(b, x, y, out, compare[float32](op), nil)
	case onnx.Double:
		binary(b, x, y, out, compare[float64](op), nil)
	case onnx.Int32:
		binary(b, x, y, out, compare[int32](op), nil)
	case onnx.Int64:
		binary(b, x, y, out, compare[int64](op), nil)
	case onnx.Int8:
		binary(b, x, y, out, compare[int8](op), nil)
	case onnx.Uint8, onnx.Bool:
		binary(b, x, y, out, compare[uint8](op), nil)
	case onnx.Int16:
		binary(b, x, y, out, compare[int16](op), nil)
	case onnx.Uint16:
		binary(b, x, y, out, compare[uint16](op), nil)
	case onnx.Uint32:
		binary(b, x, y, out, compare[uint32](op), nil)
	case onnx.Uint64:
		binary(b, x, y, out, compare[uint64](op), nil)
	default:
		return b.unsupported("%s of %s", op, x.DType)
	}
	return nil
}

func compare[T number](op string) func(x, y T) uint8 {
	bit := func(v bool) uint8 {
		if v {
			return 1
		}
		return 0
	}
	switch op {
	case "Equal":
		return func(x, y T) uint8 { return bit(x == y) }
	case "Less":
		return func(x, y T) uint8 { return bit(x < y) }
	case "Greater":
		return func(x, y T) uint8 { return bit(x > y) }
	case "LessOrEqual":
		return func(x, y T) uint8 { return bit(x <= y) }
	}
	return func(x, y T) uint8 { return bit(x >= y) }
}

func buildWhere(b *build) error {
	c, err := b.input(0)
	if err != nil {
		return err
	}
	x, err := b.input(1)
	if err != nil {
		return err
	}
	y, err := b.input(2)
	if err != nil {
		return err
	}
	if c.DType != onnx.Bool {
		return b.errorf("condition must be bool, not %s", c.DType)
	}
	s1, err := b.broadcastOut(x, y)
	if err != nil {
		return err
	}
	shape, ok := broadcastShape(s1, c.Shape)
	if !ok {
		return b.errorf("condition %v does not broadcast with %v", c.Shape, s1)
	}
	b.setOut(0, x.DType, shape)
	out := b.out[0]
	size := x.DType.Size()
	b.run = func(*exec) {
		for i := range numel(shape) {
			src, off := y, bcastOffset(i, shape, y.Shape)
			if c.Data[bcastOffset(i, shape, c.Shape)] != 0 {
				src, off = x, bcastOffset(i, shape, x.Shape)
			}
			copy(out.Data[i*size:(i+1)*size], src.Data[off*size:(off+1)*size])
		}
	}
	return nil
}

// bcastOffset maps a flat output index to the element of a broadcast operand (slow path: Where
// is rare in the models we target).
func bcastOffset(flat int, out, cond []int) int {
	off, stride := 0, 1
	r := len(out)
	for d := r - 1; d >= 0; d-- {
		i := flat % out[d]
		flat /= out[d]
		cd := d - (r - len(cond))
		if cd >= 0 && cond[cd] != 1 {
			off += i * stride
		}
		if cd >= 0 {
			stride *= cond[cd]
		}
	}
	return off
}

func buildPRelu(b *build) error {
	if err := b.legacyBroadcast(); err != nil {
		return err
	}
	x, err := b.input(0)
	if err != nil {
		return err
	}
	slope, err := b.input(1)
	if err != nil {
		return err
	}
	if b.opset < 7 && len(slope.Shape) == 1 && len(x.Shape) > 2 && slope.Shape[0] == x.Shape[1] && slope.Shape[0] > 1 {
		// Before opset 7 a 1-D slope holds one value per channel.
		if !slope.konst {
			return b.unsupported("a per-channel slope computed at run time (before opset 7)")
		}
		shape := slices.Repeat([]int{1}, len(x.Shape)-1)
		shape[0] = slope.Shape[0]
		slope = &Tensor{DType: slope.DType, Shape: shape, Data: slope.Data, konst: true}
	}
	shape, err := b.broadcastOut(x, slope)
	if err != nil {
		return err
	}
	if !sameShape(shape, x.Shape) {
		return b.errorf("slope %v must broadcast to the input %v", slope.Shape, x.Shape)
	}
	b.setOut(0, x.DType, shape)
	b.mayOverwrite(0, 0)
	prelu := func(v, s float64) float64 {
		if v < 0 {
			return v * s
		}
		return v
	}
	switch x.DType {
	case onnx.Float:
		binary(b, x, slope, b.out[0], func(v, s float32) float32 { return float32(prelu(float64(v), float64(s))) }, nil)
	case onnx.Double:
		binary(b, x, slope, b.out[0], prelu, nil)
	case onnx.Int32:
		binary(b, x, slope, b.out[0], func(v, s int32) int32 { return int32(prelu(float64(v), float64(s))) }, nil)
	case onnx.Int64:
		binary(b, x, slope, b.out[0], func(v, s int64) int64 { return int64(prelu(float64(v), float64(s))) }, nil)
	default:
		return b.unsupported("PRelu of %s", x.DType)
	}
	return nil
}

// unary describes a unary operator: its float64 meaning, and optional faster or integer forms.
type unary struct {
	f   func(b *build) func(float64) float64
	f32 func(b *build) func(dst, src []float32) // whole-slice float32 fast path
	i64 func(int64) int64                       // for integer inputs; nil: floats only
}

func fixed(f func(float64) float64) func(*build) func(float64) float64 {
	return func(*build) func(float64) float64 { return f }
}

var unaryOps = map[string]unary{
	"Relu": {f: fixed(func(x float64) float64 { return max(x, 0) }),
		f32: func(*build) func(dst, src []float32) {
			return func(dst, src []float32) { actInto(dst, src, kernels.Activation{Kind: kernels.ActRelu}) }
		},
		i64: func(x int64) int64 { return max(x, 0) }},
	"LeakyRelu": {f: func(b *build) func(float64) float64 {
		a := float64(b.attrFloat("alpha", 0.01))
		return func(x float64) float64 {
			if x < 0 {
				return a * x
			}
			return x
		}
	}, f32: func(b *build) func(dst, src []float32) {
		act := kernels.Activation{Kind: kernels.ActLeakyRelu, Alpha: b.attrFloat("alpha", 0.01)}
		return func(dst, src []float32) { actInto(dst, src, act) }
	}},
	"Sigmoid": {f: fixed(func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }),
		f32: func(*build) func(dst, src []float32) {
			return func(dst, src []float32) {
				for i, x := range src {
					dst[i] = float32(1 / (1 + math.Exp(float64(-x))))
				}
			}
		}},
	"Tanh": {f: fixed(math.Tanh), f32: func(*build) func(dst, src []float32) {
		return func(dst, src []float32) {
			for i, x := range src {
				dst[i] = float32(math.Tanh(float64(x)))
			}
		}
	}},
	"Exp":        {f: fixed(math.Exp)},
	"Log":        {f: fixed(math.Log)},
	"Sqrt":       {f: fixed(math.Sqrt)},
	"Neg":        {f: fixed(func(x float64) float64 { return -x }), i64: func(x int64) int64 { return -x }},
	"Abs":        {f: fixed(math.Abs), i64: func(x int64) int64 { return max(x, -x) }},
	"Reciprocal": {f: fixed(func(x float64) float64 { return 1 / x })},
	"Floor":      {f: fixed(math.Floor)},
	"Ceil":       {f: fixed(math.Ceil)},
	"Round":      {f: fixed(math.RoundToEven)},
	"Erf":        {f: fixed(math.Erf)},
	"Sin":        {f: fixed(math.Sin)},
	"Cos":        {f: fixed(math.Cos)},
	"Tan":        {f: fixed(math.Tan)},
	"Asin":       {f: fixed(math.Asin)},
	"Acos":       {f: fixed(math.Acos)},
	"Atan":       {f: fixed(math.Atan)},
	"Sinh":       {f: fixed(math.Sinh)},
	"Cosh":       {f: fixed(math.Cosh)},
	"Asinh":      {f: fixed(math.Asinh)},
	"Acosh":      {f: fixed(math.Acosh)},
	"Atanh":      {f: fixed(math.Atanh)},
	"Softplus":   {f: fixed(func(x float64) float64 { return math.Log1p(math.Exp(x)) })},
	"Softsign":   {f: fixed(func(x float64) float64 { return x / (1 + math.Abs(x)) })},
	"Sign": {f: fixed(func(x float64) float64 {
		switch {
		case x > 0:
			return 1
		case x < 0:
			return -1
		}
		return 0
	}), i64: func(x int64) int64 {
		switch {
		case x > 0:
			return 1
		case x < 0:
			return -1
		}
		return 0
	}},
	"Elu": {f: func(b *build) func(float64) float64 {
		a := float64(b.attrFloat("alpha", 1))
		return func(x float64) float64 {
			if x < 0 {
				return a * (math.Exp(x) - 1)
			}
			return x
		}
	}},
	"Selu": {f: func(b *build) func(float64) float64 {
		a := float64(b.attrFloat("alpha", 1.67326319217681884765625))
		g := float64(b.attrFloat("gamma", 1.05070102214813232421875))
		return func(x float64) float64 {
			if x <= 0 {
				return g * (a*math.Exp(x) - a)
			}
			return g * x
		}
	}},
	"Celu": {f: func(b *build) func(float64) float64 {
		a := float64(b.attrFloat("alpha", 1))
		return func(x float64) float64 { return max(0, x) + min(0, a*(math.Exp(x/a)-1)) }
	}},
	"ThresholdedRelu": {f: func(b *build) func(float64) float64 {
		a := float64(b.attrFloat("alpha", 1))
		return func(x float64) float64 {
			if x > a {
				return x
			}
			return 0
		}
	}},
	"HardSigmoid": {f: func(b *build) func(float64) float64 {
		a, c := float64(b.attrFloat("alpha", 0.2)), float64(b.attrFloat("beta", 0.5))
		return func(x float64) float64 { return max(0, min(1, a*x+c)) }
	}},
	"HardSwish": {f: fixed(func(x float64) float64 { return x * max(0, min(1, x/6+0.5)) })},
	"Mish":      {f: fixed(func(x float64) float64 { return x * math.Tanh(math.Log1p(math.Exp(x))) })},
	"Not":       {i64: func(x int64) int64 { return 1 - x&1 }},
	"Shrink": {f: func(b *build) func(float64) float64 {
		l, bias := float64(b.attrFloat("lambd", 0.5)), float64(b.attrFloat("bias", 0))
		return func(x float64) float64 {
			switch {
			case x < -l:
				return x + bias
			case x > l:
				return x - bias
			}
			return 0
		}
	}},
}

func actInto(dst, src []float32, act kernels.Activation) {
	if &dst[0] != &src[0] {
		copy(dst, src)
	}
	kernels.ApplyActivation(dst, act)
}

func buildUnary(b *build) error { return buildUnaryWith(b, unaryOps[b.node.op]) }

func buildUnaryWith(b *build, u unary) error {
	x, err := b.input(0)
	if err != nil {
		return err
	}
	b.setOut(0, x.DType, cloneShape(x.Shape))
	b.mayOverwrite(0, 0)
	out := b.out[0]
	switch {
	case b.node.op == "Not":
		if x.DType != onnx.Bool {
			return b.errorf("Not needs bool input, not %s", x.DType)
		}
		b.run = func(*exec) {
			for i, v := range x.Data {
				out.Data[i] = 1 - v&1
			}
		}
	case x.DType == onnx.Float && u.f32 != nil:
		f := u.f32(b)
		b.run = func(*exec) {
			if x.Len() > 0 {
				f(F32(out), F32(x))
			}
		}
	case isFloat(x.DType) && u.f != nil:
		f := u.f(b)
		b.run = func(*exec) {
			for i := range x.Len() {
				storeF64(out, i, f(loadF64(x, i)))
			}
		}
	case isInt(x.DType) && u.i64 != nil:
		b.run = func(*exec) {
			for i := range x.Len() {
				storeI64(out, i, u.i64(loadI64(x, i)))
			}
		}
	default:
		return b.unsupported("%s of %s", b.node.op, x.DType)
	}
	return nil
}

func buildClip(b *build) error {
	x, err := b.input(0)
	if err != nil {
		return err
	}
	lo, hi := math.Inf(-1), math.Inf(1)
	if b.opset < 11 {
		lo, hi = float64(b.attrFloat("min", float32(lo))), float64(b.attrFloat("max", float32(hi)))
	}
	b.setOut(0, x.DType, cloneShape(x.Shape))
	b.mayOverwrite(0, 0)
	out := b.out[0]
	minT, maxT := b.optional(1), b.optional(2)
	for _, t := range []*Tensor{minT, maxT} {
		if t != nil && (t.DType != x.DType || t.Len() != 1) {
			return b.errorf("min and max must be scalars of the input's type %s", x.DType)
		}
	}
	bound := func(t *Tensor, def float64) float64 {
		if t == nil || b.opset < 11 {
			return def
		}
		return loadF64(t, 0)
	}
	switch {
	case x.DType == onnx.Float:
		b.run = func(*exec) {
			act := kernels.Activation{Kind: kernels.ActClip, Min: float32(bound(minT, lo)), Max: float32(bound(maxT, hi))}
			if x.Len() > 0 {
				actInto(F32(out), F32(x), act)
			}
		}
	case isFloat(x.DType) || isInt(x.DType):
		b.run = func(*exec) {
			l, h := bound(minT, lo), bound(maxT, hi)
			for i := range x.Len() {
				if isInt(x.DType) {
					v := loadI64(x, i)
					if !math.IsInf(l, -1) {
						v = max(v, int64(l))
					}
					if !math.IsInf(h, 1) {
						v = min(v, int64(h))
					}
					storeI64(out, i, v)
					continue
				}
				storeF64(out, i, math.Max(l, math.Min(h, loadF64(x, i))))
			}
		}
	default:
		return b.unsupported("Clip of %s", x.DType)
	}
	return nil
}
