package engine

import (
	"math"

	"github.com/tinymlaas/tinyml/internal/onnx"
)

// Resize and its predecessor Upsample: nearest, (multi)linear and cubic interpolation along any
// axes, with ONNX's coordinate transformation modes. The interpolation is separable: one pass per
// resized axis, the last axis first (the order of ONNX's reference, which matters only for
// tf_crop_and_resize's extrapolation).

func init() {
	register("Resize", 10, buildResize)
	register("Upsample", 7, buildUpsample)
}

// resizeSpec is what Resize and Upsample share once their attributes and inputs are read.
type resizeSpec struct {
	mode, coord, nearest string
	cubicA               float64
	excludeOutside       bool
	extrapolation        float64
	scales               []float64 // per axis
	roi                  []float64 // starts then ends, per axis; nil unless tf_crop_and_resize
}

// axisTaps says, for one axis, which input positions (idx) with which weights (w) make each
// output position: k taps per output position. outside marks positions that take the
// extrapolation value.
type axisTaps struct {
	inLen, outLen, k int
	idx              []int
	w                []float64
	outside          []bool
}

func (t *axisTaps) identity() bool {
	if t.inLen != t.outLen {
		return false
	}
	for o := range t.outLen {
		for j := range t.k {
			w := t.w[o*t.k+j]
			if t.outside[o] || (w != 0 && (t.idx[o*t.k+j] != o || w != 1)) {
				return false
			}
		}
	}
	return true
}

// originalCoord maps an output coordinate to the input (ONNX Resize's
// coordinate_transformation_mode). It reports false when tf_crop_and_resize lands outside.
func (s *resizeSpec) originalCoord(x float64, axis, inLen, outLen int) (float64, bool) {
	scale := s.scales[axis]
	outW := scale * float64(inLen) // the reference uses the unrounded output length
	switch s.coord {
	case "half_pixel":
		return (x+0.5)/scale - 0.5, true
	case "half_pixel_symmetric":
		adj := float64(outLen) / outW
		return float64(inLen)/2*(1-adj) + (x+0.5)/scale - 0.5, true
	case "pytorch_half_pixel":
		if outLen == 1 {
			return -0.5, true
		}
		return (x+0.5)/scale - 0.5, true
	case "align_corners":
		if outW == 1 {
			return 0, true
		}
		return x * float64(inLen-1) / (outW - 1), true
	case "asymmetric":
		return x / scale, true
	case "tf_half_pixel_for_nn":
		return (x + 0.5) / scale, true
	case "tf_crop_and_resize":
		r := len(s.scales)
		start, end := s.roi[axis], s.roi[axis+r]
		var v float64
		if outW == 1 {
			v = (end - start) * float64(inLen-1) / 2
		} else {
			v = x * (end - start) * float64(inLen-1) / (outW - 1)
		}
		v += start * float64(inLen-1)
		return v, v >= 0 && v <= float64(inLen-1)
	}
	return 0, false
}

func cubicCoeffs(r, a float64) [4]float64 {
	s := 1 - r
	return [4]float64{
		((a*(r+1)-5*a)*(r+1)+8*a)*(r+1) - 4*a,
		((a+2)*r-(a+3))*r*r + 1,
		((a+2)*s-(a+3))*s*s + 1,
		((a*(s+1)-5*a)*(s+1)+8*a)*(s+1) - 4*a,
	}
}

func (s *resizeSpec) taps(axis, inLen, outLen int) axisTaps {
	k := map[string]int{"nearest": 1, "linear": 2, "cubic": 4}[s.mode]
	t := axisTaps{inLen: inLen, outLen: outLen, k: k, idx: make([]int, outLen*k), w: make([]float64, outLen*k), outside: make([]bool, outLen)}
	clampIdx := func(i int) int { return min(max(i, 0), inLen-1) }
	for o := range outLen {
		x, ok := s.originalCoord(float64(o), axis, inLen, outLen)
		if !ok {
			t.outside[o] = true
			continue
		}
		x0 := math.Floor(x)
		r := x - x0
		i0 := int(x0)
		switch s.mode {
		case "nearest":
			i := i0
			if r != 0 {
				up := false
				switch s.nearest {
				case "round_prefer_floor":
					up = r > 0.5
				case "round_prefer_ceil":
					up = r >= 0.5
				case "ceil":
					up = true
				}
				if up {
					i++
				}
			}
			t.idx[o], t.w[o] = clampIdx(i), 1
		case "linear":
			t.idx[o*2], t.w[o*2] = clampIdx(i0), 1-r
			t.idx[o*2+1], t.w[o*2+1] = clampIdx(i0+1), r
		case "cubic":
			c := cubicCoeffs(r, s.cubicA)
			var total float64
			for j := range 4 {
				i := i0 - 1 + j
				w := c[j]
				if s.excludeOutside && (i < 0 || i >= inLen) {
					w = 0
				}
				t.idx[o*4+j], t.w[o*4+j] = clampIdx(i), w
				total += w
			}
			if s.excludeOutside && total != 0 {
				for j := range 4 {
					t.w[o*4+j] /= total
				}
			}
		}
	}
	return t
}

// resizePlan plans the resize of x to shape with spec: nearest as one gather, linear and cubic
// as one pass per resized axis through scratch.
func resizePlan(b *build, x *Tensor, shape []int, spec *resizeSpec) error {
	r := len(x.Shape)
	b.setOut(0, x.DType, shape)
	out := b.out[0]
	var passes []int // axes to interpolate, last first
	taps := make([]axisTaps, r)
	for a := r - 1; a >= 0; a-- {
		taps[a] = spec.taps(a, x.Shape[a], shape[a])
		if !taps[a].identity() {
			passes = append(passes, a)
		}
	}
	if out.Len() == 0 {
		b.run = func(*exec) {}
		return nil
	}
	if len(passes) == 0 {
		b.alias(0, 0)
		b.run = func(*exec) {}
		return nil
	}
	if spec.mode == "nearest" {
		return resizeNearest(b, x, out, taps, spec)
	}
	if x.DType != onnx.Float && x.DType != onnx.Double {
		return b.unsupported("%s interpolation of %s", spec.mode, x.DType)
	}
	// Intermediate shapes: after each pass one more axis has its output length.
	cur := cloneShape(x.Shape)
	maxLen := 0
	type pass struct {
		outer, inner int
		t            *axisTaps
		last         bool
	}
	var ps []pass
	for i, a := range passes {
		ps = append(ps, pass{outer: numel(cur[:a]), inner: numel(cur[a+1:]), t: &taps[a], last: i == len(passes)-1})
		cur[a] = shape[a]
		if i < len(passes)-1 {
			maxLen = max(maxLen, numel(cur))
		}
	}
	ext := spec.extrapolation
	if x.DType == onnx.Float {
		bufs := [2]region{b.askScratch(maxLen * 4), b.askScratch(maxLen * 4)}
		b.run = func(*exec) {
			src := F32(x)
			for i, p := range ps {
				dst := F32(out)
				if !p.last {
					dst = bufs[i%2].f32()
				}
				resizePass(dst, src, p.outer, p.inner, p.t, float32(ext))
				src = dst
			}
		}
		return nil
	}
	bufs := [2]region{b.askScratch(maxLen * 8), b.askScratch(maxLen * 8)}
	b.run = func(*exec) {
		src := View[float64](x)
		for i, p := range ps {
			dst := View[float64](out)
			if !p.last {
				dst = f64s(bufs[i%2].bytes())
			}
			resizePass(dst, src, p.outer, p.inner, p.t, ext)
			src = dst
		}
	}
	return nil
}

func f64s(b []byte) []float64 {
	return View[float64](&Tensor{Data: b})
}

// resizePass interpolates along one axis: src is (outer, t.inLen, inner), dst (outer, t.outLen,
// inner).
func resizePass[T float32 | float64](dst, src []T, outer, inner int, t *axisTaps, ext T) {
	for o := range outer {
		s := src[o*t.inLen*inner : (o+1)*t.inLen*inner]
		d := dst[o*t.outLen*inner : (o+1)*t.outLen*inner]
		for y := range t.outLen {
			row := d[y*inner : (y+1)*inner]
			if t.outside[y] {
				for i := range row {
					row[i] = ext
				}
				continue
			}
			clear(row)
			for j := range t.k {
				w := T(t.w[y*t.k+j])
				if w == 0 {
					continue
				}
				in := s[t.idx[y*t.k+j]*inner : (t.idx[y*t.k+j]+1)*inner]
				for i, v := range in {
					row[i] += w * v
				}
			}
		}
	}
}

// resizeNearest gathers each output element from the input element its per-axis indices name.
func resizeNearest(b *build, x, out *Tensor, taps []axisTaps, spec *resizeSpec) error {
	r := len(x.Shape)
	st := stridesOf(x.Shape)
	size := x.DType.Size()
	shape := out.Shape
	idx := make([]int, r)
	var extBytes []byte
	anyOutside := false
	for a := range taps {
		for _, o := range taps[a].outside {
			anyOutside = anyOutside || o
		}
	}
	if anyOutside {
		e := NewTensor(x.DType, 1)
		storeF64(e, 0, spec.extrapolation)
		extBytes = e.Data
	}
	b.run = func(*exec) {
		clear(idx)
		n := out.Len()
		for o := range n {
			off, outside := 0, false
			for a := range r {
				t := &taps[a]
				outside = outside || t.outside[idx[a]]
				off += t.idx[idx[a]] * st[a]
			}
			if outside {
				copy(out.Data[o*size:(o+1)*size], extBytes)
			} else {
				copy(out.Data[o*size:(o+1)*size], x.Data[off*size:(off+1)*size])
			}
			for a := r - 1; a >= 0; a-- {
				idx[a]++
				if idx[a] < shape[a] {
					break
				}
				idx[a] = 0
			}
		}
	}
	return nil
}

// constFloats reads a constant float input (scales, roi).
func (b *build) constFloats(i int, what string) ([]float64, bool, error) {
	t := b.optional(i)
	if t == nil {
		return nil, false, nil
	}
	if !t.konst {
		return nil, false, b.unsupported("%s computed at run time (input %d; the output's shape depends on it)", what, i)
	}
	if !isFloat(t.DType) {
		return nil, false, b.errorf("%s (input %d) must be floats, not %s", what, i, t.DType)
	}
	v := make([]float64, t.Len())
	for j := range v {
		v[j] = loadF64(t, j)
	}
	return v, true, nil
}

func buildResize(b *build) error {
	x, err := b.input(0)
	if err != nil {
		return err
	}
	r := len(x.Shape)
	spec := &resizeSpec{
		mode:          b.attrString("mode", "nearest"),
		coord:         b.attrString("coordinate_transformation_mode", "half_pixel"),
		nearest:       b.attrString("nearest_mode", "round_prefer_floor"),
		cubicA:        float64(b.attrFloat("cubic_coeff_a", -0.75)),
		extrapolation: float64(b.attrFloat("extrapolation_value", 0)),
	}
	spec.excludeOutside = b.attrInt("exclude_outside", 0) != 0
	if b.attrInt("antialias", 0) != 0 {
		return b.unsupported("Resize with antialias")
	}
	if p := b.attrString("keep_aspect_ratio_policy", "stretch"); p != "stretch" {
		return b.unsupported("Resize keep_aspect_ratio_policy %q", p)
	}
	if b.attrInts("axes", nil) != nil {
		return b.unsupported("Resize with axes")
	}
	var scales, roi []float64
	var sizes []int64
	if b.opset < 11 { // Resize-10: X, scales; asymmetric coordinates, nearest rounds down
		spec.coord, spec.nearest = "asymmetric", "floor"
		if scales, _, err = b.constFloats(1, "scales"); err != nil {
			return err
		}
	} else {
		if roi, _, err = b.constFloats(1, "roi"); err != nil {
			return err
		}
		if scales, _, err = b.constFloats(2, "scales"); err != nil {
			return err
		}
		if sizes, _, err = b.constInts(3, "sizes"); err != nil {
			return err
		}
	}
	return resizeShape(b, x, spec, r, scales, sizes, roi)
}

// resizeShape fixes the output shape from scales or sizes and plans the resize.
func resizeShape(b *build, x *Tensor, spec *resizeSpec, r int, scales []float64, sizes []int64, roi []float64) error {
	switch spec.mode {
	case "nearest", "linear", "cubic":
	default:
		return b.errorf("unknown mode %q (nearest, linear or cubic)", spec.mode)
	}
	switch spec.coord {
	case "half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn":
	case "tf_crop_and_resize":
		if len(roi) != 2*r {
			return b.errorf("tf_crop_and_resize needs roi with %d values, not %v", 2*r, roi)
		}
		spec.roi = roi
	default:
		return b.errorf("unknown coordinate_transformation_mode %q", spec.coord)
	}
	switch spec.nearest {
	case "round_prefer_floor", "round_prefer_ceil", "floor", "ceil":
	default:
		return b.errorf("unknown nearest_mode %q", spec.nearest)
	}
	shape := make([]int, r)
	switch {
	case len(scales) > 0 && len(sizes) > 0:
		return b.errorf("scales and sizes are both given; give one")
	case len(scales) > 0:
		if len(scales) != r {
			return b.errorf("scales %v need one value per dimension of %v", scales, x.Shape)
		}
		for i, s := range scales {
			if s <= 0 {
				return b.errorf("scales %v must be positive", scales)
			}
			f := float64(x.Shape[i]) * s
			if spec.roi != nil {
				f *= spec.roi[i+r] - spec.roi[i]
			}
			shape[i] = int(math.Floor(f))
		}
		spec.scales = scales
	case len(sizes) > 0:
		if len(sizes) != r {
			return b.errorf("sizes %v need one value per dimension of %v", sizes, x.Shape)
		}
		spec.scales = make([]float64, r)
		for i, s := range sizes {
			if s < 0 || (s > 0 && x.Shape[i] == 0) {
				return b.errorf("sizes %v do not fit the input %v", sizes, x.Shape)
			}
			shape[i] = int(s)
			spec.scales[i] = 1
			if x.Shape[i] > 0 {
				spec.scales[i] = float64(s) / float64(x.Shape[i])
			}
		}
	default:
		return b.errorf("neither scales nor sizes is given")
	}
	return resizePlan(b, x, shape, spec)
}

func buildUpsample(b *build) error {
	x, err := b.input(0)
	if err != nil {
		return err
	}
	spec := &resizeSpec{mode: b.attrString("mode", "nearest"), coord: "asymmetric", nearest: "floor"}
	var scales []float64
	if b.opset < 9 {
		for _, s := range b.node.src.AttrFloats("scales", nil) {
			scales = append(scales, float64(s))
		}
	} else if scales, _, err = b.constFloats(1, "scales"); err != nil {
		return err
	}
	if spec.mode == "bilinear" {
		spec.mode = "linear"
	}
	return resizeShape(b, x, spec, len(x.Shape), scales, nil, nil)
}
