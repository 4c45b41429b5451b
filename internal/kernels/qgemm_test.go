package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

var qimplPaths = []implPath{
	{"generic", func() bool { useQGeneric(); return true }},
	{"avx2", useQAVX2},
	{"avx512vnni", useQVNNI},
}

// forEachQImpl runs f as a subtest on every integer implementation the CPU
// supports and restores the default one afterwards.
func forEachQImpl(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	saved := qactive
	t.Cleanup(func() { qactive = saved })
	for _, p := range qimplPaths {
		t.Run(p.name, func(t *testing.T) {
			if !p.use() {
				t.Skipf("CPU lacks %s", p.name)
			}
			defer func() { qactive = saved }()
			f(t)
		})
	}
}

func randU8(r *rand.Rand, n int) []byte {
	s := make([]byte, n)
	for i := range s {
		s[i] = byte(r.IntN(256))
	}
	return s
}

func randS8(r *rand.Rand, n int) []int8 {
	s := make([]int8, n)
	for i := range s {
		s[i] = int8(r.IntN(256) - 128)
	}
	return s
}

// refRequant is the reference QLinearConv's requantization:
// saturate(round_half_even(float64(acc)·mult) + zp) with the bounds of ep.
func refRequant(acc int32, mult float64, ep *QEpilogue) byte {
	v := math.RoundToEven(float64(acc)*mult) + float64(ep.ZeroPoint)
	v = min(max(v, ep.Lo+float64(ep.ZeroPoint)), ep.Hi+float64(ep.ZeroPoint))
	return byte(int32(v))
}

func randEpilogue(r *rand.Rand, m int, signed bool) *QEpilogue {
	ep := &QEpilogue{Corr: make([]int32, m), Mult: make([]float64, m)}
	for i := range m {
		ep.Corr[i] = int32(r.IntN(20001) - 10000)
		ep.Mult[i] = float64(float32(r.Float64()*0.02 + 1e-4))
		if r.IntN(20) == 0 { // large enough that the VNNI kernels must not clamp in int32
			ep.Mult[i] = 1e4
		}
	}
	zp := int32(r.IntN(256))
	lo, hi := int32(0), int32(255)
	if signed {
		zp -= 128
		lo, hi = -128, 127
	}
	if r.IntN(3) == 0 { // a fused ReLU-like clamp
		lo = max(lo, zp)
	}
	ep.ZeroPoint = zp
	ep.Lo, ep.Hi = float64(lo-zp), float64(hi-zp)
	return ep
}

func TestQGemmMatchesReference(t *testing.T) {
	forEachQImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		for iter := range 300 {
			m, k, n := 1+r.IntN(21), 1+r.IntN(70), 1+r.IntN(100)
			if iter%10 == 0 {
				k = 1 + r.IntN(600)
			}
			kq := (k + 3) / 4
			lda := k + r.IntN(3)
			a := randS8(r, m*lda)
			packed := QPackA(make([]int8, QPackedALen(m, k)), a, m, k, lda)
			// B: each k-quad at a random offset of a buffer, as a convolution's taps are.
			b := randU8(r, 4*n+8*kq+64)
			off := make([]int32, kq)
			for q := range off {
				off[q] = int32(r.IntN(len(b) - 4*n + 1))
			}
			ep := randEpilogue(r, m, iter%2 == 1)
			ldc := n + r.IntN(5)
			c := make([]byte, (m-1)*ldc+n)
			f := make([]float32, (m-1)*ldc+n)
			QGemm(packed, n, b, off, c, ldc, ep)
			QGemmF32(packed, n, b, off, f, ldc, ep)
			for i := range m {
				for p := range n {
					acc := ep.Corr[i]
					for kk := range k {
						acc += int32(b[int(off[kk/4])+4*p+kk%4]) * int32(a[i*lda+kk])
					}
					require.Equal(t, refRequant(acc, ep.Mult[i], ep), c[i*ldc+p], "iter %d m %d k %d n %d: row %d position %d", iter, m, k, n, i, p)
					want := float32(min(max(float64(acc)*ep.Mult[i], ep.Lo), ep.Hi))
					require.Equal(t, want, f[i*ldc+p], "iter %d: float row %d position %d", iter, i, p)
				}
			}
		}
	})
}

// The extremes: 255 × −128 over a long K must neither saturate (as
// VPMADDUBSW would) nor wrap.
func TestQGemmExtremes(t *testing.T) {
	forEachQImpl(t, func(t *testing.T) {
		for _, w := range []int8{-128, 127} {
			m, k, n := 9, 4096, 37
			a := make([]int8, m*k)
			for i := range a {
				a[i] = w
			}
			packed := QPackA(make([]int8, QPackedALen(m, k)), a, m, k, k)
			b := make([]byte, 4*n*(k/4))
			for i := range b {
				b[i] = 255
			}
			off := make([]int32, k/4)
			for q := range off {
				off[q] = int32(q * 4 * n)
			}
			ep := &QEpilogue{Corr: make([]int32, m), Mult: make([]float64, m), Lo: math.Inf(-1), Hi: math.Inf(1)}
			for i := range m {
				ep.Mult[i] = 1
			}
			f := make([]float32, m*n)
			QGemmF32(packed, n, b, off, f, n, ep)
			for _, v := range f {
				require.Equal(t, float32(255*int(w)*k), v)
			}
		}
	})
}

func TestQDepthwiseMatchesReference(t *testing.T) {
	forEachQImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		for iter := range 300 {
			n, taps := 1+r.IntN(300), 1+r.IntN(25)
			x := randU8(r, n+200)
			w := randS8(r, taps)
			off := make([]int32, taps)
			for i := range off {
				off[i] = int32(r.IntN(201))
			}
			ep := randEpilogue(r, 1, iter%2 == 1)
			c := make([]byte, n)
			f := make([]float32, n)
			QDepthwise(1, n, x, 0, off, w, c, n, ep)
			QDepthwiseF32(1, n, x, 0, off, w, f, n, ep)
			for p := range n {
				acc := ep.Corr[0]
				for tp := range taps {
					acc += int32(x[int(off[tp])+p]) * int32(w[tp])
				}
				require.Equal(t, refRequant(acc, ep.Mult[0], ep), c[p], "iter %d n %d taps %d: position %d", iter, n, taps, p)
				require.Equal(t, float32(min(max(float64(acc)*ep.Mult[0], ep.Lo), ep.Hi)), f[p], "iter %d: float position %d", iter, p)
			}
		}
	})
}

// refQConv is a direct integer convolution of one image: zero points
// subtracted, padding contributing nothing.
func refQConv(x []byte, zx int32, w []int8, c, m int, g QConvGeom) []int32 {
	out := make([]int32, m*g.OH*g.OW)
	for oc := range m {
		for oy := range g.OH {
			for ox := range g.OW {
				var s int32
				for ic := range c {
					for ky := range g.KH {
						for kx := range g.KW {
							y, xx := oy*g.SH-g.PT+ky*g.DH, ox*g.SW-g.PL+kx*g.DW
							if y < 0 || y >= g.H || xx < 0 || xx >= g.W {
								continue
							}
							s += (int32(x[(ic*g.H+y)*g.W+xx]) - zx) * int32(w[((oc*c+ic)*g.KH+ky)*g.KW+kx])
						}
					}
				}
				out[(oc*g.OH+oy)*g.OW+ox] = s
			}
		}
	}
	return out
}

func randGeom(r *rand.Rand) QConvGeom {
	g := QConvGeom{H: 1 + r.IntN(9), W: 1 + r.IntN(45), KH: 1 + r.IntN(4), KW: 1 + r.IntN(4),
		SH: 1 + r.IntN(3), SW: 1 + r.IntN(3), DH: 1 + r.IntN(2), DW: 1 + r.IntN(2)}
	g.PT, g.PL = r.IntN(3), r.IntN(3)
	pb, pr := r.IntN(3), r.IntN(3)
	g.OH = (g.H+g.PT+pb-(g.KH-1)*g.DH-1)/g.SH + 1
	g.OW = (g.W+g.PL+pr-(g.KW-1)*g.DW-1)/g.SW + 1
	return g
}

// A convolution through PackQuads (or PackPlanes and PackTaps), QGemm and
// the flat-position layout equals the direct convolution, for random
// geometry: strides, dilations, padding, any channel count.
func TestQConvLayouts(t *testing.T) {
	forEachQImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 6))
		for iter := 0; iter < 300; {
			g := randGeom(r)
			if g.OH < 1 || g.OW < 1 {
				continue
			}
			iter++
			c, m := 1+r.IntN(9), 1+r.IntN(12)
			zx := byte(r.IntN(256))
			x := randU8(r, c*g.H*g.W)
			w := randS8(r, m*c*g.Taps())
			want := refQConv(x, int32(zx), w, c, m, g)
			ep := &QEpilogue{Corr: make([]int32, m), Mult: make([]float64, m), Lo: math.Inf(-1), Hi: math.Inf(1)}
			for oc := range m {
				ep.Mult[oc] = 1
				var sum int32
				for _, v := range w[oc*c*g.Taps() : (oc+1)*c*g.Taps()] {
					sum += int32(v)
				}
				ep.Corr[oc] = -int32(zx) * sum
			}
			np, wq := g.Positions(), g.Wq()
			check := func(name string, got []float32) {
				for oc := range m {
					for oy := range g.OH {
						for ox := range g.OW {
							require.Equal(t, float32(want[(oc*g.OH+oy)*g.OW+ox]), got[oc*np+oy*wq+ox], "%s iter %d %+v c %d: channel %d (%d, %d)", name, iter, g, c, oc, oy, ox)
						}
					}
				}
			}

			// Channel quads: weights reordered to k = (quad·taps + tap)·4 + channel%4.
			kq := (c + 3) / 4 * g.Taps()
			wk := make([]int8, m*kq*4)
			for oc := range m {
				for ic := range c {
					for tp := range g.Taps() {
						wk[oc*kq*4+((ic/4)*g.Taps()+tp)*4+ic%4] = w[(oc*c+ic)*g.Taps()+tp]
					}
				}
			}
			buf := make([]byte, g.QuadsLen(c))
			g.PackQuads(buf, x, c, zx)
			off := make([]int32, kq)
			g.QuadOffsets(off, c)
			out := make([]float32, m*np)
			pa := QPackA(make([]int8, QPackedALen(m, kq*4)), wk, m, kq*4, kq*4)
			QGemmF32(pa, np, buf, off, out, np, ep)
			check("quads", out)

			// The same, storing only the outputs (compacted in registers, or through tmp).
			tab := g.FlatTable()
			ohw := g.OH * g.OW
			flat := make([]float32, m*ohw)
			g.QGemmFlatF32(pa, buf, off, tab, flat, make([]byte, 4*m*np), ep)
			flatB := make([]byte, m*ohw)
			epB := *ep
			epB.Mult = make([]float64, m)
			for i := range epB.Mult {
				epB.Mult[i] = 1.0 / 64
			}
			epB.Lo, epB.Hi, epB.ZeroPoint = -128, 127, 0
			g.QGemmFlat(pa, buf, off, tab, flatB, make([]byte, m*np), &epB)
			for oc := range m {
				for i := range ohw {
					v := want[oc*ohw+i]
					require.Equal(t, float32(v), flat[oc*ohw+i], "flat iter %d %+v: channel %d output %d", iter, g, oc, i)
					require.Equal(t, refRequant(v, 1.0/64, &epB), flatB[oc*ohw+i], "flat bytes iter %d: channel %d output %d", iter, oc, i)
				}
			}

			// "Same" convolutions: no padding positions, taps outside the image masked.
			for _, same := range []QConvGeom{g, {H: g.H, W: g.W, KH: g.KH, KW: g.KW, SH: 1, SW: 1, DH: g.DH, DW: g.DW,
				PT: (g.KH - 1) * g.DH / 2, PL: (g.KW - 1) * g.DW / 2, OH: g.H, OW: g.W}} {
				if !same.SameDirect() {
					continue
				}
				sp := same.SamePlan(c)
				sb := make([]byte, sp.PackLen())
				sp.Pack(sb, x)
				sw := refQConv(x, int32(zx), w, c, m, same)
				so := make([]float32, m*same.OH*same.OW)
				sp.GemmF32(pa, sb, so, zx, ep)
				for i, v := range sw {
					require.Equal(t, float32(v), so[i], "same iter %d %+v c %d: output %d", iter, same, c, i)
				}
			}

			// Tap quads: k = channel·taps + tap, the weights' own order.
			planes := make([]byte, g.PlanesLen(c))
			g.PackPlanes(planes, x, c, zx)
			cols := make([]byte, g.TapsLen(c))
			g.PackTaps(cols, planes, c)
			toff := make([]int32, (c*g.Taps()+3)/4)
			g.TapOffsets(toff, c)
			k := c * g.Taps()
			clear(out)
			QGemmF32(QPackA(make([]int8, QPackedALen(m, k)), w, m, k, k), np, cols, toff, out, np, ep)
			check("taps", out)

			// Depthwise on the planes, all channels in one call.
			doff := make([]int32, g.Taps())
			g.PlaneOffsets(doff)
			chLen := g.Phases() * g.PlaneLen()
			wd := randS8(r, c*g.Taps())
			got := make([]float32, c*np)
			dep := &QEpilogue{Corr: make([]int32, c), Mult: make([]float64, c), Lo: math.Inf(-1), Hi: math.Inf(1)}
			for oc := range c {
				dep.Mult[oc] = 1
			}
			QDepthwiseF32(c, np, planes, chLen, doff, wd, got, np, dep)
			if g.DepthwiseDirect() {
				wt := make([]int32, len(wd))
				QDepthwiseWeights(wt, wd)
				direct := make([]float32, c*g.OH*g.OW)
				g.DepthwisePlan().RunF32(c, 1, x, wt, direct, zx, dep)
				for oc := range c {
					for oy := range g.OH {
						for ox := range g.OW {
							require.Equal(t, got[oc*np+oy*wq+ox], direct[(oc*g.OH+oy)*g.OW+ox], "direct depthwise iter %d %+v: channel %d (%d, %d)", iter, g, oc, oy, ox)
						}
					}
				}
				// A convolution of one input channel is a depthwise one with a multiplier: the m
				// output channels of input channel 0 (the first plane only).
				one := make([]float32, m*g.OH*g.OW)
				wm := make([]int32, m*g.Taps())
				w0 := make([]int8, m*g.Taps())
				for oc := range m {
					copy(w0[oc*g.Taps():], w[oc*c*g.Taps():][:g.Taps()])
				}
				QDepthwiseWeights(wm, w0)
				epm := &QEpilogue{Corr: make([]int32, m), Mult: make([]float64, m), Lo: math.Inf(-1), Hi: math.Inf(1)}
				for oc := range m {
					epm.Mult[oc] = 1
				}
				g.DepthwisePlan().RunF32(m, m, x[:g.H*g.W], wm, one, zx, epm)
				ref := refQConv(x[:g.H*g.W], int32(zx), w0, 1, m, g)
				for oc := range m {
					var sum int32
					for _, v := range w0[oc*g.Taps() : (oc+1)*g.Taps()] {
						sum += int32(v)
					}
					for i := range g.OH * g.OW {
						require.Equal(t, float32(ref[oc*g.OH*g.OW+i]+int32(zx)*sum), one[oc*g.OH*g.OW+i], "multiplier iter %d %+v: channel %d output %d", iter, g, oc, i)
					}
				}
			}
			for oc := range c {
				w1 := wd[oc*g.Taps() : (oc+1)*g.Taps()]
				ref := refQConv(x[oc*g.H*g.W:][:g.H*g.W], int32(zx), w1, 1, 1, g)
				var sum int32
				for _, v := range w1 {
					sum += int32(v)
				}
				for oy := range g.OH {
					for ox := range g.OW {
						require.Equal(t, float32(ref[oy*g.OW+ox]+int32(zx)*sum), got[oc*np+oy*wq+ox], "depthwise iter %d %+v: channel %d (%d, %d)", iter, g, oc, oy, ox)
					}
				}
			}
		}
	})
}

func TestQPackRowQuads(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for range 50 {
		rows, k := 1+r.IntN(20), 1+r.IntN(40)
		lda := k + r.IntN(3)
		a := randU8(r, rows*lda)
		kq := (k + 3) / 4
		dst := make([]byte, rows*kq*4)
		QPackRowQuads(dst, a, rows, k, lda)
		for q := range kq {
			for i := range rows {
				for j := range 4 {
					var want byte
					if 4*q+j < k {
						want = a[i*lda+4*q+j]
					}
					require.Equal(t, want, dst[(q*rows+i)*4+j])
				}
			}
		}
	}
}

// refDequant is DequantizeLinear of one 8-bit code as the reference computes it.
func refDequant(q byte, signed bool, s, z float32) float32 {
	v := float32(q)
	if signed {
		v = float32(int8(q))
	}
	return (v - z) * s
}

// refQuantize is QuantizeLinear of one value as the reference computes it.
func refQuantize(v, s float32, z, qmin, qmax int32) byte {
	q := min(max(v/s, float32(qmin-z)), float32(qmax-z))
	if q != q {
		q = 0
	}
	return byte(int32(math.RoundToEven(float64(q))) + z)
}

// QAdd and Quantize equal the reference operators' float32 arithmetic exactly, rounding ties
// included, for both input and output signedness.
func TestQAddAndQuantizeMatchReference(t *testing.T) {
	forEachQImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(9, 10))
		for iter := range 200 {
			n := 1 + r.IntN(100)
			p := &QAddParams{ScaleA: float32(r.Float64()*0.1 + 1e-3), ZeroA: float32(r.IntN(256)),
				ScaleB: float32(r.Float64()*0.1 + 1e-3), ZeroB: float32(r.IntN(256)),
				SignedA: r.IntN(2) == 0, SignedB: r.IntN(2) == 0,
				Lo: float32(math.Inf(-1)), Hi: float32(math.Inf(1)), ScaleY: float32(r.Float64()*0.1 + 1e-3)}
			if p.SignedA {
				p.ZeroA -= 128
			}
			if p.SignedB {
				p.ZeroB -= 128
			}
			if iter%3 == 0 {
				p.Lo = 0
			}
			if iter%5 == 0 {
				p.ScaleA, p.ScaleB, p.ScaleY = 0.5, 0.25, 0.5 // exact ties
			}
			p.QMin, p.QMax, p.ZeroY = 0, 255, int32(r.IntN(256))
			if iter%2 == 1 {
				p.QMin, p.QMax, p.ZeroY = -128, 127, p.ZeroY-128
			}
			a, b := randU8(r, n), randU8(r, n)
			got := make([]byte, n)
			gotF := make([]float32, n)
			QAdd(got, a, b, p)
			QAddF32(gotF, a, b, p)
			for i := range n {
				v := refDequant(a[i], p.SignedA, p.ScaleA, p.ZeroA) + refDequant(b[i], p.SignedB, p.ScaleB, p.ZeroB)
				v = min(max(v, p.Lo), p.Hi)
				require.Equal(t, v, gotF[i], "iter %d element %d", iter, i)
				require.Equal(t, refQuantize(v, p.ScaleY, p.ZeroY, p.QMin, p.QMax), got[i], "iter %d element %d", iter, i)
			}

			x := make([]float32, n)
			for i := range x {
				x[i] = float32(r.NormFloat64() * 3)
				switch r.IntN(8) {
				case 0:
					x[i] = float32(r.IntN(21)-10) * 0.25 // ties at scale 0.5
				case 1:
					x[i] = float32(math.NaN())
				case 2:
					x[i] = float32(math.Inf(r.IntN(2)*2 - 1))
				}
			}
			Quantize(got, x, 0.5, p.ZeroY, p.QMin, p.QMax)
			for i := range n {
				require.Equal(t, refQuantize(x[i], 0.5, p.ZeroY, p.QMin, p.QMax), got[i], "iter %d quantize %v", iter, x[i])
			}
			// A normalisation in front: each operation rounded to float32 as a separate operator.
			ops := []QPreOp{{QDivC, 255}, {QSubC, 0.2860}, {QDivC, 0.3530}, {QMulC, 1.5}, {QAddC, -0.25}, {QRSubC, 3}, {QRDivC, 7}}
			ops = ops[:1+iter%len(ops)]
			Quantize(got, x, 0.5, p.ZeroY, p.QMin, p.QMax)
			QuantizeAffine(got, x, ops, 0.02, p.ZeroY, p.QMin, p.QMax)
			for i := range n {
				v := x[i]
				for _, o := range ops {
					switch o.Kind {
					case QAddC:
						v += o.C
					case QSubC:
						v -= o.C
					case QRSubC:
						v = o.C - v
					case QMulC:
						v = float32(v * o.C)
					case QDivC:
						v /= o.C
					case QRDivC:
						v = o.C / v
					}
				}
				require.Equal(t, refQuantize(v, 0.02, p.ZeroY, p.QMin, p.QMax), got[i], "iter %d affine quantize %v", iter, x[i])
			}
		}
	})
}
