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

func generateAVX512() {
	ConstraintExpr("amd64,!purego")
	// ztailmasks[n] selects a vector's first n lanes.
	tail := GLOBL("ztailmasks", RODATA|NOPTR)
	for n := range 16 {
		DATA(2*n, U16(1<<n-1))
	}
	s := avx512ISA(tail)
	s.cells(false)
	s.cells(true)
	s.addRows()
	s.maxGrad2x2()
	Generate()
}

// avx512ISA masks with an opmask: masked loads and stores touch only its
// lanes.
func avx512ISA(tail Mem) x86 {
	return x86{
		set: "AVX512", lanes: 16, vec: func() VecVirtual { return ZMM() },
		mask: func(n GPVirtual) Op { return zTailMask(tail, n) },
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

// zTailMask is the opmask of the first n lanes, n < 16.
func zTailMask(tail Mem, n GPVirtual) OpmaskVirtual {
	base := GP64()
	LEAQ(tail, base)
	k := K()
	KMOVW(Mem{Base: base, Index: n, Scale: 2}, k)
	return k
}
