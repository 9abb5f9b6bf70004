package backward

import (
	"math"

	"github.com/mdlc/mdlc/runtime/kernels/recurrent"
)

// RecurrentGrad is backpropagation through time over a recurrent layer's
// loop (ir.OpRecurrentGrad): per sequence, the forward loop again, saving
// the states each step reads and its gates' values, then the steps in
// reverse, carrying d h (and d c) from each step to the one before.
//
// Sequences are independent, so a sequence is a unit: threads take whole
// sequences, each with its own scratch, and a sequence's result does not
// depend on which thread computed it. The per-step products (h·U forward,
// da·Uᵀ back) are plain loops over one sequence's row, in float32 like the
// forward kernel's state; sigmoid and tanh are math's, rounded once.
type RecurrentGrad struct {
	Cell                    recurrent.Cell
	Relu, Reverse, Sequence bool
	N, T, H                 int
	// States is how many initial states the op has (h0, then c0): with
	// any, the result has a row T per sequence for their gradients.
	States int
}

func (r *RecurrentGrad) gh() int { return r.Cell.Gates() * r.H }

// rows is the result's rows per sequence.
func (r *RecurrentGrad) rows() int {
	if r.States > 0 {
		return r.T + 1
	}
	return r.T
}

// ScratchSize is the floats one sequence needs: h and c read by each step
// and the last ones, 2·(T+1)·H; every step's gates, T·G·H, and a GRU's
// h·U_n + bu_n, T·H; a step's h·U + bu or da, G·H; d h and d c, 2·H.
func (r *RecurrentGrad) ScratchSize() int {
	return 2*(r.T+1)*r.H + r.T*r.gh() + r.T*r.H + r.gh() + 2*r.H
}

// Units is the number of units, one per sequence.
func (r *RecurrentGrad) Units() int { return r.N }

func sigmoid32(x float32) float32 { return float32(sigmoid(float64(x))) }
func tanh32(x float32) float32    { return float32(math.Tanh(float64(x))) }

// Run writes sequence b's rows of out [N, rows, G·H]: d xw of every
// time step, then, with initial states, d h0 and (LSTM) d c0 in row T,
// zero beyond. xw [N, T, G·H], u [H, G·H], bu [G·H] and h0, c0 [N, H] (nil:
// zero) are the forward's operands, dy the gradient of its result.
func (r *RecurrentGrad) Run(b int, xw, u, bu, h0, c0, dy, out, scratch []float32) {
	hid, gh, steps := r.H, r.gh(), r.T
	hs, scratch := scratch[:(steps+1)*hid], scratch[(steps+1)*hid:]
	cs, scratch := scratch[:(steps+1)*hid], scratch[(steps+1)*hid:]
	gate, scratch := scratch[:steps*gh], scratch[steps*gh:]
	hun, scratch := scratch[:steps*hid], scratch[steps*hid:]
	z, scratch := scratch[:gh], scratch[gh:]
	dh, dc := scratch[:hid], scratch[hid:2*hid]

	clear(hs[:hid])
	clear(cs[:hid])
	if h0 != nil {
		copy(hs[:hid], h0[b*hid:])
	}
	if c0 != nil {
		copy(cs[:hid], c0[b*hid:])
	}
	for s := range steps {
		t := r.time(s)
		hp, cp := hs[s*hid:(s+1)*hid], cs[s*hid:(s+1)*hid]
		h, c := hs[(s+1)*hid:(s+2)*hid], cs[(s+1)*hid:(s+2)*hid]
		// z = h_prev·U + bu.
		copy(z, bu)
		for p, hv := range hp {
			row := u[p*gh : (p+1)*gh]
			for j, w := range row {
				z[j] += hv * w
			}
		}
		x, g := xw[(b*steps+t)*gh:(b*steps+t+1)*gh], gate[s*gh:(s+1)*gh]
		for j := range hid {
			switch r.Cell {
			case recurrent.RNN:
				v := x[j] + z[j]
				if r.Relu {
					g[j] = max(v, 0)
				} else {
					g[j] = tanh32(v)
				}
				h[j] = g[j]
			case recurrent.LSTM:
				g[j] = sigmoid32(x[j] + z[j])
				g[hid+j] = sigmoid32(x[hid+j] + z[hid+j])
				g[2*hid+j] = tanh32(x[2*hid+j] + z[2*hid+j])
				g[3*hid+j] = sigmoid32(x[3*hid+j] + z[3*hid+j])
				c[j] = g[hid+j]*cp[j] + g[j]*g[2*hid+j]
				h[j] = g[3*hid+j] * tanh32(c[j])
			default: // GRU
				g[j] = sigmoid32(x[j] + z[j])
				g[hid+j] = sigmoid32(x[hid+j] + z[hid+j])
				hun[s*hid+j] = z[2*hid+j]
				g[2*hid+j] = tanh32(x[2*hid+j] + g[j]*z[2*hid+j])
				h[j] = (1-g[hid+j])*g[2*hid+j] + g[hid+j]*hp[j]
			}
		}
	}

	rows := r.rows()
	clear(out[b*rows*gh : (b+1)*rows*gh])
	clear(dh)
	clear(dc)
	if !r.Sequence {
		copy(dh, dy[b*hid:(b+1)*hid])
	}
	da := z
	for s := steps - 1; s >= 0; s-- {
		t := r.time(s)
		if r.Sequence {
			for j, v := range dy[(b*steps+t)*hid : (b*steps+t+1)*hid] {
				dh[j] += v
			}
		}
		hp, cp, c := hs[s*hid:(s+1)*hid], cs[s*hid:(s+1)*hid], cs[(s+1)*hid:(s+2)*hid]
		g, dx := gate[s*gh:(s+1)*gh], out[(b*rows+t)*gh:(b*rows+t+1)*gh]
		// da is d(h_prev·U + bu), dx the gate pre-activations' gradient:
		// the same but for a GRU's n gate, whose h·U_n + bu_n the reset
		// gate scales. dh keeps the part of d h_prev not through U.
		for j := range hid {
			switch r.Cell {
			case recurrent.RNN:
				if r.Relu {
					if g[j] <= 0 {
						da[j] = 0
					} else {
						da[j] = dh[j]
					}
				} else {
					da[j] = dh[j] * (1 - g[j]*g[j])
				}
				dx[j] = da[j]
				dh[j] = 0
			case recurrent.LSTM:
				i, f, gg, o := g[j], g[hid+j], g[2*hid+j], g[3*hid+j]
				tc := tanh32(c[j])
				dct := dc[j] + dh[j]*o*(1-tc*tc)
				da[j] = dct * gg * i * (1 - i)
				da[hid+j] = dct * cp[j] * f * (1 - f)
				da[2*hid+j] = dct * i * (1 - gg*gg)
				da[3*hid+j] = dh[j] * tc * o * (1 - o)
				for q := range 4 {
					dx[q*hid+j] = da[q*hid+j]
				}
				dc[j] = dct * f
				dh[j] = 0
			default: // GRU
				rs, zs, nv := g[j], g[hid+j], g[2*hid+j]
				dn := dh[j] * (1 - zs) * (1 - nv*nv)
				da[j] = dn * hun[s*hid+j] * rs * (1 - rs)
				da[hid+j] = dh[j] * (hp[j] - nv) * zs * (1 - zs)
				da[2*hid+j] = dn * rs
				dx[j], dx[hid+j], dx[2*hid+j] = da[j], da[hid+j], dn
				dh[j] *= zs
			}
		}
		// d h_prev += da·Uᵀ.
		for p := range hid {
			row := u[p*gh : (p+1)*gh]
			var sum float32
			for j, v := range da {
				sum += v * row[j]
			}
			dh[p] += sum
		}
	}
	if r.States > 0 {
		last := out[(b*rows+steps)*gh:]
		copy(last[:hid], dh)
		if r.Cell == recurrent.LSTM {
			copy(last[hid:2*hid], dc)
		}
	}
}

// time is the time step of the loop's step s.
func (r *RecurrentGrad) time(s int) int {
	if r.Reverse {
		return r.T - 1 - s
	}
	return s
}
