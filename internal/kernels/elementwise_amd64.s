//go:build !purego

#include "textflag.h"

// func binaryAVX512(op int, dst, a, b *float32, n int)
TEXT ·binaryAVX512(SB), NOSPLIT, $0-40
	MOVQ op+0(FP), R8
	MOVQ dst+8(FP), DI
	MOVQ a+16(FP), SI
	MOVQ b+24(FP), DX
	MOVQ n+32(FP), CX
	XORQ AX, AX
	TESTQ R8, R8
	JNE  mul

#define BIN512(OP, L64, L16, LTAIL) \
	CMPQ CX, $64; \
	JLT  L16; \
L64: \
	VMOVUPS (SI)(AX*4), Z0; \
	VMOVUPS 64(SI)(AX*4), Z1; \
	VMOVUPS 128(SI)(AX*4), Z2; \
	VMOVUPS 192(SI)(AX*4), Z3; \
	OP      (DX)(AX*4), Z0, Z0; \
	OP      64(DX)(AX*4), Z1, Z1; \
	OP      128(DX)(AX*4), Z2, Z2; \
	OP      192(DX)(AX*4), Z3, Z3; \
	VMOVUPS Z0, (DI)(AX*4); \
	VMOVUPS Z1, 64(DI)(AX*4); \
	VMOVUPS Z2, 128(DI)(AX*4); \
	VMOVUPS Z3, 192(DI)(AX*4); \
	ADDQ    $64, AX; \
	SUBQ    $64, CX; \
	CMPQ    CX, $64; \
	JGE     L64; \
L16: \
	CMPQ    CX, $16; \
	JLT     LTAIL; \
	VMOVUPS (SI)(AX*4), Z0; \
	OP      (DX)(AX*4), Z0, Z0; \
	VMOVUPS Z0, (DI)(AX*4); \
	ADDQ    $16, AX; \
	SUBQ    $16, CX; \
	JMP     L16; \
LTAIL: \
	TESTQ   CX, CX; \
	JEQ     done; \
	MOVL    $-1, R9; \
	BZHIL   CX, R9, R9; \
	KMOVW   R9, K1; \
	VMOVUPS.Z (SI)(AX*4), K1, Z0; \
	VMOVUPS.Z (DX)(AX*4), K1, Z1; \
	OP      Z1, Z0, Z0; \
	VMOVUPS Z0, K1, (DI)(AX*4); \
	JMP     done

	BIN512(VADDPS, add64, add16, addtail)

mul:
	BIN512(VMULPS, mul64, mul16, multail)

done:
	VZEROUPPER
	RET

// func addScalarAVX512(dst, a *float32, s float32, n int)
TEXT ·addScalarAVX512(SB), NOSPLIT, $0-32
	MOVQ         dst+0(FP), DI
	MOVQ         a+8(FP), SI
	VBROADCASTSS s+16(FP), Z4
	MOVQ         n+24(FP), CX
	XORQ         AX, AX
	CMPQ         CX, $64
	JLT          as16

as64:
	VADDPS  (SI)(AX*4), Z4, Z0
	VADDPS  64(SI)(AX*4), Z4, Z1
	VADDPS  128(SI)(AX*4), Z4, Z2
	VADDPS  192(SI)(AX*4), Z4, Z3
	VMOVUPS Z0, (DI)(AX*4)
	VMOVUPS Z1, 64(DI)(AX*4)
	VMOVUPS Z2, 128(DI)(AX*4)
	VMOVUPS Z3, 192(DI)(AX*4)
	ADDQ    $64, AX
	SUBQ    $64, CX
	CMPQ    CX, $64
	JGE     as64

as16:
	CMPQ    CX, $16
	JLT     astail
	VADDPS  (SI)(AX*4), Z4, Z0
	VMOVUPS Z0, (DI)(AX*4)
	ADDQ    $16, AX
	SUBQ    $16, CX
	JMP     as16

astail:
	TESTQ     CX, CX
	JEQ       asdone
	MOVL      $-1, R9
	BZHIL     CX, R9, R9
	KMOVW     R9, K1
	VMOVUPS.Z (SI)(AX*4), K1, Z0
	VADDPS    Z4, Z0, Z0
	VMOVUPS   Z0, K1, (DI)(AX*4)

asdone:
	VZEROUPPER
	RET

// func clampAVX512(dst *float32, n int, lo, hi float32)
TEXT ·clampAVX512(SB), NOSPLIT, $0-24
	MOVQ         dst+0(FP), DI
	MOVQ         n+8(FP), CX
	VBROADCASTSS lo+16(FP), Z4
	VBROADCASTSS hi+20(FP), Z5
	XORQ         AX, AX

cl16:
	CMPQ    CX, $16
	JLT     cltail
	VMAXPS  (DI)(AX*4), Z4, Z0
	VMINPS  Z5, Z0, Z0
	VMOVUPS Z0, (DI)(AX*4)
	ADDQ    $16, AX
	SUBQ    $16, CX
	JMP     cl16

cltail:
	TESTQ     CX, CX
	JEQ       cldone
	MOVL      $-1, R9
	BZHIL     CX, R9, R9
	KMOVW     R9, K1
	VMOVUPS.Z (DI)(AX*4), K1, Z0
	VMAXPS    Z4, Z0, Z0
	VMINPS    Z5, Z0, Z0
	VMOVUPS   Z0, K1, (DI)(AX*4)

cldone:
	VZEROUPPER
	RET

// func leakyAVX512(dst *float32, n int, alpha float32)
TEXT ·leakyAVX512(SB), NOSPLIT, $0-20
	MOVQ         dst+0(FP), DI
	MOVQ         n+8(FP), CX
	VBROADCASTSS alpha+16(FP), Z4
	VPXORD       Z5, Z5, Z5
	XORQ         AX, AX
	MOVL         $0xffff, R9
	KMOVW        R9, K1

lk16:
	CMPQ CX, $16
	JLT  lktail

lkbody:
	VMOVUPS.Z (DI)(AX*4), K1, Z0
	VCMPPS    $1, Z5, Z0, K2
	VMULPS    Z4, Z0, K2, Z0
	VMOVUPS   Z0, K1, (DI)(AX*4)
	ADDQ      $16, AX
	SUBQ      $16, CX
	JMP       lk16

lktail:
	TESTQ CX, CX
	JEQ   lkdone
	MOVL  $-1, R9
	BZHIL CX, R9, R9
	KMOVW R9, K1
	MOVQ  $16, CX
	JMP   lkbody

lkdone:
	VZEROUPPER
	RET

// func binaryAVX2(op int, dst, a, b *float32, n int)
TEXT ·binaryAVX2(SB), NOSPLIT, $0-40
	MOVQ op+0(FP), R8
	MOVQ dst+8(FP), DI
	MOVQ a+16(FP), SI
	MOVQ b+24(FP), DX
	MOVQ n+32(FP), CX
	XORQ AX, AX
	TESTQ R8, R8
	JNE  mul2

#define BIN256(OP, L32, L8) \
	CMPQ CX, $32; \
	JLT  L8; \
L32: \
	VMOVUPS (SI)(AX*4), Y0; \
	VMOVUPS 32(SI)(AX*4), Y1; \
	VMOVUPS 64(SI)(AX*4), Y2; \
	VMOVUPS 96(SI)(AX*4), Y3; \
	OP      (DX)(AX*4), Y0, Y0; \
	OP      32(DX)(AX*4), Y1, Y1; \
	OP      64(DX)(AX*4), Y2, Y2; \
	OP      96(DX)(AX*4), Y3, Y3; \
	VMOVUPS Y0, (DI)(AX*4); \
	VMOVUPS Y1, 32(DI)(AX*4); \
	VMOVUPS Y2, 64(DI)(AX*4); \
	VMOVUPS Y3, 96(DI)(AX*4); \
	ADDQ    $32, AX; \
	SUBQ    $32, CX; \
	CMPQ    CX, $32; \
	JGE     L32; \
L8: \
	CMPQ    CX, $8; \
	JLT     done2; \
	VMOVUPS (SI)(AX*4), Y0; \
	OP      (DX)(AX*4), Y0, Y0; \
	VMOVUPS Y0, (DI)(AX*4); \
	ADDQ    $8, AX; \
	SUBQ    $8, CX; \
	JMP     L8

	BIN256(VADDPS, add32, add8)

mul2:
	BIN256(VMULPS, mul32, mul8)

done2:
	VZEROUPPER
	RET

// func addScalarAVX2(dst, a *float32, s float32, n int)
TEXT ·addScalarAVX2(SB), NOSPLIT, $0-32
	MOVQ         dst+0(FP), DI
	MOVQ         a+8(FP), SI
	VBROADCASTSS s+16(FP), Y4
	MOVQ         n+24(FP), CX
	XORQ         AX, AX
	CMPQ         CX, $32
	JLT          as8

as32:
	VADDPS  (SI)(AX*4), Y4, Y0
	VADDPS  32(SI)(AX*4), Y4, Y1
	VADDPS  64(SI)(AX*4), Y4, Y2
	VADDPS  96(SI)(AX*4), Y4, Y3
	VMOVUPS Y0, (DI)(AX*4)
	VMOVUPS Y1, 32(DI)(AX*4)
	VMOVUPS Y2, 64(DI)(AX*4)
	VMOVUPS Y3, 96(DI)(AX*4)
	ADDQ    $32, AX
	SUBQ    $32, CX
	CMPQ    CX, $32
	JGE     as32

as8:
	CMPQ    CX, $8
	JLT     as2done
	VADDPS  (SI)(AX*4), Y4, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ    $8, AX
	SUBQ    $8, CX
	JMP     as8

as2done:
	VZEROUPPER
	RET

// func clampAVX2(dst *float32, n int, lo, hi float32)
TEXT ·clampAVX2(SB), NOSPLIT, $0-24
	MOVQ         dst+0(FP), DI
	MOVQ         n+8(FP), CX
	VBROADCASTSS lo+16(FP), Y4
	VBROADCASTSS hi+20(FP), Y5
	XORQ         AX, AX

cl8:
	CMPQ    CX, $8
	JLT     cl2done
	VMAXPS  (DI)(AX*4), Y4, Y0
	VMINPS  Y5, Y0, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ    $8, AX
	SUBQ    $8, CX
	JMP     cl8

cl2done:
	VZEROUPPER
	RET

// func leakyAVX2(dst *float32, n int, alpha float32)
TEXT ·leakyAVX2(SB), NOSPLIT, $0-20
	MOVQ         dst+0(FP), DI
	MOVQ         n+8(FP), CX
	VBROADCASTSS alpha+16(FP), Y4
	XORQ         AX, AX

lk8:
	CMPQ      CX, $8
	JLT       lk2done
	VMOVUPS   (DI)(AX*4), Y0
	VMULPS    Y4, Y0, Y1
	VBLENDVPS Y0, Y1, Y0, Y0
	VMOVUPS   Y0, (DI)(AX*4)
	ADDQ      $8, AX
	SUBQ      $8, CX
	JMP       lk8

lk2done:
	VZEROUPPER
	RET

// func fmaPeakAVX512(n int)
TEXT ·fmaPeakAVX512(SB), NOSPLIT, $0-8
	MOVQ   n+0(FP), CX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13

pk512:
	VFMADD231PS Z12, Z13, Z0
	VFMADD231PS Z12, Z13, Z1
	VFMADD231PS Z12, Z13, Z2
	VFMADD231PS Z12, Z13, Z3
	VFMADD231PS Z12, Z13, Z4
	VFMADD231PS Z12, Z13, Z5
	VFMADD231PS Z12, Z13, Z6
	VFMADD231PS Z12, Z13, Z7
	VFMADD231PS Z12, Z13, Z8
	VFMADD231PS Z12, Z13, Z9
	VFMADD231PS Z12, Z13, Z10
	VFMADD231PS Z12, Z13, Z11
	DECQ        CX
	JNE         pk512
	VZEROUPPER
	RET

// func fmaPeakAVX2(n int)
TEXT ·fmaPeakAVX2(SB), NOSPLIT, $0-8
	MOVQ   n+0(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13

pk256:
	VFMADD231PS Y12, Y13, Y0
	VFMADD231PS Y12, Y13, Y1
	VFMADD231PS Y12, Y13, Y2
	VFMADD231PS Y12, Y13, Y3
	VFMADD231PS Y12, Y13, Y4
	VFMADD231PS Y12, Y13, Y5
	VFMADD231PS Y12, Y13, Y6
	VFMADD231PS Y12, Y13, Y7
	VFMADD231PS Y12, Y13, Y8
	VFMADD231PS Y12, Y13, Y9
	VFMADD231PS Y12, Y13, Y10
	VFMADD231PS Y12, Y13, Y11
	DECQ        CX
	JNE         pk256
	VZEROUPPER
	RET
