package optim

import (
	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/update"
)

// Adagrad is Duchi, Hazan and Singer's Adagrad in PyTorch's form, which is
// also ONNX's (ai.onnx.preview.training Adagrad):
//
//	lr_t = lr / (1 + t·LRDecay)
//	g'   = g + WeightDecay·p
//	s   += g'²
//	p   -= lr_t · g' / (√s + ε)
//
// s starts at InitialAccumulator (PyTorch 0, Keras 0.1). Keras adds ε
// inside the root (√(s + ε)); that form is not offered.
type Adagrad struct {
	LRDecay, WeightDecay, Epsilon, InitialAccumulator float64
	// Set is the kernel set that runs the update (package
	// runtime/kernels/update, RMSprop's kernel with ρ = 1 and 1 for 1-ρ);
	// empty, cpu.Select's choice.
	Set cpu.Set
}

// Slots is 1: the sum of squares s.
func (o Adagrad) Slots() int { return 1 }

// Init sets the accumulator to InitialAccumulator.
func (o Adagrad) Init(state [][]float32) {
	for _, s := range state {
		for i := range s {
			s[i] = float32(o.InitialAccumulator)
		}
	}
}

// Update is one step; see Adagrad.
func (o Adagrad) Update(p, g []float32, state [][]float32, lr float64, t int) error {
	if err := check(o.Slots(), p, g, state); err != nil {
		return err
	}
	k, err := kernels(o.Set)
	if err != nil {
		return err
	}
	k.RMS(p, g, state[0], &update.RMSCoef{LR: float32(lr / (1 + float64(t)*o.LRDecay)), Rho: 1, C: 1, WD: float32(o.WeightDecay), Eps: float32(o.Epsilon)})
	return nil
}
