package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The AVX-512 kernels: the AVX2 ones' vector steps (main.go) on 16 floats per
// ZMM register, the last 1-15 under an opmask, whose zero-masking loads
// leave the other lanes at zero and whose stores leave their memory alone.

func generateAVX512() {
	ConstraintExpr("amd64,!purego")
	// ztailmasks[n] selects a vector's first n lanes.
	tail := GLOBL("ztailmasks", RODATA|NOPTR)
	for n := range 16 {
		DATA(2*n, U16(1<<n-1))
	}
	adamAVX512(tail)
	sgdAVX512(tail)
	rmsAVX512(tail, false)
	rmsAVX512(tail, true)
	Generate()
}

// adamAVX512 keeps the nine scalars broadcast in Z registers and the five
// operands of a step in others.
func adamAVX512(tail Mem) {
	TEXT("adamAVX512", NOSPLIT, adamSig)
	Doc(adamDoc("adamAVX512", "Products are fused (FMA): into gi, mi, vi, the\ndenominator and p.")...)
	Pragma("noescape")
	p := Load(Param("p").Base(), GP64())
	g := Load(Param("g").Base(), GP64())
	m := Load(Param("m").Base(), GP64())
	v := Load(Param("v").Base(), GP64())
	n := Load(Param("n"), GP64())
	c := zBroadcast("b1", "c1", "b2", "c2", "wd", "decay", "step", "k", "eps")
	zLoop(n, tail, func(x vector) { adamVec(c, x, p, g, m, v) })
}

// sgdAVX512 keeps six scalars broadcast and four operands.
func sgdAVX512(tail Mem) {
	TEXT("sgdAVX512", NOSPLIT, sgdSig)
	Doc(sgdDoc("sgdAVX512", "Products are fused (FMA): into gi, bi, the sum\nand p.")...)
	Pragma("noescape")
	p := Load(Param("p").Base(), GP64())
	g := Load(Param("g").Base(), GP64())
	b := Load(Param("b").Base(), GP64())
	n := Load(Param("n"), GP64())
	c := zBroadcast("lr", "mu", "keep", "wd", "a", "c")
	zLoop(n, tail, func(x vector) { sgdVec(c, x, p, g, b) })
}

// rmsAVX512 keeps five or six scalars broadcast and five operands.
func rmsAVX512(tail Mem, momentum bool) {
	name := rmsName("AVX512", momentum)
	TEXT(name, NOSPLIT, rmsSig(momentum))
	Doc(rmsDoc(name, momentum, "Products are fused (FMA): into gi, vi, b and p.")...)
	Pragma("noescape")
	p := Load(Param("p").Base(), GP64())
	g := Load(Param("g").Base(), GP64())
	v := Load(Param("v").Base(), GP64())
	var b Register
	scalars := []string{"lr", "rho", "c", "wd", "eps"}
	if momentum {
		b = Load(Param("b").Base(), GP64())
		scalars = append(scalars, "mu")
	}
	n := Load(Param("n"), GP64())
	c := zBroadcast(scalars...)
	zLoop(n, tail, func(x vector) { rmsVec(c, x, p, g, v, b, momentum) })
}

// zLoop runs body on 16 floats at i = 0, 16, ... while 16 are left of n, then
// once on the last 1-15 under their mask, and returns.
func zLoop(n Register, tail Mem, body func(x vector)) {
	i := GP64()
	XORQ(i, i)
	at := func(base Register) Mem { return Mem{Base: base, Index: i, Scale: 4} }
	end := GP64()
	MOVQ(n, end)
	ANDQ(I32(-16), end)
	Label("vec")
	CMPQ(i, end)
	JGE(LabelRef("tail"))
	body(vector{ZMM, at, nil})
	ADDQ(I8(16), i)
	JMP(LabelRef("vec"))
	Label("tail")
	CMPQ(i, n)
	JGE(LabelRef("done"))
	r, base := GP64(), GP64()
	MOVQ(n, r)
	SUBQ(i, r)
	LEAQ(tail, base)
	k := K()
	KMOVW(Mem{Base: base, Index: r, Scale: 2}, k)
	body(vector{ZMM, at, k})
	Label("done")
	VZEROUPPER()
	RET()
}

// zBroadcast loads the float32 parameters names, each broadcast to a Z
// register.
func zBroadcast(names ...string) map[string]VecVirtual {
	c := map[string]VecVirtual{}
	for _, name := range names {
		r := ZMM()
		VBROADCASTSS(addr(name), r)
		c[name] = r
	}
	return c
}
