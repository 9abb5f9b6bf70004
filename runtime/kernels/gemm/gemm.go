// Package gemm multiplies float32 matrices, C = op(A)·B, the way BLIS and
// GotoBLAS do: B is packed once into column panels NR wide (a plan packs
// constant weights when it is built), A is packed per call into row panels MR
// high in scratch memory the caller owns, and a register-blocked micro-kernel
// multiplies one MR×NR tile of C at a time over a block of K. Rows of C are
// computed in bands of Blocking.MC rows, each finished over the whole of K
// before the next starts, so a caller can apply an epilogue to a band while it
// is still in cache.
//
// This is the generic kernel, plain Go compiled on every platform. Sums are
// accumulated in float32, in blocks of at most KC terms: for K terms of
// magnitude ~1 the result differs from an exact sum by about sqrt(K)·2⁻²⁴
// relative to Σ|a·b|, well within 1e-5 of it for the K of real networks.
//
// Nothing here allocates.
package gemm

// MR×NR is the micro-tile. Plain Go keeps scalars in the 15 usable XMM
// registers and its register allocator spills early: 4×2 accumulators leave
// room for a step's six operands, where 4×4 or 2×8 spill (measured: 4×2
// runs at twice the speed of either).
const (
	MR = 4
	NR = 2
)

// maxKC and bandBytes bound the blocks: a packed A block of MC×KC and a B
// block of KC×N should sit in L2, and a band of C (MC×N) in L1/L2.
const (
	maxKC     = 256
	maxMC     = 256
	bandBytes = 32 << 10
)

// PackedSize is the length of op(B), k×n, packed by PackB.
func PackedSize(k, n int) int { return (n + NR - 1) / NR * NR * k }

// PackB packs op(B), k×n, into dst (PackedSize(k, n) long): column panel j/NR
// holds rows 0..k-1 of columns j..j+NR-1 in turn, zero past column n-1:
//
//	dst[(j/NR)*k*NR + p*NR + j%NR] = op(B)[p][j]
//
// B is row-major with leading dimension ldb; op transposes it if trans.
func PackB(dst, b []float32, k, n, ldb int, trans bool) {
	for j0 := 0; j0 < n; j0 += NR {
		panel := dst[j0*k : (j0+NR)*k]
		for p := range k {
			for t := range NR {
				j := j0 + t
				var v float32
				switch {
				case j >= n:
				case trans:
					v = b[j*ldb+p]
				default:
					v = b[p*ldb+j]
				}
				panel[p*NR+t] = v
			}
		}
	}
}

// PackA packs rows i0..i0+rows-1 and columns p0..p0+kc-1 of op(A) into row
// panels MR high (the last panel's rows past the end are never read):
//
//	dst[(i/MR)*kc*MR + p*MR + i%MR] = op(A)[i0+i][p0+p]
//
// A is row-major with leading dimension lda; op transposes it if trans.
func PackA(dst, a []float32, lda int, trans bool, i0, rows, p0, kc int) {
	for r := 0; r < rows; r += MR {
		panel := dst[r*kc : (r+MR)*kc]
		for t := range min(MR, rows-r) {
			i := i0 + r + t
			if trans {
				for p := range kc {
					panel[p*MR+t] = a[(p0+p)*lda+i]
				}
				continue
			}
			row := a[i*lda+p0 : i*lda+p0+kc]
			for p, v := range row {
				panel[p*MR+t] = v
			}
		}
	}
}

// Blocking is how a product is cut into blocks: K into blocks of at most KC
// terms (near-equal, so no block is a sliver), and M into bands of MC rows.
type Blocking struct {
	KC, MC int
}

// Block chooses the blocking for an m×n×k product.
func Block(m, n, k int) Blocking {
	blocks := (k + maxKC - 1) / maxKC
	kc := (k + blocks - 1) / max(blocks, 1)
	mc := bandBytes / 4 / max(n, 1) / MR * MR
	mc = min(max(mc, 4*MR), maxMC, (m+MR-1)/MR*MR)
	return Blocking{KC: max(kc, 1), MC: max(mc, MR)}
}

// ScratchSize is the scratch a band needs for its packed A block.
func (b Blocking) ScratchSize() int { return b.MC * b.KC }

// Multiply computes a block of C from packed operands:
//
//	C[i][j] (+)= Σ_{p<kc} pa[i/MR][p][i%MR] · pb[j/NR][p0+p][j%NR]   for i < rows, j < n
//
// pa is a rows×kc block packed by PackA; pb is a k×n matrix packed by PackB, of
// which rows p0..p0+kc-1 are used. With acc false C is overwritten, otherwise
// added to. C is row-major with leading dimension ldc.
func Multiply(rows, n, kc int, pa, pb []float32, k, p0 int, c []float32, ldc int, acc bool) {
	full := rows / MR * MR
	var tile [MR * NR]float32
	for j := 0; j < n; j += NR {
		bp := pb[j*k+p0*NR : j*k+(p0+kc)*NR]
		nr := min(NR, n-j)
		for i := 0; i < full; i += MR {
			ap := pa[i*kc : (i+MR)*kc]
			if nr == NR {
				micro(kc, ap, bp, c[i*ldc+j:], ldc, acc)
				continue
			}
			// An edge tile: compute it whole, keep what lies inside C.
			micro(kc, ap, bp, tile[:], NR, false)
			for r := range MR {
				store(c[(i+r)*ldc+j:(i+r)*ldc+j+nr], tile[r*NR:], acc)
			}
		}
	}
	// Rows past the last full panel go one at a time: a padded MR×NR tile
	// would waste most of its work (all but one row of it for a batch of 1).
	for i := full; i < rows; i++ {
		row(kc, pa[full*kc+i-full:], pb, k, p0, n, c[i*ldc:i*ldc+n], acc)
	}
}

// store writes (or adds, if acc) sums into c.
func store(c, sums []float32, acc bool) {
	for t := range c {
		if acc {
			c[t] += sums[t]
		} else {
			c[t] = sums[t]
		}
	}
}

// row computes one row of C from a row of a packed A panel (its element p at
// a[p*MR]), four B panels at a time so that eight sums are in flight:
//
//	c[j] (+)= Σ_{p<kc} a[p*MR] · pb[j/NR][p0+p][j%NR]
func row(kc int, a, pb []float32, k, p0, n int, c []float32, acc bool) {
	a = a[:(kc-1)*MR+1]
	var sums [4 * NR]float32
	j := 0
	for ; j+4*NR <= n; j += 4 * NR {
		b0 := pb[j*k+p0*NR:][:kc*NR]
		b1 := pb[(j+NR)*k+p0*NR:][:kc*NR]
		b2 := pb[(j+2*NR)*k+p0*NR:][:kc*NR]
		b3 := pb[(j+3*NR)*k+p0*NR:][:kc*NR]
		var s00, s01, s10, s11, s20, s21, s30, s31 float32
		for p := range kc {
			x := a[p*MR]
			s00, s01 = s00+x*b0[2*p], s01+x*b0[2*p+1]
			s10, s11 = s10+x*b1[2*p], s11+x*b1[2*p+1]
			s20, s21 = s20+x*b2[2*p], s21+x*b2[2*p+1]
			s30, s31 = s30+x*b3[2*p], s31+x*b3[2*p+1]
		}
		sums = [4 * NR]float32{s00, s01, s10, s11, s20, s21, s30, s31}
		store(c[j:j+4*NR], sums[:], acc)
	}
	for ; j < n; j += NR {
		b0 := pb[j*k+p0*NR:][:kc*NR]
		var s0, s1 float32
		for p := range kc {
			x := a[p*MR]
			s0, s1 = s0+x*b0[2*p], s1+x*b0[2*p+1]
		}
		sums[0], sums[1] = s0, s1
		store(c[j:min(j+NR, n)], sums[:], acc)
	}
}

// micro is the MR×NR micro-kernel:
//
//	C[i][j] (+)= Σ_{p<kc} a[p*MR+i] · b[p*NR+j]
//
// Plain Go leaves the loop as written: loading a whole step's operands before
// using them, unrolling four steps, and reslicing instead of indexing (so no
// bounds checks remain) make it about twice as fast as the obvious loop.
func micro(kc int, a, b, c []float32, ldc int, acc bool) {
	var c00, c01, c10, c11, c20, c21, c30, c31 float32
	a, b = a[:kc*MR], b[:kc*NR]
	for len(a) >= 4*MR && len(b) >= 4*NR {
		a0, a1, a2, a3 := a[0], a[1], a[2], a[3]
		b0, b1 := b[0], b[1]
		c00, c10, c20, c30 = c00+a0*b0, c10+a1*b0, c20+a2*b0, c30+a3*b0
		c01, c11, c21, c31 = c01+a0*b1, c11+a1*b1, c21+a2*b1, c31+a3*b1
		a0, a1, a2, a3 = a[4], a[5], a[6], a[7]
		b0, b1 = b[2], b[3]
		c00, c10, c20, c30 = c00+a0*b0, c10+a1*b0, c20+a2*b0, c30+a3*b0
		c01, c11, c21, c31 = c01+a0*b1, c11+a1*b1, c21+a2*b1, c31+a3*b1
		a0, a1, a2, a3 = a[8], a[9], a[10], a[11]
		b0, b1 = b[4], b[5]
		c00, c10, c20, c30 = c00+a0*b0, c10+a1*b0, c20+a2*b0, c30+a3*b0
		c01, c11, c21, c31 = c01+a0*b1, c11+a1*b1, c21+a2*b1, c31+a3*b1
		a0, a1, a2, a3 = a[12], a[13], a[14], a[15]
		b0, b1 = b[6], b[7]
		c00, c10, c20, c30 = c00+a0*b0, c10+a1*b0, c20+a2*b0, c30+a3*b0
		c01, c11, c21, c31 = c01+a0*b1, c11+a1*b1, c21+a2*b1, c31+a3*b1
		a, b = a[4*MR:], b[4*NR:]
	}
	for len(a) >= MR && len(b) >= NR {
		a0, a1, a2, a3 := a[0], a[1], a[2], a[3]
		b0, b1 := b[0], b[1]
		c00, c10, c20, c30 = c00+a0*b0, c10+a1*b0, c20+a2*b0, c30+a3*b0
		c01, c11, c21, c31 = c01+a0*b1, c11+a1*b1, c21+a2*b1, c31+a3*b1
		a, b = a[MR:], b[NR:]
	}
	r0 := (*[NR]float32)(c[0:])
	r1 := (*[NR]float32)(c[ldc:])
	r2 := (*[NR]float32)(c[2*ldc:])
	r3 := (*[NR]float32)(c[3*ldc:])
	if acc {
		c00, c01 = c00+r0[0], c01+r0[1]
		c10, c11 = c10+r1[0], c11+r1[1]
		c20, c21 = c20+r2[0], c21+r2[1]
		c30, c31 = c30+r3[0], c31+r3[1]
	}
	r0[0], r0[1] = c00, c01
	r1[0], r1[1] = c10, c11
	r2[0], r2[1] = c20, c21
	r3[0], r3[1] = c30, c31
}

// MatMul computes C = op(A)·B for a fixed shape, with B packed by PackB.
type MatMul struct {
	M, N, K int
	Lda     int
	TransA  bool
	Blocking
}

// NewMatMul describes C[m×n] = op(A)[m×k]·B[k×n], A row-major with leading
// dimension lda (transposed if transA).
func NewMatMul(m, n, k, lda int, transA bool) *MatMul {
	return &MatMul{M: m, N: n, K: k, Lda: lda, TransA: transA, Blocking: Block(m, n, k)}
}

// Rows computes rows i0..i0+rows-1 of C, rows ≤ MC, over the whole of K:
//
//	C[i][j] = Σ_p op(A)[i][p] · B[p][j]
//
// scratch holds ScratchSize floats; C has leading dimension ldc.
func (g *MatMul) Rows(a, pb, c []float32, ldc, i0, rows int, scratch []float32) {
	for p0 := 0; p0 < g.K; p0 += g.KC {
		kc := min(g.KC, g.K-p0)
		PackA(scratch, a, g.Lda, g.TransA, i0, rows, p0, kc)
		Multiply(rows, g.N, kc, scratch, pb, g.K, p0, c[i0*ldc:], ldc, p0 > 0)
	}
	if g.K == 0 {
		for i := i0; i < i0+rows; i++ {
			clear(c[i*ldc : i*ldc+g.N])
		}
	}
}

// Run computes all of C, band by band.
func (g *MatMul) Run(a, pb, c []float32, ldc int, scratch []float32) {
	for i0 := 0; i0 < g.M; i0 += g.MC {
		g.Rows(a, pb, c, ldc, i0, min(g.MC, g.M-i0), scratch)
	}
}
