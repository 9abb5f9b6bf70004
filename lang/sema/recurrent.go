package sema

import (
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/nn"
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
		specs = append(specs, paramSpec{name: "activation", kind: aActivation, def: nn.Tanh})
	}
	return specs
}

func buildRecurrent(cell ir.Cell) func(*nn.Layer, *bound) (*ir.Value, error) {
	return func(l *nn.Layer, a *bound) (*ir.Value, error) {
		r := nn.Recurrent{Cell: cell, Units: a.int("units"), Sequences: a.bool("return_sequences"), Bidirectional: a.bool("bidirectional"),
			H0: a.optional("h0"), C0: a.optional("c0")}
		if a.has("activation") {
			r.Activation = a.activation("activation")
		}
		return r.Apply(l, a.tensor("x"))
	}
}
