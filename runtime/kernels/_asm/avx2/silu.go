package avx2

import (
	"math"

	"github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Silu in a kernel's store: EfficientNet's convs end in bias and silu, which
// would otherwise be a pass of their own over the output (eltwise's silu)
// after the depthwise or GEMM kernel stored it. The instructions are those
// eltwise's generator
// lowers silu to (_asm/eltwise/math.go: silu, sigmoid, exp), in the same
// order of roundings, so that the fused and the unfused conv give the same
// bits: v·sigmoid(v), sigmoid(v) = s/(1+e) with e = e^-|v| and s = e below
// zero, 1 above; e^t = 2^n·(1 + r + r²·q(r)), n = round(t·log2e), r = t -
// n·ln2 in two parts, q of degree 4; AVX-512 scales by 2^n with VSCALEFPS,
// AVX2 by the product of two powers of two built in the exponent bits.

// siluConsts are silu's constants, by name, as eltwise's generator has
// them. exp's upper clamp is left out: its argument, -|v|, is never above
// it (a NaN v, which the clamp would keep, gives NaN anyway as v·sigmoid).
var siluConsts = []struct {
	name string
	bits uint32
}{
	{"sign", 0x80000000},
	{"expLo", math.Float32bits(-104)},
	{"log2e", math.Float32bits(0x1.715476p+00)},
	{"ln2hi", math.Float32bits(0x1.63p-01)},
	{"ln2lo", math.Float32bits(-0x1.bd0106p-13)},
	{"exp2", math.Float32bits(0x1.fffffcp-02)},
	{"exp3", math.Float32bits(0x1.555492p-03)},
	{"exp4", math.Float32bits(0x1.5558f2p-05)},
	{"exp5", math.Float32bits(0x1.123ap-07)},
	{"exp6", math.Float32bits(0x1.6a2404p-10)},
	{"one", math.Float32bits(1)},
}

// Silu emits silu over vectors, AVX2's or AVX-512's, its constants in a
// table of its own.
type Silu struct {
	avx512 bool
	at     map[string]Mem
}

// NewSilu declares the constants' table, symbol: with AVX2 a vector of 8
// copies each (one 32-byte aligned table, as Go aligns a symbol of 32 bytes
// or more), with AVX-512 one float each, for the instructions' embedded
// broadcast (a 4-byte operand never straddles a cache line, which 64-byte
// tables would as the linker places them).
func NewSilu(symbol string, avx512 bool) *Silu {
	copies := 8
	if avx512 {
		copies = 1
	}
	table := build.GLOBL(symbol, build.RODATA|build.NOPTR)
	s := &Silu{avx512: avx512, at: map[string]Mem{}}
	for i, c := range siluConsts {
		for j := range copies {
			build.DATA(4*(i*copies+j), U32(c.bits))
		}
		s.at[c.name] = table.Offset(4 * i * copies)
	}
	return s
}

func (s *Silu) konst(name string) Mem {
	m, ok := s.at[name]
	if !ok {
		panic("no silu constant " + name)
	}
	return m
}

func (s *Silu) vec() VecVirtual {
	if s.avx512 {
		return build.ZMM()
	}
	return build.YMM()
}

// op emits ins with a constant as its memory operand: the embedded
// broadcast form with AVX-512.
func (s *Silu) op(ins, bcst func(...Op), name string, args ...Op) {
	if s.avx512 {
		bcst(append([]Op{s.konst(name)}, args...)...)
		return
	}
	ins(append([]Op{s.konst(name)}, args...)...)
}

// splat loads constant name into every lane of v.
func (s *Silu) splat(name string, v VecVirtual) {
	if s.avx512 {
		build.VBROADCASTSS(s.konst(name), v)
		return
	}
	build.VMOVUPS(s.konst(name), v)
}

// Apply replaces v with silu(v), using four more vector registers (and an
// opmask with AVX-512).
func (s *Silu) Apply(v VecVirtual) {
	// t = max(-|v|, -104); n = round(t·log2e); r = t - n·ln2 (in t).
	t, n := s.vec(), s.vec()
	s.op(build.VORPS, build.VORPS_BCST, "sign", v, t)
	s.op(build.VMAXPS, build.VMAXPS_BCST, "expLo", t, t)
	s.op(build.VMULPS, build.VMULPS_BCST, "log2e", t, n)
	if s.avx512 {
		build.VRNDSCALEPS(U8(8), n, n) // to nearest, no precision exception
	} else {
		build.VROUNDPS(U8(8), n, n)
	}
	s.op(build.VFNMADD231PS, build.VFNMADD231PS_BCST, "ln2hi", n, t)
	s.op(build.VFNMADD231PS, build.VFNMADD231PS_BCST, "ln2lo", n, t)
	// e = (q(r)·r² + r + 1)·2^n, in q.
	q, rr := s.vec(), s.vec()
	s.splat("exp6", q)
	for _, c := range []string{"exp5", "exp4", "exp3", "exp2"} {
		s.op(build.VFMADD213PS, build.VFMADD213PS_BCST, c, t, q)
	}
	build.VMULPS(t, t, rr)
	build.VFMADD213PS(t, rr, q)
	s.op(build.VADDPS, build.VADDPS_BCST, "one", q, q)
	if s.avx512 {
		build.VSCALEFPS(n, q, q)
	} else {
		// 2^i1 and 2^(n-i1), i1 = n>>1: each a normal float.
		i1 := rr
		build.VCVTPS2DQ(n, n)
		build.VPSRAD(U8(1), n, i1)
		build.VPSUBD(i1, n, n)
		build.VPSLLD(U8(23), i1, i1)
		s.op(build.VPADDD, nil, "one", i1, i1)
		build.VPSLLD(U8(23), n, n)
		s.op(build.VPADDD, nil, "one", n, n)
		build.VMULPS(i1, q, q)
		build.VMULPS(n, q, q)
	}
	// v·(v < 0 ? e : 1)/(1 + e).
	den, sel := t, n
	s.op(build.VADDPS, build.VADDPS_BCST, "one", q, den)
	if s.avx512 {
		k := build.K()
		build.VPMOVD2M(v, k)
		s.splat("one", sel)
		build.VMOVUPS(q, k, sel)
	} else {
		s.splat("one", sel)
		build.VBLENDVPS(v, q, sel, sel)
	}
	build.VDIVPS(den, sel, sel)
	build.VMULPS(sel, v, v)
}
