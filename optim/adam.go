package optim

import "math"

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
// The two forms differ by ε·(1 - √(1-β2^(t+1))) in the denominator: most in
// the first steps, when v is small. DefaultAdam is Keras's settings.
type Adam struct {
	Beta1, Beta2, Epsilon float64
	WeightDecay           float64
	Decoupled             bool
	Form                  AdamForm
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
	bc1 := 1 - math.Pow(o.Beta1, float64(t+1))
	bc2 := 1 - math.Pow(o.Beta2, float64(t+1))
	c := adamCoef{b1: float32(o.Beta1), c1: float32(1 - o.Beta1), b2: float32(o.Beta2), c2: float32(1 - o.Beta2), eps: float32(o.Epsilon), decay: 1}
	if o.Form == Keras {
		c.step, c.k = float32(lr*math.Sqrt(bc2)/bc1), 1
	} else {
		c.step, c.k = float32(lr/bc1), float32(1/math.Sqrt(bc2))
	}
	if o.Decoupled {
		c.decay = float32(1 - lr*o.WeightDecay)
	} else {
		c.wd = float32(o.WeightDecay)
	}
	adam(p, g, state[0], state[1], &c)
	return nil
}

// adamCoef are adam's per-step scalars.
type adamCoef struct {
	b1, c1, b2, c2 float32 // β1, 1-β1, β2, 1-β2
	wd             float32 // L2 weight decay added to the gradient
	decay          float32 // decoupled decay: p is scaled by it first
	step, k, eps   float32 // p -= step·m / (√v·k + ε)
}

// adam is the fused update of both forms.
func adam(p, g, m, v []float32, c *adamCoef) {
	g, m, v = g[:len(p)], m[:len(p)], v[:len(p)]
	for i := range p {
		pi := p[i]
		gi := g[i] + c.wd*pi
		mi := c.b1*m[i] + c.c1*gi
		vi := c.b2*v[i] + c.c2*gi*gi
		m[i], v[i] = mi, vi
		p[i] = pi*c.decay - c.step*mi/(sqrt32(vi)*c.k+c.eps)
	}
}
