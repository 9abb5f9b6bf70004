package main

import (
	"fmt"

	"github.com/mdlc/mdlc/runtime/kernels/_asm/neon"
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The rows kernels apply a short operand to every row of v: v is whole rows
// of len(o) floats, and element c of each row meets o[c], as a chain step
// does whose operand broadcasts along the rows (a squeeze-excitation gate
// [N,1,1,C] over [N,H,W,C], a per-channel bias). The flat kernels would run
// one call per row, at C = 16 a call per vector. Per row: whole vectors,
// then the row's last C mod lanes floats under a mask worked out once.
// Only add and mul (both commute, so one kernel serves either order).
// neonRows writes the same kernels for NEON.

// rowOps are the operators with a rows kernel.
var rowOps = []struct {
	name, sym string
	op        func(o Op, x VecVirtual) // x = x op o
}{
	{"add", "+", func(o Op, x VecVirtual) { VADDPS(o, x, x) }},
	{"mul", "*", func(o Op, x VecVirtual) { VMULPS(o, x, x) }},
}

func (s x86) rows(tail Mem) {
	for _, r := range rowOps {
		name := r.name + "Rows" + s.suffix()
		TEXT(name, NOSPLIT, "func(v, o []float32)")
		Pragma("noescape")
		Doc(name+" computes, exactly:", "",
			"\tfor i := range v[:len(v)/len(o)*len(o)] {",
			"\t\tv[i] "+r.sym+"= o[i%len(o)]",
			"\t}")
		lanes := s.lanes()
		v := Load(Param("v").Base(), GP64()).(GPVirtual)
		n := Load(Param("v").Len(), GP64()).(GPVirtual)
		o := Load(Param("o").Base(), GP64()).(GPVirtual)
		c := Load(Param("o").Len(), GP64()).(GPVirtual)
		TESTQ(c, c)
		JE(LabelRef("done"))
		// rem is the floats past a row's whole vectors, full the bytes of
		// those vectors.
		rem, full := GP64(), GP64()
		MOVQ(c, rem)
		ANDQ(U8(lanes-1), rem)
		MOVQ(c, full)
		SUBQ(rem, full)
		SHLQ(U8(2), full)
		var mask Op
		if s.avx512 {
			base := GP64()
			LEAQ(tail, base)
			m := K()
			KMOVW(Mem{Base: base, Index: rem, Scale: 2}, m)
			mask = m
		} else {
			// The mask's first rem lanes are set: 8 words from
			// tailmask+32-4·rem.
			neg, base := GP64(), GP64()
			MOVQ(rem, neg)
			NEGQ(neg)
			LEAQ(tail.Offset(32), base)
			m := YMM()
			VMOVDQU(Mem{Base: base, Index: neg, Scale: 4}, m)
			mask = m
		}
		i := GP64()
		Label("row")
		CMPQ(n, c)
		JL(LabelRef("done"))
		XORQ(i, i)
		Label("vec")
		CMPQ(i, full)
		JGE(LabelRef("tail"))
		x := s.vec()
		VMOVUPS(Mem{Base: v, Index: i, Scale: 1}, x)
		r.op(Mem{Base: o, Index: i, Scale: 1}, x)
		VMOVUPS(x, Mem{Base: v, Index: i, Scale: 1})
		ADDQ(U8(4*lanes), i)
		JMP(LabelRef("vec"))
		Label("tail")
		TESTQ(rem, rem)
		JE(LabelRef("next"))
		y, w := s.vec(), s.vec()
		if s.avx512 {
			VMOVUPS_Z(Mem{Base: v, Index: i, Scale: 1}, mask, y)
			VMOVUPS_Z(Mem{Base: o, Index: i, Scale: 1}, mask, w)
			r.op(w, y)
			VMOVUPS(y, mask, Mem{Base: v, Index: i, Scale: 1})
		} else {
			VMASKMOVPS(Mem{Base: v, Index: i, Scale: 1}, mask, y)
			VMASKMOVPS(Mem{Base: o, Index: i, Scale: 1}, mask, w)
			r.op(w, y)
			VMASKMOVPS(y, mask, Mem{Base: v, Index: i, Scale: 1})
		}
		Label("next")
		LEAQ(Mem{Base: v, Index: c, Scale: 4}, v)
		SUBQ(c, n)
		JMP(LabelRef("row"))
		Label("done")
		VZEROUPPER()
		RET()
	}
}

// neonRows writes the NEON rows kernels into f: per row, blocks of 4
// vectors, then single vectors, then the row's last 1-3 floats one at a
// time. Registers: R0 v, R1 the floats of v left, R2 o, R3 len(o); R4 and
// R5 walk o and count a row's floats left.
func neonRows(f *neon.File) {
	for _, r := range []struct {
		name, sym string
		vec       func(d, n, m int) string
		scalar    string
	}{
		{"add", "+", neon.FADD, "FADDS"},
		{"mul", "*", neon.FMUL, "FMULS"},
	} {
		name := r.name + "RowsNEON"
		w := &f.Asm
		p := func(format string, args ...any) { fmt.Fprintf(w, "\t"+format+"\n", args...) }
		fmt.Fprintf(w, "\n// func %s(v []float32, o []float32)\n", name)
		fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-48\n", name)
		p("MOVD v_base+0(FP), R0")
		p("MOVD v_len+8(FP), R1")
		p("MOVD o_base+24(FP), R2")
		p("MOVD o_len+32(FP), R3")
		p("CBZ R3, done")
		fmt.Fprintf(w, "\nrow:\n")
		p("CMP R3, R1")
		p("BLT done")
		p("MOVD R2, R4")
		p("MOVD R3, R5")
		fmt.Fprintf(w, "\nblock:\n")
		p("CMP $16, R5")
		p("BLT one")
		for i := range 4 {
			p("FMOVQ %d(R0), F%d", 16*i, i)
		}
		for i := range 4 {
			p("FMOVQ %d(R4), F%d", 16*i, 4+i)
		}
		for i := range 4 {
			p("%s", r.vec(i, i, 4+i))
		}
		for i := range 4 {
			p("FMOVQ F%d, %d(R0)", i, 16*i)
		}
		p("ADD $64, R0")
		p("ADD $64, R4")
		p("SUB $16, R5")
		p("B block")
		fmt.Fprintf(w, "\none:\n")
		p("CMP $4, R5")
		p("BLT tail")
		p("FMOVQ 0(R0), F0")
		p("FMOVQ 0(R4), F1")
		p("%s", r.vec(0, 0, 1))
		p("FMOVQ F0, 0(R0)")
		p("ADD $16, R0")
		p("ADD $16, R4")
		p("SUB $4, R5")
		p("B one")
		fmt.Fprintf(w, "\ntail:\n")
		p("CBZ R5, next")
		p("FMOVS (R0), F0")
		p("FMOVS (R4), F1")
		p("%s F1, F0, F0", r.scalar)
		p("FMOVS F0, (R0)")
		p("ADD $4, R0")
		p("ADD $4, R4")
		p("SUB $1, R5")
		p("B tail")
		fmt.Fprintf(w, "\nnext:\n")
		p("SUB R3, R1")
		p("B row")
		fmt.Fprintf(w, "\ndone:\n")
		p("RET")
		f.Declare(name, "func(v, o []float32)", []string{name + " computes, exactly:", "",
			"\tfor i := range v[:len(v)/len(o)*len(o)] {",
			"\t\tv[i] " + r.sym + "= o[i%len(o)]",
			"\t}"})
	}
}
