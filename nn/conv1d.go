package nn

import (
	"cmp"

	"github.com/mdlc/mdlc/ir"
)

// The 1-D layers run over (N, width, channels), as Keras's Conv1D and
// pools do (PyTorch's NCW transposed). Each lowers to its 2-D op on a
// (N, 1, width, channels) view: a reshape is free, and the 2-D plan steps
// and kernels (im2col, the packed GEMM, the SIMD pools) serve both.

// Window1D is a 1-D window's padding: ir.Valid, ir.Same (TensorFlow's rule,
// as in 2-D), or ir.Explicit with Pads left and right. Causal pads
// (kernel-1)·dilation cells on the left only, so output t sees inputs up to
// t (Keras's padding="causal").
type Window1D struct {
	Padding ir.Padding
	Pads    [2]int
	Causal  bool
}

// window2D is the window of the (1, width) view.
func (w Window1D) window2D(kernel, stride, dilation int) ir.Window2D {
	out := ir.Window2D{Stride: [2]int{1, stride}, Dilation: [2]int{1, dilation}, Padding: w.Padding, Pads: [4]int{0, 0, w.Pads[0], w.Pads[1]}}
	if w.Causal {
		out.Padding, out.Pads = ir.Explicit, [4]int{0, 0, (kernel - 1) * dilation, 0}
	}
	return out
}

// Conv1D is a 1-D convolution with a kernel (k, in/groups, filters), Keras's
// Conv1D layout (PyTorch's Conv1d.weight (out, in/groups, k) permuted
// (2, 1, 0)). Zero Stride, Dilation and Groups mean 1.
type Conv1D struct {
	Filters, Kernel          int
	Stride, Dilation, Groups int
	Window1D
	Activation Activation
	UseBias    bool
}

// Pool1D is a 1-D max (or, if Average, mean) pool; a zero Stride means the
// pool size. CountPad is Pool's.
type Pool1D struct {
	Average  bool
	Size     int
	Stride   int
	CountPad bool
	Window1D
}

// GlobalPool1D pools (N, width, channels) to (N, channels): a mean, or a
// max, which needs a known width (it is one window over the whole axis).
type GlobalPool1D struct {
	Max bool
}

func needSequence(layer string, x *ir.Value) error {
	if x.Type.Shape.Rank() == 3 && x.Type.Shape[2].Known() {
		return nil
	}
	help := ""
	switch x.Type.Shape.Rank() {
	case 2:
		help = "add a channel axis first, e.g. `reshape([-1, 1])`"
	case 4:
		help = "use the 2-D layer on images"
	}
	return &ir.TypeError{Msg: layer + " expects (N, width, channels), got " + x.Type.String(), Help: help}
}

// fits words a window too wide for the width in 1-D terms, before the 2-D
// op would speak of a 1xW image.
func fits(layer string, x *ir.Value, w ir.Window2D, k int) error {
	width := x.Type.Shape[1]
	if !width.Known() {
		if w.Padding == ir.Same && w.Stride[1] == 1 {
			return nil
		}
		return &ir.TypeError{Msg: layer + " needs a known width here, got " + x.Type.String(), Help: "give the input a fixed length, or use padding=same with stride 1"}
	}
	if _, ow := w.Out(1, width.Size, 1, k); ow < 1 {
		return &ir.TypeError{Msg: layer + " window " + itoa((k-1)*w.Dilation[1]+1) + " does not fit the width " + itoa(width.Size) + " of " + x.Type.String(),
			Help: "use padding=same or causal, a smaller window, or a longer input"}
	}
	return nil
}

// asImage views (N, W, C) as (N, 1, W, C).
func asImage(l *Layer, x *ir.Value) (*ir.Value, error) {
	s := x.Type.Shape
	return l.Node(ir.OpReshape, &ir.ReshapeAttrs{Shape: ir.Shape{s[0], ir.D(1), s[1], s[2]}}, x)
}

// asSequence views (N, 1, W, C) as (N, W, C).
func asSequence(l *Layer, y *ir.Value) (*ir.Value, error) {
	s := y.Type.Shape
	return l.Node(ir.OpReshape, &ir.ReshapeAttrs{Shape: ir.Shape{s[0], s[2], s[3]}}, y)
}

// Apply adds kernel (k, in/groups, filters) (Glorot uniform) and bias
// (filters) (zeros), and the convolution on the (N, 1, W, C) view.
func (c Conv1D) Apply(l *Layer, x *ir.Value) (*ir.Value, error) {
	if err := needSequence("conv1d", x); err != nil {
		return nil, err
	}
	groups, stride, dilation := countOrOne(c.Groups), countOrOne(c.Stride), countOrOne(c.Dilation)
	if err := cmp.Or(positive("conv1d", "filters", c.Filters), positive("conv1d", "kernel", c.Kernel),
		positive("conv1d", "strides", stride), positive("conv1d", "dilation", dilation), positive("conv1d", "groups", groups)); err != nil {
		return nil, err
	}
	cin := x.Type.Shape[2].Size
	if cin%groups != 0 || c.Filters%groups != 0 {
		return nil, &ir.TypeError{Msg: "conv1d: groups=" + itoa(groups) + " must divide the input channels (" + itoa(cin) + ") and filters (" + itoa(c.Filters) + ")",
			Help: "choose groups among the common divisors"}
	}
	k := l.Param("kernel", ir.T(c.Kernel, cin/groups, c.Filters),
		ir.Init{Kind: ir.InitGlorotUniform, FanIn: c.Kernel * cin / groups, FanOut: c.Kernel * c.Filters})
	// Views, the kernel's folded away once the weights are constants.
	hwio, err := l.Node(ir.OpReshape, &ir.ReshapeAttrs{Shape: ir.Shape{ir.D(1), ir.D(c.Kernel), ir.D(cin / groups), ir.D(c.Filters)}}, k)
	if err != nil {
		return nil, err
	}
	img, err := asImage(l, x)
	if err != nil {
		return nil, err
	}
	ins := []*ir.Value{img, hwio}
	if c.UseBias {
		ins = append(ins, l.Param("bias", ir.T(c.Filters), ir.Init{Kind: ir.InitZeros}))
	}
	w := c.window2D(c.Kernel, stride, dilation)
	if err := fits("conv1d", x, w, c.Kernel); err != nil {
		return nil, err
	}
	y, err := l.Node(ir.OpConv2D, &ir.ConvAttrs{Window2D: w, Groups: groups}, ins...)
	if err != nil {
		return nil, err
	}
	// The activation before the view, where the optimizer fuses it into
	// the convolution.
	if y, err = Activate(l, y, c.Activation); err != nil {
		return nil, err
	}
	return asSequence(l, y)
}

// Apply adds the 2-D pool on the (N, 1, W, C) view.
func (p Pool1D) Apply(l *Layer, x *ir.Value) (*ir.Value, error) {
	name := "maxpool1d"
	if p.Average {
		name = "avgpool1d"
	}
	if err := needSequence(name, x); err != nil {
		return nil, err
	}
	stride := cmp.Or(p.Stride, p.Size)
	if err := cmp.Or(positive(name, "pool", p.Size), positive(name, "strides", stride)); err != nil {
		return nil, err
	}
	img, err := asImage(l, x)
	if err != nil {
		return nil, err
	}
	w := p.window2D(p.Size, stride, 1)
	w.Size = [2]int{1, p.Size}
	if err := fits(name, x, w, p.Size); err != nil {
		return nil, err
	}
	op := ir.OpMaxPool2D
	if p.Average {
		op = ir.OpAvgPool2D
	}
	y, err := l.Node(op, &ir.PoolAttrs{Window2D: w, CountPad: p.CountPad && p.Average}, img)
	if err != nil {
		return nil, err
	}
	return asSequence(l, y)
}

// Apply adds global_avgpool2d, or a max pool as wide as the input, on the
// (N, 1, W, C) view.
func (g GlobalPool1D) Apply(l *Layer, x *ir.Value) (*ir.Value, error) {
	name := "global_avgpool1d"
	if g.Max {
		name = "global_maxpool1d"
	}
	if err := needSequence(name, x); err != nil {
		return nil, err
	}
	img, err := asImage(l, x)
	if err != nil {
		return nil, err
	}
	if !g.Max {
		return l.Node(ir.OpGlobalAvgPool2D, nil, img)
	}
	width := x.Type.Shape[1]
	if !width.Known() {
		return nil, &ir.TypeError{Msg: "global_maxpool1d needs a known width, got " + x.Type.String(),
			Help: "give the input a fixed length"}
	}
	w := ir.Window2D{Size: [2]int{1, width.Size}, Stride: [2]int{1, width.Size}, Dilation: [2]int{1, 1}}
	y, err := l.Node(ir.OpMaxPool2D, &ir.PoolAttrs{Window2D: w}, img)
	if err != nil {
		return nil, err
	}
	s := y.Type.Shape
	return l.Node(ir.OpReshape, &ir.ReshapeAttrs{Shape: ir.Shape{s[0], s[3]}}, y)
}
