package attention

import (
	"math"

	"github.com/mdlc/mdlc/runtime/kernels/gemm"
	"github.com/mdlc/mdlc/runtime/kernels/softmax"
)

// gradRows is how many query rows Grad takes at a time: a multiple of every
// GEMM kernel's MR (2, 6 and 12). Its scratch holds 2·gradRows·T_k scores,
// and the products that add into dk and dv sum over gradRows terms: more
// rows make those longer at the cost of scratch that still fits L2 at
// T_k = 512 (384 KiB).
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
//	dq_band = ds·k     dk += dsᵀ·q_band     dv += pᵀ·dy_band
//
// five products on the plan's GEMM kernel, and softmax's row kernels of the
// same set. Scratch is the packed matrices and two gradRows × TK blocks:
// linear in T, where the composed gradient kept p, dp and ds, [TQ, TK] per
// matrix. With Causal, a band stops at the key of its last row. FlashAttention-2's
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
	g.kcBand = kn.Block(s.TK, s.DK, g.band).KC
	return g
}

// Units is the number of units: one a matrix.
func (g *Grad) Units() int { return g.Batch }

// OutSize is a matrix's packed dq, dk and dv.
func (g *Grad) OutSize() int { return g.TQ*g.DK + g.TK*g.DK + g.TK*g.DV }

// ScratchSize is the scratch a unit needs: the packed kᵀ, k and vᵀ, a
// band's packed q and dy, its p and dp (then ds), a block of A and an edge
// tile.
func (g *Grad) ScratchSize() int {
	kn, tk, dk, dv, band := g.kn, g.TK, g.DK, g.DV, g.band
	return kn.PackedSize(dk, tk) + kn.PackedSize(tk, dk) + kn.PackedSize(dv, tk) + kn.PackedSize(band, dk) + kn.PackedSize(band, dv) +
		2*band*tk + band*max(g.kcDK, g.kcDV, g.kcTK, g.kcBand) + g.tile
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

// RunUnit computes matrix m's dq, dk and dv into its part of out.
func (g *Grad) RunUnit(q, k, v, mask, dy, out, scratch []float32, m int) {
	kn, tq, tk, dk, dv, band := g.kn, g.TQ, g.TK, g.DK, g.DV, g.band
	s := scratch
	take := func(n int) []float32 { t := s[:n:n]; s = s[n:]; return t }
	pkT, pk, pvT := take(kn.PackedSize(dk, tk)), take(kn.PackedSize(tk, dk)), take(kn.PackedSize(dv, tk))
	pq, pdy := take(kn.PackedSize(band, dk)), take(kn.PackedSize(band, dv))
	p, ds := take(band*tk), take(band*tk)
	pa, tmp := take(band*max(g.kcDK, g.kcDV, g.kcTK, g.kcBand)), take(g.tile)

	o := out[m*g.OutSize() : (m+1)*g.OutSize()]
	dq, dK, dV := o[:tq*dk], o[tq*dk:tq*dk+tk*dk], o[tq*dk+tk*dk:]
	clear(dK)
	clear(dV)
	km, vm := k[m*tk*dk:(m+1)*tk*dk], v[m*tk*dv:(m+1)*tk*dv]
	kn.PackB(pkT, km, dk, tk, dk, true)
	kn.PackB(pk, km, tk, dk, dk, false)
	kn.PackB(pvT, vm, dv, tk, dv, true)
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
		kn.PackB(pq, qb, rows, dk, dk, false)
		g.product(keys, dk, rows, g.kcBand, dsb, keys, true, pq, rows, dK, dk, true, pa, tmp)
		kn.PackB(pdy, dyb, rows, dv, dv, false)
		g.product(keys, dv, rows, g.kcBand, pb, keys, true, pdy, rows, dV, dv, true, pa, tmp)
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
	var d float32
	for j, pj := range s {
		d += pj * dp[j]
	}
	for j, pj := range s {
		dp[j] = g.Scale * pj * (dp[j] - d)
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
