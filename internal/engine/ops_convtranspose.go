package engine

import (
	"slices"

	"github.com/tinymlaas/tinyml/internal/kernels"
	"github.com/tinymlaas/tinyml/internal/onnx"
)

// ConvTranspose (the gradient of Conv, the upsampling layer of decoders), and the general path of
// Conv for three or more spatial dimensions.

func init() {
	register("ConvTranspose", 1, buildConvTranspose)
}

// convTAxis is the geometry of ConvTranspose along one spatial axis.
type convTAxis struct {
	in, k, s, d, pb, out int
}

func buildConvTranspose(b *build) error {
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
	r := len(x.Shape)
	if r < 3 || len(wt.Shape) != r {
		return b.errorf("input %v and weights %v must both be (N, C, spatial...) of the same rank", x.Shape, wt.Shape)
	}
	n, c := x.Shape[0], x.Shape[1]
	group := int(b.attrInt("group", 1))
	if group < 1 || c%group != 0 || wt.Shape[0] != c {
		return b.errorf("input channels %d, group %d and weights %v do not agree", c, group, wt.Shape)
	}
	mg := wt.Shape[1]
	m := mg * group
	bias := b.optional(2)
	if bias != nil && bias.Len() != m {
		return b.errorf("bias has %d values for %d output channels", bias.Len(), m)
	}
	ns := r - 2
	kernel := b.attrInts("kernel_shape", nil)
	if kernel == nil {
		for _, d := range wt.Shape[2:] {
			kernel = append(kernel, int64(d))
		}
	}
	get := func(name string, def int64) ([]int64, error) {
		want := ns
		if name == "pads" {
			want = 2 * ns
		}
		v := b.attrInts(name, nil)
		if v == nil {
			v = slices.Repeat([]int64{def}, want)
		}
		if len(v) != want {
			return nil, b.errorf("attribute %s %v needs %d values", name, v, want)
		}
		return v, nil
	}
	strides, err := get("strides", 1)
	if err != nil {
		return err
	}
	dil, err := get("dilations", 1)
	if err != nil {
		return err
	}
	outPad, err := get("output_padding", 0)
	if err != nil {
		return err
	}
	pads, err := get("pads", 0)
	if err != nil {
		return err
	}
	if len(kernel) != ns {
		return b.errorf("kernel_shape %v does not match input %v", kernel, x.Shape)
	}
	outShape := b.attrInts("output_shape", nil)
	if len(outShape) == r {
		outShape = outShape[2:]
	}
	if outShape != nil && len(outShape) != ns {
		return b.errorf("output_shape %v needs %d values", outShape, ns)
	}
	ap := b.attrString("auto_pad", "NOTSET")
	axes := make([]convTAxis, ns)
	shape := []int{n, m}
	for i := range ns {
		a := convTAxis{in: x.Shape[2+i], k: int(kernel[i]), s: int(strides[i]), d: int(dil[i])}
		if a.k < 1 || a.s < 1 || a.d < 1 || a.k != wt.Shape[2+i] {
			return b.errorf("kernel %v, strides %v and dilations %v must be positive and match weights %v", kernel, strides, dil, wt.Shape)
		}
		full := a.s*(a.in-1) + int(outPad[i]) + (a.k-1)*a.d + 1
		switch {
		case outShape != nil || ap == "SAME_UPPER" || ap == "SAME_LOWER":
			want := a.in * a.s
			if outShape != nil {
				want = int(outShape[i])
			}
			// Python's floor division, as the spec's formulas mean it: a negative total
			// (output_shape beyond the full size) extends the end.
			total := full - want
			half := total >> 1
			a.pb = total - half
			if ap == "SAME_UPPER" {
				a.pb = half
			}
			a.out = want
		case ap == "VALID":
			a.out = full
		case ap == "NOTSET":
			a.pb = int(pads[i])
			a.out = full - int(pads[i]) - int(pads[i+ns])
		default:
			return b.errorf("unknown auto_pad %q", ap)
		}
		if a.out < 1 {
			return b.errorf("the output would have size %d along spatial axis %d", a.out, i)
		}
		axes[i] = a
		shape = append(shape, a.out)
	}
	b.setOut(0, onnx.Float, shape)
	out := b.out[0]
	cg := c / group
	kk := numel(wt.Shape[2:])
	inPlane, outPlane := numel(x.Shape[2:]), numel(shape[2:])
	b.macs = int64(n) * int64(c) * int64(inPlane) * int64(mg) * int64(kk)

	// Per (image, group): col = Wgᵀ·Xg, a (mg·kk)×inPlane matrix, then col2im adds each
	// column's kernel window into the output.
	rows := mg * kk
	var wT []float32 // per group: rows×cg, transposed weights
	transposeW := func(dst []float32) {
		ws := F32(wt)
		for g := range group {
			transpose2D(dst[g*rows*cg:(g+1)*rows*cg], ws[g*cg*rows:(g+1)*cg*rows], cg, rows)
		}
	}
	var wScratch region
	if wt.konst {
		v, err := b.node.memoize("convTransposeW", func() (any, error) {
			buf := make([]float32, group*rows*cg)
			transposeW(buf)
			return buf, nil
		})
		if err != nil {
			return err
		}
		wT = v.([]float32)
	} else {
		wScratch = b.askScratch(group * rows * cg * 4)
	}
	packSc := b.askScratch(kernels.PackedBLen(cg, inPlane) * 4)
	colSc := b.askScratch(rows * inPlane * 4)
	// scatter[j] lists, for kernel offset j and input position p, the output position (or -1).
	scatter := make([]int32, kk*inPlane)
	kIdx, pIdx := make([]int, ns), make([]int, ns)
	outStr := stridesOf(shape[2:])
	for j := range kk {
		rem := j
		for i := ns - 1; i >= 0; i-- {
			kIdx[i] = rem % axes[i].k
			rem /= axes[i].k
		}
		for p := range inPlane {
			rem := p
			for i := ns - 1; i >= 0; i-- {
				pIdx[i] = rem % axes[i].in
				rem /= axes[i].in
			}
			off := 0
			for i, a := range axes {
				o := pIdx[i]*a.s - a.pb + kIdx[i]*a.d
				if o < 0 || o >= a.out {
					off = -1
					break
				}
				off += o * outStr[i]
			}
			scatter[j*inPlane+p] = int32(off)
		}
	}
	b.run = func(*exec) {
		w := wT
		if w == nil {
			w = wScratch.f32()
			transposeW(w)
		}
		xs, ys := F32(x), F32(out)
		col := colSc.f32()
		for img := range n {
			for g := range group {
				src := xs[(img*c+g*cg)*inPlane : (img*c+(g+1)*cg)*inPlane]
				pb := kernels.PackB(packSc.f32(), cg, inPlane, src, max(inPlane, 1), false)
				kernels.Sgemm(rows, w[g*rows*cg:], max(cg, 1), pb, col, max(inPlane, 1), kernels.Epilogue{})
				for oc := range mg {
					dst := ys[(img*m+g*mg+oc)*outPlane : (img*m+g*mg+oc+1)*outPlane]
					var bv float32
					if bias != nil {
						bv = F32(bias)[g*mg+oc]
					}
					for i := range dst {
						dst[i] = bv
					}
					for j := range kk {
						cr := col[(oc*kk+j)*inPlane : (oc*kk+j+1)*inPlane]
						sc := scatter[j*inPlane : (j+1)*inPlane]
						for p, v := range cr {
							if o := sc[p]; o >= 0 {
								dst[o] += v
							}
						}
					}
				}
			}
		}
	}
	return nil
}

// buildConvND is Conv for three or more spatial dimensions: direct loops, float32.
func buildConvND(b *build, x, wt *Tensor, kernel []int64) error {
	axes, err := b.poolGeometry(x.Shape, kernel, false)
	if err != nil {
		return err
	}
	n, c := x.Shape[0], x.Shape[1]
	m, cg := wt.Shape[0], wt.Shape[1]
	group := int(b.attrInt("group", 1))
	if group < 1 || c%group != 0 || m%group != 0 || cg != c/group {
		return b.errorf("input channels %d, group %d and weights %v do not agree", c, group, wt.Shape)
	}
	for i, a := range axes {
		if a.k != wt.Shape[2+i] {
			return b.errorf("kernel_shape %v does not match weights %v", kernel, wt.Shape)
		}
	}
	bias := b.optional(2)
	if bias != nil && bias.Len() != m {
		return b.errorf("bias has %d values for %d output channels", bias.Len(), m)
	}
	shape := []int{n, m}
	for _, a := range axes {
		shape = append(shape, a.out)
	}
	b.setOut(0, onnx.Float, shape)
	out := b.out[0]
	ns := len(axes)
	inStr := stridesOf(x.Shape[2:])
	inPlane, outPlane := numel(x.Shape[2:]), numel(shape[2:])
	kk := numel(wt.Shape[2:])
	mg := m / group
	b.macs = int64(n) * int64(m) * int64(outPlane) * int64(cg) * int64(kk)
	// For each output position and kernel offset: the input offset, or -1 in the padding.
	taps := make([]int32, outPlane*kk)
	oIdx, kIdx := make([]int, ns), make([]int, ns)
	for o := range outPlane {
		rem := o
		for i := ns - 1; i >= 0; i-- {
			oIdx[i] = rem % axes[i].out
			rem /= axes[i].out
		}
		for j := range kk {
			rem := j
			for i := ns - 1; i >= 0; i-- {
				kIdx[i] = rem % axes[i].k
				rem /= axes[i].k
			}
			off := 0
			for i, a := range axes {
				p := oIdx[i]*a.s - a.pb + kIdx[i]*a.d
				if p < 0 || p >= a.in {
					off = -1
					break
				}
				off += p * inStr[i]
			}
			taps[o*kk+j] = int32(off)
		}
	}
	act := b.node.act
	b.run = func(*exec) {
		xs, ws, ys := F32(x), F32(wt), F32(out)
		for img := range n {
			for oc := range m {
				g := oc / mg
				dst := ys[(img*m+oc)*outPlane : (img*m+oc+1)*outPlane]
				var bv float32
				if bias != nil {
					bv = F32(bias)[oc]
				}
				for o := range dst {
					acc := bv
					t := taps[o*kk : (o+1)*kk]
					for ic := range cg {
						src := xs[(img*c+g*cg+ic)*inPlane : (img*c+g*cg+ic+1)*inPlane]
						w := ws[(oc*cg+ic)*kk : (oc*cg+ic+1)*kk]
						for j, off := range t {
							if off >= 0 {
								acc += w[j] * src[off]
							}
						}
					}
					dst[o] = acc
				}
				kernels.ApplyActivation(dst, act)
			}
		}
	}
	return nil
}
