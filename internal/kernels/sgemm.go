package kernels

import (
	"fmt"
	"unsafe"
)

//go:generate go run gen_asm.go

// gemmArgs is the argument block of a micro-kernel call: it computes rows
// rows of C for columns [0, n) of the packed panels at b, over k steps.
// The assembly reads it through the offsets in go_asm.h.
type gemmArgs struct {
	a, b, c          unsafe.Pointer // A row 0 at column k0; panel 0 at row k0; C row 0 at column 0
	rowBias, colBias unsafe.Pointer // at row 0 / column 0 of this call
	k                int            // number of k steps
	lda, ldc         int            // row strides of A and C, in bytes
	bstride          int            // bytes from one panel to the next
	n                int            // number of columns
	flags            int            // flag* bits
	alpha, lo, hi    float32        // scale, clamp bounds
	leak             float32        // leaky-relu slope
}

// Epilogue flag bits of gemmArgs.flags; gen_asm.go has the same values.
const (
	flagAlpha   = 1  // multiply by alpha
	flagLoadC   = 2  // add the old C
	flagRowBias = 4  // add rowBias[r]
	flagColBias = 8  // add colBias[j]
	flagMin     = 16 // max(x, lo)
	flagMax     = 32 // min(x, hi)
	flagLeaky   = 64 // x < 0 ? leak*x : x
)

// actFlags returns the flag bits and parameters of an activation.
func actFlags(act Activation, p *gemmArgs) int {
	switch act.Kind {
	case ActNone:
		return 0
	case ActRelu:
		p.lo = 0
		return flagMin
	case ActClip:
		p.lo, p.hi = act.Min, act.Max
		return flagMin | flagMax
	case ActLeakyRelu:
		p.leak = act.Alpha
		return flagLeaky
	}
	panic(fmt.Sprintf("kernels: unknown activation kind %d", act.Kind))
}

// Sgemm computes C = act(alpha·A·B + RowBias + ColBias (+ C)) as described by
// ep, where A is m×b.K with leading dimension lda, B is the packed b.K×b.N
// matrix b, and C is m×b.N with leading dimension ldc. A is read in place
// (it is not packed), so small m costs no copy. Sgemm does not allocate.
func Sgemm(m int, a []float32, lda int, b PackedB, c []float32, ldc int, ep Epilogue) {
	k, n := b.K, b.N
	switch {
	case m < 0:
		panic(fmt.Sprintf("kernels: Sgemm m = %d < 0", m))
	case lda < max(k, 1):
		panic(fmt.Sprintf("kernels: Sgemm lda = %d < K = %d", lda, k))
	case ldc < max(n, 1):
		panic(fmt.Sprintf("kernels: Sgemm ldc = %d < N = %d", ldc, n))
	}
	if m == 0 || n == 0 {
		return
	}
	switch {
	case k > 0 && len(a) < (m-1)*lda+k:
		panic(fmt.Sprintf("kernels: Sgemm len(a) = %d < %d for m = %d, K = %d, lda = %d", len(a), (m-1)*lda+k, m, k, lda))
	case len(c) < (m-1)*ldc+n:
		panic(fmt.Sprintf("kernels: Sgemm len(c) = %d < %d for m = %d, N = %d, ldc = %d", len(c), (m-1)*ldc+n, m, n, ldc))
	case len(b.data) < PackedBLen(k, n):
		panic(fmt.Sprintf("kernels: Sgemm packed B holds %d floats, need %d", len(b.data), PackedBLen(k, n)))
	case ep.RowBias != nil && len(ep.RowBias) < m:
		panic(fmt.Sprintf("kernels: Sgemm len(RowBias) = %d < m = %d", len(ep.RowBias), m))
	case ep.ColBias != nil && len(ep.ColBias) < n:
		panic(fmt.Sprintf("kernels: Sgemm len(ColBias) = %d < N = %d", len(ep.ColBias), n))
	}
	impl := active
	var p gemmArgs
	p.lda = lda * 4
	p.ldc = ldc * 4
	p.bstride = k * NR * 4
	p.alpha = ep.Alpha
	alphaFlag := 0
	if p.alpha != 0 && p.alpha != 1 {
		alphaFlag = flagAlpha
	}
	lastFlags := alphaFlag | actFlags(ep.Act, &p)
	if ep.RowBias != nil {
		lastFlags |= flagRowBias
	}
	if ep.ColBias != nil {
		lastFlags |= flagColBias
	}

	// Blocking: a K block of kc steps keeps each row tile of A (rows×kc) in
	// L1 while the kernel sweeps the panels; an N block of nc columns keeps
	// the kc×nc block of B in L2 while the row tiles sweep it.
	nkb := max((k+impl.kc-1)/impl.kc, 1)
	kc := (k + nkb - 1) / nkb
	nc := max(impl.l2Floats/max(kc, 1)/(2*NR)*(2*NR), 2*NR)
	tiles := (m + impl.mr - 1) / impl.mr
	rowsLo, extra := m/tiles, m%tiles // extra tiles have rowsLo+1 rows

	for j0 := 0; j0 < n; j0 += nc {
		p.n = min(nc, n-j0)
		for k0 := 0; ; k0 += kc {
			p.k = min(kc, k-k0)
			p.flags = alphaFlag
			if k0 > 0 || ep.Accumulate {
				p.flags |= flagLoadC
			}
			if k0+kc >= k {
				p.flags |= lastFlags
			}
			if p.k > 0 {
				p.b = unsafe.Pointer(&b.data[j0*k+k0*NR])
			}
			for t, i0 := 0, 0; t < tiles; t++ {
				rows := rowsLo
				if t < extra {
					rows++
				}
				if p.k > 0 {
					p.a = unsafe.Pointer(&a[i0*lda+k0])
				}
				p.c = unsafe.Pointer(&c[i0*ldc+j0])
				if ep.RowBias != nil {
					p.rowBias = unsafe.Pointer(&ep.RowBias[i0])
				}
				if ep.ColBias != nil {
					p.colBias = unsafe.Pointer(&ep.ColBias[j0])
				}
				impl.gemm(rows, &p)
				i0 += rows
			}
			if k0+kc >= k {
				break
			}
		}
	}
}

// gemmGeneric is the portable micro-kernel: it has the semantics of the
// assembly kernels for any number of rows.
func gemmGeneric(rows int, p *gemmArgs) {
	k, n := p.k, p.n
	lda, ldc, bs := p.lda/4, p.ldc/4, p.bstride/4
	var a, b []float32
	if k > 0 {
		a = unsafe.Slice((*float32)(p.a), (rows-1)*lda+k)
		b = unsafe.Slice((*float32)(p.b), ((n-1)/NR)*bs+k*NR)
	}
	c := unsafe.Slice((*float32)(p.c), (rows-1)*ldc+n)
	var rowBias, colBias []float32
	if p.flags&flagRowBias != 0 {
		rowBias = unsafe.Slice((*float32)(p.rowBias), rows)
	}
	if p.flags&flagColBias != 0 {
		colBias = unsafe.Slice((*float32)(p.colBias), n)
	}
	for j0 := 0; j0 < n; j0 += NR {
		w := min(NR, n-j0)
		var panel []float32
		if k > 0 {
			panel = b[j0/NR*bs:][:k*NR]
		}
		i := 0
		for ; i+2 <= rows; i += 2 {
			var acc0, acc1 [NR]float32
			if k > 0 {
				a0, a1 := a[i*lda:][:k], a[(i+1)*lda:][:k]
				for kk := range k {
					bp := (*[NR]float32)(panel[kk*NR:])
					x0, x1 := a0[kk], a1[kk]
					for jj := range NR {
						acc0[jj] += x0 * bp[jj]
						acc1[jj] += x1 * bp[jj]
					}
				}
			}
			epilogueGeneric(p, acc0[:w], c[i*ldc+j0:][:w], rowBias, i, colBias, j0)
			epilogueGeneric(p, acc1[:w], c[(i+1)*ldc+j0:][:w], rowBias, i+1, colBias, j0)
		}
		if i < rows {
			var acc0 [NR]float32
			if k > 0 {
				a0 := a[i*lda:][:k]
				for kk := range k {
					bp := (*[NR]float32)(panel[kk*NR:])
					x0 := a0[kk]
					for jj := range NR {
						acc0[jj] += x0 * bp[jj]
					}
				}
			}
			epilogueGeneric(p, acc0[:w], c[i*ldc+j0:][:w], rowBias, i, colBias, j0)
		}
	}
}

// epilogueGeneric applies p's epilogue to the accumulators of one row and
// stores them in c.
func epilogueGeneric(p *gemmArgs, acc, c, rowBias []float32, i int, colBias []float32, j0 int) {
	f := p.flags
	if f&flagAlpha != 0 {
		for j := range acc {
			acc[j] *= p.alpha
		}
	}
	if f&flagRowBias != 0 {
		rb := rowBias[i]
		for j := range acc {
			acc[j] += rb
		}
	}
	if f&flagColBias != 0 {
		cb := colBias[j0:][:len(acc)]
		for j := range acc {
			acc[j] += cb[j]
		}
	}
	if f&flagLoadC != 0 {
		c := c[:len(acc)]
		for j := range acc {
			acc[j] += c[j]
		}
	}
	if f&flagMin != 0 {
		for j, x := range acc {
			acc[j] = max(x, p.lo)
		}
	}
	if f&flagMax != 0 {
		for j, x := range acc {
			acc[j] = min(x, p.hi)
		}
	}
	if f&flagLeaky != 0 {
		for j, x := range acc {
			if x < 0 {
				acc[j] = x * p.leak
			}
		}
	}
	copy(c, acc)
}
