package nn

import (
	"cmp"

	"github.com/mdlc/mdlc/ir"
)

// Separable is Keras's SeparableConv2D: a depthwise convolution (Multiplier
// filters per input channel, no bias) then a 1×1 convolution to Filters,
// with one bias and the activation after both. Its kernels are Keras's:
// depthwise_kernel (kh, kw, channels, multiplier), as Depthwise's, and
// pointwise_kernel (1, 1, channels·multiplier, filters), HWIO. It lowers
// to those two conv2d ops, which is how every framework computes it.
type Separable struct {
	Filters           int
	Kernel            [2]int
	Strides, Dilation [2]int
	Padding           ir.Padding
	Pads              [4]int
	Multiplier        int
	Activation        Activation
	UseBias           bool
}

// Apply adds depthwise_kernel and pointwise_kernel (Glorot uniform, fans as
// Keras computes them from their shapes), bias (filters) (zeros), the two
// convolutions and the activation.
func (s Separable) Apply(l *Layer, x *ir.Value) (*ir.Value, error) {
	if err := needImage("separable_conv2d", x); err != nil {
		return nil, err
	}
	multiplier, strides, dilation := countOrOne(s.Multiplier), orOne(s.Strides), orOne(s.Dilation)
	if err := cmp.Or(positive("separable_conv2d", "filters", s.Filters), positive("separable_conv2d", "kernel", s.Kernel[:]...),
		positive("separable_conv2d", "strides", strides[:]...), positive("separable_conv2d", "dilation", dilation[:]...),
		positive("separable_conv2d", "depth_multiplier", multiplier)); err != nil {
		return nil, err
	}
	cin := x.Type.Shape[3].Size
	mid := cin * multiplier
	receptive := s.Kernel[0] * s.Kernel[1]
	dk := l.Param("depthwise_kernel", ir.T(s.Kernel[0], s.Kernel[1], cin, multiplier),
		ir.Init{Kind: ir.InitGlorotUniform, FanIn: receptive * cin, FanOut: receptive * multiplier})
	pk := l.Param("pointwise_kernel", ir.T(1, 1, mid, s.Filters), ir.Init{Kind: ir.InitGlorotUniform, FanIn: mid, FanOut: s.Filters})
	var bias *ir.Value
	if s.UseBias {
		bias = l.Param("bias", ir.T(s.Filters), ir.Init{Kind: ir.InitZeros})
	}
	// Depthwise's view of its kernel: (kh, kw, 1, channels·multiplier).
	hwio, err := l.Node(ir.OpReshape, &ir.ReshapeAttrs{Shape: ir.Shape{ir.D(s.Kernel[0]), ir.D(s.Kernel[1]), ir.D(1), ir.D(mid)}}, dk)
	if err != nil {
		return nil, err
	}
	w := ir.Window2D{Stride: strides, Dilation: dilation, Padding: s.Padding, Pads: s.Pads}
	d, err := l.Node(ir.OpConv2D, &ir.ConvAttrs{Window2D: w, Groups: cin}, x, hwio)
	if err != nil {
		return nil, err
	}
	ins := []*ir.Value{d, pk}
	if bias != nil {
		ins = append(ins, bias)
	}
	one := ir.Window2D{Stride: [2]int{1, 1}, Dilation: [2]int{1, 1}, Padding: ir.Valid}
	y, err := l.Node(ir.OpConv2D, &ir.ConvAttrs{Window2D: one, Groups: 1}, ins...)
	if err != nil {
		return nil, err
	}
	return Activate(l, y, s.Activation)
}
