package optim

import (
	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/update"
)

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
	// Set is the kernel set that runs the update with momentum (package
	// runtime/kernels/update); empty, cpu.Select's choice.
	Set cpu.Set
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
	k, err := kernels(o.Set)
	if err != nil {
		return err
	}
	c := update.SGDCoef{LR: float32(lr), Mu: float32(o.Momentum), Keep: float32(1 - damp), WD: float32(o.WeightDecay), C: 1}
	if o.Nesterov {
		c.A, c.C = 1, c.Mu
	}
	k.SGD(p, g, state[0], &c)
	return nil
}

// sgdPlain is p -= lr·(g + wd·p).
func sgdPlain(p, g []float32, lr, wd float32) {
	g = g[:len(p)]
	for i := range p {
		p[i] -= lr * (g[i] + wd*p[i])
	}
}
