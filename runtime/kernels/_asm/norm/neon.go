package main

import (
	"bytes"
	"fmt"

	"github.com/mdlc/mdlc/runtime/kernels/_asm/neon"
)

// The NEON kernels follow the AVX2 ones with 4 lanes per Q register: steps
// of 4 vectors (16 floats), then of 1, then the last 1-3 floats one at a
// time. A scalar load or operation zeroes lanes 1-3 of its register, so the
// tail adds into the vector sums with the vector instructions, lane 0 only.
//
// Registers: R0 the row of x, R1 gamma, R2 beta, R3 the row of out, R4 rows
// left, R5 c; R6, R8, R9, R10 walk x, gamma, beta and out through a pass, R7
// counts the floats it has left. V0-V7 are the sums; V16-V19 the row, V24-V27
// gamma, V28-V31 beta; V20 the shift (row[0], then m), V21 lo, V22 inv; F12
// 1.0, F13 c, F14 eps, as float64 (Go's assembly saves no vector register
// for its caller).

// writeNEON writes the NEON kernels and their declarations into f.
func writeNEON(f *neon.File) error {
	layerNEON(&f.Asm)
	f.Declare("layerNormNEON", layerSig, layerDoc("layerNormNEON", 4*group))
	rmsNEON(&f.Asm)
	f.Declare("rmsNormNEON", rmsSig, rmsDoc("rmsNormNEON", 4*group))
	return nil
}

type emitter struct{ w *bytes.Buffer }

func (e emitter) p(format string, args ...any) { fmt.Fprintf(e.w, "\t"+format+"\n", args...) }
func (e emitter) label(l string)               { fmt.Fprintf(e.w, "\n%s:\n", l) }

// pass emits a pass over the c floats of a row from R6 (and the other
// pointers body walks): body(group) while at least 16 floats are left,
// body(1) while 4 are, then body(0), one float, for each of the last 1-3.
// body advances the pointers.
func (e emitter) pass(label string, body func(vecs int)) {
	e.p("MOVD R0, R6")
	e.p("MOVD R5, R7")
	step := func(l string, vecs int, next string) {
		floats := max(4*vecs, 1)
		e.label(label + "_" + l)
		if vecs == 0 {
			e.p("CBZ R7, %s", next)
		} else {
			e.p("CMP $%d, R7", floats)
			e.p("BLT %s", next)
		}
		body(vecs)
		e.p("SUB $%d, R7", floats)
		e.p("B %s_%s", label, l)
	}
	step("group", group, label+"_one")
	step("one", 1, label+"_tail")
	step("tail", 0, label+"_done")
	e.label(label + "_done")
}

// load loads vecs vectors (0: one float) from the address in r into the
// registers from V<first>, advancing r.
func (e emitter) load(r string, first, vecs int) {
	if vecs == 0 {
		e.p("FMOVS.P 4(%s), F%d", r, first)
		return
	}
	e.p("VLD1.P %d(%s), %s", 16*vecs, r, neon.QList(first, vecs))
}

// store stores vecs vectors (0: one float) from V<first> to the address in
// r, advancing r.
func (e emitter) store(r string, first, vecs int) {
	if vecs == 0 {
		e.p("FMOVS.P F%d, 4(%s)", first, r)
		return
	}
	e.p("VST1.P %s, %d(%s)", neon.QList(first, vecs), 16*vecs, r)
}

// zero clears V<first> and the n-1 registers after it.
func (e emitter) zero(first, n int) {
	for i := first; i < first+n; i++ {
		e.p("VEOR V%d.B16, V%d.B16, V%d.B16", i, i, i)
	}
}

// hsum adds the lanes of V<first>..V<first+3> into S<first>.
func (e emitter) hsum(first int) {
	e.p("%s", neon.FADD(first, first, first+1))
	e.p("%s", neon.FADD(first+2, first+2, first+3))
	e.p("%s", neon.FADD(first, first, first+2))
	e.p("%s", neon.FADDP(first, first, first))
	e.p("%s", neon.FADDPScalar(first, first))
}

// invSqrt sets V22 to float32(1/sqrt(D<r>+eps)) in every lane.
func (e emitter) invSqrt(r int) {
	e.p("FADDD F14, F%d, F%d", r, r)
	e.p("FSQRTD F%d, F%d", r, r)
	e.p("FDIVD F%d, F12, F%d", r, r)
	e.p("FCVTDS F%d, F22", r)
	e.p("VDUP V22.S[0], V22.S4")
}

// prologue loads the arguments common to both kernels, given the frame
// offsets of rows and eps.
func (e emitter) prologue(name, sig string, size, rows, eps int) {
	fmt.Fprintf(e.w, "\n// func %s%s\n", name, sig[len("func"):])
	fmt.Fprintf(e.w, "TEXT ·%s(SB), NOSPLIT, $0-%d\n", name, size)
	e.p("MOVD x_base+0(FP), R0")
	e.p("MOVD gamma_base+24(FP), R1")
	e.p("MOVD rows+%d(FP), R4", rows)
	e.p("MOVD c+%d(FP), R5", rows+8)
	e.p("FMOVS eps+%d(FP), F14", eps)
	e.p("FCVTSD F14, F14")
	e.p("SCVTFD R5, F13")
	e.p("FMOVD $1.0, F12")
}

// layerNEON: the three passes of layerDoc over each row.
func layerNEON(w *bytes.Buffer) {
	e := emitter{w}
	e.prologue("layerNormNEON", layerSig, 116, 96, 112)
	e.p("MOVD beta_base+48(FP), R2")
	e.p("MOVD out_base+72(FP), R3")

	e.label("row")
	// Pass 1: s = Σ (v - row[0]) in V0-V3.
	e.p("FMOVS (R0), F20")
	e.p("VDUP V20.S[0], V20.S4")
	e.zero(0, group)
	e.pass("mean", func(vecs int) {
		e.load("R6", 16, vecs)
		if vecs == 0 {
			e.p("FSUBS F20, F16, F16")
		}
		for j := range max(vecs, 1) {
			if vecs > 0 {
				e.p("%s", neon.FSUB(16+j, 16+j, 20))
			}
			e.p("%s", neon.FADD(j, j, 16+j))
		}
	})
	e.hsum(0)
	e.p("FCVTSD F0, F0")
	e.p("FDIVD F13, F0, F0")
	e.p("FCVTSD F20, F1")
	e.p("FADDD F1, F0, F0")
	e.p("FCVTDS F0, F20")
	e.p("VDUP V20.S[0], V20.S4")

	// Pass 2: sd = Σ (v - m) in V0-V3, sq = Σ (v - m)² in V4-V7.
	e.zero(0, 2*group)
	e.pass("var", func(vecs int) {
		e.load("R6", 16, vecs)
		if vecs == 0 {
			e.p("FSUBS F20, F16, F16")
		}
		for j := range max(vecs, 1) {
			if vecs > 0 {
				e.p("%s", neon.FSUB(16+j, 16+j, 20))
			}
			e.p("%s", neon.FADD(j, j, 16+j))
			e.p("%s", neon.FMLA(4+j, 16+j, 16+j))
		}
	})
	e.hsum(0)
	e.hsum(4)
	e.p("FCVTSD F0, F0")
	e.p("FDIVD F13, F0, F0") // corr
	e.p("FCVTSD F4, F4")
	e.p("FDIVD F13, F4, F4")
	e.p("FMULD F0, F0, F5")
	e.p("FSUBD F5, F4, F4")
	// FMAX keeps a NaN (from a NaN or Inf in the row).
	e.p("FMOVD ZR, F6")
	e.p("FMAXD F6, F4, F4")
	e.invSqrt(4)
	e.p("FCVTDS F0, F21")
	e.p("VDUP V21.S[0], V21.S4")

	// Pass 3: o = ((v-m)-lo)·inv·gamma + beta.
	e.p("MOVD R1, R8")
	e.p("MOVD R2, R9")
	e.p("MOVD R3, R10")
	e.pass("out", func(vecs int) {
		e.load("R6", 16, vecs)
		e.load("R8", 24, vecs)
		e.load("R9", 28, vecs)
		if vecs == 0 {
			e.p("FSUBS F20, F16, F16")
			e.p("FSUBS F21, F16, F16")
			e.p("FMULS F22, F16, F16")
			e.p("FMADDS F24, F28, F16, F28")
		}
		for j := range vecs {
			e.p("%s", neon.FSUB(16+j, 16+j, 20))
			e.p("%s", neon.FSUB(16+j, 16+j, 21))
			e.p("%s", neon.FMUL(16+j, 16+j, 22))
			e.p("%s", neon.FMLA(28+j, 16+j, 24+j))
		}
		e.store("R10", 28, vecs)
	})
	// The pass leaves R6 and R10 at the next row.
	e.p("MOVD R6, R0")
	e.p("MOVD R10, R3")
	e.p("SUB $1, R4")
	e.p("CBNZ R4, row")
	e.p("RET")
}

// rmsNEON: the two passes of rmsDoc over each row.
func rmsNEON(w *bytes.Buffer) {
	e := emitter{w}
	e.prologue("rmsNormNEON", rmsSig, 92, 72, 88)
	e.p("MOVD out_base+48(FP), R3")

	e.label("row")
	// Pass 1: sq = Σ v² in V4-V7.
	e.zero(4, group)
	e.pass("sq", func(vecs int) {
		e.load("R6", 16, vecs)
		for j := range max(vecs, 1) {
			e.p("%s", neon.FMLA(4+j, 16+j, 16+j))
		}
	})
	e.hsum(4)
	e.p("FCVTSD F4, F4")
	e.p("FDIVD F13, F4, F4")
	e.invSqrt(4)

	// Pass 2: o = v·inv·gamma.
	e.p("MOVD R1, R8")
	e.p("MOVD R3, R10")
	e.pass("out", func(vecs int) {
		e.load("R6", 16, vecs)
		e.load("R8", 24, vecs)
		if vecs == 0 {
			e.p("FMULS F22, F16, F16")
			e.p("FMULS F24, F16, F16")
		}
		for j := range vecs {
			e.p("%s", neon.FMUL(16+j, 16+j, 22))
			e.p("%s", neon.FMUL(16+j, 16+j, 24+j))
		}
		e.store("R10", 16, vecs)
	})
	e.p("MOVD R6, R0")
	e.p("MOVD R10, R3")
	e.p("SUB $1, R4")
	e.p("CBNZ R4, row")
	e.p("RET")
}
