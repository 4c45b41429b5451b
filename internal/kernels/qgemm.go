package kernels

import (
	"fmt"
	"math"
	"unsafe"
)

//go:generate go run gen_qasm.go

// # Integer kernels
//
// QGemm multiplies int8 weights by uint8 activations with int32 accumulation
// and requantizes the result, as ONNX's QLinearConv and QLinearMatMul do:
//
//	acc[i][p] = Σ_kq Σ_j<4  B[off[kq] + 4p + j] · A[i][4kq + j]      (uint8 × int8)
//	y[i][p]   = saturate(round_half_even((acc[i][p] + Corr[i]) · Mult[i]) + ZeroPoint)
//
// The weights A (m × K, K padded to a multiple of 4 with zeros) are packed
// once by QPackA. The activations B are not a matrix but a byte buffer read
// through a table of offsets, one per group of four k ("k-quad"): position
// p of k-quad kq is the four bytes at off[kq] + 4p. A convolution lays its
// input out so that every (channel quad, tap) is such a run of positions
// (QConvGeom.PackQuads), so no im2col matrix is written; a matrix product
// transposes its left operand into quads (QPackRowQuads).
//
// The accumulation is exact (int32); the requantization multiplies in
// float64, clamps and rounds half to even, exactly as the reference
// QLinearConv of the engine does, so the kernels are bit-exact against it on
// every implementation.

// QMR is the number of rows in one block of a QPackedA.
const QMR = 8

// QPackedA is an int8 m×K matrix packed for QGemm: rows in blocks of QMR
// (the last block may be shorter); within the block of rb rows starting at
// row b, the four bytes of row b+r at k-quad kq are at
// data[b*KQ*4 + (kq*rb + r)*4 : +4].
type QPackedA struct {
	M, KQ int
	data  []int8
}

// QPackedALen returns the number of bytes QPackA needs for an m×k matrix.
func QPackedALen(m, k int) int { return m * 4 * ((k + 3) / 4) }

// QPackA packs the int8 m×k matrix a (row i at a[i*lda:], lda >= k) into dst
// (at least QPackedALen(m, k) bytes); columns k up to the next multiple of 4
// are zero.
func QPackA(dst []int8, a []int8, m, k, lda int) QPackedA {
	kq := (k + 3) / 4
	if m < 0 || k < 0 || lda < k || len(dst) < QPackedALen(m, k) || (m > 0 && k > 0 && len(a) < (m-1)*lda+k) {
		panic(fmt.Sprintf("kernels: QPackA of %d×%d (lda %d) from %d values into %d bytes", m, k, lda, len(a), len(dst)))
	}
	for b0 := 0; b0 < m; b0 += QMR {
		rb := min(QMR, m-b0)
		blk := dst[b0*kq*4:]
		for q := range kq {
			for r := range rb {
				for j := range 4 {
					var v int8
					if kk := 4*q + j; kk < k {
						v = a[(b0+r)*lda+kk]
					}
					blk[(q*rb+r)*4+j] = v
				}
			}
		}
	}
	return QPackedA{M: m, KQ: kq, data: dst[:QPackedALen(m, k)]}
}

// QEpilogue is the requantization QGemm and QDepthwise apply to each
// accumulator of row i: v = float64(acc + Corr[i]) · Mult[i], clamped to
// [Lo, Hi]; then round half to even and add ZeroPoint for an integer output,
// or float32(v) for a float output.
//
// For a uint8 output with zero point z, Lo = 0 − z and Hi = 255 − z (or
// tighter, for a fused activation); for int8, −128 − z and 127 − z. The
// conversion to bytes truncates, which is exact inside those bounds.
type QEpilogue struct {
	Corr      []int32   // per row: bias minus the input zero point's contribution
	Mult      []float64 // per row: input scale · weight scale / output scale
	Lo, Hi    float64
	ZeroPoint int32

	safeK int // Prepare: IntSafe holds for k up to this
}

// Prepare records, once, how long a sum IntSafe allows for all rows, so
// that the kernels need not check it at each call. Call it after setting
// the fields and before sharing the epilogue between goroutines.
func (ep *QEpilogue) Prepare() {
	ep.safeK = 0
	for k := 1 << 20; k >= 4; k /= 2 {
		if ep.intSafe(len(ep.Corr), k) {
			ep.safeK = k
			return
		}
	}
}

// qgemmArgs is the argument block of an integer micro-kernel call: rows rows
// of A (the first at a, astride bytes from one k-quad to the next) times
// positions [0, n) of B, into C (ldc bytes from one row to the next).
// The assembly reads it through the offsets in go_asm.h.
type qgemmArgs struct {
	a       unsafe.Pointer // A's first row at k-quad 0
	astride int            // bytes from one k-quad of A to the next
	kq      int            // number of k-quads
	b       unsafe.Pointer // B at position 0
	off     unsafe.Pointer // *int32: byte offset of each k-quad
	n       int            // positions
	c       unsafe.Pointer // C row 0 at position 0
	ldc     int            // bytes from one row of C to the next
	corr    unsafe.Pointer // *int32 of row 0
	mult    unsafe.Pointer // *float64 of row 0
	lo, hi  float64
	zp      int64
	loI     int64 // the integer bounds, zero point added (VNNI)
	hiI     int64
	f32     int            // 1: float32 output
	ctab    unsafe.Pointer // nil, or per tile of 32 positions: the mask of outputs and the index of the first (QGemmFlat)

	// QSamePlan: B read through masks, the lanes outside them getting zpIn.
	mtab    unsafe.Pointer // nil, or per k-quad and tile of 32 positions: the lanes to load
	mstride int            // bytes from one k-quad's masks to the next
	zpIn    int64          // four input zero-point bytes
}

// QGemm computes the uint8 or int8 outputs (bytes; the bounds of ep select
// the type) of rows [0, a.M) for positions [0, n): row i at c[i*ldc:].
// Every position p reads b[off[kq]+4p : +4] for each k-quad kq, which must
// lie inside b. QGemm does not allocate.
func QGemm(a QPackedA, n int, b []byte, off []int32, c []byte, ldc int, ep *QEpilogue) {
	if a.M == 0 || n <= 0 {
		return
	}
	qgemmCheck(a, n, b, off, len(c), ldc, ep)
	qgemm(a, n, b, off, unsafe.Pointer(unsafe.SliceData(c)), ldc, 1, ep, nil)
}

// QGemmF32 is QGemm with float32 outputs float32((acc+Corr)·Mult) clamped to
// [Lo, Hi] (a dequantized output with a fused activation); ZeroPoint is not
// used. ldc counts float32 elements.
func QGemmF32(a QPackedA, n int, b []byte, off []int32, c []float32, ldc int, ep *QEpilogue) {
	if a.M == 0 || n <= 0 {
		return
	}
	qgemmCheck(a, n, b, off, len(c), ldc, ep)
	qgemm(a, n, b, off, unsafe.Pointer(unsafe.SliceData(c)), ldc, 4, ep, nil)
}

func qgemmCheck(a QPackedA, n int, b []byte, off []int32, lenC, ldc int, ep *QEpilogue) {
	if len(off) < a.KQ {
		panic(fmt.Sprintf("kernels: QGemm with %d offsets for %d k-quads", len(off), a.KQ))
	}
	for _, o := range off[:a.KQ] {
		if o < 0 || int(o)+4*n > len(b) {
			panic(fmt.Sprintf("kernels: QGemm offset %d + %d positions is outside B (%d bytes)", o, n, len(b)))
		}
	}
	if ldc < n || lenC < (a.M-1)*ldc+n {
		panic(fmt.Sprintf("kernels: QGemm C of %d elements for %d rows × %d positions with ldc %d", lenC, a.M, n, ldc))
	}
	if len(ep.Corr) < a.M || len(ep.Mult) < a.M {
		panic(fmt.Sprintf("kernels: QGemm epilogue with %d corrections and %d multipliers for %d rows", len(ep.Corr), len(ep.Mult), a.M))
	}
}

func qgemm(a QPackedA, n int, b []byte, off []int32, c unsafe.Pointer, ldc, size int, ep *QEpilogue, ctab unsafe.Pointer) {
	var p qgemmArgs
	p.ctab = ctab
	qgemmRun(&p, a, n, b, off, c, ldc, size, ep)
}

func qgemmRun(p *qgemmArgs, a QPackedA, n int, b []byte, off []int32, c unsafe.Pointer, ldc, size int, ep *QEpilogue) {
	p.loI, p.hiI = int64(ep.Lo)+int64(ep.ZeroPoint), int64(ep.Hi)+int64(ep.ZeroPoint)
	impl := qactive
	if size == 1 && impl.kind == qkVNNI && ep.safeK < 4*a.KQ && !ep.intSafe(a.M, 4*a.KQ) {
		if p.mtab != nil {
			panic("kernels: QSamePlan with an epilogue that may overflow int32 (check QEpilogue.IntSafe)")
		}
		impl = qgeneric // the VNNI epilogue clamps in int32
	}
	p.kq = a.KQ
	p.b = unsafe.Pointer(unsafe.SliceData(b))
	p.off = unsafe.Pointer(unsafe.SliceData(off))
	p.n = n
	p.ldc = ldc * size
	p.lo, p.hi, p.zp = ep.Lo, ep.Hi, int64(ep.ZeroPoint)
	if size == 4 {
		p.f32 = 1
	}
	for b0 := 0; b0 < a.M; b0 += QMR {
		rb := min(QMR, a.M-b0)
		blk := unsafe.Pointer(&a.data[b0*a.KQ*4])
		p.astride = 4 * rb
		for r0 := 0; r0 < rb; {
			rows := impl.rows(rb - r0)
			p.a = unsafe.Add(blk, 4*r0)
			p.c = unsafe.Add(c, (b0+r0)*ldc*size) // with ctab, ldc is the output plane
			p.corr = unsafe.Pointer(&ep.Corr[b0+r0])
			p.mult = unsafe.Pointer(&ep.Mult[b0+r0])
			impl.gemm(rows, p)
			r0 += rows
		}
	}
}

// IntSafe reports whether every accumulator of rows [0, m) over k products
// of uint8 and int8, corrected and multiplied, stays far inside int32: the
// VNNI kernels then clamp integer outputs after converting them (faster);
// otherwise QGemm uses the portable kernel, and QSamePlan must not be used.
func (ep *QEpilogue) IntSafe(m, k int) bool { return ep.intSafe(m, k) }

func (ep *QEpilogue) intSafe(m, k int) bool {
	for i := range m {
		bound := (math.Abs(float64(ep.Corr[i])) + float64(k)*255*128) * math.Abs(ep.Mult[i])
		if !(bound < 1<<30) {
			return false
		}
	}
	return ep.Lo >= -1<<20 && ep.Hi <= 1<<20
}

// requant is the scalar definition of the epilogue for integer outputs.
func requant(acc int32, mult, lo, hi float64, zp int32) int32 {
	v := min(max(float64(acc)*mult, lo), hi)
	return int32(math.RoundToEven(v)) + zp
}

// qgemmGeneric is the portable micro-kernel.
func qgemmGeneric(rows int, p *qgemmArgs) {
	const chunk = 64
	var acc [chunk]int32
	off := unsafe.Slice((*int32)(p.off), p.kq)
	for r := range rows {
		a := unsafe.Slice((*int8)(unsafe.Add(p.a, 4*r)), (p.kq-1)*p.astride+4)
		corr := *(*int32)(unsafe.Add(p.corr, 4*r))
		mult := *(*float64)(unsafe.Add(p.mult, 8*r))
		crow := unsafe.Add(p.c, r*p.ldc)
		for p0 := 0; p0 < p.n; p0 += chunk {
			np := min(chunk, p.n-p0)
			for i := range np {
				acc[i] = corr
			}
			for q, o := range off {
				w0, w1, w2, w3 := int32(a[q*p.astride]), int32(a[q*p.astride+1]), int32(a[q*p.astride+2]), int32(a[q*p.astride+3])
				src := unsafe.Slice((*byte)(unsafe.Add(p.b, int(o)+4*p0)), 4*np)
				for i := range np {
					s := src[4*i : 4*i+4 : 4*i+4]
					acc[i] += int32(s[0])*w0 + int32(s[1])*w1 + int32(s[2])*w2 + int32(s[3])*w3
				}
			}
			qstore(crow, p0, acc[:np], mult, p)
		}
	}
}

// qstore applies the epilogue to accumulators (Corr already added) of
// positions [p0, p0+len(acc)) of a row of C.
func qstore(crow unsafe.Pointer, p0 int, acc []int32, mult float64, p *qgemmArgs) {
	if p.f32 != 0 {
		dst := unsafe.Slice((*float32)(unsafe.Add(crow, 4*p0)), len(acc))
		for i, v := range acc {
			dst[i] = float32(min(max(float64(v)*mult, p.lo), p.hi))
		}
		return
	}
	dst := unsafe.Slice((*byte)(unsafe.Add(crow, p0)), len(acc))
	zp := int32(p.zp)
	for i, v := range acc {
		dst[i] = byte(requant(v, mult, p.lo, p.hi, zp))
	}
}
