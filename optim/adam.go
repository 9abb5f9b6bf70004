package optim

import (
	"math"

	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/update"
)

// AdamForm is where ε enters Adam's denominator.
type AdamForm int

const (
	// Keras (keras.optimizers.Adam, TF's ApplyAdam): the bias corrections
	// fold into the step size and ε is added to √v, not to √v̂:
	//	α_t = lr · √(1-β2^(t+1)) / (1-β1^(t+1))
	//	p  -= α_t · m / (√v + ε)
	Keras AdamForm = iota
	// PyTorch (torch.optim.Adam and AdamW): ε is added to √v̂:
	//	p -= lr/(1-β1^(t+1)) · m / (√v / √(1-β2^(t+1)) + ε)
	PyTorch
)

// Adam is Kingma and Ba's Adam, and AdamW (Loshchilov and Hutter) when
// Decoupled is set. With t counting from 0:
//
//	g' = g + WeightDecay·p             (L2, when not Decoupled)
//	p  = p·(1 - lr·WeightDecay)        (when Decoupled: AdamW)
//	m  = β1·m + (1-β1)·g'
//	v  = β2·v + (1-β2)·g'²
//	p -= the step of Form (see AdamForm) with m and v
//
// Both forms are α_t·m/(√v + ε'), with ε' = ε in Keras's and
// ε' = ε·√(1-β2^(t+1)) in PyTorch's: they differ most in the first steps
// and where v is small. DefaultAdam is Keras's settings.
type Adam struct {
	Beta1, Beta2, Epsilon float64
	WeightDecay           float64
	Decoupled             bool
	Form                  AdamForm
	// Set is the kernel set that runs the update (package
	// runtime/kernels/update); empty, cpu.Select's choice.
	Set cpu.Set
}

// DefaultAdam is Keras's Adam: β1 0.9, β2 0.999, ε 1e-7, Keras's form (its
// learning rate, 1e-3, is given to Update). PyTorch's defaults differ in ε
// (1e-8) and the form.
var DefaultAdam = Adam{Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-7, Form: Keras}

// DefaultAdamW is PyTorch's AdamW: β 0.9/0.999, ε 1e-8, weight decay 0.01.
var DefaultAdamW = Adam{Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, WeightDecay: 0.01, Decoupled: true, Form: PyTorch}

// Slots is 2: the moments m and v.
func (o Adam) Slots() int { return 2 }

// Init zeroes the moments.
func (o Adam) Init(state [][]float32) { zero(state) }

// Update is one step; see Adam.
func (o Adam) Update(p, g []float32, state [][]float32, lr float64, t int) error {
	if err := check(o.Slots(), p, g, state); err != nil {
		return err
	}
	k, err := kernels(o.Set)
	if err != nil {
		return err
	}
	c := o.coef(lr, t)
	k.Adam(p, g, state[0], state[1], &c)
	return nil
}

// coef are the scalars of step t.
func (o Adam) coef(lr float64, t int) update.AdamCoef {
	bc1 := 1 - math.Pow(o.Beta1, float64(t+1))
	bc2 := 1 - math.Pow(o.Beta2, float64(t+1))
	c := update.AdamCoef{B1: float32(o.Beta1), C1: float32(1 - o.Beta1), B2: float32(o.Beta2), C2: float32(1 - o.Beta2), Eps: float32(o.Epsilon), Decay: 1}
	if o.Form == Keras {
		c.Step, c.K = float32(lr*math.Sqrt(bc2)/bc1), 1
	} else {
		c.Step, c.K = float32(lr/bc1), float32(1/math.Sqrt(bc2))
	}
	if o.Decoupled {
		c.Decay = float32(1 - lr*o.WeightDecay)
	} else {
		c.WD = float32(o.WeightDecay)
	}
	return c
}
