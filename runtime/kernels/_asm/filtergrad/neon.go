package main

import (
	"bytes"
	"fmt"

	"github.com/mdlc/mdlc/runtime/kernels/_asm/neon"
)

// The NEON kernels: the AVX2 ones' loops, 4 channels a Q register, but only
// whole vectors (c a multiple of 4, at most 4·vecs): arm64 has no masked
// load, so package backward gives the last few channels to the generic
// loop. Each tap's input value is loaded into every lane (VLD1R) from its
// offset, held in a register, added to the pixel's pointer.
//
// Registers: R0 acc, R1 ld·4, R2 the pixel's x, R3 its dy, R4 the cells
// left, R5 the rows left, R6 stride·4, R7 dystride·4, R8 and R9 the skips to
// the next row of x and dy, R10-R15 and R19-R20 the taps' offsets, R22 a
// tap's address, R23 acc's row, R24 a product. V0-V15 the accumulators (tap
// k, vector v in V<k·vecs+v>), V16-V17 dy, V18 the broadcast input.

// neonOffs are the registers of the taps' offsets.
var neonOffs = []int{10, 11, 12, 13, 14, 15, 19, 20}

func neonKernel(w *bytes.Buffer, name string, tb, vecs int) {
	p := func(format string, args ...any) { fmt.Fprintf(w, "\t"+format+"\n", args...) }
	fmt.Fprintf(w, "\n// func %s%s\n", name, sig[len("func"):])
	fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-160\n", name)
	p("MOVD acc_base+0(FP), R0")
	p("MOVD ld+24(FP), R1")
	p("LSL $2, R1")
	p("MOVD R0, R23")
	for k := range tb {
		p("VLD1 (R23), %s", neon.QList(k*vecs, vecs))
		if k < tb-1 {
			p("ADD R1, R23")
		}
	}
	p("MOVD taps_base+80(FP), R22")
	for k := range tb {
		p("MOVD %d(R22), R%d", 8*k, neonOffs[k])
	}
	p("MOVD cells+112(FP), R4")
	p("MOVD stride+128(FP), R6")
	p("LSL $2, R6")
	p("MOVD dystride+144(FP), R7")
	p("LSL $2, R7")
	p("MOVD xrows+136(FP), R8")
	p("LSL $2, R8")
	p("MUL R4, R6, R24")
	p("SUB R24, R8")
	p("MOVD dyrows+152(FP), R9")
	p("LSL $2, R9")
	p("MUL R4, R7, R24")
	p("SUB R24, R9")
	p("MOVD x_base+32(FP), R2")
	p("MOVD dy_base+56(FP), R3")
	p("MOVD rows+120(FP), R5")
	fmt.Fprintf(w, "\n%s_row:\n", name)
	p("MOVD cells+112(FP), R4")
	fmt.Fprintf(w, "\n%s_cell:\n", name)
	p("VLD1 (R3), %s", neon.QList(16, vecs))
	for k := range tb {
		p("ADD R%d, R2, R22", neonOffs[k])
		p("VLD1R (R22), [V18.S4]")
		for v := range vecs {
			p("%s", neon.FMLA(k*vecs+v, 16+v, 18))
		}
	}
	p("ADD R6, R2")
	p("ADD R7, R3")
	p("SUBS $1, R4")
	p("BNE %s_cell", name)
	p("ADD R8, R2")
	p("ADD R9, R3")
	p("SUBS $1, R5")
	p("BNE %s_row", name)
	p("MOVD R0, R23")
	for k := range tb {
		p("VST1 %s, (R23)", neon.QList(k*vecs, vecs))
		if k < tb-1 {
			p("ADD R1, R23")
		}
	}
	p("RET")
}

// writeNEON writes the NEON kernels, 1 or 2 vectors by up to 8 taps, and
// their declarations into f.
func writeNEON(f *neon.File) error {
	for vecs := 1; vecs <= 2; vecs++ {
		for tb := 1; tb <= maxTaps; tb++ {
			name := fmt.Sprintf("filterTaps%dx%dNEON", tb, vecs)
			neonKernel(&f.Asm, name, tb, vecs)
			d := doc(name, tb, vecs, 4)
			d[len(d)-2] = fmt.Sprintf("len(taps) must be %d, c a multiple of 4 from 4, cells and rows at least 1. The", tb)
			f.Declare(name, sig, d)
		}
	}
	return nil
}
