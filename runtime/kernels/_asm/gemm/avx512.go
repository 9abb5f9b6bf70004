package main

import (
	"fmt"

	"github.com/mdlc/mdlc/runtime/kernels/_asm/avx2"
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// zMR×zNR is the AVX-512 micro-tile (see package gemm's layouts for the
// measurements that chose it): zMR·zNR/16 ZMM accumulators, zNR/16 B vectors
// and a broadcast A value out of the 32 ZMM registers.
const (
	zMR = 12
	zNR = 32
)

// generateAVX512 writes the AVX-512 kernels: a panel of full tiles, the hot
// path, unmasked; and a masked tile for every row count, which stores only
// the columns its mask selects, for the tiles at C's right and bottom edges.
func generateAVX512() {
	ConstraintExpr("amd64,!purego")
	silu := avx2.NewSilu("zgemmsilu", true)
	zPanel(silu)
	for r := zMR; r >= 1; r-- {
		zMaskedTile(r, silu)
	}
	for r := zPairMR; r >= 1; r-- {
		zPairTile(r, silu)
	}
	Generate()
}

// zPanel generates panel<zMR>x<zNR>: tiles full tiles down a column of C.
func zPanel(silu *avx2.Silu) {
	name := fmt.Sprintf("panel%dx%d", zMR, zNR)
	TEXT(name, NOSPLIT, panelSignature)
	Pragma("noescape")
	Doc(zPanelDoc(name)...)
	z := zKernel{name: name, rows: zMR, silu: silu}
	z.body(true, false)
}

// zMaskedTile generates maskTile<r>x<zNR>: an r×zNR tile of which only the
// columns j with bit j of mask set are read from and stored to C (and read
// from bias).
func zMaskedTile(r int, silu *avx2.Silu) {
	name := fmt.Sprintf("maskTile%dx%d", r, zNR)
	TEXT(name, NOSPLIT, "func(kc int, a, b, c []float32, ldc int, flags int, bias []float32, mask uint64)")
	Pragma("noescape")
	var doc []string
	for _, l := range reference(name, r, zNR, true) {
		switch l {
		case "\t\t\tif flags&1 != 0 {":
			doc = append(doc, "\t\t\tif mask&(1<<j) == 0 {", "\t\t\t\tcontinue", "\t\t\t}")
		case "(The float64 FMA rounds twice where VFMADD231PS rounds once; the two":
			doc = append(doc, "Columns outside the mask are neither read nor written, in C or in bias", "(masked loads and stores).", "")
		}
		doc = append(doc, l)
	}
	Doc(doc...)
	z := zKernel{name: name, rows: r, silu: silu}
	z.body(false, true)
}

// zPairMR is the most rows of a pair tile: 4 rows of two panels are 16
// accumulators, twice the chains of FMAs of 4 rows of one panel (8, which
// is just enough to cover an FMA's latency on two FMA units, when nothing
// else stalls), and two panels a call halve the calls.
const zPairMR = 4

// zPairTile generates pairTile<r>x<2·zNR>: an r×2·zNR tile over two
// adjacent B panels, ldb floats apart, as two maskTile<r>x<zNR> would
// compute them (the same chains: the results are the same bit for bit),
// with one mask over the 2·zNR columns.
func zPairTile(r int, silu *avx2.Silu) {
	name := fmt.Sprintf("pairTile%dx%d", r, 2*zNR)
	TEXT(name, NOSPLIT, "func(kc int, a, b []float32, ldb int, c []float32, ldc int, flags int, bias []float32, mask uint64)")
	Pragma("noescape")
	one := fmt.Sprintf("maskTile%dx%d", r, zNR)
	Doc(
		fmt.Sprintf("%s computes a %d×%d tile of C from %d rows of A, kc apart, and", name, r, 2*zNR, r),
		fmt.Sprintf("two B panels %d wide, the second ldb floats after the first, with the", zNR),
		fmt.Sprintf("columns of both in one mask; it is two calls of %s:", one),
		"",
		fmt.Sprintf("	%s(kc, a, b, c, ldc, flags, bias, mask&(1<<%d-1))", one, zNR),
		fmt.Sprintf("	%s(kc, a, b[ldb:], c[%d:], ldc, flags, bias[%d:], mask>>%d)", one, zNR, zNR, zNR),
		"",
		fmt.Sprintf("(each sum the same chain, so the same bits), except that bias[%d:] need", zNR),
		"not exist if the mask selects none of it.",
	)
	z := zKernel{name: name, rows: r, panels: 2, silu: silu}
	z.body(false, true)
}

func zPanelDoc(name string) []string {
	return []string{
		fmt.Sprintf("%s computes tiles %d×%d tiles down a column of C, one", name, zMR, zNR),
		fmt.Sprintf("after another, as maskTile%dx%d does each with every column in its", zMR, zNR),
		fmt.Sprintf("mask (rows t*%d.. of a and c for tile t), in one call:", zMR),
		"",
		"\tfor t := range tiles {",
		fmt.Sprintf("\t\tmaskTile%dx%d(kc, a[t*%d*kc:], b, c[t*%d*ldc:], ldc, flags, bias, 1<<%d-1)", zMR, zNR, zMR, zMR, zNR),
		"\t}",
	}
}

// zKernel is a kernel of rows rows and panels B panels (0: one), ldb
// floats apart: rows×panels·zNR accumulators.
type zKernel struct {
	name   string
	rows   int
	panels int
	silu   *avx2.Silu
}

// rowsAt returns the address of row i (plus off bytes) of a matrix whose
// rows are stride bytes apart, from bases at rows 0, 3, 6, ...: each
// base reaches its three rows with x86 addressing (base, base+s, base+2s).
func rowsAt(base []Register, stride Register) func(i, off int) Mem {
	return func(i, off int) Mem {
		m := Mem{Base: base[i/3], Disp: off}
		if i%3 > 0 {
			m = m.Idx(stride, uint8(i%3))
		}
		return m
	}
}

// bases sets up the base registers of rows 0, 3, 6, ... below rows of a
// matrix at first, rows stride bytes apart.
func bases(first, stride Register, rows int) []Register {
	b := []Register{first}
	for g := 1; g*3 < rows; g++ {
		x := GP64()
		LEAQ(Mem{Base: b[g-1], Index: stride, Scale: 2}, x)
		ADDQ(stride, x)
		b = append(b, x)
	}
	return b
}

func (z zKernel) body(panel, masked bool) {
	panels := max(z.panels, 1)
	r, v, name := z.rows, panels*zNR/16, z.name
	a := Load(Param("a").Base(), GP64())
	// ldb, in bytes, reaches the second panel from the first.
	var ldb Register
	if panels > 1 {
		ldb = Load(Param("ldb"), GP64())
		SHLQ(U8(2), ldb)
	}
	c := Load(Param("c").Base(), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(2), ldc) // in bytes
	var tiles Register
	if panel {
		tiles = Load(Param("tiles"), GP64())
	}
	Label(name + "_next")
	kc := Load(Param("kc"), GP64())
	b := Load(Param("b").Base(), GP64())
	// bAt is vector j of the B row off bytes into the first panel.
	bAt := func(j, off int) Mem {
		per := zNR / 16
		m := Mem{Base: b, Disp: off + 64*(j%per)}
		if j >= per {
			m = m.Idx(ldb, 1)
		}
		return m
	}
	s := GP64()
	MOVQ(kc, s)
	SHLQ(U8(2), s)
	// The row bases move along the rows; a stays at the tile's first row.
	a0 := GP64()
	MOVQ(a, a0)
	ab := bases(a0, s, r)
	row := rowsAt(ab, s)

	acc := make([][]VecVirtual, r)
	for i := range acc {
		acc[i] = make([]VecVirtual, v)
		for j := range acc[i] {
			acc[i][j] = ZMM()
			VPXORD(acc[i][j], acc[i][j], acc[i][j])
		}
	}
	step := func(aoff, boff int) {
		bv := make([]VecVirtual, v)
		for j := range bv {
			bv[j] = ZMM()
			VMOVUPS(bAt(j, boff), bv[j])
		}
		for i := range r {
			x := ZMM()
			VBROADCASTSS(row(i, aoff), x)
			for j := range bv {
				VFMADD231PS(bv[j], x, acc[i][j])
			}
		}
	}
	advance := func(steps int) {
		for _, base := range ab {
			ADDQ(U32(4*steps), base)
		}
		ADDQ(U32(4*zNR*steps), b)
	}

	Label(name + "_loop")
	CMPQ(kc, U8(unroll))
	JL(LabelRef(name + "_tail"))
	for u := range unroll {
		// The B panel's rows 16 steps ahead, into L1, a cache line each.
		for j := range v {
			PREFETCHT0(bAt(j, 4*zNR*(16+u)))
		}
		step(4*u, 4*zNR*u)
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
	crow := rowsAt(bases(c, ldc, r), ldc)
	// k[j] selects the columns of vector j.
	var k []OpmaskVirtual
	if masked {
		m := GP64()
		Load(Param("mask"), m)
		k = make([]OpmaskVirtual, v)
		for j := range k {
			k[j] = K()
			KMOVQ(m, k[j])
			if j > 0 {
				KSHIFTRQ(U8(16*j), k[j], k[j])
			}
		}
	}
	flags := Load(Param("flags"), GP64())
	TESTQ(U32(flagAcc), flags)
	JZ(LabelRef(name + "_bias"))
	for i := range r {
		for j := range v {
			if masked {
				VADDPS_Z(crow(i, 64*j), acc[i][j], k[j], acc[i][j])
			} else {
				VADDPS(crow(i, 64*j), acc[i][j], acc[i][j])
			}
		}
	}
	Label(name + "_bias")
	TESTQ(U32(flagBias), flags)
	JZ(LabelRef(name + "_relu"))
	bias := Load(Param("bias").Base(), GP64())
	for j := range v {
		bj := ZMM()
		if masked {
			VMOVUPS_Z(Mem{Base: bias, Disp: 64 * j}, k[j], bj)
		} else {
			VMOVUPS(Mem{Base: bias, Disp: 64 * j}, bj)
		}
		for i := range r {
			VADDPS(bj, acc[i][j], acc[i][j])
		}
	}
	Label(name + "_relu")
	TESTQ(U32(flagRelu), flags)
	JZ(LabelRef(name + "_six"))
	// VMAXPS returns its second source, the sum, when that is NaN and when
	// both are zeros: NaN and -0 stay, as in the reference loop.
	zero := ZMM()
	VPXORD(zero, zero, zero)
	for i := range r {
		for j := range v {
			VMAXPS(acc[i][j], zero, acc[i][j])
		}
	}
	Label(name + "_six")
	TESTQ(U32(flagSix), flags)
	JZ(LabelRef(name + "_silu"))
	// VMINPS too returns the sum when it is NaN.
	sixGP, sixZ := GP32(), ZMM()
	MOVL(U32(six), sixGP)
	VPBROADCASTD(sixGP, sixZ)
	for i := range r {
		for j := range v {
			VMINPS(acc[i][j], sixZ, acc[i][j])
		}
	}
	Label(name + "_silu")
	TESTQ(U32(flagSilu), flags)
	JZ(LabelRef(name + "_write"))
	for i := range r {
		for j := range v {
			z.silu.Apply(acc[i][j])
		}
	}
	Label(name + "_write")
	for i := range r {
		for j := range v {
			if masked {
				VMOVUPS(acc[i][j], k[j], crow(i, 64*j))
			} else {
				VMOVUPS(acc[i][j], crow(i, 64*j))
			}
		}
	}
	if panel {
		DECQ(tiles)
		JZ(LabelRef(name + "_done"))
		// The next tile starts r rows of A and of C on.
		for range r {
			ADDQ(s, a)
			ADDQ(ldc, c)
		}
		JMP(LabelRef(name + "_next"))
		Label(name + "_done")
	}
	VZEROUPPER()
	RET()
}
