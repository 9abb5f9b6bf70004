package optim

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/tensor"
)

// pytorchCases mirror testdata/optim/make_fixtures.py's CASES: the same
// hyperparameters in mdlc's terms.
var pytorchCases = map[string]struct {
	lr  float64
	opt Optimizer
}{
	"sgd":              {0.1, SGD{WeightDecay: 0.01}},
	"sgd_momentum":     {0.05, SGD{Momentum: 0.9, Dampening: 0.1, WeightDecay: 0.01}},
	"sgd_nesterov":     {0.05, SGD{Momentum: 0.9, Nesterov: true}},
	"adam":             {0.01, Adam{Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, WeightDecay: 0.01, Form: PyTorch}},
	"adamw":            {0.01, Adam{Beta1: 0.8, Beta2: 0.99, Epsilon: 1e-6, WeightDecay: 0.1, Decoupled: true, Form: PyTorch}},
	"rmsprop":          {0.01, RMSprop{Rho: 0.99, Epsilon: 1e-8, WeightDecay: 0.01}},
	"rmsprop_momentum": {0.01, RMSprop{Rho: 0.9, Epsilon: 1e-7, Momentum: 0.5}},
	"adagrad":          {0.1, Adagrad{LRDecay: 0.01, WeightDecay: 0.01, InitialAccumulator: 0.1, Epsilon: 1e-10}},
}

// TestPyTorch: five steps of each optimiser give torch.optim's parameters
// after every step, within 1e-5 relative (float32 rounding differs in the
// order of operations).
func TestPyTorch(t *testing.T) {
	for name, c := range pytorchCases {
		params := readNpy(t, name+".params.npy")
		grads := readNpy(t, name+".grads.npy")
		steps, n := grads.Shape[0], grads.Shape[1]
		// Every kernel set available runs each case.
		var opts []Optimizer
		for _, set := range cpu.Available() {
			opts = append(opts, withSet(c.opt, set))
		}
		for _, o := range opts {
			p := append([]float32(nil), params.Data[:n]...)
			state := newState(o, n)
			for k := range steps {
				if err := o.Update(p, grads.Data[k*n:(k+1)*n], state, c.lr, k); err != nil {
					t.Fatal(err)
				}
				closeTo(t, fmt.Sprintf("%s %+v", name, o), k, p, params.Data[(k+1)*n:(k+2)*n], 1e-5)
			}
		}
	}
}

// withSet is o run by the kernels of set.
func withSet(o Optimizer, set cpu.Set) Optimizer {
	switch o := o.(type) {
	case SGD:
		o.Set = set
		return o
	case Adam:
		o.Set = set
		return o
	case RMSprop:
		o.Set = set
		return o
	case Adagrad:
		o.Set = set
		return o
	}
	panic(fmt.Sprintf("%T has no kernel set", o))
}

func readNpy(t *testing.T, name string) *tensor.Tensor {
	t.Helper()
	x, err := tensor.ReadNpyFile(filepath.Join("..", "testdata", "optim", name))
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func newState(o Optimizer, n int) [][]float32 {
	s := make([][]float32, o.Slots())
	for i := range s {
		s[i] = make([]float32, n)
	}
	o.Init(s)
	return s
}

// closeTo fails when got and want differ by more than tol relative (to at
// least 1e-3 in magnitude, so values near zero compare absolutely).
func closeTo(t *testing.T, name string, row int, got, want []float32, tol float64) {
	t.Helper()
	for i := range want {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if d > tol*math.Max(math.Abs(float64(want[i])), 1e-3) {
			t.Fatalf("%s row %d: value %d is %v, want %v", name, row, i, got[i], want[i])
		}
	}
}
