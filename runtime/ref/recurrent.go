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
