// Command update generates the fused optimiser updates of package
// runtime/kernels/update: the AVX2+FMA ones with avo (update_amd64.s and its
// Go declarations) and the NEON ones with the emitter in neon.go
// (update_arm64.s and its declarations), because avo writes only amd64.
//
// Run it from runtime/kernels/_asm, as the go:generate lines in package
// update do (-avx512: the AVX-512 kernels, avx512.go):
//
//	go run ./update -out ../update/update_amd64.s -stubs ../update/update_amd64.go -pkg update -neon ../update/update_arm64
//
//	go run ./update -avx512 -out ../update/update_avx512_amd64.s -stubs ../update/update_avx512_amd64.go -pkg update
//
// The output depends only on these arguments.
//
// An update reads and writes every parameter and its state once: it is bound
// by memory, so one vector a step is enough, and the last 1-7 (AVX2) or 1-3
// (NEON) floats go one at a time through the same operations on lane 0;
// AVX-512's last 1-15 go through them once, under an opmask (avx512.go).
package main

import (
	"flag"
	"strings"

	"github.com/mdlc/mdlc/runtime/kernels/_asm/avx2"
	"github.com/mdlc/mdlc/runtime/kernels/_asm/neon"
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// avx512 selects the AVX-512 kernels, in files of their own: the AVX2 files
// are checked for AVX2's 16 registers.
var avx512 = flag.Bool("avx512", false, "generate the AVX-512 kernels instead")

func main() {
	flag.Parse()
	if *avx512 {
		generateAVX512()
		return
	}
	ConstraintExpr("amd64,!purego")
	adamAVX2()
	sgdAVX2()
	rmsAVX2(false)
	rmsAVX2(true)
	avx2.Generate()
	neon.Generate("update", writeNEON)
}

// adamSig is the kernels' Go signature: the scalars of update.AdamCoef one by
// one, in its field order.
const adamSig = "func(p, g, m, v []float32, n int, b1, c1, b2, c2, wd, decay, step, k, eps float32)"

// adamDoc is the doc comment of the kernel name: its reference loop.
func adamDoc(name string, fused string) []string {
	return strings.Split(name+` is Adam's fused update of the first n parameters
(update.AdamCoef names the scalars):

	for i := range n {
		gi := g[i] + wd*p[i]
		mi := b1*m[i] + c1*gi
		vi := b2*v[i] + c2*gi*gi
		m[i], v[i] = mi, vi
		p[i] = p[i]*decay - step*mi/(sqrt(vi)*k+eps)
	}

`+fused+`
The caller checks that every slice holds n.`, "\n")
}

// adamAVX2 keeps the nine scalars broadcast in Y registers and the five
// operands of a step in the others: 14 of the 16.
func adamAVX2() {
	TEXT("adamAVX2", NOSPLIT, adamSig)
	Doc(adamDoc("adamAVX2", "Products are fused (FMA): into gi, mi, vi, the\ndenominator and p.")...)
	Pragma("noescape")
	p := Load(Param("p").Base(), GP64())
	g := Load(Param("g").Base(), GP64())
	m := Load(Param("m").Base(), GP64())
	v := Load(Param("v").Base(), GP64())
	n := Load(Param("n"), GP64())
	c := broadcast("b1", "c1", "b2", "c2", "wd", "decay", "step", "k", "eps")
	i := GP64()
	XORQ(i, i)

	// body is one step over width floats at index i: Y registers for 8,
	// their X halves and scalar forms for 1.
	body := func(width int) {
		vec := func(r VecVirtual) Op { return r.AsX() }
		at := func(base Register) Mem { return Mem{Base: base, Index: i, Scale: 4} }
		if width == 1 {
			P, G, M, V, T := XMM(), XMM(), XMM(), XMM(), XMM()
			VMOVSS(at(p), P)
			VMOVSS(at(g), G)
			VMOVSS(at(m), M)
			VMOVSS(at(v), V)
			VFMADD231SS(vec(c["wd"]), P, G)
			VMULSS(vec(c["b1"]), M, M)
			VFMADD231SS(vec(c["c1"]), G, M)
			VMULSS(G, G, T)
			VMULSS(vec(c["b2"]), V, V)
			VFMADD231SS(vec(c["c2"]), T, V)
			VMOVSS(M, at(m))
			VMOVSS(V, at(v))
			VSQRTSS(V, V, T)
			VFMADD213SS(vec(c["eps"]), vec(c["k"]), T)
			VDIVSS(T, M, T)
			VMULSS(vec(c["decay"]), P, P)
			VFNMADD231SS(vec(c["step"]), T, P)
			VMOVSS(P, at(p))
			return
		}
		adamVec(c, vector{YMM, at, nil}, p, g, m, v)
	}

	loop(n, i, body)
}

// loop runs body(8) at i = 0, 8, ... while 8 floats are left of n, then
// body(1) for each of the last 1-7, and returns.
func loop(n, i Register, body func(width int)) {
	end := GP64()
	MOVQ(n, end)
	ANDQ(I32(-8), end)
	Label("vec")
	CMPQ(i, end)
	JGE(LabelRef("tail"))
	body(8)
	ADDQ(I8(8), i)
	JMP(LabelRef("vec"))
	Label("tail")
	CMPQ(i, n)
	JGE(LabelRef("done"))
	body(1)
	INCQ(i)
	JMP(LabelRef("tail"))
	Label("done")
	VZEROUPPER()
	RET()
}

// broadcast loads the float32 parameters names, each broadcast to a Y
// register.
func broadcast(names ...string) map[string]VecVirtual {
	c := map[string]VecVirtual{}
	for _, name := range names {
		r := YMM()
		VBROADCASTSS(addr(name), r)
		c[name] = r
	}
	return c
}

// sgdSig is the SGD kernels' Go signature: the scalars of update.SGDCoef.
const sgdSig = "func(p, g, b []float32, n int, lr, mu, keep, wd, a, c float32)"

// sgdDoc is the doc comment of the SGD kernel name: its reference loop.
func sgdDoc(name string, fused string) []string {
	return strings.Split(name+` is SGD's fused update with momentum of the first n
parameters (update.SGDCoef names the scalars):

	for i := range n {
		gi := g[i] + wd*p[i]
		bi := mu*b[i] + keep*gi
		b[i] = bi
		p[i] -= lr * (a*gi + c*bi)
	}

`+fused+`
The caller checks that every slice holds n.`, "\n")
}

// sgdAVX2 keeps six scalars broadcast and four operands: 10 registers.
func sgdAVX2() {
	TEXT("sgdAVX2", NOSPLIT, sgdSig)
	Doc(sgdDoc("sgdAVX2", "Products are fused (FMA): into gi, bi, the sum\nand p.")...)
	Pragma("noescape")
	p := Load(Param("p").Base(), GP64())
	g := Load(Param("g").Base(), GP64())
	b := Load(Param("b").Base(), GP64())
	n := Load(Param("n"), GP64())
	c := broadcast("lr", "mu", "keep", "wd", "a", "c")
	i := GP64()
	XORQ(i, i)
	loop(n, i, func(width int) {
		at := func(base Register) Mem { return Mem{Base: base, Index: i, Scale: 4} }
		if width == 1 {
			x := func(name string) Op { return c[name].AsX() }
			P, G, B, U := XMM(), XMM(), XMM(), XMM()
			VMOVSS(at(p), P)
			VMOVSS(at(g), G)
			VMOVSS(at(b), B)
			VFMADD231SS(x("wd"), P, G)
			VMULSS(x("mu"), B, B)
			VFMADD231SS(x("keep"), G, B)
			VMOVSS(B, at(b))
			VMULSS(x("a"), G, U)
			VFMADD231SS(x("c"), B, U)
			VFNMADD231SS(x("lr"), U, P)
			VMOVSS(P, at(p))
			return
		}
		sgdVec(c, vector{YMM, at, nil}, p, g, b)
	})
}

// addr is the frame address of parameter name.
func addr(name string) Mem {
	b, err := Param(name).Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}

// rmsSig is the RMSprop kernels' Go signature (with momentum: b and mu too).
func rmsSig(momentum bool) string {
	if momentum {
		return "func(p, g, v, b []float32, n int, lr, rho, c, wd, eps, mu float32)"
	}
	return "func(p, g, v []float32, n int, lr, rho, c, wd, eps float32)"
}

// rmsName is the RMSprop kernel of a set.
func rmsName(set string, momentum bool) string {
	if momentum {
		return "rmsMomentum" + set
	}
	return "rms" + set
}

// rmsDoc is the doc comment of an RMSprop kernel: its reference loop.
func rmsDoc(name string, momentum bool, fused string) []string {
	step := "p[i] -= lr * (gi / (sqrt(vi) + eps))"
	if momentum {
		step = "b[i] = mu*b[i] + gi/(sqrt(vi)+eps)\n\t\tp[i] -= lr * b[i]"
	}
	return strings.Split(name+` is RMSprop's fused update of the first n parameters
(update.RMSCoef names the scalars; Adagrad is rho = c = 1):

	for i := range n {
		gi := g[i] + wd*p[i]
		vi := rho*v[i] + c*gi*gi
		v[i] = vi
		`+step+`
	}

`+fused+`
The caller checks that every slice holds n.`, "\n")
}

// rmsAVX2 keeps five or six scalars broadcast and five operands.
func rmsAVX2(momentum bool) {
	name := rmsName("AVX2", momentum)
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
	c := broadcast(scalars...)
	i := GP64()
	XORQ(i, i)
	loop(n, i, func(width int) {
		at := func(base Register) Mem { return Mem{Base: base, Index: i, Scale: 4} }
		if width == 1 {
			x := func(name string) Op { return c[name].AsX() }
			P, G, V, T := XMM(), XMM(), XMM(), XMM()
			VMOVSS(at(p), P)
			VMOVSS(at(g), G)
			VMOVSS(at(v), V)
			VFMADD231SS(x("wd"), P, G)
			VMULSS(G, G, T)
			VMULSS(x("rho"), V, V)
			VFMADD231SS(x("c"), T, V)
			VMOVSS(V, at(v))
			VSQRTSS(V, V, T)
			VADDSS(x("eps"), T, T)
			VDIVSS(T, G, T)
			if momentum {
				B := XMM()
				VMOVSS(at(b), B)
				VFMADD213SS(T, x("mu"), B)
				VMOVSS(B, at(b))
				T = B
			}
			VFNMADD231SS(x("lr"), T, P)
			VMOVSS(P, at(p))
			return
		}
		rmsVec(c, vector{YMM, at, nil}, p, g, v, b, momentum)
	})
}

// vector is how a set's vector step reads and writes: new gives its
// registers, at the element i of a slice, and mask (nil for none) the lanes
// a masked step loads (zeroing the others) and stores.
type vector struct {
	new  func() VecVirtual
	at   func(base Register) Mem
	mask Op
}

func (x vector) load(base Register) VecVirtual {
	r := x.new()
	if x.mask != nil {
		VMOVUPS_Z(x.at(base), x.mask, r)
	} else {
		VMOVUPS(x.at(base), r)
	}
	return r
}

func (x vector) store(r VecVirtual, base Register) {
	if x.mask != nil {
		VMOVUPS(r, x.mask, x.at(base))
	} else {
		VMOVUPS(r, x.at(base))
	}
}

// adamVec is a vector step of Adam's update, c the broadcast scalars.
func adamVec(c map[string]VecVirtual, x vector, p, g, m, v Register) {
	P, G, M, V := x.load(p), x.load(g), x.load(m), x.load(v)
	T := x.new()
	VFMADD231PS(c["wd"], P, G)
	VMULPS(c["b1"], M, M)
	VFMADD231PS(c["c1"], G, M)
	VMULPS(G, G, T)
	VMULPS(c["b2"], V, V)
	VFMADD231PS(c["c2"], T, V)
	x.store(M, m)
	x.store(V, v)
	VSQRTPS(V, T)
	VFMADD213PS(c["eps"], c["k"], T)
	VDIVPS(T, M, T)
	VMULPS(c["decay"], P, P)
	VFNMADD231PS(c["step"], T, P)
	x.store(P, p)
}

// sgdVec is a vector step of SGD's update.
func sgdVec(c map[string]VecVirtual, x vector, p, g, b Register) {
	P, G, B := x.load(p), x.load(g), x.load(b)
	U := x.new()
	VFMADD231PS(c["wd"], P, G)
	VMULPS(c["mu"], B, B)
	VFMADD231PS(c["keep"], G, B)
	x.store(B, b)
	VMULPS(c["a"], G, U)
	VFMADD231PS(c["c"], B, U)
	VFNMADD231PS(c["lr"], U, P)
	x.store(P, p)
}

// rmsVec is a vector step of RMSprop's update, with momentum b if momentum.
func rmsVec(c map[string]VecVirtual, x vector, p, g, v, b Register, momentum bool) {
	P, G, V := x.load(p), x.load(g), x.load(v)
	T := x.new()
	VFMADD231PS(c["wd"], P, G)
	VMULPS(G, G, T)
	VMULPS(c["rho"], V, V)
	VFMADD231PS(c["c"], T, V)
	x.store(V, v)
	VSQRTPS(V, T)
	VADDPS(c["eps"], T, T)
	VDIVPS(T, G, T)
	if momentum {
		B := x.load(b)
		VFMADD213PS(T, c["mu"], B)
		x.store(B, b)
		T = B
	}
	VFNMADD231PS(c["lr"], T, P)
	x.store(P, p)
}
