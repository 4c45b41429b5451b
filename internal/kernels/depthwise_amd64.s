//go:build !purego

#include "textflag.h"
#include "go_asm.h"

// Both channel kernels walk the output rows (R11 left) and, within a row,
// chunks of one vector of outputs starting at column CX. Registers:
//	DI = *dwArgs, DX = dst row, SI = src at input row oy*sh, R15 = oy*sh,
//	R12 = h, R14 = src at the chunk's first input column,
//	BX = tap cursor, R9 = taps left, R10 and R13 scratch.
// A tap is skipped when its input row is outside [0, h). In a border chunk,
// lanes whose input column is outside [0, w) are masked off (and read as 0);
// an interior chunk loads whole vectors.

// ROWCHECK skips to L if the tap at BX reads a row outside [0, h).
#define ROWCHECK(L) \
	MOVLQSX dwTap_dy(BX), R10; \
	ADDQ    R15, R10; \
	CMPQ    R10, R12; \
	JCC     L

// ACT512 applies clamp(lo=Z30, hi=Z29) and leaky(Z28, zero Z27) to Z.
#define ACT512(Z) \
	VMAXPS Z30, Z, Z; \
	VMINPS Z29, Z, Z; \
	VCMPPS $1, Z27, Z, K2; \
	VMULPS Z28, Z, K2, Z

// func dwChannelAVX512(stride int, p *dwArgs)
TEXT ·dwChannelAVX512(SB), NOSPLIT, $0-16
	MOVQ         stride+0(FP), R8
	MOVQ         p+8(FP), DI
	MOVQ         dwArgs_dst(DI), DX
	MOVQ         dwArgs_src(DI), SI
	MOVQ         dwArgs_h(DI), R12
	MOVQ         dwArgs_oh(DI), R11
	XORQ         R15, R15
	VBROADCASTSS dwArgs_bias(DI), Z31
	VBROADCASTSS dwArgs_lo(DI), Z30
	VBROADCASTSS dwArgs_hi(DI), Z29
	VBROADCASTSS dwArgs_leak(DI), Z28
	VPXORD       Z27, Z27, Z27
	VMOVDQU32    ·dwEvenIdx(SB), Z26
	VPSRLD       $1, Z26, Z25                 // 0, 1, ..., 15
	VPBROADCASTD dwArgs_w(DI), Z23
	MOVL         $16, R10
	VPBROADCASTD R10, Z24
	VPADDD       Z24, Z25, Z24                // 16, ..., 31

row512:
	XORQ CX, CX

chunk512:
	// K1: output lanes; R13 = first input column ox0*stride.
	MOVQ  dwArgs_ow(DI), R10
	SUBQ  CX, R10
	MOVL  $0xffff, R13
	CMPQ  R10, $16
	JGE   full512
	MOVL  $-1, R13
	BZHIL R10, R13, R13

full512:
	KMOVW   R13, K1
	MOVQ    CX, R13
	CMPQ    R8, $2
	JNE     addr512
	SHLQ    $1, R13

addr512:
	LEAQ    (SI)(R13*4), R14
	VMOVAPS Z31, Z0
	MOVQ    dwArgs_taps(DI), BX
	MOVQ    dwArgs_ntaps(DI), R9

	// Interior chunk: 16 outputs, every column loaded inside the row.
	CMPQ R10, $16
	JLT  border512
	MOVQ R13, R10
	ADDQ dwArgs_dxMin(DI), R10
	JLT  border512
	MOVQ R8, R10
	SHLQ $4, R10
	DECQ R10
	ADDQ R13, R10                             // last (raw) column loaded
	ADDQ dwArgs_dxMax(DI), R10
	CMPQ R10, dwArgs_w(DI)
	JGE  border512
	CMPQ R8, $2
	JEQ  int2tap

int1tap:
	ROWCHECK(int1skip)
	MOVQ             dwTap_off(BX), R10
	VMOVUPS          (R14)(R10*1), Z1
	VFMADD231PS.BCST dwTap_w(BX), Z1, Z0

int1skip:
	ADDQ $dwTap__size, BX
	DECQ R9
	JNE  int1tap
	JMP  store512

int2tap:
	ROWCHECK(int2skip)
	MOVQ             dwTap_off(BX), R10
	VMOVUPS          (R14)(R10*1), Z1
	VPERMT2PS        64(R14)(R10*1), Z26, Z1
	VFMADD231PS.BCST dwTap_w(BX), Z1, Z0

int2skip:
	ADDQ $dwTap__size, BX
	DECQ R9
	JNE  int2tap
	JMP  store512

border512:
	VPBROADCASTD R13, Z22
	VPADDD       Z25, Z22, Z21                // columns of (raw) lanes 0..15
	VPADDD       Z24, Z22, Z22                // columns of raw lanes 16..31
	CMPQ         R8, $2
	JEQ          bord2tap

bord1tap:
	ROWCHECK(bord1skip)
	VPADDD.BCST      dwTap_dx(BX), Z21, Z2
	VPCMPUD          $1, Z23, Z2, K2
	MOVQ             dwTap_off(BX), R10
	VMOVUPS.Z        (R14)(R10*1), K2, Z1
	VFMADD231PS.BCST dwTap_w(BX), Z1, Z0

bord1skip:
	ADDQ $dwTap__size, BX
	DECQ R9
	JNE  bord1tap
	JMP  store512

bord2tap:
	ROWCHECK(bord2skip)
	VPADDD.BCST      dwTap_dx(BX), Z21, Z2
	VPCMPUD          $1, Z23, Z2, K2
	VPADDD.BCST      dwTap_dx(BX), Z22, Z3
	VPCMPUD          $1, Z23, Z3, K3
	MOVQ             dwTap_off(BX), R10
	VMOVUPS.Z        (R14)(R10*1), K2, Z1
	VMOVUPS.Z        64(R14)(R10*1), K3, Z2
	VPERMT2PS        Z2, Z26, Z1
	VFMADD231PS.BCST dwTap_w(BX), Z1, Z0

bord2skip:
	ADDQ $dwTap__size, BX
	DECQ R9
	JNE  bord2tap

store512:
	ACT512(Z0)
	VMOVUPS Z0, K1, (DX)(CX*4)
	ADDQ    $16, CX
	CMPQ    CX, dwArgs_ow(DI)
	JLT     chunk512

	// Next output row.
	MOVQ  dwArgs_ow(DI), R10
	LEAQ  (DX)(R10*4), DX
	MOVQ  dwArgs_sh(DI), R10
	ADDQ  R10, R15
	IMULQ dwArgs_w(DI), R10
	LEAQ  (SI)(R10*4), SI
	DECQ  R11
	JNE   row512
	VZEROUPPER
	RET

// ACT256 applies clamp(lo=Y14, hi=Y13) and leaky(Y12) to Y using T.
#define ACT256(Y, T) \
	VMAXPS    Y14, Y, Y; \
	VMINPS    Y13, Y, Y; \
	VMULPS    Y12, Y, T; \
	VBLENDVPS Y, T, Y, Y

// MASK256(C, M) sets M to the lanes whose input column C is inside [0, w)
// (Y9 = w, Y8 = -1), using Y7.
#define MASK256(C, M) \
	VPCMPGTD C, Y9, M; \
	VPCMPGTD Y8, C, Y7; \
	VPAND    Y7, M, M

// func dwChannelAVX2(stride int, p *dwArgs)
TEXT ·dwChannelAVX2(SB), NOSPLIT, $0-16
	MOVQ         stride+0(FP), R8
	MOVQ         p+8(FP), DI
	MOVQ         dwArgs_dst(DI), DX
	MOVQ         dwArgs_src(DI), SI
	MOVQ         dwArgs_h(DI), R12
	MOVQ         dwArgs_oh(DI), R11
	XORQ         R15, R15
	VBROADCASTSS dwArgs_bias(DI), Y15
	VBROADCASTSS dwArgs_lo(DI), Y14
	VBROADCASTSS dwArgs_hi(DI), Y13
	VBROADCASTSS dwArgs_leak(DI), Y12
	VMOVDQU      ·dwEvenIdx(SB), Y11
	VPSRLD       $1, Y11, Y11                 // 0, 1, ..., 7
	VPBROADCASTD dwArgs_w(DI), Y9
	VPCMPEQD     Y8, Y8, Y8                   // -1
	MOVL         $8, R10
	MOVQ         R10, X3
	VPBROADCASTD X3, Y3                       // 8

row256:
	XORQ CX, CX

chunk256:
	// Y10: output lane mask; R13 = first input column ox0*stride.
	MOVQ    dwArgs_ow(DI), R10
	SUBQ    CX, R10
	MOVQ    $8, R13
	CMPQ    R10, $8
	CMOVQLT R10, R13
	SHLQ    $2, R13
	LEAQ    ·avx2TailMask+64(SB), AX
	SUBQ    R13, AX
	VMOVDQU (AX), Y10
	MOVQ    CX, R13
	CMPQ    R8, $2
	JNE     addr256
	SHLQ    $1, R13

addr256:
	LEAQ    (SI)(R13*4), R14
	VMOVAPS Y15, Y0
	MOVQ    dwArgs_taps(DI), BX
	MOVQ    dwArgs_ntaps(DI), R9

	// Interior chunk: 8 outputs, every column loaded inside the row.
	CMPQ R10, $8
	JLT  border256
	MOVQ R13, R10
	ADDQ dwArgs_dxMin(DI), R10
	JLT  border256
	MOVQ R8, R10
	SHLQ $3, R10
	DECQ R10
	ADDQ R13, R10                             // last (raw) column loaded
	ADDQ dwArgs_dxMax(DI), R10
	CMPQ R10, dwArgs_w(DI)
	JGE  border256
	CMPQ R8, $2
	JEQ  aint2tap

aint1tap:
	ROWCHECK(aint1skip)
	MOVQ         dwTap_off(BX), R10
	VBROADCASTSS dwTap_w(BX), Y2
	VFMADD231PS  (R14)(R10*1), Y2, Y0

aint1skip:
	ADDQ $dwTap__size, BX
	DECQ R9
	JNE  aint1tap
	JMP  store256

aint2tap:
	ROWCHECK(aint2skip)
	MOVQ         dwTap_off(BX), R10
	VMOVUPS      (R14)(R10*1), Y1
	VSHUFPS      $0x88, 32(R14)(R10*1), Y1, Y1
	VPERMPD      $0xd8, Y1, Y1
	VBROADCASTSS dwTap_w(BX), Y2
	VFMADD231PS  Y1, Y2, Y0

aint2skip:
	ADDQ $dwTap__size, BX
	DECQ R9
	JNE  aint2tap
	JMP  store256

border256:
	MOVQ         R13, X4
	VPBROADCASTD X4, Y4
	VPADDD       Y11, Y4, Y4                  // columns of (raw) lanes 0..7
	CMPQ         R8, $2
	JEQ          abord2tap

abord1tap:
	ROWCHECK(abord1skip)
	VPBROADCASTD dwTap_dx(BX), Y5
	VPADDD       Y5, Y4, Y5
	MASK256(Y5, Y6)
	MOVQ         dwTap_off(BX), R10
	VMASKMOVPS   (R14)(R10*1), Y6, Y1
	VBROADCASTSS dwTap_w(BX), Y2
	VFMADD231PS  Y1, Y2, Y0

abord1skip:
	ADDQ $dwTap__size, BX
	DECQ R9
	JNE  abord1tap
	JMP  store256

abord2tap:
	ROWCHECK(abord2skip)
	VPBROADCASTD dwTap_dx(BX), Y5
	VPADDD       Y5, Y4, Y6
	MASK256(Y6, Y1)
	VPADDD       Y3, Y6, Y6                   // raw lanes 8..15
	MASK256(Y6, Y2)
	MOVQ         dwTap_off(BX), R10
	VMASKMOVPS   (R14)(R10*1), Y1, Y1
	VMASKMOVPS   32(R14)(R10*1), Y2, Y2
	VSHUFPS      $0x88, Y2, Y1, Y1
	VPERMPD      $0xd8, Y1, Y1
	VBROADCASTSS dwTap_w(BX), Y2
	VFMADD231PS  Y1, Y2, Y0

abord2skip:
	ADDQ $dwTap__size, BX
	DECQ R9
	JNE  abord2tap

store256:
	ACT256(Y0, Y1)
	VMASKMOVPS Y0, Y10, (DX)(CX*4)
	ADDQ       $8, CX
	CMPQ       CX, dwArgs_ow(DI)
	JLT        chunk256

	// Next output row.
	MOVQ  dwArgs_ow(DI), R10
	LEAQ  (DX)(R10*4), DX
	MOVQ  dwArgs_sh(DI), R10
	ADDQ  R10, R15
	IMULQ dwArgs_w(DI), R10
	LEAQ  (SI)(R10*4), SI
	DECQ  R11
	JNE   row256
	VZEROUPPER
	RET
