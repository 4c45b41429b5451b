package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// refConv is the direct definition of a convolution of one image and one
// group (weights m × c × kh × kw, ONNX order) with an epilogue, in float64;
// scale is the sum of the magnitudes of each output's terms.
func refConv(src []float32, g ConvGeom, w []float32, m int, ep Epilogue, c []float32, ldc int) (want, scale []float64) {
	ohw := g.OH * g.OW
	want, scale = make([]float64, m*ohw), make([]float64, m*ohw)
	for o := range m {
		for oy := range g.OH {
			for ox := range g.OW {
				var s, sc float64
				for ci := range g.C {
					for ki := range g.KH {
						for kj := range g.KW {
							iy, ix := oy*g.StrideH-g.PadT+ki*g.DilH, ox*g.StrideW-g.PadL+kj*g.DilW
							if iy < 0 || iy >= g.H || ix < 0 || ix >= g.W {
								continue
							}
							t := float64(w[((o*g.C+ci)*g.KH+ki)*g.KW+kj]) * float64(src[(ci*g.H+iy)*g.W+ix])
							s += t
							sc += math.Abs(t)
						}
					}
				}
				j := oy*g.OW + ox
				if ep.Alpha != 0 {
					s *= float64(ep.Alpha)
					sc *= math.Abs(float64(ep.Alpha))
				}
				if ep.RowBias != nil {
					s += float64(ep.RowBias[o])
					sc += math.Abs(float64(ep.RowBias[o]))
				}
				if ep.Accumulate {
					s += float64(c[o*ldc+j])
					sc += math.Abs(float64(c[o*ldc+j]))
				}
				want[o*ohw+j] = float64(ep.Act.apply(float32(s)))
				scale[o*ohw+j] = sc
			}
		}
	}
	return want, scale
}

// shiftGeoms are convGeoms as ConvGeoms, with more channels.
func shiftGeoms() []ConvGeom {
	var gs []ConvGeom
	for _, g := range convGeoms() {
		c, h, w, kh, kw, padT, padL, padB, padR, sh, sw, dh, dw := g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10], g[11], g[12]
		oh, ow := outSize(h, kh, padT, padB, sh, dh), outSize(w, kw, padL, padR, sw, dw)
		if oh < 1 || ow < 1 {
			continue
		}
		gs = append(gs, ConvGeom{C: c, H: h, W: w, KH: kh, KW: kw, PadT: padT, PadL: padL, StrideH: sh, StrideW: sw, DilH: dh, DilW: dw, OH: oh, OW: ow})
	}
	same := func(c, hw, s int) ConvGeom {
		o := (hw+2-3)/s + 1
		return ConvGeom{C: c, H: hw, W: hw, KH: 3, KW: 3, PadT: 1, PadL: 1, StrideH: s, StrideW: s, DilH: 1, DilW: 1, OH: o, OW: o}
	}
	gs = append(gs, same(16, 28, 1), same(3, 7, 1), same(5, 7, 2), same(1, 28, 2), same(33, 4, 1), same(2, 9, 2),
		ConvGeom{C: 7, H: 7, W: 7, KH: 1, KW: 1, StrideH: 2, StrideW: 2, DilH: 1, DilW: 1, OH: 4, OW: 4},
		ConvGeom{C: 2, H: 5, W: 9, KH: 3, KW: 3, PadT: 1, PadL: 1, StrideH: 1, StrideW: 2, DilH: 1, DilW: 1, OH: 5, OW: 5},
		ConvGeom{C: 2, H: 6, W: 9, KH: 3, KW: 3, PadT: 1, PadL: 1, StrideH: 1, StrideW: 2, DilH: 1, DilW: 1, OH: 6, OW: 5},
		ConvGeom{C: 300, H: 3, W: 3, KH: 1, KW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, OH: 3, OW: 3})
	return gs
}

func TestSgemmShift(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	acts := []Activation{{Kind: ActNone}, {Kind: ActRelu}, {Kind: ActClip, Min: -0.3, Max: 0.4}, {Kind: ActLeakyRelu, Alpha: 0.2}}
	forEachImpl(t, func(t *testing.T) {
		supported := 0
		for gi, g := range shiftGeoms() {
			for _, images := range []int{1, 3} {
				s, ok := NewShiftConv(g, images)
				if !ok {
					continue
				}
				supported++
				m := []int{1, 5, 8, 16, 19}[(gi+images)%5]
				chw, ohw := g.C*g.H*g.W, g.OH*g.OW
				imgStride := chw + 3
				src := randSlice(r, (images-1)*imgStride+chw)
				w := randSlice(r, m*s.K())
				packed := make([]float32, m*s.K())
				s.PackWeights(packed, w, m)
				ep := Epilogue{Act: acts[gi%len(acts)], Accumulate: gi%3 == 0}
				if gi%2 == 0 {
					ep.RowBias = randSlice(r, m)
				}
				if gi%5 == 1 {
					ep.Alpha = 0.5
				}
				n := s.N()
				ldc := n + 2
				c := randSlice(r, m*ldc)
				for o := range m {
					c[o*ldc+n], c[o*ldc+n+1] = guard, guard
				}
				orig := append([]float32(nil), c...)
				gathered := make([]float32, s.GatherLen()+1)
				gathered[s.GatherLen()] = guard
				b := s.Gather(gathered[:s.GatherLen()], src, imgStride)
				require.Equal(t, guard, gathered[s.GatherLen()])
				SgemmShift(m, packed, s.K(), b, c, ldc, ep)
				for img := range images {
					prev := make([]float32, m*ohw)
					for o := range m {
						copy(prev[o*ohw:(o+1)*ohw], orig[o*ldc+img*ohw:])
					}
					want, scale := refConv(src[img*imgStride:], g, w, m, ep, prev, ohw)
					for o := range m {
						for j := range ohw {
							got := float64(c[o*ldc+img*ohw+j])
							tol := 1e-5*scale[o*ohw+j] + 1e-6
							if math.Abs(got-want[o*ohw+j]) > tol {
								require.InDeltaf(t, want[o*ohw+j], got, tol, "geometry %+v images %d: out[%d][%d][%d]", g, images, img, o, j)
							}
						}
					}
				}
				for o := range m {
					require.Equal(t, guard, c[o*ldc+n])
					require.Equal(t, guard, c[o*ldc+n+1])
				}
			}
		}
		require.Greater(t, supported, 100)
	})
}

func TestShiftConvSupport(t *testing.T) {
	g := ConvGeom{C: 1, H: 8, W: 8, KH: 3, KW: 3, PadT: 0, PadL: 0, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, OH: 6, OW: 6}
	_, ok := NewShiftConv(g, 1)
	require.False(t, ok, "stride 1 with a smaller output")
	g.PadT, g.PadL, g.OH, g.OW = 1, 1, 8, 8
	s, ok := NewShiftConv(g, 1)
	require.True(t, ok)
	require.Zero(t, s.GatherLen(), "stride 1, one image: read in place")
	s, ok = NewShiftConv(g, 2)
	require.True(t, ok)
	require.Equal(t, 2*64, s.GatherLen())
	g.StrideH, g.StrideW, g.OH, g.OW = 2, 2, 4, 4
	s, ok = NewShiftConv(g, 1)
	require.True(t, ok)
	require.Equal(t, 4*16, s.GatherLen(), "four phase planes")
	_, ok = NewShiftConv(ConvGeom{}, 1)
	require.False(t, ok)
}

func TestDepthwiseShift(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	acts := []Activation{{Kind: ActNone}, {Kind: ActRelu}, {Kind: ActClip, Min: -0.3, Max: 0.4}, {Kind: ActLeakyRelu, Alpha: 0.2}}
	forEachImpl(t, func(t *testing.T) {
		supported := 0
		for gi, g := range shiftGeoms() {
			g.C = 1 + gi%4
			s, ok := NewShiftConv(g, 1)
			if !ok {
				continue
			}
			supported++
			taps := g.KH * g.KW
			chw, ohw := g.C*g.H*g.W, g.OH*g.OW
			src, ker := randSlice(r, chw), randSlice(r, g.C*taps)
			var bias []float32
			if gi%2 == 0 {
				bias = randSlice(r, g.C)
			}
			act := acts[gi%len(acts)]
			ldd := ohw + 1
			dst := make([]float32, g.C*ldd)
			for i := range dst {
				dst[i] = guard
			}
			b := s.Gather(make([]float32, s.GatherLen()), src, chw)
			DepthwiseShift(dst, ldd, b, ker, bias, act)
			for ch := range g.C {
				var bv float32
				if bias != nil {
					bv = bias[ch]
				}
				want := refDepthwise(src[ch*g.H*g.W:], g.H, g.W, ker[ch*taps:], g.KH, g.KW, g.PadT, g.PadL, g.StrideH, g.StrideW, g.DilH, g.DilW, g.OH, g.OW, bv, act)
				require.InDeltaSlicef(t, want, dst[ch*ldd:ch*ldd+ohw], 1e-5, "geometry %+v channel %d act %v", g, ch, act)
				require.Equal(t, guard, dst[ch*ldd+ohw])
			}
		}
		require.Greater(t, supported, 100)
	})
}

// TestShiftNoAccessOutsideSlices runs the shifted kernels on inputs that
// butt against inaccessible pages: the taps of border positions point
// outside the input and must stay masked.
func TestShiftNoAccessOutsideSlices(t *testing.T) {
	r := rand.New(rand.NewPCG(35, 36))
	fill := func(s []float32) []float32 {
		for i := range s {
			s[i] = r.Float32() - 0.5
		}
		return s
	}
	forEachImpl(t, func(t *testing.T) {
		for _, hw := range [][2]int{{1, 1}, {3, 5}, {7, 7}, {14, 14}, {5, 17}} {
			for _, st := range []int{1, 2} {
				for _, images := range []int{1, 2} {
					h, w := hw[0], hw[1]
					g := ConvGeom{C: 3, H: h, W: w, KH: 3, KW: 3, PadT: 1, PadL: 1, StrideH: st, StrideW: st, DilH: 1, DilW: 1,
						OH: outSize(h, 3, 1, 1, st, 1), OW: outSize(w, 3, 1, 1, st, 1)}
					s, ok := NewShiftConv(g, images)
					require.True(t, ok)
					m, chw := 9, g.C*h*w
					for side := range 2 {
						pick := func(sz int) []float32 {
							x, y := guardedSlices(t, sz)
							if side == 0 {
								return fill(x)
							}
							return fill(y)
						}
						src := pick(images * chw)
						var gathered []float32
						if s.GatherLen() > 0 {
							gathered = pick(s.GatherLen())
						}
						b := s.Gather(gathered, src, chw)
						a := pick(m * s.K())
						c := pick(m * s.N())
						SgemmShift(m, a, s.K(), b, c, s.N(), Epilogue{RowBias: pick(m), ColBias: pick(s.N()), Accumulate: true, Act: Activation{Kind: ActRelu}})
						if images == 1 {
							DepthwiseShift(pick(g.C*g.OH*g.OW), g.OH*g.OW, b, pick(g.C*9), pick(g.C), Activation{Kind: ActClip, Max: 6})
						}
						if h >= 2 && w >= 2 {
							MaxPool2x2(pick(3*(h/2)*(w/2)), pick(3*h*w), 3, h, w, h/2, w/2)
						}
						MeanRows(pick(3), pick(3*h*w), h*w)
						MaxRows(pick(3), pick(3*h*w), h*w)
						if st == 1 && images == 1 {
							wg, ok := NewWinograd(g.C, h, w)
							require.True(t, ok)
							wg.Conv(pick(m*h*w), src[:chw], pick(wg.WeightsLen(m)), m, pick(m), Activation{Kind: ActRelu}, pick(wg.ScratchLen(m)))
						}
					}
				}
			}
		}
	})
}

func TestShiftNoAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(37, 38))
	g := ConvGeom{C: 16, H: 14, W: 14, KH: 3, KW: 3, PadT: 1, PadL: 1, StrideH: 2, StrideW: 2, DilH: 1, DilW: 1, OH: 7, OW: 7}
	s, _ := NewShiftConv(g, 2)
	g.StrideH, g.StrideW, g.OH, g.OW = 1, 1, 14, 14
	s1, _ := NewShiftConv(g, 1)
	src := randSlice(r, 2*16*14*14)
	gathered := make([]float32, s.GatherLen())
	a, bias := randSlice(r, 32*s.K()), randSlice(r, 32)
	c := make([]float32, 32*14*14)
	forEachImpl(t, func(t *testing.T) {
		allocs := testing.AllocsPerRun(20, func() {
			b := s.Gather(gathered, src, 16*14*14)
			SgemmShift(32, a, s.K(), b, c, s.N(), Epilogue{RowBias: bias, Act: Activation{Kind: ActRelu}})
			b1 := s1.Gather(nil, src, 0)
			DepthwiseShift(c, 14*14, b1, a, bias, Activation{Kind: ActRelu})
			MeanRows(c[:16], src, 14*14)
			MaxRows(c[:16], src, 14*14)
			MaxPool2x2(c, src, 16, 14, 14, 7, 7)
		})
		require.Zero(t, allocs)
	})
}

// BenchmarkConvShift is BenchmarkConv with the implicit GEMM (SgemmShift),
// plus the strided and batched layers of the testdata models.
func BenchmarkConvShift(b *testing.B) {
	r := rand.New(rand.NewPCG(39, 40))
	for _, s := range []struct {
		name                  string
		cin, hw, cout, stride int
		images                int
	}{
		{"digits/8x8x1to16", 1, 8, 16, 1, 1},
		{"digits/8x8x16to32", 16, 8, 32, 1, 1},
		{"digits/8x8x16to32/x8", 16, 8, 32, 1, 8},
		{"fashion/28x28x1to16", 1, 28, 16, 1, 1},
		{"fashion/28x28x1to32", 1, 28, 32, 1, 1},
		{"fashion/28x28x16to16", 16, 28, 16, 1, 1},
		{"fashion/28x28x16to32", 16, 28, 32, 1, 1},
		{"fashion/28x28x16to32/s2", 16, 28, 32, 2, 1},
		{"fashion/14x14x32to32", 32, 14, 32, 1, 1},
		{"fashion/14x14x32to64", 32, 14, 64, 1, 1},
		{"fashion/14x14x32to64/s2", 32, 14, 64, 2, 1},
		{"fashion/7x7x64to64", 64, 7, 64, 1, 1},
		{"fashion/7x7x64to64/x4", 64, 7, 64, 1, 4},
		{"fashion/7x7x64to64/x16", 64, 7, 64, 1, 16},
	} {
		o := (s.hw+2-3)/s.stride + 1
		g := ConvGeom{C: s.cin, H: s.hw, W: s.hw, KH: 3, KW: 3, PadT: 1, PadL: 1, StrideH: s.stride, StrideW: s.stride, DilH: 1, DilW: 1, OH: o, OW: o}
		sc, ok := NewShiftConv(g, s.images)
		if !ok {
			b.Fatal("unsupported")
		}
		src := randSlice(r, s.images*s.cin*s.hw*s.hw)
		w := randSlice(r, s.cout*sc.K())
		bias, out := randSlice(r, s.cout), make([]float32, s.cout*sc.N())
		gathered := make([]float32, sc.GatherLen())
		b.Run(s.name, func(b *testing.B) {
			benchImpls(b, func(b *testing.B) {
				tm := startCPU(b)
				for b.Loop() {
					pb := sc.Gather(gathered, src, s.cin*s.hw*s.hw)
					SgemmShift(s.cout, w, sc.K(), pb, out, sc.N(), Epilogue{RowBias: bias, Act: Activation{Kind: ActRelu}})
				}
				tm.reportFlops(b, 2*float64(s.cout*sc.K()*sc.N()))
			})
		})
	}
}

func BenchmarkDepthwiseShift(b *testing.B) {
	r := rand.New(rand.NewPCG(41, 42))
	for _, s := range []struct{ c, hw, stride int }{{16, 14, 1}, {64, 7, 1}, {32, 14, 2}, {64, 7, 2}, {32, 28, 1}} {
		o := (s.hw+2-3)/s.stride + 1
		g := ConvGeom{C: s.c, H: s.hw, W: s.hw, KH: 3, KW: 3, PadT: 1, PadL: 1, StrideH: s.stride, StrideW: s.stride, DilH: 1, DilW: 1, OH: o, OW: o}
		sc, _ := NewShiftConv(g, 1)
		src, ker, bias := randSlice(r, s.c*s.hw*s.hw), randSlice(r, s.c*9), randSlice(r, s.c)
		dstBuf := make([]float32, s.c*o*o+8192)
		gathered := make([]float32, sc.GatherLen())
		for _, shift := range []int{0, 256, 512, 1024} {
			dst := dstBuf[shift:]
			b.Run(fmt.Sprintf("c%d/%dx%d/s%d/d%d", s.c, s.hw, s.hw, s.stride, shift), func(b *testing.B) {
				benchImpls(b, func(b *testing.B) {
					tm := startCPU(b)
					for b.Loop() {
						pb := sc.Gather(gathered, src, s.c*s.hw*s.hw)
						DepthwiseShift(dst, o*o, pb, ker, bias, Activation{Kind: ActClip, Max: 6})
					}
					tm.reportFlops(b, 2*9*float64(s.c*o*o))
				})
			})
		}
	}
}
