package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The AVX-512 kernels: the AVX2 ones (main.go) on 16 floats per ZMM
// register, the last 1-15 channels under an opmask (masked loads and stores
// touch only those lanes). Symbols take a "z" prefix: the AVX2 file has its
// own.

// zGroup is how many vectors a pass over the taps carries: 64 floats, so
// that 64 channels take one pass over the taps. With 2 vectors (AVX2's 32
// floats) 112×112×64 max pooling ran slower than AVX2's (97-135 µs against
// 55-96, Zen 5).
const zGroup = 4

func generateAVX512() {
	ConstraintExpr("amd64,!purego")
	// ztailmasks[n] selects a vector's first n lanes.
	tail := GLOBL("ztailmasks", RODATA|NOPTR)
	for n := range 16 {
		DATA(2*n, U16(1<<n-1))
	}
	cellsAVX512(false, tail)
	cellsAVX512(true, tail)
	addRowsAVX512(tail)
	Generate()
}

// zTailMask is the opmask of the first n lanes, n < 16.
func zTailMask(tail Mem, n GPVirtual) OpmaskVirtual {
	base := GP64()
	LEAQ(tail, base)
	k := K()
	KMOVW(Mem{Base: base, Index: n, Scale: 2}, k)
	return k
}

// cellsAVX512 generates maxCellsAVX512 or avgCellsAVX512, as cellsAVX2:
// per cell, the channels in passes of 4 vectors, then of 1, then the last
// 1-15 under a mask. Each pass walks the taps list.
func cellsAVX512(avg bool, tail Mem) {
	name := cellsName(avg, "AVX512")
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
		div = ZMM()
		VBROADCASTSS(resolve("div"), div)
	}
	combine := VMAXPS
	if avg {
		combine = VADDPS
	}
	ch, xo, t, off := GP64(), GP64(), GP64(), GP64()

	// pass pools vecs vectors at xo into out, over every tap; mask, if set,
	// limits the one vector to its lanes.
	pass := func(label string, vecs int, mask OpmaskVirtual) {
		acc := make([]VecVirtual, vecs)
		load := func(m Mem, y VecVirtual) {
			if mask != nil {
				VMOVUPS_Z(m, mask, y)
			} else {
				VMOVUPS(m, y)
			}
		}
		MOVQ(taps, t)
		MOVQ(Mem{Base: t}, off)
		ADDQ(xo, off)
		for j := range acc {
			acc[j] = ZMM()
			load(Mem{Base: off, Disp: 64 * j}, acc[j])
		}
		Label(label + "_tap")
		ADDQ(U8(8), t)
		CMPQ(t, tend)
		JE(LabelRef(label + "_store"))
		MOVQ(Mem{Base: t}, off)
		ADDQ(xo, off)
		for j := range acc {
			v := ZMM()
			load(Mem{Base: off, Disp: 64 * j}, v)
			combine(v, acc[j], acc[j])
		}
		JMP(LabelRef(label + "_tap"))
		Label(label + "_store")
		for j := range acc {
			if avg {
				VDIVPS(div, acc[j], acc[j])
			}
			if mask != nil {
				VMOVUPS(acc[j], mask, Mem{Base: out})
			} else {
				VMOVUPS(acc[j], Mem{Base: out, Disp: 64 * j})
			}
		}
	}

	Label("cell")
	MOVQ(c, ch)
	MOVQ(x, xo)
	Label("group")
	CMPQ(ch, U8(16*zGroup))
	JL(LabelRef("one"))
	pass("group", zGroup, nil)
	ADDQ(U32(64*zGroup), xo)
	ADDQ(U32(64*zGroup), out)
	SUBQ(U8(16*zGroup), ch)
	JMP(LabelRef("group"))
	Label("one")
	CMPQ(ch, U8(16))
	JL(LabelRef("tail"))
	pass("one", 1, nil)
	ADDQ(U8(64), xo)
	ADDQ(U8(64), out)
	SUBQ(U8(16), ch)
	JMP(LabelRef("one"))
	Label("tail")
	TESTQ(ch, ch)
	JE(LabelRef("next"))
	mask := zTailMask(tail, ch)
	pass("tail", 1, mask)
	SHLQ(U8(2), ch)
	ADDQ(ch, out)
	Label("next")
	ADDQ(stride, x)
	DECQ(cells)
	JNZ(LabelRef("cell"))
	VZEROUPPER()
	RET()
}

// addRowsAVX512: the channels in passes of 4 vectors, then 1, then a masked
// tail; each pass loads acc, adds every row, stores.
func addRowsAVX512(tail Mem) {
	name := "addRowsAVX512"
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
	pass := func(label string, vecs int, mask OpmaskVirtual) {
		v := make([]VecVirtual, vecs)
		load := func(m Mem, y VecVirtual) {
			if mask != nil {
				VMOVUPS_Z(m, mask, y)
			} else {
				VMOVUPS(m, y)
			}
		}
		for j := range v {
			v[j] = ZMM()
			load(Mem{Base: acc, Disp: 64 * j}, v[j])
		}
		MOVQ(x, p)
		MOVQ(rows, n)
		Label(label + "_row")
		for j := range v {
			y := ZMM()
			load(Mem{Base: p, Disp: 64 * j}, y)
			VADDPS(y, v[j], v[j])
		}
		ADDQ(stride, p)
		DECQ(n)
		JNZ(LabelRef(label + "_row"))
		for j := range v {
			if mask != nil {
				VMOVUPS(v[j], mask, Mem{Base: acc})
			} else {
				VMOVUPS(v[j], Mem{Base: acc, Disp: 64 * j})
			}
		}
	}
	Label("group")
	CMPQ(ch, U8(16*zGroup))
	JL(LabelRef("one"))
	pass("group", zGroup, nil)
	ADDQ(U32(64*zGroup), x)
	ADDQ(U32(64*zGroup), acc)
	SUBQ(U8(16*zGroup), ch)
	JMP(LabelRef("group"))
	Label("one")
	CMPQ(ch, U8(16))
	JL(LabelRef("tail"))
	pass("one", 1, nil)
	ADDQ(U8(64), x)
	ADDQ(U8(64), acc)
	SUBQ(U8(16), ch)
	JMP(LabelRef("one"))
	Label("tail")
	TESTQ(ch, ch)
	JE(LabelRef("done"))
	pass("tail", 1, zTailMask(tail, ch))
	Label("done")
	VZEROUPPER()
	RET()
}
