package kernels

import "fmt"

// NR is the number of columns in one panel of a PackedB. It is the width of
// one AVX-512 vector; the AVX-512 micro-kernel consumes two panels at a time.
const NR = 16

// ActKind selects the activation an Epilogue or ApplyActivation applies.
type ActKind uint8

// The activations a kernel can fuse.
const (
	ActNone      ActKind = iota // identity
	ActRelu                     // max(x, 0)
	ActClip                     // min(max(x, Min), Max)
	ActLeakyRelu                // x if x >= 0, Alpha*x otherwise
)

// Activation is an element-wise activation with its parameters: Min and Max
// for ActClip, Alpha for ActLeakyRelu.
type Activation struct {
	Kind     ActKind
	Min, Max float32
	Alpha    float32
}

// String returns a short description of a, for test and benchmark names.
func (a Activation) String() string {
	switch a.Kind {
	case ActNone:
		return "none"
	case ActRelu:
		return "relu"
	case ActClip:
		return fmt.Sprintf("clip(%g,%g)", a.Min, a.Max)
	case ActLeakyRelu:
		return fmt.Sprintf("leakyrelu(%g)", a.Alpha)
	}
	return fmt.Sprintf("ActKind(%d)", a.Kind)
}

// apply is the scalar definition of the activation.
func (a Activation) apply(x float32) float32 {
	switch a.Kind {
	case ActRelu:
		if x < 0 {
			return 0
		}
	case ActClip:
		if x < a.Min {
			x = a.Min
		}
		if x > a.Max {
			x = a.Max
		}
	case ActLeakyRelu:
		if x < 0 {
			return a.Alpha * x
		}
	}
	return x
}

// Epilogue is what Sgemm applies to each output element while the tile is in
// registers: C = Act(Alpha*A·B + RowBias[i] + ColBias[j] + (C if Accumulate)).
type Epilogue struct {
	// Alpha scales the product A·B; 0 means 1.
	Alpha float32
	// RowBias, if not nil, has one value per output row (len >= m): the bias
	// of a convolution computed as W·col.
	RowBias []float32
	// ColBias, if not nil, has one value per output column (len >= N): the
	// bias of a Gemm computed as X·Wᵀ.
	ColBias []float32
	// Accumulate adds the previous contents of C.
	Accumulate bool
	// Act is applied last.
	Act Activation
}

// PackedB is a K×N matrix packed in panels of NR columns for Sgemm (see the
// package documentation for the layout). The zero value is an empty matrix.
// A PackedB refers to the buffer it was packed into; it is read-only for
// Sgemm, so one PackedB may be shared by concurrent calls.
type PackedB struct {
	K, N int
	data []float32 // panel 0 of this view; panels are K*NR floats apart
}

// PackedBLen returns the number of floats PackB needs to pack a k×n matrix.
func PackedBLen(k, n int) int {
	return (n + NR - 1) / NR * NR * k
}

// Cols returns the view of columns [j0, j1) of b. j0 must be a multiple of NR;
// j1 may be any column up to b.N. Disjoint column ranges of one PackedB can be
// multiplied concurrently into disjoint column ranges of C; the caller offsets
// C and Epilogue.ColBias by j0 (c[j0:], ColBias[j0:]).
func (b PackedB) Cols(j0, j1 int) PackedB {
	if j0 < 0 || j0%NR != 0 || j1 < j0 || j1 > b.N {
		panic(fmt.Sprintf("kernels: PackedB.Cols(%d, %d) of %d columns: j0 must be a multiple of %d and j0 <= j1 <= N", j0, j1, b.N, NR))
	}
	if j0 == j1 {
		return PackedB{K: b.K}
	}
	off := j0 / NR * NR * b.K
	return PackedB{K: b.K, N: j1 - j0, data: b.data[off : off+PackedBLen(b.K, j1-j0)]}
}
