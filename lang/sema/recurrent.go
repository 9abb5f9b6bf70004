package sema

import (
	"fmt"

	"github.com/mdlc/mdlc/ir"
)

// recurrentSpecs are the arguments of simple_rnn, lstm and gru; simple_rnn
// adds activation.
func recurrentSpecs(cell ir.Cell) []paramSpec {
	specs := []paramSpec{input, {name: "units", kind: aInt},
		{name: "return_sequences", kind: aBool, def: false},
		{name: "bidirectional", kind: aBool, def: false},
		{name: "h0", kind: aTensor, def: unset{}, doc: "zeros"}}
	if cell == ir.CellLSTM {
		specs = append(specs, paramSpec{name: "c0", kind: aTensor, def: unset{}, doc: "zeros"})
	}
	if cell == ir.CellRNN {
		specs = append(specs, paramSpec{name: "activation", kind: aActivation, def: activations[4]})
	}
	return specs
}

// buildRecurrent lowers a recurrent layer on x [N, T, features]: the input
// projection of every step is one dense layer (kernel [features, G·H] and
// bias), the loop one recurrent op with the recurrent kernel [H, G·H] and
// its own bias, as PyTorch keeps two biases (they differ for a GRU's n gate).
// A bidirectional layer runs a second loop backwards in time (parameters
// under reverse.) and joins both on the feature axis.
func buildRecurrent(cell ir.Cell) func(*builder, *bound) (*ir.Value, error) {
	return func(b *builder, a *bound) (*ir.Value, error) {
		x, units := a.tensor("x"), a.int("units")
		s := x.Type.Shape
		if s.Rank() != 3 || !s[2].Known() {
			return nil, &ir.TypeError{Msg: fmt.Sprintf("%s expects sequences (N, T, features) with features known, got %s", cellLayer(cell), x.Type),
				Help: "batch first, as Keras and PyTorch's batch_first=True"}
		}
		at := ir.RecurrentAttrs{Cell: cell, Sequences: a.bool("return_sequences")}
		if cell == ir.CellRNN {
			switch act := a.activation("activation"); act.op {
			case ir.OpTanh:
			case ir.OpRelu:
				at.Relu = true
			default:
				return nil, &ir.TypeError{Msg: "simple_rnn: activation must be tanh or relu, got " + act.name}
			}
		}
		var states []*ir.Value
		for _, name := range []string{"h0", "c0"} {
			if a.has(name) {
				states = append(states, a.tensor(name))
			}
		}
		if len(states) == 1 && cell == ir.CellLSTM {
			return nil, &ir.TypeError{Msg: "lstm: give both initial states h0 and c0, or neither"}
		}
		bidi := a.bool("bidirectional")
		if bidi && len(states) > 0 {
			return nil, &ir.TypeError{Msg: cellLayer(cell) + ": initial states are for one direction", Help: "drop h0/c0 or bidirectional"}
		}
		features, gh := s[2].Size, cell.Gates()*units
		loop := func(prefix string, reverse bool) (*ir.Value, error) {
			k := b.param(prefix+"kernel", ir.T(features, gh), ir.Init{Kind: ir.InitGlorotUniform, FanIn: features, FanOut: gh})
			bias := b.param(prefix+"bias", ir.T(gh), ir.Init{Kind: ir.InitZeros})
			u := b.param(prefix+"recurrent_kernel", ir.T(units, gh), ir.Init{Kind: ir.InitGlorotUniform, FanIn: units, FanOut: gh})
			bu := b.param(prefix+"recurrent_bias", ir.T(gh), ir.Init{Kind: ir.InitZeros})
			xw, err := b.node(ir.OpDense, nil, x, k, bias)
			if err != nil {
				return nil, err
			}
			ra := at
			ra.Reverse = reverse
			return b.node(ir.OpRecurrent, &ra, append([]*ir.Value{xw, u, bu}, states...)...)
		}
		fwd, err := loop("", false)
		if err != nil || !bidi {
			return fwd, err
		}
		bwd, err := loop("reverse.", true)
		if err != nil {
			return nil, err
		}
		return b.node(ir.OpConcat, &ir.AxisAttrs{Axis: fwd.Type.Shape.Rank() - 1}, fwd, bwd)
	}
}

// cellLayer is the layer name of a cell.
func cellLayer(c ir.Cell) string {
	return map[ir.Cell]string{ir.CellRNN: "simple_rnn", ir.CellLSTM: "lstm", ir.CellGRU: "gru"}[c]
}
