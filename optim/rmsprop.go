package optim

import (
	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/update"
)

// RMSprop is Hinton's RMSprop in PyTorch's and Keras 3's form (ε added to
// the root), with optional momentum and L2 weight decay:
//
//	g' = g + WeightDecay·p
//	v  = Rho·v + (1-Rho)·g'²
//	b  = Momentum·b + g'/(√v + ε);  p -= lr·b     (with momentum)
//	p -= lr·g'/(√v + ε)                           (without)
//
// Keras's defaults are Rho 0.9, ε 1e-7 (DefaultRMSprop); PyTorch's alpha
// 0.99, ε 1e-8. The centered variant is not implemented.
type RMSprop struct {
	Rho, Epsilon, Momentum, WeightDecay float64
	// Set is the kernel set that runs the update (package
	// runtime/kernels/update); empty, cpu.Select's choice.
	Set cpu.Set
}

// DefaultRMSprop is Keras's RMSprop (learning rate 1e-3).
var DefaultRMSprop = RMSprop{Rho: 0.9, Epsilon: 1e-7}

// Slots is 1 (v), 2 with momentum (v, b).
func (o RMSprop) Slots() int {
	if o.Momentum != 0 {
		return 2
	}
	return 1
}

// Init zeroes the state.
func (o RMSprop) Init(state [][]float32) { zero(state) }

// Update is one step; see RMSprop.
func (o RMSprop) Update(p, g []float32, state [][]float32, lr float64, t int) error {
	if err := check(o.Slots(), p, g, state); err != nil {
		return err
	}
	k, err := kernels(o.Set)
	if err != nil {
		return err
	}
	c := update.RMSCoef{LR: float32(lr), Rho: float32(o.Rho), C: float32(1 - o.Rho), WD: float32(o.WeightDecay), Eps: float32(o.Epsilon), Mu: float32(o.Momentum)}
	if o.Momentum == 0 {
		k.RMS(p, g, state[0], &c)
	} else {
		k.RMSMomentum(p, g, state[0], state[1], &c)
	}
	return nil
}
