// Command recurrent generates the assembly of package
// runtime/kernels/recurrent, the prefetch of a block's projected inputs: the
// AVX2 one with avo (recurrent_amd64.s and its Go declaration), the NEON one
// with the emitter of package neon (recurrent_arm64.s and its declaration).
//
// Run it from runtime/kernels/_asm, as the go:generate line in package
// recurrent does:
//
//	go run ./recurrent -out ../recurrent/recurrent_amd64.s -stubs ../recurrent/recurrent_amd64.go -pkg recurrent -neon ../recurrent/recurrent_arm64
//
// The output depends only on these arguments.
package main

import (
	"flag"
	"fmt"

	"github.com/mdlc/mdlc/runtime/kernels/_asm/avx2"
	"github.com/mdlc/mdlc/runtime/kernels/_asm/neon"
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
)

func main() {
	flag.Parse()
	ConstraintExpr("amd64,!purego")
	prefetchAVX2()
	avx2.Generate()
	neon.Generate("recurrent", writeNEON)
}

const sig = "func(x []float32, rows, stride, n int)"

// doc is the contract of prefetch<set>: the loop in Go is the cache lines it
// touches, as loads that are only hints.
func doc(name string) []string {
	return []string{
		name + " asks the caches for rows rows of n floats, stride apart",
		"in x, without waiting for them: the cache lines of",
		"",
		"\tfor r := range rows {",
		"\t\t_ = x[r*stride : r*stride+n]",
		"\t}",
		"",
		"A hint, with no effect but on timing. n must be positive.",
	}
}

// line is the size of a cache line on the CPUs the kernels target.
const line = 64

// prefetchAVX2 prefetches (PREFETCHT0) every line from the start of a row to
// its last float.
func prefetchAVX2() {
	TEXT("prefetchAVX2", NOSPLIT, sig)
	Pragma("noescape")
	Doc(doc("prefetchAVX2")...)
	x := Load(Param("x").Base(), GP64())
	rows := Load(Param("rows"), GP64())
	stride := Load(Param("stride"), GP64())
	SHLQ(U8(2), stride)
	n := Load(Param("n"), GP64())
	SHLQ(U8(2), n)
	SUBQ(U8(4), n)
	off := GP64()

	Label("row")
	TESTQ(rows, rows)
	JZ(LabelRef("done"))
	XORQ(off, off)
	Label("line")
	PREFETCHT0(Mem{Base: x, Index: off, Scale: 1})
	ADDQ(U8(line), off)
	CMPQ(off, n)
	JL(LabelRef("line"))
	PREFETCHT0(Mem{Base: x, Index: n, Scale: 1})
	ADDQ(stride, x)
	DECQ(rows)
	JMP(LabelRef("row"))

	Label("done")
	RET()
}

// writeNEON writes prefetchNEON, the same loop with PRFM PLDL1KEEP: R0 the
// row, R1 rows left, R2 stride in bytes, R3 the offset of the last float,
// R4 the offset, R5 the address.
func writeNEON(f *neon.File) error {
	p := func(format string, args ...any) { fmt.Fprintf(&f.Asm, "\t"+format+"\n", args...) }
	label := func(l string) { fmt.Fprintf(&f.Asm, "\n%s:\n", l) }
	fmt.Fprintf(&f.Asm, "\n// func prefetchNEON%s\n", sig[len("func"):])
	fmt.Fprintf(&f.Asm, "TEXT ·prefetchNEON(SB), NOSPLIT, $0-48\n")
	p("MOVD x_base+0(FP), R0")
	p("MOVD rows+24(FP), R1")
	p("MOVD stride+32(FP), R2")
	p("LSL $2, R2")
	p("MOVD n+40(FP), R3")
	p("LSL $2, R3")
	p("SUB $4, R3")
	label("row")
	p("CBZ R1, done")
	p("MOVD ZR, R4")
	label("line")
	p("ADD R4, R0, R5")
	p("PRFM (R5), PLDL1KEEP")
	p("ADD $%d, R4", line)
	p("CMP R3, R4")
	p("BLT line")
	p("ADD R3, R0, R5")
	p("PRFM (R5), PLDL1KEEP")
	p("ADD R2, R0")
	p("SUB $1, R1")
	p("B row")
	label("done")
	p("RET")
	f.Declare("prefetchNEON", sig, doc("prefetchNEON"))
	return nil
}
