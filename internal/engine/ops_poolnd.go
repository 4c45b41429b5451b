package engine

import (
	"math"
	"slices"

	"github.com/tinymlaas/tinyml/internal/onnx"
)

// The general pooling path: any number of spatial dimensions, any numeric type, MaxPool's
// Indices output, AveragePool's dilations. The float32 1-D/2-D case has its own fast kernel
// (pool2D in ops_nn.go).

// poolAxis is the window geometry along one spatial axis.
type poolAxis struct {
	in, k, s, d, pb, pe, out int
}

// poolGeometry reads kernel_shape, strides, dilations, pads, auto_pad and ceil_mode for the
// spatial dimensions of in (N, C, spatial...).
func (b *build) poolGeometry(in []int, kernel []int64, ceil bool) ([]poolAxis, error) {
	sp := in[2:]
	n := len(sp)
	if len(kernel) != n {
		return nil, b.errorf("kernel_shape %v does not match input %v", kernel, in)
	}
	get := func(name string, cnt int, def int64) ([]int64, error) {
		v := b.attrInts(name, nil)
		if v == nil {
			v = slices.Repeat([]int64{def}, cnt)
		}
		if len(v) != cnt {
			return nil, b.errorf("attribute %s %v needs %d values", name, v, cnt)
		}
		for _, x := range v {
			if x < 0 || (x == 0 && name != "pads") {
				return nil, b.errorf("attribute %s %v must be positive", name, v)
			}
		}
		return v, nil
	}
	strides, err := get("strides", n, 1)
	if err != nil {
		return nil, err
	}
	dil, err := get("dilations", n, 1)
	if err != nil {
		return nil, err
	}
	pads, err := get("pads", 2*n, 0)
	if err != nil {
		return nil, err
	}
	ap := b.attrString("auto_pad", "NOTSET")
	axes := make([]poolAxis, n)
	for i := range n {
		a := poolAxis{in: sp[i], k: int(kernel[i]), s: int(strides[i]), d: int(dil[i]), pb: int(pads[i]), pe: int(pads[i+n])}
		if a.k < 1 {
			return nil, b.errorf("kernel_shape %v must be positive", kernel)
		}
		ext := (a.k-1)*a.d + 1
		switch ap {
		case "NOTSET":
			a.out = outSize(a.in+a.pb+a.pe, ext, a.s, ceil)
			if ceil && (a.out-1)*a.s >= a.in+a.pb {
				a.out--
			}
		case "VALID":
			a.pb, a.pe = 0, 0
			a.out = outSize(a.in, ext, a.s, false)
		case "SAME_UPPER", "SAME_LOWER":
			a.out = (a.in + a.s - 1) / a.s
			pad := max(0, (a.out-1)*a.s+ext-a.in)
			a.pb = pad / 2
			if ap == "SAME_LOWER" {
				a.pb = pad - pad/2
			}
			a.pe = pad - a.pb
		default:
			return nil, b.errorf("unknown auto_pad %q", ap)
		}
		if a.out < 1 {
			return nil, b.errorf("the window (kernel %v) is larger than the padded input %v", kernel, sp)
		}
		axes[i] = a
	}
	return axes, nil
}

func buildPoolND(b *build, x *Tensor, kernel []int64, isMax bool) error {
	if !isFloat(x.DType) && !isInt(x.DType) {
		return b.unsupported("%s of %s", b.node.op, x.DType)
	}
	axes, err := b.poolGeometry(x.Shape, kernel, b.attrInt("ceil_mode", 0) != 0)
	if err != nil {
		return err
	}
	shape := []int{x.Shape[0], x.Shape[1]}
	for _, a := range axes {
		shape = append(shape, a.out)
	}
	b.setOut(0, x.DType, shape)
	var indices *Tensor
	if len(b.out) > 1 && b.out[1] != nil {
		if !isMax {
			return b.errorf("AveragePool has one output")
		}
		b.setOut(1, onnx.Int64, cloneShape(shape))
		indices = b.out[1]
	}
	colMajor := b.attrInt("storage_order", 0) != 0
	includePad := b.attrInt("count_include_pad", 0) != 0
	out := b.out[0]
	n := len(axes)
	inStride := stridesOf(x.Shape[2:])
	colStride := make([]int, n) // column-major strides for Indices with storage_order=1
	s := 1
	for i := range n {
		colStride[i] = s
		s *= axes[i].in
	}
	plane, outPlane := numel(x.Shape[2:]), numel(shape[2:])
	oIdx, kIdx := make([]int, n), make([]int, n)
	kernelN := 1
	for _, a := range axes {
		kernelN *= a.k
	}
	b.run = func(*exec) {
		for p := range x.Shape[0] * x.Shape[1] {
			clear(oIdx)
			for o := range outPlane {
				acc := 0.0
				if isMax {
					acc = math.Inf(-1)
				}
				best, count, padCount := -1, 0, 0
				clear(kIdx)
				for range kernelN {
					off, col, inside, inPad := 0, 0, true, true
					for i, a := range axes {
						pos := oIdx[i]*a.s - a.pb + kIdx[i]*a.d
						if pos < 0 || pos >= a.in {
							inside = false
						}
						if pos >= a.in+a.pe {
							inPad = false
						}
						off += pos * inStride[i]
						col += pos * colStride[i]
					}
					if inPad {
						padCount++
					}
					if inside {
						v := loadF64(x, p*plane+off)
						count++
						if isMax {
							if v > acc || best < 0 || v != v {
								acc, best = v, off
								if colMajor {
									best = col
								}
							}
						} else {
							acc += v
						}
					}
					for i := n - 1; i >= 0; i-- {
						kIdx[i]++
						if kIdx[i] < axes[i].k {
							break
						}
						kIdx[i] = 0
					}
				}
				if !isMax {
					if includePad {
						count = padCount
					}
					if count > 0 {
						acc /= float64(count)
					}
				}
				at := p*outPlane + o
				storeF64(out, at, acc)
				if indices != nil {
					View[int64](indices)[at] = int64(p*plane + max(best, 0))
				}
				for i := n - 1; i >= 0; i-- {
					oIdx[i]++
					if oIdx[i] < axes[i].out {
						break
					}
					oIdx[i] = 0
				}
			}
		}
	}
	return nil
}
