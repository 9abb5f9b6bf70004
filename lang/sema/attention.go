package sema

import (
	"fmt"

	"github.com/mdlc/mdlc/ir"
)

// The attention layers: scaled dot-product attention on given q, k and v,
// and multi-head attention with its projections, which lowers to dense
// layers, reshapes and transposes around one attention op, so that the
// passes and kernels see the heads as a batch axis.

var (
	maskSpec   = paramSpec{name: "mask", kind: aTensor, def: unset{}, doc: "none"}
	causalSpec = paramSpec{name: "causal", kind: aBool, def: false}
)

func buildAttention(b *builder, a *bound) (*ir.Value, error) {
	at := &ir.AttentionAttrs{Causal: a.bool("causal")}
	if a.has("scale") {
		at.Scale = float32(a.float("scale"))
		if at.Scale <= 0 {
			return nil, &ir.TypeError{Msg: "attention: scale must be positive", Help: "leave it out for the usual 1/sqrt(d_k)"}
		}
	}
	ins := []*ir.Value{a.tensor("q"), a.tensor("k"), a.tensor("v")}
	if a.has("mask") {
		ins = append(ins, a.tensor("mask"))
	}
	return b.node(ir.OpAttention, at, ins...)
}

// buildMultiHead: for x [N, Tq, d] and kv [N, Tk, d],
//
//	q, k, v = x·Wq + bq, kv·Wk + bk, kv·Wv + bv     each split into heads
//	o = attention(q, k, v) per head, heads joined    [N, Tq, d]
//	y = o·Wo + bo
//
// with the heads as an axis: [N, T, d] -> [N, T, h, d/h] -> [N, h, T, d/h].
// A mask broadcasts to the scores [N, h, Tq, Tk]. Packed, self-attention has
// one projection qkv [d, 3d] (PyTorch's in_proj), sliced into q, k and v.
func buildMultiHead(b *builder, a *bound) (*ir.Value, error) {
	x, heads := a.tensor("x"), a.int("heads")
	kv := x
	if a.has("kv") {
		kv = a.tensor("kv")
	}
	for _, t := range []*ir.Value{x, kv} {
		if t.Type.Shape.Rank() != 3 || !t.Type.Shape[2].Known() {
			return nil, &ir.TypeError{Msg: "multihead_attention expects (N, T, d_model) with d_model known, got " + t.Type.String()}
		}
	}
	d := x.Type.Shape[2].Size
	if kv.Type.Shape[2].Size != d {
		return nil, &ir.TypeError{Msg: fmt.Sprintf("multihead_attention: kv has %d features, x has %d", kv.Type.Shape[2].Size, d),
			Help: "project kv to d_model first, e.g. `kv | dense(" + itoa(d) + ")`"}
	}
	if d%heads != 0 {
		return nil, &ir.TypeError{Msg: fmt.Sprintf("multihead_attention: %d heads do not divide d_model %d", heads, d),
			Help: "choose heads among the divisors of " + itoa(d) + ": " + divisors(d)}
	}
	dh := d / heads
	project := func(name string, v *ir.Value, out int) (*ir.Value, error) {
		k := b.param(name+".kernel", ir.T(d, out), ir.Init{Kind: ir.InitGlorotUniform, FanIn: d, FanOut: out})
		ins := []*ir.Value{v, k}
		if a.bool("use_bias") {
			ins = append(ins, b.param(name+".bias", ir.T(out), ir.Init{Kind: ir.InitZeros}))
		}
		return b.node(ir.OpDense, nil, ins...)
	}
	split := func(v *ir.Value) (*ir.Value, error) {
		s := v.Type.Shape
		r, err := b.node(ir.OpReshape, &ir.ReshapeAttrs{Shape: ir.Shape{s[0], s[1], ir.D(heads), ir.D(dh)}}, v)
		if err != nil {
			return nil, err
		}
		return b.node(ir.OpTranspose, &ir.TransposeAttrs{Perm: []int{0, 2, 1, 3}}, r)
	}
	var qkv [3]*ir.Value
	if a.bool("packed") {
		if a.has("kv") {
			return nil, &ir.TypeError{Msg: "multihead_attention: packed projections are for self-attention", Help: "drop kv= or packed=true"}
		}
		p, err := project("qkv", x, 3*d)
		if err != nil {
			return nil, err
		}
		for i := range qkv {
			part, err := b.node(ir.OpSlice, &ir.SliceAttrs{Axis: 2, Start: i * d, End: (i + 1) * d}, p)
			if err != nil {
				return nil, err
			}
			if qkv[i], err = split(part); err != nil {
				return nil, err
			}
		}
	} else {
		for i, name := range []string{"q", "k", "v"} {
			src := kv
			if i == 0 {
				src = x
			}
			p, err := project(name, src, d)
			if err != nil {
				return nil, err
			}
			if qkv[i], err = split(p); err != nil {
				return nil, err
			}
		}
	}
	ins := qkv[:]
	if a.has("mask") {
		ins = append(ins, a.tensor("mask"))
	}
	o, err := b.node(ir.OpAttention, &ir.AttentionAttrs{Causal: a.bool("causal")}, ins...)
	if err != nil {
		return nil, err
	}
	if o, err = b.node(ir.OpTranspose, &ir.TransposeAttrs{Perm: []int{0, 2, 1, 3}}, o); err != nil {
		return nil, err
	}
	if o, err = b.node(ir.OpReshape, &ir.ReshapeAttrs{Shape: ir.Shape{x.Type.Shape[0], x.Type.Shape[1], ir.D(d)}}, o); err != nil {
		return nil, err
	}
	return project("out", o, d)
}

// divisors lists n's divisors, for a help message.
func divisors(n int) string {
	s := ""
	for i := 1; i <= n; i++ {
		if n%i == 0 {
			if s != "" {
				s += ", "
			}
			s += itoa(i)
		}
	}
	return s
}
