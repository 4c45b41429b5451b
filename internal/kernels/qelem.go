package kernels

import (
	"fmt"
	"unsafe"
)

// QAddParams describes QAdd: y = Q(clamp(DQa(a) + DQb(b), Lo, Hi)), where DQx(q) =
// (float32(q) − ZeroX)·ScaleX and Q(v) = saturate(round_half_even(v/ScaleY) + ZeroY), the
// float32 operations of DequantizeLinear, Add, Relu/Clip and QuantizeLinear in that order, so
// the result equals theirs exactly.
type QAddParams struct {
	ScaleA, ZeroA    float32
	ScaleB, ZeroB    float32
	SignedA, SignedB bool    // int8 rather than uint8 inputs
	Lo, Hi           float32 // the activation's bounds (−Inf, +Inf for none)
	ScaleY           float32
	QMin, QMax       int32 // the output type's range
	ZeroY            int32
}

// qaddArgs is the argument block of the QAdd and Quantize kernels. Signed inputs are read as
// unsigned bytes XOR 0x80 with the zero point moved by 128, which gives the same float values.
type qaddArgs struct {
	dst, a, b    unsafe.Pointer
	n            int
	xa, xb       uint32 // 0x80808080 for signed inputs
	sa, za       float32
	sb, zb       float32
	lo, hi       float32
	sy, qlo, qhi float32 // qlo = QMin − ZeroY, qhi = QMax − ZeroY
	zy           int32
	f32          int
	nops         int // Quantize: the QPreOps at b
}

func (p *QAddParams) args(n int) qaddArgs {
	q := qaddArgs{n: n, sa: p.ScaleA, za: p.ZeroA, sb: p.ScaleB, zb: p.ZeroB, lo: p.Lo, hi: p.Hi,
		sy: p.ScaleY, qlo: float32(p.QMin - p.ZeroY), qhi: float32(p.QMax - p.ZeroY), zy: p.ZeroY}
	if p.SignedA {
		q.xa, q.za = 0x80808080, p.ZeroA+128
	}
	if p.SignedB {
		q.xb, q.zb = 0x80808080, p.ZeroB+128
	}
	return q
}

// QAdd writes len(dst) quantized sums of a and b (as many bytes each).
func QAdd(dst, a, b []byte, p *QAddParams) {
	if len(a) < len(dst) || len(b) < len(dst) {
		panic(fmt.Sprintf("kernels: QAdd of %d and %d bytes into %d", len(a), len(b), len(dst)))
	}
	if len(dst) == 0 {
		return
	}
	q := p.args(len(dst))
	q.dst, q.a, q.b = unsafe.Pointer(&dst[0]), unsafe.Pointer(&a[0]), unsafe.Pointer(&b[0])
	qactive.add(&q)
}

// QAddF32 is QAdd without the final quantization: float32 sums after the clamp.
func QAddF32(dst []float32, a, b []byte, p *QAddParams) {
	if len(a) < len(dst) || len(b) < len(dst) {
		panic(fmt.Sprintf("kernels: QAddF32 of %d and %d bytes into %d", len(a), len(b), len(dst)))
	}
	if len(dst) == 0 {
		return
	}
	q := p.args(len(dst))
	q.dst, q.a, q.b = unsafe.Pointer(&dst[0]), unsafe.Pointer(&a[0]), unsafe.Pointer(&b[0])
	q.f32 = 1
	qactive.add(&q)
}

// qaddGeneric is the portable QAdd over elements [i0, n).
func qaddGeneric(p *qaddArgs, i0 int) {
	a := unsafe.Slice((*byte)(p.a), p.n)
	b := unsafe.Slice((*byte)(p.b), p.n)
	xa, xb := byte(p.xa), byte(p.xb)
	for i := i0; i < p.n; i++ {
		// The conversions round each step to float32: no fused multiply-add may merge them.
		va := float32((float32(a[i]^xa) - p.za) * p.sa)
		vb := float32((float32(b[i]^xb) - p.zb) * p.sb)
		v := min(max(va+vb, p.lo), p.hi)
		if p.f32 != 0 {
			*(*float32)(unsafe.Add(p.dst, 4*i)) = v
			continue
		}
		*(*byte)(unsafe.Add(p.dst, i)) = byte(quantize32(v, p.sy, p.qlo, p.qhi) + p.zy)
	}
}

// quantize32 is QuantizeLinear's round_half_even(v/s) clamped to [qlo, qhi], NaN giving 0.
func quantize32(v, s, qlo, qhi float32) int32 {
	q := min(max(v/s, qlo), qhi)
	if q != q {
		q = 0
	}
	const magic = 12582912 // 1.5·2^23: adding and subtracting it rounds half to even
	return int32((q + magic) - magic)
}

// Quantize writes QuantizeLinear of x to 8 bits: saturate(round_half_even(x/scale) + zp) for
// the type's range [qmin, qmax], NaN giving the zero point, exactly as the reference operator.
func Quantize(dst []byte, x []float32, scale float32, zp, qmin, qmax int32) {
	if len(x) < len(dst) {
		panic(fmt.Sprintf("kernels: Quantize of %d values into %d bytes", len(x), len(dst)))
	}
	if len(dst) == 0 {
		return
	}
	q := qaddArgs{dst: unsafe.Pointer(&dst[0]), a: unsafe.Pointer(&x[0]), n: len(dst),
		sy: scale, qlo: float32(qmin - zp), qhi: float32(qmax - zp), zy: zp}
	qactive.quantize(&q)
}

// QPreOp is an element-wise operation with a constant that QuantizeAffine
// applies, in float32, before quantizing.
type QPreOp struct {
	Kind QPreKind
	C    float32
}

// QPreKind selects a QPreOp.
type QPreKind uint32

// The operations of QPreOp on a value x.
const (
	QAddC  QPreKind = iota // x + C
	QSubC                  // x − C
	QRSubC                 // C − x
	QMulC                  // x · C
	QDivC                  // x / C
	QRDivC                 // C / x
)

func (o QPreOp) apply(x float32) float32 {
	switch o.Kind {
	case QAddC:
		return x + o.C
	case QSubC:
		return x - o.C
	case QRSubC:
		return o.C - x
	case QMulC:
		return float32(x * o.C)
	case QDivC:
		return x / o.C
	case QRDivC:
		return o.C / x
	}
	panic(fmt.Sprintf("kernels: unknown QPreKind %d", o.Kind))
}

// QuantizeAffine is Quantize of x after the operations ops, each rounded to
// float32 in turn, as the separate element-wise operators compute them (a
// model's input normalisation in front of its first QuantizeLinear).
func QuantizeAffine(dst []byte, x []float32, ops []QPreOp, scale float32, zp, qmin, qmax int32) {
	if len(x) < len(dst) {
		panic(fmt.Sprintf("kernels: QuantizeAffine of %d values into %d bytes", len(x), len(dst)))
	}
	if len(dst) == 0 {
		return
	}
	q := qaddArgs{dst: unsafe.Pointer(&dst[0]), a: unsafe.Pointer(&x[0]), n: len(dst),
		sy: scale, qlo: float32(qmin - zp), qhi: float32(qmax - zp), zy: zp}
	if len(ops) > 0 {
		q.b, q.nops = unsafe.Pointer(&ops[0]), len(ops)
	}
	qactive.quantize(&q)
}

func quantizeGeneric(p *qaddArgs, i0 int) {
	if p.nops > 0 {
		ops := unsafe.Slice((*QPreOp)(p.b), p.nops)
		x := unsafe.Slice((*float32)(p.a), p.n)
		for i := i0; i < p.n; i++ {
			v := x[i]
			for _, o := range ops {
				v = o.apply(v)
			}
			*(*byte)(unsafe.Add(p.dst, i)) = byte(quantize32(v, p.sy, p.qlo, p.qhi) + p.zy)
		}
		return
	}
	x := unsafe.Slice((*float32)(p.a), p.n)
	for i := i0; i < p.n; i++ {
		*(*byte)(unsafe.Add(p.dst, i)) = byte(quantize32(x[i], p.sy, p.qlo, p.qhi) + p.zy)
	}
}
