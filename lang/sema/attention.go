package sema

import (
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/nn"
)

// The attention layers: scaled dot-product attention on given q, k and v,
// and multi-head attention with its projections (nn.MultiHeadAttention).

var (
	maskSpec   = paramSpec{name: "mask", kind: aTensor, def: unset{}, doc: "none"}
	causalSpec = paramSpec{name: "causal", kind: aBool, def: false}
)

func buildAttention(l *nn.Layer, a *bound) (*ir.Value, error) {
	at := nn.Attention{Mask: a.optional("mask"), Causal: a.bool("causal")}
	if a.has("scale") {
		scale := float32(a.float("scale"))
		at.Scale = &scale
	}
	return at.Apply(l, a.tensor("q"), a.tensor("k"), a.tensor("v"))
}

func buildMultiHead(l *nn.Layer, a *bound) (*ir.Value, error) {
	return nn.MultiHeadAttention{Heads: a.int("heads"), KV: a.optional("kv"), Mask: a.optional("mask"), Causal: a.bool("causal"),
		UseBias: a.bool("use_bias"), Packed: a.bool("packed")}.Apply(l, a.tensor("x"))
}
