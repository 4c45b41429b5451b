package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReduceRows(t *testing.T) {
	r := rand.New(rand.NewPCG(61, 62))
	nan := float32(math.NaN())
	forEachImpl(t, func(t *testing.T) {
		for _, n := range []int{0, 1, 5, 15, 16, 17, 31, 32, 33, 49, 100} {
			rows := 7
			src := randSlice(r, rows*n)
			mean, mx := make([]float32, rows+1), make([]float32, rows+1)
			mean[rows], mx[rows] = guard, guard
			if n > 3 {
				src[2*n+3] = nan // row 2
			}
			MeanRows(mean[:rows], src, n)
			MaxRows(mx[:rows], src, n)
			for i := range rows {
				if n == 0 {
					continue
				}
				var s float64
				m := float32(math.Inf(-1))
				for _, x := range src[i*n : (i+1)*n] {
					s += float64(x)
					m = max(m, x)
				}
				if math.IsNaN(s) {
					require.True(t, math.IsNaN(float64(mean[i])), "mean row %d", i)
					require.True(t, math.IsNaN(float64(mx[i])), "max row %d", i)
					continue
				}
				require.InDelta(t, s/float64(n), mean[i], 1e-6, "n=%d row %d", n, i)
				require.Equal(t, m, mx[i], "n=%d row %d", n, i)
			}
			require.Equal(t, guard, mean[rows])
			require.Equal(t, guard, mx[rows])
		}
	})
}

func TestMaxPool2x2(t *testing.T) {
	r := rand.New(rand.NewPCG(63, 64))
	nan := float32(math.NaN())
	forEachImpl(t, func(t *testing.T) {
		for _, s := range [][2]int{{2, 2}, {8, 8}, {3, 5}, {28, 28}, {7, 40}, {4, 66}, {1, 1}} {
			h, w := s[0], s[1]
			oh, ow := h/2, w/2
			planes := 3
			src := randSlice(r, planes*h*w)
			if h*w > 5 {
				src[h*w+4] = nan // a window's top left
			}
			if h >= 2 && w >= 2 {
				src[2*h*w+w+1] = nan // a window's bottom right
			}
			dst := make([]float32, planes*oh*ow+1)
			dst[planes*oh*ow] = guard
			MaxPool2x2(dst[:planes*oh*ow], src, planes, h, w, oh, ow)
			for p := range planes {
				for oy := range oh {
					for ox := range ow {
						in := src[p*h*w:]
						a, b, c, d := in[2*oy*w+2*ox], in[2*oy*w+2*ox+1], in[(2*oy+1)*w+2*ox], in[(2*oy+1)*w+2*ox+1]
						want, got := max(a, b, c, d), dst[(p*oh+oy)*ow+ox]
						if math.IsNaN(float64(want)) {
							require.True(t, math.IsNaN(float64(got)))
							continue
						}
						require.Equal(t, want, got, "%dx%d plane %d (%d,%d)", h, w, p, oy, ox)
					}
				}
			}
			require.Equal(t, guard, dst[planes*oh*ow])
		}
	})
}
