package kernels

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// benchImpls runs f as a sub-benchmark on every implementation the CPU has.
func benchImpls(b *testing.B, f func(b *testing.B)) {
	saved := active
	defer func() { active = saved }()
	for _, p := range implPaths {
		if !p.use() {
			continue
		}
		b.Run(p.name, f)
		active = saved
	}
}

// cpuTimer measures the thread CPU time of a benchmark loop, so that the
// GFLOP/s it reports stay meaningful on a machine shared with other work.
type cpuTimer struct {
	start int64
	ok    bool
}

func startCPU(b *testing.B) cpuTimer {
	runtime.LockOSThread()
	b.Cleanup(runtime.UnlockOSThread)
	ns, ok := threadCPU()
	return cpuTimer{start: ns, ok: ok}
}

// reportFlops reports GFLOP/s from wall time and, where available, from the
// thread's CPU time (cpu-GFLOP/s).
func (t cpuTimer) reportFlops(b *testing.B, flopsPerOp float64) {
	total := flopsPerOp * float64(b.N)
	b.ReportMetric(total/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	if end, ok := threadCPU(); ok && t.ok && end > t.start {
		b.ReportMetric(total/float64(end-t.start), "cpu-GFLOP/s")
	}
}

// reportBytes reports GB/s of CPU time, like reportFlops.
func (t cpuTimer) reportBytes(b *testing.B, bytesPerOp int64) {
	b.SetBytes(bytesPerOp)
	if end, ok := threadCPU(); ok && t.ok && end > t.start {
		b.ReportMetric(float64(bytesPerOp)*float64(b.N)/float64(end-t.start), "cpu-GB/s")
	}
}

type gemmShape struct {
	name    string
	m, k, n int
}

var gemmShapes = []gemmShape{
	{"conv/digits1", 16, 9, 64},
	{"conv/digits2", 32, 144, 64},
	{"conv/fashion1", 16, 9, 784},
	{"conv/fashion1b", 32, 9, 784},
	{"conv/fashion2", 32, 144, 784},
	{"conv/fashion2s", 32, 144, 196},
	{"conv/fashion3", 64, 288, 196},
	{"conv/c64k576n196", 64, 576, 196},
	{"conv/c64k576n49", 64, 576, 49},
	{"conv/c64k576n784", 64, 576, 784},
	{"gemm/b1k64n64", 1, 64, 64},
	{"gemm/b1k64n10", 1, 64, 10},
	{"gemm/b1k256n128", 1, 256, 128},
	{"gemm/b1k512n256", 1, 512, 256},
	{"gemm/b4k256n128", 4, 256, 128},
	{"gemm/b360k64n64", 360, 64, 64},
	{"gemm/b360k128n10", 360, 128, 10},
	{"gemm/b360k256n128", 360, 256, 128},
	{"gemm/b360k512n256", 360, 512, 256},
}

func BenchmarkSgemm(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, s := range gemmShapes {
		a, bm := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n)
		c, bias := make([]float32, s.m*s.n), randSlice(r, max(s.m, s.n))
		pb := PackB(make([]float32, PackedBLen(s.k, s.n)), s.k, s.n, bm, s.n, false)
		ep := Epilogue{RowBias: bias[:s.m], Act: Activation{Kind: ActRelu}}
		if s.name[:4] == "gemm" {
			ep = Epilogue{ColBias: bias[:s.n]}
		}
		b.Run(s.name, func(b *testing.B) {
			benchImpls(b, func(b *testing.B) {
				tm := startCPU(b)
				for b.Loop() {
					Sgemm(s.m, a, s.k, pb, c, s.n, ep)
				}
				tm.reportFlops(b, 2*float64(s.m*s.k*s.n))
			})
		})
	}
}

// BenchmarkConv is a whole convolution layer of one image: Im2colPacked and
// Sgemm with bias and ReLU.
func BenchmarkConv(b *testing.B) {
	r := rand.New(rand.NewPCG(2, 2))
	for _, s := range []struct {
		name          string
		cin, hw, cout int
	}{
		{"digits/8x8x1to16", 1, 8, 16},
		{"digits/8x8x16to32", 16, 8, 32},
		{"fashion/28x28x1to32", 1, 28, 32},
		{"fashion/28x28x16to32", 16, 28, 32},
		{"fashion/14x14x32to64", 32, 14, 64},
		{"fashion/7x7x64to64", 64, 7, 64},
	} {
		k, n := s.cin*9, s.hw*s.hw
		src, w := randSlice(r, s.cin*n), randSlice(r, s.cout*k)
		bias, out := randSlice(r, s.cout), make([]float32, s.cout*n)
		col := make([]float32, PackedBLen(k, n))
		b.Run(s.name, func(b *testing.B) {
			benchImpls(b, func(b *testing.B) {
				tm := startCPU(b)
				for b.Loop() {
					pb := Im2colPacked(col, src, s.cin, s.hw, s.hw, 3, 3, 1, 1, 1, 1, 1, 1, s.hw, s.hw)
					Sgemm(s.cout, w, k, pb, out, n, Epilogue{RowBias: bias, Act: Activation{Kind: ActRelu}})
				}
				tm.reportFlops(b, 2*float64(s.cout*k*n))
			})
		})
	}
}

func BenchmarkIm2colPacked(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, s := range []struct{ c, hw, stride int }{{16, 28, 1}, {32, 14, 1}, {16, 28, 2}} {
		ohw := (s.hw+2-3)/s.stride + 1
		src := randSlice(r, s.c*s.hw*s.hw)
		col := make([]float32, PackedBLen(s.c*9, ohw*ohw))
		b.Run(fmt.Sprintf("c%d/%dx%d/s%d", s.c, s.hw, s.hw, s.stride), func(b *testing.B) {
			tm := startCPU(b)
			for b.Loop() {
				Im2colPacked(col, src, s.c, s.hw, s.hw, 3, 3, 1, 1, s.stride, s.stride, 1, 1, ohw, ohw)
			}
			tm.reportBytes(b, int64(4*s.c*9*ohw*ohw))
		})
	}
}

func BenchmarkPackB(b *testing.B) {
	r := rand.New(rand.NewPCG(4, 4))
	for _, s := range [][2]int{{256, 128}, {512, 256}} {
		k, n := s[0], s[1]
		src := randSlice(r, k*n)
		dst := make([]float32, PackedBLen(k, n))
		for _, trans := range []bool{false, true} {
			b.Run(fmt.Sprintf("k%dn%d/trans=%v", k, n, trans), func(b *testing.B) {
				ld := n
				if trans {
					ld = k
				}
				tm := startCPU(b)
				for b.Loop() {
					PackB(dst, k, n, src, ld, trans)
				}
				tm.reportBytes(b, int64(4*k*n))
			})
		}
	}
}

func BenchmarkDepthwise(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 5))
	for _, s := range []struct{ c, hw, stride int }{{16, 14, 1}, {64, 14, 1}, {16, 28, 1}, {32, 28, 1}, {32, 28, 2}} {
		ohw := (s.hw+2-3)/s.stride + 1
		src, ker := randSlice(r, s.c*s.hw*s.hw), randSlice(r, s.c*9)
		dst := make([]float32, s.c*ohw*ohw)
		b.Run(fmt.Sprintf("c%d/%dx%d/s%d", s.c, s.hw, s.hw, s.stride), func(b *testing.B) {
			benchImpls(b, func(b *testing.B) {
				tm := startCPU(b)
				for b.Loop() {
					for ch := range s.c {
						DepthwiseConv2D(dst[ch*ohw*ohw:], src[ch*s.hw*s.hw:], s.hw, s.hw, ker[ch*9:], 3, 3, 1, 1, s.stride, s.stride, 1, 1, ohw, ohw, 0.1, Activation{Kind: ActRelu})
					}
				}
				tm.reportFlops(b, 2*9*float64(s.c*ohw*ohw))
			})
		})
	}
}

func BenchmarkElementwise(b *testing.B) {
	r := rand.New(rand.NewPCG(6, 6))
	for _, n := range []int{1000, 50000} {
		x, y, d := randSlice(r, n), randSlice(r, n), make([]float32, n)
		b.Run(fmt.Sprintf("Add/%d", n), func(b *testing.B) {
			benchImpls(b, func(b *testing.B) {
				tm := startCPU(b)
				for b.Loop() {
					Add(d, x, y)
				}
				tm.reportBytes(b, int64(12*n))
			})
		})
		b.Run(fmt.Sprintf("Relu/%d", n), func(b *testing.B) {
			benchImpls(b, func(b *testing.B) {
				tm := startCPU(b)
				for b.Loop() {
					ApplyActivation(d, Activation{Kind: ActRelu})
				}
				tm.reportBytes(b, int64(8*n))
			})
		})
	}
}
