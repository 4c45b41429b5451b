//go:build !purego

package kernels

import "golang.org/x/sys/cpu"

var (
	hasQAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasBMI2
	hasQVNNI = hasQAVX2 && cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VNNI
)

var (
	qvnni = &qimpl{name: "avx512vnni", kind: qkVNNI}
	qavx2 = &qimpl{name: "avx2", kind: qkAVX2}
)

func qbest() *qimpl {
	switch {
	case hasQVNNI:
		return qvnni
	case hasQAVX2:
		return qavx2
	}
	return qgeneric
}

// useQAVX2 switches to the AVX2 integer kernels and reports whether the CPU
// has them.
func useQAVX2() bool {
	if !hasQAVX2 {
		return false
	}
	qactive = qavx2
	return true
}

// useQVNNI switches to the AVX-512 VNNI integer kernels and reports whether
// the CPU has them.
func useQVNNI() bool {
	if !hasQVNNI {
		return false
	}
	qactive = qvnni
	return true
}

// interleave4Fast interleaves a prefix of the positions with SSE2 (every
// amd64 has it) and returns how many it did: all of them for step 1 and
// n >= 8, the blocks of 16 whose source bytes lie in the rows for step 2.
func interleave4Fast(dst []byte, rows [4][]byte, x0, step, n int) int {
	if n < 8 || (step != 1 && step != 2) {
		return 0
	}
	avail := len(rows[0]) - x0
	for _, r := range rows[1:] {
		avail = min(avail, len(r)-x0)
	}
	if avail < (n-1)*step+1 || len(dst) < 4*n {
		panic("kernels: interleave4Fast out of range")
	}
	return interleave4SSE2(&dst[0], &rows[0][x0], &rows[1][x0], &rows[2][x0], &rows[3][x0], n, step, avail)
}
