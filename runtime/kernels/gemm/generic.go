package gemm

import (
	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/eltwise"
)

// The generic micro-tile is 4×2. Plain Go keeps scalars in the 15 usable XMM
// registers and its register allocator spills early: 4×2 accumulators leave
// room for a step's six operands, where 4×4 or 2×8 spill (measured: 4×2
// runs at twice the speed of either).
const (
	genericMR = 4
	genericNR = 2
)

var genericKernel = &Kernel{Set: cpu.Generic, MR: genericMR, NR: genericNR, kc: 256, minMC: 4 * genericMR, tile: micro,
	panel: loopTiles(genericMR, micro), edge: rows, silu: eltwise.Unary(cpu.Generic, eltwise.Silu)}

// rows computes the rows past the last full tile one at a time: a padded
// MR×NR tile would waste most of its work (all but one row of it for a batch
// of 1).
func rows(r, kc int, a, pb []float32, k, p0, n int, c []float32, ldc int, f finish, _ []float32) {
	for i := range r {
		row(kc, a[i*kc:(i+1)*kc], pb, k, p0, n, c[i*ldc:i*ldc+n], f)
	}
}

// row computes one row of C from a row of A, four B panels at a time so that
// eight sums are in flight:
//
//	c[j] = finish(Σ_{p<kc} a[p] · pb[j/NR][p0+p][j%NR])
func row(kc int, a, pb []float32, k, p0, n int, c []float32, f finish) {
	const nr = genericNR
	a = a[:kc]
	var sums [4 * nr]float32
	j := 0
	for ; j+4*nr <= n; j += 4 * nr {
		b0 := pb[j*k+p0*nr:][:kc*nr]
		b1 := pb[(j+nr)*k+p0*nr:][:kc*nr]
		b2 := pb[(j+2*nr)*k+p0*nr:][:kc*nr]
		b3 := pb[(j+3*nr)*k+p0*nr:][:kc*nr]
		var s00, s01, s10, s11, s20, s21, s30, s31 float32
		for p, x := range a {
			s00, s01 = s00+x*b0[2*p], s01+x*b0[2*p+1]
			s10, s11 = s10+x*b1[2*p], s11+x*b1[2*p+1]
			s20, s21 = s20+x*b2[2*p], s21+x*b2[2*p+1]
			s30, s31 = s30+x*b3[2*p], s31+x*b3[2*p+1]
		}
		sums = [4 * nr]float32{s00, s01, s10, s11, s20, s21, s30, s31}
		f.store(c[j:j+4*nr], sums[:], j)
	}
	for ; j < n; j += nr {
		b0 := pb[j*k+p0*nr:][:kc*nr]
		var s0, s1 float32
		for p, x := range a {
			s0, s1 = s0+x*b0[2*p], s1+x*b0[2*p+1]
		}
		sums[0], sums[1] = s0, s1
		f.store(c[j:min(j+nr, n)], sums[:], j)
	}
}

// micro is the generic MR×NR micro-kernel:
//
//	C[i][j] = finish(Σ_{p<kc} a[i*kc+p] · b[p*NR+j])
//
// Plain Go leaves the loop as written: loading a whole step's operands before
// using them, unrolling four steps, and reslicing instead of indexing (so no
// bounds checks remain) make it about twice as fast as the obvious loop.
func micro(kc int, a, b, c []float32, ldc int, flags int, bias []float32) {
	const nr = genericNR
	var c00, c01, c10, c11, c20, c21, c30, c31 float32
	r0, r1, r2, r3 := a[:kc], a[kc:2*kc], a[2*kc:3*kc], a[3*kc:4*kc]
	b = b[:kc*nr]
	for len(r0) >= 4 && len(r1) >= 4 && len(r2) >= 4 && len(r3) >= 4 && len(b) >= 4*nr {
		for u := range 4 {
			a0, a1, a2, a3 := r0[u], r1[u], r2[u], r3[u]
			b0, b1 := b[2*u], b[2*u+1]
			c00, c10, c20, c30 = c00+a0*b0, c10+a1*b0, c20+a2*b0, c30+a3*b0
			c01, c11, c21, c31 = c01+a0*b1, c11+a1*b1, c21+a2*b1, c31+a3*b1
		}
		r0, r1, r2, r3, b = r0[4:], r1[4:], r2[4:], r3[4:], b[4*nr:]
	}
	for len(r0) >= 1 && len(r1) >= 1 && len(r2) >= 1 && len(r3) >= 1 && len(b) >= nr {
		a0, a1, a2, a3 := r0[0], r1[0], r2[0], r3[0]
		b0, b1 := b[0], b[1]
		c00, c10, c20, c30 = c00+a0*b0, c10+a1*b0, c20+a2*b0, c30+a3*b0
		c01, c11, c21, c31 = c01+a0*b1, c11+a1*b1, c21+a2*b1, c31+a3*b1
		r0, r1, r2, r3, b = r0[1:], r1[1:], r2[1:], r3[1:], b[nr:]
	}
	f := finish{flags: flags, bias: bias}
	f.store(c[0:nr], []float32{c00, c01}, 0)
	f.store(c[ldc:ldc+nr], []float32{c10, c11}, 0)
	f.store(c[2*ldc:2*ldc+nr], []float32{c20, c21}, 0)
	f.store(c[3*ldc:3*ldc+nr], []float32{c30, c31}, 0)
}
