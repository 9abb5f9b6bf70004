package attention

import (
	"math"

	"github.com/mdlc/mdlc/runtime/kernels/gemm"
	"github.com/mdlc/mdlc/runtime/kernels/softmax"
)

// gradRows is how many query rows Grad takes at a time: a multiple of every
// GEMM kernel's MR (2, 6 and 12). Its scratch holds 4·gradRows·T_k floats
// (p and ds, and both packed), and the products that add into dk and dv sum
// over gradRows terms. Measured (BenchmarkGrad, AVX-512, Zen 5 shared, one
// thread, best of 5): 48, 96 and 144 rows ran bert's shape (128 matrices of
// T 128, d 32) in 9.3, 8.8 and 8.8 ms and 8 matrices of T 512 in 7.0, 6.8
// and 6.7 ms: 96 for the smaller scratch.
const gradRows = 96

// Grad is attention's backward pass (ir.OpAttentionGrad): dq, dk and dv
// from q, k, v, the mask and dy, the gradient of the result, packed per
// matrix as dq [TQ, DK], dk [TK, DK], dv [TK, DV], one after the other.
//
// Per matrix, the keys and values are packed as the GEMM's B (kᵀ and vᵀ for
// the scores and dp, k for dq), then for each band of gradRows query rows,
// with every key's score at once (the band's rows are whole, so the softmax
// needs no running max):
//
//	s = q_band·kᵀ·scale + mask     p = softmax(s)     dp = dy_band·vᵀ
//	ds = scale·p⊙(dp - D), D_i = Σ_j p_ij·dp_ij (= dy_i·out_i)
//	dq_band = ds·k     dkᵀ += q_bandᵀ·ds     dvᵀ += dy_bandᵀ·p
//
// five products on the plan's GEMM kernel, and softmax's row kernels of the
// same set; dkᵀ and dvᵀ are transposed into the result at the end. Scratch
// is the packed matrices, dkᵀ and dvᵀ, and a band's p and ds: linear in T,
// where the composed gradient kept p, dp and ds, [TQ, TK] per matrix. With
// Causal, a band stops at the key of its last row. FlashAttention-2's
// backward streams keys too, with the forward's log-sum-exp saved; the
// forward here keeps only its result, so a band takes whole rows instead
// and computes the softmax, and D, from them.
//
// A matrix is a unit: dk and dv sum over all of its bands, so the bands run
// in turn, and a matrix's result does not depend on which thread computes
// it.
//
// Numerics: the products are float32 GEMM sums (see package gemm), e^x is
// softmax's; D and ds are float32. An element agrees with the float64
// reference to within about (DK + TK)·2⁻²⁴ of the magnitudes it sums. A
// row whose keys are all masked gives NaN, as the forward does.
//
// Nothing here allocates.
type Grad struct {
	Shape
	kn   *gemm.Kernel
	row  softmax.Row
	band int
	// The K blocks of the products by their sums' lengths: over DK (the
	// scores), DV (dp), TK (dq) and a band's rows (dk and dv).
	kcDK, kcDV, kcTK, kcBand int
	tile                     int
}

// NewGrad compiles attention's backward pass of shape s with GEMM kernel kn
// and softmax's row kernels of the same set.
func NewGrad(kn *gemm.Kernel, s Shape) *Grad {
	g := &Grad{Shape: s, kn: kn, row: softmax.RowKernels(kn.Set), band: min(gradRows, s.TQ)}
	b := kn.Block(g.band, s.TK, s.DK)
	g.kcDK, g.tile = b.KC, b.Tile
	g.kcDV = kn.Block(g.band, s.TK, s.DV).KC
	g.kcTK = kn.Block(g.band, s.DK, s.TK).KC
	g.kcBand = kn.Block(s.DK, s.TK, g.band).KC
	return g
}

// Units is the number of units: one a matrix.
func (g *Grad) Units() int { return g.Batch }

// OutSize is a matrix's packed dq, dk and dv.
func (g *Grad) OutSize() int { return g.TQ*g.DK + g.TK*g.DK + g.TK*g.DV }

// ScratchSize is the scratch a unit needs: the packed kᵀ, k and vᵀ, dkᵀ
// and dvᵀ, a band's p and dp (then ds) and both packed, a block of A and an
// edge tile.
func (g *Grad) ScratchSize() int {
	kn, tk, dk, dv, band := g.kn, g.TK, g.DK, g.DV, g.band
	return kn.PackedSize(dk, tk) + kn.PackedSize(tk, dk) + kn.PackedSize(dv, tk) + tk*(dk+dv) +
		2*band*tk + 2*kn.PackedSize(band, tk) + band*max(g.kcDK, g.kcDV, g.kcTK, g.kcBand) + g.tile
}

// Scores counts the scores the kernel computes and those of the whole
// matrices, as Attention.Scores does, for its bands of query rows.
func (g *Grad) Scores() (computed, all float64) { return g.Shape.scores(g.band) }

// Run computes every unit in turn.
func (g *Grad) Run(q, k, v, mask, dy, out, scratch []float32) {
	for m := range g.Units() {
		g.RunUnit(q, k, v, mask, dy, out, scratch, m)
	}
}

// RunUnit computes matrix m's dq, dk and dv into its part of out. dk and
// dv are summed transposed, dkᵀ += q_bandᵀ·ds and dvᵀ += dy_bandᵀ·p, so
// that p and ds, a band's rows of T_k, are packed as B by a copy per row,
// and only the band's q and dy, of d floats a row, are transposed; dkᵀ
// and dvᵀ are transposed once at the end. (dk += dsᵀ·q_band transposed p
// and ds instead: 23% of bert's attention backward went to that.)
func (g *Grad) RunUnit(q, k, v, mask, dy, out, scratch []float32, m int) {
	kn, tq, tk, dk, dv, band := g.kn, g.TQ, g.TK, g.DK, g.DV, g.band
	s := scratch
	take := func(n int) []float32 { t := s[:n:n]; s = s[n:]; return t }
	pkT, pk, pvT := take(kn.PackedSize(dk, tk)), take(kn.PackedSize(tk, dk)), take(kn.PackedSize(dv, tk))
	dKT, dVT := take(dk*tk), take(dv*tk)
	p, ds := take(band*tk), take(band*tk)
	pp, pds := take(kn.PackedSize(band, tk)), take(kn.PackedSize(band, tk))
	pa, tmp := take(band*max(g.kcDK, g.kcDV, g.kcTK, g.kcBand)), take(g.tile)

	km, vm := k[m*tk*dk:(m+1)*tk*dk], v[m*tk*dv:(m+1)*tk*dv]
	kn.PackB(pkT, km, dk, tk, dk, true)
	kn.PackB(pk, km, tk, dk, dk, false)
	kn.PackB(pvT, vm, dv, tk, dv, true)
	clear(dKT)
	clear(dVT)
	o := out[m*g.OutSize() : (m+1)*g.OutSize()]
	dq := o[:tq*dk]
	for i0 := 0; i0 < tq; i0 += band {
		rows := min(band, tq-i0)
		keys := tk
		if g.Causal {
			keys = min(tk, i0+rows) // the band's last row sees keys up to itself
		}
		qb, dyb := q[(m*tq+i0)*dk:(m*tq+i0+rows)*dk], dy[(m*tq+i0)*dv:(m*tq+i0+rows)*dv]
		pb, dsb := p[:rows*keys], ds[:rows*keys]
		g.product(rows, keys, dk, g.kcDK, qb, dk, false, pkT, dk, pb, keys, false, pa, tmp)
		g.product(rows, keys, dv, g.kcDV, dyb, dv, false, pvT, dv, dsb, keys, false, pa, tmp)
		for i := range rows {
			g.rowGrad(mask, pb[i*keys:(i+1)*keys], dsb[i*keys:(i+1)*keys], m, i0+i)
		}
		g.product(rows, dk, keys, g.kcTK, dsb, keys, false, pk, tk, dq[i0*dk:], dk, false, pa, tmp)
		kn.PackB(pds, dsb, rows, keys, keys, false)
		g.product(dk, keys, rows, g.kcBand, qb, dk, true, pds, rows, dKT, tk, true, pa, tmp)
		kn.PackB(pp, pb, rows, keys, keys, false)
		g.product(dv, keys, rows, g.kcBand, dyb, dv, true, pp, rows, dVT, tk, true, pa, tmp)
	}
	transpose(dKT, o[tq*dk:tq*dk+tk*dk], dk, tk)
	transpose(dVT, o[tq*dk+tk*dk:], dv, tk)
}

// transpose writes x [r × c] into y [c × r], four rows of x at a time into
// four adjacent floats of each row of y.
func transpose(x, y []float32, r, c int) {
	i := 0
	for ; i+4 <= r; i += 4 {
		x0, x1, x2, x3 := x[i*c:(i+1)*c], x[(i+1)*c:(i+2)*c], x[(i+2)*c:(i+3)*c], x[(i+3)*c:(i+4)*c]
		for j := range x0 {
			yj := y[j*r+i : j*r+i+4 : j*r+i+4]
			yj[0], yj[1], yj[2], yj[3] = x0[j], x1[j], x2[j], x3[j]
		}
	}
	for ; i < r; i++ {
		for j, e := range x[i*c : (i+1)*c] {
			y[j*r+i] = e
		}
	}
}

// rowGrad turns row `row`'s scores s (q·kᵀ, unscaled) into probabilities p
// in place, and its dp into ds = scale·p⊙(dp - Σ p⊙dp).
func (g *Grad) rowGrad(mask, s, dp []float32, m, row int) {
	g.row.Scale(s, g.Scale)
	if g.HasMask {
		base := g.MaskOff[m] + row*g.MaskRow
		for j := range s {
			s[j] += mask[base+j*g.MaskKey]
		}
	}
	if g.Causal {
		for j := row + 1; j < len(s); j++ {
			s[j] = float32(math.Inf(-1))
		}
	}
	g.row.Scale(s, 1/g.row.ExpSum(s, s, g.row.Max(s)))
	dp = dp[:len(s)]
	// D in four partial sums, which the adds' latency would otherwise
	// serialise: with ds, this loop was a quarter of bert's attention
	// backward.
	var d0, d1, d2, d3 float32
	j := 0
	for ; j+4 <= len(s); j += 4 {
		p4, dp4 := s[j:j+4:j+4], dp[j:j+4:j+4]
		d0 += p4[0] * dp4[0]
		d1 += p4[1] * dp4[1]
		d2 += p4[2] * dp4[2]
		d3 += p4[3] * dp4[3]
	}
	for ; j < len(s); j++ {
		d0 += s[j] * dp[j]
	}
	d, sc := (d0+d1)+(d2+d3), g.Scale // a local: stores to dp would reload a field
	for j, pj := range s {
		dp[j] = sc * pj * (dp[j] - d)
	}
}

// product computes C[m×n] = op(A)[m×k]·B, or adds it to C if acc: A
// row-major with leading dimension lda, transposed if trans; B the first k
// rows of a matrix of kb rows packed by PackB; C with leading dimension
// ldc. In bands of g.band rows and blocks of kc terms, each block of A
// copied into pa unless it is laid out already.
func (g *Grad) product(m, n, k, kc int, a []float32, lda int, trans bool, pb []float32, kb int, c []float32, ldc int, acc bool, pa, tmp []float32) {
	for i0 := 0; i0 < m; i0 += g.band {
		rows := min(g.band, m-i0)
		for p0 := 0; p0 < k; p0 += kc {
			w := min(kc, k-p0)
			blk := pa[:rows*w]
			if !trans && w == lda {
				blk = a[i0*lda : (i0+rows)*lda]
			} else {
				gemm.PackA(blk, a, lda, trans, i0, rows, p0, w)
			}
			g.kn.Multiply(rows, n, w, blk, pb, kb, p0, c[i0*ldc:], ldc, acc || p0 > 0, gemm.Epilogue{}, tmp)
		}
	}
}
