// Package attention is scaled dot-product attention, out = softmax(q·kᵀ·scale
// + mask)·v, computed the way FlashAttention does: keys are taken a block at
// a time and the softmax is streamed (a running max and sum per query row,
// the row's output rescaled when the max grows), so the T_q × T_k matrix of
// scores never exists and memory does not grow with T². Both products run on
// the plan's GEMM kernel (generic, AVX2 or NEON): a band of query rows times
// a block of keys packed as B, then the block's probabilities times the
// packed values, added into the band's output. The max, the exponentials
// and the rescaling are softmax's row kernels of the same set.
//
// Each matrix's keys and values are packed once per run (Pack, a unit per
// matrix), then a unit of work is a band of query rows of one matrix, with
// scratch of its own (a block of scores, the band's output rows and their
// running max and sum), so a plan can spread units over threads and get the
// same bits. With Causal, key blocks wholly after a band's last row are
// skipped.
//
// Numerics: the products are float32 GEMM sums (see package gemm), e^x is
// softmax's (within 1 ulp). A row agrees with the float64 reference to within
// about (d_k + T_k)·2⁻²⁴ of its magnitude. A row whose keys are all masked
// (-Inf) gives NaN, as PyTorch's does.
//
// Nothing here allocates.
package attention

import (
	"math"

	"github.com/mdlc/mdlc/runtime/kernels/gemm"
	"github.com/mdlc/mdlc/runtime/kernels/softmax"
)

// keyBlock is how many keys' scores are computed before they are folded into
// the running softmax: a multiple of every GEMM kernel's NR (2, 12 and 16),
// so that a block's keys start a packed panel.
const keyBlock = 96

// rowsPerUnit is how many query rows a unit computes.
const rowsPerUnit = 128

// Shape is an attention's geometry: Batch matrices of q [TQ, DK], k [TK, DK]
// and v [TK, DV], row-major, one after another.
type Shape struct {
	Batch, TQ, TK, DK, DV int
	Scale                 float32
	Causal                bool
	// Mask, when HasMask: the mask's element for matrix m, row i, key j is at
	// MaskOff[m] + i*MaskRow + j*MaskKey (strides 0 where it broadcasts).
	HasMask          bool
	MaskOff          []int
	MaskRow, MaskKey int
}

// Attention is a compiled attention.
type Attention struct {
	Shape
	kn           *gemm.Kernel
	qk           gemm.Blocking // of the scores' product, over DK
	row          softmax.Row
	packK, packV int
	band         int
}

// New compiles attention of shape s with GEMM kernel kn and softmax's row
// kernels of the same set.
func New(kn *gemm.Kernel, s Shape) *Attention {
	a := &Attention{Shape: s, kn: kn, row: softmax.RowKernels(kn.Set)}
	a.band = min(rowsPerUnit, s.TQ)
	a.qk = kn.Block(a.band, keyBlock, s.DK)
	a.packK, a.packV = kn.PackedSize(s.DK, s.TK), kn.PackedSize(s.TK, s.DV)
	return a
}

// PackedSize is the length of every matrix's keys and values packed.
func (a *Attention) PackedSize() int { return a.Batch * (a.packK + a.packV) }

// Pack packs matrix m's keys (as kᵀ, [DK, TK]) and values ([TK, DV]) as the
// GEMM's B into packed, PackedSize long.
func (a *Attention) Pack(k, v, packed []float32, m int) {
	tk, dk, dv := a.TK, a.DK, a.DV
	at := packed[m*(a.packK+a.packV):]
	a.kn.PackB(at[:a.packK], k[m*tk*dk:], dk, tk, dk, true)
	a.kn.PackB(at[a.packK:a.packK+a.packV], v[m*tk*dv:], tk, dv, dv, false)
}

// ScratchSize is the scratch a unit needs.
func (a *Attention) ScratchSize() int {
	return a.band*keyBlock + a.band*a.DV + 2*a.band + a.band*a.qk.KC + a.qk.Tile
}

// Units is the number of units Run's work is cut into, after Pack.
func (a *Attention) Units() int { return a.Batch * ((a.TQ + a.band - 1) / a.band) }

// Run packs every matrix, then computes every unit in turn.
func (a *Attention) Run(q, k, v, mask, out, packed, scratch []float32) {
	for m := range a.Batch {
		a.Pack(k, v, packed, m)
	}
	for u := range a.Units() {
		a.RunUnit(q, packed, mask, out, scratch, u)
	}
}

// RunUnit computes unit u, a band of query rows of one matrix, from the keys
// and values Pack packed.
func (a *Attention) RunUnit(q, packed, mask, out, scratch []float32, u int) {
	per := (a.TQ + a.band - 1) / a.band
	m, i0 := u/per, u%per*a.band
	rows := min(a.band, a.TQ-i0)
	tk, dk, dv := a.TK, a.DK, a.DV
	s := scratch
	take := func(n int) []float32 { t := s[:n:n]; s = s[n:]; return t }
	scores, acc := take(a.band*keyBlock), take(a.band*dv)
	runMax, sum := take(a.band), take(a.band)
	pa, tmp := take(a.band*a.qk.KC), take(a.qk.Tile)
	pk := packed[m*(a.packK+a.packV):][:a.packK]
	pv := packed[m*(a.packK+a.packV)+a.packK:][:a.packV]

	qm := q[(m*a.TQ+i0)*dk : (m*a.TQ+i0+rows)*dk]
	clear(acc[:rows*dv])
	for i := range rows {
		runMax[i], sum[i] = float32(math.Inf(-1)), 0
	}
	keys := tk
	if a.Causal {
		keys = min(tk, i0+rows) // the band's last row sees keys up to itself
	}
	for j0 := 0; j0 < keys; j0 += keyBlock {
		n := min(keyBlock, keys-j0)
		sc := scores[:rows*n]
		// scores = q_band · kᵀ[:, j0:j0+n], over DK in blocks of KC.
		for p0 := 0; p0 < dk; p0 += a.qk.KC {
			kc := min(a.qk.KC, dk-p0)
			blk := qm
			if kc != dk {
				gemm.PackA(pa, qm, dk, false, 0, rows, p0, kc)
				blk = pa[:rows*kc]
			}
			a.kn.Multiply(rows, n, kc, blk, pk[j0*dk:], dk, p0, sc, n, p0 > 0, gemm.Epilogue{}, tmp)
		}
		for i := range rows {
			a.fold(mask, sc[i*n:(i+1)*n], acc[i*dv:(i+1)*dv], &runMax[i], &sum[i], m, i0+i, j0)
		}
		// acc += p · v[j0:j0+n, :]
		a.kn.Multiply(rows, dv, n, sc, pv, tk, j0, acc, dv, true, gemm.Epilogue{}, tmp)
	}
	o := out[(m*a.TQ+i0)*dv : (m*a.TQ+i0+rows)*dv]
	for i := range rows {
		copy(o[i*dv:(i+1)*dv], acc[i*dv:(i+1)*dv])
		a.row.Scale(o[i*dv:(i+1)*dv], 1/sum[i])
	}
}

// fold turns one row's scores for keys j0.. into probabilities relative to
// the row's running max, in place, rescaling the row's output and sum if the
// max grows. Masked-out keys (causal or -Inf) get probability 0.
func (a *Attention) fold(mask, s, acc []float32, runMax, sum *float32, m, row, j0 int) {
	a.row.Scale(s, a.Scale)
	if a.HasMask {
		base := a.MaskOff[m] + row*a.MaskRow + j0*a.MaskKey
		for j := range s {
			s[j] += mask[base+j*a.MaskKey]
		}
	}
	inf := float32(math.Inf(-1))
	if a.Causal {
		for j := max(row+1-j0, 0); j < len(s); j++ {
			s[j] = inf
		}
	}
	bm := a.row.Max(s)
	if bm == inf {
		clear(s) // every key of the block masked
		return
	}
	if bm > *runMax {
		if *runMax != inf {
			c := float32(math.Exp(float64(*runMax - bm)))
			*sum *= c
			a.row.Scale(acc, c)
		}
		*runMax = bm
	}
	*sum += a.row.ExpSum(s, s, *runMax)
}

// Scores counts the scores the kernel computes, over every matrix, and
// those of the whole T_q × T_k matrices, which model FLOP counts use. With
// Causal, a band of query rows computes scores for the keys up to its last
// row only, so computed is less than all once T_q exceeds a band (the
// masked scores it does compute count). float64: no shape overflows it.
func (a *Attention) Scores() (computed, all float64) { return a.Shape.scores(a.band) }

// scores is Scores for bands of band query rows.
func (s *Shape) scores(band int) (computed, all float64) {
	all = float64(s.Batch) * float64(s.TQ) * float64(s.TK)
	if !s.Causal {
		return all, all
	}
	for i0 := 0; i0 < s.TQ; i0 += band {
		rows := min(band, s.TQ-i0)
		computed += float64(rows) * float64(min(s.TK, i0+rows))
	}
	return float64(s.Batch) * computed, all
}
