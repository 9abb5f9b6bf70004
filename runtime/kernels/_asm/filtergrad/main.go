// Command filtergrad generates the direct filter-gradient kernels of package
// runtime/kernels/backward: with avo the AVX2 ones (filtergrad_amd64.s and
// their Go declarations, 8 output channels a vector) and, with -avx512, the
// AVX-512 ones (16 a vector) in files of their own; with -neon the NEON
// ones (neon.go, 4 a vector), by the small emitter in package neon.
//
// Run it from runtime/kernels/_asm, as the go:generate lines in package
// backward do:
//
//	go run ./filtergrad -out ../backward/filtergrad_amd64.s -stubs ../backward/filtergrad_amd64.go -pkg backward -neon ../backward/filtergrad_arm64
//	go run ./filtergrad -avx512 -out ../backward/filtergrad_avx512_amd64.s -stubs ../backward/filtergrad_avx512_amd64.go -pkg backward
//
// The output depends only on these arguments.
//
// A kernel adds to a block of tb taps' gradients, for up to vecs vectors of
// output channels, the products of every output pixel of a grid (rows of
// cells) with each tap's input value: the accumulators, tb·vecs vectors,
// stay in registers over the whole grid, and a pixel costs vecs loads of
// dy, tb broadcasts of x and tb·vecs FMAs. The taps' offsets live in
// general registers (at most 8 of them, which is what bounds tb), so a
// broadcast is one load with no arithmetic. There is one function per
// (tb, vecs): avo allocates registers per function, and the blocks must be
// known to keep the accumulators in registers.
package main

import (
	"flag"
	"fmt"

	"github.com/mdlc/mdlc/runtime/kernels/_asm/avx2"
	"github.com/mdlc/mdlc/runtime/kernels/_asm/neon"
	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/gotypes"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

var avx512 = flag.Bool("avx512", false, "generate the AVX-512 kernels instead")

// maxTaps is the largest block of taps: each tap's offset takes a general
// register, and the loops six more.
const maxTaps = 8

func main() {
	flag.Parse()
	ConstraintExpr("amd64,!purego")
	if *avx512 {
		// fgzmasks[n] selects a vector's first n lanes, n from 0 to 16.
		tail := GLOBL("fgzmasks", RODATA|NOPTR)
		for n := range 17 {
			DATA(2*n, U16(1<<n-1))
		}
		s := x86{set: "AVX512", lanes: 16, vec: func() VecVirtual { return ZMM() }, mask: func(n GPVirtual) Op {
			base := GP64()
			LEAQ(tail, base)
			k := K()
			KMOVW(Mem{Base: base, Index: n, Scale: 2}, k)
			return k
		}, load: func(m Mem, mask Op, y VecVirtual) { VMOVUPS_Z(m, mask, y) },
			store: func(y VecVirtual, mask Op, m Mem) { VMOVUPS(y, mask, m) }}
		// Up to 4 vectors (64 channels): 32 registers hold 6 taps by 4
		// vectors, the 4 of dy and a broadcast; 8 taps by 1 to 3.
		for vecs := 1; vecs <= 4; vecs++ {
			for tb := 1; tb <= maxTaps && tb*vecs+vecs+1 <= 29; tb++ {
				s.kernel(tb, vecs)
			}
		}
		Generate()
		return
	}
	// fgmasks+32-4n holds the mask of a vector's first n lanes, n from 1
	// to 8: 8 words of ones, then 8 of zeros.
	tail := GLOBL("fgmasks", RODATA|NOPTR)
	for i := range 8 {
		DATA(4*i, U32(0xffffffff))
	}
	for i := 8; i < 16; i++ {
		DATA(4*i, U32(0))
	}
	s := x86{set: "AVX2", lanes: 8, vec: func() VecVirtual { return YMM() }, mask: func(n GPVirtual) Op {
		neg, base := GP64(), GP64()
		MOVQ(n, neg)
		NEGQ(neg)
		LEAQ(tail.Offset(32), base)
		m := YMM()
		VMOVDQU(Mem{Base: base, Index: neg, Scale: 4}, m)
		return m
	}, load: func(m Mem, mask Op, y VecVirtual) { VMASKMOVPS(m, mask, y) },
		store: func(y VecVirtual, mask Op, m Mem) { VMASKMOVPS(y, mask, m) }}
	// 16 registers: tb·vecs accumulators, vecs of dy, a broadcast, the
	// mask.
	for vecs := 1; vecs <= 2; vecs++ {
		for tb := 1; tb <= maxTaps && tb*vecs+vecs+2 <= 16; tb++ {
			s.kernel(tb, vecs)
		}
	}
	avx2.Generate()
	neon.Generate("backward", writeNEON)
}

// x86 is what the AVX2 and AVX-512 kernels differ in.
type x86 struct {
	set   string
	lanes int
	vec   func() VecVirtual
	// mask is the mask of the first n lanes, 1 ≤ n ≤ lanes.
	mask func(n GPVirtual) Op
	// load and store move the lanes of a vector the mask selects.
	load  func(m Mem, mask Op, y VecVirtual)
	store func(y VecVirtual, mask Op, m Mem)
}

const sig = "func(acc []float32, ld int, x, dy []float32, taps []int, c, cells, rows, stride, xrows, dystride, dyrows int)"

func doc(name string, tb, vecs, lanes int) []string {
	return []string{
		fmt.Sprintf("%s adds to %d taps' gradients in acc (rows ld floats apart),", name, tb),
		fmt.Sprintf("c ≤ %d output channels each, the products over a grid of rows by", vecs*lanes),
		"cells output pixels of each tap's input value, at the byte offset taps[k]",
		"from the pixel's start in x, with the pixel's c values of dy, each",
		"product fused into its sum, pixels in row order:",
		"",
		"\tfor k := range taps {",
		"\t\tfor ch := range c {",
		"\t\t\tfor r := range rows {",
		"\t\t\t\tfor t := range cells {",
		"\t\t\t\t\tacc[k*ld+ch] += x[r*xrows+t*stride+taps[k]/4] * dy[r*dyrows+t*dystride+ch]",
		"\t\t\t\t}",
		"\t\t\t}",
		"\t\t}",
		"\t}",
		"",
		fmt.Sprintf("len(taps) must be %d, c at least 1, cells and rows at least 1. The", tb),
		"caller checks that x and dy hold every cell read.",
	}
}

// kernel generates filterTaps<tb>x<vecs><set>.
func (s x86) kernel(tb, vecs int) {
	name := fmt.Sprintf("filterTaps%dx%d%s", tb, vecs, s.set)
	vb := 4 * s.lanes
	TEXT(name, NOSPLIT, sig)
	Pragma("noescape")
	Doc(doc(name, tb, vecs, s.lanes)...)

	// The last vector's lanes: c - (vecs-1)·lanes, under a mask; the
	// others are whole.
	n := gp(Param("c"))
	if vecs > 1 {
		SUBQ(imm((vecs-1)*s.lanes), n)
	}
	mask := s.mask(n)
	last := func(v int) Op {
		if v == vecs-1 {
			return mask
		}
		return nil
	}
	load := func(m Mem, v int, y VecVirtual) {
		if mk := last(v); mk != nil {
			s.load(m, mk, y)
		} else {
			VMOVUPS(m, y)
		}
	}
	store := func(y VecVirtual, v int, m Mem) {
		if mk := last(v); mk != nil {
			s.store(y, mk, m)
		} else {
			VMOVUPS(y, m)
		}
	}

	// The accumulators, from acc.
	ap := gp(Param("acc").Base())
	ld := gp(Param("ld"))
	SHLQ(U8(2), ld)
	acc := make([][]VecVirtual, tb)
	{
		p := GP64()
		MOVQ(ap, p)
		for k := range tb {
			acc[k] = make([]VecVirtual, vecs)
			for v := range vecs {
				acc[k][v] = s.vec()
				load(Mem{Base: p, Disp: vb * v}, v, acc[k][v])
			}
			if k < tb-1 {
				ADDQ(ld, p)
			}
		}
	}

	// The taps' offsets.
	tp := gp(Param("taps").Base())
	offs := make([]GPVirtual, tb)
	for k := range tb {
		offs[k] = GP64()
		MOVQ(Mem{Base: tp, Disp: 8 * k}, offs[k])
	}

	// Bytes from a row's last pixel on to the next row's first, in
	// locals: (xrows - cells·stride)·4, and dy's likewise.
	xskip, dskip := AllocLocal(8), AllocLocal(8)
	t := gp(Param("cells"))
	u := GP64()
	for _, r := range []struct {
		rows, stride string
		skip         Mem
	}{{"xrows", "stride", xskip}, {"dyrows", "dystride", dskip}} {
		MOVQ(t, u)
		IMULQ(resolve(r.stride), u)
		NEGQ(u)
		ADDQ(resolve(r.rows), u)
		SHLQ(U8(2), u)
		MOVQ(u, r.skip)
	}

	xp := gp(Param("x").Base())
	dp := gp(Param("dy").Base())
	rows := gp(Param("rows"))
	cells, tmp := GP64(), GP64()
	Label("row")
	Load(Param("cells"), cells)
	Label("cell")
	d := make([]VecVirtual, vecs)
	for v := range vecs {
		d[v] = s.vec()
		load(Mem{Base: dp, Disp: vb * v}, v, d[v])
	}
	for k := range tb {
		at := Mem{Base: xp, Index: offs[k], Scale: 1}
		// One vector: AVX-512's FMA broadcasts from memory itself. More:
		// a broadcast load each, shared by the FMAs, keeps the loads a
		// pixel at tb + vecs rather than tb·vecs + vecs (6 by 4: 10 for
		// 24 FMAs, not 28, which two load ports take longer over than two
		// FMA ports do the FMAs).
		if s.lanes == 16 && vecs == 1 {
			for v := range vecs {
				VFMADD231PS_BCST(at, d[v], acc[k][v])
			}
			continue
		}
		b := s.vec()
		VBROADCASTSS(at, b)
		for v := range vecs {
			VFMADD231PS(b, d[v], acc[k][v])
		}
	}
	// The strides are in floats: a LEAQ with scale 4 steps by their bytes.
	MOVQ(resolve("stride"), tmp)
	LEAQ(Mem{Base: xp, Index: tmp, Scale: 4}, xp)
	MOVQ(resolve("dystride"), tmp)
	LEAQ(Mem{Base: dp, Index: tmp, Scale: 4}, dp)
	DECQ(cells)
	JNZ(LabelRef("cell"))
	ADDQ(xskip, xp)
	ADDQ(dskip, dp)
	DECQ(rows)
	JNZ(LabelRef("row"))

	ap = gp(Param("acc").Base())
	ld = gp(Param("ld"))
	SHLQ(U8(2), ld)
	for k := range tb {
		for v := range vecs {
			store(acc[k][v], v, Mem{Base: ap, Disp: vb * v})
		}
		if k < tb-1 {
			ADDQ(ld, ap)
		}
	}
	VZEROUPPER()
	RET()
}

// imm is n as an immediate, a byte where it fits in a signed one.
func imm(n int) Op {
	if n < 128 {
		return U8(n)
	}
	return U32(n)
}

// resolve is the address of an argument.
func resolve(name string) Mem {
	b, err := Param(name).Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}

// gp loads a parameter into a new register.
func gp(c gotypes.Component) GPVirtual {
	r := GP64()
	Load(c, r)
	return r
}
