// Command depthwise generates the depthwise convolution kernels of package
// runtime/kernels/conv: the AVX2 ones with avo (depthwise_amd64.s and their
// Go declarations, 8 channels a vector), and the NEON ones with the small
// emitter in neon.go (depthwise_arm64.s and their declarations, 4 channels a
// vector), because avo writes only amd64; with -avx512, the AVX-512 ones (16
// channels a vector, the last few under an opmask), in files of its own.
//
// Each set has two kernels, the same loops but for the input: dwCells
// multiplies a vector of the input's channels by a vector of weights (a
// depthwise conv, one input channel per output channel), directCells
// broadcasts one input value to every lane (a direct conv of few input
// channels, each tap one input channel for all the output channels).
//
// Run it from runtime/kernels/_asm, as the go:generate lines in package conv
// do:
//
//	go run ./depthwise -out ../conv/depthwise_amd64.s -stubs ../conv/depthwise_amd64.go -pkg conv -neon ../conv/depthwise_arm64
//	go run ./depthwise -avx512 -out ../conv/depthwise_avx512_amd64.s -stubs ../conv/depthwise_avx512_amd64.go -pkg conv
//
// The output depends only on these arguments.
//
// A kernel call computes a run of output pixels along a row. Its loops:
// pixels in blocks of 4 (then one at a time), within a block the channels
// in passes of 2 vectors (then 1, then the last few under a mask), within a
// pass every tap: the tap's weights are loaded once for the block's 4
// pixels, and each pixel's input is the memory operand of its FMA, so 8
// accumulators hide the FMA latency and the loads stay at 5 per 4 FMAs.
// The direct kernel broadcasts each pixel's input into a register for its
// FMAs, and in AVX-512 starts with blocks of 8 pixels.
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

// avx512 selects the AVX-512 kernel: the AVX2 files are checked for AVX2's
// 16 registers.
var avx512 = flag.Bool("avx512", false, "generate the AVX-512 kernel instead")

func main() {
	flag.Parse()
	ConstraintExpr("amd64,!purego")
	if *avx512 {
		// dwztailmasks[n] selects a vector's first n lanes.
		tail := GLOBL("dwztailmasks", RODATA|NOPTR)
		for n := range 16 {
			DATA(2*n, U16(1<<n-1))
		}
		s := avx512ISA(tail, avx2.NewSilu("dwsilu", true))
		for _, silu := range []bool{false, true} {
			s.cells(false, silu)
			s.cells(true, silu)
		}
		Generate()
		return
	}
	tail := GLOBL("dwtailmask", RODATA|NOPTR)
	for i := range 8 {
		DATA(4*i, U32(0xffffffff))
	}
	for i := 8; i < 16; i++ {
		DATA(4*i, U32(0))
	}
	s := avx2ISA(tail, avx2.NewSilu("dwsilu", false))
	for _, silu := range []bool{false, true} {
		s.cells(false, silu)
		s.cells(true, silu)
	}
	avx2.Generate()
	neon.Generate("conv", writeNEON)
}

// x86 is what the AVX2 and AVX-512 kernels differ in: the vector width, the
// register kind and how the last channels are masked. The kernels are
// otherwise the same code.
type x86 struct {
	set   string // the symbol's suffix
	lanes int    // floats per vector
	vec   func() VecVirtual
	zero  func(v VecVirtual) // v = 0
	// mask returns the mask of the first n lanes, n < lanes.
	mask func(n GPVirtual) Op
	// load and store move one vector, limited to the mask's lanes if mask
	// is not nil.
	load  func(m Mem, mask Op, y VecVirtual)
	store func(y VecVirtual, mask Op, m Mem)
	// silu emits silu, for the silu kernels' store.
	silu *avx2.Silu
}

// avx2ISA masks with VMASKMOVPS and a vector of lane masks.
func avx2ISA(tail Mem, silu *avx2.Silu) x86 {
	return x86{silu: silu,
		set: "AVX2", lanes: 8, vec: func() VecVirtual { return YMM() },
		zero: func(v VecVirtual) { VXORPS(v, v, v) },
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

// avx512ISA masks with an opmask: masked loads and stores touch only its
// lanes.
func avx512ISA(tail Mem, silu *avx2.Silu) x86 {
	return x86{silu: silu,
		set: "AVX512", lanes: 16, vec: func() VecVirtual { return ZMM() },
		// VXORPS on ZMM registers is AVX512DQ's, which the avx512 set
		// requires (cpu.HasAVX512). avo knows it for a zeroing idiom, not
		// VPXORD: that would keep every accumulator live from the entry,
		// too many for the direct kernel's blocks of 8 pixels.
		zero: func(v VecVirtual) { VXORPS(v, v, v) },
		mask: func(n GPVirtual) Op {
			base := GP64()
			LEAQ(tail, base)
			k := K()
			KMOVW(Mem{Base: base, Index: n, Scale: 2}, k)
			return k
		},
		load: func(m Mem, mask Op, y VecVirtual) {
			if mask != nil {
				VMOVUPS_Z(m, mask, y)
			} else {
				VMOVUPS(m, y)
			}
		},
		store: func(y VecVirtual, mask Op, m Mem) {
			if mask != nil {
				VMOVUPS(y, mask, m)
			} else {
				VMOVUPS(y, m)
			}
		},
	}
}

const sig = "func(out, x, w []float32, taps []int, cells, c, stride int, bias []float32, lo, hi float32)"

// doc is the depthwise kernels' doc comment: the loop of dwCellsGeneric,
// with silu in the store if silu.
func doc(name string, lanes int, silu bool) []string {
	field, store := "cells", "out[t*c+ch] = clamp(acc+bias[ch], lo, hi)"
	if silu {
		field, store = "cellsSilu", "out[t*c+ch] = silu(clamp(acc+bias[ch], lo, hi))"
	}
	return append([]string{
		fmt.Sprintf("%s is dwKernel.%s, %d channels a vector: cells output pixels", name, field, lanes),
		"stride floats apart in x, c channels each, from the taps listed in taps",
		"as pairs of offsets in bytes, of the input from the pixel's start in x",
		"and of the weights in w, in the order listed, each product fused into",
		"its sum:",
		"",
		"\tfor t := range cells {",
		"\t\tfor ch := range c {",
		"\t\t\tacc := 0",
		"\t\t\tfor k := 0; k < len(taps); k += 2 {",
		"\t\t\t\tacc += x[t*stride+taps[k]/4+ch] * w[taps[k+1]/4+ch]",
		"\t\t\t}",
		"\t\t\t" + store,
		"\t\t}",
		"\t}",
		"",
	}, siluDoc(silu)...)
}

// directDoc is the direct kernels' doc comment: the loop of
// directCellsGeneric.
func directDoc(name string, lanes int, silu bool) []string {
	field, store := "direct", "out[t*c+ch] = clamp(acc+bias[ch], lo, hi)"
	if silu {
		field, store = "directSilu", "out[t*c+ch] = silu(clamp(acc+bias[ch], lo, hi))"
	}
	return append([]string{
		fmt.Sprintf("%s is dwKernel.%s, %d channels a vector: cells output", name, field, lanes),
		"pixels stride floats apart in x, c channels each, from the taps listed in",
		"taps as pairs of offsets in bytes, of the input value from the pixel's",
		"start in x and of the weights in w, in the order listed, each product",
		"fused into its sum:",
		"",
		"\tfor t := range cells {",
		"\t\tfor ch := range c {",
		"\t\t\tacc := 0",
		"\t\t\tfor k := 0; k < len(taps); k += 2 {",
		"\t\t\t\tacc += x[t*stride+taps[k]/4] * w[taps[k+1]/4+ch]",
		"\t\t\t}",
		"\t\t\t" + store,
		"\t\t}",
		"\t}",
		"",
	}, siluDoc(silu)...)
}

// siluDoc ends a kernel's doc comment: with silu, how silu is computed.
func siluDoc(silu bool) []string {
	end := []string{"taps must not be empty. The caller checks that x holds every tap."}
	if !silu {
		return end
	}
	return append([]string{
		"silu(v) is v·sigmoid(v) computed as package eltwise's kernel of the same",
		"set computes it, to the same bits.",
		"",
	}, end...)
}

// block is how many pixels a pass carries.
const block = 4

// cells generates dwCells<set>, or directCells<set> if bcast: the input
// broadcast, its pointer kept on the pixel while the passes step through
// the channels of the weights, bias and output. With silu, dwCellsSilu<set>
// or directCellsSilu<set>: silu applied in the store after the clamp.
func (s x86) cells(bcast, silu bool) {
	name, comment := "dwCells", doc
	if bcast {
		name, comment = "directCells", directDoc
	}
	if silu {
		name += "Silu"
	}
	name += s.set
	vb := 4 * s.lanes // bytes per vector
	TEXT(name, NOSPLIT, sig)
	Pragma("noescape")
	Doc(comment(name, s.lanes, silu)...)
	oo := gp(Param("out").Base())
	xo := gp(Param("x").Base())
	cells := gp(Param("cells"))
	cb := gp(Param("c"))
	SHLQ(U8(2), cb)
	sb := gp(Param("stride"))
	SHLQ(U8(2), sb)
	sb3 := GP64()
	LEAQ(Mem{Base: sb, Index: sb, Scale: 2}, sb3)
	lo, hi := s.vec(), s.vec()
	VBROADCASTSS(resolve("lo"), lo)
	VBROADCASTSS(resolve("hi"), hi)

	// The direct kernel's FMAs take their input from a register, so that
	// AVX-512's 32 carry 8 pixels: at 16 output channels, a pass of one
	// vector then has 8 accumulators, enough to hide the FMA latency.
	blk := block
	if bcast && s.lanes == 16 {
		blk = 8
	}

	// pixel is pixel i's input at base: base + i*stride, or + (i-4)*stride
	// for i >= 4, once base has moved on to pixel 4.
	pixel := func(base GPVirtual, i, disp int) Mem {
		switch i % 4 {
		case 0:
			return Mem{Base: base, Disp: disp}
		case 1:
			return Mem{Base: base, Index: sb, Scale: 1, Disp: disp}
		case 2:
			return Mem{Base: base, Index: sb, Scale: 2, Disp: disp}
		}
		return Mem{Base: base, Index: sb3, Scale: 1, Disp: disp}
	}

	// channels emits a block of n pixels: every channel, in passes, the
	// pointers ending c channels on.
	channels := func(label string, n int) {
		wc := gp(Param("w").Base())
		bc := gp(Param("bias").Base())
		ch := gp(Param("c"))
		// pass computes vecs vectors of channels of the n pixels; mask, if
		// set, limits the one vector to its lanes.
		pass := func(label string, vecs int, mask Op) {
			load := func(m Mem, y VecVirtual) { s.load(m, mask, y) }
			acc := make([][]VecVirtual, n)
			for i := range acc {
				acc[i] = make([]VecVirtual, vecs)
				for v := range vecs {
					acc[i][v] = s.vec()
					s.zero(acc[i][v])
				}
			}
			t := gp(Param("taps").Base())
			k := gp(Param("taps").Len())
			SHRQ(U8(1), k)
			wp, off := GP64(), GP64()
			Label(label + "_tap")
			MOVQ(Mem{Base: t}, off)
			ADDQ(xo, off)
			MOVQ(Mem{Base: t, Disp: 8}, wp)
			ADDQ(wc, wp)
			wv := make([]VecVirtual, vecs)
			for v := range vecs {
				wv[v] = s.vec()
				load(Mem{Base: wp, Disp: vb * v}, wv[v])
			}
			for i := range n {
				if i == 4 { // off on to pixel 4
					LEAQ(Mem{Base: off, Index: sb, Scale: 4}, off)
				}
				if bcast {
					y := s.vec()
					VBROADCASTSS(pixel(off, i, 0), y)
					for v := range vecs {
						VFMADD231PS(y, wv[v], acc[i][v])
					}
					continue
				}
				for v := range vecs {
					if mask != nil {
						y := s.vec()
						load(pixel(off, i, vb*v), y)
						VFMADD231PS(y, wv[v], acc[i][v])
					} else {
						VFMADD231PS(pixel(off, i, vb*v), wv[v], acc[i][v])
					}
				}
			}
			ADDQ(U8(16), t)
			DECQ(k)
			JNZ(LabelRef(label + "_tap"))
			// The store: bias, clamp. VMAXPS a, lo keeps a unless lo > a,
			// VMINPS a, hi unless hi < a: a NaN stays, as in the Go loop.
			bv := make([]VecVirtual, vecs)
			for v := range vecs {
				bv[v] = s.vec()
				load(Mem{Base: bc, Disp: vb * v}, bv[v])
			}
			cb3, oo4 := GP64(), GP64()
			LEAQ(Mem{Base: cb, Index: cb, Scale: 2}, cb3)
			if n > 4 {
				LEAQ(Mem{Base: oo, Index: cb, Scale: 4}, oo4)
			}
			for i := range n {
				for v := range vecs {
					a := acc[i][v]
					VADDPS(bv[v], a, a)
					VMAXPS(a, lo, a)
					VMINPS(a, hi, a)
					if silu {
						s.silu.Apply(a)
					}
					oo := oo
					if i >= 4 {
						oo = oo4
					}
					var m Mem
					switch i % 4 {
					case 0:
						m = Mem{Base: oo, Disp: vb * v}
					case 1:
						m = Mem{Base: oo, Index: cb, Scale: 1, Disp: vb * v}
					case 2:
						m = Mem{Base: oo, Index: cb, Scale: 2, Disp: vb * v}
					default:
						m = Mem{Base: oo, Index: cb3, Scale: 1, Disp: vb * v}
					}
					s.store(a, mask, m)
				}
			}
		}
		stepped := []GPVirtual{xo, wc, bc, oo}
		if bcast {
			stepped = stepped[1:]
		}
		step := func(bytes Op) {
			for _, p := range stepped {
				ADDQ(bytes, p)
			}
		}
		// A single pixel's passes carry more vectors: one pixel's chain of
		// taps per vector is all there is to overlap (most pixels of a 7×7
		// image under a 5×5 window are edge pixels, a call each).
		wide, first := 2, label+"_two"
		if n == 1 {
			wide, first = s.lanes/2, label+"_wide"
		}
		Label(first)
		CMPQ(ch, U8(wide*s.lanes))
		JL(LabelRef(label + "_one"))
		pass(first, wide, nil)
		step(imm(wide * vb))
		SUBQ(U8(wide*s.lanes), ch)
		JMP(LabelRef(first))
		Label(label + "_one")
		CMPQ(ch, U8(s.lanes))
		JL(LabelRef(label + "_tail"))
		pass(label+"_one", 1, nil)
		step(U8(vb))
		SUBQ(U8(s.lanes), ch)
		JMP(LabelRef(label + "_one"))
		Label(label + "_tail")
		TESTQ(ch, ch)
		JZ(LabelRef(label + "_end"))
		pass(label+"_tail", 1, s.mask(ch))
		SHLQ(U8(2), ch)
		step(ch)
		Label(label + "_end")
	}

	// Blocks of blk pixels, then of 4 (if blk is 8), then single pixels.
	sizes, names := []int{block, 1}, []string{"block", "single", "done"}
	if blk == 8 {
		sizes, names = []int{8, block, 1}, []string{"block8", "block", "single", "done"}
	}
	for j, n := range sizes {
		Label(names[j])
		if n == 1 {
			TESTQ(cells, cells)
			JZ(LabelRef(names[j+1]))
		} else {
			CMPQ(cells, U8(n))
			JL(LabelRef(names[j+1]))
		}
		channels(names[j], n)
		// On to the next block: x c channels back (unless broadcast) and n
		// pixels on, out n-1 pixels on (each is c channels).
		if !bcast {
			SUBQ(cb, xo)
		}
		switch n {
		case 8:
			LEAQ(Mem{Base: xo, Index: sb, Scale: 8}, xo)
			LEAQ(Mem{Base: oo, Index: cb, Scale: 8}, oo)
			SUBQ(cb, oo)
			SUBQ(U8(n), cells)
		case 4:
			LEAQ(Mem{Base: xo, Index: sb, Scale: 4}, xo)
			LEAQ(Mem{Base: oo, Index: cb, Scale: 2}, oo)
			ADDQ(cb, oo)
			SUBQ(U8(n), cells)
		default:
			ADDQ(sb, xo)
			DECQ(cells)
		}
		JMP(LabelRef(names[j]))
	}
	Label("done")
	VZEROUPPER()
	RET()
}

// tailMask loads the mask whose first n lanes are set: 8 words from
// dwtailmask+32-4n.
func tailMask(tail Mem, n GPVirtual) VecVirtual {
	neg, base := GP64(), GP64()
	MOVQ(n, neg)
	NEGQ(neg)
	LEAQ(tail.Offset(32), base)
	m := YMM()
	VMOVDQU(Mem{Base: base, Index: neg, Scale: 4}, m)
	return m
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
