// Command winograd generates the Winograd F(2×2, 3×3) transforms of package
// runtime/kernels/conv, vectorised across channels: the AVX2 ones with avo
// (winograd_amd64.s and their Go declarations, 8 channels a vector), and the
// NEON ones with the small emitter in neon.go (winograd_arm64.s and its
// declarations, 4 channels a vector), because avo writes only amd64; with
// -avx512, the AVX-512 ones (16 channels a vector, then 8). The channels past
// the last full vector go one at a time, in the low lane.
//
// Each kernel computes the float32 additions of package conv's generic loop
// (inputGeneric, outputGeneric, poolGeneric) in the same order, so that every
// set gives the same bits.
//
// Run it from runtime/kernels/_asm, as the go:generate line in package conv
// does:
//
//	go run ./winograd -out ../conv/winograd_amd64.s -stubs ../conv/winograd_amd64.go -pkg conv -neon ../conv/winograd_arm64
//	go run ./winograd -avx512 -out ../conv/winograd_avx512_amd64.s -stubs ../conv/winograd_avx512_amd64.go -pkg conv
//
// The output depends only on these arguments.
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

// avx512 selects the AVX-512 kernels, in files of their own: the AVX2 files
// are checked for AVX2's 16 registers.
var avx512 = flag.Bool("avx512", false, "generate the AVX-512 kernels instead")

func main() {
	flag.Parse()
	ConstraintExpr("amd64,!purego")
	if *avx512 {
		// 16 channels a ZMM vector, then 8 a YMM one, then one at a time.
		vecs := []lanes{zvector, vector}
		input("AVX512", vecs)
		output(false, "AVX512", vecs)
		output(true, "AVX512", vecs)
		Generate()
		return
	}
	vecs := []lanes{vector}
	input("AVX2", vecs)
	output(false, "AVX2", vecs)
	output(true, "AVX2", vecs)
	avx2.Generate()
	neon.Generate("conv", writeNEON)
}

// The kernels' Go signatures and doc comments, shared by both sets.
const (
	inputSig  = "func(tiles, n int, d []float32, sx, sy int, v []float32, vt, vs int)"
	outputSig = "func(tiles, n int, m []float32, ms int, y []float32, sx, sy int, bias []float32, relu bool)"
	poolSig   = "func(tiles, n int, m []float32, ms int, y []float32, bias []float32, relu bool)"
)

func inputDoc(name string, lanes int) []string {
	return []string{
		fmt.Sprintf("%s is transforms.in, %d channels a vector: V = Bᵀ d B for", name, lanes),
		"tiles 4×4 input tiles along a row, n channels each,",
		"",
		"\ttile t's d[i][j][ch] = d[2t*sx + i*sy + j*sx + ch]",
		"\tv[t*vt + (4i+j)*vs + ch] = (Bᵀ d B)[i][j][ch]",
		"",
		"with the operations of inputGeneric.",
	}
}

func outputDoc(name string, lanes int, pool bool) []string {
	if pool {
		return []string{
			fmt.Sprintf("%s is transforms.pool, %d channels a vector: the 2×2 max of", name, lanes),
			"each output tile Y = Aᵀ m A, plus the bias, relu if asked,",
			"",
			"\ty[t*n + ch] = relu?(max_ij (Aᵀ m A)[i][j][ch] + bias[ch])",
			"",
			"with the operations of poolGeneric.",
		}
	}
	return []string{
		fmt.Sprintf("%s is transforms.out, %d channels a vector: Y = Aᵀ m A for", name, lanes),
		"tiles 2×2 output tiles along a row, n channels each, plus the bias, relu",
		"if asked,",
		"",
		"\ttile t's m[4i+j][ch] = m[t*n + (4i+j)*ms + ch]",
		"\ty[2t*sx + i*sy + j*sx + ch] = relu?((Aᵀ m A)[i][j][ch] + bias[ch])",
		"",
		"with the operations of outputGeneric.",
	}
}

// lanes is how a body handles channels: a ZMM vector of 16, a YMM vector of
// 8, or one in the low lane of an XMM register.
type lanes struct {
	bytes int
	reg   func() VecVirtual
	load  func(m Mem, r VecVirtual)
	store func(r VecVirtual, m Mem)
	add   func(a Op, b, d VecVirtual) // d = b + a
	sub   func(a Op, b, d VecVirtual) // d = b - a
	max   func(a Op, b, d VecVirtual) // d = b > a ? b : a
}

var (
	vector = lanes{
		bytes: 32,
		reg:   func() VecVirtual { return YMM() },
		load:  func(m Mem, r VecVirtual) { VMOVUPS(m, r) },
		store: func(r VecVirtual, m Mem) { VMOVUPS(r, m) },
		add:   func(a Op, b, d VecVirtual) { VADDPS(a, b, d) },
		sub:   func(a Op, b, d VecVirtual) { VSUBPS(a, b, d) },
		max:   func(a Op, b, d VecVirtual) { VMAXPS(a, b, d) },
	}
	zvector = lanes{
		bytes: 64,
		reg:   func() VecVirtual { return ZMM() },
		load:  func(m Mem, r VecVirtual) { VMOVUPS(m, r) },
		store: func(r VecVirtual, m Mem) { VMOVUPS(r, m) },
		add:   func(a Op, b, d VecVirtual) { VADDPS(a, b, d) },
		sub:   func(a Op, b, d VecVirtual) { VSUBPS(a, b, d) },
		max:   func(a Op, b, d VecVirtual) { VMAXPS(a, b, d) },
	}
	scalar = lanes{
		bytes: 4,
		reg:   func() VecVirtual { return XMM() },
		load:  func(m Mem, r VecVirtual) { VMOVSS(m, r) },
		store: func(r VecVirtual, m Mem) { VMOVSS(r, m) },
		add:   func(a Op, b, d VecVirtual) { VADDSS(a, b, d) },
		sub:   func(a Op, b, d VecVirtual) { VSUBSS(a, b, d) },
		max:   func(a Op, b, d VecVirtual) { VMAXSS(a, b, d) },
	}
)

// col is element j of a row at base, columns s apart (s3 = 3s).
func col(base, s, s3 GPVirtual, j int) Mem {
	switch j {
	case 0:
		return Mem{Base: base}
	case 1:
		return Mem{Base: base, Index: s, Scale: 1}
	case 2:
		return Mem{Base: base, Index: s, Scale: 2}
	}
	return Mem{Base: base, Index: s3, Scale: 1}
}

// channels emits the loop over n channels: vectors of each width of vecs in
// turn, widest first, then single channels, each running body with the
// lanes and advancing the pointers by its width.
func channels(name string, n GPVirtual, vecs []lanes, body func(l lanes), ptrs ...GPVirtual) {
	for i, l := range vecs {
		w := l.bytes / 4
		next := name + "_one"
		if i+1 < len(vecs) {
			next = fmt.Sprintf("%s_vec%d", name, vecs[i+1].bytes/4)
		}
		Label(fmt.Sprintf("%s_vec%d", name, w))
		CMPQ(n, U8(w))
		JL(LabelRef(next))
		body(l)
		for _, p := range ptrs {
			ADDQ(U8(l.bytes), p)
		}
		SUBQ(U8(w), n)
		JMP(LabelRef(fmt.Sprintf("%s_vec%d", name, w)))
	}
	Label(name + "_one")
	TESTQ(n, n)
	JZ(LabelRef(name + "_end"))
	body(scalar)
	for _, p := range ptrs {
		ADDQ(U8(4), p)
	}
	DECQ(n)
	JMP(LabelRef(name + "_one"))
	Label(name + "_end")
}

// at is base + k*s, k < 16, as LEAs.
func at(base, s GPVirtual, k int) GPVirtual {
	if k == 0 {
		return base
	}
	r := base
	for _, sc := range []int{8, 4, 2, 1} {
		if k >= sc {
			t := GP64()
			LEAQ(Mem{Base: r, Index: s, Scale: uint8(sc)}, t)
			r, k = t, k-sc
		}
	}
	return r
}

// load loads a parameter into a new register.
func load(c gotypes.Component) GPVirtual {
	r := GP64()
	Load(c, r)
	return r
}

// bytesParam loads an int parameter and scales it to bytes.
func bytesParam(name string) GPVirtual {
	r := load(Param(name))
	SHLQ(U8(2), r)
	return r
}

func input(set string, vecs []lanes) {
	name := "input" + set
	TEXT(name, NOSPLIT, inputSig)
	Pragma("noescape")
	Doc(inputDoc(name, vecs[0].bytes/4)...)
	tiles := load(Param("tiles"))
	p := load(Param("d").Base())
	q := load(Param("v").Base())
	sx, sy, vs := bytesParam("sx"), bytesParam("sy"), bytesParam("vs")
	sx3, vs3 := GP64(), GP64()
	LEAQ(Mem{Base: sx, Index: sx, Scale: 2}, sx3)
	LEAQ(Mem{Base: vs, Index: vs, Scale: 2}, vs3)

	Label(name + "_tile")
	TESTQ(tiles, tiles)
	JZ(LabelRef(name + "_done"))
	n := load(Param("n"))
	channels(name, n, vecs, func(l lanes) {
		// Output row i of Bᵀ d combines input rows a and b: r = x[a] ± x[b].
		rows := [4]struct {
			a, b int
			add  bool
		}{{0, 2, false}, {1, 2, true}, {2, 1, false}, {1, 3, false}}
		for i, rw := range rows {
			ra, rb := at(p, sy, rw.a), at(p, sy, rw.b)
			var r [4]VecVirtual
			for j := range 4 {
				r[j] = l.reg()
				l.load(col(ra, sx, sx3, j), r[j])
				if rw.add {
					l.add(col(rb, sx, sx3, j), r[j], r[j])
				} else {
					l.sub(col(rb, sx, sx3, j), r[j], r[j])
				}
			}
			o := at(q, vs, 4*i)
			var u [4]VecVirtual
			for j := range u {
				u[j] = l.reg()
			}
			l.sub(r[2], r[0], u[0]) // r0 - r2
			l.add(r[2], r[1], u[1]) // r1 + r2
			l.sub(r[1], r[2], u[2]) // r2 - r1
			l.sub(r[3], r[1], u[3]) // r1 - r3
			for j := range 4 {
				l.store(u[j], col(o, vs, vs3, j))
			}
		}
	}, p, q)
	// The pointers are n channels on: on to the next tile, 2 columns and
	// vt floats on from this one's start.
	n4 := bytesParam("n")
	SUBQ(n4, p)
	SUBQ(n4, q)
	LEAQ(Mem{Base: p, Index: sx, Scale: 2}, p)
	vt := load(Param("vt"))
	LEAQ(Mem{Base: q, Index: vt, Scale: 4}, q)
	DECQ(tiles)
	JMP(LabelRef(name + "_tile"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// output generates output<set>, or with pool pool<set>.
func output(pool bool, set string, vecs []lanes) {
	name, sig := "output"+set, outputSig
	if pool {
		name, sig = "pool"+set, poolSig
	}
	TEXT(name, NOSPLIT, sig)
	Pragma("noescape")
	Doc(outputDoc(name, vecs[0].bytes/4, pool)...)
	tiles := load(Param("tiles"))
	q := load(Param("m").Base())
	y := load(Param("y").Base())
	b := load(Param("bias").Base())
	relu := Load(Param("relu"), GP8())
	ms := bytesParam("ms")
	ms3 := GP64()
	LEAQ(Mem{Base: ms, Index: ms, Scale: 2}, ms3)
	var sx, sy GPVirtual
	if !pool {
		sx, sy = bytesParam("sx"), bytesParam("sy")
	}

	Label(name + "_tile")
	TESTQ(tiles, tiles)
	JZ(LabelRef(name + "_done"))
	n := load(Param("n"))
	channels(name, n, vecs, func(l lanes) {
		// Rows of positions: m[4k+j] at q + 4k*ms + j*ms.
		var base [4]GPVirtual
		base[0] = q
		for k := 1; k < 4; k++ {
			base[k] = GP64()
			LEAQ(Mem{Base: base[k-1], Index: ms, Scale: 4}, base[k])
		}
		var ys [2][2]VecVirtual
		for i := range 2 {
			var r [4]VecVirtual
			for j := range 4 {
				r[j] = l.reg()
				if i == 0 { // m0 + m1 + m2
					l.load(col(base[0], ms, ms3, j), r[j])
					l.add(col(base[1], ms, ms3, j), r[j], r[j])
					l.add(col(base[2], ms, ms3, j), r[j], r[j])
				} else { // m1 - m2 - m3
					l.load(col(base[1], ms, ms3, j), r[j])
					l.sub(col(base[2], ms, ms3, j), r[j], r[j])
					l.sub(col(base[3], ms, ms3, j), r[j], r[j])
				}
			}
			ys[i][0], ys[i][1] = l.reg(), l.reg()
			l.add(r[1], r[0], ys[i][0]) // r0 + r1 + r2
			l.add(r[2], ys[i][0], ys[i][0])
			l.sub(r[2], r[1], ys[i][1]) // r1 - r2 - r3
			l.sub(r[3], ys[i][1], ys[i][1])
		}
		finish := func(v VecVirtual) {
			l.add(Mem{Base: b}, v, v)
			skip := fmt.Sprintf("%s_norelu%d_%d", name, l.bytes, labels)
			labels++
			TESTB(relu, relu)
			JZ(LabelRef(skip))
			// VMAXPS keeps its second operand, v, if v is NaN or a zero:
			// x < 0 becomes 0, as in the Go loop.
			z := l.reg()
			VXORPS(z, z, z)
			l.max(v, z, v)
			Label(skip)
		}
		if pool {
			v := ys[0][0]
			for _, u := range []VecVirtual{ys[0][1], ys[1][0], ys[1][1]} {
				l.max(v, u, v) // u > v ? u : v
			}
			finish(v)
			l.store(v, Mem{Base: y})
			return
		}
		for i := range 2 {
			row := y
			if i == 1 {
				row = GP64()
				LEAQ(Mem{Base: y, Index: sy, Scale: 1}, row)
			}
			for j := range 2 {
				finish(ys[i][j])
				l.store(ys[i][j], col(row, sx, sx, j))
			}
		}
	}, q, y, b)
	// q is on to the next tile's m; the bias starts again; y (unpooled) is
	// 2 columns on from this tile's start.
	n4 := bytesParam("n")
	SUBQ(n4, b)
	if !pool {
		SUBQ(n4, y)
		LEAQ(Mem{Base: y, Index: sx, Scale: 2}, y)
	}
	DECQ(tiles)
	JMP(LabelRef(name + "_tile"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// labels numbers the branch labels within a kernel.
var labels int
