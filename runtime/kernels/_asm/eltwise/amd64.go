package main

import (
	"fmt"

	"github.com/mmcloughlin/avo/gotypes"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The AVX2 kernels: 8 lanes per YMM register, unroll vectors per loop
// iteration, then one vector at a time, then the last 1-7 elements as one
// vector under a mask (VMASKMOVPS reads and writes only those lanes). avo
// allocates the registers; constants stay in memory, as operands.

func avx2Unroll(k *kernel) int {
	if k.single {
		return 1
	}
	if k.heavy {
		return 2
	}
	return 4
}

// avx2Consts holds one 32-byte broadcast table per distinct constant.
type avx2Consts struct {
	mem map[uint32]Mem
}

func (c *avx2Consts) get(name string, bits uint32) Mem {
	if m, ok := c.mem[bits]; ok {
		return m
	}
	m := GLOBL(name, RODATA|NOPTR)
	for i := range 8 {
		DATA(4*i, U32(bits))
	}
	c.mem[bits] = m
	return m
}

func generateAVX2(ks []*kernel) {
	c := &avx2Consts{mem: map[uint32]Mem{}}
	// Tables first, then the functions, so that the file reads top down.
	tail := GLOBL("tailmask", RODATA|NOPTR)
	for i := range 8 {
		DATA(4*i, U32(0xffffffff))
	}
	for i := 8; i < 16; i++ {
		DATA(4*i, U32(0))
	}
	c.get("absmask", 0x7fffffff)
	c.get("zero", 0)
	c.get("neginf", 0xff800000)
	progs := make([][2]*prog, len(ks))
	for i, k := range ks {
		progs[i] = [2]*prog{body(k, avx2Unroll(k)), body(k, 1)}
		for _, v := range consts(progs[i][0], progs[i][1]) {
			c.get(v.name, v.bits)
		}
	}
	for i, k := range ks {
		avx2Kernel(k, avx2Unroll(k), progs[i][0], progs[i][1], c, tail)
	}
}

type avx2Fn struct {
	k      *kernel
	c      *avx2Consts
	ptr    map[string]GPVirtual
	scalar map[string]VecVirtual
	acc    []VecVirtual
	mask   VecVirtual // lanes to load and store in the tail; nil before
}

func avx2Kernel(k *kernel, u int, main, one *prog, c *avx2Consts, tail Mem) {
	name := k.name + "AVX2"
	TEXT(name, NOSPLIT, k.signature())
	Pragma("noescape")
	Doc(docLines(k, name)...)
	f := &avx2Fn{k: k, c: c, ptr: map[string]GPVirtual{}, scalar: map[string]VecVirtual{}}
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
			y := YMM()
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
	switch k.reduce {
	case sumReduce:
		for range u {
			a := YMM()
			VXORPS(a, a, a)
			f.acc = append(f.acc, a)
		}
	case maxReduce:
		for range u {
			a := YMM()
			VMOVUPS(c.get("neginf", 0xff800000), a)
			f.acc = append(f.acc, a)
		}
	}

	step := func(p *prog, vecs int, next string) {
		CMPQ(n, U32(8*vecs))
		JL(LabelRef(next))
		f.lower(p)
		for _, prm := range k.params {
			if prm.slice {
				ADDQ(U32(32*vecs), f.ptr[prm.name])
			}
		}
		SUBQ(U32(8*vecs), n)
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
	// The mask's first n lanes are set: 8 words from tailmask+32-4n.
	neg, base := GP64(), GP64()
	MOVQ(n, neg)
	NEGQ(neg)
	LEAQ(tail.Offset(32), base)
	f.mask = YMM()
	VMOVDQU(Mem{Base: base, Index: neg, Scale: 4}, f.mask)
	f.lower(one)
	Label("done")
	if k.reduce != noReduce {
		op, opss := VADDPS, VADDSS
		if k.reduce == maxReduce {
			op, opss = VMAXPS, VMAXSS
		}
		a := f.acc[0]
		for _, b := range f.acc[1:] {
			op(b, a, a)
		}
		hi := XMM()
		VEXTRACTF128(U8(1), a, hi)
		lo := a.AsX()
		op(hi, lo, lo)
		t := XMM()
		VMOVHLPS(lo, lo, t)
		op(t, lo, lo)
		VMOVSHDUP(lo, t)
		opss(t, lo, lo)
		VMOVSS(lo, resolve(ReturnIndex(0)))
	}
	VZEROUPPER()
	RET()
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
func (f *avx2Fn) lower(p *prog) {
	r := map[*val]Op{}
	// reg is v in a register: constants are loaded.
	reg := func(v *val) Op {
		if m, ok := r[v].(Mem); ok {
			y := YMM()
			VMOVUPS(m, y)
			return y
		}
		return r[v]
	}
	isConst := func(v *val) bool { _, ok := r[v].(Mem); return ok }
	for i, v := range p.ops {
		a := v.args
		// dies reports whether x's register may be overwritten by op i.
		dies := func(x *val) bool {
			return x.last == i && x.op != opConst && x.op != opScalar
		}
		mem := func() Mem { return Mem{Base: f.ptr[v.name]}.Offset(32 * v.idx) }
		// d is the result's register, unless the op overwrites an operand's.
		var d VecVirtual
		if v.op == opLoad || v.op > opConst && v.op != opFMA && v.op != opFNMA {
			d = YMM()
		}
		switch v.op {
		case opLoad:
			if f.mask != nil {
				VMASKMOVPS(mem(), f.mask, d)
			} else {
				VMOVUPS(mem(), d)
			}
		case opStore:
			if f.mask != nil {
				VMASKMOVPS(reg(a[0]), f.mask, mem())
			} else {
				VMOVUPS(reg(a[0]), mem())
			}
		case opAccum:
			x := reg(a[0])
			acc := f.acc[v.idx]
			if f.k.reduce == sumReduce {
				if f.mask != nil {
					t := YMM()
					VANDPS(f.mask, x, t)
					x = t
				}
				VADDPS(x, acc, acc)
			} else {
				if f.mask != nil {
					t, inf := YMM(), YMM()
					VMOVUPS(f.c.get("neginf", 0xff800000), inf)
					VBLENDVPS(f.mask, x, inf, t)
					x = t
				}
				VMAXPS(x, acc, acc)
			}
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
			VROUNDPS(U8(8), r[a[0]], d) // to nearest, no precision exception
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
			VBLENDVPS(reg(a[0]), r[a[1]], reg(a[2]), d)
		case opGE0:
			VCMPPS(U8(0x1d), f.c.get("zero", 0), reg(a[0]), d) // GE_OQ: false for NaN
		case opRelu:
			// VMAXPS returns its first operand, a, when a is NaN and when
			// both are zeros: -0 stays -0, as in the Go loop.
			z := YMM()
			VXORPS(z, z, z)
			VMAXPS(r[a[0]], z, d)
		case opLT:
			VCMPPS(U8(0x11), r[a[1]], reg(a[0]), d) // LT_OQ: false for NaN
		case opSqrt:
			VSQRTPS(r[a[0]], d)
		case opFMA, opFNMA:
			d = f.fma(v, dies, reg, isConst, r)
		default:
			panic(fmt.Sprintf("no AVX2 lowering of op %d", v.op))
		}
		if d != nil {
			r[v] = d
		}
	}
}

// fma lowers a·b + c, or c - a·b, choosing among the three VFMADD forms the
// one that overwrites a dying register and folds a constant as the memory
// operand, if there is one.
func (f *avx2Fn) fma(v *val, dies func(*val) bool, reg func(*val) Op, isConst func(*val) bool, r map[*val]Op) VecVirtual {
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
		acc = YMM()
		if m, ok := r[best.acc].(Mem); ok {
			VMOVUPS(m, acc)
		} else {
			VMOVAPS(r[best.acc], acc)
		}
	}
	best.ins(r[best.m], reg(best.y), acc)
	return acc
}
