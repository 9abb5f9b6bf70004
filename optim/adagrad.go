package optim

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
	adagrad(p, g, state[0], float32(lr/(1+float64(t)*o.LRDecay)), float32(o.WeightDecay), float32(o.Epsilon))
	return nil
}

func adagrad(p, g, s []float32, lr, wd, eps float32) {
	g, s = g[:len(p)], s[:len(p)]
	for i := range p {
		gi := g[i] + wd*p[i]
		si := s[i] + gi*gi
		s[i] = si
		p[i] -= lr * gi / (sqrt32(si) + eps)
	}
}
