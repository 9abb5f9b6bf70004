package ref

import (
	"math"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/tensor"
)

// recurrent runs a recurrent layer's loop (ir.RecurrentAttrs) in float64,
// the state kept in float64 from step to step.
func recurrent(n *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
	a := n.Attrs.(*ir.RecurrentAttrs)
	xw, u, bu := in[0], in[1], in[2]
	batch, steps, hidden := xw.Shape[0], xw.Shape[1], u.Shape[0]
	gh := a.Cell.Gates() * hidden
	h, c := make([]float64, batch*hidden), make([]float64, batch*hidden)
	if len(in) > 3 {
		for i, v := range in[3].Data {
			h[i] = float64(v)
		}
	}
	if len(in) > 4 {
		for i, v := range in[4].Data {
			c[i] = float64(v)
		}
	}
	hu := make([]float64, gh)
	sigmoid := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	for s := range steps {
		t := s
		if a.Reverse {
			t = steps - 1 - s
		}
		for b := range batch {
			hb, cb := h[b*hidden:(b+1)*hidden], c[b*hidden:(b+1)*hidden]
			for j := range gh {
				hu[j] = float64(bu.Data[j])
				for p, hv := range hb {
					hu[j] += hv * float64(u.Data[p*gh+j])
				}
			}
			x := xw.Data[(b*steps+t)*gh : (b*steps+t+1)*gh]
			for j := range hidden {
				switch a.Cell {
				case ir.CellRNN:
					v := float64(x[j]) + hu[j]
					if a.Relu {
						hb[j] = max(v, 0)
					} else {
						hb[j] = math.Tanh(v)
					}
				case ir.CellLSTM:
					i := sigmoid(float64(x[j]) + hu[j])
					f := sigmoid(float64(x[hidden+j]) + hu[hidden+j])
					g := math.Tanh(float64(x[2*hidden+j]) + hu[2*hidden+j])
					o := sigmoid(float64(x[3*hidden+j]) + hu[3*hidden+j])
					cb[j] = f*cb[j] + i*g
					hb[j] = o * math.Tanh(cb[j])
				case ir.CellGRU:
					r := sigmoid(float64(x[j]) + hu[j])
					z := sigmoid(float64(x[hidden+j]) + hu[hidden+j])
					nv := math.Tanh(float64(x[2*hidden+j]) + r*hu[2*hidden+j])
					hb[j] = (1-z)*nv + z*hb[j]
				}
			}
			if a.Sequences {
				for j, v := range hb {
					out.Data[(b*steps+t)*hidden+j] = float32(v)
				}
			}
		}
	}
	if !a.Sequences {
		for i, v := range h {
			out.Data[i] = float32(v)
		}
	}
}

// recurrentGrad is backpropagation through time (ir.OpRecurrentGrad): for
// each sequence, the forward loop again, saving h and c before every step
// and the gates' values, then the steps in reverse, in float64.
func recurrentGrad(n *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
	a := n.Attrs.(*ir.RecurrentAttrs)
	fwd, dy := in[:len(in)-1], in[len(in)-1]
	xw, u, bu := fwd[0], fwd[1], fwd[2]
	batch, steps, hid := xw.Shape[0], xw.Shape[1], u.Shape[0]
	gh := a.Cell.Gates() * hid
	rows := out.Shape[1]
	// Per sequence, by step s of the loop: hs[s] and cs[s] the states read
	// by step s (s = T: the last ones), gate[s] the gates' values (the new
	// h for a simple RNN; i, f, g, o; r, z, n), hun[s] a GRU's h·U_n + bu_n.
	hs, cs := make([]float64, (steps+1)*hid), make([]float64, (steps+1)*hid)
	gate, hun := make([]float64, steps*gh), make([]float64, steps*hid)
	hu, dh, dc, da := make([]float64, gh), make([]float64, hid), make([]float64, hid), make([]float64, gh)
	sigmoid := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	clear(out.Data)
	for b := range batch {
		clear(hs[:hid])
		clear(cs[:hid])
		if len(fwd) > 3 {
			for j := range hid {
				hs[j] = float64(fwd[3].Data[b*hid+j])
			}
		}
		if len(fwd) > 4 {
			for j := range hid {
				cs[j] = float64(fwd[4].Data[b*hid+j])
			}
		}
		for s := range steps {
			t := recurrentTime(a, s, steps)
			hp, cp := hs[s*hid:(s+1)*hid], cs[s*hid:(s+1)*hid]
			h, c := hs[(s+1)*hid:(s+2)*hid], cs[(s+1)*hid:(s+2)*hid]
			for j := range gh {
				hu[j] = float64(bu.Data[j])
				for p, hv := range hp {
					hu[j] += hv * float64(u.Data[p*gh+j])
				}
			}
			x, g := xw.Data[(b*steps+t)*gh:(b*steps+t+1)*gh], gate[s*gh:(s+1)*gh]
			for j := range hid {
				switch a.Cell {
				case ir.CellRNN:
					v := float64(x[j]) + hu[j]
					if a.Relu {
						g[j] = max(v, 0)
					} else {
						g[j] = math.Tanh(v)
					}
					h[j] = g[j]
				case ir.CellLSTM:
					g[j] = sigmoid(float64(x[j]) + hu[j])
					g[hid+j] = sigmoid(float64(x[hid+j]) + hu[hid+j])
					g[2*hid+j] = math.Tanh(float64(x[2*hid+j]) + hu[2*hid+j])
					g[3*hid+j] = sigmoid(float64(x[3*hid+j]) + hu[3*hid+j])
					c[j] = g[hid+j]*cp[j] + g[j]*g[2*hid+j]
					h[j] = g[3*hid+j] * math.Tanh(c[j])
				case ir.CellGRU:
					g[j] = sigmoid(float64(x[j]) + hu[j])
					g[hid+j] = sigmoid(float64(x[hid+j]) + hu[hid+j])
					hun[s*hid+j] = hu[2*hid+j]
					g[2*hid+j] = math.Tanh(float64(x[2*hid+j]) + g[j]*hu[2*hid+j])
					h[j] = (1-g[hid+j])*g[2*hid+j] + g[hid+j]*hp[j]
				}
			}
		}
		clear(dh)
		clear(dc)
		if !a.Sequences {
			for j := range hid {
				dh[j] = float64(dy.Data[b*hid+j])
			}
		}
		for s := steps - 1; s >= 0; s-- {
			t := recurrentTime(a, s, steps)
			if a.Sequences {
				for j := range hid {
					dh[j] += float64(dy.Data[(b*steps+t)*hid+j])
				}
			}
			hp, cp, c := hs[s*hid:(s+1)*hid], cs[s*hid:(s+1)*hid], cs[(s+1)*hid:(s+2)*hid]
			g, dx := gate[s*gh:(s+1)*gh], out.Data[(b*rows+t)*gh:(b*rows+t+1)*gh]
			// da is d(h_prev·U + bu): d xw but for a GRU's n gate, whose
			// h·U_n + bu_n the reset gate scales.
			for j := range hid {
				switch a.Cell {
				case ir.CellRNN:
					if a.Relu {
						da[j] = dh[j] * step(g[j] > 0)
					} else {
						da[j] = dh[j] * (1 - g[j]*g[j])
					}
					dx[j] = float32(da[j])
					dh[j] = 0
				case ir.CellLSTM:
					i, f, gg, o := g[j], g[hid+j], g[2*hid+j], g[3*hid+j]
					tc := math.Tanh(c[j])
					dct := dc[j] + dh[j]*o*(1-tc*tc)
					da[j] = dct * gg * i * (1 - i)
					da[hid+j] = dct * cp[j] * f * (1 - f)
					da[2*hid+j] = dct * i * (1 - gg*gg)
					da[3*hid+j] = dh[j] * tc * o * (1 - o)
					for q := range 4 {
						dx[q*hid+j] = float32(da[q*hid+j])
					}
					dc[j] = dct * f
					dh[j] = 0
				case ir.CellGRU:
					r, z, nv := g[j], g[hid+j], g[2*hid+j]
					dn := dh[j] * (1 - z) * (1 - nv*nv)
					da[j] = dn * hun[s*hid+j] * r * (1 - r)
					da[hid+j] = dh[j] * (hp[j] - nv) * z * (1 - z)
					da[2*hid+j] = dn * r
					dx[j], dx[hid+j], dx[2*hid+j] = float32(da[j]), float32(da[hid+j]), float32(dn)
					dh[j] *= z
				}
			}
			// dh_prev += da·Uᵀ.
			for p := range hid {
				row := u.Data[p*gh : (p+1)*gh]
				for j, v := range da {
					dh[p] += v * float64(row[j])
				}
			}
		}
		if rows > steps {
			last := out.Data[(b*rows+steps)*gh : (b*rows+steps+1)*gh]
			for j := range hid {
				last[j] = float32(dh[j])
				if a.Cell == ir.CellLSTM {
					last[hid+j] = float32(dc[j])
				}
			}
		}
	}
}

// recurrentTime is the time step of the loop's step s.
func recurrentTime(a *ir.RecurrentAttrs, s, steps int) int {
	if a.Reverse {
		return steps - 1 - s
	}
	return s
}
