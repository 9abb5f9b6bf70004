package nn

import (
	"cmp"

	"github.com/mdlc/mdlc/ir"
)

// BatchNorm normalises the last axis with running statistics (inference).
type BatchNorm struct {
	Epsilon float64
}

// Apply adds gamma (ones), beta (zeros) and the frozen moving_mean (zeros)
// and moving_variance (ones), Keras's names, each one value per feature.
func (n BatchNorm) Apply(l *Layer, x *ir.Value) (*ir.Value, error) {
	r := x.Type.Shape.Rank()
	if r < 2 || !x.Type.Shape[r-1].Known() {
		return nil, &ir.TypeError{Msg: "batchnorm expects at least (N, features) with known features, got " + x.Type.String()}
	}
	if n.Epsilon <= 0 {
		return nil, &ir.TypeError{Msg: "batchnorm: epsilon must be positive", Help: "Keras uses 0.001, PyTorch 1e-5"}
	}
	c := x.Type.Shape[r-1].Size
	gamma := l.Param("gamma", ir.T(c), ir.Init{Kind: ir.InitOnes})
	beta := l.Param("beta", ir.T(c), ir.Init{Kind: ir.InitZeros})
	mean := l.State("moving_mean", ir.T(c), ir.Init{Kind: ir.InitZeros})
	variance := l.State("moving_variance", ir.T(c), ir.Init{Kind: ir.InitOnes})
	return l.Node(ir.OpBatchNorm, &ir.BatchNormAttrs{Epsilon: float32(n.Epsilon)}, x, gamma, beta, mean, variance)
}

// LayerNorm normalises each row of the last axis, with learned gamma (ones)
// and beta (zeros).
type LayerNorm struct {
	Epsilon float64
}

// RMSNorm scales each row of the last axis by its root mean square, with
// learned gamma (ones).
type RMSNorm struct {
	Epsilon float64
}

// Apply adds the parameters and the layernorm op.
func (n LayerNorm) Apply(l *Layer, x *ir.Value) (*ir.Value, error) {
	return norm(l, x, ir.OpLayerNorm, n.Epsilon)
}

// Apply adds the parameter and the rmsnorm op.
func (n RMSNorm) Apply(l *Layer, x *ir.Value) (*ir.Value, error) {
	return norm(l, x, ir.OpRMSNorm, n.Epsilon)
}

func norm(l *Layer, x *ir.Value, op ir.Op, eps float64) (*ir.Value, error) {
	r := x.Type.Shape.Rank()
	name := op.String()
	if r < 1 || !x.Type.Shape[r-1].Known() {
		return nil, &ir.TypeError{Msg: name + " expects features on a last axis of known size, got " + x.Type.String(),
			Help: "its gamma has one value per feature: give the last axis a size, e.g. f32[N, T, 64]"}
	}
	if eps <= 0 {
		return nil, &ir.TypeError{Msg: name + ": epsilon must be positive", Help: "Keras uses 0.001, PyTorch 1e-5 (1e-6 for RMSNorm in most LLMs)"}
	}
	c := x.Type.Shape[r-1].Size
	in := []*ir.Value{x, l.Param("gamma", ir.T(c), ir.Init{Kind: ir.InitOnes})}
	if op == ir.OpLayerNorm {
		in = append(in, l.Param("beta", ir.T(c), ir.Init{Kind: ir.InitZeros}))
	}
	return l.Node(op, &ir.NormAttrs{Epsilon: float32(eps)}, in...)
}

// Embedding maps token ids (i32 or i64, any shape) to rows of a learned
// table [Vocab, Dim].
type Embedding struct {
	Vocab, Dim int
}

// Apply adds the table, Keras's `embeddings`, initialised as Keras does,
// U(-0.05, 0.05), and the lookup.
func (e Embedding) Apply(l *Layer, ids *ir.Value) (*ir.Value, error) {
	if err := cmp.Or(positive("embedding", "vocab", e.Vocab), positive("embedding", "dim", e.Dim)); err != nil {
		return nil, err
	}
	table := l.Param("embeddings", ir.T(e.Vocab, e.Dim), ir.Init{Kind: ir.InitUniform, Limit: 0.05})
	return l.Node(ir.OpEmbedding, nil, ids, table)
}

// Positional adds a positional encoding to (N, T, d_model): sinusoidal, for
// any T, or Learned, a parameter per position for up to MaxLen positions
// (0: T, which must then be known).
type Positional struct {
	Learned bool
	MaxLen  int
}

// Apply adds the sinusoid op (ir.Sinusoid), or the first T rows of a
// parameter `positions` [max_len, d_model].
func (p Positional) Apply(l *Layer, x *ir.Value) (*ir.Value, error) {
	if p.MaxLen < 0 {
		return nil, positive("positional", "max_len", p.MaxLen)
	}
	if !p.Learned {
		if p.MaxLen != 0 {
			return nil, &ir.TypeError{Msg: "positional: max_len is the size of a learned table", Help: "write positional(learned=true, max_len=...), or drop max_len: the sinusoidal encoding has no limit"}
		}
		return l.Node(ir.OpPositional, nil, x)
	}
	s := x.Type.Shape
	if s.Rank() != 3 || !s[2].Known() {
		return nil, &ir.TypeError{Msg: "positional(learned=true) needs (N, T, d_model) with d_model known, got " + x.Type.String()}
	}
	rows := s[1].Size
	switch {
	case p.MaxLen != 0:
		rows = p.MaxLen
	case !s[1].Known():
		return nil, &ir.TypeError{Msg: "positional(learned=true) on " + x.Type.String() + " needs the number of positions it learns",
			Help: "give max_len=... (sequences up to that length), a size for T, or use the sinusoidal encoding"}
	}
	// Small random values, as BERT and GPT-2 initialise theirs.
	pos := l.Param("positions", ir.T(rows, s[2].Size), ir.Init{Kind: ir.InitGlorotUniform, FanIn: rows, FanOut: s[2].Size})
	return l.Node(ir.OpPositional, nil, x, pos)
}
