//go:build ignore

// gen_qasm writes the integer (int8) kernels in Plan 9 assembly:
// qgemm_amd64.s (QGemm micro-kernels for AVX-512 VNNI and AVX2, the
// depthwise kernels, the byte interleave of PackQuads) and
// qkernels_amd64.go (their declarations and the switch on the row count).
// Run it with go generate.
package main

import (
	"bytes"
	"fmt"
	"go/format"
	"log"
	"os"
)

const (
	rowsVNNI = 8 // rows of a VNNI micro-kernel: 2×8 zmm accumulators
	rowsAVX2 = 4 // rows of an AVX2 micro-kernel: 2×4 ymm accumulators
)

type gen struct {
	buf   bytes.Buffer
	label int
}

func (g *gen) p(format string, args ...any) { fmt.Fprintf(&g.buf, format+"\n", args...) }
func (g *gen) in(format string, args ...any) {
	g.p("\t"+format, args...)
}
func (g *gen) newLabel(name string) string {
	g.label++
	return fmt.Sprintf("%s%d", name, g.label)
}

// vnniRequant requantizes the 16 int32 lanes of zmm acc (Corr already
// added) with the multiplier in Z19, bounds in Z29/Z30 and zero point in
// Z31, and stores them under mask k: 16 bytes at dst, or, when f32, 16
// float32s at dst. With compress, the lanes it selects are first packed
// to the bottom (the flat positions that are outputs). Z20 and Z21 are
// scratch.
func (g *gen) vnniRequant(acc int, k string, dst string, f32 bool, compress ...string) {
	g.requant16(acc, k, dst, f32, false, compress...)
}

// requant16 is vnniRequant; with intClamp, an integer output is clamped
// after the conversion, to the bounds (zero point added) in Z26/Z27, which
// needs |(acc + Corr)·Mult| < 2^31 (QEpilogue.intSafe).
func (g *gen) requant16(acc int, k string, dst string, f32, intClamp bool, compress ...string) {
	g.in("VCVTDQ2PD Y%d, Z20", acc)
	g.in("VEXTRACTI64X4 $1, Z%d, Y21", acc)
	g.in("VCVTDQ2PD Y21, Z21")
	g.in("VMULPD Z19, Z20, Z20")
	g.in("VMULPD Z19, Z21, Z21")
	if f32 || !intClamp {
		g.in("VMAXPD Z29, Z20, Z20")
		g.in("VMAXPD Z29, Z21, Z21")
		g.in("VMINPD Z30, Z20, Z20")
		g.in("VMINPD Z30, Z21, Z21")
	}
	if f32 {
		g.in("VCVTPD2PS Z20, Y20")
		g.in("VCVTPD2PS Z21, Y21")
		g.in("VINSERTF64X4 $1, Y21, Z20, Z20")
		if len(compress) > 0 {
			g.in("VCOMPRESSPS Z20, %s, Z20", compress[0])
		}
		g.in("VMOVUPS Z20, %s, %s", k, dst)
		return
	}
	g.in("VCVTPD2DQ Z20, Y20")
	g.in("VCVTPD2DQ Z21, Y21")
	g.in("VINSERTI64X4 $1, Y21, Z20, Z20")
	g.in("VPADDD Z31, Z20, Z20")
	if intClamp {
		g.in("VPMAXSD Z26, Z20, Z20")
		g.in("VPMINSD Z27, Z20, Z20")
	}
	if len(compress) > 0 {
		g.in("VPCOMPRESSD Z20, %s, Z20", compress[0])
	}
	// VPMOVDB to memory is slow on some cores (Zen 4): narrow in a register
	// and store with a masked move.
	g.in("VPMOVDB Z20, X20")
	g.in("VMOVDQU8 X20, %s, %s", k, dst)
}

// qgemmVNNI writes the AVX-512 VNNI micro-kernel of rows rows: tiles of 32
// positions (two zmm of 16 positions × 4 bytes), the last one masked.
func (g *gen) qgemmVNNI(rows int, masked bool) {
	name := fmt.Sprintf("qgemmVNNI%d", rows)
	if masked {
		name = fmt.Sprintf("qgemmVNNIM%d", rows)
	}
	g.p("// func %s(p *qgemmArgs)", name)
	g.p("TEXT ·%s(SB), NOSPLIT, $0-8", name)
	g.in("MOVQ p+0(FP), DI")
	g.in("MOVQ qgemmArgs_b(DI), SI")
	g.in("MOVQ qgemmArgs_off(DI), R8")
	g.in("MOVQ qgemmArgs_astride(DI), R9")
	g.in("MOVQ qgemmArgs_n(DI), R15")
	g.in("VBROADCASTSD qgemmArgs_lo(DI), Z29")
	g.in("VBROADCASTSD qgemmArgs_hi(DI), Z30")
	g.in("VPBROADCASTD qgemmArgs_zp(DI), Z31")
	g.in("VPBROADCASTD qgemmArgs_loI(DI), Z26")
	g.in("VPBROADCASTD qgemmArgs_hiI(DI), Z27")
	if masked {
		g.in("VPBROADCASTD qgemmArgs_zpIn(DI), Z28")
	}
	g.in("XORQ R14, R14")
	tile, loop, f32, next, done := g.newLabel("tile"), g.newLabel("loop"), g.newLabel("f32"), g.newLabel("next"), g.newLabel("done")
	g.p("%s:", tile)
	// Masks of the tile: K1 for positions [p0, p0+16), K2 for the next 16.
	g.in("MOVQ R15, R12")
	g.in("SUBQ R14, R12")
	g.in("JLE %s", done)
	g.in("MOVQ $32, R11")
	g.in("CMPQ R12, R11")
	g.in("CMOVQGT R11, R12")
	g.in("MOVL $-1, R10")
	g.in("BZHIL R12, R10, R10")
	g.in("KMOVW R10, K1")
	g.in("SHRL $16, R10")
	g.in("KMOVW R10, K2")
	// The accumulators start at the rows' corrections.
	g.in("MOVQ qgemmArgs_corr(DI), R10")
	for r := range rows {
		g.in("VPBROADCASTD %d(R10), Z%d", 4*r, 2*r)
		g.in("VMOVDQA32 Z%d, Z%d", 2*r, 2*r+1)
	}
	g.in("MOVQ qgemmArgs_a(DI), AX")
	g.in("MOVQ qgemmArgs_kq(DI), CX")
	g.in("LEAQ (SI)(R14*4), DX")
	g.in("XORQ BX, BX")
	if masked {
		// R11: the tile's masks of k-quad 0 (lanes reading inside the image).
		g.in("MOVQ R14, R11")
		g.in("SHRQ $3, R11")
		g.in("ADDQ qgemmArgs_mtab(DI), R11")
	}
	g.p("%s:", loop)
	g.in("MOVLQSX (R8)(BX*4), R10")
	if masked {
		g.in("KMOVW (R11), K3")
		g.in("KMOVW 2(R11), K4")
		g.in("VMOVDQA32 Z28, Z16")
		g.in("VMOVDQU32 (DX)(R10*1), K3, Z16")
		g.in("VMOVDQA32 Z28, Z17")
		g.in("VMOVDQU32 64(DX)(R10*1), K4, Z17")
		g.in("ADDQ qgemmArgs_mstride(DI), R11")
	} else {
		g.in("VMOVDQU32.Z (DX)(R10*1), K1, Z16")
		g.in("VMOVDQU32.Z 64(DX)(R10*1), K2, Z17")
	}
	for r := range rows {
		g.in("VPDPBUSD.BCST %d(AX), Z16, Z%d", 4*r, 2*r)
		g.in("VPDPBUSD.BCST %d(AX), Z17, Z%d", 4*r, 2*r+1)
	}
	g.in("ADDQ R9, AX")
	g.in("INCQ BX")
	g.in("CMPQ BX, CX")
	g.in("JLT %s", loop)
	// Epilogue, one row at a time.
	g.in("MOVQ qgemmArgs_corr(DI), R10")
	g.in("MOVQ qgemmArgs_mult(DI), R11")
	g.in("MOVQ qgemmArgs_c(DI), R12")
	g.in("MOVQ qgemmArgs_ldc(DI), R13")
	compact, cf32 := g.newLabel("compact"), g.newLabel("cf32")
	g.in("CMPQ qgemmArgs_ctab(DI), $0")
	g.in("JNE %s", compact)
	g.in("CMPQ qgemmArgs_f32(DI), $0")
	g.in("JNE %s", f32)
	rowsEpilogue := func(isF32, isCompact bool) {
		for r := range rows {
			g.in("VBROADCASTSD %d(R11), Z19", 8*r)
			for v := range 2 {
				acc := 2*r + v
				switch {
				case isCompact:
					idx := []string{"AX", "BX"}[v]
					scale := 1
					if isF32 {
						scale = 4
					}
					g.requant16(acc, fmt.Sprintf("K%d", 5+v), fmt.Sprintf("(R12)(%s*%d)", idx, scale), isF32, true, fmt.Sprintf("K%d", 3+v))
				case isF32:
					g.requant16(acc, fmt.Sprintf("K%d", v+1), fmt.Sprintf("%d(R12)", 64*v), true, true)
				default:
					g.requant16(acc, fmt.Sprintf("K%d", v+1), fmt.Sprintf("%d(R12)", 16*v), false, true)
				}
			}
			if r < rows-1 {
				g.in("ADDQ R13, R12")
			}
		}
		g.in("JMP %s", next)
	}
	g.in("ADDQ R14, R12")
	rowsEpilogue(false, false)
	g.p("%s:", f32)
	g.in("LEAQ (R12)(R14*4), R12")
	rowsEpilogue(true, false)
	// Compaction: the tile's entry in ctab is the mask of its positions that
	// are outputs and the output index of the first; K3/K4 select them in
	// each vector, K5/K6 store as many.
	g.p("%s:", compact)
	g.in("MOVQ R14, AX")
	g.in("SHRQ $5, AX")
	g.in("MOVQ qgemmArgs_ctab(DI), BX")
	g.in("MOVL (BX)(AX*8), CX")
	g.in("MOVLQSX 4(BX)(AX*8), AX")
	g.in("KMOVW CX, K3")
	g.in("MOVL CX, DX")
	g.in("ANDL $0xffff, DX")
	g.in("POPCNTL DX, DX")
	g.in("SHRL $16, CX")
	g.in("KMOVW CX, K4")
	g.in("POPCNTL CX, CX")
	g.in("MOVL $-1, BX")
	g.in("BZHIL DX, BX, BX")
	g.in("KMOVW BX, K5")
	g.in("MOVL $-1, BX")
	g.in("BZHIL CX, BX, BX")
	g.in("KMOVW BX, K6")
	g.in("LEAQ (AX)(DX*1), BX")
	g.in("CMPQ qgemmArgs_f32(DI), $0")
	g.in("JNE %s", cf32)
	rowsEpilogue(false, true)
	g.p("%s:", cf32)
	rowsEpilogue(true, true)
	g.p("%s:", next)
	g.in("ADDQ $32, R14")
	g.in("JMP %s", tile)
	g.p("%s:", done)
	g.in("VZEROUPPER")
	g.in("RET")
	g.p("")
}

// avx2Requant requantizes the 8 int32 lanes of ymm acc (Corr already
// added) with the multiplier in Y9 and stores 8 bytes, or 8 float32s when
// f32, at disp(base). Y10–Y13 are scratch.
func (g *gen) avx2Requant(acc int, disp int, base string, f32 bool, args string) {
	g.in("VCVTDQ2PD X%d, Y10", acc)
	g.in("VEXTRACTI128 $1, Y%d, X11", acc)
	g.in("VCVTDQ2PD X11, Y11")
	g.in("VMULPD Y9, Y10, Y10")
	g.in("VMULPD Y9, Y11, Y11")
	g.in("VBROADCASTSD %s_lo(DI), Y12", args)
	g.in("VBROADCASTSD %s_hi(DI), Y13", args)
	g.in("VMAXPD Y12, Y10, Y10")
	g.in("VMAXPD Y12, Y11, Y11")
	g.in("VMINPD Y13, Y10, Y10")
	g.in("VMINPD Y13, Y11, Y11")
	if f32 {
		g.in("VCVTPD2PSY Y10, X10")
		g.in("VCVTPD2PSY Y11, X11")
		g.in("VMOVUPS X10, %d%s", disp, base)
		g.in("VMOVUPS X11, %d%s", disp+16, base)
		return
	}
	g.in("VCVTPD2DQY Y10, X10")
	g.in("VCVTPD2DQY Y11, X11")
	g.in("VPBROADCASTD %s_zp(DI), X12", args)
	g.in("VPADDD X12, X10, X10")
	g.in("VPADDD X12, X11, X11")
	g.in("VPACKSSDW X11, X10, X10")
	g.in("VPSHUFB qshufw<>(SB), X10, X10")
	g.in("VMOVQ X10, %d%s", disp, base)
}

// qgemmAVX2 writes the AVX2 micro-kernel of rows rows: tiles of 8
// positions (n is a multiple of 8), the bytes widened to 16 bits and
// multiplied with VPMADDWD, which cannot saturate (unlike VPMADDUBSW).
func (g *gen) qgemmAVX2(rows int) {
	name := fmt.Sprintf("qgemmAVX2%d", rows)
	g.p("// func %s(p *qgemmArgs)", name)
	g.p("TEXT ·%s(SB), NOSPLIT, $0-8", name)
	g.in("MOVQ p+0(FP), DI")
	g.in("MOVQ qgemmArgs_b(DI), SI")
	g.in("MOVQ qgemmArgs_off(DI), R8")
	g.in("MOVQ qgemmArgs_astride(DI), R9")
	g.in("MOVQ qgemmArgs_n(DI), R15")
	g.in("XORQ R14, R14")
	tile, loop, f32, next, done := g.newLabel("tile"), g.newLabel("loop"), g.newLabel("f32"), g.newLabel("next"), g.newLabel("done")
	g.p("%s:", tile)
	g.in("CMPQ R14, R15")
	g.in("JGE %s", done)
	for i := range 2 * rows {
		g.in("VPXOR Y%d, Y%d, Y%d", i, i, i)
	}
	g.in("MOVQ qgemmArgs_a(DI), AX")
	g.in("MOVQ qgemmArgs_kq(DI), CX")
	g.in("LEAQ (SI)(R14*4), DX")
	g.in("XORQ BX, BX")
	g.p("%s:", loop)
	g.in("MOVLQSX (R8)(BX*4), R10")
	g.in("VPMOVZXBW (DX)(R10*1), Y8")
	g.in("VPMOVZXBW 16(DX)(R10*1), Y9")
	for r := range rows {
		g.in("VPBROADCASTD %d(AX), X10", 4*r)
		g.in("VPMOVSXBW X10, Y10")
		g.in("VPMADDWD Y10, Y8, Y11")
		g.in("VPADDD Y11, Y%d, Y%d", 2*r, 2*r)
		g.in("VPMADDWD Y10, Y9, Y12")
		g.in("VPADDD Y12, Y%d, Y%d", 2*r+1, 2*r+1)
	}
	g.in("ADDQ R9, AX")
	g.in("INCQ BX")
	g.in("CMPQ BX, CX")
	g.in("JLT %s", loop)
	g.in("MOVQ qgemmArgs_corr(DI), R10")
	g.in("MOVQ qgemmArgs_mult(DI), R11")
	g.in("MOVQ qgemmArgs_c(DI), R12")
	g.in("MOVQ qgemmArgs_ldc(DI), R13")
	g.in("CMPQ qgemmArgs_f32(DI), $0")
	g.in("JNE %s", f32)
	for _, isF32 := range []bool{false, true} {
		if isF32 {
			g.p("%s:", f32)
			g.in("LEAQ (R12)(R14*4), R12")
		} else {
			g.in("ADDQ R14, R12")
		}
		for r := range rows {
			// Each accumulator holds two partial sums per position: add
			// them pairwise and restore the positions' order.
			g.in("VPHADDD Y%d, Y%d, Y8", 2*r+1, 2*r)
			g.in("VPERMQ $0xD8, Y8, Y8")
			g.in("VPBROADCASTD %d(R10), Y9", 4*r)
			g.in("VPADDD Y9, Y8, Y8")
			g.in("VBROADCASTSD %d(R11), Y9", 8*r)
			g.avx2Requant(8, 0, "(R12)", isF32, "qgemmArgs")
			if r < rows-1 {
				g.in("ADDQ R13, R12")
			}
		}
		if !isF32 {
			g.in("JMP %s", next)
		}
	}
	g.p("%s:", next)
	g.in("ADDQ $8, R14")
	g.in("JMP %s", tile)
	g.p("%s:", done)
	g.in("VZEROUPPER")
	g.in("RET")
	g.p("")
}

// dwTap loads the weight of tap BX, sign-extended to the low 16 bits of a
// dword whose high 16 bits are zero, into every lane of reg (a zmm or ymm).
func (g *gen) dwWeight(reg string, zmm bool) {
	g.in("MOVLQSX (R8)(BX*4), R10")
	g.in("MOVBLSX (R9)(BX*1), R11")
	g.in("ANDL $0xffff, R11")
	if zmm {
		g.in("VPBROADCASTD R11, %s", reg)
		return
	}
	g.in("VMOVD R11, X8")
	g.in("VPBROADCASTD X8, %s", reg)
}

// dwChannelLoop opens the loop over channels of a depthwise kernel: R13 is
// the channel, SI, R9 and R12 its input, weights and output.
func (g *gen) dwChannelLoop(done string) string {
	g.in("MOVQ qdwArgs_x(DI), SI")
	g.in("MOVQ qdwArgs_off(DI), R8")
	g.in("MOVQ qdwArgs_w(DI), R9")
	g.in("MOVQ qdwArgs_taps(DI), CX")
	g.in("MOVQ qdwArgs_n(DI), R15")
	g.in("MOVQ qdwArgs_c(DI), R12")
	g.in("XORQ R13, R13")
	ch := g.newLabel("chan")
	g.p("%s:", ch)
	g.in("CMPQ R13, qdwArgs_channels(DI)")
	g.in("JGE %s", done)
	g.in("XORQ R14, R14")
	return ch
}

// dwNextChannel closes the loop over channels.
func (g *gen) dwNextChannel(ch string) {
	g.in("ADDQ qdwArgs_xstride(DI), SI")
	g.in("ADDQ CX, R9")
	g.in("ADDQ qdwArgs_ldc(DI), R12")
	g.in("INCQ R13")
	g.in("JMP %s", ch)
}

// qdwVNNI writes the AVX-512 VNNI depthwise kernel: for each channel, 64
// positions at a time, then 16 (the last masked); each tap is one
// zero-extending load and one VPDPWSSD per 16 positions.
func (g *gen) qdwVNNI() {
	g.p("// func qdwVNNI(p *qdwArgs)")
	g.p("TEXT ·qdwVNNI(SB), NOSPLIT, $0-8")
	g.in("MOVQ p+0(FP), DI")
	g.in("VBROADCASTSD qdwArgs_lo(DI), Z29")
	g.in("VBROADCASTSD qdwArgs_hi(DI), Z30")
	g.in("VPBROADCASTD qdwArgs_zp(DI), Z31")
	g.in("MOVL $0xffff, R10")
	g.in("KMOVW R10, K1")
	done := g.newLabel("done")
	ch := g.dwChannelLoop(done)
	g.in("MOVQ qdwArgs_corr(DI), R11")
	g.in("VPBROADCASTD (R11)(R13*4), Z18")
	g.in("MOVQ qdwArgs_mult(DI), R11")
	g.in("VBROADCASTSD (R11)(R13*8), Z19")
	big, bigLoop, bigF32, small, smallLoop, smallF32, smallNext, next :=
		g.newLabel("big"), g.newLabel("bigloop"), g.newLabel("bigf32"), g.newLabel("small"),
		g.newLabel("smallloop"), g.newLabel("smallf32"), g.newLabel("smallnext"), g.newLabel("next")
	g.p("%s:", big)
	g.in("MOVQ R15, R10")
	g.in("SUBQ R14, R10")
	g.in("CMPQ R10, $64")
	g.in("JLT %s", small)
	for i := range 4 {
		g.in("VMOVDQA32 Z18, Z%d", i)
	}
	g.in("LEAQ (SI)(R14*1), DX")
	g.in("XORQ BX, BX")
	g.p("%s:", bigLoop)
	g.dwWeight("Z8", true)
	for v := range 4 {
		g.in("VPMOVZXBD %d(DX)(R10*1), Z%d", 16*v, 4+v)
	}
	for v := range 4 {
		g.in("VPDPWSSD Z8, Z%d, Z%d", 4+v, v)
	}
	g.in("INCQ BX")
	g.in("CMPQ BX, CX")
	g.in("JLT %s", bigLoop)
	g.in("CMPQ qdwArgs_f32(DI), $0")
	g.in("JNE %s", bigF32)
	for v := range 4 {
		g.vnniRequant(v, "K1", fmt.Sprintf("%d(R12)(R14*1)", 16*v), false)
	}
	g.in("ADDQ $64, R14")
	g.in("JMP %s", big)
	g.p("%s:", bigF32)
	for v := range 4 {
		g.vnniRequant(v, "K1", fmt.Sprintf("%d(R12)(R14*4)", 64*v), true)
	}
	g.in("ADDQ $64, R14")
	g.in("JMP %s", big)

	g.p("%s:", small)
	g.in("MOVQ R15, R10")
	g.in("SUBQ R14, R10")
	g.in("JLE %s", next)
	g.in("MOVQ $16, R11")
	g.in("CMPQ R10, R11")
	g.in("CMOVQGT R11, R10")
	g.in("MOVL $-1, R11")
	g.in("BZHIL R10, R11, R11")
	g.in("KMOVW R11, K2")
	g.in("VMOVDQA32 Z18, Z0")
	g.in("LEAQ (SI)(R14*1), DX")
	g.in("XORQ BX, BX")
	g.p("%s:", smallLoop)
	g.dwWeight("Z8", true)
	g.in("VMOVDQU8.Z (DX)(R10*1), K2, X4")
	g.in("VPMOVZXBD X4, Z4")
	g.in("VPDPWSSD Z8, Z4, Z0")
	g.in("INCQ BX")
	g.in("CMPQ BX, CX")
	g.in("JLT %s", smallLoop)
	g.in("CMPQ qdwArgs_f32(DI), $0")
	g.in("JNE %s", smallF32)
	g.vnniRequant(0, "K2", "(R12)(R14*1)", false)
	g.in("JMP %s", smallNext)
	g.p("%s:", smallF32)
	g.vnniRequant(0, "K2", "(R12)(R14*4)", true)
	g.p("%s:", smallNext)
	g.in("ADDQ $16, R14")
	g.in("JMP %s", small)
	g.p("%s:", next)
	g.dwNextChannel(ch)
	g.p("%s:", done)
	g.in("VZEROUPPER")
	g.in("RET")
	g.p("")
}

// qdwAVX2 writes the AVX2 depthwise kernel over n positions of each
// channel, n a multiple of 8: 32 positions at a time, then 8.
func (g *gen) qdwAVX2() {
	g.p("// func qdwAVX2(p *qdwArgs)")
	g.p("TEXT ·qdwAVX2(SB), NOSPLIT, $0-8")
	g.in("MOVQ p+0(FP), DI")
	done := g.newLabel("done")
	ch := g.dwChannelLoop(done)
	for _, width := range []int{4, 1} {
		top, loop, f32, next, end := g.newLabel("top"), g.newLabel("loop"), g.newLabel("f32"), g.newLabel("next"), g.newLabel("end")
		g.p("%s:", top)
		g.in("MOVQ R15, R10")
		g.in("SUBQ R14, R10")
		g.in("CMPQ R10, $%d", 8*width)
		g.in("JLT %s", end)
		g.in("MOVQ qdwArgs_corr(DI), R11")
		g.in("VPBROADCASTD (R11)(R13*4), Y0")
		for v := 1; v < width; v++ {
			g.in("VMOVDQA Y0, Y%d", v)
		}
		g.in("LEAQ (SI)(R14*1), DX")
		g.in("XORQ BX, BX")
		g.p("%s:", loop)
		g.dwWeight("Y9", false)
		for v := range width {
			g.in("VPMOVZXBD %d(DX)(R10*1), Y%d", 8*v, 4+v)
			g.in("VPMADDWD Y9, Y%d, Y%d", 4+v, 4+v)
			g.in("VPADDD Y%d, Y%d, Y%d", 4+v, v, v)
		}
		g.in("INCQ BX")
		g.in("CMPQ BX, CX")
		g.in("JLT %s", loop)
		g.in("MOVQ qdwArgs_mult(DI), R11")
		g.in("VBROADCASTSD (R11)(R13*8), Y9")
		g.in("CMPQ qdwArgs_f32(DI), $0")
		g.in("JNE %s", f32)
		for v := range width {
			g.avx2Requant(v, 8*v, "(R12)(R14*1)", false, "qdwArgs")
		}
		g.in("JMP %s", next)
		g.p("%s:", f32)
		for v := range width {
			g.avx2Requant(v, 32*v, "(R12)(R14*4)", true, "qdwArgs")
		}
		g.p("%s:", next)
		g.in("ADDQ $%d, R14", 8*width)
		g.in("JMP %s", top)
		g.p("%s:", end)
	}
	g.dwNextChannel(ch)
	g.p("%s:", done)
	g.in("VZEROUPPER")
	g.in("RET")
	g.p("")
}

// qdwDirect writes the AVX-512 VNNI depthwise kernel that reads the input
// planes in place: for each channel, output row and block of 16 columns,
// each tap is one masked load of the input row (the lanes outside the
// image keep the zero point), the even bytes taken for stride 2, one
// zero-extension and one VPDPWSSD; the outputs are stored in place.
func (g *gen) qdwDirect(stride int) {
	name := fmt.Sprintf("qdwDirect%dVNNI", stride)
	a := func(f string) string { return "qdwDirectArgs_" + f + "(DI)" }
	g.p("// func %s(p *qdwDirectArgs)", name)
	g.p("TEXT ·%s(SB), NOSPLIT, $0-8", name)
	g.in("MOVQ p+0(FP), DI")
	g.in("VBROADCASTSD %s, Z29", a("lo"))
	g.in("VBROADCASTSD %s, Z30", a("hi"))
	g.in("VPBROADCASTD %s, Z31", a("zp"))
	g.in("MOVQ %s, R10", a("zpIn"))
	g.in("VPBROADCASTB R10, Y28")
	g.in("MOVQ %s, SI", a("x"))
	g.in("MOVQ %s, R9", a("wt"))
	g.in("MOVQ %s, R12", a("c"))
	g.in("XORQ R13, R13")
	ch, row, blk, ky, kx, rowIn, f32, nextBlk, nextRow, nextCh, done := g.newLabel("chan"), g.newLabel("row"), g.newLabel("blk"),
		g.newLabel("ky"), g.newLabel("kx"), g.newLabel("rowin"), g.newLabel("f32"), g.newLabel("nextblk"), g.newLabel("nextrow"),
		g.newLabel("nextchan"), g.newLabel("done")
	g.p("%s:", ch)
	g.in("CMPQ R13, %s", a("channels"))
	g.in("JGE %s", done)
	g.in("MOVQ %s, R10", a("corr"))
	g.in("VPBROADCASTD (R10)(R13*4), Z18")
	g.in("MOVQ %s, R10", a("mult"))
	g.in("VBROADCASTSD (R10)(R13*8), Z19")
	g.in("XORQ R14, R14")
	g.p("%s:", row)
	g.in("CMPQ R14, %s", a("oh"))
	g.in("JGE %s", nextCh)
	g.in("XORQ R15, R15")
	g.p("%s:", blk)
	g.in("CMPQ R15, %s", a("ow"))
	g.in("JGE %s", nextRow)
	// R8: this block's (offset, mask) pairs, one per kx.
	g.in("MOVQ R15, R8")
	g.in("SHRQ $4, R8")
	g.in("IMULQ %s, R8", a("kw"))
	g.in("SHLQ $3, R8")
	g.in("ADDQ %s, R8", a("tab"))
	g.in("VMOVDQA32 Z18, Z0")
	g.in("MOVQ R9, AX")
	g.in("XORQ BX, BX")
	g.p("%s:", ky)
	// y = oy·SH + ky·DH − PT; R11 = −1 when the row is inside the image.
	g.in("MOVQ R14, R10")
	g.in("IMULQ %s, R10", a("sh"))
	g.in("MOVQ BX, R11")
	g.in("IMULQ %s, R11", a("dh"))
	g.in("ADDQ R11, R10")
	g.in("SUBQ %s, R10", a("pt"))
	g.in("XORL R11, R11")
	g.in("CMPQ R10, $0")
	g.in("JLT %s", rowIn)
	g.in("CMPQ R10, %s", a("h"))
	g.in("JGE %s", rowIn)
	g.in("MOVL $-1, R11")
	g.p("%s:", rowIn)
	g.in("IMULQ %s, R10", a("w"))
	g.in("LEAQ (SI)(R10*1), DX")
	if stride == 2 {
		g.in("LEAQ (DX)(R15*2), DX")
	} else {
		g.in("ADDQ R15, DX")
	}
	g.in("XORQ CX, CX")
	g.p("%s:", kx)
	g.in("MOVL 4(R8)(CX*8), R10")
	g.in("ANDL R11, R10")
	g.in("KMOVD R10, K1")
	g.in("MOVLQSX (R8)(CX*8), R10")
	if stride == 2 {
		g.in("VMOVDQA64 Y28, Y4")
		g.in("VMOVDQU8 (DX)(R10*1), K1, Y4")
		g.in("VPMOVWB Y4, X4")
	} else {
		g.in("VMOVDQA64 X28, X4")
		g.in("VMOVDQU8 (DX)(R10*1), K1, X4")
	}
	g.in("VPMOVZXBD X4, Z4")
	g.in("VPDPWSSD.BCST (AX), Z4, Z0")
	g.in("ADDQ $4, AX")
	g.in("INCQ CX")
	g.in("CMPQ CX, %s", a("kw"))
	g.in("JLT %s", kx)
	g.in("INCQ BX")
	g.in("CMPQ BX, %s", a("kh"))
	g.in("JLT %s", ky)
	// Store the block's min(16, OW − ox0) outputs at oy·OW + ox0.
	g.in("MOVQ %s, R10", a("ow"))
	g.in("SUBQ R15, R10")
	g.in("MOVQ $16, R11")
	g.in("CMPQ R10, R11")
	g.in("CMOVQGT R11, R10")
	g.in("MOVL $-1, R11")
	g.in("BZHIL R10, R11, R11")
	g.in("KMOVW R11, K2")
	g.in("MOVQ R14, R10")
	g.in("IMULQ %s, R10", a("ow"))
	g.in("ADDQ R15, R10")
	g.in("CMPQ %s, $0", a("f32"))
	g.in("JNE %s", f32)
	g.vnniRequant(0, "K2", "(R12)(R10*1)", false)
	g.in("JMP %s", nextBlk)
	g.p("%s:", f32)
	g.vnniRequant(0, "K2", "(R12)(R10*4)", true)
	g.p("%s:", nextBlk)
	g.in("ADDQ $16, R15")
	g.in("JMP %s", blk)
	g.p("%s:", nextRow)
	g.in("INCQ R14")
	g.in("JMP %s", row)
	g.p("%s:", nextCh)
	g.in("ADDQ %s, SI", a("xstride"))
	g.in("MOVQ %s, R10", a("kh"))
	g.in("IMULQ %s, R10", a("kw"))
	g.in("LEAQ (R9)(R10*4), R9")
	g.in("ADDQ %s, R12", a("cstride"))
	g.in("INCQ R13")
	g.in("JMP %s", ch)
	g.p("%s:", done)
	g.in("VZEROUPPER")
	g.in("RET")
	g.p("")
}

// qdwDirect3 writes the kernel of qdwDirect for three kernel columns,
// unrolled: the three taps of a kernel row go to three accumulators, so
// the VPDPWSSD chains are as long as the kernel is high, and the column
// masks and offsets stay in registers for the block.
func (g *gen) qdwDirect3(stride, lanes int) {
	name := fmt.Sprintf("qdwDirect%dK3VNNI", stride)
	v := "Z" // the accumulators' and loads' registers
	if lanes == 8 {
		name = fmt.Sprintf("qdwDirect%dK3Y", stride)
		v = "Y"
	}
	a := func(f string) string { return "qdwDirectArgs_" + f + "(DI)" }
	g.p("// func %s(p *qdwDirectArgs)", name)
	g.p("TEXT ·%s(SB), NOSPLIT, $16-8", name)
	g.in("MOVQ p+0(FP), DI")
	g.in("VBROADCASTSD %s, Z29", a("lo"))
	g.in("VBROADCASTSD %s, Z30", a("hi"))
	g.in("VPBROADCASTD %s, Z31", a("zp"))
	g.in("MOVQ %s, R10", a("zpIn"))
	g.in("VPBROADCASTB R10, Y28")
	g.in("MOVQ %s, SI", a("x"))
	g.in("MOVQ %s, R9", a("wt"))
	g.in("MOVQ %s, R12", a("c"))
	g.in("MOVQ $0, ch-8(SP)")
	ch, row, blk, ky, valid, masked, f32, nextBlk, nextRow, nextCh, done := g.newLabel("chan"), g.newLabel("row"), g.newLabel("blk"),
		g.newLabel("ky"), g.newLabel("valid"), g.newLabel("masked"), g.newLabel("f32"), g.newLabel("nextblk"), g.newLabel("nextrow"),
		g.newLabel("nextchan"), g.newLabel("done")
	g.p("%s:", ch)
	g.in("MOVQ ch-8(SP), R13")
	g.in("CMPQ R13, %s", a("channels"))
	g.in("JGE %s", done)
	g.in("MOVQ %s, R10", a("corr"))
	g.in("VPBROADCASTD (R10)(R13*4), Z18")
	g.in("MOVQ %s, R10", a("mult"))
	g.in("VBROADCASTSD (R10)(R13*8), Z19")
	g.in("XORQ R14, R14")
	g.p("%s:", row)
	g.in("CMPQ R14, %s", a("oh"))
	g.in("JGE %s", nextCh)
	g.in("XORQ R15, R15")
	g.p("%s:", blk)
	g.in("CMPQ R15, %s", a("ow"))
	g.in("JGE %s", nextRow)
	// The block's three (offset, mask) pairs: offsets in CX, R13, R8,
	// masks in K3, K4, K5.
	g.in("MOVQ R15, R8")
	g.in("SHRQ $4, R8")
	g.in("LEAQ (R8)(R8*2), R8")
	g.in("SHLQ $3, R8")
	g.in("ADDQ %s, R8", a("tab"))
	g.in("KMOVD 4(R8), K3")
	g.in("KMOVD 12(R8), K4")
	g.in("KMOVD 20(R8), K5")
	g.in("MOVLQSX (R8), CX")
	g.in("MOVLQSX 8(R8), R13")
	g.in("MOVLQSX 16(R8), R8")
	g.in("VMOVDQA32 %s18, %s0", v, v)
	g.in("VPXORD %s1, %s1, %s1", v, v, v)
	g.in("VPXORD %s2, %s2, %s2", v, v, v)
	g.in("MOVQ R9, AX")
	g.in("XORQ BX, BX")
	g.p("%s:", ky)
	g.in("MOVQ R14, R10")
	g.in("IMULQ %s, R10", a("sh"))
	g.in("MOVQ BX, R11")
	g.in("IMULQ %s, R11", a("dh"))
	g.in("ADDQ R11, R10")
	g.in("SUBQ %s, R10", a("pt"))
	g.in("CMPQ R10, $0")
	g.in("JLT %s", masked)
	g.in("CMPQ R10, %s", a("h"))
	g.in("JGE %s", masked)
	g.in("KMOVD K3, K1")
	g.in("KMOVD K4, K2")
	g.in("KMOVD K5, K7")
	g.in("JMP %s", valid)
	g.p("%s:", masked)
	g.in("KXORD K1, K1, K1")
	g.in("KXORD K2, K2, K2")
	g.in("KXORD K7, K7, K7")
	g.p("%s:", valid)
	g.in("IMULQ %s, R10", a("w"))
	g.in("LEAQ (SI)(R10*1), DX")
	if stride == 2 {
		g.in("LEAQ (DX)(R15*2), DX")
	} else {
		g.in("ADDQ R15, DX")
	}
	for t, tap := range []struct{ off, k string }{{"CX", "K1"}, {"R13", "K2"}, {"R8", "K7"}} {
		switch {
		case stride == 2 && lanes == 16:
			g.in("VMOVDQA64 Y28, Y%d", 4+t)
			g.in("VMOVDQU8 (DX)(%s*1), %s, Y%d", tap.off, tap.k, 4+t)
			g.in("VPMOVWB Y%d, X%d", 4+t, 4+t)
		case stride == 2:
			g.in("VMOVDQA64 X28, X%d", 4+t)
			g.in("VMOVDQU8 (DX)(%s*1), %s, X%d", tap.off, tap.k, 4+t)
			g.in("VPMOVWB X%d, X%d", 4+t, 4+t)
		default:
			g.in("VMOVDQA64 X28, X%d", 4+t)
			g.in("VMOVDQU8 (DX)(%s*1), %s, X%d", tap.off, tap.k, 4+t)
		}
		g.in("VPMOVZXBD X%d, %s%d", 4+t, v, 4+t)
		g.in("VPDPWSSD.BCST %d(AX), %s%d, %s%d", 4*t, v, 4+t, v, t)
	}
	g.in("ADDQ $12, AX")
	g.in("INCQ BX")
	g.in("CMPQ BX, %s", a("kh"))
	g.in("JLT %s", ky)
	g.in("VPADDD %s1, %s0, %s0", v, v, v)
	g.in("VPADDD %s2, %s0, %s0", v, v, v)
	g.in("MOVQ %s, R10", a("ow"))
	g.in("SUBQ R15, R10")
	g.in("MOVQ $16, R11")
	g.in("CMPQ R10, R11")
	g.in("CMOVQGT R11, R10")
	g.in("MOVL $-1, R11")
	g.in("BZHIL R10, R11, R11")
	g.in("KMOVW R11, K2")
	g.in("MOVQ R14, R10")
	g.in("IMULQ %s, R10", a("ow"))
	g.in("ADDQ R15, R10")
	g.in("CMPQ %s, $0", a("f32"))
	g.in("JNE %s", f32)
	g.requant8or16(lanes, "(R12)(R10*1)", false)
	g.in("JMP %s", nextBlk)
	g.p("%s:", f32)
	g.requant8or16(lanes, "(R12)(R10*4)", true)
	g.p("%s:", nextBlk)
	g.in("ADDQ $16, R15")
	g.in("JMP %s", blk)
	g.p("%s:", nextRow)
	g.in("INCQ R14")
	g.in("JMP %s", row)
	g.p("%s:", nextCh)
	g.in("ADDQ %s, SI", a("xstride"))
	g.in("MOVQ %s, R10", a("kh"))
	g.in("LEAQ (R10)(R10*2), R10")
	g.in("LEAQ (R9)(R10*4), R9")
	g.in("ADDQ %s, R12", a("cstride"))
	g.in("INCQ ch-8(SP)")
	g.in("JMP %s", ch)
	g.p("%s:", done)
	g.in("VZEROUPPER")
	g.in("RET")
	g.p("")
}

// qdwFlat writes the AVX-512 VNNI depthwise kernel for stride 1 and
// outputs as wide as the input: positions are flat (oy·W + ox), so every
// tap of 16 consecutive positions is one masked load at a fixed offset
// (the lanes whose input is padding keep the zero point). Four tiles of 16
// positions share each tap's offset and weight.
func (g *gen) qdwFlat() {
	a := func(f string) string { return "qdwFlatArgs_" + f + "(DI)" }
	g.p("// func qdwFlatVNNI(p *qdwFlatArgs)")
	g.p("TEXT ·qdwFlatVNNI(SB), NOSPLIT, $16-8")
	g.in("MOVQ p+0(FP), DI")
	g.in("VBROADCASTSD %s, Z29", a("lo"))
	g.in("VBROADCASTSD %s, Z30", a("hi"))
	g.in("VPBROADCASTD %s, Z31", a("zp"))
	g.in("MOVQ %s, R10", a("zpIn"))
	g.in("VPBROADCASTB R10, X28")
	g.in("MOVQ %s, SI", a("x"))
	g.in("MOVQ %s, R9", a("wt"))
	g.in("MOVQ %s, R12", a("c"))
	g.in("MOVQ %s, R8", a("off"))
	g.in("XORQ R13, R13")
	ch, done, nextCh := g.newLabel("chan"), g.newLabel("done"), g.newLabel("nextchan")
	g.p("%s:", ch)
	g.in("CMPQ R13, %s", a("channels"))
	g.in("JGE %s", done)
	g.in("MOVQ %s, R10", a("corr"))
	g.in("VPBROADCASTD (R10)(R13*4), Z18")
	g.in("MOVQ %s, R10", a("mult"))
	g.in("VBROADCASTSD (R10)(R13*8), Z19")
	g.in("XORQ R14, R14") // position of the first tile
	for _, width := range []int{4, 1} {
		top, tap, f32, next, end := g.newLabel("top"), g.newLabel("tap"), g.newLabel("f32"), g.newLabel("next"), g.newLabel("end")
		g.p("%s:", top)
		g.in("MOVQ %s, R10", a("n"))
		g.in("SUBQ R14, R10")
		if width == 4 {
			g.in("CMPQ R10, $%d", 16*(width-1)+1)
			g.in("JLT %s", end)
		} else {
			g.in("JLE %s", end)
		}
		for j := range width {
			g.in("VMOVDQA32 Z18, Z%d", j)
		}
		// R11: the masks of this tile for tap 0; they are ntiles apart per tap.
		g.in("MOVQ R14, R11")
		g.in("SHRQ $3, R11")
		g.in("ADDQ %s, R11", a("mask"))
		g.in("LEAQ (SI)(R14*1), DX")
		g.in("MOVQ R9, AX")
		g.in("XORQ BX, BX")
		g.p("%s:", tap)
		g.in("MOVLQSX (R8)(BX*4), R10")
		for j := range width {
			g.in("KMOVW %d(R11), K1", 2*j)
			g.in("VMOVDQA64 X28, X%d", 4+j)
			g.in("VMOVDQU8 %d(DX)(R10*1), K1, X%d", 16*j, 4+j)
			g.in("VPMOVZXBD X%d, Z%d", 4+j, 4+j)
			g.in("VPDPWSSD.BCST (AX), Z%d, Z%d", 4+j, j)
		}
		g.in("ADDQ $4, AX")
		g.in("ADDQ %s, R11", a("mstride"))
		g.in("INCQ BX")
		g.in("CMPQ BX, %s", a("taps"))
		g.in("JLT %s", tap)
		// Store masks: positions below n.
		for j := range width {
			g.in("MOVQ %s, R10", a("n"))
			g.in("SUBQ R14, R10")
			if j > 0 {
				g.in("SUBQ $%d, R10", 16*j)
			}
			g.in("MOVQ $16, R11")
			g.in("CMPQ R10, R11")
			g.in("CMOVQGT R11, R10")
			g.in("MOVL $-1, R11")
			g.in("BZHIL R10, R11, R11")
			g.in("KMOVW R11, K%d", 2+j)
		}
		g.in("CMPQ %s, $0", a("f32"))
		g.in("JNE %s", f32)
		for j := range width {
			g.vnniRequant(j, fmt.Sprintf("K%d", 2+j), fmt.Sprintf("%d(R12)(R14*1)", 16*j), false)
		}
		g.in("JMP %s", next)
		g.p("%s:", f32)
		for j := range width {
			g.vnniRequant(j, fmt.Sprintf("K%d", 2+j), fmt.Sprintf("%d(R12)(R14*4)", 64*j), true)
		}
		g.p("%s:", next)
		g.in("ADDQ $%d, R14", 16*width)
		g.in("JMP %s", top)
		g.p("%s:", end)
	}
	g.p("%s:", nextCh)
	g.in("ADDQ %s, SI", a("xstride"))
	g.in("MOVQ %s, R10", a("taps"))
	g.in("LEAQ (R9)(R10*4), R9")
	g.in("ADDQ %s, R12", a("cstride"))
	g.in("INCQ R13")
	g.in("JMP %s", ch)
	g.p("%s:", done)
	g.in("VZEROUPPER")
	g.in("RET")
	g.p("")
}

// requant8or16 requantizes accumulator 0 (Z0, or Y0 for 8 lanes) and
// stores it under K2.
func (g *gen) requant8or16(lanes int, dst string, f32 bool) {
	if lanes == 16 {
		g.vnniRequant(0, "K2", dst, f32)
		return
	}
	g.in("VCVTDQ2PD Y0, Z20")
	g.in("VMULPD Z19, Z20, Z20")
	g.in("VMAXPD Z29, Z20, Z20")
	g.in("VMINPD Z30, Z20, Z20")
	if f32 {
		g.in("VCVTPD2PS Z20, Y20")
		g.in("VMOVUPS Y20, K2, %s", dst)
		return
	}
	g.in("VCVTPD2DQ Z20, Y20")
	g.in("VPADDD Y31, Y20, Y20")
	g.in("VPMOVDB Y20, X20")
	g.in("VMOVDQU8 X20, K2, %s", dst)
}

// qpackQuads writes the AVX-512 packing of one phase plane of a channel
// quad (PackQuads): for each plane row, the zero point in the padding and,
// 16 positions at a time, the four channels' bytes (every other one for
// stride 2) widened to dwords and merged.
func (g *gen) qpackQuads(stride int) {
	name := fmt.Sprintf("qpackQuads%dVNNI", stride)
	a := func(f string) string { return "qpackArgs_" + f + "(DI)" }
	g.p("// func %s(p *qpackArgs)", name)
	g.p("TEXT ·%s(SB), NOSPLIT, $0-8", name)
	g.in("MOVQ p+0(FP), DI")
	g.in("MOVQ %s, R8", a("dst"))
	g.in("VPBROADCASTD %s, Z31", a("fill"))
	g.in("MOVQ %s, BX", a("c1"))
	g.in("MOVQ %s, CX", a("c2"))
	g.in("MOVQ %s, DX", a("c3"))
	g.in("XORQ R9, R9")
	row, pad, data, rowDone, done := g.newLabel("row"), g.newLabel("pad"), g.newLabel("data"), g.newLabel("rowdone"), g.newLabel("done")
	// fill stores the zero point at positions [R11, end) of the row at R8.
	fill := func(end string) {
		loop, out := g.newLabel("fill"), g.newLabel("filled")
		g.p("%s:", loop)
		g.in("MOVQ %s, R13", end)
		g.in("SUBQ R11, R13")
		g.in("JLE %s", out)
		g.in("MOVQ $16, R10")
		g.in("CMPQ R13, R10")
		g.in("CMOVQGT R10, R13")
		g.in("MOVL $-1, R10")
		g.in("BZHIL R13, R10, R10")
		g.in("KMOVW R10, K3")
		g.in("VMOVDQU32 Z31, K3, (R8)(R11*4)")
		g.in("ADDQ $16, R11")
		g.in("JMP %s", loop)
		g.p("%s:", out)
	}
	g.p("%s:", row)
	g.in("CMPQ R9, %s", a("hq"))
	g.in("JGE %s", done)
	g.in("MOVQ R9, R10")
	g.in("IMULQ %s, R10", a("sh"))
	g.in("ADDQ %s, R10", a("y0"))
	g.in("CMPQ R10, $0")
	g.in("JLT %s", pad)
	g.in("CMPQ R10, %s", a("h"))
	g.in("JGE %s", pad)
	g.in("IMULQ %s, R10", a("w"))
	g.in("ADDQ %s, R10", a("src"))
	g.in("ADDQ %s, R10", a("sx"))
	g.in("MOVQ R10, R12")
	g.in("XORQ R11, R11")
	fill(a("x0"))
	g.in("MOVQ %s, R11", a("x1"))
	fill(a("wq"))
	g.in("MOVQ %s, R11", a("x0"))
	g.p("%s:", data)
	g.in("MOVQ %s, R13", a("x1"))
	g.in("SUBQ R11, R13")
	g.in("JLE %s", rowDone)
	g.in("MOVQ $16, R10")
	g.in("CMPQ R13, R10")
	g.in("CMOVQGT R10, R13")
	g.in("MOVL $-1, R10")
	g.in("BZHIL R13, R10, R10")
	g.in("KMOVW R10, K1")
	if stride == 2 {
		// Bytes [0, 2·count−1) of the source: the even ones are the positions.
		g.in("LEAQ -1(R13)(R13*1), R13")
		g.in("MOVL $-1, R10")
		g.in("BZHIL R13, R10, R10")
		g.in("KMOVD R10, K2")
	}
	for j, off := range []string{"", "BX", "CX", "DX"} {
		addr := "(R12)"
		if off != "" {
			addr = fmt.Sprintf("(R12)(%s*1)", off)
		}
		if stride == 2 {
			g.in("VMOVDQU8.Z %s, K2, Y%d", addr, j)
			g.in("VPMOVWB Y%d, X%d", j, j)
		} else {
			g.in("VMOVDQU8.Z %s, K1, X%d", addr, j)
		}
		g.in("VPMOVZXBD X%d, Z%d", j, j)
	}
	g.in("VPSLLD $8, Z1, Z1")
	g.in("VPSLLD $16, Z2, Z2")
	g.in("VPSLLD $24, Z3, Z3")
	g.in("VPORD Z1, Z0, Z0")
	g.in("VPORD Z3, Z2, Z2")
	g.in("VPORD Z2, Z0, Z0")
	g.in("VMOVDQU32 Z0, K1, (R8)(R11*4)")
	g.in("ADDQ $16, R11")
	g.in("ADDQ $%d, R12", 16*stride)
	g.in("JMP %s", data)
	g.p("%s:", pad)
	g.in("XORQ R11, R11")
	fill(a("wq"))
	g.p("%s:", rowDone)
	g.in("MOVQ %s, R10", a("wq"))
	g.in("LEAQ (R8)(R10*4), R8")
	g.in("INCQ R9")
	g.in("JMP %s", row)
	g.p("%s:", done)
	g.in("VZEROUPPER")
	g.in("RET")
	g.p("")
}

// preOps applies the QPreOps at qaddArgs_b (qaddArgs_nops of them) to
// register 0 of kind v (Z or Y), with 1 and R14/R15 as scratch.
func (g *gen) preOps(v string) {
	loop, done := g.newLabel("preop"), g.newLabel("predone")
	labels := []string{g.newLabel("add"), g.newLabel("sub"), g.newLabel("rsub"), g.newLabel("mul"), g.newLabel("div"), g.newLabel("rdiv")}
	next := g.newLabel("prenext")
	g.in("MOVQ qaddArgs_nops(DI), R15")
	g.in("TESTQ R15, R15")
	g.in("JEQ %s", done)
	g.in("MOVQ R10, R14")
	g.p("%s:", loop)
	g.in("VBROADCASTSS 4(R14), %s1", v)
	g.in("MOVL (R14), BX")
	for i, l := range labels {
		g.in("CMPL BX, $%d", i)
		g.in("JEQ %s", l)
	}
	ops := []string{"VADDPS %[1]s1, %[1]s0, %[1]s0", "VSUBPS %[1]s1, %[1]s0, %[1]s0", "VSUBPS %[1]s0, %[1]s1, %[1]s0",
		"VMULPS %[1]s1, %[1]s0, %[1]s0", "VDIVPS %[1]s1, %[1]s0, %[1]s0", "VDIVPS %[1]s0, %[1]s1, %[1]s0"}
	for i, l := range labels {
		g.p("%s:", l)
		g.in(fmt.Sprintf(ops[i], v))
		g.in("JMP %s", next)
	}
	g.p("%s:", next)
	g.in("ADDQ $8, R14")
	g.in("DECQ R15")
	g.in("JNE %s", loop)
	g.p("%s:", done)
}

// qaddAVX512 writes QAdd and Quantize for AVX-512: 16 elements at a time,
// the last ones masked.
func (g *gen) qaddAVX512() {
	for _, quant := range []bool{false, true} {
		name := "qaddAVX512"
		if quant {
			name = "quantizeAVX512"
		}
		g.p("// func %s(p *qaddArgs)", name)
		g.p("TEXT ·%s(SB), NOSPLIT, $0-8", name)
		g.in("MOVQ p+0(FP), DI")
		g.in("MOVQ qaddArgs_dst(DI), R8")
		g.in("MOVQ qaddArgs_a(DI), R9")
		g.in("MOVQ qaddArgs_b(DI), R10")
		g.in("MOVQ qaddArgs_n(DI), R11")
		g.in("MOVQ qaddArgs_f32(DI), R12")
		g.in("VPBROADCASTD qaddArgs_xa(DI), X20")
		g.in("VPBROADCASTD qaddArgs_xb(DI), X21")
		for i, f := range []string{"sa", "za", "sb", "zb", "lo", "hi", "sy", "qlo", "qhi"} {
			g.in("VBROADCASTSS qaddArgs_%s(DI), Z%d", f, 22+i)
		}
		g.in("VPBROADCASTD qaddArgs_zy(DI), Z31")
		g.in("XORQ R13, R13")
		loop, f32, done := g.newLabel("loop"), g.newLabel("f32"), g.newLabel("done")
		g.p("%s:", loop)
		g.in("MOVQ R11, R14")
		g.in("SUBQ R13, R14")
		g.in("JLE %s", done)
		g.in("MOVQ $16, R15")
		g.in("CMPQ R14, R15")
		g.in("CMOVQGT R15, R14")
		g.in("MOVL $-1, R15")
		g.in("BZHIL R14, R15, R15")
		g.in("KMOVW R15, K1")
		if quant {
			g.in("VMOVUPS.Z (R9)(R13*4), K1, Z0")
			g.preOps("Z")
		} else {
			for i, src := range []string{"R9", "R10"} {
				g.in("VMOVDQU8.Z (%s)(R13*1), K1, X%d", src, i)
				g.in("VPXORD X%d, X%d, X%d", 20+i, i, i)
				g.in("VPMOVZXBD X%d, Z%d", i, i)
				g.in("VCVTDQ2PS Z%d, Z%d", i, i)
				g.in("VSUBPS Z%d, Z%d, Z%d", 23+2*i, i, i)
				g.in("VMULPS Z%d, Z%d, Z%d", 22+2*i, i, i)
			}
			g.in("VADDPS Z1, Z0, Z0")
			g.in("VMAXPS Z26, Z0, Z0")
			g.in("VMINPS Z27, Z0, Z0")
			g.in("TESTQ R12, R12")
			g.in("JNE %s", f32)
		}
		g.in("VDIVPS Z28, Z0, Z0")
		g.in("VCMPPS $3, Z0, Z0, K2") // NaN lanes quantize to the zero point
		g.in("VMAXPS Z29, Z0, Z0")
		g.in("VMINPS Z30, Z0, Z0")
		g.in("VXORPS Z0, Z0, K2, Z0")
		g.in("VCVTPS2DQ Z0, Z0")
		g.in("VPADDD Z31, Z0, Z0")
		g.in("VPMOVDB Z0, K1, (R8)(R13*1)")
		g.in("ADDQ $16, R13")
		g.in("JMP %s", loop)
		if !quant {
			g.p("%s:", f32)
			g.in("VMOVUPS Z0, K1, (R8)(R13*4)")
			g.in("ADDQ $16, R13")
			g.in("JMP %s", loop)
		}
		g.p("%s:", done)
		g.in("VZEROUPPER")
		g.in("RET")
		g.p("")
	}
}

// qaddAVX2 writes QAdd and Quantize for AVX2: 8 elements at a time over n
// rounded down to a multiple of 8.
func (g *gen) qaddAVX2() {
	for _, quant := range []bool{false, true} {
		name := "qaddAVX2"
		if quant {
			name = "quantizeAVX2"
		}
		g.p("// func %s(p *qaddArgs)", name)
		g.p("TEXT ·%s(SB), NOSPLIT, $0-8", name)
		g.in("MOVQ p+0(FP), DI")
		g.in("MOVQ qaddArgs_dst(DI), R8")
		g.in("MOVQ qaddArgs_a(DI), R9")
		g.in("MOVQ qaddArgs_b(DI), R10")
		g.in("MOVQ qaddArgs_n(DI), R11")
		g.in("MOVQ qaddArgs_f32(DI), R12")
		g.in("VPBROADCASTD qaddArgs_xa(DI), X2")
		g.in("VPBROADCASTD qaddArgs_xb(DI), X3")
		for i, f := range []string{"sa", "za", "sb", "zb", "lo", "hi", "sy", "qlo", "qhi"} {
			g.in("VBROADCASTSS qaddArgs_%s(DI), Y%d", f, 4+i)
		}
		g.in("VPBROADCASTD qaddArgs_zy(DI), Y13")
		g.in("VMOVDQU qshufw<>(SB), X14")
		g.in("XORQ R13, R13")
		loop, f32, next, done := g.newLabel("loop"), g.newLabel("f32"), g.newLabel("next"), g.newLabel("done")
		g.p("%s:", loop)
		g.in("MOVQ R11, R14")
		g.in("SUBQ R13, R14")
		g.in("CMPQ R14, $8")
		g.in("JLT %s", done)
		if quant {
			g.in("VMOVUPS (R9)(R13*4), Y0")
			g.preOps("Y")
		} else {
			for i, src := range []string{"R9", "R10"} {
				g.in("VMOVQ (%s)(R13*1), X%d", src, i)
				g.in("VPXOR X%d, X%d, X%d", 2+i, i, i)
				g.in("VPMOVZXBD X%d, Y%d", i, i)
				g.in("VCVTDQ2PS Y%d, Y%d", i, i)
				g.in("VSUBPS Y%d, Y%d, Y%d", 5+2*i, i, i)
				g.in("VMULPS Y%d, Y%d, Y%d", 4+2*i, i, i)
			}
			g.in("VADDPS Y1, Y0, Y0")
			g.in("VMAXPS Y8, Y0, Y0")
			g.in("VMINPS Y9, Y0, Y0")
			g.in("TESTQ R12, R12")
			g.in("JNE %s", f32)
		}
		g.in("VDIVPS Y10, Y0, Y0")
		g.in("VCMPPS $3, Y0, Y0, Y15")
		g.in("VMAXPS Y11, Y0, Y0")
		g.in("VMINPS Y12, Y0, Y0")
		g.in("VANDNPS Y0, Y15, Y0")
		g.in("VCVTPS2DQ Y0, Y0")
		g.in("VPADDD Y13, Y0, Y0")
		g.in("VEXTRACTI128 $1, Y0, X1")
		g.in("VPACKSSDW X1, X0, X0")
		g.in("VPSHUFB X14, X0, X0")
		g.in("VMOVQ X0, (R8)(R13*1)")
		g.in("JMP %s", next)
		if !quant {
			g.p("%s:", f32)
			g.in("VMOVUPS Y0, (R8)(R13*4)")
		}
		g.p("%s:", next)
		g.in("ADDQ $8, R13")
		g.in("JMP %s", loop)
		g.p("%s:", done)
		g.in("VZEROUPPER")
		g.in("RET")
		g.p("")
	}
}

// interleaveBlock interleaves, for 16 (or 8) positions starting at
// position index reg·scale, the bytes of the four rows (AX, BX, CX, DX)
// into 64 (or 32) bytes at DI + 4·position. With step 2 it takes every
// other byte. X15 holds the 0x00ff word mask.
func (g *gen) interleaveBlock(pos string, width, step int) {
	rows := []string{"AX", "BX", "CX", "DX"}
	for j, r := range rows {
		switch {
		case step == 2:
			g.in("MOVOU (%s)(%s*2), X%d", r, pos, j)
			g.in("MOVOU 16(%s)(%s*2), X8", r, pos)
			g.in("PAND X15, X%d", j)
			g.in("PAND X15, X8")
			g.in("PACKUSWB X8, X%d", j)
		case width == 16:
			g.in("MOVOU (%s)(%s*1), X%d", r, pos, j)
		default:
			g.in("MOVQ (%s)(%s*1), X%d", r, pos, j)
		}
	}
	g.in("LEAQ (DI)(%s*4), R9", pos)
	g.in("MOVO X0, X4")
	g.in("PUNPCKLBW X1, X0")
	g.in("PUNPCKHBW X1, X4")
	g.in("MOVO X2, X5")
	g.in("PUNPCKLBW X3, X2")
	g.in("PUNPCKHBW X3, X5")
	g.in("MOVO X0, X6")
	g.in("PUNPCKLWL X2, X0")
	g.in("PUNPCKHWL X2, X6")
	g.in("MOVOU X0, (R9)")
	g.in("MOVOU X6, 16(R9)")
	if width == 16 {
		g.in("MOVO X4, X7")
		g.in("PUNPCKLWL X5, X4")
		g.in("PUNPCKHWL X5, X7")
		g.in("MOVOU X4, 32(R9)")
		g.in("MOVOU X7, 48(R9)")
	}
}

// interleave4 writes the SSE2 byte interleave of PackQuads. With step 1 it
// does all n positions when n >= 8 (the last block overlapping the one
// before); with step 2 the blocks of 16 whose 32 source bytes lie within
// avail. It returns how many positions it did, from the first.
func (g *gen) interleave4() {
	g.p("// func interleave4SSE2(dst, r0, r1, r2, r3 *byte, n, step, avail int) int")
	g.p("TEXT ·interleave4SSE2(SB), NOSPLIT, $0-72")
	g.in("MOVQ dst+0(FP), DI")
	g.in("MOVQ r0+8(FP), AX")
	g.in("MOVQ r1+16(FP), BX")
	g.in("MOVQ r2+24(FP), CX")
	g.in("MOVQ r3+32(FP), DX")
	g.in("MOVQ n+40(FP), SI")
	g.in("XORQ R8, R8")
	s2, s2loop, s2done, b8, done, none := g.newLabel("step2"), g.newLabel("s2loop"), g.newLabel("s2done"), g.newLabel("b8"), g.newLabel("done"), g.newLabel("none")
	g.in("CMPQ step+48(FP), $2")
	g.in("JEQ %s", s2)
	g.in("CMPQ SI, $16")
	g.in("JLT %s", b8)
	loop := g.newLabel("loop")
	g.p("%s:", loop)
	g.interleaveBlock("R8", 16, 1)
	g.in("ADDQ $16, R8")
	g.in("MOVQ SI, R10")
	g.in("SUBQ R8, R10")
	g.in("CMPQ R10, $16")
	g.in("JGE %s", loop)
	g.in("TESTQ R10, R10")
	g.in("JEQ %s", done)
	g.in("MOVQ SI, R8")
	g.in("SUBQ $16, R8")
	g.interleaveBlock("R8", 16, 1)
	g.in("JMP %s", done)
	g.p("%s:", b8)
	g.in("CMPQ SI, $8")
	g.in("JLT %s", none)
	g.interleaveBlock("R8", 8, 1)
	g.in("MOVQ SI, R8")
	g.in("SUBQ $8, R8")
	g.interleaveBlock("R8", 8, 1)
	g.p("%s:", done)
	g.in("MOVQ SI, ret+64(FP)")
	g.in("RET")
	g.p("%s:", none)
	g.in("MOVQ $0, ret+64(FP)")
	g.in("RET")
	g.p("%s:", s2)
	g.in("MOVQ $0x00ff00ff, R10")
	g.in("MOVQ R10, X15")
	g.in("PSHUFL $0, X15, X15")
	g.in("MOVQ avail+56(FP), R11")
	g.p("%s:", s2loop)
	g.in("LEAQ 16(R8), R10")
	g.in("CMPQ R10, SI")
	g.in("JGT %s", s2done)
	g.in("SHLQ $1, R10")
	g.in("CMPQ R10, R11")
	g.in("JGT %s", s2done)
	g.interleaveBlock("R8", 16, 2)
	g.in("ADDQ $16, R8")
	g.in("JMP %s", s2loop)
	g.p("%s:", s2done)
	g.in("MOVQ R8, ret+64(FP)")
	g.in("RET")
	g.p("")
}

func main() {
	var g gen
	g.p("// Code generated by gen_qasm.go; DO NOT EDIT.")
	g.p("")
	g.p("//go:build !purego")
	g.p("")
	g.p(`#include "textflag.h"`)
	g.p(`#include "go_asm.h"`)
	g.p("")
	g.p("// The low byte of each 16-bit lane, for VPSHUFB.")
	g.p("DATA qshufw<>+0(SB)/8, $0x0e0c0a0806040200")
	g.p("DATA qshufw<>+8(SB)/8, $0x8080808080808080")
	g.p("GLOBL qshufw<>(SB), RODATA|NOPTR, $16")
	g.p("")
	for r := 1; r <= rowsVNNI; r++ {
		g.qgemmVNNI(r, false)
	}
	for r := 1; r <= rowsVNNI; r++ {
		g.qgemmVNNI(r, true)
	}
	for r := 1; r <= rowsAVX2; r++ {
		g.qgemmAVX2(r)
	}
	g.qdwVNNI()
	g.qdwAVX2()
	g.qdwDirect(1)
	g.qdwDirect(2)
	g.qdwDirect3(1, 16)
	g.qdwDirect3(2, 16)
	g.qdwDirect3(1, 8)
	g.qdwDirect3(2, 8)
	g.qdwFlat()
	g.qpackQuads(1)
	g.qpackQuads(2)
	g.qaddAVX512()
	g.qaddAVX2()
	g.interleave4()
	if err := os.WriteFile("qgemm_amd64.s", g.buf.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}

	var d bytes.Buffer
	fmt.Fprintf(&d, "// Code generated by gen_qasm.go; DO NOT EDIT.\n\n//go:build !purego\n\npackage kernels\n\n")
	for _, k := range []struct {
		name string
		rows int
	}{{"qgemmVNNI", rowsVNNI}, {"qgemmVNNIM", rowsVNNI}, {"qgemmAVX2", rowsAVX2}} {
		for r := 1; r <= k.rows; r++ {
			fmt.Fprintf(&d, "//go:noescape\nfunc %s%d(p *qgemmArgs)\n\n", k.name, r)
		}
		fmt.Fprintf(&d, "func %s(rows int, p *qgemmArgs) {\n\tswitch rows {\n", k.name)
		for r := 1; r <= k.rows; r++ {
			fmt.Fprintf(&d, "\tcase %d:\n\t\t%s%d(p)\n", r, k.name, r)
		}
		fmt.Fprintf(&d, "\tdefault:\n\t\tpanic(\"kernels: %s of too many rows\")\n\t}\n}\n\n", k.name)
	}
	for _, f := range []string{"qdwVNNI(p *qdwArgs)", "qdwAVX2(p *qdwArgs)", "qdwDirect1VNNI(p *qdwDirectArgs)", "qdwDirect2VNNI(p *qdwDirectArgs)", "qdwDirect1K3VNNI(p *qdwDirectArgs)", "qdwDirect2K3VNNI(p *qdwDirectArgs)", "qdwDirect1K3Y(p *qdwDirectArgs)", "qdwDirect2K3Y(p *qdwDirectArgs)", "qdwFlatVNNI(p *qdwFlatArgs)", "qpackQuads1VNNI(p *qpackArgs)", "qpackQuads2VNNI(p *qpackArgs)", "qaddAVX512(p *qaddArgs)", "qaddAVX2(p *qaddArgs)",
		"quantizeAVX512(p *qaddArgs)", "quantizeAVX2(p *qaddArgs)", "interleave4SSE2(dst, r0, r1, r2, r3 *byte, n, step, avail int) int"} {
		fmt.Fprintf(&d, "//go:noescape\nfunc %s\n\n", f)
	}
	src, err := format.Source(d.Bytes())
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile("qkernels_amd64.go", src, 0o644); err != nil {
		log.Fatal(err)
	}
}
