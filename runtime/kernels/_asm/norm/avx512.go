package main

import (
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The AVX-512 kernels: the AVX2 ones' passes (main.go) on 16 floats per ZMM
// register, the last 1-15 of a row under an opmask. A zero-masking load or
// subtraction leaves the lanes past the row at zero, so no VANDPS is needed
// before a sum. Symbols take a "z" prefix: the AVX2 file has its own.

func generateAVX512() {
	ConstraintExpr("amd64,!purego")
	// ztailmasks[n] selects a vector's first n lanes.
	tail := GLOBL("ztailmasks", RODATA|NOPTR)
	for n := range 16 {
		DATA(2*n, U16(1<<n-1))
	}
	one := ConstData("zone", U64(math.Float64bits(1)))
	layerAVX512(tail, one)
	rmsAVX512(tail, one)
	Generate()
}

// zPass is avx2Pass on 16-float vectors.
func zPass(label string, n GPVirtual, ptrs []GPVirtual, body func(vecs int, masked bool)) {
	step := func(l string, vecs int, next string) {
		Label(label + "_" + l)
		CMPQ(n, U8(16*vecs))
		JL(LabelRef(label + "_" + next))
		body(vecs, false)
		for _, p := range ptrs {
			ADDQ(U32(64*vecs), p)
		}
		SUBQ(U8(16*vecs), n)
		JMP(LabelRef(label + "_" + l))
	}
	step("group", group, "one")
	step("one", 1, "tail")
	Label(label + "_tail")
	TESTQ(n, n)
	JE(LabelRef(label + "_done"))
	body(1, true)
	for _, p := range ptrs {
		LEAQ(Mem{Base: p, Index: n, Scale: 4}, p)
	}
	Label(label + "_done")
}

// zTailMask is the opmask of a row's last c%16 floats.
func zTailMask(tail Mem, c GPVirtual) OpmaskVirtual {
	t, base := GP64(), GP64()
	MOVQ(c, t)
	ANDQ(U8(15), t)
	LEAQ(tail, base)
	k := K()
	KMOVW(Mem{Base: base, Index: t, Scale: 2}, k)
	return k
}

// zHsum adds the lanes of the accumulators into lane 0 of the first one's
// low quarter, which it returns.
func zHsum(acc []VecVirtual) Register {
	a := acc[0]
	for _, b := range acc[1:] {
		VADDPS(b, a, a)
	}
	hi := YMM()
	VEXTRACTF32X8(U8(1), a, hi)
	y := a.AsY()
	VADDPS(hi, y, y)
	h := XMM()
	VEXTRACTF128(U8(1), y, h)
	lo := a.AsX()
	VADDPS(h, lo, lo)
	t := XMM()
	VMOVHLPS(lo, lo, t)
	VADDPS(t, lo, lo)
	VMOVSHDUP(lo, t)
	VADDSS(t, lo, lo)
	return lo
}

// zLoader loads vectors, under mask (zeroing the other lanes) if masked.
func zLoader(k OpmaskVirtual, masked bool) func(m Mem, z VecVirtual) {
	return func(m Mem, z VecVirtual) {
		if masked {
			VMOVUPS_Z(m, k, z)
		} else {
			VMOVUPS(m, z)
		}
	}
}

// zStore stores z, under mask if masked.
func zStore(k OpmaskVirtual, masked bool, z VecVirtual, m Mem) {
	if masked {
		VMOVUPS(z, k, m)
	} else {
		VMOVUPS(z, m)
	}
}

func zZeros(n int) []VecVirtual {
	v := make([]VecVirtual, n)
	for i := range v {
		v[i] = ZMM()
		VPXORD(v[i], v[i], v[i])
	}
	return v
}

// zBroadcast is the float32 in lane 0 of x in every lane of a ZMM register.
func zBroadcast(x Register) VecVirtual {
	z := ZMM()
	VBROADCASTSS(x, z)
	return z
}

// layerAVX512: the three passes of layerDoc, as layerAVX2.
func layerAVX512(tail, one Mem) {
	name := "layerNormAVX512"
	TEXT(name, NOSPLIT, layerSig)
	Pragma("noescape")
	Doc(layerDoc(name, 16*group)...)
	x := Load(Param("x").Base(), GP64())
	gamma := Load(Param("gamma").Base(), GP64())
	beta := Load(Param("beta").Base(), GP64())
	out := Load(Param("out").Base(), GP64())
	rows := Load(Param("rows"), GP64())
	c := Load(Param("c"), GP64()).(GPVirtual)
	eps := resolve("eps")
	k := zTailMask(tail, c)
	n, p, g, b, o := GP64(), GP64(), GP64(), GP64(), GP64()

	Label("row")
	// Pass 1: s = Σ (v - row[0]).
	x0 := ZMM()
	VBROADCASTSS(Mem{Base: x}, x0)
	s := zZeros(group)
	MOVQ(x, p)
	MOVQ(c, n)
	zPass("mean", n, []GPVirtual{p}, func(vecs int, masked bool) {
		load := zLoader(k, masked)
		for j := range vecs {
			v := ZMM()
			load(Mem{Base: p, Disp: 64 * j}, v)
			if masked {
				VSUBPS_Z(x0, v, k, v)
			} else {
				VSUBPS(x0, v, v)
			}
			VADDPS(v, s[j], s[j])
		}
	})
	cf := XMM()
	VCVTSI2SDQ(c, cf, cf)
	mean := toF64(zHsum(s))
	VDIVSD(cf, mean, mean)
	VADDSD(toF64(x0.AsX()), mean, mean)
	VCVTSD2SS(mean, mean, mean)
	m := zBroadcast(mean)

	// Pass 2: sd = Σ (v - m), sq = Σ (v - m)².
	sd, sq := zZeros(group), zZeros(group)
	MOVQ(x, p)
	MOVQ(c, n)
	zPass("var", n, []GPVirtual{p}, func(vecs int, masked bool) {
		load := zLoader(k, masked)
		for j := range vecs {
			d := ZMM()
			load(Mem{Base: p, Disp: 64 * j}, d)
			if masked {
				VSUBPS_Z(m, d, k, d)
			} else {
				VSUBPS(m, d, d)
			}
			VADDPS(d, sd[j], sd[j])
			VFMADD231PS(d, d, sq[j])
		}
	})
	corr := toF64(zHsum(sd))
	VDIVSD(cf, corr, corr)
	v := toF64(zHsum(sq))
	VDIVSD(cf, v, v)
	c2 := XMM()
	VMULSD(corr, corr, c2)
	VSUBSD(c2, v, v)
	// max(v, 0) with v second, so that a NaN is kept.
	z := XMM()
	VXORPD(z, z, z)
	VMAXSD(v, z, v)
	inv := zBroadcast(zInvSqrt(v, eps, one))
	VCVTSD2SS(corr, corr, corr)
	lo := zBroadcast(corr)

	// Pass 3: o = ((v-m)-lo)·inv·gamma + beta.
	MOVQ(x, p)
	MOVQ(gamma, g)
	MOVQ(beta, b)
	MOVQ(out, o)
	MOVQ(c, n)
	zPass("out", n, []GPVirtual{p, g, b, o}, func(vecs int, masked bool) {
		load := zLoader(k, masked)
		for j := range vecs {
			d, gj, bj := ZMM(), ZMM(), ZMM()
			load(Mem{Base: p, Disp: 64 * j}, d)
			VSUBPS(m, d, d)
			VSUBPS(lo, d, d)
			VMULPS(inv, d, d)
			load(Mem{Base: g, Disp: 64 * j}, gj)
			load(Mem{Base: b, Disp: 64 * j}, bj)
			VFMADD213PS(bj, gj, d)
			zStore(k, masked, d, Mem{Base: o, Disp: 64 * j})
		}
	})
	MOVQ(p, x)
	MOVQ(o, out)
	DECQ(rows)
	JNZ(LabelRef("row"))
	VZEROUPPER()
	RET()
}

// rmsAVX512: the two passes of rmsDoc, as rmsAVX2.
func rmsAVX512(tail, one Mem) {
	name := "rmsNormAVX512"
	TEXT(name, NOSPLIT, rmsSig)
	Pragma("noescape")
	Doc(rmsDoc(name, 16*group)...)
	x := Load(Param("x").Base(), GP64())
	gamma := Load(Param("gamma").Base(), GP64())
	out := Load(Param("out").Base(), GP64())
	rows := Load(Param("rows"), GP64())
	c := Load(Param("c"), GP64()).(GPVirtual)
	eps := resolve("eps")
	k := zTailMask(tail, c)
	n, p, g, o := GP64(), GP64(), GP64(), GP64()

	Label("row")
	sq := zZeros(group)
	MOVQ(x, p)
	MOVQ(c, n)
	zPass("sq", n, []GPVirtual{p}, func(vecs int, masked bool) {
		load := zLoader(k, masked)
		for j := range vecs {
			v := ZMM()
			load(Mem{Base: p, Disp: 64 * j}, v)
			VFMADD231PS(v, v, sq[j])
		}
	})
	cf := XMM()
	VCVTSI2SDQ(c, cf, cf)
	ms := toF64(zHsum(sq))
	VDIVSD(cf, ms, ms)
	inv := zBroadcast(zInvSqrt(ms, eps, one))

	MOVQ(x, p)
	MOVQ(gamma, g)
	MOVQ(out, o)
	MOVQ(c, n)
	zPass("out", n, []GPVirtual{p, g, o}, func(vecs int, masked bool) {
		load := zLoader(k, masked)
		for j := range vecs {
			v, gj := ZMM(), ZMM()
			load(Mem{Base: p, Disp: 64 * j}, v)
			VMULPS(inv, v, v)
			load(Mem{Base: g, Disp: 64 * j}, gj)
			VMULPS(gj, v, v)
			zStore(k, masked, v, Mem{Base: o, Disp: 64 * j})
		}
	})
	MOVQ(p, x)
	MOVQ(o, out)
	DECQ(rows)
	JNZ(LabelRef("row"))
	VZEROUPPER()
	RET()
}

// zInvSqrt is float32(1/sqrt(v+eps)) in lane 0 of an XMM register, from the
// float64 v in a register and the float32 eps in memory.
func zInvSqrt(v Register, eps, one Mem) Register {
	e := XMM()
	VCVTSS2SD(eps, e, e)
	VADDSD(e, v, v)
	VSQRTSD(v, v, v)
	r := XMM()
	VMOVSD(one, r)
	VDIVSD(v, r, r)
	VCVTSD2SS(r, r, r)
	return r
}
