package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWinograd(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	acts := []Activation{{Kind: ActNone}, {Kind: ActRelu}, {Kind: ActClip, Min: -0.3, Max: 0.4}, {Kind: ActLeakyRelu, Alpha: 0.2}}
	forEachImpl(t, func(t *testing.T) {
		for i, s := range [][4]int{{1, 1, 1, 1}, {3, 2, 2, 5}, {8, 7, 7, 16}, {16, 8, 8, 32}, {5, 9, 4, 3}, {16, 28, 28, 16},
			{32, 14, 14, 32}, {64, 7, 7, 64}, {2, 33, 17, 9}, {7, 1, 40, 2}, {3, 40, 1, 2}, {256, 3, 3, 4}} {
			c, h, w, m := s[0], s[1], s[2], s[3]
			wg, ok := NewWinograd(c, h, w)
			require.True(t, ok)
			g := ConvGeom{C: c, H: h, W: w, KH: 3, KW: 3, PadT: 1, PadL: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, OH: h, OW: w}
			src, wt := randSlice(r, c*h*w), randSlice(r, m*c*9)
			ep := Epilogue{Act: acts[i%len(acts)]}
			if i%2 == 0 {
				ep.RowBias = randSlice(r, m)
			}
			want, scale := refConv(src, g, wt, m, ep, nil, 0)
			u := make([]float32, wg.WeightsLen(m))
			wg.TransformWeights(u, wt, m)
			scratch := randSlice(r, wg.ScratchLen(m)) // garbage must not matter
			dst := make([]float32, m*h*w+1)
			dst[m*h*w] = guard
			wg.Conv(dst[:m*h*w], src, u, m, ep.RowBias, ep.Act, scratch)
			for j, x := range want {
				tol := 4e-6*scale[j] + 1e-6
				if math.Abs(float64(dst[j])-x) > tol {
					require.InDeltaf(t, x, dst[j], tol, "c=%d %dx%d m=%d at %d", c, h, w, m, j)
				}
			}
			require.Equal(t, guard, dst[m*h*w])
		}
		_, ok := NewWinograd(257, 4, 4)
		require.False(t, ok)
	})
}

func TestWinogradNoAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(53, 54))
	wg, _ := NewWinograd(16, 14, 14)
	src, u, bias := randSlice(r, 16*196), randSlice(r, wg.WeightsLen(32)), randSlice(r, 32)
	dst, scratch := make([]float32, 32*196), make([]float32, wg.ScratchLen(32))
	forEachImpl(t, func(t *testing.T) {
		require.Zero(t, testing.AllocsPerRun(10, func() {
			wg.Conv(dst, src, u, 32, bias, Activation{Kind: ActRelu}, scratch)
		}))
	})
}

func BenchmarkWinograd(b *testing.B) {
	r := rand.New(rand.NewPCG(55, 56))
	for _, s := range [][4]int{{16, 8, 8, 32}, {32, 8, 8, 32}, {16, 28, 28, 16}, {32, 14, 14, 32}, {64, 7, 7, 64}} {
		c, hw, m := s[0], s[1], s[3]
		wg, _ := NewWinograd(c, hw, hw)
		src, u, bias := randSlice(r, c*hw*hw), randSlice(r, wg.WeightsLen(m)), randSlice(r, m)
		dst, scratch := make([]float32, m*hw*hw), make([]float32, wg.ScratchLen(m))
		b.Run(fmt.Sprintf("c%d/%dx%d/m%d", c, hw, hw, m), func(b *testing.B) {
			benchImpls(b, func(b *testing.B) {
				tm := startCPU(b)
				for b.Loop() {
					wg.Conv(dst, src, u, m, bias, Activation{Kind: ActRelu}, scratch)
				}
				tm.reportFlops(b, 2*9*float64(c*m*hw*hw)) // direct-convolution FLOPs
			})
		})
	}
}
