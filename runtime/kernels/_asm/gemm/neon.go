package main

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/mdlc/mdlc/runtime/kernels/_asm/neon"
)

// The NEON micro-tile: 6 rows of 12 columns is 18 accumulators (V8-V25).
// A is read as the AVX2 kernel reads it, row-major, four k steps at a time:
// one Q register per row (V0-V5) holds a[i][p..p+3], and FMLA by element
// multiplies a B row (V26-V28) by one lane of it. That is 27 of the 32
// registers; eight rows would need 35. Each group of four k steps is 6 A
// loads and 12 B loads for 72 FMAs. The store reuses V0-V2, V3 for relu6's
// bound, and takes V29-V31 for the bias of the tile's columns.
const (
	neonMR  = 6
	neonNR  = 12
	accReg  = 8  // first accumulator: V8 + 3*i + j
	bReg    = 26 // B row: V26-V28
	biasReg = 29 // the bias of the tile's columns: V29-V31
	sixReg  = 3  // relu6's bound, in an A row's register after the loop
)

// writeNEON writes the NEON kernels and their declarations into f.
func writeNEON(f *neon.File) error {
	for r := neonMR; r >= 1; r-- {
		name := fmt.Sprintf("tile%dx%d", r, neonNR)
		neonTile(&f.Asm, name, r)
		f.Declare(name, signature, reference(name, r, neonNR, false))
	}
	return nil
}

// neonTile writes an r×12 tile: the same contract as the AVX2 tiles.
// Registers: R0 kc, R1 b, R2-R7 the A rows, R8 C, R9 ldc in bytes, R10
// flags, R12 bias.
func neonTile(w *bytes.Buffer, name string, r int) {
	p := func(format string, args ...any) { fmt.Fprintf(w, "\t"+format+"\n", args...) }
	label := func(l string) { fmt.Fprintf(w, "\n%s_%s:\n", name, l) }
	acc := func(i, j int) int { return accReg + 3*i + j }
	bregs := neon.QList(bReg, 3)

	fmt.Fprintf(w, "\n// func %s%s\n", name, strings.TrimPrefix(signature, "func"))
	fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-120\n", name)
	p("MOVD kc+0(FP), R0")
	p("MOVD a_base+8(FP), R2")
	p("MOVD b_base+32(FP), R1")
	p("MOVD c_base+56(FP), R8")
	p("MOVD ldc+80(FP), R9")
	p("LSL $2, R9")
	p("LSL $2, R0, R11") // A's row stride in bytes
	for i := 1; i < r; i++ {
		p("ADD R11, R%d, R%d", 1+i, 2+i)
	}
	for i := range r {
		for j := range 3 {
			p("VEOR V%d.B16, V%d.B16, V%d.B16", acc(i, j), acc(i, j), acc(i, j))
		}
	}
	step := func(lane int) {
		p("VLD1.P 48(R1), %s", bregs)
		for i := range r {
			for j := range 3 {
				p("%s", neon.FMLAElem(acc(i, j), bReg+j, i, lane))
			}
		}
	}

	label("loop")
	p("CMP $4, R0")
	p("BLT %s_tail", name)
	for i := range r {
		p("VLD1.P 16(R%d), [V%d.S4]", 2+i, i)
	}
	for lane := range 4 {
		step(lane)
	}
	p("SUB $4, R0")
	p("B %s_loop", name)

	label("tail")
	p("CBZ R0, %s_store", name)
	for i := range r {
		p("FMOVS.P 4(R%d), F%d", 2+i, i)
	}
	step(0)
	p("SUB $1, R0")
	p("B %s_tail", name)

	label("store")
	p("MOVD flags+88(FP), R10")
	// The A rows' registers are free now: V3 holds 6 in every lane.
	p("MOVW $%#x, R11", six)
	p("VDUP R11, V%d.S4", sixReg)
	p("TBZ $1, R10, %s_rows", name)
	p("MOVD bias_base+96(FP), R12")
	p("VLD1 (R12), %s", neon.QList(biasReg, 3))
	label("rows")
	for i := range r {
		if i > 0 {
			p("ADD R9, R8")
		}
		p("TBZ $0, R10, %s_bias%d", name, i)
		p("VLD1 (R8), %s", neon.QList(0, 3))
		for j := range 3 {
			p("%s", neon.FADD(acc(i, j), acc(i, j), j))
		}
		label(fmt.Sprintf("bias%d", i))
		p("TBZ $1, R10, %s_relu%d", name, i)
		for j := range 3 {
			p("%s", neon.FADD(acc(i, j), acc(i, j), biasReg+j))
		}
		label(fmt.Sprintf("relu%d", i))
		// FCMLT is false for NaN and -0, which BIC then keeps, as the
		// reference loop does.
		p("TBZ $2, R10, %s_six%d", name, i)
		for j := range 3 {
			p("%s", neon.FCMLT0(j, acc(i, j)))
			p("%s", neon.BIC(acc(i, j), acc(i, j), j))
		}
		label(fmt.Sprintf("six%d", i))
		// FMIN keeps a NaN, and -0 against 6.
		p("TBZ $3, R10, %s_write%d", name, i)
		for j := range 3 {
			p("%s", neon.FMIN(acc(i, j), acc(i, j), sixReg))
		}
		label(fmt.Sprintf("write%d", i))
		p("VST1 %s, (R8)", neon.QList(acc(i, 0), 3))
	}
	p("RET")
}
