package main

import (
	"fmt"

	"github.com/mmcloughlin/avo/gotypes"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The x86 kernels: lanes floats per register (8 per YMM with AVX2, 16 per
// ZMM with AVX-512), unroll vectors per loop iteration, then one vector at a
// time, then the last elements as one vector under a mask. avo allocates the
// registers; constants stay in memory, as operands.
//
// AVX2 masks the tail with VMASKMOVPS, which reads and writes only the mask's
// lanes; AVX-512 with an opmask (masked loads and stores touch only its lanes
// and fault on no other). The lowering differs where AVX-512 has no 512-bit
// form of an AVX2 instruction: VBLENDVPS becomes a sign mask (VPMOVD2M) and
// VBLENDMPS, a compare writes a mask register (VPMOVM2D widens it back to
// lanes), VROUNDPS is VRNDSCALEPS. The AVX-512 symbols take a "z" prefix:
// both sets' files are in the same package.
type x86 struct {
	avx512 bool
	// withRows adds the rows kernels (rows.go), which package eltwise has.
	withRows bool
}

func (s x86) lanes() int {
	if s.avx512 {
		return 16
	}
	return 8
}

func (s x86) vec() VecVirtual {
	if s.avx512 {
		return ZMM()
	}
	return YMM()
}

// zero clears v.
func (s x86) zero(v VecVirtual) {
	if s.avx512 {
		VPXORD(v, v, v)
	} else {
		VXORPS(v, v, v)
	}
}

func (s x86) suffix() string {
	if s.avx512 {
		return "AVX512"
	}
	return "AVX2"
}

func (s x86) unroll(k *kernel) int {
	if k.single {
		return 1
	}
	if k.heavy && !s.avx512 {
		return 2
	}
	return 4
}

// x86Consts holds one broadcast table, a vector wide, per distinct constant.
//
// AVX-512's tables are 64 bytes, a cache line, but Go's linker aligns data
// to 32 bytes at most: a table of its own would straddle two lines or not
// as the binary's layout falls, and every load of it from the loop with it,
// which cost silu 40% of its speed (4.4 → 2.7 Gelem/s, BenchmarkUnary, Zen
// 5) when an unrelated change moved the tables by 32 bytes. So the AVX-512
// tables are one symbol, zconsts, each table 128 bytes apart and its
// constant repeated over the first 96, and each function points a register
// at the first 64-byte boundary from the symbol's start (0 or 32 bytes on):
// from there every table is whole and aligned.
type x86Consts struct {
	s   x86
	mem map[uint32]Mem
	// The AVX-512 tables: zconsts, the index of each constant in it, and
	// the register the function being written points at its aligned start.
	table Mem
	index map[uint32]int
	base  GPVirtual
}

// zstride is the bytes from one AVX-512 table to the next; zfill the bytes
// each repeats its constant over: whichever 64 bytes from its start or 32
// on.
const zstride, zfill = 128, 96

// declare writes the table of a constant (named name with AVX2), once.
// Every constant must be declared before the functions are written.
func (c *x86Consts) declare(name string, bits uint32) {
	if !c.s.avx512 {
		c.get(name, bits)
		return
	}
	if _, ok := c.index[bits]; ok {
		return
	}
	if c.index == nil {
		c.index = map[uint32]int{}
		c.table = GLOBL("zconsts", RODATA|NOPTR)
	}
	i := len(c.index)
	c.index[bits] = i
	for j := range zfill / 4 {
		DATA(zstride*i+4*j, U32(bits))
	}
}

// start begins a function: with AVX-512, a register points at the tables'
// aligned start.
func (c *x86Consts) start() {
	if !c.s.avx512 {
		return
	}
	c.base = GP64()
	LEAQ(c.table, c.base)
	ADDQ(U8(63), c.base)
	ANDQ(I8(-64), c.base)
}

// get is the table of constant bits (named name), a vector wide.
func (c *x86Consts) get(name string, bits uint32) Mem {
	if c.s.avx512 {
		i, ok := c.index[bits]
		if !ok {
			panic(fmt.Sprintf("constant %s (%#x) used but not declared", name, bits))
		}
		return Mem{Base: c.base, Disp: zstride * i}
	}
	if m, ok := c.mem[bits]; ok {
		return m
	}
	m := GLOBL(name, RODATA|NOPTR)
	for i := range c.s.lanes() {
		DATA(4*i, U32(bits))
	}
	c.mem[bits] = m
	return m
}

func (s x86) generate(ks []*kernel) {
	c := &x86Consts{s: s, mem: map[uint32]Mem{}}
	// Tables first, then the functions, so that the file reads top down.
	var tail Mem
	if s.avx512 {
		// ztailmasks[n] selects a vector's first n lanes.
		tail = GLOBL("ztailmasks", RODATA|NOPTR)
		for n := range 16 {
			DATA(2*n, U16(1<<n-1))
		}
	} else {
		tail = GLOBL("tailmask", RODATA|NOPTR)
		for i := range 8 {
			DATA(4*i, U32(0xffffffff))
		}
		for i := 8; i < 16; i++ {
			DATA(4*i, U32(0))
		}
	}
	c.declare("absmask", 0x7fffffff)
	c.declare("zero", 0)
	c.declare("neginf", 0xff800000)
	progs := make([][2]*prog, len(ks))
	for i, k := range ks {
		progs[i] = [2]*prog{body(k, s.unroll(k), s.avx512), body(k, 1, s.avx512)}
		for _, v := range consts(progs[i][0], progs[i][1]) {
			c.declare(v.name, v.bits)
		}
	}
	for i, k := range ks {
		s.kernel(k, s.unroll(k), progs[i][0], progs[i][1], c, tail)
	}
	if s.withRows {
		s.rows(tail)
	}
}

type x86Fn struct {
	x86
	k      *kernel
	c      *x86Consts
	ptr    map[string]GPVirtual
	scalar map[string]VecVirtual
	acc    []VecVirtual
	mask   Op // lanes to load and store in the tail; nil before
	// zeros is a register of zeros for relu, cleared once: cleared per
	// use, avo would take AVX-512's VPXORD for a read (it knows only the
	// VEX XORs for zero idioms), and keep it live from the function's start.
	zeros VecVirtual
}

func (s x86) kernel(k *kernel, u int, main, one *prog, c *x86Consts, tail Mem) {
	name := k.name + s.suffix()
	TEXT(name, NOSPLIT, k.signature())
	Pragma("noescape")
	Doc(docLines(k, name)...)
	c.start()
	f := &x86Fn{x86: s, k: k, c: c, ptr: map[string]GPVirtual{}, scalar: map[string]VecVirtual{}}
	used := main.scalars()
	// n is the shortest slice's length, so that no slice is read past its
	// end whatever the caller passes.
	var n GPVirtual
	for _, p := range k.params {
		if !p.slice {
			if !used[p.name] {
				continue
			}
			// VEX encodings throughout: a legacy SSE MOVSS after the upper
			// halves are dirty costs a merge.
			y := s.vec()
			VBROADCASTSS(resolve(Param(p.name)), y)
			f.scalar[p.name] = y
			continue
		}
		f.ptr[p.name] = Load(Param(p.name).Base(), GP64()).(GPVirtual)
		l := Load(Param(p.name).Len(), GP64()).(GPVirtual)
		if n == nil {
			n = l
		} else {
			CMPQ(l, n)
			CMOVQLT(l, n)
		}
	}
	if main.uses(opRelu) {
		f.zeros = s.vec()
		s.zero(f.zeros)
	}
	switch k.reduce {
	case sumReduce:
		for range u {
			a := s.vec()
			s.zero(a)
			f.acc = append(f.acc, a)
		}
	case maxReduce:
		for range u {
			a := s.vec()
			VMOVUPS(c.get("neginf", 0xff800000), a)
			f.acc = append(f.acc, a)
		}
	}

	lanes := s.lanes()
	step := func(p *prog, vecs int, next string) {
		CMPQ(n, U32(lanes*vecs))
		JL(LabelRef(next))
		f.lower(p)
		for _, prm := range k.params {
			if prm.slice {
				ADDQ(U32(4*lanes*vecs), f.ptr[prm.name])
			}
		}
		SUBQ(U32(lanes*vecs), n)
	}
	Label("loop")
	step(main, u, "one")
	JMP(LabelRef("loop"))
	Label("one")
	step(one, 1, "tail")
	JMP(LabelRef("one"))
	Label("tail")
	TESTQ(n, n)
	JE(LabelRef("done"))
	if s.avx512 {
		base := GP64()
		LEAQ(tail, base)
		m := K()
		KMOVW(Mem{Base: base, Index: n, Scale: 2}, m)
		f.mask = m
	} else {
		// The mask's first n lanes are set: 8 words from tailmask+32-4n.
		neg, base := GP64(), GP64()
		MOVQ(n, neg)
		NEGQ(neg)
		LEAQ(tail.Offset(32), base)
		m := YMM()
		VMOVDQU(Mem{Base: base, Index: neg, Scale: 4}, m)
		f.mask = m
	}
	f.lower(one)
	Label("done")
	if k.reduce != noReduce {
		f.horizontal()
	}
	VZEROUPPER()
	RET()
}

// horizontal combines the accumulators into one float, the result.
func (f *x86Fn) horizontal() {
	op, opss := VADDPS, VADDSS
	if f.k.reduce == maxReduce {
		op, opss = VMAXPS, VMAXSS
	}
	a := f.acc[0]
	for _, b := range f.acc[1:] {
		op(b, a, a)
	}
	y := a
	if f.avx512 {
		hi := YMM()
		VEXTRACTF32X8(U8(1), a, hi)
		y = a.AsY().(VecVirtual)
		op(hi, y, y)
	}
	hi := XMM()
	VEXTRACTF128(U8(1), y, hi)
	lo := y.AsX()
	op(hi, lo, lo)
	t := XMM()
	VMOVHLPS(lo, lo, t)
	op(t, lo, lo)
	VMOVSHDUP(lo, t)
	opss(t, lo, lo)
	VMOVSS(lo, resolve(ReturnIndex(0)))
}

// resolve is the address of an argument or result.
func resolve(c gotypes.Component) Mem {
	b, err := c.Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}

// lower emits p, loading and storing under f.mask if it is set.
func (f *x86Fn) lower(p *prog) {
	r := map[*val]Op{}
	// reg is v in a register: constants are loaded.
	reg := func(v *val) Op {
		if m, ok := r[v].(Mem); ok {
			y := f.vec()
			VMOVUPS(m, y)
			return y
		}
		return r[v]
	}
	isConst := func(v *val) bool { _, ok := r[v].(Mem); return ok }
	// lanes widens an opmask into all-ones and zero lanes, which is what a
	// comparison gives with AVX2.
	lanes := func(m Op, d VecVirtual) { VPMOVM2D(m, d) }
	for i, v := range p.ops {
		a := v.args
		// dies reports whether x's register may be overwritten by op i.
		dies := func(x *val) bool {
			return x.last == i && x.op != opConst && x.op != opScalar
		}
		mem := func() Mem { return Mem{Base: f.ptr[v.name]}.Offset(4 * f.lanes() * v.idx) }
		// d is the result's register, unless the op overwrites an operand's.
		var d VecVirtual
		if v.op == opLoad || v.op > opConst && v.op != opFMA && v.op != opFNMA {
			d = f.vec()
		}
		switch v.op {
		case opLoad:
			switch {
			case f.mask == nil:
				VMOVUPS(mem(), d)
			case f.avx512:
				VMOVUPS_Z(mem(), f.mask, d)
			default:
				VMASKMOVPS(mem(), f.mask, d)
			}
		case opStore:
			switch {
			case f.mask == nil:
				VMOVUPS(reg(a[0]), mem())
			case f.avx512:
				VMOVUPS(reg(a[0]), f.mask, mem())
			default:
				VMASKMOVPS(reg(a[0]), f.mask, mem())
			}
		case opAccum:
			f.accum(reg(a[0]), f.acc[v.idx])
		case opScalar:
			r[v] = f.scalar[v.name]
		case opConst:
			r[v] = f.c.get(v.name, v.bits)
		case opAdd, opMul, opAnd, opOr:
			x, y := a[0], a[1]
			if isConst(x) {
				x, y = y, x
			}
			ins := map[opcode]func(...Op){opAdd: VADDPS, opMul: VMULPS, opAnd: VANDPS, opOr: VORPS}[v.op]
			ins(r[y], reg(x), d)
		case opSub:
			VSUBPS(r[a[1]], reg(a[0]), d)
		case opDiv:
			VDIVPS(r[a[1]], reg(a[0]), d)
		case opMin:
			// Given a NaN, VMINPS returns its first (Go) operand: a.
			VMINPS(r[a[0]], reg(a[1]), d)
		case opMax:
			VMAXPS(r[a[0]], reg(a[1]), d)
		case opAbs:
			VANDPS(f.c.get("absmask", 0x7fffffff), reg(a[0]), d)
		case opRound:
			if f.avx512 {
				VRNDSCALEPS(U8(8), r[a[0]], d) // to nearest, no precision exception
			} else {
				VROUNDPS(U8(8), r[a[0]], d)
			}
		case opCvt:
			VCVTPS2DQ(r[a[0]], d)
		case opIAdd:
			x, y := a[0], a[1]
			if isConst(x) {
				x, y = y, x
			}
			VPADDD(r[y], reg(x), d)
		case opISub:
			VPSUBD(r[a[1]], reg(a[0]), d)
		case opShl:
			VPSLLD(U8(v.idx), reg(a[0]), d)
		case opSar:
			VPSRAD(U8(v.idx), reg(a[0]), d)
		case opSelSign:
			// d = sign of a[0] ? a[1] : a[2].
			if f.avx512 {
				m := K()
				VPMOVD2M(reg(a[0]), m)
				// d holds a[2], then takes a[1] under the mask. (avo takes
				// a masked destination for an input, merge masking, so a
				// VBLENDMPS's would be live from the function's start.)
				if dies(a[2]) {
					d = r[a[2]].(VecVirtual)
				} else {
					VMOVUPS(r[a[2]], d)
				}
				VMOVUPS(r[a[1]], m, d)
			} else {
				VBLENDVPS(reg(a[0]), r[a[1]], reg(a[2]), d)
			}
		case opGE0:
			// GE_OQ: false for NaN.
			if f.avx512 {
				m := K()
				VCMPPS(U8(0x1d), f.c.get("zero", 0), reg(a[0]), m)
				lanes(m, d)
			} else {
				VCMPPS(U8(0x1d), f.c.get("zero", 0), reg(a[0]), d)
			}
		case opRelu:
			// VMAXPS returns its first operand, a, when a is NaN and when
			// both are zeros: -0 stays -0, as in the Go loop.
			VMAXPS(r[a[0]], f.zeros, d)
		case opLT:
			// LT_OQ: false for NaN.
			if f.avx512 {
				m := K()
				VCMPPS(U8(0x11), r[a[1]], reg(a[0]), m)
				lanes(m, d)
			} else {
				VCMPPS(U8(0x11), r[a[1]], reg(a[0]), d)
			}
		case opSqrt:
			VSQRTPS(r[a[0]], d)
		case opScale:
			VSCALEFPS(r[a[1]], reg(a[0]), d)
		case opFMA, opFNMA:
			d = f.fma(v, dies, reg, isConst, r)
		default:
			panic(fmt.Sprintf("no %s lowering of op %d", f.suffix(), v.op))
		}
		if d != nil {
			r[v] = d
		}
	}
}

// accum adds x into acc, or takes the maximum. In the tail the lanes past
// the end must leave acc as it is: AVX-512 computes under the mask; AVX2
// clears them (sum) or sets them to -inf (max) first.
func (f *x86Fn) accum(x Op, acc VecVirtual) {
	ins := VADDPS
	if f.k.reduce == maxReduce {
		ins = VMAXPS
	}
	switch {
	case f.mask == nil:
		ins(x, acc, acc)
	case f.avx512:
		ins(x, acc, f.mask, acc)
	case f.k.reduce == sumReduce:
		t := YMM()
		VANDPS(f.mask, x, t)
		VADDPS(t, acc, acc)
	default:
		t, inf := YMM(), YMM()
		VMOVUPS(f.c.get("neginf", 0xff800000), inf)
		VBLENDVPS(f.mask, x, inf, t)
		VMAXPS(t, acc, acc)
	}
}

// fma lowers a·b + c, or c - a·b, choosing among the three VFMADD forms the
// one that overwrites a dying register and folds a constant as the memory
// operand, if there is one.
func (f *x86Fn) fma(v *val, dies func(*val) bool, reg func(*val) Op, isConst func(*val) bool, r map[*val]Op) VecVirtual {
	a, b, c := v.args[0], v.args[1], v.args[2]
	ins := [3]func(...Op){VFMADD231PS, VFMADD213PS, VFMADD132PS}
	if v.op == opFNMA {
		ins = [3]func(...Op){VFNMADD231PS, VFNMADD213PS, VFNMADD132PS}
	}
	// With (Go) operands m, y, acc: 231 is acc = y·m + acc; 213 is
	// acc = y·acc + m; 132 is acc = acc·m + y.
	type form struct {
		ins       func(...Op)
		acc, y, m *val
	}
	forms := []form{
		{ins[0], c, a, b}, {ins[0], c, b, a},
		{ins[1], a, b, c}, {ins[1], b, a, c},
		{ins[2], a, c, b}, {ins[2], b, c, a},
	}
	best, cost := forms[0], 99
	for _, fm := range forms {
		n := 0
		if !dies(fm.acc) || fm.acc == fm.y || fm.acc == fm.m {
			n++ // a copy
		}
		if isConst(fm.y) {
			n++ // a load
		}
		if n < cost {
			best, cost = fm, n
		}
	}
	var acc VecVirtual
	if dies(best.acc) && best.acc != best.y && best.acc != best.m {
		acc = r[best.acc].(VecVirtual)
	} else {
		acc = f.vec()
		if m, ok := r[best.acc].(Mem); ok {
			VMOVUPS(m, acc)
		} else {
			VMOVAPS(r[best.acc], acc)
		}
	}
	best.ins(r[best.m], reg(best.y), acc)
	return acc
}
