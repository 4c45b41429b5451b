package kernels

import "unsafe"

// qkind identifies a set of integer kernels for a CPU feature level.
type qkind uint8

const (
	qkGeneric qkind = iota
	qkAVX2
	qkVNNI
)

// qimpl is one set of integer kernels. Like implementation, it is called
// through switches on kind so that nothing escapes or allocates.
type qimpl struct {
	name string
	kind qkind
}

var qgeneric = &qimpl{name: "generic", kind: qkGeneric}

// qactive is the integer implementation in use, chosen once from the CPU
// features; tests switch it with useQGeneric, useQAVX2 and useQVNNI.
var qactive = qbest()

// QImpl names the active integer implementation: "avx512vnni", "avx2" or
// "generic".
func QImpl() string { return qactive.name }

func useQGeneric() { qactive = qgeneric }

// rows is how many of rem remaining rows of a block one micro-kernel call
// computes.
func (q *qimpl) rows(rem int) int {
	switch q.kind {
	case qkVNNI:
		return min(rem, 8)
	case qkAVX2:
		return min(rem, 4)
	}
	return rem
}

func (q *qimpl) gemm(rows int, p *qgemmArgs) {
	switch q.kind {
	case qkVNNI:
		if p.mtab != nil {
			qgemmVNNIM(rows, p)
			return
		}
		qgemmVNNI(rows, p)
	case qkAVX2:
		// The assembly takes whole tiles of 8 positions; the rest is done
		// by the portable kernel.
		n := p.n
		if v := n &^ 7; v > 0 {
			p.n = v
			qgemmAVX2(rows, p)
			p.n = n
		}
		if t := n &^ 7; t < n {
			size := 1 + 3*p.f32
			tail := *p
			tail.b = unsafe.Add(p.b, 4*t)
			tail.c = unsafe.Add(p.c, t*size)
			tail.n = n - t
			qgemmGeneric(rows, &tail)
		}
	default:
		qgemmGeneric(rows, p)
	}
}

func (q *qimpl) depthwise(p *qdwArgs) {
	switch q.kind {
	case qkVNNI:
		qdwVNNI(p)
	case qkAVX2:
		n := p.n
		if v := n &^ 7; v > 0 {
			p.n = v
			qdwAVX2(p)
			p.n = n
		}
		if n&7 != 0 {
			qdwGeneric(p, n&^7)
		}
	default:
		qdwGeneric(p, 0)
	}
}

func (q *qimpl) add(p *qaddArgs) {
	switch q.kind {
	case qkVNNI:
		qaddAVX512(p)
	case qkAVX2:
		qaddAVX2(p)
		qaddGeneric(p, p.n&^7)
	default:
		qaddGeneric(p, 0)
	}
}

func (q *qimpl) quantize(p *qaddArgs) {
	switch q.kind {
	case qkVNNI:
		quantizeAVX512(p)
	case qkAVX2:
		quantizeAVX2(p)
		quantizeGeneric(p, p.n&^7)
	default:
		quantizeGeneric(p, 0)
	}
}
