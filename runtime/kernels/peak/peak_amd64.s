//go:build !purego

#include "textflag.h"

// func fmaAVX2(acc *[96]float32, a, b float32, n int)
// Y0-Y11 hold the accumulators, Y12 and Y13 a and b broadcast.
TEXT ·fmaAVX2(SB), NOSPLIT, $0-24
	MOVQ         acc+0(FP), AX
	VBROADCASTSS a+8(FP), Y12
	VBROADCASTSS b+12(FP), Y13
	MOVQ         n+16(FP), CX
	VMOVUPS      0(AX), Y0
	VMOVUPS      32(AX), Y1
	VMOVUPS      64(AX), Y2
	VMOVUPS      96(AX), Y3
	VMOVUPS      128(AX), Y4
	VMOVUPS      160(AX), Y5
	VMOVUPS      192(AX), Y6
	VMOVUPS      224(AX), Y7
	VMOVUPS      256(AX), Y8
	VMOVUPS      288(AX), Y9
	VMOVUPS      320(AX), Y10
	VMOVUPS      352(AX), Y11
	TESTQ        CX, CX
	JLE          done

loop:
	// Yi += Y13·Y12: 12 independent chains, more than the 8 FMAs that 2 units
	// of latency 4 keep in flight.
	VFMADD231PS  Y12, Y13, Y0
	VFMADD231PS  Y12, Y13, Y1
	VFMADD231PS  Y12, Y13, Y2
	VFMADD231PS  Y12, Y13, Y3
	VFMADD231PS  Y12, Y13, Y4
	VFMADD231PS  Y12, Y13, Y5
	VFMADD231PS  Y12, Y13, Y6
	VFMADD231PS  Y12, Y13, Y7
	VFMADD231PS  Y12, Y13, Y8
	VFMADD231PS  Y12, Y13, Y9
	VFMADD231PS  Y12, Y13, Y10
	VFMADD231PS  Y12, Y13, Y11
	DECQ         CX
	JNZ          loop

done:
	VMOVUPS      Y0, 0(AX)
	VMOVUPS      Y1, 32(AX)
	VMOVUPS      Y2, 64(AX)
	VMOVUPS      Y3, 96(AX)
	VMOVUPS      Y4, 128(AX)
	VMOVUPS      Y5, 160(AX)
	VMOVUPS      Y6, 192(AX)
	VMOVUPS      Y7, 224(AX)
	VMOVUPS      Y8, 256(AX)
	VMOVUPS      Y9, 288(AX)
	VMOVUPS      Y10, 320(AX)
	VMOVUPS      Y11, 352(AX)
	VZEROUPPER
	RET
