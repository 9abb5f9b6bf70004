package main

import (
	"bytes"
	"fmt"

	"github.com/mdlc/mdlc/runtime/kernels/_asm/neon"
)

// The NEON kernels: the AVX2 ones' loops, 4 channels a Q register; a pass
// carries 2 vectors, then 1, then single channels in lane 0 (FMOVS loads
// one float and clears the other lanes, where the vector operations are
// harmless). Arm64 has no memory operand for FMLA, so each pixel's input is
// loaded, pixel after pixel with a post-incremented pointer; the direct
// kernel loads one float into every lane (VLD1R) and multiplies both
// vectors of weights by it.
//
// Registers: R0 out, R1 x, R2 the pixels left, R3 c·4, R4 stride·4, R5 w,
// R6 bias, R7 the channels left, R8 the tap pair, R9 the taps left, R10 the
// input of the tap, R11 its weights, R12 and R14 store pointers. V0-V7 the
// accumulators (pixel i, vector v in V2i+v), V16-V17 the weights, V18-V25
// the inputs, V26-V27 the bias, V28 lo, V29 hi, V30-V31 the clamp.

type neonFn struct {
	w     *bytes.Buffer
	name  string
	bcast bool // the direct kernel: the input broadcast
}

func (f *neonFn) p(format string, args ...any) { fmt.Fprintf(f.w, "\t"+format+"\n", args...) }
func (f *neonFn) label(l string)               { fmt.Fprintf(f.w, "\n%s_%s:\n", f.name, l) }

// load loads vecs vectors from (R<ptr>) into V<v>..., or lane 0 of V<v| if
// vecs is 0, then steps R<ptr> by R<step> if step >= 0.
func (f *neonFn) load(vecs, v, ptr, step int) {
	switch {
	case vecs == 0:
		f.p("FMOVS (R%d), F%d", ptr, v)
		if step >= 0 {
			f.p("ADD R%d, R%d", step, ptr)
		}
	case step >= 0:
		f.p("VLD1.P (R%d)(R%d), %s", ptr, step, neon.QList(v, vecs))
	default:
		f.p("VLD1 (R%d), %s", ptr, neon.QList(v, vecs))
	}
}

// pass emits a pass over the channels of n pixels: vecs vectors, or lane 0
// if vecs is 0.
func (f *neonFn) pass(label string, n, vecs int) {
	regs := max(vecs, 1)
	for i := range n {
		for v := range regs {
			a := 2*i + v
			f.p("VEOR V%d.B16, V%d.B16, V%d.B16", a, a, a)
		}
	}
	f.p("MOVD taps_base+72(FP), R8")
	f.p("MOVD taps_len+80(FP), R9")
	f.p("LSR $1, R9")
	f.label(label + "_tap")
	f.p("MOVD (R8), R10")
	f.p("ADD R1, R10")
	f.p("MOVD 8(R8), R11")
	f.p("ADD R5, R11")
	f.load(vecs, 16, 11, -1)
	for i := range n {
		in := func(v int) int { return 18 + 2*i + v }
		if f.bcast && vecs > 0 {
			f.p("VLD1R.P (R10)(R4), [V%d.S4]", in(0))
			in = func(int) int { return 18 + 2*i }
		} else {
			f.load(vecs, 18+2*i, 10, 4)
		}
		for v := range regs {
			f.p("%s", neon.FMLA(2*i+v, in(v), 16+v))
		}
	}
	f.p("ADD $16, R8")
	f.p("SUB $1, R9")
	f.p("CBNZ R9, %s_%s_tap", f.name, label)
	// The store: bias, then clamp: lo if lo > a, hi if hi < a, else a; a
	// NaN stays, as in the Go loop.
	f.load(vecs, 26, 6, -1)
	f.p("MOVD R0, R14")
	for i := range n {
		f.p("MOVD R14, R12")
		for v := range regs {
			a := 2*i + v
			f.p("%s", neon.FADD(a, a, 26+v))
			f.p("%s", neon.FCMGT(30, 28, a))
			f.p("VBSL V%d.B16, V28.B16, V30.B16", a) // V30 = lo > a ? lo : a
			f.p("%s", neon.FCMGT(31, 30, 29))
			f.p("VBSL V30.B16, V29.B16, V31.B16") // V31 = V30 > hi ? hi : V30
			if vecs == 0 {
				f.p("FMOVS F31, (R12)")
			} else {
				f.p("VST1.P [V31.S4], 16(R12)")
			}
		}
		if i < n-1 {
			f.p("ADD R3, R14")
		}
	}
}

// channels emits the channels of a block of n pixels, the pointers ending c
// channels on.
func (f *neonFn) channels(label string, n int) {
	f.p("MOVD w_base+48(FP), R5")
	f.p("MOVD bias_base+120(FP), R6")
	f.p("MOVD c+104(FP), R7")
	for _, p := range []struct {
		name        string
		vecs, lanes int
	}{{"two", 2, 8}, {"one", 1, 4}, {"lane", 0, 1}} {
		l := label + "_" + p.name
		f.label(l)
		f.p("CMP $%d, R7", p.lanes)
		f.p("BLT %s_%s_end", f.name, l)
		f.pass(l, n, p.vecs)
		stepped := []int{0, 1, 5, 6}
		if f.bcast {
			stepped = []int{0, 5, 6}
		}
		for _, r := range stepped {
			f.p("ADD $%d, R%d", 4*p.lanes, r)
		}
		f.p("SUB $%d, R7", p.lanes)
		f.p("B %s_%s", f.name, l)
		f.label(l + "_end")
	}
}

// neonCells writes the kernel name: dwCellsNEON, or directCellsNEON if
// bcast.
func neonCells(w *bytes.Buffer, name string, bcast bool) {
	f := &neonFn{w: w, name: name, bcast: bcast}
	fmt.Fprintf(w, "\n// func %s%s\n", name, sig[len("func"):])
	fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-152\n", name)
	f.p("MOVD out_base+0(FP), R0")
	f.p("MOVD x_base+24(FP), R1")
	f.p("MOVD cells+96(FP), R2")
	f.p("MOVD c+104(FP), R3")
	f.p("LSL $2, R3")
	f.p("MOVD stride+112(FP), R4")
	f.p("LSL $2, R4")
	f.p("FMOVS lo+144(FP), F28")
	f.p("VDUP V28.S[0], V28.S4")
	f.p("FMOVS hi+148(FP), F29")
	f.p("VDUP V29.S[0], V29.S4")
	f.label("block")
	f.p("CMP $%d, R2", block)
	f.p("BLT %s_single", f.name)
	f.channels("block", block)
	// On to the next block: x c channels back (unless broadcast) and 4
	// pixels on, out 3 pixels on (each is c channels).
	if !bcast {
		f.p("SUB R3, R1")
	}
	f.p("ADD R4<<2, R1")
	f.p("ADD R3<<1, R0")
	f.p("ADD R3, R0")
	f.p("SUB $%d, R2", block)
	f.p("B %s_block", f.name)
	f.label("single")
	f.p("CBZ R2, %s_done", f.name)
	f.channels("single", 1)
	if !bcast {
		f.p("SUB R3, R1")
	}
	f.p("ADD R4, R1")
	f.p("SUB $1, R2")
	f.p("B %s_single", f.name)
	f.label("done")
	f.p("RET")
}

// writeNEON writes the NEON kernels and their declarations into f.
func writeNEON(f *neon.File) error {
	neonCells(&f.Asm, "dwCellsNEON", false)
	f.Declare("dwCellsNEON", sig, doc("dwCellsNEON", 4, false))
	neonCells(&f.Asm, "directCellsNEON", true)
	f.Declare("directCellsNEON", sig, directDoc("directCellsNEON", 4, false))
	return nil
}
