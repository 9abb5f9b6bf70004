package main

import (
	"bytes"
	"fmt"

	"github.com/mdlc/mdlc/runtime/kernels/_asm/neon"
)

// The NEON kernels follow the AVX2 ones with 4 lanes per Q register: passes
// of 4 vectors (16 floats), then of 1, then the last 1-3 floats one at a
// time (FMOVS loads one float into lane 0).
//
// FMAX, like Go's max, returns NaN if either operand is NaN and +0 for
// max(-0, +0), so the NEON max pool gives Go's max bit for bit.

// divReg holds the broadcast divisor of avgCellsNEON.
const divReg = 31

// writeNEON writes the NEON kernels and their declarations into f.
func writeNEON(f *neon.File) error {
	for _, avg := range []bool{false, true} {
		name := cellsName(avg, "NEON")
		cellsNEON(&f.Asm, name, avg)
		f.Declare(name, cellsSig(avg), cellsDoc(avg, name))
	}
	addRowsNEON(&f.Asm)
	f.Declare("addRowsNEON", "func(acc, x []float32, rows, c int)", addRowsDoc("addRowsNEON"))
	maxGrad2x2NEON(&f.Asm)
	f.Declare("maxGrad2x2NEON", maxGradSig, maxGradDoc("maxGrad2x2NEON"))
	return nil
}

type emitter struct{ w *bytes.Buffer }

func (e emitter) p(format string, args ...any) { fmt.Fprintf(e.w, "\t"+format+"\n", args...) }
func (e emitter) label(l string)               { fmt.Fprintf(e.w, "\n%s:\n", l) }

// cellsNEON: R0 out, R1 the cell in x, R2 taps, R3 the end of taps, R4
// cells left, R5 c, R6 stride in bytes, R7 channels left, R8 the channels in
// x, R9 the next tap, R10 its address. Accumulators V0-V3, taps V4-V7.
func cellsNEON(w *bytes.Buffer, name string, avg bool) {
	e := emitter{w}
	size := 96
	if avg {
		size = 100
	}
	fmt.Fprintf(w, "\n// func %s%s\n", name, cellsSig(avg)[len("func"):])
	fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-%d\n", name, size)
	e.p("MOVD out_base+0(FP), R0")
	e.p("MOVD x_base+24(FP), R1")
	e.p("MOVD taps_base+48(FP), R2")
	e.p("MOVD taps_len+56(FP), R3")
	e.p("ADD R3<<3, R2, R3")
	e.p("MOVD cells+72(FP), R4")
	e.p("MOVD c+80(FP), R5")
	e.p("MOVD stride+88(FP), R6")
	e.p("LSL $2, R6")
	if avg {
		e.p("FMOVS div+96(FP), F%d", divReg)
		e.p("VDUP V%d.S[0], V%d.S4", divReg, divReg)
	}
	combine, combineS := neon.FMAX, "FMAXS"
	if avg {
		combine, combineS = neon.FADD, "FADDS"
	}
	// pass pools vecs vectors (0: one float) at R8 into out.
	pass := func(label string, vecs int) {
		load := func(first int) {
			if vecs == 0 {
				e.p("FMOVS (R10), F%d", first)
			} else {
				e.p("VLD1 (R10), %s", neon.QList(first, vecs))
			}
		}
		e.p("MOVD R2, R9")
		e.p("MOVD.P 8(R9), R10")
		e.p("ADD R8, R10, R10")
		load(0)
		e.label(label + "_tap")
		e.p("CMP R3, R9")
		e.p("BEQ %s_store", label)
		e.p("MOVD.P 8(R9), R10")
		e.p("ADD R8, R10, R10")
		load(4)
		if vecs == 0 {
			e.p("%s F4, F0, F0", combineS)
		}
		for j := range vecs {
			e.p("%s", combine(j, j, 4+j))
		}
		e.p("B %s_tap", label)
		e.label(label + "_store")
		if avg {
			if vecs == 0 {
				e.p("FDIVS F%d, F0, F0", divReg)
			}
			for j := range vecs {
				e.p("%s", neon.FDIV(j, j, divReg))
			}
		}
		if vecs == 0 {
			e.p("FMOVS.P F0, 4(R0)")
		} else {
			e.p("VST1.P %s, %d(R0)", neon.QList(0, vecs), 16*vecs)
		}
	}
	e.label("cell")
	e.p("MOVD R5, R7")
	e.p("MOVD R1, R8")
	e.label("group")
	e.p("CMP $%d, R7", 4*group)
	e.p("BLT one")
	pass("group", group)
	e.p("ADD $%d, R8", 16*group)
	e.p("SUB $%d, R7", 4*group)
	e.p("B group")
	e.label("one")
	e.p("CMP $4, R7")
	e.p("BLT tail")
	pass("one", 1)
	e.p("ADD $16, R8")
	e.p("SUB $4, R7")
	e.p("B one")
	e.label("tail")
	e.p("CBZ R7, next")
	pass("tail", 0)
	e.p("ADD $4, R8")
	e.p("SUB $1, R7")
	e.p("B tail")
	e.label("next")
	e.p("ADD R6, R1")
	e.p("SUB $1, R4")
	e.p("CBNZ R4, cell")
	e.p("RET")
}

// addRowsNEON: R0 acc, R1 x, R2 rows, R3 channels left, R4 c in bytes, R5
// the row in x, R6 rows left. Sums V0-V3, rows V4-V7.
func addRowsNEON(w *bytes.Buffer) {
	e := emitter{w}
	fmt.Fprintf(w, "\n// func addRowsNEON(acc, x []float32, rows, c int)\n")
	fmt.Fprintf(w, "TEXT ·addRowsNEON(SB), NOSPLIT, $0-64\n")
	e.p("MOVD acc_base+0(FP), R0")
	e.p("MOVD x_base+24(FP), R1")
	e.p("MOVD rows+48(FP), R2")
	e.p("MOVD c+56(FP), R3")
	e.p("LSL $2, R3, R4")
	e.p("CBZ R2, done")
	pass := func(label string, vecs int) {
		if vecs == 0 {
			e.p("FMOVS (R0), F0")
		} else {
			e.p("VLD1 (R0), %s", neon.QList(0, vecs))
		}
		e.p("MOVD R1, R5")
		e.p("MOVD R2, R6")
		e.label(label + "_row")
		if vecs == 0 {
			e.p("FMOVS (R5), F4")
			e.p("FADDS F4, F0, F0")
		} else {
			e.p("VLD1 (R5), %s", neon.QList(4, vecs))
		}
		for j := range vecs {
			e.p("%s", neon.FADD(j, j, 4+j))
		}
		e.p("ADD R4, R5")
		e.p("SUB $1, R6")
		e.p("CBNZ R6, %s_row", label)
		if vecs == 0 {
			e.p("FMOVS.P F0, 4(R0)")
		} else {
			e.p("VST1.P %s, %d(R0)", neon.QList(0, vecs), 16*vecs)
		}
	}
	e.label("group")
	e.p("CMP $%d, R3", 4*group)
	e.p("BLT one")
	pass("group", group)
	e.p("ADD $%d, R1", 16*group)
	e.p("SUB $%d, R3", 4*group)
	e.p("B group")
	e.label("one")
	e.p("CMP $4, R3")
	e.p("BLT tail")
	pass("one", 1)
	e.p("ADD $16, R1")
	e.p("SUB $4, R3")
	e.p("B one")
	e.label("tail")
	e.p("CBZ R3, done")
	pass("tail", 0)
	e.p("ADD $4, R1")
	e.p("SUB $1, R3")
	e.p("B tail")
	e.label("done")
	e.p("RET")
}

// maxGrad2x2NEON: R0 x, R1 dy, R2 dx, R3 windows left, R4 c, R5 row in
// bytes, R6 c in bytes, R7 channels left, R8 the channels in x, R9 in dx,
// R10-R12 the other taps in x, R13-R15 in dx. V0 best, V1 dy, V2-V4 the
// later-and-better masks of taps 1-3, V5 a tap, V6-V8 temporaries, V9 the
// taps after k that won, V31 zero. The last 1-3 channels go one at a time
// through the same vector code: FMOVS loads a float into lane 0 and zeroes
// the others, whose results are never stored.
func maxGrad2x2NEON(w *bytes.Buffer) {
	e := emitter{w}
	fmt.Fprintf(w, "\n// func maxGrad2x2NEON%s\n", maxGradSig[len("func"):])
	fmt.Fprintf(w, "TEXT ·maxGrad2x2NEON(SB), NOSPLIT, $0-96\n")
	e.p("MOVD x_base+0(FP), R0")
	e.p("MOVD dy_base+24(FP), R1")
	e.p("MOVD dx_base+48(FP), R2")
	e.p("MOVD windows+72(FP), R3")
	e.p("MOVD c+80(FP), R4")
	e.p("MOVD row+88(FP), R5")
	e.p("LSL $2, R5")
	e.p("LSL $2, R4, R6")
	e.p("VEOR V31.B16, V31.B16, V31.B16")
	one := func(scalar bool) {
		load := func(reg string, v int) {
			if scalar {
				e.p("FMOVS (%s), F%d", reg, v)
			} else {
				e.p("VLD1 (%s), [V%d.S4]", reg, v)
			}
		}
		store := func(v int, reg string) {
			if scalar {
				e.p("FMOVS F%d, (%s)", v, reg)
			} else {
				e.p("VST1 [V%d.S4], (%s)", v, reg)
			}
		}
		e.p("ADD R6, R8, R10")
		e.p("ADD R5, R8, R11")
		e.p("ADD R6, R11, R12")
		e.p("ADD R6, R9, R13")
		e.p("ADD R5, R9, R14")
		e.p("ADD R6, R14, R15")
		load("R8", 0)
		load("R1", 1)
		e.p("%s", neon.FADD(1, 1, 31)) // -0 + 0 is +0
		for k, reg := range []string{"R10", "R11", "R12"} {
			gt := 2 + k
			load(reg, 5)
			e.p("%s", neon.FCMGT(gt, 5, 0)) // v > best
			e.p("%s", neon.FCMEQ(6, 5, 5))  // v is not NaN
			e.p("%s", neon.FCMEQ(7, 0, 0))  // best is not NaN
			e.p("%s", neon.BIC(7, 7, 6))    // best not NaN, v NaN
			e.p("VORR V7.B16, V%d.B16, V%d.B16", gt, gt)
			e.p("VAND V%d.B16, V5.B16, V8.B16", gt)
			e.p("%s", neon.BIC(0, 0, gt))
			e.p("VORR V8.B16, V0.B16, V0.B16")
		}
		e.p("VAND V4.B16, V1.B16, V8.B16")
		store(8, "R15")
		e.p("VORR V4.B16, V4.B16, V9.B16")
		for _, t := range []struct {
			gt  int
			reg string
		}{{3, "R14"}, {2, "R13"}} {
			e.p("%s", neon.BIC(8, t.gt, 9))
			e.p("VAND V8.B16, V1.B16, V8.B16")
			store(8, t.reg)
			e.p("VORR V%d.B16, V9.B16, V9.B16", t.gt)
		}
		e.p("%s", neon.BIC(8, 1, 9))
		store(8, "R9")
	}
	e.label("window")
	e.p("CBZ R3, done")
	e.p("MOVD R4, R7")
	e.p("MOVD R0, R8")
	e.p("MOVD R2, R9")
	e.label("vec")
	e.p("CMP $4, R7")
	e.p("BLT tail")
	one(false)
	e.p("ADD $16, R8")
	e.p("ADD $16, R9")
	e.p("ADD $16, R1")
	e.p("SUB $4, R7")
	e.p("B vec")
	e.label("tail")
	e.p("CBZ R7, next")
	one(true)
	e.p("ADD $4, R8")
	e.p("ADD $4, R9")
	e.p("ADD $4, R1")
	e.p("SUB $1, R7")
	e.p("B tail")
	e.label("next")
	e.p("ADD R6<<1, R0, R0")
	e.p("ADD R6<<1, R2, R2")
	e.p("SUB $1, R3")
	e.p("B window")
	e.label("done")
	e.p("RET")
}
