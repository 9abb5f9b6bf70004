package main

import (
	"bytes"
	"fmt"

	"github.com/mdlc/mdlc/runtime/kernels/_asm/neon"
)

// The NEON kernels: 4 channels a Q register, then single channels in lane 0
// (FMOVS loads one float and clears the other lanes; the vector operations
// on the cleared lanes are harmless). A tile's 16 inputs or 16 products are
// loaded into V0-V15 with loads that step a pointer by a register; the
// results take V16 up.

type neonFn struct {
	w    *bytes.Buffer
	name string
}

func (f *neonFn) p(format string, args ...any) { fmt.Fprintf(f.w, "\t"+format+"\n", args...) }
func (f *neonFn) label(l string)               { fmt.Fprintf(f.w, "\n%s_%s:\n", f.name, l) }

// load loads V<v> (all 4 lanes, or lane 0 if one) from (R<ptr>) and steps
// R<ptr> by R<step>.
func (f *neonFn) load(one bool, v, ptr, step int) {
	if one {
		f.p("FMOVS (R%d), F%d", ptr, v)
		f.p("ADD R%d, R%d", step, ptr)
		return
	}
	f.p("VLD1.P (R%d)(R%d), [V%d.S4]", ptr, step, v)
}

// store stores V<v> to (R<ptr>) and steps R<ptr> by R<step> (not if step < 0).
func (f *neonFn) store(one bool, v, ptr, step int) {
	switch {
	case one:
		f.p("FMOVS F%d, (R%d)", v, ptr)
		if step >= 0 {
			f.p("ADD R%d, R%d", step, ptr)
		}
	case step >= 0:
		f.p("VST1.P [V%d.S4], (R%d)(R%d)", v, ptr, step)
	default:
		f.p("VST1 [V%d.S4], (R%d)", v, ptr)
	}
}

// channels emits the loop over R<n> channels, 4 then 1 at a time, each
// running body and stepping the pointers.
func (f *neonFn) channels(n int, body func(one bool), ptrs ...int) {
	f.label("vec")
	f.p("CMP $4, R%d", n)
	f.p("BLT %s_one", f.name)
	body(false)
	for _, r := range ptrs {
		f.p("ADD $16, R%d", r)
	}
	f.p("SUB $4, R%d", n)
	f.p("B %s_vec", f.name)
	f.label("one")
	f.p("CBZ R%d, %s_end", n, f.name)
	body(true)
	for _, r := range ptrs {
		f.p("ADD $4, R%d", r)
	}
	f.p("SUB $1, R%d", n)
	f.p("B %s_one", f.name)
	f.label("end")
}

// neonInput: R0 tiles, R1 d, R2 v, R3 sx, R4 sy, R5 vs, R7 vt (bytes), R6
// the channels left, R8-R10 pointers.
func neonInput(w *bytes.Buffer) {
	f := &neonFn{w: w, name: "inputNEON"}
	fmt.Fprintf(w, "\n// func inputNEON%s\n", inputSig[len("func"):])
	fmt.Fprintf(w, "TEXT ·inputNEON(SB), NOSPLIT, $0-96\n")
	f.p("MOVD tiles+0(FP), R0")
	f.p("MOVD d_base+16(FP), R1")
	f.p("MOVD v_base+56(FP), R2")
	for _, a := range []struct {
		name string
		off  int
		r    int
	}{{"sx", 40, 3}, {"sy", 48, 4}, {"vs", 88, 5}, {"vt", 80, 7}} {
		f.p("MOVD %s+%d(FP), R%d", a.name, a.off, a.r)
		f.p("LSL $2, R%d", a.r)
	}
	f.label("tile")
	f.p("CBZ R0, %s_done", f.name)
	f.p("MOVD n+8(FP), R6")
	f.channels(6, func(one bool) {
		f.p("MOVD R1, R8")
		for i := range 4 {
			f.p("MOVD R8, R9")
			for j := range 4 {
				f.load(one, 4*i+j, 9, 3)
			}
			if i < 3 {
				f.p("ADD R4, R8")
			}
		}
		f.p("MOVD R2, R10")
		rows := [4]struct {
			a, b int
			add  bool
		}{{0, 2, false}, {1, 2, true}, {2, 1, false}, {1, 3, false}}
		for _, rw := range rows {
			for j := range 4 {
				if rw.add {
					f.p("%s", neon.FADD(16+j, 4*rw.a+j, 4*rw.b+j))
				} else {
					f.p("%s", neon.FSUB(16+j, 4*rw.a+j, 4*rw.b+j))
				}
			}
			f.p("%s", neon.FSUB(20, 16, 18)) // r0 - r2
			f.p("%s", neon.FADD(21, 17, 18)) // r1 + r2
			f.p("%s", neon.FSUB(22, 18, 17)) // r2 - r1
			f.p("%s", neon.FSUB(23, 17, 19)) // r1 - r3
			for j := range 4 {
				f.store(one, 20+j, 10, 5)
			}
		}
	}, 1, 2)
	// On to the next tile: 2 columns and vt floats on from this one's start.
	f.p("MOVD n+8(FP), R8")
	f.p("LSL $2, R8")
	f.p("SUB R8, R1")
	f.p("SUB R8, R2")
	f.p("ADD R3, R1")
	f.p("ADD R3, R1")
	f.p("ADD R7, R2")
	f.p("SUB $1, R0")
	f.p("B %s_tile", f.name)
	f.label("done")
	f.p("RET")
}

// neonOutput: R0 tiles, R1 m, R2 y, R3 ms, R4 sx, R5 sy (bytes), R6 bias,
// R7 the channels left, R8 relu, R9-R10 pointers. The products go to
// V0-V15, the rows of Aᵀ m to V16-V19, Y to V24-V27, the bias to V28.
func neonOutput(w *bytes.Buffer, pool bool) {
	name, sig, size := "outputNEON", outputSig, 113
	bias, relu := 88, 112
	if pool {
		name, sig, size = "poolNEON", poolSig, 97
		bias, relu = 72, 96
	}
	f := &neonFn{w: w, name: name}
	fmt.Fprintf(w, "\n// func %s%s\n", name, sig[len("func"):])
	fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-%d\n", name, size)
	f.p("MOVD tiles+0(FP), R0")
	f.p("MOVD m_base+16(FP), R1")
	f.p("MOVD y_base+48(FP), R2")
	f.p("MOVD ms+40(FP), R3")
	f.p("LSL $2, R3")
	if !pool {
		f.p("MOVD sx+72(FP), R4")
		f.p("LSL $2, R4")
		f.p("MOVD sy+80(FP), R5")
		f.p("LSL $2, R5")
	}
	f.p("MOVD bias_base+%d(FP), R6", bias)
	f.p("MOVBU relu+%d(FP), R8", relu)
	f.label("tile")
	f.p("CBZ R0, %s_done", name)
	f.p("MOVD n+8(FP), R7")
	labels := 0
	f.channels(7, func(one bool) {
		f.p("MOVD R1, R9")
		for xi := range 16 {
			f.load(one, xi, 9, 3)
		}
		for i := range 2 {
			for j := range 4 {
				if i == 0 { // m0 + m1 + m2
					f.p("%s", neon.FADD(16+j, j, 4+j))
					f.p("%s", neon.FADD(16+j, 16+j, 8+j))
				} else { // m1 - m2 - m3
					f.p("%s", neon.FSUB(16+j, 4+j, 8+j))
					f.p("%s", neon.FSUB(16+j, 16+j, 12+j))
				}
			}
			y0, y1 := 24+2*i, 25+2*i
			f.p("%s", neon.FADD(y0, 16, 17)) // r0 + r1 + r2
			f.p("%s", neon.FADD(y0, y0, 18))
			f.p("%s", neon.FSUB(y1, 17, 18)) // r1 - r2 - r3
			f.p("%s", neon.FSUB(y1, y1, 19))
		}
		if one {
			f.p("FMOVS (R6), F28")
		} else {
			f.p("VLD1 (R6), [V28.S4]")
		}
		finish := func(v int) {
			f.p("%s", neon.FADD(v, v, 28))
			skip := fmt.Sprintf("norelu%d", labels)
			labels++
			f.p("CBZ R8, %s_%s", name, skip)
			// x < 0 becomes 0; -0 and NaN stay, as in the Go loop.
			f.p("%s", neon.FCMLT0(29, v))
			f.p("%s", neon.BIC(v, v, 29))
			f.label(skip)
		}
		if pool {
			// v = u > v ? u : v for u = Y01, Y10, Y11 in turn: V29, V30, V31.
			v := 24
			for k, u := range []int{25, 26, 27} {
				d := 29 + k
				f.p("%s", neon.FCMGT(d, u, v))
				f.p("VBSL V%d.B16, V%d.B16, V%d.B16", v, u, d) // d = d ? u : v
				v = d
			}
			finish(v)
			f.store(one, v, 2, -1)
			return
		}
		for i := range 2 {
			f.p("MOVD R2, R10")
			if i == 1 {
				f.p("ADD R5, R10")
			}
			for j := range 2 {
				v := 24 + 2*i + j
				finish(v)
				step := 4
				if j == 1 {
					step = -1
				}
				f.store(one, v, 10, step)
			}
		}
	}, 1, 2, 6)
	// m is on to the next tile; the bias starts again; y (unpooled) is 2
	// columns on from this tile's start.
	f.p("MOVD n+8(FP), R9")
	f.p("LSL $2, R9")
	f.p("SUB R9, R6")
	if !pool {
		f.p("SUB R9, R2")
		f.p("ADD R4, R2")
		f.p("ADD R4, R2")
	}
	f.p("SUB $1, R0")
	f.p("B %s_tile", name)
	f.label("done")
	f.p("RET")
}

// writeNEON writes the NEON kernels and their declarations into f.
func writeNEON(f *neon.File) error {
	neonInput(&f.Asm)
	neonOutput(&f.Asm, false)
	neonOutput(&f.Asm, true)
	f.Declare("inputNEON", inputSig, inputDoc("inputNEON", 4))
	f.Declare("outputNEON", outputSig, outputDoc("outputNEON", 4, false))
	f.Declare("poolNEON", poolSig, outputDoc("poolNEON", 4, true))
	return nil
}
