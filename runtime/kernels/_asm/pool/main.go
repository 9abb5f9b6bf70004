// Command pool generates the pooling kernels of package runtime/kernels/pool:
// the AVX2 ones with avo (pool_amd64.s and their Go declarations), and the
// NEON ones with the small emitter in neon.go (pool_arm64.s and its
// declarations), because avo writes only amd64; with -avx512, the AVX-512
// ones (avx512.go), in files of their own.
//
// Run it from runtime/kernels/_asm, as the go:generate line in package pool
// does:
//
//	go run ./pool -out ../pool/pool_amd64.s -stubs ../pool/pool_amd64.go -pkg pool -neon ../pool/pool_arm64
//	go run ./pool -avx512 -out ../pool/pool_avx512_amd64.s -stubs ../pool/pool_avx512_amd64.go -pkg pool
//
// The output depends only on these arguments.
//
// Each kernel does a whole run of cells per call, not one cell: the fused
// conv+maxpool pools 32 or 64 channels (4 or 8 vectors) per cell, so a call
// per cell would cost as much as the cell.
package main

import (
	"flag"

	"github.com/mdlc/mdlc/runtime/kernels/_asm/avx2"
	"github.com/mdlc/mdlc/runtime/kernels/_asm/neon"
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

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
	tail := GLOBL("tailmask", RODATA|NOPTR)
	for i := range 8 {
		DATA(4*i, U32(0xffffffff))
	}
	for i := 8; i < 16; i++ {
		DATA(4*i, U32(0))
	}
	s := avx2ISA(tail)
	s.cells(false)
	s.cells(true)
	s.addRows()
	s.maxGrad2x2()
	avx2.Generate()
	neon.Generate("pool", writeNEON)
}

// The kernels' contracts, as the reference loops in Go, for their doc
// comments.

func cellsName(avg bool, set string) string {
	if avg {
		return "avgCells" + set
	}
	return "maxCells" + set
}

func cellsSig(avg bool) string {
	if avg {
		return "func(out, x []float32, taps []int, cells, c, stride int, div float32)"
	}
	return "func(out, x []float32, taps []int, cells, c, stride int)"
}

func cellsDoc(avg bool, name string) []string {
	op, fin := "acc[ch] = max(acc[ch], x[off+ch])", "out[i*c+ch] = acc[ch]"
	if avg {
		op, fin = "acc[ch] += x[off+ch]", "out[i*c+ch] = acc[ch] / div"
	}
	return []string{
		name + " pools cells cells of c channels, stride floats apart in x, over",
		"the taps whose offsets (in bytes) taps lists, in the order listed:",
		"",
		"\tfor i := range cells {",
		"\t\tfor ch := range c {",
		"\t\t\tacc[ch] = x[i*stride+taps[0]/4+ch]",
		"\t\t\tfor _, t := range taps[1:] {",
		"\t\t\t\toff := i*stride + t/4",
		"\t\t\t\t" + op,
		"\t\t\t}",
		"\t\t\t" + fin,
		"\t\t}",
		"\t}",
		"",
		"taps must not be empty. The caller checks that x holds every tap.",
	}
}

func addRowsDoc(name string) []string {
	return []string{
		name + " adds rows rows of c floats, c apart in x, to acc, in row order:",
		"",
		"\tfor r := range rows {",
		"\t\tfor ch := range c {",
		"\t\t\tacc[ch] += x[r*c+ch]",
		"\t\t}",
		"\t}",
	}
}

// x86 is what the AVX2 and AVX-512 kernels differ in: the vector width, the
// register kind and how the last channels are masked. The kernels are
// otherwise the same code.
type x86 struct {
	set   string // the symbols' suffix
	lanes int    // floats per vector
	vec   func() VecVirtual
	// mask returns the mask of the first n lanes, n < lanes.
	mask func(n GPVirtual) Op
	// load and store move one vector, limited to the mask's lanes if mask
	// is not nil.
	load  func(m Mem, mask Op, y VecVirtual)
	store func(y VecVirtual, mask Op, m Mem)
}

// avx2ISA masks with VMASKMOVPS, which reads and writes only the mask's
// lanes (the others are garbage never stored).
func avx2ISA(tail Mem) x86 {
	return x86{
		set: "AVX2", lanes: 8, vec: func() VecVirtual { return YMM() },
		mask: func(n GPVirtual) Op { return tailMask(tail, n) },
		load: func(m Mem, mask Op, y VecVirtual) {
			if mask != nil {
				VMASKMOVPS(m, mask, y)
			} else {
				VMOVUPS(m, y)
			}
		},
		store: func(y VecVirtual, mask Op, m Mem) {
			if mask != nil {
				VMASKMOVPS(y, mask, m)
			} else {
				VMOVUPS(y, m)
			}
		},
	}
}

// tailMask loads the mask whose first n lanes are set: 8 words from
// tailmask+32-4n.
func tailMask(tail Mem, n GPVirtual) VecVirtual {
	neg, base := GP64(), GP64()
	MOVQ(n, neg)
	NEGQ(neg)
	LEAQ(tail.Offset(32), base)
	m := YMM()
	VMOVDQU(Mem{Base: base, Index: neg, Scale: 4}, m)
	return m
}

// group is how many vectors a pass carries: 32 floats with AVX2, the fused
// conv+maxpool's usual channel count, in one pass; 64 with AVX-512, so that
// 64 channels take one pass over the taps (with 2 vectors, AVX2's 32
// floats, 112×112×64 max pooling ran slower than AVX2's: 97-135 µs against
// 55-96, Zen 5).
const group = 4

// imm is an immediate of the narrowest type that holds v, so that the
// generated text stays what it was when each set had its own generator.
func imm(v int) Op {
	if v <= 255 {
		return U8(v)
	}
	return U32(v)
}

// cells generates maxCells<set> or avgCells<set>: per cell, the channels in
// passes of group vectors, then of 1, then the last few under a mask. Each
// pass walks the taps list.
func (s x86) cells(avg bool) {
	name := cellsName(avg, s.set)
	TEXT(name, NOSPLIT, cellsSig(avg))
	Pragma("noescape")
	Doc(cellsDoc(avg, name)...)
	out := Load(Param("out").Base(), GP64())
	x := Load(Param("x").Base(), GP64())
	taps := Load(Param("taps").Base(), GP64())
	tend := Load(Param("taps").Len(), GP64())
	SHLQ(U8(3), tend)
	ADDQ(taps, tend)
	cells := Load(Param("cells"), GP64())
	c := Load(Param("c"), GP64())
	stride := Load(Param("stride"), GP64())
	SHLQ(U8(2), stride)
	var div VecVirtual
	if avg {
		div = s.vec()
		VBROADCASTSS(resolve("div"), div)
	}
	combine := VMAXPS
	if avg {
		combine = VADDPS
	}
	ch, xo, t, off := GP64(), GP64(), GP64(), GP64()
	width := 4 * s.lanes

	// pass pools vecs vectors at xo into out, over every tap; mask, if set,
	// limits the one vector to its lanes.
	pass := func(label string, vecs int, mask Op) {
		acc := make([]VecVirtual, vecs)
		MOVQ(taps, t)
		MOVQ(Mem{Base: t}, off)
		ADDQ(xo, off)
		for j := range acc {
			acc[j] = s.vec()
			s.load(Mem{Base: off, Disp: width * j}, mask, acc[j])
		}
		Label(label + "_tap")
		ADDQ(U8(8), t)
		CMPQ(t, tend)
		JE(LabelRef(label + "_store"))
		MOVQ(Mem{Base: t}, off)
		ADDQ(xo, off)
		for j := range acc {
			v := s.vec()
			s.load(Mem{Base: off, Disp: width * j}, mask, v)
			combine(v, acc[j], acc[j])
		}
		JMP(LabelRef(label + "_tap"))
		Label(label + "_store")
		for j := range acc {
			if avg {
				VDIVPS(div, acc[j], acc[j])
			}
			s.store(acc[j], mask, Mem{Base: out, Disp: width * j})
		}
	}

	Label("cell")
	MOVQ(c, ch)
	MOVQ(x, xo)
	Label("group")
	CMPQ(ch, U8(s.lanes*group))
	JL(LabelRef("one"))
	pass("group", group, nil)
	ADDQ(imm(width*group), xo)
	ADDQ(imm(width*group), out)
	SUBQ(U8(s.lanes*group), ch)
	JMP(LabelRef("group"))
	Label("one")
	CMPQ(ch, U8(s.lanes))
	JL(LabelRef("tail"))
	pass("one", 1, nil)
	ADDQ(U8(width), xo)
	ADDQ(U8(width), out)
	SUBQ(U8(s.lanes), ch)
	JMP(LabelRef("one"))
	Label("tail")
	TESTQ(ch, ch)
	JE(LabelRef("next"))
	pass("tail", 1, s.mask(ch))
	SHLQ(U8(2), ch)
	ADDQ(ch, out)
	Label("next")
	ADDQ(stride, x)
	DECQ(cells)
	JNZ(LabelRef("cell"))
	VZEROUPPER()
	RET()
}

// addRows generates addRows<set>: the channels in passes of group vectors,
// then 1, then a masked tail; each pass loads acc, adds every row, stores.
func (s x86) addRows() {
	name := "addRows" + s.set
	TEXT(name, NOSPLIT, "func(acc, x []float32, rows, c int)")
	Pragma("noescape")
	Doc(addRowsDoc(name)...)
	acc := Load(Param("acc").Base(), GP64())
	x := Load(Param("x").Base(), GP64())
	rows := Load(Param("rows"), GP64())
	ch := Load(Param("c"), GP64()).(GPVirtual)
	stride := GP64()
	MOVQ(ch, stride)
	SHLQ(U8(2), stride)
	TESTQ(rows, rows)
	JE(LabelRef("done"))
	p, n := GP64(), GP64()
	width := 4 * s.lanes
	pass := func(label string, vecs int, mask Op) {
		v := make([]VecVirtual, vecs)
		for j := range v {
			v[j] = s.vec()
			s.load(Mem{Base: acc, Disp: width * j}, mask, v[j])
		}
		MOVQ(x, p)
		MOVQ(rows, n)
		Label(label + "_row")
		for j := range v {
			y := s.vec()
			s.load(Mem{Base: p, Disp: width * j}, mask, y)
			VADDPS(y, v[j], v[j])
		}
		ADDQ(stride, p)
		DECQ(n)
		JNZ(LabelRef(label + "_row"))
		for j := range v {
			s.store(v[j], mask, Mem{Base: acc, Disp: width * j})
		}
	}
	Label("group")
	CMPQ(ch, U8(s.lanes*group))
	JL(LabelRef("one"))
	pass("group", group, nil)
	ADDQ(imm(width*group), x)
	ADDQ(imm(width*group), acc)
	SUBQ(U8(s.lanes*group), ch)
	JMP(LabelRef("group"))
	Label("one")
	CMPQ(ch, U8(s.lanes))
	JL(LabelRef("tail"))
	pass("one", 1, nil)
	ADDQ(U8(width), x)
	ADDQ(U8(width), acc)
	SUBQ(U8(s.lanes), ch)
	JMP(LabelRef("one"))
	Label("tail")
	TESTQ(ch, ch)
	JE(LabelRef("done"))
	pass("tail", 1, s.mask(ch))
	Label("done")
	VZEROUPPER()
	RET()
}

// resolve is the address of an argument.
func resolve(name string) Mem {
	b, err := Param(name).Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}

const maxGradSig = "func(x, dy, dx []float32, windows, c, row int)"

func maxGradDoc(name string) []string {
	return []string{
		name + " writes the max pool gradient of windows 2×2 windows, side by",
		"side along a row: window w's taps are the c channels at x[w*2*c:],",
		"x[w*2*c+c:], x[w*2*c+row:] and x[w*2*c+row+c:]; each channel's dy goes to",
		"its first maximal tap (a NaN counting as the maximum), +0 to the others:",
		"",
		"\tfor w := range windows {",
		"\t\tfor ch := range c {",
		"\t\t\ttaps := [4]int{w*2*c + ch, w*2*c + c + ch, w*2*c + row + ch, w*2*c + row + c + ch}",
		"\t\t\tbest, arg := x[taps[0]], 0",
		"\t\t\tfor k := 1; k < 4; k++ {",
		"\t\t\t\tif v := x[taps[k]]; v > best || v != v && best == best {",
		"\t\t\t\t\tbest, arg = v, k",
		"\t\t\t\t}",
		"\t\t\t}",
		"\t\t\tfor k, t := range taps {",
		"\t\t\t\tdx[t] = 0",
		"\t\t\t\tif k == arg {",
		"\t\t\t\t\tdx[t] = dy[w*c+ch] + 0 // -0 becomes +0",
		"\t\t\t\t}",
		"\t\t\t}",
		"\t\t}",
		"\t}",
		"",
		"The caller checks that x and dx hold every tap.",
	}
}

// maxGrad2x2 generates maxGrad2x2<set>: per window, the channels a vector at
// a time, the last few under a mask. Per vector, the running best and the
// taps' "later and better" masks g1..g3 (v > best, or v NaN and best not);
// tap k is the argmax where gk is set and no later g is (tap 0 where none
// is).
func (s x86) maxGrad2x2() {
	name := "maxGrad2x2" + s.set
	TEXT(name, NOSPLIT, maxGradSig)
	Pragma("noescape")
	Doc(maxGradDoc(name)...)
	x := Load(Param("x").Base(), GP64())
	dy := Load(Param("dy").Base(), GP64())
	dx := Load(Param("dx").Base(), GP64())
	windows := Load(Param("windows"), GP64())
	c := Load(Param("c"), GP64())
	row := Load(Param("row"), GP64())
	SHLQ(U8(2), row)
	cb := GP64() // c in bytes
	MOVQ(c, cb)
	SHLQ(U8(2), cb)
	zero := s.vec()
	VXORPS(zero, zero, zero)
	ch, xo, do, t := GP64(), GP64(), GP64(), GP64()
	width := 4 * s.lanes
	avx512 := s.set == "AVX512"

	// one handles a vector of channels at xo (x), do (dx) and dy, under mask.
	one := func(mask Op) {
		// The taps' addresses: xo, xo+c, xo+row, xo+row+c.
		addr := func(base GPVirtual, k int) Mem {
			switch k {
			case 0:
				return Mem{Base: base}
			case 1:
				return Mem{Base: base, Index: cb, Scale: 1}
			case 2:
				return Mem{Base: base, Index: row, Scale: 1}
			}
			MOVQ(base, t)
			ADDQ(row, t)
			return Mem{Base: t, Index: cb, Scale: 1}
		}
		best := s.vec()
		s.load(addr(xo, 0), mask, best)
		g := s.vec()
		s.load(Mem{Base: dy}, mask, g)
		VADDPS(zero, g, g) // -0 + 0 is +0
		if avx512 {
			var gt [4]OpmaskVirtual
			for k := 1; k < 4; k++ {
				v := s.vec()
				s.load(addr(xo, k), mask, v)
				gt[k] = K()
				nanV, ordB := K(), K()
				VCMPPS(U8(0x1e), best, v, gt[k])   // v > best, ordered (GT_OQ)
				VCMPPS(U8(0x03), v, v, nanV)       // v is NaN (UNORD_Q)
				VCMPPS(U8(0x07), best, best, ordB) // best is not (ORD_Q)
				KANDW(ordB, nanV, nanV)
				KORW(nanV, gt[k], gt[k])
				VBLENDMPS(v, best, gt[k], best)
			}
			// later: the taps after k that won; h_k = g_k and not later.
			later := K()
			KMOVW(gt[3], later)
			out := s.vec()
			VMOVAPS_Z(g, gt[3], out)
			s.store(out, mask, addr(do, 3))
			for k := 2; k >= 1; k-- {
				h := K()
				KANDNW(gt[k], later, h)
				KORW(gt[k], later, later)
				out := s.vec()
				VMOVAPS_Z(g, h, out)
				s.store(out, mask, addr(do, k))
			}
			h := K()
			KNOTW(later, h)
			out = s.vec()
			VMOVAPS_Z(g, h, out)
			s.store(out, mask, addr(do, 0))
			return
		}
		var gt [4]VecVirtual
		for k := 1; k < 4; k++ {
			v := s.vec()
			s.load(addr(xo, k), mask, v)
			gt[k] = s.vec()
			nanV, ordB := s.vec(), s.vec()
			VCMPPS(U8(0x1e), best, v, gt[k])
			VCMPPS(U8(0x03), v, v, nanV)
			VCMPPS(U8(0x07), best, best, ordB)
			VANDPS(ordB, nanV, nanV)
			VORPS(nanV, gt[k], gt[k])
			VBLENDVPS(gt[k], v, best, best)
		}
		later := gt[3]
		out := s.vec()
		VANDPS(g, gt[3], out)
		s.store(out, mask, addr(do, 3))
		for k := 2; k >= 1; k-- {
			out := s.vec()
			VANDNPS(gt[k], later, out) // gt[k] and not later
			VANDPS(g, out, out)
			s.store(out, mask, addr(do, k))
			l := s.vec()
			VORPS(gt[k], later, l)
			later = l
		}
		out = s.vec()
		VANDNPS(g, later, out) // g and not later
		s.store(out, mask, addr(do, 0))
	}

	Label("window")
	TESTQ(windows, windows)
	JE(LabelRef("done"))
	MOVQ(c, ch)
	MOVQ(x, xo)
	MOVQ(dx, do)
	Label("vec")
	CMPQ(ch, U8(s.lanes))
	JL(LabelRef("tail"))
	one(nil)
	ADDQ(U8(width), xo)
	ADDQ(U8(width), do)
	ADDQ(U8(width), dy)
	SUBQ(U8(s.lanes), ch)
	JMP(LabelRef("vec"))
	Label("tail")
	TESTQ(ch, ch)
	JE(LabelRef("next"))
	one(s.mask(ch))
	SHLQ(U8(2), ch)
	ADDQ(ch, dy)
	Label("next")
	// The next window: two cells on.
	ADDQ(cb, x)
	ADDQ(cb, x)
	ADDQ(cb, dx)
	ADDQ(cb, dx)
	DECQ(windows)
	JMP(LabelRef("window"))
	Label("done")
	VZEROUPPER()
	RET()
}
