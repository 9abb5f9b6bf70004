package optim

import "math"

// SGD is stochastic gradient descent with optional momentum, Nesterov
// momentum, dampening and L2 weight decay, in PyTorch's form (torch.optim.SGD):
//
//	g' = g + WeightDecay·p
//	b  = Momentum·b + (1 - d)·g'      d = Dampening, but 0 at t = 0
//	p -= lr · (Nesterov ? g' + Momentum·b : b)
//
// (without momentum, p -= lr·g'). The momentum buffer b starts at zero, so
// the first step sets b = g' as PyTorch's clone does. Keras's SGD keeps a
// velocity u = Momentum·u - lr·g and adds it (Nesterov: p += Momentum·u -
// lr·g); with a constant learning rate u = -lr·b, the same updates.
type SGD struct {
	Momentum, Dampening, WeightDecay float64
	Nesterov                         bool
}

// Slots is 1 with momentum (the buffer b), else 0.
func (o SGD) Slots() int {
	if o.Momentum != 0 {
		return 1
	}
	return 0
}

// Init zeroes the momentum buffer.
func (o SGD) Init(state [][]float32) { zero(state) }

// Update is one step; see SGD.
func (o SGD) Update(p, g []float32, state [][]float32, lr float64, t int) error {
	if err := check(o.Slots(), p, g, state); err != nil {
		return err
	}
	damp := o.Dampening
	if t == 0 {
		damp = 0
	}
	if o.Momentum == 0 {
		sgdPlain(p, g, float32(lr), float32(o.WeightDecay))
		return nil
	}
	sgdMomentum(p, g, state[0], &sgdCoef{lr: float32(lr), mu: float32(o.Momentum), keep: float32(1 - damp), wd: float32(o.WeightDecay), nesterov: o.Nesterov})
	return nil
}

type sgdCoef struct {
	lr, mu, keep, wd float32
	nesterov         bool
}

// sgdPlain is p -= lr·(g + wd·p).
func sgdPlain(p, g []float32, lr, wd float32) {
	g = g[:len(p)]
	for i := range p {
		p[i] -= lr * (g[i] + wd*p[i])
	}
}

// sgdMomentum is SGD's update with a momentum buffer b.
func sgdMomentum(p, g, b []float32, c *sgdCoef) {
	g, b = g[:len(p)], b[:len(p)]
	for i := range p {
		gi := g[i] + c.wd*p[i]
		bi := c.mu*b[i] + c.keep*gi
		b[i] = bi
		if c.nesterov {
			bi = gi + c.mu*bi
		}
		p[i] -= c.lr * bi
	}
}

// sqrt32 is a float32 square root (SQRTSS, as torch's and the SIMD kernels').
func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }
