//go:build !purego

#include "textflag.h"
#include "go_asm.h"

// func winoInputAVX512(p *winoInArgs)
//
// See winoInArgs. Registers: DI = args, R14 = phase planes at the panel's
// column, R15 = the panel's shiftEntries, R9 = V of the panel, SI = channel
// plane, DX BX R12 R13 = V_0, V_4, V_8, V_12 of the channel, R10 = xstride,
// R11 = 3*xstride, R8 = channels left, CX = panels left, AX scratch.
// d[r][c] is loaded into Z(4r+c); t = Bᵀd goes to Z16..Z31.
TEXT ·winoInputAVX512(SB), NOSPLIT, $0-8
	MOVQ p+0(FP), DI
	MOVQ winoInArgs_xstride(DI), R10
	LEAQ (R10)(R10*2), R11
	MOVQ winoInArgs_table(DI), R15
	MOVQ winoInArgs_src(DI), R14
	ADDQ winoInArgs_col(DI), R14
	MOVQ winoInArgs_dst(DI), R9
	MOVQ winoInArgs_panels(DI), CX
wipanel:
	MOVQ R14, SI
	MOVQ R9, DX
	MOVQ winoInArgs_c(DI), R8
wichan:
	KMOVW 0(R15), K1
	MOVLQSX 4(R15), AX
	VMOVUPS.Z (SI)(AX*1), K1, Z0
	KMOVW 8(R15), K1
	MOVLQSX 12(R15), AX
	VMOVUPS.Z (SI)(AX*1), K1, Z1
	KMOVW 16(R15), K1
	MOVLQSX 20(R15), AX
	VMOVUPS.Z (SI)(AX*1), K1, Z2
	KMOVW 24(R15), K1
	MOVLQSX 28(R15), AX
	VMOVUPS.Z (SI)(AX*1), K1, Z3
	KMOVW 32(R15), K1
	MOVLQSX 36(R15), AX
	VMOVUPS.Z (SI)(AX*1), K1, Z4
	KMOVW 40(R15), K1
	MOVLQSX 44(R15), AX
	VMOVUPS.Z (SI)(AX*1), K1, Z5
	KMOVW 48(R15), K1
	MOVLQSX 52(R15), AX
	VMOVUPS.Z (SI)(AX*1), K1, Z6
	KMOVW 56(R15), K1
	MOVLQSX 60(R15), AX
	VMOVUPS.Z (SI)(AX*1), K1, Z7
	KMOVW 64(R15), K1
	MOVLQSX 68(R15), AX
	VMOVUPS.Z (SI)(AX*1), K1, Z8
	KMOVW 72(R15), K1
	MOVLQSX 76(R15), AX
	VMOVUPS.Z (SI)(AX*1), K1, Z9
	KMOVW 80(R15), K1
	MOVLQSX 84(R15), AX
	VMOVUPS.Z (SI)(AX*1), K1, Z10
	KMOVW 88(R15), K1
	MOVLQSX 92(R15), AX
	VMOVUPS.Z (SI)(AX*1), K1, Z11
	KMOVW 96(R15), K1
	MOVLQSX 100(R15), AX
	VMOVUPS.Z (SI)(AX*1), K1, Z12
	KMOVW 104(R15), K1
	MOVLQSX 108(R15), AX
	VMOVUPS.Z (SI)(AX*1), K1, Z13
	KMOVW 112(R15), K1
	MOVLQSX 116(R15), AX
	VMOVUPS.Z (SI)(AX*1), K1, Z14
	KMOVW 120(R15), K1
	MOVLQSX 124(R15), AX
	VMOVUPS.Z (SI)(AX*1), K1, Z15
	VSUBPS Z8, Z0, Z16
	VADDPS Z8, Z4, Z20
	VSUBPS Z4, Z8, Z24
	VSUBPS Z12, Z4, Z28
	VSUBPS Z9, Z1, Z17
	VADDPS Z9, Z5, Z21
	VSUBPS Z5, Z9, Z25
	VSUBPS Z13, Z5, Z29
	VSUBPS Z10, Z2, Z18
	VADDPS Z10, Z6, Z22
	VSUBPS Z6, Z10, Z26
	VSUBPS Z14, Z6, Z30
	VSUBPS Z11, Z3, Z19
	VADDPS Z11, Z7, Z23
	VSUBPS Z7, Z11, Z27
	VSUBPS Z15, Z7, Z31
	LEAQ (DX)(R10*4), BX
	LEAQ (BX)(R10*4), R12
	LEAQ (R12)(R10*4), R13
	VSUBPS Z18, Z16, Z0
	VADDPS Z18, Z17, Z1
	VSUBPS Z17, Z18, Z2
	VSUBPS Z19, Z17, Z3
	VMOVUPS Z0, (DX)
	VMOVUPS Z1, (DX)(R10*1)
	VMOVUPS Z2, (DX)(R10*2)
	VMOVUPS Z3, (DX)(R11*1)
	VSUBPS Z22, Z20, Z0
	VADDPS Z22, Z21, Z1
	VSUBPS Z21, Z22, Z2
	VSUBPS Z23, Z21, Z3
	VMOVUPS Z0, (BX)
	VMOVUPS Z1, (BX)(R10*1)
	VMOVUPS Z2, (BX)(R10*2)
	VMOVUPS Z3, (BX)(R11*1)
	VSUBPS Z26, Z24, Z0
	VADDPS Z26, Z25, Z1
	VSUBPS Z25, Z26, Z2
	VSUBPS Z27, Z25, Z3
	VMOVUPS Z0, (R12)
	VMOVUPS Z1, (R12)(R10*1)
	VMOVUPS Z2, (R12)(R10*2)
	VMOVUPS Z3, (R12)(R11*1)
	VSUBPS Z30, Z28, Z0
	VADDPS Z30, Z29, Z1
	VSUBPS Z29, Z30, Z2
	VSUBPS Z31, Z29, Z3
	VMOVUPS Z0, (R13)
	VMOVUPS Z1, (R13)(R10*1)
	VMOVUPS Z2, (R13)(R10*2)
	VMOVUPS Z3, (R13)(R11*1)
	ADDQ winoInArgs_cstride(DI), SI
	ADDQ $64, DX
	DECQ R8
	JNE wichan
	ADDQ $64, R14
	ADDQ $128, R15
	MOVQ winoInArgs_c(DI), AX
	SHLQ $6, AX
	ADDQ AX, R9
	DECQ CX
	JNE wipanel
	VZEROUPPER
	RET

// func winoOutputAVX512(p *winoOutArgs)
//
// See winoOutArgs. Registers: DI = args, R9 = M of the channel at panel
// 0, SI = M at the panel (ξ = 0), BX R12 R13 = ξ = 4, 8, 12, R10 =
// xstride, R11 = 3*xstride, R14 = O_0 of the channel at panel 0, DX = O
// at the panel, R15 = bias, R8 = channels left, CX = panels left.
// m[r][c] is loaded into Z(4r+c); s = Aᵀm into Z16..Z23; Z24 = bias,
// Z25 = lo, Z26 = hi, Z27 = leak, Z28 = 0, Z29 and Z30 = interleave
// indexes (low and high halves).
TEXT ·winoOutputAVX512(SB), NOSPLIT, $0-8
	MOVQ p+0(FP), DI
	MOVQ winoOutArgs_xstride(DI), R10
	LEAQ (R10)(R10*2), R11
	VBROADCASTSS winoOutArgs_lo(DI), Z25
	VBROADCASTSS winoOutArgs_hi(DI), Z26
	VBROADCASTSS winoOutArgs_leak(DI), Z27
	VPXORD Z28, Z28, Z28
	VMOVDQU32 ·winoInterleaveLo(SB), Z29
	VMOVDQU32 ·winoInterleaveHi(SB), Z30
	MOVQ winoOutArgs_src(DI), R9
	MOVQ winoOutArgs_dst(DI), R14
	MOVQ winoOutArgs_bias(DI), R15
	MOVQ winoOutArgs_m(DI), R8
wochan:
	VBROADCASTSS (R15), Z24
	MOVQ R9, SI
	MOVQ R14, DX
	MOVQ winoOutArgs_panels(DI), CX
wopanel:
	LEAQ (SI)(R10*4), BX
	LEAQ (BX)(R10*4), R12
	LEAQ (R12)(R10*4), R13
	VMOVUPS (SI), Z0
	VMOVUPS (SI)(R10*1), Z1
	VMOVUPS (SI)(R10*2), Z2
	VMOVUPS (SI)(R11*1), Z3
	VMOVUPS (BX), Z4
	VMOVUPS (BX)(R10*1), Z5
	VMOVUPS (BX)(R10*2), Z6
	VMOVUPS (BX)(R11*1), Z7
	VMOVUPS (R12), Z8
	VMOVUPS (R12)(R10*1), Z9
	VMOVUPS (R12)(R10*2), Z10
	VMOVUPS (R12)(R11*1), Z11
	VMOVUPS (R13), Z12
	VMOVUPS (R13)(R10*1), Z13
	VMOVUPS (R13)(R10*2), Z14
	VMOVUPS (R13)(R11*1), Z15
	VADDPS Z4, Z0, Z16
	VADDPS Z8, Z16, Z16
	VSUBPS Z8, Z4, Z20
	VSUBPS Z12, Z20, Z20
	VADDPS Z5, Z1, Z17
	VADDPS Z9, Z17, Z17
	VSUBPS Z9, Z5, Z21
	VSUBPS Z13, Z21, Z21
	VADDPS Z6, Z2, Z18
	VADDPS Z10, Z18, Z18
	VSUBPS Z10, Z6, Z22
	VSUBPS Z14, Z22, Z22
	VADDPS Z7, Z3, Z19
	VADDPS Z11, Z19, Z19
	VSUBPS Z11, Z7, Z23
	VSUBPS Z15, Z23, Z23
	VADDPS Z17, Z16, Z0
	VADDPS Z18, Z0, Z0
	VSUBPS Z18, Z17, Z1
	VSUBPS Z19, Z1, Z1
	VADDPS Z21, Z20, Z2
	VADDPS Z22, Z2, Z2
	VSUBPS Z22, Z21, Z3
	VSUBPS Z23, Z3, Z3
	VADDPS Z24, Z0, Z0
	VMAXPS Z25, Z0, Z0
	VMINPS Z26, Z0, Z0
	VADDPS Z24, Z1, Z1
	VMAXPS Z25, Z1, Z1
	VMINPS Z26, Z1, Z1
	VADDPS Z24, Z2, Z2
	VMAXPS Z25, Z2, Z2
	VMINPS Z26, Z2, Z2
	VADDPS Z24, Z3, Z3
	VMAXPS Z25, Z3, Z3
	VMINPS Z26, Z3, Z3
	TESTQ $64, winoOutArgs_flags(DI)
	JEQ wonoleak
	VCMPPS $1, Z28, Z0, K1
	VMULPS Z27, Z0, K1, Z0
	VCMPPS $1, Z28, Z1, K1
	VMULPS Z27, Z1, K1, Z1
	VCMPPS $1, Z28, Z2, K1
	VMULPS Z27, Z2, K1, Z2
	VCMPPS $1, Z28, Z3, K1
	VMULPS Z27, Z3, K1, Z3
wonoleak:
	VMOVAPS Z0, Z4
	VPERMT2PS Z1, Z29, Z4
	VMOVAPS Z0, Z5
	VPERMT2PS Z1, Z30, Z5
	VMOVAPS Z2, Z6
	VPERMT2PS Z3, Z29, Z6
	VMOVAPS Z2, Z7
	VPERMT2PS Z3, Z30, Z7
	VMOVUPS Z4, (DX)
	VMOVUPS Z5, 64(DX)
	MOVQ winoOutArgs_istride(DI), AX
	VMOVUPS Z6, (DX)(AX*1)
	VMOVUPS Z7, 64(DX)(AX*1)
	ADDQ $64, SI
	ADDQ $128, DX
	DECQ CX
	JNE wopanel
	ADDQ winoOutArgs_mrow(DI), R9
	ADDQ winoOutArgs_orow(DI), R14
	ADDQ winoOutArgs_bstride(DI), R15
	DECQ R8
	JNE wochan
	VZEROUPPER
	RET

// func winoCopyAVX512(p *winoCopyArgs)
//
// See winoCopyArgs. Registers: DI = args, SI = O_0 row of the channel,
// R9 = O_1 row, DX = dst row, R8 = channels left, R13 = output row,
// CX = column, AX BX R12 scratch.
TEXT ·winoCopyAVX512(SB), NOSPLIT, $0-8
	MOVQ p+0(FP), DI
	MOVQ winoCopyArgs_dst(DI), DX
	MOVQ winoCopyArgs_src(DI), R14
	MOVQ winoCopyArgs_m(DI), R8
	MOVL $-1, BX
wcchan:
	MOVQ R14, SI
	MOVQ R14, R9
	ADDQ winoCopyArgs_istride(DI), R9
	XORQ R13, R13
wcrow:
	XORQ CX, CX
wcchunk:
	MOVQ winoCopyArgs_w(DI), AX
	SUBQ CX, AX
	MOVL $16, R12
	CMPQ AX, R12
	CMOVQGT R12, AX
	BZHIL AX, BX, AX
	KMOVW AX, K1
	VMOVUPS.Z (SI)(CX*4), K1, Z0
	VMOVUPS Z0, K1, (DX)(CX*4)
	ADDQ $16, CX
	CMPQ CX, winoCopyArgs_w(DI)
	JLT wcchunk
	MOVQ winoCopyArgs_w(DI), AX
	LEAQ (DX)(AX*4), DX
	XCHGQ SI, R9
	INCQ R13
	CMPQ R13, winoCopyArgs_h(DI)
	JEQ wcchandone
	TESTQ $1, R13
	JNE wcrow
	ADDQ winoCopyArgs_trow(DI), SI
	ADDQ winoCopyArgs_trow(DI), R9
	JMP wcrow
wcchandone:
	ADDQ winoCopyArgs_orow(DI), R14
	DECQ R8
	JNE wcchan
	VZEROUPPER
	RET
