package main

import (
	"bytes"
	"fmt"
	"go/format"
	"os"
	"strings"
)

// The NEON kernels compute the AVX2 ones' chains: an 8-float chunk is two Q
// registers, so each column's two 8-lane accumulators are four Q registers
// (V0-V15: column j, chain c, half h in V(4j+2c+h)), and the reduction adds
// the same pairs in the same order. With FMLA fused like VFMADD231PS, the
// two sets give the same sums bit for bit. x is V16-V19, w V20-V27.
//
// Go's arm64 assembler has no vector FMLA, FADD, EXT or FADDP, so those are
// WORDs, with the instruction in a comment.

func word(w int, format string, args ...any) string {
	return fmt.Sprintf("WORD $0x%08x // %s", w, fmt.Sprintf(format, args...))
}

// fmla is FMLA Vd.4S, Vn.4S, Vm.4S: d += n·m.
func fmla(d, n, m int) string {
	return word(0x4e20cc00|m<<16|n<<5|d, "FMLA V%d.4S, V%d.4S, V%d.4S", d, n, m)
}

// fadd is FADD Vd.4S, Vn.4S, Vm.4S.
func fadd(d, n, m int) string {
	return word(0x4e20d400|m<<16|n<<5|d, "FADD V%d.4S, V%d.4S, V%d.4S", d, n, m)
}

// ext8 is EXT Vd.16B, Vn.16B, Vn.16B, #8: the halves of n swapped.
func ext8(d, n int) string {
	return word(0x6e004000|n<<16|n<<5|d, "EXT V%d.16B, V%d.16B, V%d.16B, #8", d, n, n)
}

// faddp is FADDP Sd, Vn.2S: lane 0 + lane 1.
func faddp(d, n int) string {
	return word(0x7e30d800|n<<5|d, "FADDP S%d, V%d.2S", d, n)
}

func qlist(first, n int) string {
	r := make([]string, n)
	for i := range r {
		r[i] = fmt.Sprintf("V%d.S4", first+i)
	}
	return "[" + strings.Join(r, ", ") + "]"
}

func writeNEON(prefix string) error {
	h := header(os.Args[1:])
	var asm, stubs bytes.Buffer
	asm.WriteString(h + "\n//go:build arm64 && !purego\n\n#include \"textflag.h\"\n")
	stubs.WriteString(h + "\n//go:build arm64 && !purego\n\npackage gemv\n")
	for r := 1; r <= cols; r++ {
		n := name(r, "NEON")
		dotNEON(&asm, n, r)
		stubs.WriteString("\n")
		for _, l := range doc(r, n) {
			stubs.WriteString(strings.TrimRight("// "+l, " ") + "\n")
		}
		stubs.WriteString("//\n//go:noescape\nfunc " + n + sig[len("func"):] + "\n")
	}
	src, err := format.Source(stubs.Bytes())
	if err != nil {
		return err
	}
	if err := os.WriteFile(prefix+".s", asm.Bytes(), 0o644); err != nil {
		return err
	}
	return os.WriteFile(prefix+".go", src, 0o644)
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
			p("VLD1.P %d(R2), %s", 32*n, qlist(20, 2*n))
			for j := j0; j < j0+n; j++ {
				for h := range 2 {
					p("%s", fmla(acc(j, c, h), 20+2*(j-j0)+h, xr+h))
				}
			}
		}
	}
	label("pair")
	p("CMP $2, R0")
	p("BLT one")
	p("VLD1.P 64(R1), %s", qlist(16, 4))
	chunk(0, 16)
	chunk(1, 18)
	p("SUB $2, R0")
	p("B pair")
	label("one")
	p("CBZ R0, reduce")
	p("VLD1.P 32(R1), %s", qlist(16, 2))
	chunk(0, 16)
	label("reduce")
	for j := range r {
		lo, hi := acc(j, 0, 0), acc(j, 0, 1)
		p("%s", fadd(lo, lo, acc(j, 1, 0)))
		p("%s", fadd(hi, hi, acc(j, 1, 1)))
		p("%s", fadd(lo, lo, hi))
		p("%s", ext8(16, lo))
		p("%s", fadd(lo, lo, 16))
		p("%s", faddp(lo, lo))
		p("FMOVS %d(R3), F17", 4*j)
		p("FADDS F17, F%d, F%d", lo, lo)
		p("FMOVS F%d, %d(R3)", lo, 4*j)
	}
	p("RET")
}
