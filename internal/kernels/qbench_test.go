package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// BenchmarkQGemm times QGemm on convolution-like shapes (m output channels,
// k = Cin·taps, n flat positions) on every integer implementation; GMAC/s
// counts m·k·n multiply-accumulates.
//
//	go test ./internal/kernels -run '^$' -bench QGemm
func BenchmarkQGemm(b *testing.B) {
	shapes := []struct{ m, k, n int }{{16, 144, 840}, {32, 288, 224}, {64, 576, 63}, {64, 32, 196}, {10, 640, 1000}}
	saved := qactive
	defer func() { qactive = saved }()
	for _, p := range qimplPaths {
		for _, s := range shapes {
			b.Run(fmt.Sprintf("%s/m=%d/k=%d/n=%d", p.name, s.m, s.k, s.n), func(b *testing.B) {
				if !p.use() {
					b.Skipf("CPU lacks %s", p.name)
				}
				defer func() { qactive = saved }()
				r := rand.New(rand.NewPCG(1, 2))
				kq := (s.k + 3) / 4
				a := QPackA(make([]int8, QPackedALen(s.m, s.k)), randS8(r, s.m*s.k), s.m, s.k, s.k)
				buf := randU8(r, kq*s.n*4)
				off := make([]int32, kq)
				for q := range off {
					off[q] = int32(q * s.n * 4)
				}
				ep := &QEpilogue{Corr: make([]int32, s.m), Mult: make([]float64, s.m), Lo: -10, Hi: 245, ZeroPoint: 10}
				for i := range ep.Mult {
					ep.Mult[i] = 0.001
				}
				c := make([]byte, s.m*s.n)
				for b.Loop() {
					QGemm(a, s.n, buf, off, c, s.n, ep)
				}
				b.ReportMetric(float64(s.m*s.k*s.n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
			})
		}
	}
}

func BenchmarkQDepthwise(b *testing.B) {
	saved := qactive
	defer func() { qactive = saved }()
	for _, p := range qimplPaths {
		b.Run(p.name, func(b *testing.B) {
			if !p.use() {
				b.Skipf("CPU lacks %s", p.name)
			}
			defer func() { qactive = saved }()
			r := rand.New(rand.NewPCG(1, 2))
			n := 14*16 - 2
			x := randU8(r, 16*16)
			off := []int32{0, 1, 2, 16, 17, 18, 32, 33, 34}
			w := randS8(r, 9)
			ep := &QEpilogue{Corr: []int32{0}, Mult: []float64{0.01}, Lo: math.Inf(-1), Hi: math.Inf(1)}
			c := make([]byte, n)
			for b.Loop() {
				QDepthwise(1, n, x, 0, off, w, c, n, ep)
			}
			b.ReportMetric(float64(9*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
		})
	}
}

func BenchmarkQDepthwiseDirect(b *testing.B) {
	for _, s := range []struct{ c, h, stride int }{{64, 7, 1}, {64, 7, 2}, {16, 14, 1}, {32, 14, 2}} {
		b.Run(fmt.Sprintf("c=%d/h=%d/s=%d", s.c, s.h, s.stride), func(b *testing.B) {
			g := QConvGeom{H: s.h, W: s.h, KH: 3, KW: 3, SH: s.stride, SW: s.stride, DH: 1, DW: 1, PT: 1, PL: 1}
			g.OH, g.OW = (s.h+2-3)/s.stride+1, (s.h+2-3)/s.stride+1
			if !g.DepthwiseDirect() {
				b.Skip("no direct kernel")
			}
			r := rand.New(rand.NewPCG(1, 2))
			x := randU8(r, s.c*s.h*s.h)
			wt := make([]int32, s.c*9)
			QDepthwiseWeights(wt, randS8(r, s.c*9))
			ep := &QEpilogue{Corr: make([]int32, s.c), Mult: make([]float64, s.c), Lo: -10, Hi: 200, ZeroPoint: 10}
			for i := range ep.Mult {
				ep.Mult[i] = 0.01
			}
			c := make([]byte, s.c*g.OH*g.OW)
			plan := g.DepthwisePlan()
			for b.Loop() {
				plan.Run(s.c, 1, x, wt, c, 3, ep)
			}
			b.ReportMetric(float64(s.c*9*g.OH*g.OW)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
		})
	}
}
