// Command gemm generates the GEMM micro-kernels of package
// runtime/kernels/gemm: the AVX2+FMA ones with avo (gemm_amd64.s and their
// Go declarations), and the NEON ones with the small emitter in neon.go
// (gemm_arm64.s and its declarations), because avo writes only amd64; with
// -avx512, the AVX-512 ones (avx512.go).
//
// Run it from runtime/kernels/_asm, as the go:generate line in package gemm
// does:
//
//	go run ./gemm -out ../gemm/gemm_amd64.s -stubs ../gemm/gemm_amd64.go -pkg gemm -neon ../gemm/gemm_arm64
//	go run ./gemm -avx512 -out ../gemm/gemm_avx512_amd64.s -stubs ../gemm/gemm_avx512_amd64.go -pkg gemm
//
// The output depends only on these arguments, so CI regenerates it and fails
// on any difference from the committed files.
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

// mr×nr is the AVX2 micro-tile: 6 rows of 16 columns is 12 YMM accumulators,
// which with the two B vectors and one broadcast A value leaves one of the 16
// YMM registers spare. Each k step is 2 loads and 6 broadcasts for 12 FMAs:
// the FMA units, not the load ports, set the pace.
const (
	mr     = 6
	nr     = 16
	unroll = 4 // k steps per loop iteration
)

// wideMR×wideNR is the AVX2 tile for few rows (the recurrent loop's 4 or 8
// sequences): 12 accumulators too, so 12 chains of FMAs hide their latency
// where 4 rows of 16 columns, 8 chains, do not; each k step is 3 loads and
// 4 broadcasts for 12 FMAs.
const (
	wideMR = 4
	wideNR = 24
)

// avx512 selects the AVX-512 kernels (avx512.go), written to files of their
// own: the AVX2 files are checked for AVX2's 16 registers.
var avx512 = flag.Bool("avx512", false, "generate the AVX-512 kernels instead")

func main() {
	flag.Parse()
	if *avx512 {
		generateAVX512()
		return
	}
	ConstraintExpr("amd64,!purego")
	silu := avx2.NewSilu("gemmsilu", false)
	for r := mr; r >= 1; r-- {
		tile(r, nr, false, silu)
	}
	tile(mr, nr, true, silu)
	for r := wideMR; r >= 1; r-- {
		tile(r, wideNR, false, silu)
	}
	avx2.Generate()
	neon.Generate("gemm", writeNEON)
}

// reference is the Go loop each kernel implements, for its doc comment;
// with silu, the x86 kernels' silu flag (NEON's tiles have none).
func reference(name string, rows, cols int, silu bool) []string {
	last, siluFlag := "(relu6, with relu's flag):", []string(nil)
	if silu {
		last = "(relu6, with relu's flag), and passed through silu:"
		siluFlag = []string{"\t\t\tif flags&16 != 0 {", "\t\t\t\ts = silu(s)", "\t\t\t}"}
	}
	doc := []string{
		fmt.Sprintf("%s computes a %d×%d tile of C from %d rows of A, kc apart, and", name, rows, cols, rows),
		fmt.Sprintf("a B panel %d wide (rows p at b[p*%d:]): each sum is one chain of fused", cols, cols),
		"multiply-adds in k order, started from zero, then, as flags say, added",
		"to C, added to the column's bias, clamped at zero (relu) and at six",
		last,
		"",
		fmt.Sprintf("\tfor i := range %d {", rows),
		fmt.Sprintf("\t\tfor j := range %d {", cols),
		"\t\t\tvar s float32",
		"\t\t\tfor p := range kc {",
		fmt.Sprintf("\t\t\t\ts = float32(math.FMA(float64(a[i*kc+p]), float64(b[p*%d+j]), float64(s)))", cols),
		"\t\t\t}",
		"\t\t\tif flags&1 != 0 {",
		"\t\t\t\ts += c[i*ldc+j]",
		"\t\t\t}",
		"\t\t\tif flags&2 != 0 {",
		"\t\t\t\ts += bias[j]",
		"\t\t\t}",
		"\t\t\tif flags&4 != 0 && s < 0 {",
		"\t\t\t\ts = 0",
		"\t\t\t}",
		"\t\t\tif flags&8 != 0 && s > 6 {",
		"\t\t\t\ts = 6",
		"\t\t\t}",
	}
	doc = append(doc, siluFlag...)
	doc = append(doc,
		"\t\t\tc[i*ldc+j] = s",
		"\t\t}",
		"\t}",
		"",
		"(The float64 FMA rounds twice where VFMADD231PS rounds once; the two",
		"differ only in the last bit, and rarely.)",
	)
	if silu {
		doc = append(doc, "", "silu(s) is s·sigmoid(s) as package eltwise's silu of the same set", "computes it, to the same bits.")
	}
	return doc
}

// The flags of a tile's store, as package gemm passes them.
const (
	flagAcc  = 1  // add C
	flagBias = 2  // add bias[j]
	flagRelu = 4  // clamp at zero, keeping NaN and -0
	flagSix  = 8  // then clamp at six (relu6 is flagRelu|flagSix), keeping NaN
	flagSilu = 16 // then silu
)

// six is 6.0's bits, for the relu6 clamp.
const six = 0x40c00000

// signature is every tile's Go declaration; a panel's takes the number of
// tiles too.
const (
	signature      = "func(kc int, a, b, c []float32, ldc int, flags int, bias []float32)"
	panelSignature = "func(kc int, a, b, c []float32, ldc int, flags int, bias []float32, tiles int)"
)

// tile generates tile<r>x<cols>, an r×cols tile (cols 16: 1 ≤ r ≤ 6; cols
// 24: 1 ≤ r ≤ 4), or with panel panel<r>x<cols>, which computes several
// such tiles down a column of C.
func tile(r, cols int, panel bool, silu *avx2.Silu) {
	name, sig := fmt.Sprintf("tile%dx%d", r, cols), signature
	if panel {
		name, sig = fmt.Sprintf("panel%dx%d", r, cols), panelSignature
	}
	v := cols / 8 // vectors per row
	TEXT(name, NOSPLIT, sig)
	Pragma("noescape")
	if panel {
		Doc(panelDoc(name, r)...)
	} else {
		Doc(reference(name, r, cols, true)...)
	}

	a := Load(Param("a").Base(), GP64())
	c := Load(Param("c").Base(), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(2), ldc) // in bytes
	var tiles Register
	if panel {
		tiles = Load(Param("tiles"), GP64())
	}
	// A panel's tiles share B, kc and the flags: the tile below runs once per
	// tile, its rows of A and C mr rows further on each time.
	Label(name + "_next")
	kc := Load(Param("kc"), GP64())
	b := Load(Param("b").Base(), GP64())
	// Rows 0-2 of A are at a, a+s, a+2s, rows 3-5 at a3, a3+s, a3+2s: two
	// base registers and one stride reach all six with x86 addressing.
	s := GP64()
	MOVQ(kc, s)
	SHLQ(U8(2), s)
	var a3 GPVirtual
	if r > 3 {
		a3 = GP64()
		LEAQ(Mem{Base: a, Index: s, Scale: 2}, a3)
		ADDQ(s, a3)
	}
	row := func(i, off int) Mem {
		base := a
		if i >= 3 {
			base = a3
		}
		m := Mem{Base: base, Disp: off}
		if i%3 > 0 {
			m = m.Idx(s, uint8(i%3))
		}
		return m
	}

	acc := make([][]VecVirtual, r)
	for i := range acc {
		acc[i] = make([]VecVirtual, v)
		for j := range acc[i] {
			acc[i][j] = YMM()
			VXORPS(acc[i][j], acc[i][j], acc[i][j])
		}
	}
	// step multiplies row p of the B panel, at b+boff, by column p of A, at
	// offset aoff in each row.
	step := func(aoff, boff int) {
		bv := make([]VecVirtual, v)
		for j := range bv {
			bv[j] = YMM()
			VMOVUPS(Mem{Base: b, Disp: boff + 32*j}, bv[j])
		}
		for i := range r {
			x := YMM()
			VBROADCASTSS(row(i, aoff), x)
			for j := range bv {
				VFMADD231PS(bv[j], x, acc[i][j])
			}
		}
	}
	advance := func(steps int) {
		ADDQ(U32(4*steps), a)
		if r > 3 {
			ADDQ(U32(4*steps), a3)
		}
		ADDQ(U32(4*cols*steps), b)
	}

	Label(name + "_loop")
	CMPQ(kc, U8(unroll))
	JL(LabelRef(name + "_tail"))
	for u := range unroll {
		// The B panel's rows 16 steps ahead, into L1: the first tile over a
		// panel fetches it from L2 or L3.
		PREFETCHT0(Mem{Base: b, Disp: 4 * cols * (16 + u)})
		step(4*u, 4*cols*u)
	}
	advance(unroll)
	SUBQ(U8(unroll), kc)
	JMP(LabelRef(name + "_loop"))

	Label(name + "_tail")
	TESTQ(kc, kc)
	JZ(LabelRef(name + "_store"))
	step(0, 0)
	advance(1)
	DECQ(kc)
	JMP(LabelRef(name + "_tail"))

	Label(name + "_store")
	var c3 GPVirtual
	if r > 3 {
		c3 = GP64()
		LEAQ(Mem{Base: c, Index: ldc, Scale: 2}, c3)
		ADDQ(ldc, c3)
	}
	crow := func(i, off int) Mem {
		base := c
		if i >= 3 {
			base = c3
		}
		m := Mem{Base: base, Disp: off}
		if i%3 > 0 {
			m = m.Idx(ldc, uint8(i%3))
		}
		return m
	}
	flags := Load(Param("flags"), GP64())
	TESTQ(U32(flagAcc), flags)
	JZ(LabelRef(name + "_bias"))
	for i := range r {
		for j := range v {
			VADDPS(crow(i, 32*j), acc[i][j], acc[i][j])
		}
	}
	Label(name + "_bias")
	TESTQ(U32(flagBias), flags)
	JZ(LabelRef(name + "_relu"))
	bias := Load(Param("bias").Base(), GP64())
	for j := range v {
		bj := YMM()
		VMOVUPS(Mem{Base: bias, Disp: 32 * j}, bj)
		for i := range r {
			VADDPS(bj, acc[i][j], acc[i][j])
		}
	}
	Label(name + "_relu")
	TESTQ(U32(flagRelu), flags)
	JZ(LabelRef(name + "_six"))
	// VMAXPS returns its second source, the sum, when that is NaN and when
	// both are zeros: NaN and -0 stay, as in the reference loop.
	zero := YMM()
	VXORPS(zero, zero, zero)
	for i := range r {
		for j := range v {
			VMAXPS(acc[i][j], zero, acc[i][j])
		}
	}
	Label(name + "_six")
	TESTQ(U32(flagSix), flags)
	JZ(LabelRef(name + "_silu"))
	// VMINPS too returns the sum when it is NaN.
	sixGP, sixX, sixY := GP32(), XMM(), YMM()
	MOVL(U32(six), sixGP)
	VMOVD(sixGP, sixX)
	VBROADCASTSS(sixX, sixY)
	for i := range r {
		for j := range v {
			VMINPS(acc[i][j], sixY, acc[i][j])
		}
	}
	Label(name + "_silu")
	TESTQ(U32(flagSilu), flags)
	JZ(LabelRef(name + "_write"))
	for i := range r {
		for j := range v {
			silu.Apply(acc[i][j])
		}
	}
	Label(name + "_write")
	for i := range r {
		for j := range v {
			VMOVUPS(acc[i][j], crow(i, 32*j))
		}
	}
	if panel {
		DECQ(tiles)
		JZ(LabelRef(name + "_done"))
		// a went s bytes along its rows; the next tile starts r rows on.
		for range r - 1 {
			ADDQ(s, a)
		}
		for range r {
			ADDQ(ldc, c)
		}
		JMP(LabelRef(name + "_next"))
		Label(name + "_done")
	}
	VZEROUPPER()
	RET()
}

// panelDoc is a panel's doc comment: tiles tiles in turn.
func panelDoc(name string, r int) []string {
	return []string{
		fmt.Sprintf("%s computes tiles %d×%d tiles down a column of C, one", name, r, nr),
		fmt.Sprintf("after another, as tile%dx%d does each (rows t*%d.. of a and c for", r, nr, r),
		"tile t), in one call: a short kc leaves a tile's call and set-up",
		"costing as much as its multiply-adds.",
		"",
		"\tfor t := range tiles {",
		fmt.Sprintf("\t\ttile%dx%d(kc, a[t*%d*kc:], b, c[t*%d*ldc:], ldc, flags, bias)", r, nr, r, r),
		"\t}",
	}
}
