package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// zcols is the most columns an AVX-512 kernel computes per pass over x. A ZMM
// register holds all 16 chains of a column (chunk parity 0 in lanes 0-7, 1
// in lanes 8-15), so 4 columns would be only 4 chains of FMAs, half of what
// two FMA units of latency 4 need; 8 columns are 8, as AVX2's 4 are.
const zcols = 8

func generateAVX512() {
	ConstraintExpr("amd64,!purego")
	// ztailmasks[n] selects a vector's first n lanes.
	tail := GLOBL("ztailmasks", RODATA|NOPTR)
	for n := range 16 {
		DATA(2*n, U16(1<<n-1))
	}
	for r := 1; r <= zcols; r++ {
		dotAVX512(r, tail)
	}
	Generate()
}

const zsig = "func(rows int, x, w, out []float32)"

// zdoc is the loop an AVX-512 kernel implements: the AVX2 kernels' sums over
// a block's rows, its last rows%8 as a chunk of their own.
func zdoc(r int, name string) []string {
	return []string{
		fmt.Sprintf("%s adds to out[j], j < %d, the dot product of x[:rows] with column j", name, r),
		"of w, which holds the rows of a group of r columns packed in pairs of",
		"chunks of 8 (package gemv, Pack), as the AVX2 kernels sum them: the",
		"rows/8 full chunks in 16 chains of fused multiply-adds, then the last",
		"rows%8, if any, zero-padded, as one more chunk on its own:",
		"",
		fmt.Sprintf("\tfull := rows / 8"),
		fmt.Sprintf("\tdot%dAVX2(full, x, chunks of w, out)", r),
		"\tif rows%8 != 0 {",
		fmt.Sprintf("\t\tdot%dAVX2(1, x[8*full:rows] zero-padded, chunk full of w, out)", r),
		"\t}",
		"",
		"The last rows are read under a mask. The caller checks that x and w",
		"hold that much.",
	}
}

// dotAVX512 generates dot<r>AVX512: a pair of chunks per iteration, x's 16
// floats loaded once for the r columns, whose pair of chunks lie side by side
// in w. A last full chunk of odd index, or the tail, goes under a mask into
// the lanes of its parity: full chunks into accumulators acc, the tail into
// accumulators tl of its own.
func dotAVX512(r int, tail Mem) {
	n := name(r, "AVX512")
	TEXT(n, NOSPLIT, zsig)
	Pragma("noescape")
	Doc(zdoc(r, n)...)
	rows := Load(Param("rows"), GP64())
	x := Load(Param("x").Base(), GP64())
	w := Load(Param("w").Base(), GP64())
	out := Load(Param("out").Base(), GP64())
	acc, tl := make([]VecVirtual, r), make([]VecVirtual, r)
	for j := range r {
		acc[j], tl[j] = ZMM(), ZMM()
		VPXORD(acc[j], acc[j], acc[j])
		VPXORD(tl[j], tl[j], tl[j])
	}
	pairs, t, base := GP64(), GP64(), GP64()
	MOVQ(rows, pairs)
	SHRQ(U8(4), pairs)
	MOVQ(rows, t)
	ANDQ(U8(7), t)
	LEAQ(tail, base)
	lo, hi := K(), K()
	KMOVW(Mem{Base: base, Disp: 2 * 8}, lo)
	KNOTW(lo, hi)

	Label("pair")
	TESTQ(pairs, pairs)
	JE(LabelRef("last"))
	xv := ZMM()
	VMOVUPS(Mem{Base: x}, xv)
	for j := range r {
		VFMADD231PS(Mem{Base: w, Disp: 64 * j}, xv, acc[j])
	}
	ADDQ(U8(64), x)
	ADDQ(U32(64*r), w)
	DECQ(pairs)
	JMP(LabelRef("pair"))

	// rows%16 left: a full chunk if bit 3 is set, then rows%8.
	Label("last")
	km := K()
	BTQ(U8(3), rows)
	JCC(LabelRef("even"))
	TESTQ(t, t)
	JE(LabelRef("odd"))
	// The last full chunk and the tail share a pair: lanes 0-7 and 8-15.
	KMOVW(Mem{Base: base, Index: t, Scale: 2, Disp: 2 * 8}, km)
	VMOVUPS_Z(Mem{Base: x}, km, xv)
	for j := range r {
		VFMADD231PS(Mem{Base: w, Disp: 64 * j}, xv, lo, acc[j])
		VFMADD231PS(Mem{Base: w, Disp: 64 * j}, xv, hi, tl[j])
	}
	JMP(LabelRef("reduce"))
	// A last full chunk alone: each column's 8 floats.
	Label("odd")
	VMOVUPS_Z(Mem{Base: x}, lo, xv)
	for j := range r {
		VFMADD231PS(Mem{Base: w, Disp: 32 * j}, xv, lo, acc[j])
	}
	JMP(LabelRef("reduce"))
	// The tail alone, in lanes 0-7.
	Label("even")
	TESTQ(t, t)
	JE(LabelRef("reduce"))
	KMOVW(Mem{Base: base, Index: t, Scale: 2}, km)
	VMOVUPS_Z(Mem{Base: x}, km, xv)
	for j := range r {
		VFMADD231PS(Mem{Base: w, Disp: 32 * j}, xv, lo, tl[j])
	}

	Label("reduce")
	for j := range r {
		s := zReduce(acc[j])
		VADDSS(Mem{Base: out, Disp: 4 * j}, s, s)
		VMOVSS(s, Mem{Base: out, Disp: 4 * j})
	}
	TESTQ(t, t)
	JE(LabelRef("done"))
	for j := range r {
		s := zReduce(tl[j])
		VADDSS(Mem{Base: out, Disp: 4 * j}, s, s)
		VMOVSS(s, Mem{Base: out, Disp: 4 * j})
	}
	Label("done")
	VZEROUPPER()
	RET()
}

// zReduce is the sum of a column's 16 chains in the AVX2 kernels' tree, in
// lane 0 of the XMM register it returns: lanes 0-7 plus 8-15, then halves,
// then pairs.
func zReduce(a VecVirtual) VecVirtual {
	h := YMM()
	VEXTRACTF32X8(U8(1), a, h)
	y := a.AsY()
	VADDPS(h, y, y)
	hx := XMM()
	VEXTRACTF32X4(U8(1), y, hx)
	lo := a.AsX()
	VADDPS(hx, lo, lo)
	t := XMM()
	VMOVHLPS(lo, lo, t)
	VADDPS(t, lo, lo)
	VMOVSHDUP(lo, t)
	VADDSS(t, lo, lo)
	return lo.(VecVirtual)
}
