//go:build !purego

#include "textflag.h"
#include "go_asm.h"

// func reduceRowsAVX512(dst, src *float32, rows, n int, scale float32, isMax int)
//
// dst[i] = scale * Σ src[i*n:(i+1)*n] (isMax = 0) or max of the row, NaN if
// any element is NaN (isMax = 1). Rows are read in vectors of 16 with a
// masked tail, then reduced across lanes.
TEXT ·reduceRowsAVX512(SB), NOSPLIT, $0-48
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         rows+16(FP), R8
	MOVQ         n+24(FP), R9
	MOVQ         isMax+40(FP), R10
	MOVL         $0xff800000, AX              // -Inf
	VPBROADCASTD AX, Z30
	MOVL         $-1, BX

row:
	KXORW K3, K3, K3                          // NaN seen
	TESTQ R10, R10
	JNE   maxinit
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	JMP   init

maxinit:
	VMOVAPS Z30, Z0
	VMOVAPS Z30, Z1

init:
	XORQ CX, CX

chunk:
	MOVQ    R9, AX
	SUBQ    CX, AX
	JLE     reduce
	MOVL    $16, R11
	CMPQ    AX, R11
	CMOVQGT R11, AX
	BZHIL   AX, BX, AX
	KMOVW   AX, K1
	VMOVUPS.Z (SI)(CX*4), K1, Z2
	TESTQ   R10, R10
	JNE     maxchunk
	VADDPS  Z2, Z0, Z0
	ADDQ    $16, CX
	JMP     chunk

maxchunk:
	VCMPPS  $3, Z2, Z2, K1, K2                 // NaN lanes
	KORW    K2, K3, K3
	VMAXPS  Z2, Z0, K1, Z0
	ADDQ    $16, CX
	JMP     chunk

reduce:
	TESTQ          R10, R10
	JNE            maxreduce
	VADDPS         Z1, Z0, Z0
	VEXTRACTF64X4  $1, Z0, Y1
	VADDPS         Y1, Y0, Y0
	VEXTRACTF128   $1, Y0, X1
	VADDPS         X1, X0, X0
	VMOVHLPS       X0, X0, X1
	VADDPS         X1, X0, X0
	VMOVSHDUP      X0, X1
	VADDSS         X1, X0, X0
	VMULSS         scale+32(FP), X0, X0
	JMP            store

maxreduce:
	VEXTRACTF64X4 $1, Z0, Y1
	VMAXPS        Y1, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VMAXPS        X1, X0, X0
	VMOVHLPS      X0, X0, X1
	VMAXPS        X1, X0, X0
	VMOVSHDUP     X0, X1
	VMAXSS        X1, X0, X0
	KORTESTW      K3, K3
	JEQ           store
	MOVL          $0x7fc00000, AX              // NaN
	VMOVD         AX, X0

store:
	VMOVSS X0, (DI)
	ADDQ   $4, DI
	LEAQ   (SI)(R9*4), SI
	DECQ   R8
	JNE    row
	VZEROUPPER
	RET

// func maxPool2x2AVX512(p *maxPoolArgs)
//
// Registers: DI = args, SI = input row pair, DX = output row, R8 = planes
// left, R9 = rows left in the plane, CX = output column, R10 = input row
// bytes, AX BX R11 R12 scratch; Z30 = even lane index, Z29 = odd lane
// index. max(a, b) is VMAXPS then a's NaN lanes copied in, so that a NaN
// anywhere in the window gives NaN.
TEXT ·maxPool2x2AVX512(SB), NOSPLIT, $0-8
	MOVQ         p+0(FP), DI
	MOVQ         maxPoolArgs_src(DI), SI
	MOVQ         maxPoolArgs_dst(DI), DX
	MOVQ         maxPoolArgs_planes(DI), R8
	MOVQ         maxPoolArgs_w(DI), R10
	SHLQ         $2, R10
	VMOVDQU32    ·dwEvenIdx(SB), Z30
	MOVL         $1, AX
	VPBROADCASTD AX, Z29
	VPADDD       Z29, Z30, Z29
	MOVL         $-1, BX

plane:
	MOVQ maxPoolArgs_oh(DI), R9
	MOVQ SI, R13                                // plane start

prow:
	XORQ CX, CX

pchunk:
	// Inputs 2*CX .. 2*CX+32 of the two rows, as far as 2*ow.
	MOVQ    maxPoolArgs_ow(DI), AX
	SUBQ    CX, AX                              // outputs left
	MOVL    $16, R11
	CMPQ    AX, R11
	CMOVQGT R11, AX
	BZHIL   AX, BX, R12
	KMOVW   R12, K4                             // output lanes
	SHLQ    $1, AX                              // inputs left (<= 32)
	MOVQ    AX, R12
	SUBQ    $16, R12
	MOVL    $0, R11
	CMOVQLT R11, R12
	BZHIL   AX, BX, R11
	KMOVW   R11, K1
	BZHIL   R12, BX, R11
	KMOVW   R11, K2
	LEAQ    (SI)(CX*8), R11
	VMOVUPS.Z (R11), K1, Z0
	VMOVUPS.Z 64(R11), K2, Z1
	VMOVUPS.Z (R11)(R10*1), K1, Z2
	VMOVUPS.Z 64(R11)(R10*1), K2, Z3
	VMAXPS    Z2, Z0, Z4
	VCMPPS    $3, Z0, Z0, K3
	VMOVAPS   Z0, K3, Z4
	VMAXPS    Z3, Z1, Z5
	VCMPPS    $3, Z1, Z1, K3
	VMOVAPS   Z1, K3, Z5
	VMOVAPS   Z4, Z6
	VPERMT2PS Z5, Z30, Z6                       // even columns
	VPERMT2PS Z5, Z29, Z4                       // odd columns
	VMAXPS    Z4, Z6, Z7
	VCMPPS    $3, Z6, Z6, K3
	VMOVAPS   Z6, K3, Z7
	VMOVUPS   Z7, K4, (DX)(CX*4)
	ADDQ      $16, CX
	CMPQ      CX, maxPoolArgs_ow(DI)
	JLT       pchunk
	MOVQ      maxPoolArgs_ow(DI), AX
	LEAQ      (DX)(AX*4), DX
	LEAQ      (SI)(R10*2), SI
	DECQ      R9
	JNE       prow
	MOVQ      maxPoolArgs_h(DI), AX
	IMULQ     R10, AX
	LEAQ      (R13)(AX*1), SI
	DECQ      R8
	JNE       plane
	VZEROUPPER
	RET
