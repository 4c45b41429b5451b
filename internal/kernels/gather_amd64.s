//go:build !purego

#include "textflag.h"
#include "go_asm.h"

// func deinterleaveAVX512(p *deinterleaveArgs)
//
// For each of rows rows of src (sstride bytes apart), writes its even
// columns to even and its odd columns to odd (rows dstride bytes apart):
// even[j] = src[2j] for j < nEven, odd[j] = src[2j+1] for j < nOdd, reading
// only the w floats of the row. A nil even or odd is not written.
//
// Registers: DI = args, SI = src row, R10 = even row, R11 = odd row,
// R8 = rows left, CX = input column, DX = output column, Z30 = even lane
// index, Z29 = odd lane index, AX BX R9 R12 R13 scratch.
TEXT ·deinterleaveAVX512(SB), NOSPLIT, $0-8
	MOVQ         p+0(FP), DI
	MOVQ         deinterleaveArgs_src(DI), SI
	MOVQ         deinterleaveArgs_even(DI), R10
	MOVQ         deinterleaveArgs_odd(DI), R11
	MOVQ         deinterleaveArgs_rows(DI), R8
	TESTQ        R8, R8
	JEQ          done
	VMOVDQU32    ·dwEvenIdx(SB), Z30
	MOVL         $1, AX
	VPBROADCASTD AX, Z29
	VPADDD       Z29, Z30, Z29
	MOVL         $-1, BX

row:
	XORQ CX, CX

chunk:
	// K1, K2: the input columns of this chunk (lanes 0..15, 16..31).
	MOVQ    deinterleaveArgs_w(DI), AX
	SUBQ    CX, AX
	MOVL    $32, R9
	CMPQ    AX, R9
	CMOVQGT R9, AX
	MOVQ    AX, R12
	SUBQ    $16, R12
	MOVL    $0, R9
	CMOVQLT R9, R12
	BZHIL   AX, BX, R13
	KMOVW   R13, K1
	BZHIL   R12, BX, R13
	KMOVW   R13, K2
	VMOVUPS.Z (SI)(CX*4), K1, Z0
	VMOVUPS.Z 64(SI)(CX*4), K2, Z1
	VMOVAPS   Z0, Z2
	VPERMT2PS Z1, Z30, Z0
	VPERMT2PS Z1, Z29, Z2
	MOVQ      CX, DX
	SHRQ      $1, DX
	TESTQ     R10, R10
	JEQ       noeven
	MOVQ      deinterleaveArgs_nEven(DI), AX
	SUBQ      DX, AX
	MOVL      $0, R9
	CMOVQLT   R9, AX
	MOVL      $32, R9
	CMPQ      AX, R9
	CMOVQGT   R9, AX
	BZHIL     AX, BX, R13
	KMOVW     R13, K3
	VMOVUPS   Z0, K3, (R10)(DX*4)

noeven:
	TESTQ   R11, R11
	JEQ     noodd
	MOVQ    deinterleaveArgs_nOdd(DI), AX
	SUBQ    DX, AX
	MOVL    $0, R9
	CMOVQLT R9, AX
	MOVL    $32, R9
	CMPQ    AX, R9
	CMOVQGT R9, AX
	BZHIL   AX, BX, R13
	KMOVW   R13, K3
	VMOVUPS Z2, K3, (R11)(DX*4)

noodd:
	ADDQ $32, CX
	CMPQ CX, deinterleaveArgs_w(DI)
	JLT  chunk
	ADDQ deinterleaveArgs_sstride(DI), SI
	TESTQ R10, R10
	JEQ  evenskip
	ADDQ deinterleaveArgs_dstride(DI), R10

evenskip:
	TESTQ R11, R11
	JEQ  oddskip
	ADDQ deinterleaveArgs_dstride(DI), R11

oddskip:
	DECQ R8
	JNE  row

done:
	VZEROUPPER
	RET

// func gatherS2AVX512(p *gatherArgs)
//
// The stride-2 Gather of inputs at most 32 columns wide, all planes in one
// call: plane (o, i), o < outer, i < inner, is read at src + o*ostride +
// i*istride and its phase planes are written dplane bytes after those of
// the previous plane. Rows are taken in pairs: the first row of a pair goes
// to dst0 (even columns, mask K3) and dst1 (odd columns, K4), the second to
// dst2 (K5) and dst3 (K6); each destination advances dadv bytes per pair.
// A trailing unpaired row goes to dst0 and dst1. Destinations of unused
// phases have empty masks.
//
// Registers: DI = args, R15 = outer plane, R9 = plane, SI = row, R14 = dst
// plane offset, R10..R13 = destination rows, R8 = pairs left, CX and DX =
// plane counters, Z30 = even lane index, Z29 = odd lane index, K1 and K2 =
// the input columns.
TEXT ·gatherS2AVX512(SB), NOSPLIT, $0-8
	MOVQ         p+0(FP), DI
	VMOVDQU32    ·dwEvenIdx(SB), Z30
	MOVL         $1, AX
	VPBROADCASTD AX, Z29
	VPADDD       Z29, Z30, Z29
	KMOVW        gatherArgs_kin0(DI), K1
	KMOVW        gatherArgs_kin1(DI), K2
	KMOVW        gatherArgs_k0(DI), K3
	KMOVW        gatherArgs_k1(DI), K4
	KMOVW        gatherArgs_k2(DI), K5
	KMOVW        gatherArgs_k3(DI), K6
	MOVQ         gatherArgs_src(DI), R15
	XORQ         R14, R14
	MOVQ         gatherArgs_outer(DI), CX

gouter:
	MOVQ R15, R9
	MOVQ gatherArgs_inner(DI), DX

ginner:
	MOVQ gatherArgs_dst0(DI), R10
	ADDQ R14, R10
	MOVQ gatherArgs_dst1(DI), R11
	ADDQ R14, R11
	MOVQ gatherArgs_dst2(DI), R12
	ADDQ R14, R12
	MOVQ gatherArgs_dst3(DI), R13
	ADDQ R14, R13
	MOVQ R9, SI
	MOVQ gatherArgs_pairs(DI), R8
	TESTQ R8, R8
	JEQ  glast

gpair:
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z 64(SI), K2, Z1
	VMOVAPS   Z0, Z2
	VPERMT2PS Z1, Z30, Z0
	VPERMT2PS Z1, Z29, Z2
	VMOVUPS   Z0, K3, (R10)
	VMOVUPS   Z2, K4, (R11)
	ADDQ      gatherArgs_w4(DI), SI
	VMOVUPS.Z (SI), K1, Z3
	VMOVUPS.Z 64(SI), K2, Z4
	VMOVAPS   Z3, Z5
	VPERMT2PS Z4, Z30, Z3
	VPERMT2PS Z4, Z29, Z5
	VMOVUPS   Z3, K5, (R12)
	VMOVUPS   Z5, K6, (R13)
	ADDQ      gatherArgs_w4(DI), SI
	MOVQ      gatherArgs_dadv(DI), AX
	ADDQ      AX, R10
	ADDQ      AX, R11
	ADDQ      AX, R12
	ADDQ      AX, R13
	DECQ      R8
	JNE       gpair

glast:
	TESTQ     $1, gatherArgs_rows(DI)
	JEQ       gplane
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z 64(SI), K2, Z1
	VMOVAPS   Z0, Z2
	VPERMT2PS Z1, Z30, Z0
	VPERMT2PS Z1, Z29, Z2
	VMOVUPS   Z0, K3, (R10)
	VMOVUPS   Z2, K4, (R11)

gplane:
	ADDQ gatherArgs_dplane(DI), R14
	ADDQ gatherArgs_istride(DI), R9
	DECQ DX
	JNE  ginner
	ADDQ gatherArgs_ostride(DI), R15
	DECQ CX
	JNE  gouter
	VZEROUPPER
	RET

// func prefetchAVX512(p unsafe.Pointer, n int)
//
// Prefetches the n bytes at p into L2, one cache line per instruction.
TEXT ·prefetchAVX512(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), CX
	ADDQ SI, CX

pfloop:
	CMPQ       SI, CX
	JCC        pfdone
	PREFETCHT1 (SI)
	ADDQ       $64, SI
	JMP        pfloop

pfdone:
	RET
