package ir

import "strings"

// ConvTransposeAttrs are conv2d_transpose's attributes. The kernel is
// (kh, kw, out, in), Keras's Conv2DTranspose layout (PyTorch's
// ConvTranspose2d.weight (in, out, kh, kw) permuted (2, 3, 1, 0)), and gives
// the window size. Input cell (y, x) spreads over output cells
// (y·stride - top + i·dilation, x·stride - left + j·dilation): the output is
// the gradient of a conv2d with the same window, as PyTorch defines it.
// Pads are cells cropped from the full output: Valid crops none, Explicit
// Pads (PyTorch's padding=), and Same crops what TensorFlow's does so that
// the output is input·stride. OutputPadding adds rows and columns below and
// to the right (PyTorch's output_padding), below stride or dilation.
type ConvTransposeAttrs struct {
	Window2D
	OutputPadding [2]int
}

func (a *ConvTransposeAttrs) String() string {
	f := a.fields()
	if a.OutputPadding != [2]int{} {
		f = append(f, "output_padding="+pair(a.OutputPadding))
	}
	return strings.Join(f, " ")
}

// Geometry is the crop (top, bottom, left, right) and the output height and
// width for an h×wd input and a kh×kw kernel. Same crops TensorFlow's
// conv2d "same" pads of an input·stride image, so the output is input·stride;
// a kernel narrower than the stride crops nothing and pads the rest below
// and to the right.
func (a *ConvTransposeAttrs) Geometry(h, wd, kh, kw int) (crop [4]int, oh, ow int) {
	full := func(in, k, axis int) int { return (in-1)*a.Stride[axis] + (k-1)*a.Dilation[axis] + 1 }
	fh, fw := full(h, kh, 0), full(wd, kw, 1)
	switch a.Padding {
	case Explicit:
		crop = a.Pads
	case Same:
		t, b := samePad(h*a.Stride[0], kh, a.Stride[0], a.Dilation[0])
		l, r := samePad(wd*a.Stride[1], kw, a.Stride[1], a.Dilation[1])
		crop = [4]int{t, b, l, r}
		return crop, h * a.Stride[0], wd * a.Stride[1]
	}
	return crop, fh - crop[0] - crop[1] + a.OutputPadding[0], fw - crop[2] - crop[3] + a.OutputPadding[1]
}

func inferConvTranspose(at Attrs, in []Type) (Type, error) {
	a := at.(*ConvTransposeAttrs)
	x, k := in[0], in[1]
	if err := needRank("conv2d_transpose", x, 4, "(N, height, width, channels)"); err != nil {
		return Type{}, err
	}
	if k.Shape.Rank() != 4 {
		return Type{}, typeErr("", "conv2d_transpose kernel must be rank 4 (kh, kw, out, in), got %s", k)
	}
	if _, ok := k.Shape.KnownProduct(0); !ok {
		return Type{}, typeErr("", "conv2d_transpose kernel must have known dimensions, got %s", k)
	}
	kh, kw, kout, kin := k.Shape[0].Size, k.Shape[1].Size, k.Shape[2].Size, k.Shape[3].Size
	if c := x.Shape[3]; !c.Known() || c.Size != kin {
		return Type{}, typeErr("", "conv2d_transpose kernel %s expects %d input channels, got %s in %s", k, kin, c, x)
	}
	if len(in) == 3 && !in[2].Shape.Equal(Shape{D(kout)}) {
		return Type{}, typeErr("", "conv2d_transpose bias must be [%d], got %s", kout, in[2])
	}
	if err := a.validate("conv2d_transpose", kh, kw); err != nil {
		return Type{}, err
	}
	for i, p := range a.OutputPadding {
		if p < 0 || p >= max(a.Stride[i], a.Dilation[i]) {
			return Type{}, typeErr("output_padding picks one of the stride's output sizes: 0 to stride-1",
				"conv2d_transpose output_padding %s must be below the stride %s (or the dilation)", pair(a.OutputPadding), pair(a.Stride))
		}
	}
	if a.Padding == Same && a.OutputPadding != [2]int{} {
		return Type{}, typeErr("padding=same makes the output input·stride; give explicit pads to choose another size",
			"conv2d_transpose output_padding %s needs valid or explicit padding", pair(a.OutputPadding))
	}
	h, wd := x.Shape[1], x.Shape[2]
	if !h.Known() || !wd.Known() {
		return Type{}, typeErr("give the input a fixed height and width", "conv2d_transpose needs a known height and width, got %s", x)
	}
	// validate bounds strides, dilations and kernels by MaxElements; so
	// bounding the input keeps (h-1)·stride + (k-1)·dilation in range.
	if h.Size > MaxElements/a.Stride[0] || wd.Size > MaxElements/a.Stride[1] {
		return Type{}, typeErr("", "conv2d_transpose output of %s with stride %s is too large", x, pair(a.Stride))
	}
	_, oh, ow := a.Geometry(h.Size, wd.Size, kh, kw)
	if oh < 1 || ow < 1 {
		return Type{}, typeErr("crop fewer cells", "conv2d_transpose pads %v crop all of the %dx%d output", a.Pads, oh+a.Pads[0]+a.Pads[1], ow+a.Pads[2]+a.Pads[3])
	}
	return Type{DType: x.DType, Shape: Shape{x.Shape[0], D(oh), D(ow), D(kout)}}, nil
}

// flopsConvTranspose: every input cell times the whole kernel, a
// multiply-add each, and the bias once per output.
func flopsConvTranspose(n *Node) count {
	f := of(2).times(elems(n.Inputs[0].Type.Shape)).times(elems(n.Inputs[1].Type.Shape[:3]))
	if len(n.Inputs) == 3 {
		f = f.plus(elems(n.Outputs[0].Type.Shape))
	}
	return f
}

func (*ConvTransposeAttrs) parseAttrs(p *parser) (Attrs, error) {
	a := &ConvTransposeAttrs{}
	return a, a.Window2D.parseWindow(p, false, opt("output_padding", fixedInts(a.OutputPadding[:])))
}
