package nn

import (
	"fmt"
	"strings"

	"github.com/mdlc/mdlc/ir"
)

// Attention is scaled dot-product attention softmax(q·kᵀ·scale + mask)·v
// over the last two axes.
type Attention struct {
	// Mask, if not nil, is added to the scores.
	Mask   *ir.Value
	Causal bool
	// Scale, if not nil, replaces 1/sqrt(d_k); it must be positive.
	Scale *float32
}

// Apply adds the attention op on q, k and v.
func (a Attention) Apply(l *Layer, q, k, v *ir.Value) (*ir.Value, error) {
	at := &ir.AttentionAttrs{Causal: a.Causal}
	if a.Scale != nil {
		if !(*a.Scale > 0) {
			return nil, &ir.TypeError{Msg: "attention: scale must be positive", Help: "leave it out for the usual 1/sqrt(d_k)"}
		}
		at.Scale = *a.Scale
	}
	ins := []*ir.Value{q, k, v}
	if a.Mask != nil {
		ins = append(ins, a.Mask)
	}
	return l.Node(ir.OpAttention, at, ins...)
}

// MultiHeadAttention is attention of x over KV (nil: x itself) with Heads
// heads and the q, k, v and output projections.
type MultiHeadAttention struct {
	Heads int
	KV    *ir.Value
	// Mask broadcasts to the scores [N, heads, Tq, Tk].
	Mask    *ir.Value
	Causal  bool
	UseBias bool
	// Packed self-attention has one projection qkv [d, 3d] (PyTorch's
	// in_proj) instead of q, k and v.
	Packed bool
}

// Apply lowers the layer to dense layers, reshapes and transposes around one
// attention op, so that the passes and kernels see the heads as a batch
// axis. For x [N, Tq, d] and kv [N, Tk, d],
//
//	q, k, v = x·Wq + bq, kv·Wk + bk, kv·Wv + bv     each split into heads
//	o = attention(q, k, v) per head, heads joined    [N, Tq, d]
//	y = o·Wo + bo
//
// with the heads as an axis: [N, T, d] -> [N, T, h, d/h] -> [N, h, T, d/h].
// The parameters are q, k, v (or qkv) and out, each with kernel and bias.
func (m MultiHeadAttention) Apply(l *Layer, x *ir.Value) (*ir.Value, error) {
	if err := positive("multihead_attention", "heads", m.Heads); err != nil {
		return nil, err
	}
	kv := x
	if m.KV != nil {
		kv = m.KV
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
	if d%m.Heads != 0 {
		return nil, &ir.TypeError{Msg: fmt.Sprintf("multihead_attention: %d heads do not divide d_model %d", m.Heads, d),
			Help: "choose heads among the divisors of " + itoa(d) + ": " + divisors(d)}
	}
	dh := d / m.Heads
	project := func(name string, v *ir.Value, out int) (*ir.Value, error) {
		k := l.Param(name+".kernel", ir.T(d, out), ir.Init{Kind: ir.InitGlorotUniform, FanIn: d, FanOut: out})
		ins := []*ir.Value{v, k}
		if m.UseBias {
			ins = append(ins, l.Param(name+".bias", ir.T(out), ir.Init{Kind: ir.InitZeros}))
		}
		return l.Node(ir.OpDense, nil, ins...)
	}
	split := func(v *ir.Value) (*ir.Value, error) {
		s := v.Type.Shape
		r, err := l.Node(ir.OpReshape, &ir.ReshapeAttrs{Shape: ir.Shape{s[0], s[1], ir.D(m.Heads), ir.D(dh)}}, v)
		if err != nil {
			return nil, err
		}
		return l.Node(ir.OpTranspose, &ir.TransposeAttrs{Perm: []int{0, 2, 1, 3}}, r)
	}
	var qkv [3]*ir.Value
	if m.Packed {
		if m.KV != nil {
			return nil, &ir.TypeError{Msg: "multihead_attention: packed projections are for self-attention", Help: "drop kv= or packed=true"}
		}
		p, err := project("qkv", x, 3*d)
		if err != nil {
			return nil, err
		}
		for i := range qkv {
			part, err := l.Node(ir.OpSlice, &ir.SliceAttrs{Axis: 2, Start: i * d, End: (i + 1) * d}, p)
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
	o, err := Attention{Mask: m.Mask, Causal: m.Causal}.Apply(l, qkv[0], qkv[1], qkv[2])
	if err != nil {
		return nil, err
	}
	if o, err = l.Node(ir.OpTranspose, &ir.TransposeAttrs{Perm: []int{0, 2, 1, 3}}, o); err != nil {
		return nil, err
	}
	if o, err = l.Node(ir.OpReshape, &ir.ReshapeAttrs{Shape: ir.Shape{x.Type.Shape[0], x.Type.Shape[1], ir.D(d)}}, o); err != nil {
		return nil, err
	}
	return project("out", o, d)
}

// divisors lists n's divisors, for a help message.
func divisors(n int) string {
	var s []string
	for i := 1; i <= n; i++ {
		if n%i == 0 {
			s = append(s, itoa(i))
		}
	}
	return strings.Join(s, ", ")
}
