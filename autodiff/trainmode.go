package autodiff

// TrainingMode rewrites an inference graph into its training form, node by
// node in schedule order:
//
//	batchnorm(x, γ, β, μ_run, σ²_run)
//	    -> batchnorm(x, γ, β, m, v), m = reduce_mean(x) and
//	       v = batch_variance(x, m) over every axis but the last
//	dropout{rate}(x)
//	    -> dropout_train{rate, seed}(x, step)     (x itself if rate = 0)
//
// and TrainingForm.Updates appends the running statistics' updates and the
// step counter's. Training batch norm needs no op of its own: the inference
// kernel takes statistics computed at run time, and its rule with those of
// reduce_mean and batch_variance is the standard backward through the
// batch statistics (see batchVarianceRule); the batch statistics stay
// values of the graph, which the running averages read.
//
// Invariant: no batchnorm reads a running statistic and no dropout remains;
// every other node is unchanged, and the schedule stays valid (the new
// nodes take the place of the one they replace).

import (
	"fmt"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/tensor"
)

// BatchNormConvention is how the running statistics follow the batch's.
type BatchNormConvention uint8

const (
	// Keras (BatchNormalization): moving = moving·m + batch·(1-m),
	// computed as Keras does, moving - (moving - batch)·(1-m), with momentum
	// m = 0.99 by default and the biased batch variance (divided by n) in
	// the moving variance, as Keras 3 and tf.keras's unfused path do.
	// tf.keras 2's fused kernel, its default for 4-D inputs, puts the
	// unbiased one there (TensorFlow's FusedBatchNorm applies Bessel's
	// correction to the batch variance it returns): UnbiasedVariance.
	Keras BatchNormConvention = iota
	// PyTorch (torch.nn.BatchNorm*d): running = (1-m)·running + m·batch,
	// computed as running - (running - batch)·m, with momentum m = 0.1 by
	// default and the unbiased batch variance, times n/(n-1), in the
	// running variance (normalisation itself uses the biased one, as in
	// Keras).
	PyTorch
)

// StepParam is the name of the step counter TrainingMode adds for dropout.
const StepParam = "dropout.step"

// TrainingModeOptions configure TrainingMode.
type TrainingModeOptions struct {
	Convention BatchNormConvention
	// Momentum replaces the convention's default, in its meaning (Keras's
	// weight of the old value, PyTorch's of the batch's); 0 keeps the
	// default (0.99 or 0.1), a momentum neither convention would use.
	Momentum float32
	// UnbiasedVariance puts the unbiased batch variance in the running
	// variance under Keras's convention too, as tf.keras 2's fused batch
	// norm does. (PyTorch's always does.)
	UnbiasedVariance bool
	// Seed is dropout's: the k-th dropout of the graph, in schedule order,
	// draws its masks with seed Seed+k.
	Seed uint64
}

// BatchStats are one batch norm's batch statistics and running ones.
type BatchStats struct {
	Layer string
	// Mean and Variance are the batch's, biased, of shape [C].
	Mean, Variance *ir.Value
	// MovingMean and MovingVariance are the running statistics: the
	// non-trainable parameters the inference graph read.
	MovingMean, MovingVariance *ir.Value
	// Count is n, the number of values each statistic is taken over.
	Count int
}

// TrainingForm is what a trainer needs of a graph TrainingMode rewrote.
type TrainingForm struct {
	g        *ir.Graph
	momentum float32
	pytorch  bool
	unbiased bool // the running variance follows the unbiased batch variance
	// BatchNorms are the rewritten batch norms, in schedule order.
	BatchNorms []BatchStats
	// Step is the counter dropout's masks are drawn with, nil if the graph
	// has no dropout: a non-trainable scalar parameter (StepParam),
	// initially 0, that Updates advances by one per run. It is state of a
	// training plan rather than an input, so a new step needs neither a
	// feed nor a new plan, and every dropout of the forward and backward
	// passes of one run reads the same value. A float32 counts exactly to
	// 2²⁴ (16.7 million steps): past that the counter stops and the masks
	// repeat from one run to the next.
	Step    *ir.Value
	updated bool
}

// TrainingMode rewrites g's batch norms and dropouts into their training
// forms, in place (see the top of this file), and returns what a trainer
// needs: differentiate the graph (Grad), then append the updates
// (TrainingForm.Updates) and build the plan with them and the optimiser's.
// Batch norm's leading sizes must be known (specialise the graph first).
func TrainingMode(g *ir.Graph, opt TrainingModeOptions) (*TrainingForm, error) {
	f := &TrainingForm{g: g, pytorch: opt.Convention == PyTorch, momentum: opt.Momentum,
		unbiased: opt.Convention == PyTorch || opt.UnbiasedVariance}
	switch {
	case opt.Convention != Keras && opt.Convention != PyTorch:
		return nil, fmt.Errorf("autodiff: unknown batch norm convention %d", opt.Convention)
	case !(opt.Momentum >= 0 && opt.Momentum <= 1):
		return nil, fmt.Errorf("autodiff: batch norm momentum %g is outside [0, 1]", opt.Momentum)
	case opt.Momentum == 0 && f.pytorch:
		f.momentum = 0.1
	case opt.Momentum == 0:
		f.momentum = 0.99
	}
	var out []*ir.Node
	dropouts := 0
	for _, n := range g.Nodes {
		res := n.Outputs[0]
		emit := func(op ir.Op, attrs ir.Attrs, in ...*ir.Value) (*ir.Value, error) {
			m, err := g.NewNode(op, attrs, in, n.Layer, n.Pos)
			if err != nil {
				return nil, fmt.Errorf("autodiff: training form of %s%s: %w", n.Op, layerOf(n), err)
			}
			out = append(out, m)
			return m.Outputs[0], nil
		}
		switch n.Op {
		case ir.OpBatchNorm:
			v, err := f.batchNorm(n, emit)
			if err != nil {
				return nil, err
			}
			g.ReplaceUses(res, v)
		case ir.OpDropout:
			rate := n.Attrs.(*ir.DropoutAttrs).Rate
			if rate == 0 {
				g.ReplaceUses(res, n.Inputs[0])
				continue
			}
			if f.Step == nil {
				if g.Param(StepParam) != nil {
					return nil, fmt.Errorf("autodiff: the graph already has a parameter %s", StepParam)
				}
				f.Step = g.AddParam(StepParam, ir.T(), ir.Init{Kind: ir.InitZeros}, false)
			}
			a := &ir.DropoutTrainAttrs{Rate: rate, Seed: int(opt.Seed + uint64(dropouts))}
			dropouts++
			v, err := emit(ir.OpDropoutTrain, a, n.Inputs[0], f.Step)
			if err != nil {
				return nil, err
			}
			g.ReplaceUses(res, v)
		default:
			out = append(out, n)
		}
	}
	g.Nodes = out
	return f, nil
}

// batchNorm emits the batch statistics of n's x and the batchnorm that
// normalises with them.
func (f *TrainingForm) batchNorm(n *ir.Node, emit func(ir.Op, ir.Attrs, ...*ir.Value) (*ir.Value, error)) (*ir.Value, error) {
	x := n.Inputs[0]
	s := x.Type.Shape
	count, ok := s[:len(s)-1].KnownProduct(0)
	if !ok {
		return nil, fmt.Errorf("autodiff: training form of batchnorm%s: %w", layerOf(n), errUnknown(s))
	}
	axes := make([]int, len(s)-1)
	for i := range axes {
		axes[i] = i
	}
	m, err := emit(ir.OpReduceMean, &ir.ReduceAttrs{Axes: axes}, x)
	if err != nil {
		return nil, err
	}
	v, err := emit(ir.OpBatchVariance, nil, x, m)
	if err != nil {
		return nil, err
	}
	f.BatchNorms = append(f.BatchNorms, BatchStats{Layer: n.Layer, Mean: m, Variance: v,
		MovingMean: n.Inputs[3], MovingVariance: n.Inputs[4], Count: count})
	return emit(ir.OpBatchNorm, n.Attrs, x, n.Inputs[1], n.Inputs[2], m, v)
}

// Updates appends to the graph the update of every running statistic and
// of the step counter, and returns them by parameter name, to merge with
// the optimiser's for plan.Train. Call it once, after Grad: an update must
// follow every read of its parameter, and the backward graph's dropouts
// read the step.
//
// Each running statistic p of a batch's b is updated as p - (p - b)·c, the
// first operand p as plan.Train requires, with c = 1-momentum (Keras) or
// momentum (PyTorch), and b the biased batch variance (Keras) or the
// unbiased one, v·n/(n-1) (PyTorch, or UnbiasedVariance; n = 1 keeps the
// biased one, which is 0, where PyTorch would divide by zero). The step's is step + 1.
func (f *TrainingForm) Updates() (map[string]*ir.Value, error) {
	if f.updated {
		return nil, fmt.Errorf("autodiff: the training form's updates are already in the graph")
	}
	f.updated = true
	b := &builder{g: f.g, prefix: "train"}
	c := 1 - f.momentum
	if f.pytorch {
		c = f.momentum
	}
	up := map[string]*ir.Value{}
	follow := func(p, batch *ir.Value) {
		up[p.Name] = b.sub(p, b.mul(b.sub(p, batch), b.scalar(c)))
	}
	for _, s := range f.BatchNorms {
		b.layer = s.Layer
		if s.MovingMean.Kind != ir.Param || s.MovingVariance.Kind != ir.Param {
			return nil, fmt.Errorf("autodiff: the running statistics of batchnorm %q are not parameters: give the graph its weights as parameters, not constants", s.Layer)
		}
		v := s.Variance
		if f.unbiased && s.Count > 1 {
			v = b.mul(v, b.scalar(float32(float64(s.Count)/float64(s.Count-1))))
		}
		follow(s.MovingMean, s.Mean)
		follow(s.MovingVariance, v)
	}
	if f.Step != nil {
		b.layer = ""
		up[f.Step.Name] = b.add(f.Step, b.scalar(1))
	}
	if b.err != nil {
		return nil, fmt.Errorf("autodiff: the training form's updates: %w", b.err)
	}
	return up, nil
}

// AddWeights gives w the initial values of the parameters TrainingMode
// added (the step counter, 0) unless w has them.
func (f *TrainingForm) AddWeights(w map[string]*tensor.Tensor) {
	if f.Step != nil && w[f.Step.Name] == nil {
		w[f.Step.Name] = tensor.New()
	}
}
