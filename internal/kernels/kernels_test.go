package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// implPath is one implementation the tests run against.
type implPath struct {
	name string
	use  func() bool
}

var implPaths = []implPath{
	{"generic", func() bool { useGeneric(); return true }},
	{"avx2", useAVX2},
	{"avx512", useAVX512},
}

// forEachImpl runs f as a subtest on every implementation the CPU supports
// and restores the default one afterwards.
func forEachImpl(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	saved := active
	t.Cleanup(func() { active = saved })
	for _, p := range implPaths {
		t.Run(p.name, func(t *testing.T) {
			if !p.use() {
				t.Skipf("CPU lacks %s", p.name)
			}
			defer func() { active = saved }()
			f(t)
		})
	}
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = r.Float32()*2 - 1
	}
	return s
}

// refSgemm computes the Sgemm result in float64 and the scale of each
// element (the sum of the magnitudes of its terms) for the tolerance.
func refSgemm(m, n, k int, a []float32, lda int, b []float32, ldb int, transB bool, c []float32, ldc int, ep Epilogue) (want, scale []float64) {
	alpha := float64(ep.Alpha)
	if alpha == 0 {
		alpha = 1
	}
	want = make([]float64, m*n)
	scale = make([]float64, m*n)
	for i := range m {
		for j := range n {
			var s, sc float64
			for kk := range k {
				var bv float32
				if transB {
					bv = b[j*ldb+kk]
				} else {
					bv = b[kk*ldb+j]
				}
				t := float64(a[i*lda+kk]) * float64(bv)
				s += t
				sc += math.Abs(t)
			}
			s *= alpha
			sc *= math.Abs(alpha)
			if ep.RowBias != nil {
				s += float64(ep.RowBias[i])
				sc += math.Abs(float64(ep.RowBias[i]))
			}
			if ep.ColBias != nil {
				s += float64(ep.ColBias[j])
				sc += math.Abs(float64(ep.ColBias[j]))
			}
			if ep.Accumulate {
				s += float64(c[i*ldc+j])
				sc += math.Abs(float64(c[i*ldc+j]))
			}
			want[i*n+j] = float64(ep.Act.apply(float32(s)))
			scale[i*n+j] = sc
		}
	}
	return want, scale
}

const guard = float32(12345)

// checkSgemm runs Sgemm on a random problem and compares it with refSgemm;
// lda, ldb, ldc are padded by pad and the padding must stay untouched.
func checkSgemm(t *testing.T, r *rand.Rand, m, n, k, pad int, transB bool, ep Epilogue) {
	t.Helper()
	lda, ldc := k+pad, n+pad
	ldb := n + pad
	if transB {
		ldb = k + pad
	}
	a := randSlice(r, m*lda)
	var b []float32
	if transB {
		b = randSlice(r, n*ldb)
	} else {
		b = randSlice(r, k*ldb)
	}
	c := randSlice(r, m*ldc)
	for i := range m {
		for j := n; j < ldc; j++ {
			c[i*ldc+j] = guard
		}
	}
	want, scale := refSgemm(m, n, k, a, lda, b, ldb, transB, c, ldc, ep)
	packed := make([]float32, PackedBLen(k, n))
	pb := PackB(packed, k, n, b, ldb, transB)
	Sgemm(m, a, lda, pb, c, ldc, ep)
	for i := range m {
		for j := range n {
			got := float64(c[i*ldc+j])
			w := want[i*n+j]
			tol := 1e-5*scale[i*n+j] + 1e-6
			if math.Abs(got-w) > tol {
				require.InDeltaf(t, w, got, tol, "C[%d][%d] of m=%d n=%d k=%d", i, j, m, n, k)
			}
		}
		for j := n; j < ldc; j++ {
			require.Equalf(t, guard, c[i*ldc+j], "padding C[%d][%d] overwritten", i, j)
		}
	}
}

var awkward = []int{1, 2, 3, 5, 7, 15, 16, 17, 31, 33, 64, 100, 257}

func TestSgemmShapes(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		for _, m := range awkward {
			for _, n := range awkward {
				for _, k := range awkward {
					checkSgemm(t, r, m, n, k, 0, false, Epilogue{})
				}
			}
		}
	})
}

func TestSgemmEpilogues(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	bias := randSlice(r, 300)
	acts := []Activation{
		{Kind: ActNone},
		{Kind: ActRelu},
		{Kind: ActClip, Min: -0.5, Max: 0.25},
		{Kind: ActClip, Min: 0, Max: 6},
		{Kind: ActLeakyRelu, Alpha: 0.1},
		{Kind: ActLeakyRelu, Alpha: 2},
	}
	forEachImpl(t, func(t *testing.T) {
		for _, act := range acts {
			for _, alpha := range []float32{0, 1, -0.75} {
				for _, rowBias := range []bool{false, true} {
					for _, colBias := range []bool{false, true} {
						for _, acc := range []bool{false, true} {
							for _, transB := range []bool{false, true} {
								ep := Epilogue{Alpha: alpha, Accumulate: acc, Act: act}
								if rowBias {
									ep.RowBias = bias
								}
								if colBias {
									ep.ColBias = bias
								}
								name := fmt.Sprintf("%v/alpha=%g/rb=%v/cb=%v/acc=%v/tB=%v", act, alpha, rowBias, colBias, acc, transB)
								t.Run(name, func(t *testing.T) {
									for _, s := range [][3]int{{1, 1, 1}, {3, 17, 5}, {13, 33, 31}, {16, 64, 9}, {5, 100, 64}, {29, 47, 3}} {
										checkSgemm(t, r, s[0], s[1], s[2], 3, transB, ep)
									}
								})
							}
						}
					}
				}
			}
		}
	})
}

// TestSgemmBlocking covers K and N blocking and uneven row tiles.
func TestSgemmBlocking(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	forEachImpl(t, func(t *testing.T) {
		for _, s := range [][3]int{{13, 1100, 700}, {40, 200, 1030}, {2, 2000, 600}, {27, 70, 513}} {
			ep := Epilogue{RowBias: randSlice(r, s[0]), Act: Activation{Kind: ActRelu}, Alpha: 0.5}
			checkSgemm(t, r, s[0], s[1], s[2], 1, false, ep)
			ep = Epilogue{ColBias: randSlice(r, s[1]), Accumulate: true}
			checkSgemm(t, r, s[0], s[1], s[2], 0, true, ep)
		}
	})
}

func TestSgemmZeroK(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		c := []float32{1, 2, 3, 4, 5, 6}
		pb := PackB(nil, 0, 3, nil, 3, false)
		Sgemm(2, nil, 1, pb, c, 3, Epilogue{RowBias: []float32{10, 20}, Accumulate: true})
		require.Equal(t, []float32{11, 12, 13, 24, 25, 26}, c)
	})
}

// TestSgemmCols splits B into column views and checks each part against the
// whole product.
func TestSgemmCols(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	forEachImpl(t, func(t *testing.T) {
		for _, s := range [][3]int{{7, 100, 33}, {16, 257, 64}, {1, 40, 5}} {
			m, n, k := s[0], s[1], s[2]
			a, b := randSlice(r, m*k), randSlice(r, k*n)
			bias := randSlice(r, n)
			pb := PackB(make([]float32, PackedBLen(k, n)), k, n, b, n, false)
			whole := make([]float32, m*n)
			Sgemm(m, a, k, pb, whole, n, Epilogue{ColBias: bias, Act: Activation{Kind: ActRelu}})
			for _, step := range []int{NR, 2 * NR, 3 * NR} {
				parts := make([]float32, m*n)
				for j0 := 0; j0 < n; j0 += step {
					j1 := min(n, j0+step)
					Sgemm(m, a, k, pb.Cols(j0, j1), parts[j0:], n, Epilogue{ColBias: bias[j0:], Act: Activation{Kind: ActRelu}})
				}
				require.Equal(t, whole, parts, "step %d", step)
			}
			require.Equal(t, 0, pb.Cols(NR, NR).N)
			require.Panics(t, func() { pb.Cols(1, 5) })
		}
	})
}

func TestPackB(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, k := range awkward {
		for _, n := range awkward {
			b := randSlice(r, k*(n+2))
			bt := make([]float32, n*(k+1))
			for i := range k {
				for j := range n {
					bt[j*(k+1)+i] = b[i*(n+2)+j]
				}
			}
			d1 := make([]float32, PackedBLen(k, n))
			d2 := make([]float32, PackedBLen(k, n))
			for i := range d1 {
				d1[i], d2[i] = guard, guard
			}
			p1 := PackB(d1, k, n, b, n+2, false)
			PackB(d2, k, n, bt, k+1, true)
			require.Equal(t, d1, d2)
			require.Equal(t, k, p1.K)
			require.Equal(t, n, p1.N)
			for p := 0; p*NR < n; p++ {
				for kk := range k {
					for jj := range NR {
						want := float32(0)
						if j := p*NR + jj; j < n {
							want = b[kk*(n+2)+j]
						}
						require.Equal(t, want, d1[p*NR*k+kk*NR+jj])
					}
				}
			}
		}
	}
	require.Panics(t, func() { PackB(make([]float32, 10), 3, 5, make([]float32, 15), 5, false) })
}

// refIm2col is the plain (unpacked) K×N im2col matrix.
func refIm2col(src []float32, c, h, w, kh, kw, padT, padL, sh, sw, dh, dw, oh, ow int) []float32 {
	k, n := c*kh*kw, oh*ow
	col := make([]float32, k*n)
	for ci := range c {
		for ki := range kh {
			for kj := range kw {
				row := (ci*kh+ki)*kw + kj
				for oy := range oh {
					for ox := range ow {
						iy, ix := oy*sh-padT+ki*dh, ox*sw-padL+kj*dw
						if iy >= 0 && iy < h && ix >= 0 && ix < w {
							col[row*n+oy*ow+ox] = src[(ci*h+iy)*w+ix]
						}
					}
				}
			}
		}
	}
	return col
}

// convGeom lists convolution geometries: c, h, w, kh, kw, padT, padL, padB,
// padR, sh, sw, dh, dw.
func convGeoms() [][13]int {
	var gs [][13]int
	for _, hw := range [][2]int{{1, 1}, {3, 5}, {8, 8}, {14, 14}, {28, 28}, {7, 33}, {17, 4}} {
		for _, kk := range [][2]int{{1, 1}, {3, 3}, {5, 5}, {3, 1}, {2, 3}} {
			for _, pad := range [][4]int{{0, 0, 0, 0}, {1, 1, 1, 1}, {2, 1, 0, 2}} {
				for _, s := range [][2]int{{1, 1}, {2, 2}, {1, 3}} {
					for _, d := range [][2]int{{1, 1}, {2, 2}} {
						gs = append(gs, [13]int{2, hw[0], hw[1], kk[0], kk[1], pad[0], pad[1], pad[2], pad[3], s[0], s[1], d[0], d[1]})
					}
				}
			}
		}
	}
	return gs
}

func outSize(in, k, p0, p1, s, d int) int {
	return (in+p0+p1-d*(k-1)-1)/s + 1
}

func TestIm2colPacked(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	forEachImpl(t, func(t *testing.T) { checkIm2col(t, r) })
}

func checkIm2col(t *testing.T, r *rand.Rand) {
	geoms := append(convGeoms(), [13]int{3, 5, 40, 3, 3, 1, 1, 1, 1, 1, 2, 1, 1}, [13]int{1, 9, 9, 9, 9, 4, 4, 4, 4, 1, 1, 1, 1})
	for _, g := range geoms {
		c, h, w, kh, kw, padT, padL, padB, padR, sh, sw, dh, dw := g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10], g[11], g[12]
		oh, ow := outSize(h, kh, padT, padB, sh, dh), outSize(w, kw, padL, padR, sw, dw)
		if oh < 1 || ow < 1 {
			continue
		}
		src := randSlice(r, c*h*w)
		k, n := c*kh*kw, oh*ow
		want := make([]float32, PackedBLen(k, n))
		PackB(want, k, n, refIm2col(src, c, h, w, kh, kw, padT, padL, sh, sw, dh, dw, oh, ow), n, false)
		got := make([]float32, PackedBLen(k, n))
		for i := range got {
			got[i] = guard
		}
		pb := Im2colPacked(got, src, c, h, w, kh, kw, padT, padL, sh, sw, dh, dw, oh, ow)
		require.Equalf(t, want, got, "geometry %v", g)
		require.Equal(t, k, pb.K)
		require.Equal(t, n, pb.N)
		// Column blocks packed on their own equal the same panels of the whole matrix.
		for _, block := range []int{NR, 2 * NR, 5 * NR} {
			for j0 := 0; j0 < n; j0 += block {
				j1 := min(j0+block, n)
				part := make([]float32, PackedBLen(k, j1-j0))
				pc := Im2colPackedCols(part, src, c, h, w, kh, kw, padT, padL, sh, sw, dh, dw, oh, ow, j0, j1)
				require.Equal(t, j1-j0, pc.N)
				require.Equalf(t, want[j0*k:j0*k+len(part)], part, "geometry %v columns [%d,%d)", g, j0, j1)
			}
		}
	}
}

// refDepthwise is the direct definition of DepthwiseConv2D.
func refDepthwise(src []float32, h, w int, ker []float32, kh, kw, padT, padL, sh, sw, dh, dw, oh, ow int, bias float32, act Activation) []float32 {
	out := make([]float32, oh*ow)
	for oy := range oh {
		for ox := range ow {
			s := float64(bias)
			for ki := range kh {
				for kj := range kw {
					iy, ix := oy*sh-padT+ki*dh, ox*sw-padL+kj*dw
					if iy >= 0 && iy < h && ix >= 0 && ix < w {
						s += float64(ker[ki*kw+kj]) * float64(src[iy*w+ix])
					}
				}
			}
			out[oy*ow+ox] = act.apply(float32(s))
		}
	}
	return out
}

func TestDepthwiseConv2D(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	acts := []Activation{{Kind: ActNone}, {Kind: ActRelu}, {Kind: ActClip, Min: -0.3, Max: 0.4}, {Kind: ActLeakyRelu, Alpha: 0.2}}
	geoms := convGeoms()
	for _, hw := range [][2]int{{40, 40}, {14, 70}, {3, 100}} {
		for _, s := range []int{1, 2} {
			geoms = append(geoms, [13]int{1, hw[0], hw[1], 3, 3, 1, 1, 1, 1, s, s, 1, 1})
		}
	}
	geoms = append(geoms, [13]int{1, 9, 9, 9, 9, 4, 4, 4, 4, 1, 1, 1, 1}) // 81 taps: portable path
	forEachImpl(t, func(t *testing.T) {
		for gi, g := range geoms {
			_, h, w, kh, kw, padT, padL, padB, padR, sh, sw, dh, dw := g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10], g[11], g[12]
			oh, ow := outSize(h, kh, padT, padB, sh, dh), outSize(w, kw, padL, padR, sw, dw)
			if oh < 1 || ow < 1 {
				continue
			}
			src, ker := randSlice(r, h*w), randSlice(r, kh*kw)
			act := acts[gi%len(acts)]
			bias := r.Float32() - 0.5
			want := refDepthwise(src, h, w, ker, kh, kw, padT, padL, sh, sw, dh, dw, oh, ow, bias, act)
			got := make([]float32, oh*ow+1)
			got[oh*ow] = guard
			DepthwiseConv2D(got, src, h, w, ker, kh, kw, padT, padL, sh, sw, dh, dw, oh, ow, bias, act)
			require.InDeltaSlicef(t, want, got[:oh*ow], 1e-5, "geometry %v act %v", g, act)
			require.Equal(t, guard, got[oh*ow])
		}
	})
}

func TestElementwise(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	forEachImpl(t, func(t *testing.T) {
		for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 31, 63, 64, 65, 100, 1000} {
			a, b := randSlice(r, n), randSlice(r, n)
			add, mul, adds := make([]float32, n+1), make([]float32, n+1), make([]float32, n+1)
			add[n], mul[n], adds[n] = guard, guard, guard
			Add(add[:n], a, b)
			Mul(mul[:n], a, b)
			AddScalar(adds[:n], a, 0.25)
			for i := range n {
				require.Equal(t, a[i]+b[i], add[i])
				require.Equal(t, a[i]*b[i], mul[i])
				require.Equal(t, a[i]+0.25, adds[i])
			}
			require.Equal(t, guard, add[n])
			require.Equal(t, guard, mul[n])
			require.Equal(t, guard, adds[n])
			for _, act := range []Activation{{Kind: ActNone}, {Kind: ActRelu}, {Kind: ActClip, Min: -0.2, Max: 0.3}, {Kind: ActLeakyRelu, Alpha: 0.1}} {
				x := append(append([]float32(nil), a...), guard)
				ApplyActivation(x[:n], act)
				for i := range n {
					require.Equal(t, act.apply(a[i]), x[i], "%v at %d", act, i)
				}
				require.Equal(t, guard, x[n])
			}
			// In place.
			x := make([]float32, n)
			copy(x, a)
			Add(x, x, b)
			require.Equal(t, add[:n], x)
		}
		m, n, ldc := 5, 19, 23
		c := randSlice(r, m*ldc)
		orig := append([]float32(nil), c...)
		bias := randSlice(r, m)
		AddRowBias(m, n, c, ldc, bias)
		for i := range m {
			for j := range ldc {
				want := orig[i*ldc+j]
				if j < n {
					want += bias[i]
				}
				require.Equal(t, want, c[i*ldc+j])
			}
		}
		require.Panics(t, func() { Add(make([]float32, 3), make([]float32, 3), make([]float32, 4)) })
	})
}

func TestNoAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	m, n, k := 16, 196, 144
	a, b, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
	bias := randSlice(r, max(m, n))
	packed := make([]float32, PackedBLen(k, n))
	src := randSlice(r, 16*14*14)
	col := make([]float32, PackedBLen(16*9, 196))
	dw := make([]float32, 14*14)
	forEachImpl(t, func(t *testing.T) {
		allocs := testing.AllocsPerRun(20, func() {
			pb := PackB(packed, k, n, b, n, false)
			Sgemm(m, a, k, pb, c, n, Epilogue{RowBias: bias, Act: Activation{Kind: ActLeakyRelu, Alpha: 0.1}})
			Sgemm(1, a, k, pb.Cols(NR, n), c, n, Epilogue{ColBias: bias, Accumulate: true})
			PackB(packed, k, n, b, k, true)
			pc := Im2colPacked(col, src, 16, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1, 14, 14)
			Sgemm(m, a, k, pc, c, n, Epilogue{})
			DepthwiseConv2D(dw, src, 14, 14, a, 3, 3, 1, 1, 1, 1, 1, 1, 14, 14, 0.5, Activation{Kind: ActRelu})
			Add(c, c, c)
			Mul(c, c, c)
			AddScalar(c, c, 1)
			ApplyActivation(c, Activation{Kind: ActClip, Min: -1, Max: 1})
			AddRowBias(m, n, c, n, bias)
		})
		require.Zero(t, allocs)
	})
}

func TestImpl(t *testing.T) {
	require.Contains(t, []string{"avx512", "avx2+fma", "generic"}, Impl())
}

// FuzzSgemm compares Sgemm with the reference on random shapes and
// epilogues, on every implementation.
func FuzzSgemm(f *testing.F) {
	f.Add(uint16(1), uint16(1), uint16(1), uint8(0), uint64(1))
	f.Add(uint16(17), uint16(33), uint16(9), uint8(0xff), uint64(2))
	f.Add(uint16(360), uint16(10), uint16(64), uint8(0x15), uint64(3))
	f.Fuzz(func(t *testing.T, m, n, k uint16, opts uint8, seed uint64) {
		mi, ni, ki := int(m%80)+1, int(n%300)+1, int(k%600)+1
		r := rand.New(rand.NewPCG(seed, 99))
		ep := Epilogue{Accumulate: opts&1 != 0, Act: Activation{Kind: ActKind(opts >> 1 % 4), Min: -0.5, Max: 0.5, Alpha: 0.3}}
		if opts&8 != 0 {
			ep.RowBias = randSlice(r, mi)
		}
		if opts&16 != 0 {
			ep.ColBias = randSlice(r, ni)
		}
		if opts&32 != 0 {
			ep.Alpha = 1.5
		}
		saved := active
		defer func() { active = saved }()
		for _, p := range implPaths {
			if p.use() {
				checkSgemm(t, r, mi, ni, ki, int(opts>>6), opts&64 != 0, ep)
			}
		}
	})
}

// TestLayouts pins the struct layouts that hand-written assembly (not
// go_asm.h) relies on.
func TestLayouts(t *testing.T) {
	require.Equal(t, uintptr(24), unsafe.Sizeof(dwTap{}))
	require.Equal(t, uintptr(8), unsafe.Offsetof(dwTap{}.dy))
	require.Equal(t, uintptr(12), unsafe.Offsetof(dwTap{}.dx))
	require.Equal(t, uintptr(16), unsafe.Offsetof(dwTap{}.w))
}

// TestSgemmConcurrent multiplies disjoint column views of one shared PackedB
// from several goroutines, as the engine does.
func TestSgemmConcurrent(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	m, n, k := 9, 200, 70
	a, b, bias := randSlice(r, m*k), randSlice(r, k*n), randSlice(r, n)
	pb := PackB(make([]float32, PackedBLen(k, n)), k, n, b, n, false)
	want := make([]float32, m*n)
	Sgemm(m, a, k, pb, want, n, Epilogue{ColBias: bias})
	got := make([]float32, m*n)
	var wg sync.WaitGroup
	for j0 := 0; j0 < n; j0 += 2 * NR {
		wg.Go(func() {
			j1 := min(n, j0+2*NR)
			Sgemm(m, a, k, pb.Cols(j0, j1), got[j0:], n, Epilogue{ColBias: bias[j0:]})
		})
	}
	wg.Wait()
	require.Equal(t, want, got)
}
