package nn

import (
	"fmt"

	"github.com/mdlc/mdlc/ir"
)

// Recurrent is a simple RNN, LSTM or GRU layer over batch-first sequences
// (N, T, features).
type Recurrent struct {
	Cell  ir.Cell
	Units int
	// Sequences returns h at every step [N, T, H] (Keras's
	// return_sequences), else the last h [N, H].
	Sequences     bool
	Bidirectional bool
	// H0 and C0 (an LSTM's, given with H0) are the initial states [N, H];
	// nil for zeros.
	H0, C0 *ir.Value
	// Activation of a simple RNN: Tanh or Relu.
	Activation Activation
}

// cellLayer is the layer name of a cell, the name its errors use.
func cellLayer(c ir.Cell) string {
	return map[ir.Cell]string{ir.CellRNN: "simple_rnn", ir.CellLSTM: "lstm", ir.CellGRU: "gru"}[c]
}

// Apply lowers the layer on x [N, T, features]: the input projection of
// every step is one dense layer (kernel [features, G·H] and bias), the loop
// one recurrent op with the recurrent kernel [H, G·H] and its own bias, as
// PyTorch keeps two biases (they differ for a GRU's n gate). A
// bidirectional layer runs a second loop backwards in time (parameters
// under reverse.) and joins both on the feature axis.
func (r Recurrent) Apply(l *Layer, x *ir.Value) (*ir.Value, error) {
	name := cellLayer(r.Cell)
	if name == "" {
		return nil, &ir.TypeError{Msg: fmt.Sprintf("recurrent layer with unknown cell %d", r.Cell)}
	}
	if err := positive(name, "units", r.Units); err != nil {
		return nil, err
	}
	s := x.Type.Shape
	if s.Rank() != 3 || !s[2].Known() {
		return nil, &ir.TypeError{Msg: fmt.Sprintf("%s expects sequences (N, T, features) with features known, got %s", name, x.Type),
			Help: "batch first, as Keras and PyTorch's batch_first=True"}
	}
	at := ir.RecurrentAttrs{Cell: r.Cell, Sequences: r.Sequences}
	if r.Cell == ir.CellRNN {
		switch r.Activation {
		case Tanh:
		case Relu:
			at.Relu = true
		default:
			return nil, &ir.TypeError{Msg: "simple_rnn: activation must be tanh or relu, got " + r.Activation.String()}
		}
	}
	var states []*ir.Value
	for _, st := range []*ir.Value{r.H0, r.C0} {
		if st != nil {
			states = append(states, st)
		}
	}
	if len(states) == 1 && r.Cell == ir.CellLSTM {
		return nil, &ir.TypeError{Msg: "lstm: give both initial states h0 and c0, or neither"}
	}
	if r.Bidirectional && len(states) > 0 {
		return nil, &ir.TypeError{Msg: name + ": initial states are for one direction", Help: "drop h0/c0 or bidirectional"}
	}
	features, gh := s[2].Size, r.Cell.Gates()*r.Units
	loop := func(prefix string, reverse bool) (*ir.Value, error) {
		k := l.Param(prefix+"kernel", ir.T(features, gh), ir.Init{Kind: ir.InitGlorotUniform, FanIn: features, FanOut: gh})
		bias := l.Param(prefix+"bias", ir.T(gh), ir.Init{Kind: ir.InitZeros})
		u := l.Param(prefix+"recurrent_kernel", ir.T(r.Units, gh), ir.Init{Kind: ir.InitGlorotUniform, FanIn: r.Units, FanOut: gh})
		bu := l.Param(prefix+"recurrent_bias", ir.T(gh), ir.Init{Kind: ir.InitZeros})
		xw, err := l.Node(ir.OpDense, nil, x, k, bias)
		if err != nil {
			return nil, err
		}
		ra := at
		ra.Reverse = reverse
		return l.Node(ir.OpRecurrent, &ra, append([]*ir.Value{xw, u, bu}, states...)...)
	}
	fwd, err := loop("", false)
	if err != nil || !r.Bidirectional {
		return fwd, err
	}
	bwd, err := loop("reverse.", true)
	if err != nil {
		return nil, err
	}
	return l.Node(ir.OpConcat, &ir.AxisAttrs{Axis: fwd.Type.Shape.Rank() - 1}, fwd, bwd)
}
