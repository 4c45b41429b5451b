package engine

import (
	"math"

	"github.com/tinymlaas/tinyml/internal/onnx"
)

// Normalisations and other operators that look at a whole axis or window: InstanceNormalization,
// LayerNormalization, GroupNormalization, LRN, MeanVarianceNormalization, Hardmax; and Gelu,
// IsNaN, IsInf.

func init() {
	register("InstanceNormalization", 6, buildInstanceNorm)
	register("LayerNormalization", 17, buildLayerNorm)
	register("LRN", 1, buildLRN)
	register("MeanVarianceNormalization", 9, buildMVN)
	register("Hardmax", 1, buildHardmax)
	register("Gelu", 20, buildGelu)
	register("IsNaN", 9, buildIsNaNInf)
	register("IsInf", 10, buildIsNaNInf)
}

// floatIn checks that input 0 is a float tensor and returns it.
func (b *build) floatIn() (*Tensor, error) {
	x, err := b.input(0)
	if err != nil {
		return nil, err
	}
	if !isFloat(x.DType) {
		return nil, b.unsupported("%s of %s", b.node.op, x.DType)
	}
	return x, nil
}

// normRows normalises rows of n values starting at the given offsets, each with the given stride
// between its values: y = (x − mean)/√(var + eps) · scale(j) + bias(j), where j is the value's
// position in the row. It returns mean and 1/√(var + eps) of the row.
func normRow(y, x *Tensor, base, n, stride int, eps float64, affine func(j int, v float64) float64) (float64, float64) {
	var mean float64
	if x.DType == onnx.Float {
		xs, ys := F32(x), F32(y)
		for j := range n {
			mean += float64(xs[base+j*stride])
		}
		mean /= float64(n)
		var v float64
		for j := range n {
			d := float64(xs[base+j*stride]) - mean
			v += d * d
		}
		inv := 1 / math.Sqrt(v/float64(n)+eps)
		for j := range n {
			i := base + j*stride
			ys[i] = float32(affine(j, (float64(xs[i])-mean)*inv))
		}
		return mean, inv
	}
	for j := range n {
		mean += loadF64(x, base+j*stride)
	}
	mean /= float64(n)
	var v float64
	for j := range n {
		d := loadF64(x, base+j*stride) - mean
		v += d * d
	}
	inv := 1 / math.Sqrt(v/float64(n)+eps)
	for j := range n {
		i := base + j*stride
		storeF64(y, i, affine(j, (loadF64(x, i)-mean)*inv))
	}
	return mean, inv
}

func buildInstanceNorm(b *build) error {
	x, err := b.floatIn()
	if err != nil {
		return err
	}
	scale, err := b.input(1)
	if err != nil {
		return err
	}
	bias, err := b.input(2)
	if err != nil {
		return err
	}
	if len(x.Shape) < 3 {
		return b.errorf("input %v must be (N, C, spatial...)", x.Shape)
	}
	n, c := x.Shape[0], x.Shape[1]
	if scale.Len() != c || bias.Len() != c || scale.DType != x.DType || bias.DType != x.DType {
		return b.errorf("scale %s%v and bias %s%v must hold %d values of %s", scale.DType, scale.Shape, bias.DType, bias.Shape, c, x.DType)
	}
	b.setOut(0, x.DType, cloneShape(x.Shape))
	b.mayOverwrite(0, 0)
	out := b.out[0]
	eps := float64(b.attrFloat("epsilon", 1e-5))
	plane := numel(x.Shape[2:])
	var s, t float64
	affine := func(_ int, v float64) float64 { return v*s + t }
	b.run = func(*exec) {
		for i := range n * c {
			s, t = loadF64(scale, i%c), loadF64(bias, i%c)
			normRow(out, x, i*plane, plane, 1, eps, affine)
		}
	}
	return nil
}

// unidirectional maps each position of shape `to` to the element of a tensor of shape `from`
// broadcast to it (nil when from is to).
func unidirectional(b *build, from, to []int, what string) ([]int, error) {
	if s, ok := broadcastShape(to, from); !ok || !sameShape(s, to) {
		return nil, b.errorf("%s %v does not broadcast to %v", what, from, to)
	}
	if numel(from) == numel(to) {
		return nil, nil
	}
	idx := make([]int, numel(to))
	for i := range idx {
		idx[i] = bcastOffset(i, to, from)
	}
	return idx, nil
}

func buildLayerNorm(b *build) error {
	x, err := b.floatIn()
	if err != nil {
		return err
	}
	scale, err := b.input(1)
	if err != nil {
		return err
	}
	bias := b.optional(2)
	r := len(x.Shape)
	axis, err := b.normAxis(b.attrInt("axis", -1), r)
	if err != nil {
		return err
	}
	inner := x.Shape[axis:]
	si, err := unidirectional(b, scale.Shape, inner, "scale")
	if err != nil {
		return err
	}
	var bi []int
	if bias != nil {
		if bi, err = unidirectional(b, bias.Shape, inner, "bias"); err != nil {
			return err
		}
	}
	statsType := x.DType
	if st := b.attrInt("stash_type", 1); st == 1 {
		statsType = onnx.Float
	} else if onnx.DType(st) != x.DType {
		return b.unsupported("stash_type %d", st)
	}
	b.setOut(0, x.DType, cloneShape(x.Shape))
	statShape := cloneShape(x.Shape)
	for i := axis; i < r; i++ {
		statShape[i] = 1
	}
	b.setOut(1, statsType, statShape)
	b.setOut(2, statsType, cloneShape(statShape))
	out := b.out[0]
	var meanT, invT *Tensor
	if len(b.out) > 1 {
		meanT = b.out[1]
	}
	if len(b.out) > 2 {
		invT = b.out[2]
	}
	eps := float64(b.attrFloat("epsilon", 1e-5))
	rows, n := numel(x.Shape[:axis]), numel(inner)
	at := func(idx []int, j int) int {
		if idx == nil {
			return j
		}
		return idx[j]
	}
	affine := func(j int, v float64) float64 {
		v *= loadF64(scale, at(si, j))
		if bias != nil {
			v += loadF64(bias, at(bi, j))
		}
		return v
	}
	if x.DType == onnx.Float && scale.DType == onnx.Float && (bias == nil || bias.DType == onnx.Float) {
		affine = func(j int, v float64) float64 {
			v *= float64(F32(scale)[at(si, j)])
			if bias != nil {
				v += float64(F32(bias)[at(bi, j)])
			}
			return v
		}
	}
	b.run = func(*exec) {
		for row := range rows {
			mean, inv := normRow(out, x, row*n, n, 1, eps, affine)
			if meanT != nil {
				storeF64(meanT, row, mean)
			}
			if invT != nil {
				storeF64(invT, row, inv)
			}
		}
	}
	return nil
}

func buildLRN(b *build) error {
	x, err := b.floatIn()
	if err != nil {
		return err
	}
	if len(x.Shape) < 3 {
		return b.errorf("input %v must be (N, C, spatial...)", x.Shape)
	}
	size := int(b.attrInt("size", 0))
	if size < 1 {
		return b.errorf("attribute size %d must be positive", size)
	}
	alpha := float64(b.attrFloat("alpha", 1e-4))
	beta := float64(b.attrFloat("beta", 0.75))
	bias := float64(b.attrFloat("bias", 1))
	b.setOut(0, x.DType, cloneShape(x.Shape))
	out := b.out[0]
	n, c, plane := x.Shape[0], x.Shape[1], numel(x.Shape[2:])
	lo, hi := (size-1)/2, (size-1)-(size-1)/2 // channels before and after
	b.run = func(*exec) {
		for img := range n {
			for ch := range c {
				for p := range plane {
					var sq float64
					for k := max(0, ch-lo); k <= min(c-1, ch+hi); k++ {
						v := loadF64(x, (img*c+k)*plane+p)
						sq += v * v
					}
					i := (img*c+ch)*plane + p
					storeF64(out, i, loadF64(x, i)/math.Pow(bias+alpha/float64(size)*sq, beta))
				}
			}
		}
	}
	return nil
}

func buildMVN(b *build) error {
	x, err := b.floatIn()
	if err != nil {
		return err
	}
	axes := b.attrInts("axes", []int64{0, 2, 3})
	red := make([]bool, len(x.Shape))
	for _, a := range axes {
		ax, err := b.normAxis(a, len(x.Shape))
		if err != nil {
			return err
		}
		red[ax] = true
	}
	b.setOut(0, x.DType, cloneShape(x.Shape))
	out := b.out[0]
	r := newReduction(x.Shape, red)
	b.run = func(*exec) {
		for o := range len(r.base) {
			var mean float64
			for j := range r.count {
				mean += loadF64(x, r.at(o, j))
			}
			mean /= float64(r.count)
			var v float64
			for j := range r.count {
				d := loadF64(x, r.at(o, j)) - mean
				v += d * d
			}
			std := math.Sqrt(v/float64(r.count)) + 1e-9
			for j := range r.count {
				i := r.at(o, j)
				storeF64(out, i, (loadF64(x, i)-mean)/std)
			}
		}
	}
	return nil
}

func buildHardmax(b *build) error {
	x, err := b.floatIn()
	if err != nil {
		return err
	}
	r := len(x.Shape)
	if r == 0 {
		return b.errorf("Hardmax of a scalar")
	}
	var outer, dim, inner int
	if b.opset < 13 { // coerced to 2-D at axis
		axis := b.attrInt("axis", 1)
		if axis < int64(-r) || axis > int64(r) {
			return b.errorf("axis %d is out of range for rank %d", axis, r)
		}
		if axis < 0 {
			axis += int64(r)
		}
		outer, dim, inner = numel(x.Shape[:axis]), numel(x.Shape[axis:]), 1
	} else {
		axis, err := b.normAxis(b.attrInt("axis", -1), r)
		if err != nil {
			return err
		}
		outer, dim, inner = numel(x.Shape[:axis]), x.Shape[axis], numel(x.Shape[axis+1:])
	}
	b.setOut(0, x.DType, cloneShape(x.Shape))
	out := b.out[0]
	b.run = func(*exec) {
		for o := range outer {
			for in := range inner {
				base := o*dim*inner + in
				best := 0
				for j := range dim {
					storeF64(out, base+j*inner, 0)
					if loadF64(x, base+j*inner) > loadF64(x, base+best*inner) {
						best = j
					}
				}
				if dim > 0 {
					storeF64(out, base+best*inner, 1)
				}
			}
		}
	}
	return nil
}

func buildGelu(b *build) error {
	var f func(float64) float64
	switch a := b.attrString("approximate", "none"); a {
	case "none":
		f = func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }
	case "tanh":
		c := math.Sqrt(2 / math.Pi)
		f = func(x float64) float64 { return 0.5 * x * (1 + math.Tanh(c*(x+0.044715*x*x*x))) }
	default:
		return b.errorf("unknown approximate %q (none or tanh)", a)
	}
	f32 := func(*build) func(dst, src []float32) {
		return func(dst, src []float32) {
			for i, v := range src {
				dst[i] = float32(f(float64(v)))
			}
		}
	}
	return buildUnaryWith(b, unary{f: fixed(f), f32: f32})
}

func buildIsNaNInf(b *build) error {
	x, err := b.floatIn()
	if err != nil {
		return err
	}
	b.setOut(0, onnx.Bool, cloneShape(x.Shape))
	out := b.out[0]
	isNaN := b.node.op == "IsNaN"
	neg, pos := b.attrInt("detect_negative", 1) != 0, b.attrInt("detect_positive", 1) != 0
	b.run = func(*exec) {
		for i := range x.Len() {
			v := loadF64(x, i)
			hit := math.IsNaN(v)
			if !isNaN {
				hit = (neg && math.IsInf(v, -1)) || (pos && math.IsInf(v, 1))
			}
			out.Data[i] = 0
			if hit {
				out.Data[i] = 1
			}
		}
	}
	return nil
}
