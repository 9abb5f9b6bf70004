// Command gemv generates the dot-product kernels of package
// runtime/kernels/gemv: the AVX2+FMA ones with avo (gemv_amd64.s and their
// Go declarations), and the NEON ones with the small emitter in neon.go
// (gemv_arm64.s and its declarations), because avo writes only amd64; with
// -avx512, the AVX-512 ones (avx512.go), in files of their own.
//
// Run it from runtime/kernels/_asm, as the go:generate lines in package gemv
// do:
//
//	go run ./gemv -out ../gemv/gemv_amd64.s -stubs ../gemv/gemv_amd64.go -pkg gemv -neon ../gemv/gemv_arm64
//	go run ./gemv -avx512 -out ../gemv/gemv_avx512_amd64.s -stubs ../gemv/gemv_avx512_amd64.go -pkg gemv
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
	. "github.com/mmcloughlin/avo/reg"
)

// cols is the most columns a kernel computes per pass over x: each chunk of
// x, loaded once, serves them all. Four columns are 8 accumulators on AVX2
// (16 Q registers on NEON).
const cols = 4

// avx512 selects the AVX-512 kernels: the AVX2 files are checked for AVX2's
// 16 registers.
var avx512 = flag.Bool("avx512", false, "generate the AVX-512 kernels instead")

func main() {
	flag.Parse()
	if *avx512 {
		generateAVX512()
		return
	}
	ConstraintExpr("amd64,!purego")
	for r := 1; r <= cols; r++ {
		dotAVX2(r)
	}
	avx2.Generate()
	neon.Generate("gemv", writeNEON)
}

func name(r int, set string) string { return fmt.Sprintf("dot%d%s", r, set) }

const sig = "func(chunks int, x, w, out []float32)"

// doc is the loop each kernel implements.
func doc(r int, name string) []string {
	return []string{
		fmt.Sprintf("%s adds to out[j], j < %d, the dot product of x[:8*chunks] with", name, r),
		fmt.Sprintf("column j of w, which holds chunks chunks of %d columns of 8 floats", r),
		"(w[(q*r+j)*8+l] is element 8q+l of column j), summed as 16 chains of",
		"fused multiply-adds, chain (q%2, l) taking the chunks q of its parity",
		"in order, then combined in a fixed tree:",
		"",
		fmt.Sprintf("\tfor j := range %d {", r),
		"\t\tvar a [2][8]float32",
		"\t\tfor q := range chunks {",
		"\t\t\tfor l := range 8 {",
		fmt.Sprintf("\t\t\t\ta[q%%2][l] = fma(x[8*q+l], w[(q*%d+j)*8+l], a[q%%2][l])", r),
		"\t\t\t}",
		"\t\t}",
		"\t\tvar s [8]float32",
		"\t\tfor l := range 8 {",
		"\t\t\ts[l] = a[0][l] + a[1][l]",
		"\t\t}",
		"\t\tfor l := range 4 {",
		"\t\t\ts[l] += s[l+4]",
		"\t\t}",
		"\t\tout[j] += (s[0] + s[2]) + (s[1] + s[3])",
		"\t}",
		"",
		"The caller checks that x and w hold that much.",
	}
}

// dotAVX2 generates dot<r>AVX2: two chunks per iteration, chunk q into
// accumulator q%2 of each column, the weights read as FMA memory operands.
func dotAVX2(r int) {
	n := name(r, "AVX2")
	TEXT(n, NOSPLIT, sig)
	Pragma("noescape")
	Doc(doc(r, n)...)
	chunks := Load(Param("chunks"), GP64())
	x := Load(Param("x").Base(), GP64())
	w := Load(Param("w").Base(), GP64())
	out := Load(Param("out").Base(), GP64())
	acc := make([][2]VecVirtual, r)
	for j := range acc {
		for c := range 2 {
			acc[j][c] = YMM()
			VXORPS(acc[j][c], acc[j][c], acc[j][c])
		}
	}
	Label("pair")
	CMPQ(chunks, U8(2))
	JL(LabelRef("one"))
	for c := range 2 {
		xv := YMM()
		VMOVUPS(Mem{Base: x, Disp: 32 * c}, xv)
		for j := range r {
			VFMADD231PS(Mem{Base: w, Disp: 32 * (c*r + j)}, xv, acc[j][c])
		}
	}
	ADDQ(U8(64), x)
	ADDQ(U32(64*r), w)
	SUBQ(U8(2), chunks)
	JMP(LabelRef("pair"))
	Label("one")
	TESTQ(chunks, chunks)
	JE(LabelRef("reduce"))
	xv := YMM()
	VMOVUPS(Mem{Base: x}, xv)
	for j := range r {
		VFMADD231PS(Mem{Base: w, Disp: 32 * j}, xv, acc[j][0])
	}
	Label("reduce")
	for j := range r {
		a := acc[j][0]
		VADDPS(acc[j][1], a, a)
		hi := XMM()
		VEXTRACTF128(U8(1), a, hi)
		lo := a.AsX()
		VADDPS(hi, lo, lo)
		t := XMM()
		VMOVHLPS(lo, lo, t)
		VADDPS(t, lo, lo)
		VMOVSHDUP(lo, t)
		VADDSS(t, lo, lo)
		VADDSS(Mem{Base: out, Disp: 4 * j}, lo, lo)
		VMOVSS(lo, Mem{Base: out, Disp: 4 * j})
	}
	VZEROUPPER()
	RET()
}
