package ir

import (
	"fmt"
	"strings"
)

// Step is one elementwise operation of a fused chain, applied to a running
// value v: a unary op computes op(v); a binary op computes op(v, in[Operand]),
// or op(in[Operand], v) when Swapped. Operand indexes the fused node's inputs.
type Step struct {
	Op      Op
	Attrs   Attrs
	Operand int
	Swapped bool
}

// Chain is a sequence of elementwise steps. A fused node runs it on each
// element as soon as the element is computed, so the intermediate tensors of
// the unfused ops never exist.
type Chain []Step

func (s Step) String() string {
	var b strings.Builder
	b.WriteString(s.Op.String())
	if s.Op.Info().MinInputs == 2 {
		if s.Swapped {
			fmt.Fprintf(&b, "(in%d, v)", s.Operand)
		} else {
			fmt.Fprintf(&b, "(v, in%d)", s.Operand)
		}
	}
	if s.Attrs != nil {
		fmt.Fprintf(&b, "{%s}", s.Attrs)
	}
	return b.String()
}

func (c Chain) String() string {
	parts := make([]string, len(c))
	for i, s := range c {
		parts[i] = s.String()
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// Fusable reports whether op can be a step of a chain: elementwise with one or
// two operands.
func Fusable(op Op) bool {
	info := op.Info()
	return info.Elementwise && info.MaxInputs <= 2 && op != OpDropout
}

// apply infers the type after the chain, starting from t. Operands of binary
// steps must broadcast into t without growing it when grow is false.
func (c Chain) apply(t Type, in []Type, grow bool) (Type, error) {
	for i, s := range c {
		if !Fusable(s.Op) || !s.Op.attrsMatch(s.Attrs) {
			return Type{}, typeErr("", "chain step %d: %s cannot be fused here", i, s)
		}
		if s.Op.Info().MinInputs == 1 {
			continue
		}
		if s.Operand < 0 || s.Operand >= len(in) {
			return Type{}, typeErr("", "chain step %d: operand in%d does not exist", i, s.Operand)
		}
		o := in[s.Operand]
		shape, ok := broadcastShapes(t.Shape, o.Shape)
		if !ok || o.DType != t.DType || (!grow && !shape.Equal(t.Shape)) {
			return Type{}, typeErr("", "chain step %d: operand %s does not broadcast into %s", i, o, t)
		}
		t.Shape = shape
	}
	return t, nil
}

// FusedConvAttrs: conv2d, then the epilogue on each output element, then, if
// Pool is set, max pooling — computed tile by tile so the full conv output
// is never stored.
type FusedConvAttrs struct {
	Conv     ConvAttrs
	Epilogue Chain
	Pool     *Window2D
}

func (a *FusedConvAttrs) String() string {
	s := a.Conv.String() + " epilogue=" + a.Epilogue.String()
	if a.Pool != nil {
		s += " maxpool={" + strings.Join(a.Pool.fields(), " ") + "}"
	}
	return s
}

// FusedMatMulAttrs: matmul, then the epilogue on each output element.
type FusedMatMulAttrs struct {
	MatMul   MatMulAttrs
	Epilogue Chain
}

func (a *FusedMatMulAttrs) String() string {
	return a.MatMul.String() + " epilogue=" + a.Epilogue.String()
}

// ElementwiseAttrs: the chain applied to input 0.
type ElementwiseAttrs struct {
	Chain Chain
}

func (a *ElementwiseAttrs) String() string { return "chain=" + a.Chain.String() }

func inferFusedConv(a Attrs, in []Type) (Type, error) {
	at := a.(*FusedConvAttrs)
	conv := &at.Conv
	t, err := inferConv2D(conv, in[:2])
	if err != nil {
		return Type{}, err
	}
	if t, err = at.Epilogue.apply(t, in, false); err != nil {
		return Type{}, err
	}
	if at.Pool == nil {
		return t, nil
	}
	return inferPool(&PoolAttrs{Window2D: *at.Pool}, []Type{t})
}

func inferFusedMatMul(a Attrs, in []Type) (Type, error) {
	at := a.(*FusedMatMulAttrs)
	t, err := inferMatMul(&at.MatMul, in[:2])
	if err != nil {
		return Type{}, err
	}
	return at.Epilogue.apply(t, in, false)
}

func inferElementwise(a Attrs, in []Type) (Type, error) {
	return a.(*ElementwiseAttrs).Chain.apply(in[0], in, true)
}

func flopsChain(c Chain, elems count) count {
	f := of(0)
	for _, s := range c {
		f = f.plus(elems.times(of(stepFlops[s.Op])))
	}
	return f
}

// stepFlops are the per-element costs the unfused ops count.
var stepFlops = map[Op]int64{
	OpAdd: 1, OpSub: 1, OpMul: 1, OpDiv: 1, OpMinimum: 1, OpMaximum: 1,
	OpRelu: 1, OpLeakyRelu: 2, OpSigmoid: 4, OpTanh: 4, OpGelu: 8,
	OpClip: 2, OpElu: 4, OpSelu: 5, OpSilu: 4, OpHardSigmoid: 3, OpHardSwish: 4, OpMish: 8, OpSoftplus: 6,
	OpSoftsign: 3, OpExp: 4, OpLog: 4, OpSqrt: 1, OpRsqrt: 2, OpAbs: 1, OpNeg: 1, OpPow: 8, OpErf: 8,
}

func flopsFusedConv(n *Node) count {
	a := n.Attrs.(*FusedConvAttrs)
	convOut := n.Outputs[0].Type.Shape
	if a.Pool != nil {
		t, _ := inferConv2D(&a.Conv, []Type{n.Inputs[0].Type, n.Inputs[1].Type})
		convOut = t.Shape
	}
	out := elems(convOut)
	f := of(2).times(out).times(elems(n.Inputs[1].Type.Shape[:3]))
	f = f.plus(flopsChain(a.Epilogue, out))
	if a.Pool != nil {
		f = f.plus(elems(n.Outputs[0].Type.Shape).times(of(int64(a.Pool.Size[0]))).times(of(int64(a.Pool.Size[1]))))
	}
	return f
}

func flopsFusedMatMul(n *Node) count {
	a := n.Attrs.(*FusedMatMulAttrs)
	s := n.Inputs[0].Type.Shape
	k := s[len(s)-1]
	if a.MatMul.TransA {
		k = s[len(s)-2]
	}
	out := elems(n.Outputs[0].Type.Shape)
	return of(2).times(out).times(elems(Shape{k})).plus(flopsChain(a.Epilogue, out))
}

func flopsElementwise(n *Node) count {
	return flopsChain(n.Attrs.(*ElementwiseAttrs).Chain, elems(n.Outputs[0].Type.Shape))
}
