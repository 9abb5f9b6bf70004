package ref

import (
	"math"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime/kernels/mask"
	"github.com/mdlc/mdlc/tensor"
)

// conv2d over NHWC x and an HWIO kernel:
//
//	out[b,oy,ox,o] = bias[o] + Σ_{ky,kx,i} x[b, oy*sh-top+ky*dh, ox*sw-left+kx*dw, g*cpg+i] * k[ky,kx,i,o]
//
// where cpg = cin/groups, g = o/(cout/groups) is o's group, and cells outside x
// are the zero padding.
func conv2d(n *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
	a := n.Attrs.(*ir.ConvAttrs)
	x, k := in[0], in[1]
	h, w, c := x.Shape[1], x.Shape[2], x.Shape[3]
	kh, kw, cpg, co := k.Shape[0], k.Shape[1], k.Shape[2], k.Shape[3]
	nb, oh, ow := out.Shape[0], out.Shape[1], out.Shape[2]
	pad := a.PadsFor(h, w, kh, kw)
	opg := co / a.Groups
	for b := range nb {
		for oy := range oh {
			for ox := range ow {
				for o := range co {
					g := o / opg
					var sum float64
					if len(in) == 3 {
						sum = float64(in[2].Data[o])
					}
					for ky := range kh {
						iy := oy*a.Stride[0] - pad[0] + ky*a.Dilation[0]
						if iy < 0 || iy >= h {
							continue
						}
						for kx := range kw {
							ix := ox*a.Stride[1] - pad[2] + kx*a.Dilation[1]
							if ix < 0 || ix >= w {
								continue
							}
							for i := range cpg {
								xv := x.Data[((b*h+iy)*w+ix)*c+g*cpg+i]
								kv := k.Data[((ky*kw+kx)*cpg+i)*co+o]
								sum += float64(xv) * float64(kv)
							}
						}
					}
					out.Data[((b*oh+oy)*ow+ox)*co+o] = float32(sum)
				}
			}
		}
	}
}

// dense: out[r,j] = bias[j] + Σ_i x[r,i] * k[i,j], each r a position of x's
// leading axes.
func dense(_ *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
	x, k := in[0], in[1]
	ni, no := k.Shape[0], k.Shape[1]
	rows := tensor.Numel(x.Shape[:len(x.Shape)-1])
	for r := range rows {
		for j := range no {
			var sum float64
			if len(in) == 3 {
				sum = float64(in[2].Data[j])
			}
			for i := range ni {
				sum += float64(x.Data[r*ni+i]) * float64(k.Data[i*no+j])
			}
			out.Data[r*no+j] = float32(sum)
		}
	}
}

// matMul multiplies the last two axes, op(A)[m,k] * op(B)[k,n], where op
// transposes when TransA/TransB is set; the leading (batch) axes broadcast.
func matMul(n *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
	at := n.Attrs.(*ir.MatMulAttrs)
	a, b := in[0], in[1]
	r, ra, rb := len(out.Shape), len(a.Shape), len(b.Shape)
	m, nn := out.Shape[r-2], out.Shape[r-1]
	k := a.Shape[ra-1]
	if at.TransA {
		k = a.Shape[ra-2]
	}
	// op(A)[i,p] = A[i*ai + p*ap] and op(B)[p,j] = B[p*bp + j*bj] within one matrix.
	ai, ap := k, 1
	if at.TransA { // A is stored [k,m]
		ai, ap = 1, m
	}
	bp, bj := nn, 1
	if at.TransB { // B is stored [n,k]
		bp, bj = 1, k
	}
	batch := out.Shape[:r-2]
	// Batch strides counted in whole matrices.
	sa, sb := tensor.BroadcastStrides(a.Shape[:ra-2], batch), tensor.BroadcastStrides(b.Shape[:rb-2], batch)
	for t := range tensor.Numel(batch) {
		ad := a.Data[offset(t, batch, sa)*m*k:][:m*k]
		bd := b.Data[offset(t, batch, sb)*k*nn:][:k*nn]
		od := out.Data[t*m*nn:][:m*nn]
		for i := range m {
			for j := range nn {
				var sum float64
				for p := range k {
					sum += float64(ad[i*ai+p*ap]) * float64(bd[p*bp+j*bj])
				}
				od[i*nn+j] = float32(sum)
			}
		}
	}
}

// attention is softmax(q·kᵀ·scale + mask)·v per matrix of the leading axes,
// in float64, the whole row of scores at once; keys after the query are
// dropped when causal. A row whose scores are all -Inf (every key masked)
// has no softmax: it gives NaN, as PyTorch does.
func attention(n *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
	a := newAttn(n, in)
	v := in[2]
	e := make([]float64, a.tk)
	for m := range a.matrices {
		for i := range a.tq {
			row := m*a.tq + i
			sum := a.expScores(m, i, e)
			for c := range a.dv {
				var acc float64
				for j := range a.tk {
					acc += e[j] * float64(v.Data[(m*a.tk+j)*a.dv+c])
				}
				out.Data[row*a.dv+c] = float32(acc / sum)
			}
		}
	}
}

// attn is an attention's operands and geometry: matrices of q [tq, dk], k
// [tk, dk] and v [tk, dv], the mask's strides over the scores.
type attn struct {
	q, k, mask               *tensor.Tensor
	matrices, tq, tk, dk, dv int
	scale                    float64
	causal                   bool
	scoreShape, maskStrides  []int
}

// newAttn reads attention node n's (or attention_grad's) attributes and
// operands in (q, k, v[, mask]).
func newAttn(n *ir.Node, in []*tensor.Tensor) *attn {
	at := n.Attrs.(*ir.AttentionAttrs)
	q, k, v := in[0], in[1], in[2]
	r := len(q.Shape)
	a := &attn{q: q, k: k, tq: q.Shape[r-2], dk: q.Shape[r-1], tk: k.Shape[r-2], dv: v.Shape[r-1], scale: float64(at.Scale), causal: at.Causal}
	a.matrices = len(q.Data) / (a.tq * a.dk)
	if a.scale == 0 {
		a.scale = 1 / math.Sqrt(float64(a.dk))
	}
	a.scoreShape = append(append([]int(nil), q.Shape[:r-1]...), a.tk)
	if len(in) == 4 {
		a.mask, a.maskStrides = in[3], tensor.BroadcastStrides(in[3].Shape, a.scoreShape)
	}
	return a
}

// expScores sets e[j] = exp(s_j - max_j s_j) for row i of matrix m, s =
// q·kᵀ·scale + mask, with e[j] = 0 for the keys after i when causal, and
// returns Σ_j e[j].
func (a *attn) expScores(m, i int, e []float64) float64 {
	row := m*a.tq + i
	mx := math.Inf(-1)
	for j := range a.tk {
		e[j] = math.Inf(-1)
		if a.causal && j > i {
			continue
		}
		var dot float64
		for p := range a.dk {
			dot += float64(a.q.Data[row*a.dk+p]) * float64(a.k.Data[(m*a.tk+j)*a.dk+p])
		}
		e[j] = dot * a.scale
		if a.mask != nil {
			e[j] += float64(a.mask.Data[offset(row*a.tk+j, a.scoreShape, a.maskStrides)])
		}
		mx = max(mx, e[j])
	}
	var sum float64
	for j := range e {
		e[j] = math.Exp(e[j] - mx)
		sum += e[j]
	}
	return sum
}

// positional adds ir.Sinusoid to x [N, T, d], in float64, rounded once, or
// row t of a learned table to position t.
func positional(_ *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
	x := in[0]
	t, d := x.Shape[1], x.Shape[2]
	for i, v := range x.Data {
		if len(in) == 2 {
			out.Data[i] = v + in[1].Data[i%(t*d)]
		} else {
			out.Data[i] = float32(float64(v) + ir.Sinusoid(i/d%t, i%d, d))
		}
	}
}

// embedding copies row ids[i] of the table for every id; Run has checked the
// ids against the table.
func embedding(_ *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
	ids, table := in[0], in[1]
	d := table.Shape[1]
	for i, id := range ids.Ints {
		copy(out.Data[i*d:(i+1)*d], table.Data[int(id)*d:])
	}
}

// toFloat is each integer as a float32.
func toFloat(_ *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
	for i, id := range in[0].Ints {
		out.Data[i] = float32(id)
	}
}

// paddingMask is -inf where the id is the pad id, else 0.
func paddingMask(n *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
	pad := int64(n.Attrs.(*ir.PaddingMaskAttrs).Pad)
	for i, id := range in[0].Ints {
		out.Data[i] = 0
		if id == pad {
			out.Data[i] = float32(math.Inf(-1))
		}
	}
}

// slice copies positions Start..End-1 of one axis.
func slice(n *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
	a := n.Attrs.(*ir.SliceAttrs)
	x := in[0]
	inner := tensor.Numel(x.Shape[a.Axis+1:])
	block, keep := x.Shape[a.Axis]*inner, (a.End-a.Start)*inner
	for o := range tensor.Numel(x.Shape[:a.Axis]) {
		copy(out.Data[o*keep:(o+1)*keep], x.Data[o*block+a.Start*inner:])
	}
}

// norm is layer normalisation, y = (x-mean)/sqrt(var+eps)*gamma + beta with
// the biased variance, or RMS normalisation, y = x/sqrt(mean(x²)+eps)*gamma,
// over each row of the last axis.
func norm(rms bool) kernel {
	return func(n *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
		eps := float64(n.Attrs.(*ir.NormAttrs).Epsilon)
		x, gamma := in[0], in[1]
		c := len(gamma.Data)
		for r := 0; r < len(x.Data); r += c {
			row := x.Data[r : r+c]
			var mean, sq float64
			if !rms {
				for _, v := range row {
					mean += float64(v)
				}
				mean /= float64(c)
			}
			for _, v := range row {
				d := float64(v) - mean
				sq += d * d
			}
			inv := 1 / math.Sqrt(sq/float64(c)+eps)
			for j, v := range row {
				y := (float64(v) - mean) * inv * float64(gamma.Data[j])
				if !rms {
					y += float64(in[2].Data[j])
				}
				out.Data[r+j] = float32(y)
			}
		}
	}
}

// batchNorm: y = (x-mean)/sqrt(variance+eps)*gamma + beta, per channel of the
// last axis.
func batchNorm(n *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
	eps := float64(n.Attrs.(*ir.BatchNormAttrs).Epsilon)
	x, gamma, beta, mean, variance := in[0], in[1], in[2], in[3], in[4]
	c := len(gamma.Data)
	for i, v := range x.Data {
		j := i % c
		y := (float64(v)-float64(mean.Data[j]))/math.Sqrt(float64(variance.Data[j])+eps)*float64(gamma.Data[j]) + float64(beta.Data[j])
		out.Data[i] = float32(y)
	}
}

// pad writes each output element from the input element its multi-index
// maps to, axis by axis (ir.PadAttrs.Source), or the constant.
func pad(n *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
	a, x := n.Attrs.(*ir.PadAttrs), in[0]
	idx := make([]int, len(out.Shape))
	for i := range out.Data {
		rem, src, stride := i, 0, 1
		for d := len(out.Shape) - 1; d >= 0; d-- {
			idx[d] = rem % out.Shape[d]
			rem /= out.Shape[d]
		}
		inside := true
		for d := len(idx) - 1; d >= 0; d-- {
			s := a.Source(idx[d], x.Shape[d], a.Pads[d])
			if s < 0 {
				inside = false
				break
			}
			src += s * stride
			stride *= x.Shape[d]
		}
		if inside {
			out.Data[i] = x.Data[src]
		} else {
			out.Data[i] = a.Value
		}
	}
}

// convTranspose gathers, for every output cell, the input cells whose
// windows cover it: input (iy, ix) reaches output (iy·stride - top +
// ky·dilation, ...), so for each kernel tap the input row is
// (oy + top - ky·dilation)/stride when that divides exactly. The plan's
// kernel scatters instead (GEMM, then col2im); this is its oracle.
func convTranspose(n *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
	a := n.Attrs.(*ir.ConvTransposeAttrs)
	x, k := in[0], in[1]
	h, w, c := x.Shape[1], x.Shape[2], x.Shape[3]
	kh, kw, co := k.Shape[0], k.Shape[1], k.Shape[2]
	nb, oh, ow := out.Shape[0], out.Shape[1], out.Shape[2]
	crop, _, _ := a.Geometry(h, w, kh, kw)
	// source is the input index of output index o under tap t, or -1.
	source := func(o, t, crop, stride, dil, size int) int {
		p := o + crop - t*dil
		if p < 0 || p%stride != 0 || p/stride >= size {
			return -1
		}
		return p / stride
	}
	for b := range nb {
		for oy := range oh {
			for ox := range ow {
				for o := range co {
					var sum float64
					if len(in) == 3 {
						sum = float64(in[2].Data[o])
					}
					for ky := range kh {
						iy := source(oy, ky, crop[0], a.Stride[0], a.Dilation[0], h)
						if iy < 0 {
							continue
						}
						for kx := range kw {
							ix := source(ox, kx, crop[2], a.Stride[1], a.Dilation[1], w)
							if ix < 0 {
								continue
							}
							for i := range c {
								xv := x.Data[((b*h+iy)*w+ix)*c+i]
								kv := k.Data[((ky*kw+kx)*co+o)*c+i]
								sum += float64(xv) * float64(kv)
							}
						}
					}
					out.Data[((b*oh+oy)*ow+ox)*co+o] = float32(sum)
				}
			}
		}
	}
}

// batchVariance is Σ(x-mean)²/n over every axis but the last, in float64.
func batchVariance(_ *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
	x, mean := in[0], in[1]
	c := len(mean.Data)
	sum := make([]float64, c)
	for i, v := range x.Data {
		d := float64(v) - float64(mean.Data[i%c])
		sum[i%c] += d * d
	}
	rows := float64(len(x.Data) / c)
	for j, s := range sum {
		out.Data[j] = float32(s / rows)
	}
}

// dropoutTrain keeps element i where mask.Keep, which defines the mask, and
// divides it by 1-rate.
func dropoutTrain(n *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
	a := n.Attrs.(*ir.DropoutTrainAttrs)
	key := mask.StreamKey(uint64(a.Seed), uint64(in[1].Data[0]))
	threshold := mask.Threshold(a.Rate)
	for i, v := range in[0].Data {
		out.Data[i] = 0
		if mask.Keep(key, threshold, i) {
			out.Data[i] = float32(float64(v) / (1 - float64(a.Rate)))
		}
	}
}
