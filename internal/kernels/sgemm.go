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

	// The shifted kernels (SgemmShift) read B through table instead of
	// panels: for each tap, cin k steps cstride bytes apart.
	table   unsafe.Pointer // shiftEntry of the first column block and tap
	taps    int            // taps in this call
	cin     int            // k steps per tap
	cstride int            // bytes between the k steps of a tap
	tstride int            // bytes from one column block's entries to the next
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
// assembly kernels for any number of rows. It computes blocks of 4×4 in
// scalar registers (a tail of fewer rows recomputes the last row).
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
	var acc [4][4]float32
	for j0 := 0; j0 < n; j0 += NR {
		var panel []float32
		if k > 0 {
			panel = b[j0/NR*bs:][:k*NR]
		}
		if rows == 1 {
			// Batch-1 rows: 1×8 blocks waste nothing on missing rows.
			for jj := 0; jj < NR && j0+jj < n; jj += 8 {
				w := min(8, n-j0-jj)
				var acc8 [8]float32
				if k > 0 {
					acc8 = gemmBlock1x8(a[:k], panel[jj:])
				}
				epilogueGeneric(p, acc8[:w], c[j0+jj:][:w], rowBias, 0, colBias, j0+jj)
			}
			continue
		}
		for jj := 0; jj < NR && j0+jj < n; jj += 4 {
			w := min(4, n-j0-jj)
			for i := 0; i < rows; i += 4 {
				if k > 0 {
					row := func(r int) []float32 { return a[min(i+r, rows-1)*lda:][:k] }
					acc = gemmBlock4x4(row(0), row(1), row(2), row(3), panel[jj:])
				}
				for r := range min(4, rows-i) {
					epilogueGeneric(p, acc[r][:w], c[(i+r)*ldc+j0+jj:][:w], rowBias, i+r, colBias, j0+jj)
				}
			}
		}
	}
}

// gemmBlock1x8 returns the product of a row of A and eight columns of a
// packed panel (b starts at the columns; rows are NR apart).
func gemmBlock1x8(a, b []float32) [8]float32 {
	var c0, c1, c2, c3, c4, c5, c6, c7 float32
	for kk, x := range a {
		bb := (*[8]float32)(b[kk*NR:])
		c0 += x * bb[0]
		c1 += x * bb[1]
		c2 += x * bb[2]
		c3 += x * bb[3]
		c4 += x * bb[4]
		c5 += x * bb[5]
		c6 += x * bb[6]
		c7 += x * bb[7]
	}
	return [8]float32{c0, c1, c2, c3, c4, c5, c6, c7}
}

// gemmBlock4x4 returns the 4×4 product of four rows of A and four columns
// of a packed panel (b starts at the columns; rows are NR apart).
func gemmBlock4x4(a0, a1, a2, a3, b []float32) (c [4][4]float32) {
	var c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33 float32
	a1, a2, a3 = a1[:len(a0)], a2[:len(a0)], a3[:len(a0)]
	for kk, x0 := range a0 {
		bb := (*[4]float32)(b[kk*NR:])
		x1, x2, x3 := a1[kk], a2[kk], a3[kk]
		b0, b1, b2, b3 := bb[0], bb[1], bb[2], bb[3]
		c00 += x0 * b0
		c01 += x0 * b1
		c02 += x0 * b2
		c03 += x0 * b3
		c10 += x1 * b0
		c11 += x1 * b1
		c12 += x1 * b2
		c13 += x1 * b3
		c20 += x2 * b0
		c21 += x2 * b1
		c22 += x2 * b2
		c23 += x2 * b3
		c30 += x3 * b0
		c31 += x3 * b1
		c32 += x3 * b2
		c33 += x3 * b3
	}
	return [4][4]float32{{c00, c01, c02, c03}, {c10, c11, c12, c13}, {c20, c21, c22, c23}, {c30, c31, c32, c33}}
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
