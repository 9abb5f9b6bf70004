package ref

import (
	"fmt"
	"math"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/tensor"
)

// The backward ops, as loops that accumulate in float64 and round once.

// sumTo adds each element of x into the element of the result it
// broadcasts from.
func sumTo(_ *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
	x := in[0]
	st := tensor.BroadcastStrides(out.Shape, x.Shape)
	acc := make([]float64, len(out.Data))
	for i, v := range x.Data {
		acc[offset(i, x.Shape, st)] += float64(v)
	}
	round(acc, out.Data)
}

func round(acc []float64, out []float32) {
	for i, v := range acc {
		out[i] = float32(v)
	}
}

// derivatives[op](attrs, x) is f'(x) for each unary elementwise function f.
// Where f has a kink, the one-sided value PyTorch takes is chosen.
var derivatives = [ir.OpLast]func(a ir.Attrs, x float64) float64{
	ir.OpRelu: func(_ ir.Attrs, x float64) float64 { return step(x > 0) },
	ir.OpLeakyRelu: func(a ir.Attrs, x float64) float64 {
		if x > 0 {
			return 1
		}
		return float64(a.(*ir.LeakyReluAttrs).Alpha)
	},
	ir.OpSigmoid: func(_ ir.Attrs, x float64) float64 { s := sigmoid(x); return s * (1 - s) },
	ir.OpTanh:    func(_ ir.Attrs, x float64) float64 { t := math.Tanh(x); return 1 - t*t },
	// gelu: Φ(x) + x·φ(x); tanh form with u = c(x+0.044715x³), t = tanh(u):
	// 0.5(1+t) + 0.5x(1-t²)·c(1+3·0.044715x²).
	ir.OpGelu: func(a ir.Attrs, x float64) float64 {
		if a.(*ir.GeluAttrs).Approximate {
			c := math.Sqrt(2 / math.Pi)
			t := math.Tanh(c * (x + 0.044715*x*x*x))
			return 0.5*(1+t) + 0.5*x*(1-t*t)*c*(1+3*0.044715*x*x)
		}
		return 0.5*(1+math.Erf(x/math.Sqrt2)) + x*math.Exp(-x*x/2)/math.Sqrt(2*math.Pi)
	},
	// clip: 1 inside [min, max], bounds included as PyTorch's clamp.
	ir.OpClip: func(a ir.Attrs, x float64) float64 {
		c := a.(*ir.ClipAttrs)
		return step(x >= float64(c.Min) && x <= float64(c.Max))
	},
	ir.OpElu: func(a ir.Attrs, x float64) float64 {
		if x > 0 {
			return 1
		}
		return float64(a.(*ir.EluAttrs).Alpha) * math.Exp(x)
	},
	ir.OpSelu: func(_ ir.Attrs, x float64) float64 {
		if x > 0 {
			return seluScale
		}
		return seluScale * seluAlpha * math.Exp(x)
	},
	ir.OpSilu: func(_ ir.Attrs, x float64) float64 { s := sigmoid(x); return s + x*s*(1-s) },
	// hard_sigmoid: alpha where alpha·x + 0.5 is strictly inside (0, 1).
	ir.OpHardSigmoid: func(a ir.Attrs, x float64) float64 {
		al := float64(a.(*ir.HardSigmoidAttrs).Alpha)
		y := al*x + 0.5
		return al * step(y > 0 && y < 1)
	},
	// hard_swish: 0 below -3, 1 above 3, (2x+3)/6 between.
	ir.OpHardSwish: func(_ ir.Attrs, x float64) float64 {
		switch {
		case x < -3:
			return 0
		case x > 3:
			return 1
		}
		return (2*x + 3) / 6
	},
	// mish: tanh(sp) + x·(1-tanh²(sp))·sigmoid(x), sp = softplus(x).
	ir.OpMish: func(_ ir.Attrs, x float64) float64 {
		t := math.Tanh(softplus(nil, x))
		return t + x*(1-t*t)*sigmoid(x)
	},
	ir.OpSoftplus: func(_ ir.Attrs, x float64) float64 { return sigmoid(x) },
	ir.OpSoftsign: func(_ ir.Attrs, x float64) float64 { d := 1 + math.Abs(x); return 1 / (d * d) },
	ir.OpExp:      func(_ ir.Attrs, x float64) float64 { return math.Exp(x) },
	ir.OpLog:      func(_ ir.Attrs, x float64) float64 { return 1 / x },
	ir.OpSqrt:     func(_ ir.Attrs, x float64) float64 { return 0.5 / math.Sqrt(x) },
	ir.OpRsqrt:    func(_ ir.Attrs, x float64) float64 { return -0.5 / (x * math.Sqrt(x)) },
	ir.OpAbs: func(_ ir.Attrs, x float64) float64 {
		switch {
		case x > 0:
			return 1
		case x < 0:
			return -1
		}
		return 0
	},
	ir.OpNeg: func(_ ir.Attrs, _ float64) float64 { return -1 },
	// pow: e·x^(e-1), 0 for e = 0 (x^-1 would be infinite at 0).
	ir.OpPow: func(a ir.Attrs, x float64) float64 {
		e := float64(a.(*ir.PowAttrs).Exponent)
		if e == 0 {
			return 0
		}
		return e * pow(&ir.Node{Attrs: &ir.PowAttrs{Exponent: float32(e - 1)}}, x)
	},
	ir.OpErf: func(_ ir.Attrs, x float64) float64 { return 2 / math.Sqrt(math.Pi) * math.Exp(-x*x) },
}

func step(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// fromOutput is f'(x) from y = f(x) for the functions ir.FromOutput names.
var fromOutput = map[ir.Op]func(y float64) float64{
	ir.OpRelu: func(y float64) float64 {
		if y > 0 {
			return 1
		}
		return 0
	},
	ir.OpTanh:    func(y float64) float64 { return 1 - y*y },
	ir.OpSigmoid: func(y float64) float64 { return y * (1 - y) },
}

// unaryGrad is dy·f'(x), from x or (from=output) from y = f(x).
func unaryGrad(n *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
	a := n.Attrs.(*ir.UnaryGradAttrs)
	fn := a.Fn
	if a.Output {
		d := fromOutput[fn.Op]
		for i, y := range in[0].Data {
			out.Data[i] = float32(float64(in[1].Data[i]) * d(float64(y)))
		}
		return
	}
	d := derivatives[fn.Op]
	for i, x := range in[0].Data {
		out.Data[i] = float32(float64(in[1].Data[i]) * d(fn.Attrs, float64(x)))
	}
}

// convGeometry walks every (input cell, kernel tap, output cell) triple of a
// convolution, as conv2d's loops do, calling f with the three flat indices.
func convGeometry(a *ir.ConvAttrs, xs, ks, ys []int, f func(xi, ki, yi int)) {
	h, w, c := xs[1], xs[2], xs[3]
	kh, kw, cpg, co := ks[0], ks[1], ks[2], ks[3]
	nb, oh, ow := ys[0], ys[1], ys[2]
	pad := a.PadsFor(h, w, kh, kw)
	opg := co / a.Groups
	for b := range nb {
		for oy := range oh {
			for ox := range ow {
				for o := range co {
					g := o / opg
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
								f(((b*h+iy)*w+ix)*c+g*cpg+i, ((ky*kw+kx)*cpg+i)*co+o, ((b*oh+oy)*ow+ox)*co+o)
							}
						}
					}
				}
			}
		}
	}
}

// conv2dGradInput: dx[xi] = Σ dy[yi]·k[ki] over the taps that read xi.
func conv2dGradInput(n *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
	dy, k := in[0], in[1]
	acc := make([]float64, len(out.Data))
	convGeometry(&n.Attrs.(*ir.ConvGradAttrs).Conv, out.Shape, k.Shape, dy.Shape, func(xi, ki, yi int) {
		acc[xi] += float64(dy.Data[yi]) * float64(k.Data[ki])
	})
	round(acc, out.Data)
}

// conv2dGradFilter: dk[ki] = Σ x[xi]·dy[yi] over the cells tap ki reads.
func conv2dGradFilter(n *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
	x, dy := in[0], in[1]
	acc := make([]float64, len(out.Data))
	convGeometry(&n.Attrs.(*ir.ConvGradAttrs).Conv, x.Shape, out.Shape, dy.Shape, func(xi, ki, yi int) {
		acc[ki] += float64(x.Data[xi]) * float64(dy.Data[yi])
	})
	round(acc, out.Data)
}

// poolWindows calls f for every pooling window with the flat indices of its
// cells inside the input and the index of its output.
func poolWindows(a *ir.PoolAttrs, xs, ys []int, f func(cells []int, yi int)) {
	h, w, c := xs[1], xs[2], xs[3]
	nb, oh, ow := ys[0], ys[1], ys[2]
	kh, kw := a.Size[0], a.Size[1]
	pad := a.PadsFor(h, w, kh, kw)
	cells := make([]int, 0, kh*kw)
	for b := range nb {
		for oy := range oh {
			for ox := range ow {
				for ch := range c {
					cells = cells[:0]
					for ky := range kh {
						iy := oy*a.Stride[0] - pad[0] + ky*a.Dilation[0]
						for kx := range kw {
							ix := ox*a.Stride[1] - pad[2] + kx*a.Dilation[1]
							if iy >= 0 && iy < h && ix >= 0 && ix < w {
								cells = append(cells, ((b*h+iy)*w+ix)*c+ch)
							}
						}
					}
					f(cells, ((b*oh+oy)*ow+ox)*c+ch)
				}
			}
		}
	}
}

// maxPoolGrad routes each dy to its window's first maximal cell (a NaN
// counts as the maximum, as it is maxOf's result).
func maxPoolGrad(n *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
	x, dy := in[0], in[1]
	acc := make([]float64, len(out.Data))
	poolWindows(n.Attrs.(*ir.PoolAttrs), x.Shape, dy.Shape, func(cells []int, yi int) {
		arg := cells[0]
		for _, ci := range cells[1:] {
			if v, m := x.Data[ci], x.Data[arg]; v > m || v != v && m == m {
				arg = ci
			}
		}
		acc[arg] += float64(dy.Data[yi])
	})
	round(acc, out.Data)
}

// avgPoolGrad spreads each dy evenly over the cells its window averaged.
func avgPoolGrad(n *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
	a := &n.Attrs.(*ir.PoolGradAttrs).Pool
	dy := in[0]
	acc := make([]float64, len(out.Data))
	poolWindows(a, out.Shape, dy.Shape, func(cells []int, yi int) {
		window := len(cells)
		if a.CountPad {
			window = a.Size[0] * a.Size[1]
		}
		for _, ci := range cells {
			acc[ci] += float64(dy.Data[yi]) / float64(window)
		}
	})
	round(acc, out.Data)
}

// embeddingGrad adds each row of dy into the table row its id selected.
func embeddingGrad(_ *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
	ids, dy := in[0], in[1]
	d := out.Shape[1]
	acc := make([]float64, len(out.Data))
	for i, id := range ids.Ints {
		for j := range d {
			acc[int(id)*d+j] += float64(dy.Data[i*d+j])
		}
	}
	round(acc, out.Data)
}

// gatherGrad: with indices [B, I], dy [B, P, I, R] and dx [B, P, S, R],
// dx[b, p, s, r] = Σ_i [index(indices[b, i]) = s]·dy[b, p, i, r], summed in
// float64.
func gatherGrad(_ *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
	idx, dy, x := in[0], in[1], out.Shape
	nb, np, s, r, ni := x[0], x[1], x[2], x[3], idx.Shape[1]
	acc := make([]float64, len(out.Data))
	for b := range nb {
		for p := range np {
			for i := range ni {
				j, _ := ir.GatherIndex(idx.Data[b*ni+i], s)
				for e := range r {
					acc[((b*np+p)*s+j)*r+e] += float64(dy.Data[((b*np+p)*ni+i)*r+e])
				}
			}
		}
	}
	round(acc, out.Data)
}

// checkGatherGrad refuses an index gather could not have read (checks).
func checkGatherGrad(n *ir.Node, in []*tensor.Tensor) error {
	s := n.Attrs.(*ir.ReshapeAttrs).Shape[2].Size
	for k, v := range in[0].Data {
		if _, ok := ir.GatherIndex(v, s); !ok {
			return fmt.Errorf("gather_grad (layer %q): index %v at position %d of the indices %v is not an integer in %d..%d",
				n.Layer, v, k, in[0].Shape, -s, s-1)
		}
	}
	return nil
}

// crossEntropy is, per row of C logits x, -Σ y·log_softmax(x) =
// lse(x)·Σy - Σ y·x with lse(x) = m + log Σ exp(x-m), m the row's max; the
// labels are a distribution per row, or sparse, one class id per row
// (-log_softmax(x)[id] = lse(x) - x[id]).
func crossEntropy(sparse bool) kernel {
	return func(_ *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
		x, y := in[0], in[1]
		c := x.Shape[len(x.Shape)-1]
		for r := range out.Data {
			row := x.Data[r*c : (r+1)*c]
			m := math.Inf(-1)
			for _, v := range row {
				m = max(m, float64(v))
			}
			var sum float64
			for _, v := range row {
				sum += math.Exp(float64(v) - m)
			}
			lse := m + math.Log(sum)
			if sparse {
				out.Data[r] = float32(lse - float64(row[y.Ints[r]]))
				continue
			}
			var mass, dot float64
			for j, v := range row {
				l := float64(y.Data[r*c+j])
				mass += l
				dot += l * float64(v)
			}
			out.Data[r] = float32(lse*mass - dot)
		}
	}
}

// attentionGrad is attention's dq, dk and dv (ir.OpAttentionGrad), packed
// per matrix, from the whole row of probabilities p at a time, in float64:
// with dp_j = dy_i·v_j and D = Σ_j p_j·dp_j, ds_j = p_j·(dp_j - D), then
// dq_i = Σ_j ds_j·k_j·scale, dk_j += ds_j·q_i·scale and dv_j += p_j·dy_i.
func attentionGrad(n *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
	a := newAttn(n, in[:len(in)-1])
	v, dy := in[2], in[len(in)-1]
	tq, tk, dk, dv := a.tq, a.tk, a.dk, a.dv
	p, ds := make([]float64, tk), make([]float64, tk)
	dq, dkAcc, dvAcc := make([]float64, tq*dk), make([]float64, tk*dk), make([]float64, tk*dv)
	per := tq*dk + tk*dk + tk*dv
	for m := range a.matrices {
		clear(dkAcc)
		clear(dvAcc)
		for i := range tq {
			row := m*tq + i
			sum := a.expScores(m, i, p)
			var d float64
			for j := range tk {
				p[j] /= sum
				var dp float64
				for c := range dv {
					dp += float64(dy.Data[row*dv+c]) * float64(v.Data[(m*tk+j)*dv+c])
				}
				ds[j] = dp
				d += p[j] * dp
			}
			for j := range tk {
				ds[j] = p[j] * (ds[j] - d) * a.scale
			}
			for c := range dk {
				var acc float64
				for j := range tk {
					acc += ds[j] * float64(a.k.Data[(m*tk+j)*dk+c])
				}
				dq[i*dk+c] = acc
			}
			for j := range tk {
				for c := range dk {
					dkAcc[j*dk+c] += ds[j] * float64(a.q.Data[row*dk+c])
				}
				for c := range dv {
					dvAcc[j*dv+c] += p[j] * float64(dy.Data[row*dv+c])
				}
			}
		}
		o := out.Data[m*per : (m+1)*per]
		round(dq, o[:tq*dk])
		round(dkAcc, o[tq*dk:tq*dk+tk*dk])
		round(dvAcc, o[tq*dk+tk*dk:])
	}
}
