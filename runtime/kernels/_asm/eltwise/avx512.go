package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The AVX-512 kernels: the AVX2 ones' loop (amd64.go) on 16 lanes per ZMM
// register, the last 1-15 elements as one vector under an opmask (masked
// loads and stores touch only those lanes and fault on no other). The
// lowering differs where AVX-512 has no 512-bit form of an AVX2 instruction:
// VBLENDVPS becomes a sign mask (VPMOVD2M) and VBLENDMPS, a compare writes a
// mask register (VPMOVM2D widens it back to lanes), VROUNDPS is VRNDSCALEPS.
// Symbols take a "z" prefix: the AVX2 file of the same package has its own.

// avx512Consts holds one 64-byte broadcast table per distinct constant.
type avx512Consts struct {
	mem map[uint32]Mem
}

func (c *avx512Consts) get(name string, bits uint32) Mem {
	if m, ok := c.mem[bits]; ok {
		return m
	}
	m := GLOBL("z"+name, RODATA|NOPTR)
	for i := range 16 {
		DATA(4*i, U32(bits))
	}
	c.mem[bits] = m
	return m
}

// avx512Names are the kernels the avx512 set has its own code for; the
// functions added after it run AVX2's (the package's avx512.go says so), and
// the AVX-512 lowering knows only the ops these use.
var avx512Names = map[string]bool{
	"relu": true, "leakyRelu": true, "sigmoid": true, "tanh": true, "gelu": true, "geluTanh": true,
	"add": true, "addScalar": true, "sub": true, "subScalar": true, "subRev": true, "subRevScalar": true,
	"mul": true, "mulScalar": true, "div": true, "divScalar": true, "divRev": true, "divRevScalar": true,
	"rowMax": true, "expSum": true, "sumExp": true, "logShift": true, "scale": true,
	"maxInto": true, "expSumInto": true, "sumExpInto": true, "mulInto": true, "logShiftInto": true,
}

func generateAVX512(all []*kernel) {
	var ks []*kernel
	for _, k := range all {
		if avx512Names[k.name] {
			ks = append(ks, k)
		}
	}
	c := &avx512Consts{mem: map[uint32]Mem{}}
	// tailmasks[n] selects a vector's first n lanes.
	tail := GLOBL("ztailmasks", RODATA|NOPTR)
	for n := range 16 {
		DATA(2*n, U16(1<<n-1))
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
		avx512Kernel(k, avx2Unroll(k), progs[i][0], progs[i][1], c, tail)
	}
}

type avx512Fn struct {
	k      *kernel
	c      *avx512Consts
	ptr    map[string]GPVirtual
	scalar map[string]VecVirtual
	acc    []VecVirtual
	mask   OpmaskVirtual // lanes to load and store in the tail; nil before
}

func avx512Kernel(k *kernel, u int, main, one *prog, c *avx512Consts, tail Mem) {
	name := k.name + "AVX512"
	TEXT(name, NOSPLIT, k.signature())
	Pragma("noescape")
	Doc(docLines(k, name)...)
	f := &avx512Fn{k: k, c: c, ptr: map[string]GPVirtual{}, scalar: map[string]VecVirtual{}}
	used := main.scalars()
	var n GPVirtual
	for _, p := range k.params {
		if !p.slice {
			if !used[p.name] {
				continue
			}
			z := ZMM()
			VBROADCASTSS(resolve(Param(p.name)), z)
			f.scalar[p.name] = z
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
			a := ZMM()
			VPXORD(a, a, a)
			f.acc = append(f.acc, a)
		}
	case maxReduce:
		for range u {
			a := ZMM()
			VMOVUPS(c.get("neginf", 0xff800000), a)
			f.acc = append(f.acc, a)
		}
	}

	step := func(p *prog, vecs int, next string) {
		CMPQ(n, U32(16*vecs))
		JL(LabelRef(next))
		f.lower(p)
		for _, prm := range k.params {
			if prm.slice {
				ADDQ(U32(64*vecs), f.ptr[prm.name])
			}
		}
		SUBQ(U32(16*vecs), n)
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
	base := GP64()
	LEAQ(tail, base)
	f.mask = K()
	KMOVW(Mem{Base: base, Index: n, Scale: 2}, f.mask)
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
		hi := YMM()
		VEXTRACTF32X8(U8(1), a, hi)
		y := a.AsY()
		op(hi, y, y)
		h := XMM()
		VEXTRACTF128(U8(1), y, h)
		lo := y.(VecVirtual).AsX()
		op(h, lo, lo)
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

// lower emits p, loading and storing under f.mask if it is set.
func (f *avx512Fn) lower(p *prog) {
	r := map[*val]Op{}
	reg := func(v *val) Op {
		if m, ok := r[v].(Mem); ok {
			z := ZMM()
			VMOVUPS(m, z)
			return z
		}
		return r[v]
	}
	isConst := func(v *val) bool { _, ok := r[v].(Mem); return ok }
	for i, v := range p.ops {
		a := v.args
		dies := func(x *val) bool {
			return x.last == i && x.op != opConst && x.op != opScalar
		}
		mem := func() Mem { return Mem{Base: f.ptr[v.name]}.Offset(64 * v.idx) }
		var d VecVirtual
		if v.op == opLoad || v.op > opConst && v.op != opFMA && v.op != opFNMA {
			d = ZMM()
		}
		switch v.op {
		case opLoad:
			if f.mask != nil {
				VMOVUPS_Z(mem(), f.mask, d)
			} else {
				VMOVUPS(mem(), d)
			}
		case opStore:
			if f.mask != nil {
				VMOVUPS(reg(a[0]), f.mask, mem())
			} else {
				VMOVUPS(reg(a[0]), mem())
			}
		case opAccum:
			// Under the tail's mask the lanes past n keep the accumulator.
			x, acc := reg(a[0]), f.acc[v.idx]
			ins := VADDPS
			if f.k.reduce == maxReduce {
				ins = VMAXPS
			}
			if f.mask != nil {
				ins(x, acc, f.mask, acc)
			} else {
				ins(x, acc, acc)
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
			VMINPS(r[a[0]], reg(a[1]), d)
		case opMax:
			VMAXPS(r[a[0]], reg(a[1]), d)
		case opAbs:
			VANDPS(f.c.get("absmask", 0x7fffffff), reg(a[0]), d)
		case opRound:
			VRNDSCALEPS(U8(8), r[a[0]], d) // to nearest, no precision exception
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
			m := K()
			VPMOVD2M(reg(a[0]), m)
			VBLENDMPS(r[a[1]], reg(a[2]), m, d)
		case opGE0:
			m := K()
			VCMPPS(U8(0x1d), f.c.get("zero", 0), reg(a[0]), m) // GE_OQ: false for NaN
			VPMOVM2D(m, d)
		case opRelu:
			z := ZMM()
			VPXORD(z, z, z)
			VMAXPS(r[a[0]], z, d)
		case opFMA, opFNMA:
			d = f.fma(v, dies, reg, isConst, r)
		default:
			panic(fmt.Sprintf("no AVX-512 lowering of op %d", v.op))
		}
		if d != nil {
			r[v] = d
		}
	}
}

// fma is avx2Fn.fma on ZMM registers.
func (f *avx512Fn) fma(v *val, dies func(*val) bool, reg func(*val) Op, isConst func(*val) bool, r map[*val]Op) VecVirtual {
	a, b, c := v.args[0], v.args[1], v.args[2]
	ins := [3]func(...Op){VFMADD231PS, VFMADD213PS, VFMADD132PS}
	if v.op == opFNMA {
		ins = [3]func(...Op){VFNMADD231PS, VFNMADD213PS, VFNMADD132PS}
	}
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
			n++
		}
		if isConst(fm.y) {
			n++
		}
		if n < cost {
			best, cost = fm, n
		}
	}
	var acc VecVirtual
	if dies(best.acc) && best.acc != best.y && best.acc != best.m {
		acc = r[best.acc].(VecVirtual)
	} else {
		acc = ZMM()
		if m, ok := r[best.acc].(Mem); ok {
			VMOVUPS(m, acc)
		} else {
			VMOVAPS(r[best.acc], acc)
		}
	}
	best.ins(r[best.m], reg(best.y), acc)
	return acc
}
