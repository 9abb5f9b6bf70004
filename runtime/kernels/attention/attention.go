// Package attention is scaled dot-product attention, out = softmax(q·kᵀ·scale
// + mask)·v, computed the way FlashAttention does: keys are taken a block at
// a time and the softmax is streamed (a running max and sum per query row,
// and the row's output rescaled when the max grows), so the T_q × T_k matrix
// of scores never exists and memory does not grow with T². A unit of work is
// a band of query rows of one matrix, with scratch of its own (a block of
// scores and an accumulator row), so a plan can spread units over threads
// and get the same bits.
//
// Numerics: sums are float32 (dot products in k order, the output as a
// weighted sum in key order); exp is math.Exp rounded to float32. A row
// agrees with the float64 reference to within about (d_k + T_k)·2⁻²⁴ of its
// magnitude. A row whose keys are all masked (-Inf) gives NaN, as PyTorch's
// does.
//
// Only the generic Go version exists so far; it is what the SIMD versions
// will be compared with. Nothing here allocates.
package attention

import "math"

// keyBlock is how many keys' scores are computed before they are folded into
// the running softmax: one rescale of the output row per block.
const keyBlock = 64

// rowsPerUnit is how many query rows a unit computes.
const rowsPerUnit = 16

// Attention is attention over Batch matrices: q [TQ, DK], k [TK, DK] and
// v [TK, DV] per matrix, row-major, one after another.
type Attention struct {
	Batch, TQ, TK, DK, DV int
	Scale                 float32
	Causal                bool
	// Mask, when HasMask: the mask's element for matrix m, row i, key j is at
	// MaskOff[m] + i*MaskRow + j*MaskKey (strides 0 where it broadcasts).
	HasMask          bool
	MaskOff          []int
	MaskRow, MaskKey int
}

// ScratchSize is the scratch a unit needs.
func (a *Attention) ScratchSize() int { return keyBlock + a.DV }

// Units is the number of units Run's work is cut into.
func (a *Attention) Units() int { return a.Batch * ((a.TQ + rowsPerUnit - 1) / rowsPerUnit) }

// Run computes every unit in turn.
func (a *Attention) Run(q, k, v, mask, out, scratch []float32) {
	for u := range a.Units() {
		a.RunUnit(q, k, v, mask, out, scratch, u)
	}
}

// RunUnit computes unit u: rows of one matrix.
func (a *Attention) RunUnit(q, k, v, mask, out, scratch []float32, u int) {
	per := (a.TQ + rowsPerUnit - 1) / rowsPerUnit
	m, i0 := u/per, u%per*rowsPerUnit
	s, acc := scratch[:keyBlock], scratch[keyBlock:keyBlock+a.DV]
	km, vm := k[m*a.TK*a.DK:(m+1)*a.TK*a.DK], v[m*a.TK*a.DV:(m+1)*a.TK*a.DV]
	for i := i0; i < min(i0+rowsPerUnit, a.TQ); i++ {
		row := m*a.TQ + i
		qi := q[row*a.DK : (row+1)*a.DK]
		keys := a.TK
		if a.Causal {
			keys = min(keys, i+1)
		}
		runMax, sum := float32(math.Inf(-1)), float32(0)
		clear(acc)
		for j0 := 0; j0 < keys; j0 += keyBlock {
			n := min(keyBlock, keys-j0)
			blockMax := float32(math.Inf(-1))
			for j := range n {
				kj := km[(j0+j)*a.DK : (j0+j+1)*a.DK]
				var dot float32
				for p, x := range qi {
					dot += x * kj[p]
				}
				dot *= a.Scale
				if a.HasMask {
					dot += mask[a.MaskOff[m]+i*a.MaskRow+(j0+j)*a.MaskKey]
				}
				s[j] = dot
				blockMax = max(blockMax, dot)
			}
			if blockMax == float32(math.Inf(-1)) {
				continue // every key of the block masked
			}
			if blockMax > runMax {
				// Rescale what is summed so far to the new max.
				c := float32(math.Exp(float64(runMax - blockMax)))
				sum *= c
				for t := range acc {
					acc[t] *= c
				}
				runMax = blockMax
			}
			for j := range n {
				p := float32(math.Exp(float64(s[j] - runMax)))
				sum += p
				vj := vm[(j0+j)*a.DV : (j0+j+1)*a.DV]
				for t, x := range vj {
					acc[t] += p * x
				}
			}
		}
		o := out[row*a.DV : (row+1)*a.DV]
		for t, x := range acc {
			o[t] = x / sum
		}
	}
}
