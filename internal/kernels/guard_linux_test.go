package kernels

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// guardedSlices returns two slices of n floats: one ending exactly where an
// inaccessible page starts and one starting exactly where one ends, so that
// any access outside them faults.
func guardedSlices(t *testing.T, n int) (endAtGuard, startAtGuard []float32) {
	t.Helper()
	page := syscall.Getpagesize()
	size := (4*n + page - 1) / page * page
	mem, err := syscall.Mmap(-1, 0, 3*page+2*size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	require.NoError(t, err)
	t.Cleanup(func() { _ = syscall.Munmap(mem) })
	// Layout: guard | size | guard | size | guard.
	for _, g := range []int{0, page + size, 2*page + 2*size} {
		require.NoError(t, syscall.Mprotect(mem[g:g+page], syscall.PROT_NONE))
	}
	a := mem[page+size-4*n : page+size]
	b := mem[2*page+size : 2*page+size+4*n]
	return unsafe.Slice((*float32)(unsafe.Pointer(&a[0])), n), unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), n)
}

// TestNoAccessOutsideSlices runs the kernels with every operand butting
// against an inaccessible page on both sides, so that a masked tail that
// touches memory outside its slice crashes the test.
func TestNoAccessOutsideSlices(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	fill := func(s []float32) []float32 {
		for i := range s {
			s[i] = r.Float32() - 0.5
		}
		return s
	}
	forEachImpl(t, func(t *testing.T) {
		for _, s := range [][3]int{{1, 1, 1}, {3, 5, 7}, {13, 17, 9}, {2, 33, 3}, {5, 100, 40}} {
			m, n, k := s[0], s[1], s[2]
			for side := range 2 {
				pick := func(sz int) []float32 {
					x, y := guardedSlices(t, sz)
					if side == 0 {
						return fill(x)
					}
					return fill(y)
				}
				a, c, bias, rb := pick(m*k), pick(m*n), pick(n), pick(m)
				b := pick(k * n)
				pb := PackB(pick(PackedBLen(k, n)), k, n, b, n, false)
				want := make([]float32, m*n)
				copy(want, c)
				ref, _ := refSgemm(m, n, k, a, k, b, n, false, want, n, Epilogue{ColBias: bias, RowBias: rb, Accumulate: true})
				Sgemm(m, a, k, pb, c, n, Epilogue{ColBias: bias, RowBias: rb, Accumulate: true})
				for i := range ref {
					require.InDelta(t, ref[i], c[i], 1e-4)
				}
				PackB(pick(PackedBLen(k, n)), k, n, pick(n*k), k, true)

				h, w := s[1], s[2]
				src := pick(h * w)
				for _, st := range []int{1, 2} {
					oh, ow := outSize(h, 3, 1, 1, st, 1), outSize(w, 3, 1, 1, st, 1)
					DepthwiseConv2D(pick(oh*ow), src, h, w, pick(9), 3, 3, 1, 1, st, st, 1, 1, oh, ow, 0.1, Activation{Kind: ActRelu})
					Im2colPacked(pick(PackedBLen(9, oh*ow)), src, 1, h, w, 3, 3, 1, 1, st, st, 1, 1, oh, ow)
				}
				x, y, d := pick(n), pick(n), pick(n)
				Add(d, x, y)
				Mul(d, x, y)
				AddScalar(d, x, 1)
				ApplyActivation(d, Activation{Kind: ActLeakyRelu, Alpha: 0.1})
				ApplyActivation(d, Activation{Kind: ActClip, Min: -0.1, Max: 0.1})
			}
		}
	})
}
