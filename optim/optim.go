// Package optim updates a model's parameters from their gradients: SGD (with
// momentum and Nesterov), Adam (Keras's and PyTorch's forms), AdamW,
// RMSprop and Adagrad; global-norm gradient clipping; learning-rate
// schedules.
//
// Each optimiser is one fused kernel over a flat parameter slice: the caller
// keeps all parameters in one []float32, their gradients in another and the
// optimiser's state (moments, momentum) in Slots() more of the same length,
// so a step is one pass over memory and allocates nothing. Scalars that
// depend only on the step (bias corrections) are computed once per call in
// float64; the elementwise work is float32, as PyTorch's and Keras's is.
//
// The kernels are in runtime/kernels/update, with AVX2 and NEON versions
// beside the generic ones (plain SGD without momentum is a loop here).
//
// The step number t counts from 0 (the first update is t = 0) and the
// learning rate is given to each call, so schedules and checkpoints stay
// outside the kernels.
package optim

import (
	"fmt"
	"sync"

	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/update"
)

// Optimizer is one update rule with its hyperparameters.
type Optimizer interface {
	// Slots is the number of state slices, each as long as the
	// parameters, the caller holds for Update.
	Slots() int
	// Init sets the state before the first step (zero, or an initial
	// accumulator).
	Init(state [][]float32)
	// Update applies step t with learning rate lr to params from grads,
	// reading and updating state. All slices have the same length.
	Update(params, grads []float32, state [][]float32, lr float64, t int) error
}

// check refuses slices of different lengths or the wrong number of slots:
// a kernel would read past one of them.
// It takes the slot count, not the Optimizer, which would be boxed.
func check(slots int, params, grads []float32, state [][]float32) error {
	if len(grads) != len(params) {
		return fmt.Errorf("optim: %d gradients for %d parameters", len(grads), len(params))
	}
	if len(state) != slots {
		return fmt.Errorf("optim: %d state slices, want %d", len(state), slots)
	}
	for i, s := range state {
		if len(s) != len(params) {
			return fmt.Errorf("optim: state slice %d holds %d values for %d parameters", i, len(s), len(params))
		}
	}
	return nil
}

func zero(state [][]float32) {
	for _, s := range state {
		clear(s)
	}
}

// selected is cpu.Select's choice (which MDLC_KERNELS can make), made once.
var selected = sync.OnceValues(cpu.Select)

// kernels are the update kernels of set, or of the selected set when set is
// empty.
func kernels(set cpu.Set) (*update.Kernels, error) {
	if set == "" {
		var err error
		if set, err = selected(); err != nil {
			return nil, err
		}
	}
	return update.For(set), nil
}
