package main

import (
	"bytes"
	"fmt"

	"github.com/mdlc/mdlc/runtime/kernels/_asm/neon"
)

// The NEON kernels compute the AVX2 ones' chains: an 8-float chunk is two Q
// registers, so each column's two 8-lane accumulators are four Q registers
// (V0-V15: column j, chain c, half h in V(4j+2c+h)), and the reduction adds
// the same pairs in the same order. With FMLA fused like VFMADD231PS, the
// two sets give the same sums bit for bit. x is V16-V19, w V20-V27.

// writeNEON writes the NEON kernels and their declarations into f.
func writeNEON(f *neon.File) error {
	for r := 1; r <= cols; r++ {
		n := name(r, "NEON")
		dotNEON(&f.Asm, n, r)
		f.Declare(n, sig, doc(r, n))
	}
	return nil
}

// dotNEON: R0 chunks, R1 x, R2 w, R3 out.
func dotNEON(w *bytes.Buffer, name string, r int) {
	p := func(format string, args ...any) { fmt.Fprintf(w, "\t"+format+"\n", args...) }
	label := func(l string) { fmt.Fprintf(w, "\n%s:\n", l) }
	acc := func(j, c, h int) int { return 4*j + 2*c + h }
	fmt.Fprintf(w, "\n// func %s%s\n", name, sig[len("func"):])
	fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-80\n", name)
	p("MOVD chunks+0(FP), R0")
	p("MOVD x_base+8(FP), R1")
	p("MOVD w_base+32(FP), R2")
	p("MOVD out_base+56(FP), R3")
	for j := range r {
		for k := range 4 {
			a := 4*j + k
			p("VEOR V%d.B16, V%d.B16, V%d.B16", a, a, a)
		}
	}
	// chunk multiplies one chunk of w (r columns of 8) by x in V(xr), V(xr+1)
	// into chain c.
	chunk := func(c, xr int) {
		for j0 := 0; j0 < r; j0 += 2 {
			n := min(2, r-j0)
			p("VLD1.P %d(R2), %s", 32*n, neon.QList(20, 2*n))
			for j := j0; j < j0+n; j++ {
				for h := range 2 {
					p("%s", neon.FMLA(acc(j, c, h), 20+2*(j-j0)+h, xr+h))
				}
			}
		}
	}
	label("pair")
	p("CMP $2, R0")
	p("BLT one")
	p("VLD1.P 64(R1), %s", neon.QList(16, 4))
	chunk(0, 16)
	chunk(1, 18)
	p("SUB $2, R0")
	p("B pair")
	label("one")
	p("CBZ R0, reduce")
	p("VLD1.P 32(R1), %s", neon.QList(16, 2))
	chunk(0, 16)
	label("reduce")
	for j := range r {
		lo, hi := acc(j, 0, 0), acc(j, 0, 1)
		p("%s", neon.FADD(lo, lo, acc(j, 1, 0)))
		p("%s", neon.FADD(hi, hi, acc(j, 1, 1)))
		p("%s", neon.FADD(lo, lo, hi))
		p("%s", neon.EXT(16, lo, lo, 8))
		p("%s", neon.FADD(lo, lo, 16))
		p("%s", neon.FADDPScalar(lo, lo))
		p("FMOVS %d(R3), F17", 4*j)
		p("FADDS F17, F%d, F%d", lo, lo)
		p("FMOVS F%d, %d(R3)", lo, 4*j)
	}
	p("RET")
}
