package ir

import "slices"

// The backward ops: what package autodiff emits where composing forward ops
// would be slow or memory-hungry. Each takes the gradient of a forward op's
// result (dy) and returns the gradient of one of its operands.

// UnaryGradAttrs name the unary elementwise function Fn (a chain step of one
// operand, with its attributes) whose derivative unary_grad applies:
// dx = dy·Fn'(x). With Output (from=output), unary_grad's first operand is
// Fn's result y = Fn(x), not x, for the functions whose derivative y
// determines (FromOutput): the forward pass then keeps only y, and the
// function can fuse into the op before it.
type UnaryGradAttrs struct {
	Fn     Step
	Output bool
}

func (a *UnaryGradAttrs) String() string {
	if a.Output {
		return "fn=" + a.Fn.String() + " from=output"
	}
	return "fn=" + a.Fn.String()
}

func (*UnaryGradAttrs) parseAttrs(p *parser) (Attrs, error) {
	a := &UnaryGradAttrs{}
	return a, p.fields(req("fn", func(p *parser) (err error) {
		a.Fn, err = p.step()
		return err
	}), opt("from", boolVal(&a.Output, "output", "input")))
}

// FromOutput reports whether op's derivative is a function of its result y
// alone, so that unary_grad may read y:
//
//	relu'    = 1 if y > 0, else 0 (y > 0 exactly when x > 0)
//	tanh'    = 1 − y²
//	sigmoid' = y·(1 − y)
func FromOutput(op Op) bool { return op == OpRelu || op == OpTanh || op == OpSigmoid }

// ConvGradAttrs are a convolution's attributes and the shape of the operand
// whose gradient is computed (the input x, or the kernel), which dy alone
// does not determine when the stride is above 1.
type ConvGradAttrs struct {
	Conv  ConvAttrs
	Shape Shape
}

func (a *ConvGradAttrs) String() string { return a.Conv.String() + " shape=" + a.Shape.String() }

func (*ConvGradAttrs) parseAttrs(p *parser) (Attrs, error) {
	a := &ConvGradAttrs{}
	return a, a.Conv.parse(p, req("shape", shapeVal(&a.Shape)))
}

func (a *ConvGradAttrs) bind(bound func(Shape) Shape) Attrs {
	return &ConvGradAttrs{Conv: a.Conv, Shape: bound(a.Shape)}
}

// PoolGradAttrs are a pool's attributes and the shape of its input.
type PoolGradAttrs struct {
	Pool  PoolAttrs
	Shape Shape
}

func (a *PoolGradAttrs) String() string { return a.Pool.String() + " shape=" + a.Shape.String() }

func (*PoolGradAttrs) parseAttrs(p *parser) (Attrs, error) {
	a := &PoolGradAttrs{}
	return a, a.Pool.Window2D.parseWindow(p, true, opt("count_pad", boolVal(&a.Pool.CountPad, "true", "false")),
		req("shape", shapeVal(&a.Shape)))
}

func (a *PoolGradAttrs) bind(bound func(Shape) Shape) Attrs {
	return &PoolGradAttrs{Pool: a.Pool, Shape: bound(a.Shape)}
}

// checkGrad checks that dy has the type the forward op gives for operands of
// types fwd (infer is its rule): a backward op's operands are then as consistent as a forward op's.
func checkGrad(op string, infer func(Attrs, []Type) (Type, error), attrs Attrs, fwd []Type, dy Type) error {
	y, err := infer(attrs, fwd)
	if err != nil {
		return err
	}
	if !y.Shape.Equal(dy.Shape) {
		return typeErr("the gradient has the shape of the forward op's result", "%s gradient: dy is %s, the result is %s", op, dy, y)
	}
	return nil
}

// inferUnaryGrad: (x, dy) of the same shape give dx of that shape.
func inferUnaryGrad(a Attrs, in []Type) (Type, error) {
	fn := a.(*UnaryGradAttrs).Fn
	if !Fusable(fn.Op) || fn.Op.Info().MaxInputs != 1 || !fn.Op.attrsMatch(fn.Attrs) {
		return Type{}, typeErr("", "unary_grad: %s is not a unary elementwise function", fn)
	}
	if a.(*UnaryGradAttrs).Output && !FromOutput(fn.Op) {
		return Type{}, typeErr("relu, tanh and sigmoid have derivatives their result determines", "unary_grad: %s's derivative is not a function of its result (from=output)", fn)
	}
	if !in[0].Shape.Equal(in[1].Shape) {
		return Type{}, typeErr("", "unary_grad: x %s and dy %s differ in shape", in[0], in[1])
	}
	return in[0], nil
}

// inferSumTo: x summed over the axes where the target shape (NumPy
// broadcasting, aligned at the right) has 1 or nothing, so the result
// broadcasts back to x.
func inferSumTo(a Attrs, in []Type) (Type, error) {
	x, to := in[0], a.(*ReshapeAttrs).Shape
	if b, ok := broadcastShapes(to, x.Shape); !ok || !b.Equal(x.Shape) {
		return Type{}, typeErr("the target must broadcast to the operand", "cannot sum %s to %s", x, to)
	}
	return Type{DType: x.DType, Shape: slices.Clone(to)}, nil
}

// inferConv2DGradInput: (dy, kernel) give dx of the attributes' shape.
func inferConv2DGradInput(a Attrs, in []Type) (Type, error) {
	at := a.(*ConvGradAttrs)
	x := Type{DType: F32, Shape: at.Shape}
	if err := checkGrad("conv2d", inferConv2D, &at.Conv, []Type{x, in[1]}, in[0]); err != nil {
		return Type{}, err
	}
	return x, nil
}

// inferConv2DGradFilter: (x, dy) give dkernel of the attributes' shape.
func inferConv2DGradFilter(a Attrs, in []Type) (Type, error) {
	at := a.(*ConvGradAttrs)
	k := Type{DType: F32, Shape: at.Shape}
	if err := checkGrad("conv2d", inferConv2D, &at.Conv, []Type{in[0], k}, in[1]); err != nil {
		return Type{}, err
	}
	return k, nil
}

// inferMaxPoolGrad: (x, dy) give dx.
func inferMaxPoolGrad(a Attrs, in []Type) (Type, error) {
	if err := checkGrad("maxpool2d", inferPool, a, in[:1], in[1]); err != nil {
		return Type{}, err
	}
	return in[0], nil
}

// inferAvgPoolGrad: dy gives dx of the attributes' shape.
func inferAvgPoolGrad(a Attrs, in []Type) (Type, error) {
	at := a.(*PoolGradAttrs)
	x := Type{DType: F32, Shape: at.Shape}
	if err := checkGrad("avgpool2d", inferPool, &at.Pool, []Type{x}, in[0]); err != nil {
		return Type{}, err
	}
	return x, nil
}

// inferEmbeddingGrad: (ids, dy) give dtable of the attributes' shape.
func inferEmbeddingGrad(a Attrs, in []Type) (Type, error) {
	table := Type{DType: F32, Shape: a.(*ReshapeAttrs).Shape}
	if err := checkGrad("embedding", inferEmbedding, nil, []Type{in[0], table}, in[1]); err != nil {
		return Type{}, err
	}
	return table, nil
}

// inferGatherGrad: gather_grad(indices [B, I], dy [B, P, I, R]) gives dx of
// the attributes' shape [B, P, S, R]: gather's operands viewed with its batch
// axes, the axes before the gathered one, the gathered one and those after it
// each flattened into one (package autodiff reshapes them so).
func inferGatherGrad(a Attrs, in []Type) (Type, error) {
	x, idx, dy := a.(*ReshapeAttrs).Shape, in[0], in[1]
	if x.Rank() != 4 || idx.Shape.Rank() != 2 || dy.Shape.Rank() != 4 {
		return Type{}, typeErr("gather_grad works on gather viewed as x [B, P, S, R], indices [B, I]",
			"gather_grad: indices %s, dy %s and shape %s: want ranks 2, 4 and 4", idx, dy, x)
	}
	want := Shape{x[0], x[1], idx.Shape[1], x[3]}
	if idx.DType != F32 || idx.Shape[0] != x[0] || !dy.Shape.Equal(want) {
		return Type{}, typeErr("the gradient has the shape of gather's result",
			"gather_grad: indices %s and dy %s do not fit x %s: dy must be %s", idx, dy, x, want)
	}
	return Type{DType: F32, Shape: slices.Clone(x)}, nil
}

// recurrent_grad (xw, u, bu[, h0[, c0]], dy), with the recurrent op's
// attributes, is backpropagation through time over recurrent's loop. Its
// result is d xw [N, T, G·H], the gradient of every step's gate
// pre-activations (xw enters each of them as a plain term, a GRU's n gate
// included, so the two are one); with h0 it has a row more per sequence,
// [N, T+1, G·H], whose row T holds d h0 in columns 0..H-1 and, for an LSTM,
// d c0 in H..2H-1 (zero elsewhere): an IR node has one result, and these
// come out of the same loop as d xw, so packing them spares running it
// twice. dy is the gradient of recurrent's result: every step's h, or the
// last one's. The weights' gradients are not in it: d u = Σ over steps of
// h_prevᵀ·d(h_prev·U + bu) and d bu = Σ d(h_prev·U + bu) are one large
// matrix product each over all N·T steps, which package autodiff writes as
// matmul and sum_to, where they run on the GEMM.
//
// The kernel recomputes the forward loop's gates and states into scratch,
// O(T·(G+3)·H) floats per sequence, rather than have recurrent save them:
// the inference forward stays one untouched, fast op that keeps only h and
// c, and a training graph pays for the recomputation, about a third of the
// backward pass's work.
func inferRecurrentGrad(a Attrs, in []Type) (Type, error) {
	fwd, dy := in[:len(in)-1], in[len(in)-1]
	if err := checkGrad("recurrent", inferRecurrent, a, fwd, dy); err != nil {
		return Type{}, err
	}
	out := slices.Clone(fwd[0].Shape)
	if len(fwd) > 3 {
		if !out[1].Known() {
			return Type{}, typeErr("specialise the graph for its sizes first", "recurrent_grad with an initial state needs a known number of steps, got %s", fwd[0])
		}
		out[1] = D(out[1].Size + 1)
	}
	return Type{DType: F32, Shape: out}, nil
}

// flopsRecurrentGrad: the forward loop again, then per step d·Uᵀ, 2·H·G·H,
// and about 12 per gate element.
func flopsRecurrentGrad(n *Node) count {
	xw, u := n.Inputs[0].Type.Shape, n.Inputs[1].Type.Shape
	perStep := of(2).times(elems(u)).plus(of(12).times(elems(u[1:])))
	return flopsRecurrent(n).plus(elems(xw[:2]).times(perStep))
}

// attention_grad (q, k, v[, mask], dy), with the attention op's
// attributes, is the gradient of attention's operands q, k and v given dy,
// the gradient of its result. With s = q·kᵀ·scale + mask (+ the causal
// mask), p = softmax(s) per row and out = p·v:
//
//	dv = pᵀ·dy     dp = dy·vᵀ     ds = p⊙(dp - D), D_i = Σ_j p_ij·dp_ij = dy_i·out_i
//	dq = ds·k·scale     dk = dsᵀ·q·scale
//
// An IR node has one result, and the three come out of the same loop (the
// p and ds that give dq give dk and dv too), so they are packed: per
// matrix of the leading axes, dq [Tq, dk], dk [Tk, dk] and dv [Tk, dv],
// row-major, one after the other, so the result is [B..., Tq·dk + Tk·dk +
// Tk·dv]; package autodiff slices them apart. Its kernel recomputes p a band
// of query rows at a time, so memory stays linear in T: no [.., Tq, Tk]
// tensor lives between the forward and backward passes or within the
// backward one. It does not read attention's result: D is Σ_j p·dp over the
// band's rows, so the forward's out need not stay alive for it. The mask
// gets no gradient here: one that needs it has a [.., Tq, Tk] gradient, ds
// summed to its shape, which package autodiff composes from forward ops.
func inferAttentionGrad(a Attrs, in []Type) (Type, error) {
	fwd, dy := in[:len(in)-1], in[len(in)-1]
	if err := checkGrad("attention", inferAttention, a, fwd, dy); err != nil {
		return Type{}, err
	}
	q, k, v := fwd[0].Shape, fwd[1].Shape, fwd[2].Shape
	r := q.Rank()
	tq, tk, dk, dv := q[r-2], k[r-2], q[r-1], v[r-1]
	if !tq.Known() || !tk.Known() || !dk.Known() || !dv.Known() {
		return Type{}, typeErr("specialise the graph for its sizes first", "attention_grad needs known positions and features, got %s, %s and %s", fwd[0], fwd[1], fwd[2])
	}
	// Each term is at most an operand's size, which CheckTypeSize bounds.
	packed := tq.Size*dk.Size + tk.Size*dk.Size + tk.Size*dv.Size
	return Type{DType: F32, Shape: append(slices.Clone(q[:r-2]), D(packed))}, nil
}

// flopsAttentionGrad: per score, q·kᵀ again, dy·vᵀ, and the three products
// for dv, dq and dk, 2·(3·dk + 2·dv), and about 8 for the scale, mask,
// softmax and ds.
func flopsAttentionGrad(n *Node) count {
	q, v := n.Inputs[0].Type.Shape, n.Inputs[2].Type.Shape
	r := q.Rank()
	perScore := of(2).times(of(3).times(elems(q[r-1:])).plus(of(2).times(elems(v[r-1:])))).plus(of(8))
	return elems(q[:r-1]).times(elems(v[r-2 : r-1])).times(perScore)
}

// flopsConvGrad: a convolution's gradient costs what the convolution does,
// 2·|dy|·kh·kw·cin/groups, whichever operand it is for.
func flopsConvGrad(n *Node) count {
	k := n.Attrs.(*ConvGradAttrs).Shape
	dy := n.Inputs[0]
	if n.Op == OpConv2DGradInput {
		k = n.Inputs[1].Type.Shape
	} else {
		dy = n.Inputs[1]
	}
	return of(2).times(elems(dy.Type.Shape)).times(elems(k[:3]))
}

// flopsPoolGrad: one operation per window cell of every dy element.
func flopsPoolGrad(n *Node) count {
	var w [2]int
	if a, ok := n.Attrs.(*PoolGradAttrs); ok {
		w = a.Pool.Size
	} else {
		w = n.Attrs.(*PoolAttrs).Size
	}
	dy := n.Inputs[len(n.Inputs)-1]
	return elems(dy.Type.Shape).times(of(int64(w[0]))).times(of(int64(w[1])))
}

// inferCrossEntropy: logits [..., C] with labels [..., C] (a distribution
// per row), or sparse, class ids [...], give one loss per row [...]. A label
// shape that fits the other form is named in the help.
func inferCrossEntropy(sparse bool) func(Attrs, []Type) (Type, error) {
	return func(_ Attrs, in []Type) (Type, error) {
		x, y := in[0], in[1]
		r := x.Shape.Rank()
		if r < 1 || !x.Shape[r-1].Known() {
			return Type{}, typeErr("", "cross-entropy takes logits [..., classes] with a known number of classes, got %s", x)
		}
		rows := x.Shape[:r-1]
		switch {
		case sparse && y.Shape.Equal(x.Shape):
			return Type{}, typeErr("labels of the logits' shape are one-hot or probabilities: use softmax_cross_entropy",
				"sparse cross-entropy takes one class id per row, %s, got labels %s", Type{DType: y.DType, Shape: rows}, y)
		case !sparse && y.Shape.Equal(rows):
			return Type{}, typeErr("one label per row is a class id: use sparse_softmax_cross_entropy with integer labels",
				"cross-entropy takes labels of the logits' shape %s, got %s", x, y)
		case sparse && !y.Shape.Equal(rows), !sparse && !y.Shape.Equal(x.Shape):
			want := Type{DType: F32, Shape: x.Shape}
			if sparse {
				want = Type{DType: y.DType, Shape: rows}
			}
			return Type{}, typeErr("", "cross-entropy of logits %s takes labels %s, got %s", x, want, y)
		}
		return Type{DType: F32, Shape: slices.Clone(rows)}, nil
	}
}
