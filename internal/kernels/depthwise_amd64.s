//go:build !purego

#include "textflag.h"
#include "go_asm.h"

// Registers of both row kernels:
//	DI = *dwArgs, DX = dst cursor, SI = src cursor, CX = outputs left,
//	BX = tap cursor, R9 = taps left, R10 = tap offset.

// ACT512 applies clamp(lo=Z30, hi=Z29) and leaky(Z28, zero Z27) to Z.
#define ACT512(Z) \
	VMAXPS Z30, Z, Z; \
	VMINPS Z29, Z, Z; \
	VCMPPS $1, Z27, Z, K2; \
	VMULPS Z28, Z, K2, Z

// func dwRowAVX512(stride int, p *dwArgs)
TEXT ·dwRowAVX512(SB), NOSPLIT, $0-16
	MOVQ         stride+0(FP), R8
	MOVQ         p+8(FP), DI
	MOVQ         dwArgs_dst(DI), DX
	MOVQ         dwArgs_src(DI), SI
	MOVQ         dwArgs_n(DI), CX
	VBROADCASTSS dwArgs_bias(DI), Z31
	VBROADCASTSS dwArgs_lo(DI), Z30
	VBROADCASTSS dwArgs_hi(DI), Z29
	VBROADCASTSS dwArgs_leak(DI), Z28
	VPXORD       Z27, Z27, Z27
	CMPQ         R8, $2
	JEQ          s2

s1pair:
	CMPQ    CX, $32
	JLT     s1one
	VMOVAPS Z31, Z0
	VMOVAPS Z31, Z1
	MOVQ    dwArgs_taps(DI), BX
	MOVQ    dwArgs_ntaps(DI), R9

s1pairtap:
	MOVQ             (BX), R10
	VMOVUPS          (SI)(R10*1), Z2
	VMOVUPS          64(SI)(R10*1), Z3
	VFMADD231PS.BCST 8(BX), Z2, Z0
	VFMADD231PS.BCST 8(BX), Z3, Z1
	ADDQ             $16, BX
	DECQ             R9
	JNE              s1pairtap
	ACT512(Z0)
	ACT512(Z1)
	VMOVUPS          Z0, (DX)
	VMOVUPS          Z1, 64(DX)
	ADDQ             $128, SI
	ADDQ             $128, DX
	SUBQ             $32, CX
	JMP              s1pair

s1one:
	TESTQ CX, CX
	JLE   done
	MOVL  $0xffff, R11
	CMPQ  CX, $16
	JGE   s1mask
	MOVL  $-1, R11
	BZHIL CX, R11, R11

s1mask:
	KMOVW   R11, K1
	VMOVAPS Z31, Z0
	MOVQ    dwArgs_taps(DI), BX
	MOVQ    dwArgs_ntaps(DI), R9

s1onetap:
	MOVQ             (BX), R10
	VMOVUPS.Z        (SI)(R10*1), K1, Z2
	VFMADD231PS.BCST 8(BX), Z2, Z0
	ADDQ             $16, BX
	DECQ             R9
	JNE              s1onetap
	ACT512(Z0)
	VMOVUPS          Z0, K1, (DX)
	ADDQ             $64, SI
	ADDQ             $64, DX
	SUBQ             $16, CX
	JMP              s1one

s2:
	VMOVDQU32 ·dwEvenIdx(SB), Z26

s2loop:
	TESTQ CX, CX
	JLE   done
	MOVL  $0xffff, R11
	MOVL  $0x7fff, R12
	MOVL  $0xffff, R13
	CMPQ  CX, $16
	JGE   s2mask

	// Tail: outputs t < CX read raw lanes < 2*CX-1.
	MOVL  $-1, R11
	BZHIL CX, R11, R11
	LEAQ  -1(CX)(CX*1), R12
	MOVL  $-1, R13
	BZHIL R12, R13, R13
	MOVL  R13, R12
	SHRL  $16, R12

s2mask:
	KMOVW   R11, K1
	KMOVW   R12, K3
	KMOVW   R13, K4
	VMOVAPS Z31, Z0
	MOVQ    dwArgs_taps(DI), BX
	MOVQ    dwArgs_ntaps(DI), R9

s2tap:
	MOVQ             (BX), R10
	VMOVUPS.Z        (SI)(R10*1), K4, Z2
	VMOVUPS.Z        64(SI)(R10*1), K3, Z3
	VPERMT2PS        Z3, Z26, Z2
	VFMADD231PS.BCST 8(BX), Z2, Z0
	ADDQ             $16, BX
	DECQ             R9
	JNE              s2tap
	ACT512(Z0)
	VMOVUPS          Z0, K1, (DX)
	ADDQ             $128, SI
	ADDQ             $64, DX
	SUBQ             $16, CX
	JMP              s2loop

done:
	VZEROUPPER
	RET

// ACT256 applies clamp(lo=Y14, hi=Y13) and leaky(Y12) to Y using T.
#define ACT256(Y, T) \
	VMAXPS    Y14, Y, Y; \
	VMINPS    Y13, Y, Y; \
	VMULPS    Y12, Y, T; \
	VBLENDVPS Y, T, Y, Y

// func dwRowAVX2(stride int, p *dwArgs)
TEXT ·dwRowAVX2(SB), NOSPLIT, $0-16
	MOVQ         stride+0(FP), R8
	MOVQ         p+8(FP), DI
	MOVQ         dwArgs_dst(DI), DX
	MOVQ         dwArgs_src(DI), SI
	MOVQ         dwArgs_n(DI), CX
	VBROADCASTSS dwArgs_bias(DI), Y15
	VBROADCASTSS dwArgs_lo(DI), Y14
	VBROADCASTSS dwArgs_hi(DI), Y13
	VBROADCASTSS dwArgs_leak(DI), Y12
	CMPQ         R8, $2
	JEQ          a2s2

a2s1pair:
	CMPQ    CX, $16
	JLT     a2s1one
	VMOVAPS Y15, Y0
	VMOVAPS Y15, Y1
	MOVQ    dwArgs_taps(DI), BX
	MOVQ    dwArgs_ntaps(DI), R9

a2s1pairtap:
	VBROADCASTSS 8(BX), Y4
	MOVQ         (BX), R10
	VFMADD231PS  (SI)(R10*1), Y4, Y0
	VFMADD231PS  32(SI)(R10*1), Y4, Y1
	ADDQ         $16, BX
	DECQ         R9
	JNE          a2s1pairtap
	ACT256(Y0, Y2)
	ACT256(Y1, Y3)
	VMOVUPS      Y0, (DX)
	VMOVUPS      Y1, 32(DX)
	ADDQ         $64, SI
	ADDQ         $64, DX
	SUBQ         $16, CX
	JMP          a2s1pair

a2s1one:
	TESTQ CX, CX
	JLE   a2done
	MOVQ  $8, R11
	CMPQ  CX, $8
	CMOVQLT CX, R11
	SHLQ  $2, R11
	LEAQ  ·avx2TailMask+64(SB), R12
	SUBQ  R11, R12
	VMOVUPS (R12), Y11
	VMOVAPS Y15, Y0
	MOVQ    dwArgs_taps(DI), BX
	MOVQ    dwArgs_ntaps(DI), R9

a2s1onetap:
	VBROADCASTSS 8(BX), Y4
	MOVQ         (BX), R10
	VMASKMOVPS   (SI)(R10*1), Y11, Y2
	VFMADD231PS  Y2, Y4, Y0
	ADDQ         $16, BX
	DECQ         R9
	JNE          a2s1onetap
	ACT256(Y0, Y2)
	VMASKMOVPS   Y0, Y11, (DX)
	ADDQ         $32, SI
	ADDQ         $32, DX
	SUBQ         $8, CX
	JMP          a2s1one

a2s2:
	TESTQ CX, CX
	JLE   a2done
	MOVQ  $8, R11
	CMPQ  CX, $8
	CMOVQLT CX, R11

	// Outputs t < R11 read raw lanes < 2*R11-1: masks of the two halves.
	LEAQ    ·avx2TailMask+64(SB), R12
	MOVQ    R11, R13
	SHLQ    $2, R13
	MOVQ    R12, AX
	SUBQ    R13, AX
	VMOVUPS (AX), Y11                  // output mask
	LEAQ    -1(R11)(R11*1), R13        // raw lanes
	MOVQ    R13, AX
	CMPQ    AX, $8
	MOVQ    $8, R8
	CMOVQGT R8, AX
	SHLQ    $2, AX
	MOVQ    R12, R8
	SUBQ    AX, R8
	VMOVUPS (R8), Y10                  // raw mask, low half
	SUBQ    $8, R13
	MOVQ    $0, R8
	CMOVQLT R8, R13
	SHLQ    $2, R13
	MOVQ    R12, R8
	SUBQ    R13, R8
	VMOVUPS (R8), Y9                   // raw mask, high half
	VMOVAPS Y15, Y0
	MOVQ    dwArgs_taps(DI), BX
	MOVQ    dwArgs_ntaps(DI), R9

a2s2tap:
	VBROADCASTSS 8(BX), Y4
	MOVQ         (BX), R10
	VMASKMOVPS   (SI)(R10*1), Y10, Y2
	VMASKMOVPS   32(SI)(R10*1), Y9, Y3
	VSHUFPS      $0x88, Y3, Y2, Y2
	VPERMPD      $0xd8, Y2, Y2
	VFMADD231PS  Y2, Y4, Y0
	ADDQ         $16, BX
	DECQ         R9
	JNE          a2s2tap
	ACT256(Y0, Y2)
	VMASKMOVPS   Y0, Y11, (DX)
	ADDQ         $64, SI
	ADDQ         $32, DX
	SUBQ         $8, CX
	JMP          a2s2

a2done:
	VZEROUPPER
	RET
