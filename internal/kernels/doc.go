// Package kernels holds the float32 numeric kernels of the inference engine:
// a matrix multiply with a fused epilogue (Sgemm), the operand packing it reads
// (PackB, Im2colPacked), convolutions (SgemmShift, DepthwiseShift, Winograd,
// DepthwiseConv2D) and a few element-wise helpers.
//
// All matrices are float32, row-major, with explicit leading dimensions, in the
// style of gonum's BLAS: element (i, j) of an m×n matrix a with leading
// dimension lda is a[i*lda+j], and lda >= n. Functions panic on inconsistent
// shapes or short buffers, like gonum does; they never allocate.
//
// # Packed right-hand operand
//
// The right-hand operand B (K×N) of Sgemm is packed once into panels of NR
// columns. Panel p holds columns [p*NR, p*NR+NR) and occupies K*NR contiguous
// floats starting at p*K*NR; within it, row k is the NR floats at k*NR, so
//
//	packed[p*K*NR + k*NR + jj] = B[k][p*NR+jj]
//
// The last panel is zero-padded to NR columns, so the packed length is
// ceil(N/NR)*NR*K (PackedBLen). The micro-kernel streams one or two panels
// with sequential vector loads and broadcasts the elements of A straight from
// its rows, so A is never packed: a batch-1 Gemm (m = 1) costs no copy at all.
//
// Im2colPacked writes the im2col matrix of a convolution directly in this
// layout, so a convolution is Im2colPacked followed by one Sgemm with the
// weights (Cout × Cin*KH*KW, as stored by ONNX) as A.
//
// # Convolutions without im2col
//
// On AVX-512 (ShiftAccelerated, WinogradAccelerated) convolutions avoid
// writing the im2col matrix, which costs as much as a third of the time of
// a small-channel convolution:
//
//   - SgemmShift is an implicit GEMM planned by a ShiftConv: the row (tap,
//     channel) of the im2col matrix is the input plane shifted by the tap's
//     offset, read in place with one masked vector load per 16 output
//     positions (the mask zeroes positions whose input is padding). Strided
//     convolutions first Gather the input into phase planes (rows and
//     columns by residue modulo the stride), where every tap is again a
//     shift; so do several images put side by side in one GEMM. The
//     weights are A, in the tap-major order PackWeights writes, and the
//     output comes out in NCHW.
//   - DepthwiseShift computes all channels of a depthwise convolution the
//     same way, each output vector a few masked FMAs.
//   - Winograd computes 3×3, stride-1, "same" convolutions with F(2×2, 3×3):
//     16 GEMMs over tiles, with the transforms vectorised across 16 tiles.
//
// # Implementations
//
// On amd64 the hot kernels are written in assembly for AVX-512 and for
// AVX2+FMA (with BMI2) and chosen once at start-up from the CPU features;
// every other architecture, amd64 without AVX2, and builds with the purego
// tag use portable Go. Impl names the active implementation.
//
// The AVX-512 Sgemm micro-kernel computes up to 8 rows × 32 columns (two
// panels) in 16 zmm accumulators, broadcasting A with embedded-broadcast
// FMAs and masking the column tail with K registers; the AVX2 one computes
// up to 6 rows × 16 columns (one panel) in 12 ymm accumulators. Rows are
// split into balanced tiles of at most 8 (AVX-512), 6 (AVX2) or 4 (Go) rows;
// K is blocked by 256 and N by what keeps the K block of B in L2. The
// epilogue (scale, biases, accumulate, activation) is applied in registers
// before the single store of each tile.
//
// # Concurrency, memory and alignment
//
// All functions are safe for concurrent use as long as concurrent calls do
// not write overlapping memory; a PackedB is read-only and may be shared.
// No function allocates or keeps a reference to its arguments (a PackedB
// refers to the buffer it was packed into). Buffers need only the lengths
// each function documents; the kernels never read or write outside the
// slices they are given (masked vector tails). Vector loads need no
// particular alignment, but packed buffers aligned to 64 bytes avoid
// cache-line splits; Go's allocator aligns allocations of 32 KiB or more to
// a page.
package kernels
