package ir

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mdlc/mdlc/internal/size"
)

// TypeError is a shape or type mismatch found by an op's Infer rule. Help, when
// set, says what the user can do about it.
type TypeError struct {
	Msg  string
	Help string
}

func (e *TypeError) Error() string { return e.Msg }

func typeErr(help, format string, args ...any) *TypeError {
	return &TypeError{Msg: fmt.Sprintf(format, args...), Help: help}
}

func needRank(op string, t Type, rank int, layout string) error {
	if t.Shape.Rank() != rank {
		return typeErr("", "%s expects a rank-%d input %s, got %s", op, rank, layout, t)
	}
	return nil
}

func inferSame(_ Attrs, in []Type) (Type, error) { return in[0], nil }

// inferClip refuses bounds that cross: min(max(x, lo), hi) would be hi
// everywhere, which is never what was meant.
func inferClip(a Attrs, in []Type) (Type, error) {
	c := a.(*ClipAttrs)
	if !(c.Min <= c.Max) {
		return Type{}, typeErr("swap them: clip(x, min, max) keeps x within [min, max]",
			"clip's min %s is above its max %s", fmtFloat(c.Min), fmtFloat(c.Max))
	}
	return in[0], nil
}

func inferSameAxis(a Attrs, in []Type) (Type, error) {
	if err := checkAxis(a.(*AxisAttrs).Axis, in[0].Shape.Rank()); err != nil {
		return Type{}, err
	}
	return in[0], nil
}

func checkAxis(axis, rank int) error {
	if axis < 0 || axis >= rank {
		return typeErr(fmt.Sprintf("axes run from %d to %d for a rank-%d tensor", -rank, rank-1, rank),
			"axis %d is out of range for rank %d", axis, rank)
	}
	return nil
}

// window2D checks an NHWC input against a kh×kw window and returns the output
// spatial dims. Symbolic spatial dims pass through only where the output size
// does not depend on them (same padding, stride 1).
func window2D(op string, w Window2D, x Type, kh, kw int) (Dim, Dim, error) {
	if err := w.validate(op, kh, kw); err != nil {
		return Dim{}, Dim{}, err
	}
	h, wd := x.Shape[1], x.Shape[2]
	if !h.Known() || !wd.Known() {
		if w.Padding == Same && w.Stride == [2]int{1, 1} {
			return h, wd, nil
		}
		return Dim{}, Dim{}, typeErr("give the input a fixed height and width, or use padding=same with stride 1",
			"%s needs a known height and width here, got %s", op, x)
	}
	oh, ow := w.Out(h.Size, wd.Size, kh, kw)
	if oh < 1 || ow < 1 {
		return Dim{}, Dim{}, typeErr("use padding=same, a smaller window, or a larger input",
			"%s window %dx%d does not fit the %dx%d input %s", op, kh, kw, h.Size, wd.Size, x)
	}
	return D(oh), D(ow), nil
}

// validate rejects windows no builder should make: sizes, strides and
// dilations below 1, negative pads, an unknown padding mode.
func (w Window2D) validate(op string, kh, kw int) error {
	// The bound of MaxElements on each number keeps the window arithmetic
	// (dilation·(k-1)+1, h + pads) far from overflow.
	for _, v := range []int{kh, kw, w.Stride[0], w.Stride[1], w.Dilation[0], w.Dilation[1]} {
		if v < 1 || v > MaxElements {
			return typeErr("", "%s window %dx%d stride=%s dilation=%s: sizes, strides and dilations must be 1 to 2^40", op, kh, kw, pair(w.Stride), pair(w.Dilation))
		}
	}
	if w.Padding > Explicit {
		return typeErr("", "%s: unknown padding mode %d", op, w.Padding)
	}
	for _, p := range w.Pads {
		if p < 0 || p > MaxElements {
			return typeErr("", "%s: padding %v must be 0 to 2^40", op, w.Pads)
		}
	}
	return nil
}

func inferConv2D(a Attrs, in []Type) (Type, error) {
	at := a.(*ConvAttrs)
	x, k := in[0], in[1]
	if err := needRank("conv2d", x, 4, "(N, height, width, channels)"); err != nil {
		return Type{}, err
	}
	if k.Shape.Rank() != 4 {
		return Type{}, typeErr("", "conv2d kernel must be rank 4 (kh, kw, in/groups, out), got %s", k)
	}
	if _, ok := k.Shape.KnownProduct(0); !ok {
		return Type{}, typeErr("", "conv2d kernel must have known dimensions, got %s", k)
	}
	cin := x.Shape[3]
	kh, kw, kin, kout := k.Shape[0].Size, k.Shape[1].Size, k.Shape[2].Size, k.Shape[3].Size
	g := at.Groups
	if g < 1 || !cin.Known() || cin.Size%g != 0 || kout%g != 0 {
		return Type{}, typeErr("groups must divide both the input and the output channels",
			"conv2d with groups=%d cannot split %s input channels into %d filters", g, cin, kout)
	}
	if kin*g != cin.Size {
		return Type{}, typeErr("", "conv2d kernel %s expects %d input channels, got %d in %s", k, kin*g, cin.Size, x)
	}
	if len(in) == 3 && !in[2].Shape.Equal(Shape{D(kout)}) {
		return Type{}, typeErr("", "conv2d bias must be [%d], got %s", kout, in[2])
	}
	oh, ow, err := window2D("conv2d", at.Window2D, x, kh, kw)
	if err != nil {
		return Type{}, err
	}
	return Type{DType: x.DType, Shape: Shape{x.Shape[0], oh, ow, D(kout)}}, nil
}

func inferPool(a Attrs, in []Type) (Type, error) {
	at := a.(*PoolAttrs)
	x := in[0]
	if err := needRank("pooling", x, 4, "(N, height, width, channels)"); err != nil {
		return Type{}, err
	}
	oh, ow, err := window2D("pooling", at.Window2D, x, at.Size[0], at.Size[1])
	if err != nil {
		return Type{}, err
	}
	if err := at.padsFit(); err != nil {
		return Type{}, err
	}
	if err := at.windowsReachInput(x.Shape[1], x.Shape[2], oh, ow); err != nil {
		return Type{}, err
	}
	return Type{DType: x.DType, Shape: Shape{x.Shape[0], oh, ow, x.Shape[3]}}, nil
}

// maxSparseChecks bounds the windows windowsReachInput looks at on an axis.
const maxSparseChecks = 1 << 20

// windowsReachInput rejects a dilated window that steps over the whole input
// somewhere, holding padding only: a max pool would give -Inf there and an
// average 0/0. Only a window starting in the top (left) padding can, and
// only if the dilation exceeds the input. Such a window starts at
// -u = o·stride - before < 0; its first tap at or past the input's edge is
// tap ceil(u/dilation), a tap of the window since pads stay below its
// extent, and lands (-u) mod dilation cells into the input: the window
// misses when that is the input's size or more. (A window starting inside
// the input holds its first cell, and none starts past the end.)
func (a *PoolAttrs) windowsReachInput(h, w, oh, ow Dim) error {
	if !h.Known() || !w.Known() || !oh.Known() || !ow.Known() {
		return nil
	}
	pads := a.PadsFor(h.Size, w.Size, a.Size[0], a.Size[1])
	for axis, d := range [2]Dim{h, w} {
		size, dil, stride, before := d.Size, a.Dilation[axis], a.Stride[axis], pads[2*axis]
		if dil <= size {
			continue
		}
		out := [2]Dim{oh, ow}[axis].Size
		for o := 0; o < out && o*stride < before; o++ {
			if o == maxSparseChecks {
				return typeErr("", "pooling: dilation %d over an input of %d with %d cells of padding is too sparse to check", dil, size, before)
			}
			if gap := (dil - (before-o*stride)%dil) % dil; gap >= size {
				return typeErr("lower the dilation or the padding: every window must hold a cell of the input",
					"pooling: the %dx%d window dilated %s at output %s %d steps over the %d-cell input, holding padding only",
					a.Size[0], a.Size[1], pair(a.Dilation), [2]string{"row", "column"}[axis], o, size)
			}
		}
	}
	return nil
}

// padsFit rejects explicit pads as wide as the window: a window wholly in
// the padding has no cell to pool.
func (a *PoolAttrs) padsFit() error {
	if a.Padding != Explicit {
		return nil
	}
	for i, p := range a.Pads {
		axis := i / 2
		if extent := (a.Size[axis]-1)*a.Dilation[axis] + 1; p >= extent {
			side := [...]string{"top", "bottom", "left", "right"}[i]
			return typeErr(fmt.Sprintf("pad each side by less than the window (%d): PyTorch allows at most half of it", extent),
				"pooling: the %s pad %d is as wide as the %dx%d window, so a window there holds padding only", side, p, a.Size[0], a.Size[1])
		}
	}
	return nil
}

func inferGlobalPool(_ Attrs, in []Type) (Type, error) {
	x := in[0]
	if err := needRank("global_avgpool2d", x, 4, "(N, height, width, channels)"); err != nil {
		return Type{}, err
	}
	return Type{DType: x.DType, Shape: Shape{x.Shape[0], x.Shape[3]}}, nil
}

func inferDense(_ Attrs, in []Type) (Type, error) {
	x, k := in[0], in[1]
	r := x.Shape.Rank()
	if r < 2 || r > 3 {
		help := ""
		if r > 3 {
			if n, ok := x.Shape.KnownProduct(1); ok {
				help = fmt.Sprintf("insert `flatten` before it to get (N, %d)", n)
			}
		}
		return Type{}, typeErr(help, "dense expects (N, features) or (N, T, features), got %s", x)
	}
	if k.Shape.Rank() != 2 || k.Shape[0] != x.Shape[r-1] {
		return Type{}, typeErr("", "dense kernel %s does not take %s features from %s", k, x.Shape[r-1], x)
	}
	if len(in) == 3 && !in[2].Shape.Equal(Shape{k.Shape[1]}) {
		return Type{}, typeErr("", "dense bias must be [%s], got %s", k.Shape[1], in[2])
	}
	out := append(Shape{}, x.Shape...)
	out[r-1] = k.Shape[1]
	return Type{DType: x.DType, Shape: out}, nil
}

// inferPositional: x [N, T, d] with d known; the sinusoidal encoding needs
// d even (sines and cosines come in pairs), a learned table [L, d] at least T
// rows (checked again when T is bound).
func inferPositional(_ Attrs, in []Type) (Type, error) {
	x := in[0]
	if len(in) == 1 {
		if x.Shape.Rank() != 3 || !x.Shape[2].Known() || x.Shape[2].Size%2 != 0 {
			return Type{}, typeErr("the encoding pairs a sine and a cosine per frequency", "positional expects (N, T, d_model) with d_model known and even, got %s", x)
		}
		return x, nil
	}
	table := in[1]
	if x.Shape.Rank() != 3 || table.Shape.Rank() != 2 || x.Shape[2] != table.Shape[1] {
		return Type{}, typeErr("the table holds one d_model vector per position", "positional expects (N, T, d_model) and a table (positions, d_model), got %s and %s", x, table)
	}
	if t, l := x.Shape[1], table.Shape[0]; t.Known() && l.Known() && t.Size > l.Size {
		return Type{}, typeErr(fmt.Sprintf("give the layer max_len=%d or more, or feed sequences of at most %d", t.Size, l.Size),
			"a sequence of T = %d positions, but the learned table has %d", t.Size, l.Size)
	}
	return x, nil
}

// inferEmbedding: ids of any shape and a table [V, d] give f32 [ids..., d].
func inferEmbedding(_ Attrs, in []Type) (Type, error) {
	ids, table := in[0], in[1]
	if table.Shape.Rank() != 2 || !table.Shape[0].Known() || !table.Shape[1].Known() {
		return Type{}, typeErr("", "embedding table must be (vocabulary, dim) of known sizes, got %s", table)
	}
	return Type{DType: F32, Shape: append(slices.Clone(ids.Shape), table.Shape[1])}, nil
}

// inferPaddingMask: ids [N, T] give the additive mask [N, 1, 1, T], which
// broadcasts to multi-head attention's scores [N, heads, T_q, T].
func inferPaddingMask(_ Attrs, in []Type) (Type, error) {
	ids := in[0]
	if ids.Shape.Rank() != 2 {
		return Type{}, typeErr("the mask is for sequences of ids: (N, T)", "padding_mask expects token ids (N, T), got %s", ids)
	}
	return Type{DType: F32, Shape: Shape{ids.Shape[0], D(1), D(1), ids.Shape[1]}}, nil
}

// inferToFloat: integers become f32 numbers of the same shape.
func inferToFloat(_ Attrs, in []Type) (Type, error) {
	return Type{DType: F32, Shape: in[0].Shape}, nil
}

// inferNorm is the shape rule of a normalisation over the last axis whose
// operands after x (named params) hold one value per feature.
func inferNorm(op string, params ...string) func(Attrs, []Type) (Type, error) {
	return func(_ Attrs, in []Type) (Type, error) {
		x := in[0]
		r := x.Shape.Rank()
		if r < 1 || !x.Shape[r-1].Known() {
			return Type{}, typeErr("", "%s expects features on a last axis of known size, got %s", op, x)
		}
		c := x.Shape[r-1]
		for i, name := range params {
			if !in[i+1].Shape.Equal(Shape{c}) {
				return Type{}, typeErr("", "%s %s must be [%s], got %s", op, name, c, in[i+1])
			}
		}
		return x, nil
	}
}

func inferBatchNorm(_ Attrs, in []Type) (Type, error) {
	x := in[0]
	if x.Shape.Rank() < 2 {
		return Type{}, typeErr("", "batchnorm expects at least (N, features), got %s", x)
	}
	c := x.Shape[x.Shape.Rank()-1]
	for i, name := range []string{"gamma", "beta", "mean", "variance"} {
		if !in[i+1].Shape.Equal(Shape{c}) {
			return Type{}, typeErr("", "batchnorm %s must be [%s], got %s", name, c, in[i+1])
		}
	}
	return x, nil
}

// inferBatchVariance: x [..., C] and its mean [C] give [C].
func inferBatchVariance(_ Attrs, in []Type) (Type, error) {
	x := in[0]
	if x.Shape.Rank() < 2 {
		return Type{}, typeErr("", "batch_variance expects at least (N, features), got %s", x)
	}
	c := x.Shape[x.Shape.Rank()-1]
	if !in[1].Shape.Equal(Shape{c}) {
		return Type{}, typeErr("", "batch_variance mean must be [%s], got %s", c, in[1])
	}
	return Type{DType: F32, Shape: Shape{c}}, nil
}

// inferDropoutTrain: x's type; the step is a scalar.
func inferDropoutTrain(a Attrs, in []Type) (Type, error) {
	if in[1].Shape.Rank() != 0 {
		return Type{}, typeErr("", "dropout_train's step must be a scalar [], got %s", in[1])
	}
	if r := a.(*DropoutTrainAttrs).Rate; !(r >= 0 && r < 1) {
		return Type{}, typeErr("", "dropout_train's rate must be in [0, 1), got %s", fmtFloat(r))
	}
	return in[0], nil
}

// broadcastShapes applies NumPy broadcasting: align from the right; each pair of
// dims must match or one of them must be 1.
func broadcastShapes(a, b Shape) (Shape, bool) {
	n := max(len(a), len(b))
	out := make(Shape, n)
	for i := 1; i <= n; i++ {
		da, db := D(1), D(1)
		if i <= len(a) {
			da = a[len(a)-i]
		}
		if i <= len(b) {
			db = b[len(b)-i]
		}
		switch {
		case da == db:
			out[n-i] = da
		case da == D(1):
			out[n-i] = db
		case db == D(1):
			out[n-i] = da
		default:
			return nil, false
		}
	}
	return out, true
}

func inferBroadcast(_ Attrs, in []Type) (Type, error) {
	a, b := in[0], in[1]
	if a.DType != b.DType {
		return Type{}, typeErr("", "operands have different element types: %s and %s", a, b)
	}
	s, ok := broadcastShapes(a.Shape, b.Shape)
	if !ok {
		return Type{}, typeErr("shapes must match, or one dimension must be 1 (NumPy broadcasting)",
			"shapes %s and %s do not broadcast", a, b)
	}
	return Type{DType: a.DType, Shape: s}, nil
}

func inferMatMul(a Attrs, in []Type) (Type, error) {
	at := a.(*MatMulAttrs)
	x, y := in[0], in[1]
	if x.Shape.Rank() < 2 || y.Shape.Rank() < 2 {
		return Type{}, typeErr("", "matmul needs operands of rank 2 or more, got %s and %s", x, y)
	}
	rx, ry := x.Shape.Rank(), y.Shape.Rank()
	m, k1 := x.Shape[rx-2], x.Shape[rx-1]
	if at.TransA {
		m, k1 = k1, m
	}
	k2, n := y.Shape[ry-2], y.Shape[ry-1]
	if at.TransB {
		k2, n = n, k2
	}
	if k1 != k2 {
		return Type{}, typeErr("", "matmul inner dimensions differ: %s and %s (%s vs %s)", x, y, k1, k2)
	}
	batch, ok := broadcastShapes(x.Shape[:rx-2], y.Shape[:ry-2])
	if !ok {
		return Type{}, typeErr("", "matmul batch dimensions of %s and %s do not broadcast", x, y)
	}
	return Type{DType: x.DType, Shape: append(batch, m, n)}, nil
}

// inferAttention: q [B..., Tq, dk], k [B..., Tk, dk], v [B..., Tk, dv] with the
// same batch axes, and a mask that broadcasts to [B..., Tq, Tk]; the result is
// [B..., Tq, dv].
func inferAttention(_ Attrs, in []Type) (Type, error) {
	q, k, v := in[0], in[1], in[2]
	r := q.Shape.Rank()
	if r < 2 || k.Shape.Rank() != r || v.Shape.Rank() != r {
		return Type{}, typeErr("q, k and v are [..., T, d] with the same leading axes", "attention needs q, k and v of the same rank, at least 2, got %s, %s and %s", q, k, v)
	}
	if !q.Shape[:r-2].Equal(k.Shape[:r-2]) || !q.Shape[:r-2].Equal(v.Shape[:r-2]) {
		return Type{}, typeErr("", "attention: q, k and v must share their leading axes, got %s, %s and %s", q, k, v)
	}
	if q.Shape[r-1] != k.Shape[r-1] {
		return Type{}, typeErr("", "attention: q and k must have the same feature size d_k, got %s and %s", q, k)
	}
	if k.Shape[r-2] != v.Shape[r-2] {
		return Type{}, typeErr("", "attention: k and v must have as many positions, got %s and %s", k, v)
	}
	if len(in) == 4 {
		scores := append(slices.Clone(q.Shape[:r-1]), k.Shape[r-2])
		if b, ok := broadcastShapes(scores, in[3].Shape); !ok || !b.Equal(scores) {
			return Type{}, typeErr("a mask is added to the scores [..., T_q, T_k]: use 0 to keep and -inf to drop", "attention mask %s does not broadcast to the scores %s", in[3], Type{DType: q.DType, Shape: scores})
		}
	}
	return Type{DType: q.DType, Shape: append(slices.Clone(q.Shape[:r-1]), v.Shape[r-1])}, nil
}

// inferRecurrent: xw [N, T, G·H], u [H, G·H], bu [G·H], h0 and c0 [N, H].
func inferRecurrent(a Attrs, in []Type) (Type, error) {
	at := a.(*RecurrentAttrs)
	if at.Cell < CellRNN || at.Cell > CellGRU {
		return Type{}, typeErr("", "recurrent: unknown cell %s", at.Cell)
	}
	xw, u, bu := in[0], in[1], in[2]
	g := at.Cell.Gates()
	if u.Shape.Rank() != 2 || !u.Shape[0].Known() {
		return Type{}, typeErr("", "recurrent kernel must be [H, %d·H] with H known, got %s", g, u)
	}
	h := u.Shape[0]
	gh := D(g * h.Size)
	if !u.Shape.Equal(Shape{h, gh}) || !bu.Shape.Equal(Shape{gh}) {
		return Type{}, typeErr("", "%s recurrent kernel and bias must be [%s,%s] and [%s], got %s and %s", at.Cell, h, gh, gh, u, bu)
	}
	if xw.Shape.Rank() != 3 || xw.Shape[2] != gh {
		return Type{}, typeErr("", "%s input projection must be [N, T, %s], got %s", at.Cell, gh, xw)
	}
	state := Shape{xw.Shape[0], h}
	for i, name := range []string{"h0", "c0"}[:len(in)-3] {
		if name == "c0" && at.Cell != CellLSTM {
			return Type{}, typeErr("", "only an LSTM has a cell state c0")
		}
		if !in[3+i].Shape.Equal(state) {
			return Type{}, typeErr("one state per example of H = "+h.String()+" units", "%s initial state %s must be %s, got %s", at.Cell, name, Type{DType: xw.DType, Shape: state}, in[3+i])
		}
	}
	if at.Sequences {
		return Type{DType: xw.DType, Shape: Shape{xw.Shape[0], xw.Shape[1], h}}, nil
	}
	return Type{DType: xw.DType, Shape: state}, nil
}

// inferSlice: the axis has a known size and 0 <= Start < End <= size.
func inferSlice(a Attrs, in []Type) (Type, error) {
	at, x := a.(*SliceAttrs), in[0]
	if at.Axis < 0 || at.Axis >= x.Shape.Rank() || !x.Shape[at.Axis].Known() {
		return Type{}, typeErr("", "slice: axis %d of %s is not an axis of known size", at.Axis, x)
	}
	if n := x.Shape[at.Axis].Size; at.Start < 0 || at.Start >= at.End || at.End > n {
		return Type{}, typeErr(fmt.Sprintf("start and end must satisfy 0 <= start < end <= %d", n), "slice %d:%d is empty or outside axis %d of %s", at.Start, at.End, at.Axis, x)
	}
	out := slices.Clone(x.Shape)
	out[at.Axis] = D(at.End - at.Start)
	return Type{DType: x.DType, Shape: out}, nil
}

func inferFlatten(_ Attrs, in []Type) (Type, error) {
	x := in[0]
	if x.Shape.Rank() < 1 {
		return Type{}, typeErr("", "flatten needs a batch axis, got %s", x)
	}
	n, ok := x.Shape.KnownProduct(1)
	if !ok {
		return Type{}, typeErr("fix the non-batch dimensions of the input", "flatten needs known sizes after the batch axis, got %s", x)
	}
	return Type{DType: x.DType, Shape: Shape{x.Shape[0], D(n)}}, nil
}

func inferReshape(a Attrs, in []Type) (Type, error) {
	x, to := in[0], a.(*ReshapeAttrs).Shape
	if !sameElements(x.Shape, to) {
		return Type{}, typeErr("the total number of elements must stay the same", "cannot reshape %s to %s", x, to)
	}
	return Type{DType: x.DType, Shape: to}, nil
}

// sameElements compares element counts, treating each symbol as a factor that
// must appear on both sides.
func sameElements(a, b Shape) bool {
	count := func(s Shape) (int64, bool, string) {
		syms := []string{}
		for _, d := range s {
			if !d.Known() {
				syms = append(syms, d.Sym)
			}
		}
		slices.Sort(syms)
		n, ok := perExample(s)
		return n, ok, strings.Join(syms, "*")
	}
	na, oka, sa := count(a)
	nb, okb, sb := count(b)
	return oka && okb && na == nb && sa == sb
}

func inferTranspose(a Attrs, in []Type) (Type, error) {
	perm, x := a.(*TransposeAttrs).Perm, in[0]
	if len(perm) != x.Shape.Rank() {
		return Type{}, typeErr("give one axis per input dimension", "transpose permutation %s does not fit %s", ints(perm), x)
	}
	seen := make([]bool, len(perm))
	out := make(Shape, len(perm))
	for i, p := range perm {
		if p < 0 || p >= len(perm) || seen[p] {
			return Type{}, typeErr("each axis must appear exactly once", "transpose permutation %s is not a permutation", ints(perm))
		}
		seen[p] = true
		out[i] = x.Shape[p]
	}
	return Type{DType: x.DType, Shape: out}, nil
}

func inferConcat(a Attrs, in []Type) (Type, error) {
	axis, first := a.(*AxisAttrs).Axis, in[0]
	if err := checkAxis(axis, first.Shape.Rank()); err != nil {
		return Type{}, err
	}
	out := append(Shape{}, first.Shape...)
	for i, t := range in[1:] {
		if t.DType != first.DType || t.Shape.Rank() != first.Shape.Rank() {
			return Type{}, typeErr("", "concat operand %d is %s, operand 1 is %s", i+2, t, first)
		}
		for d := range t.Shape {
			if d == axis {
				continue
			}
			if t.Shape[d] != first.Shape[d] {
				return Type{}, typeErr(fmt.Sprintf("all dimensions but axis %d must match", axis),
					"concat operands differ in dimension %d: %s and %s", d, first, t)
			}
		}
		if !t.Shape[axis].Known() || !out[axis].Known() {
			return Type{}, typeErr("", "concat along a symbolic axis is not supported: %s and %s", first, t)
		}
		sum, ok := size.Add(int64(out[axis].Size), int64(t.Shape[axis].Size))
		if !ok || sum > MaxElements {
			return Type{}, typeErr("", "concat: axis %d of the result would have more than 2^40 elements", axis)
		}
		out[axis].Size = int(sum)
	}
	return Type{DType: first.DType, Shape: out}, nil
}
