//go:build !purego

#include "textflag.h"
#include "go_asm.h"

// func im2colPanelAVX512(p *im2colArgs)
//
// Writes the K = c*kh*kw rows of one packed panel. For packed row
// (ci, ki, kj), lane L reads input (oy[L] + ki*dh, ox[L] + kj*dw) of channel
// ci, or zero outside the input or past the last column (lanes). The lanes
// form segments that lie in one output row: with stride 1 a segment is one
// masked vector load, with stride 2 two masked loads and a permute; other
// strides use a gather.
//
// Registers: DI = args, DX = dst, SI = channel plane, R8 = channels left,
// R9 = ki*dh, R10 = kj*dw, R11 = ki*dh*w, R13 = kh left, R14 = kw left,
// R12 = segBase[0] and BX = segBase[1] (modes 0 and 1; else scratch),
// R15 = mode, AX and CX scratch. Z31 = oy, Z30 = ox, Z29 = h, Z28 = w, Z27 = lane rows,
// Z26 = lane rows*w, Z25 = even lane index, Z24 = 0..15, Z23 = 16..31, Z22 = dw, Z0 = lane columns,
// K1 = lanes, K2 = lanes with a valid row, K3 = valid lanes,
// K5 and K6 = segment masks (modes 0 and 1).
TEXT ·im2colPanelAVX512(SB), NOSPLIT, $0-8
	MOVQ         p+0(FP), DI
	MOVQ         im2colArgs_dst(DI), DX
	MOVQ         im2colArgs_src(DI), SI
	MOVQ         im2colArgs_c(DI), R8
	MOVQ         im2colArgs_mode(DI), R15
	VMOVDQU32    im2colArgs_oy(DI), Z31
	VMOVDQU32    im2colArgs_ox(DI), Z30
	VPBROADCASTD im2colArgs_h(DI), Z29
	VPBROADCASTD im2colArgs_w(DI), Z28
	KMOVW        im2colArgs_lanes(DI), K1
	VMOVDQU32    ·dwEvenIdx(SB), Z25
	VPSRLD       $1, Z25, Z24
	MOVL         $16, AX
	VPBROADCASTD AX, Z23
	VPADDD       Z24, Z23, Z23
	MOVQ         im2colArgs_segBase+0(DI), R12
	MOVQ         im2colArgs_segBase+8(DI), BX
	KMOVW        im2colArgs_segMask+0(DI), K5
	KMOVW        im2colArgs_segMask+8(DI), K6
	VPBROADCASTD im2colArgs_dw(DI), Z22

channel:
	XORQ R9, R9
	XORQ R11, R11
	MOVQ im2colArgs_kh(DI), R13

krow:
	VPBROADCASTD R9, Z27
	VPADDD       Z31, Z27, Z27
	VPCMPUD      $1, Z29, Z27, K1, K2
	VPMULLD      Z28, Z27, Z26
	XORQ         R10, R10
	MOVQ         im2colArgs_kw(DI), R14
	VMOVDQA32    Z30, Z0                      // input columns at kj = 0

kcol:
	VPCMPUD      $1, Z28, Z0, K2, K3          // valid lanes
	LEAQ         (R11)(R10*1), AX             // ki*dh*w + kj*dw
	LEAQ         (SI)(AX*4), AX               // its address
	CMPQ         R15, $1
	JLT          mode0
	JEQ          mode1
	CMPQ         R15, $3
	JLT          mode2
	JEQ          mode3

	// Mode 4, any stride: gather.
	VPXORD     Z1, Z1, Z1
	VPADDD     Z26, Z0, Z2
	VGATHERDPS (SI)(Z2*4), K3, Z1
	JMP        store

mode0:
	// Stride 1, one segment.
	KANDW     K3, K5, K4
	VMOVUPS.Z (AX)(R12*4), K4, Z1
	JMP       store

mode1:
	// Stride 1, two segments.
	KANDW     K3, K5, K4
	VMOVUPS.Z (AX)(R12*4), K4, Z1
	KANDW     K3, K6, K4
	VMOVUPS   (AX)(BX*4), K4, Z1
	JMP       store

mode2:
	// Stride 1, any number of segments.
	VPXORD Z1, Z1, Z1
	XORQ   CX, CX

seg1:
	KMOVW   im2colArgs_segMask(DI)(CX*8), K4
	KANDW   K3, K4, K4
	MOVQ    im2colArgs_segBase(DI)(CX*8), R12
	VMOVUPS (AX)(R12*4), K4, Z1
	INCQ    CX
	CMPQ    CX, im2colArgs_nseg(DI)
	JLT     seg1
	JMP     store

mode3:
	// Stride 2: lane L of a segment reads raw lane 2L of a 32-column window.
	VPXORD Z1, Z1, Z1
	XORQ   CX, CX

seg2:
	MOVQ         im2colArgs_segRow(DI)(CX*8), R12
	ADDQ         R9, R12
	CMPQ         R12, im2colArgs_h(DI)
	JCC          seg2skip                     // row outside the input
	MOVQ         im2colArgs_segCol(DI)(CX*8), R12
	ADDQ         R10, R12
	VPBROADCASTD R12, Z2
	VPADDD       Z24, Z2, Z3
	VPADDD       Z23, Z2, Z4
	VPCMPUD      $1, Z28, Z3, K4
	VPCMPUD      $1, Z28, Z4, K7
	MOVQ         im2colArgs_segBase(DI)(CX*8), R12
	VMOVUPS.Z    (AX)(R12*4), K4, Z3
	VMOVUPS.Z    64(AX)(R12*4), K7, Z4
	KMOVW        im2colArgs_segMask(DI)(CX*8), K4
	VPERMT2PS.Z  Z4, Z25, K4, Z3
	VPORD        Z3, Z1, Z1

seg2skip:
	INCQ CX
	CMPQ CX, im2colArgs_nseg(DI)
	JLT  seg2

store:
	VMOVUPS Z1, (DX)
	ADDQ    $64, DX
	VPADDD  Z22, Z0, Z0
	ADDQ    im2colArgs_dw(DI), R10
	DECQ    R14
	JNE     kcol
	MOVQ    im2colArgs_dh(DI), AX
	ADDQ    AX, R9
	IMULQ   im2colArgs_w(DI), AX
	ADDQ    AX, R11
	DECQ    R13
	JNE     krow
	ADDQ    im2colArgs_plane(DI), SI
	DECQ    R8
	JNE     channel
	VZEROUPPER
	RET
