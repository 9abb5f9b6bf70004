package weights

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/mdlc/mdlc/internal/size"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/tensor"
)

// initStream is the PCG stream selector ("mdlc" in ASCII).
const initStream = 0x6d646c63

// Init returns initial weights for every parameter of g, as Keras creates
// them by default, following each parameter's ir.Init.
//
// The values are a compatibility contract: a seed must give the same weights
// in every release, so none of the following may change. The generator is
// math/rand/v2's PCG seeded with (seed, 0x6d646c63). Parameters are visited in
// g.Params order; zeros and ones draw nothing; a glorot_uniform parameter
// draws one Float64 u per element in row-major order and stores
// float32(l * (2u - 1)), l = sqrt(6 / (fan_in + fan_out)); a uniform one
// likewise with l its limit.
//
// A parameter with a symbolic shape or no valid initialiser is an error; the
// verifier rules both out for checked graphs. The weights must fit the
// default memory budget (size.Default); InitWithin takes another.
func Init(g *ir.Graph, seed uint64) (map[string]*tensor.Tensor, error) {
	return InitWithin(g, seed, size.Default())
}

// InitWithin is Init with the weights' total (ir.Graph.ParamBytes) checked
// against budget before any is allocated.
func InitWithin(g *ir.Graph, seed uint64, budget size.Budget) (map[string]*tensor.Tensor, error) {
	n, err := g.ParamBytes()
	if err != nil {
		return nil, fmt.Errorf("weights.Init: %w", err)
	}
	if err := budget.Check(fmt.Sprintf("initialising the weights of model %s (%d parameters)", g.Name, len(g.Params)), n); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, initStream))
	ts := make(map[string]*tensor.Tensor, len(g.Params))
	for _, p := range g.Params {
		shape, err := p.Type.Shape.Bind(nil)
		if err != nil {
			return nil, fmt.Errorf("weights.Init: parameter %q: %v", p.Name, err)
		}
		t := tensor.New(shape...)
		switch p.Init.Kind {
		case ir.InitZeros:
		case ir.InitOnes:
			for i := range t.Data {
				t.Data[i] = 1
			}
		case ir.InitGlorotUniform:
			if p.Init.FanIn+p.Init.FanOut <= 0 {
				return nil, fmt.Errorf("weights.Init: parameter %q: %v", p.Name, p.Init)
			}
			limit := math.Sqrt(6 / float64(p.Init.FanIn+p.Init.FanOut))
			for i := range t.Data {
				t.Data[i] = float32(limit * (2*rng.Float64() - 1))
			}
		case ir.InitUniform:
			for i := range t.Data {
				t.Data[i] = float32(float64(p.Init.Limit) * (2*rng.Float64() - 1))
			}
		default:
			return nil, fmt.Errorf("weights.Init: parameter %q is %v", p.Name, p.Init)
		}
		ts[p.Name] = t
	}
	return ts, nil
}
