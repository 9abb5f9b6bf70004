package optim

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
	c := rmspropCoef{rho: float32(o.Rho), c: float32(1 - o.Rho), eps: float32(o.Epsilon), mu: float32(o.Momentum), wd: float32(o.WeightDecay), lr: float32(lr)}
	if o.Momentum == 0 {
		rmsprop(p, g, state[0], &c)
	} else {
		rmspropMomentum(p, g, state[0], state[1], &c)
	}
	return nil
}

type rmspropCoef struct{ rho, c, eps, mu, wd, lr float32 }

func rmsprop(p, g, v []float32, c *rmspropCoef) {
	g, v = g[:len(p)], v[:len(p)]
	for i := range p {
		gi := g[i] + c.wd*p[i]
		vi := c.rho*v[i] + c.c*gi*gi
		v[i] = vi
		p[i] -= c.lr * gi / (sqrt32(vi) + c.eps)
	}
}

func rmspropMomentum(p, g, v, b []float32, c *rmspropCoef) {
	g, v, b = g[:len(p)], v[:len(p)], b[:len(p)]
	for i := range p {
		gi := g[i] + c.wd*p[i]
		vi := c.rho*v[i] + c.c*gi*gi
		v[i] = vi
		bi := c.mu*b[i] + gi/(sqrt32(vi)+c.eps)
		b[i] = bi
		p[i] -= c.lr * bi
	}
}
