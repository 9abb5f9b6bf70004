package nn

import (
	"cmp"

	"github.com/mdlc/mdlc/ir"
)

// Conv is a 2-D convolution over NHWC images with a kernel HWIO.
type Conv struct {
	Filters int
	Kernel  [2]int
	// Strides and Dilation: a zero pair means [1, 1].
	Strides, Dilation [2]int
	Padding           ir.Padding
	Pads              [4]int // top, bottom, left, right, with ir.Explicit
	// Groups splits the channels into independent convolutions; 0 means 1.
	Groups     int
	Activation Activation
	UseBias    bool
}

// Depthwise filters each input channel on its own with Multiplier filters
// (0 means 1): a convolution with as many groups as input channels. Its
// kernel is laid out as Keras's DepthwiseConv2D stores it, (kh, kw,
// channels, multiplier); flattening the last two axes gives the grouped
// convolution's (kh, kw, 1, channels·multiplier) with the same bytes,
// output channel c·multiplier+j being filter j of channel c (as PyTorch's
// groups order them too).
type Depthwise struct {
	Kernel            [2]int
	Strides, Dilation [2]int
	Padding           ir.Padding
	Pads              [4]int
	Multiplier        int
	Activation        Activation
	UseBias           bool
}

// Dense is a fully connected layer over the last axis of (N, features) or
// (N, T, features).
type Dense struct {
	Units      int
	Activation Activation
	UseBias    bool
}

// Pool is a max (or, if Average, mean) pooling window; zero Strides mean the
// pool size. CountPad makes an average count padded cells (PyTorch's
// count_include_pad); Go's zero value leaves them out, as Keras does.
type Pool struct {
	Average  bool
	Size     [2]int
	Strides  [2]int
	Padding  ir.Padding
	Pads     [4]int
	CountPad bool
}

func orOne(p [2]int) [2]int {
	if p == ([2]int{}) {
		return [2]int{1, 1}
	}
	return p
}

// countOrOne is a count whose zero value means 1; negative ones stay, for
// positive to report.
func countOrOne(n int) int {
	if n == 0 {
		return 1
	}
	return n
}

func needImage(layer string, x *ir.Value) error {
	if x.Type.Shape.Rank() == 4 && x.Type.Shape[3].Known() {
		return nil
	}
	help := ""
	switch x.Type.Shape.Rank() {
	case 2:
		help = "reshape it into an image first, e.g. `reshape([28, 28, 1])`"
	case 3:
		help = "on (N, width, channels) use the 1-D layers: conv1d, maxpool1d, avgpool1d"
	}
	return &ir.TypeError{Msg: layer + " expects (N, height, width, channels), got " + x.Type.String(), Help: help}
}

// Apply adds the parameters kernel [kh, kw, cin/groups, filters] (Glorot
// uniform) and bias [filters] (zeros), the convolution and its activation.
func (c Conv) Apply(l *Layer, x *ir.Value) (*ir.Value, error) {
	if err := needImage("conv2d", x); err != nil {
		return nil, err
	}
	groups, strides, dilation := countOrOne(c.Groups), orOne(c.Strides), orOne(c.Dilation)
	if err := cmp.Or(positive("conv2d", "filters", c.Filters), positive("conv2d", "kernel", c.Kernel[:]...),
		positive("conv2d", "strides", strides[:]...), positive("conv2d", "dilation", dilation[:]...), positive("conv2d", "groups", groups)); err != nil {
		return nil, err
	}
	cin := x.Type.Shape[3].Size
	if cin%groups != 0 || c.Filters%groups != 0 {
		return nil, &ir.TypeError{Msg: "conv2d: groups=" + itoa(groups) + " must divide the input channels (" + itoa(cin) + ") and filters (" + itoa(c.Filters) + ")",
			Help: "choose groups among the common divisors"}
	}
	receptive := c.Kernel[0] * c.Kernel[1]
	k := l.Param("kernel", ir.T(c.Kernel[0], c.Kernel[1], cin/groups, c.Filters),
		ir.Init{Kind: ir.InitGlorotUniform, FanIn: receptive * cin / groups, FanOut: receptive * c.Filters})
	ins := []*ir.Value{x, k}
	if c.UseBias {
		ins = append(ins, l.Param("bias", ir.T(c.Filters), ir.Init{Kind: ir.InitZeros}))
	}
	// The window's size is the kernel's, which the op reads from the kernel.
	w := ir.Window2D{Stride: strides, Dilation: dilation, Padding: c.Padding, Pads: c.Pads}
	y, err := l.Node(ir.OpConv2D, &ir.ConvAttrs{Window2D: w, Groups: groups}, ins...)
	if err != nil {
		return nil, err
	}
	return Activate(l, y, c.Activation)
}

// Apply is Conv's with filters = channels·Multiplier and one group per
// input channel; the parameters are named as Conv's.
func (d Depthwise) Apply(l *Layer, x *ir.Value) (*ir.Value, error) {
	if err := needImage("depthwise_conv2d", x); err != nil {
		return nil, err
	}
	multiplier := countOrOne(d.Multiplier)
	if err := positive("depthwise_conv2d", "multiplier", multiplier); err != nil {
		return nil, err
	}
	cin := x.Type.Shape[3].Size
	strides, dilation := orOne(d.Strides), orOne(d.Dilation)
	if err := cmp.Or(positive("depthwise_conv2d", "kernel", d.Kernel[:]...),
		positive("depthwise_conv2d", "strides", strides[:]...), positive("depthwise_conv2d", "dilation", dilation[:]...)); err != nil {
		return nil, err
	}
	receptive := d.Kernel[0] * d.Kernel[1]
	k := l.Param("kernel", ir.T(d.Kernel[0], d.Kernel[1], cin, multiplier),
		ir.Init{Kind: ir.InitGlorotUniform, FanIn: receptive, FanOut: receptive * cin * multiplier})
	// A view, folded away once the weights are constants.
	hwio, err := l.Node(ir.OpReshape, &ir.ReshapeAttrs{Shape: ir.Shape{ir.D(d.Kernel[0]), ir.D(d.Kernel[1]), ir.D(1), ir.D(cin * multiplier)}}, k)
	if err != nil {
		return nil, err
	}
	ins := []*ir.Value{x, hwio}
	if d.UseBias {
		ins = append(ins, l.Param("bias", ir.T(cin*multiplier), ir.Init{Kind: ir.InitZeros}))
	}
	w := ir.Window2D{Stride: strides, Dilation: dilation, Padding: d.Padding, Pads: d.Pads}
	y, err := l.Node(ir.OpConv2D, &ir.ConvAttrs{Window2D: w, Groups: cin}, ins...)
	if err != nil {
		return nil, err
	}
	return Activate(l, y, d.Activation)
}

// Apply adds kernel [features, units] (Glorot uniform) and bias [units]
// (zeros), the product and its activation.
func (d Dense) Apply(l *Layer, x *ir.Value) (*ir.Value, error) {
	if err := positive("dense", "units", d.Units); err != nil {
		return nil, err
	}
	r := x.Type.Shape.Rank()
	if r < 2 || r > 3 || !x.Type.Shape[r-1].Known() {
		// Let the op's shape rule word the error.
		_, err := ir.OpDense.Info().Infer(nil, []ir.Type{x.Type, ir.T(1, d.Units)})
		return nil, err
	}
	in := x.Type.Shape[r-1].Size
	k := l.Param("kernel", ir.T(in, d.Units), ir.Init{Kind: ir.InitGlorotUniform, FanIn: in, FanOut: d.Units})
	ins := []*ir.Value{x, k}
	if d.UseBias {
		ins = append(ins, l.Param("bias", ir.T(d.Units), ir.Init{Kind: ir.InitZeros}))
	}
	y, err := l.Node(ir.OpDense, nil, ins...)
	if err != nil {
		return nil, err
	}
	return Activate(l, y, d.Activation)
}

// Apply adds the pooling op.
func (p Pool) Apply(l *Layer, x *ir.Value) (*ir.Value, error) {
	op := ir.OpMaxPool2D
	if p.Average {
		op = ir.OpAvgPool2D
	}
	stride := p.Strides
	if stride == ([2]int{}) {
		stride = p.Size
	}
	if err := cmp.Or(positive(op.String(), "pool", p.Size[:]...), positive(op.String(), "strides", stride[:]...)); err != nil {
		return nil, err
	}
	w := ir.Window2D{Size: p.Size, Stride: stride, Dilation: [2]int{1, 1}, Padding: p.Padding, Pads: p.Pads}
	return l.Node(op, &ir.PoolAttrs{Window2D: w, CountPad: p.CountPad && p.Average}, x)
}

// Pad adds cells around the height and width of NHWC images: Pads top,
// bottom, left, right, filled as Mode says (Value for ir.PadConstant).
type Pad struct {
	Mode  ir.PadMode
	Pads  [4]int
	Value float32
}

// Apply adds the pad op.
func (p Pad) Apply(l *Layer, x *ir.Value) (*ir.Value, error) {
	if err := needImage("pad", x); err != nil {
		return nil, err
	}
	pads := [][2]int{{0, 0}, {p.Pads[0], p.Pads[1]}, {p.Pads[2], p.Pads[3]}, {0, 0}}
	return l.Node(ir.OpPad, &ir.PadAttrs{Mode: p.Mode, Pads: pads, Value: p.Value}, x)
}

// ConvTranspose is a transposed 2-D convolution over NHWC images (Keras's
// Conv2DTranspose, PyTorch's ConvTranspose2d): each input cell spreads a
// kernel-sized patch into an output stride times larger. Its kernel is laid
// out as Keras stores it, (kh, kw, filters, in); PyTorch's weight (in,
// filters, kh, kw) permuted (2, 3, 1, 0). Pads crop the output (PyTorch's
// padding=); ir.Same makes it input·stride. OutputPadding (below the
// stride) adds rows and columns at the bottom and right.
type ConvTranspose struct {
	Filters           int
	Kernel            [2]int
	Strides, Dilation [2]int
	Padding           ir.Padding
	Pads              [4]int
	OutputPadding     [2]int
	Activation        Activation
	UseBias           bool
}

// Apply adds kernel (kh, kw, filters, in) (Glorot uniform, fans as Keras
// computes them from that shape) and bias (filters) (zeros), the op and
// its activation.
func (c ConvTranspose) Apply(l *Layer, x *ir.Value) (*ir.Value, error) {
	if err := needImage("conv2d_transpose", x); err != nil {
		return nil, err
	}
	strides, dilation := orOne(c.Strides), orOne(c.Dilation)
	if err := cmp.Or(positive("conv2d_transpose", "filters", c.Filters), positive("conv2d_transpose", "kernel", c.Kernel[:]...),
		positive("conv2d_transpose", "strides", strides[:]...), positive("conv2d_transpose", "dilation", dilation[:]...)); err != nil {
		return nil, err
	}
	cin := x.Type.Shape[3].Size
	receptive := c.Kernel[0] * c.Kernel[1]
	k := l.Param("kernel", ir.T(c.Kernel[0], c.Kernel[1], c.Filters, cin),
		ir.Init{Kind: ir.InitGlorotUniform, FanIn: receptive * c.Filters, FanOut: receptive * cin})
	ins := []*ir.Value{x, k}
	if c.UseBias {
		ins = append(ins, l.Param("bias", ir.T(c.Filters), ir.Init{Kind: ir.InitZeros}))
	}
	w := ir.Window2D{Stride: strides, Dilation: dilation, Padding: c.Padding, Pads: c.Pads}
	y, err := l.Node(ir.OpConv2DTranspose, &ir.ConvTransposeAttrs{Window2D: w, OutputPadding: c.OutputPadding}, ins...)
	if err != nil {
		return nil, err
	}
	return Activate(l, y, c.Activation)
}
