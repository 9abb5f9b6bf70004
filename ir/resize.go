package ir

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// ResizeMode is how a resized image reads its input: the nearest cell, or
// bilinear interpolation of the four around.
type ResizeMode uint8

const (
	Nearest ResizeMode = iota
	Bilinear
)

var resizeModeNames = [...]string{Nearest: "nearest", Bilinear: "bilinear"}

func (m ResizeMode) String() string {
	if int(m) < len(resizeModeNames) {
		return resizeModeNames[m]
	}
	return fmt.Sprintf("resize_mode(%d)", m)
}

// ParseResizeMode maps a mode's name to a ResizeMode.
func ParseResizeMode(s string) (ResizeMode, bool) {
	i := slices.Index(resizeModeNames[:], s)
	return ResizeMode(i), i >= 0
}

// Coordinates maps an output index to a position in the input, ONNX
// Resize's coordinate_transformation_mode, with r = in/out on the axis:
//
//	HalfPixel     (o + 0.5)·r - 0.5   PyTorch align_corners=False, TF2
//	AlignCorners  o·(in-1)/(out-1)    PyTorch and TF1 align_corners=True (0 if out = 1)
//	Asymmetric    o·r                 TF1's default, Keras's UpSampling2D nearest, PyTorch mode="nearest"
//
// Nearest takes floor of the position for Asymmetric (PyTorch's "nearest",
// TF1) and rounds half up otherwise (floor(o·r + r/2) for HalfPixel:
// PyTorch's "nearest-exact"); bilinear clamps the position into the input
// and blends the two cells around it on each axis.
type Coordinates uint8

const (
	HalfPixel Coordinates = iota
	AlignCorners
	Asymmetric
)

var coordinatesNames = [...]string{HalfPixel: "half_pixel", AlignCorners: "align_corners", Asymmetric: "asymmetric"}

func (c Coordinates) String() string {
	if int(c) < len(coordinatesNames) {
		return coordinatesNames[c]
	}
	return fmt.Sprintf("coordinates(%d)", c)
}

// ParseCoordinates maps a coordinate rule's name to its Coordinates.
func ParseCoordinates(s string) (Coordinates, bool) {
	i := slices.Index(coordinatesNames[:], s)
	return Coordinates(i), i >= 0
}

// CoordinatesNames lists the rules' names, for messages.
func CoordinatesNames() string { return strings.Join(coordinatesNames[:], ", ") }

// Source is the input position output index o maps to, on an axis of in
// cells resized to out.
func (c Coordinates) Source(o, in, out int) float64 {
	r := float64(in) / float64(out)
	switch c {
	case AlignCorners:
		if out == 1 {
			return 0
		}
		return float64(o) * float64(in-1) / float64(out-1)
	case Asymmetric:
		return float64(o) * r
	}
	return (float64(o)+0.5)*r - 0.5
}

// NearestIndex is the input cell nearest mode reads for output index o.
func (c Coordinates) NearestIndex(o, in, out int) int {
	x := c.Source(o, in, out)
	if c != Asymmetric {
		x += 0.5
	}
	return min(max(int(math.Floor(x)), 0), in-1)
}

// Linear is the two input cells bilinear mode blends for output index o,
// and the weight of the second.
func (c Coordinates) Linear(o, in, out int) (i0, i1 int, frac float64) {
	x := min(max(c.Source(o, in, out), 0), float64(in-1))
	i0 = int(math.Floor(x))
	return i0, min(i0+1, in-1), x - float64(i0)
}

// ResizeAttrs resize the height and width of (N, H, W, C) to Size.
type ResizeAttrs struct {
	Mode        ResizeMode
	Coordinates Coordinates
	Size        [2]int
}

func (a *ResizeAttrs) String() string {
	return fmt.Sprintf("mode=%s coordinates=%s size=%s", a.Mode, a.Coordinates, pair(a.Size))
}

func inferResize(at Attrs, in []Type) (Type, error) {
	a, x := at.(*ResizeAttrs), in[0]
	if err := needRank("resize", x, 4, "(N, height, width, channels)"); err != nil {
		return Type{}, err
	}
	if a.Mode > Bilinear || a.Coordinates > Asymmetric {
		return Type{}, typeErr("", "resize: unknown mode %d or coordinates %d", a.Mode, a.Coordinates)
	}
	for _, s := range a.Size {
		if s < 1 || s > MaxElements {
			return Type{}, typeErr("", "resize: output size %s must be 1 to 2^40", pair(a.Size))
		}
	}
	return Type{DType: x.DType, Shape: Shape{x.Shape[0], D(a.Size[0]), D(a.Size[1]), x.Shape[3]}}, nil
}

// flopsResize: nearest copies; bilinear blends two cells on each axis, three
// lerps of two flops and a multiply-add each, about 7 with the weights.
func flopsResize(n *Node) count {
	if n.Attrs.(*ResizeAttrs).Mode == Nearest {
		return of(0)
	}
	return flopsPerOutput(7)(n)
}

func (*ResizeAttrs) parseAttrs(p *parser) (Attrs, error) {
	a := &ResizeAttrs{}
	mode := func(p *parser) error {
		w, err := p.word("a resize mode")
		if err != nil {
			return err
		}
		m, ok := ParseResizeMode(w)
		if !ok {
			return p.errorf("unknown resize mode %q: want %s", w, strings.Join(resizeModeNames[:], ", "))
		}
		a.Mode = m
		return nil
	}
	coords := func(p *parser) error {
		w, err := p.word("a coordinate rule")
		if err != nil {
			return err
		}
		c, ok := ParseCoordinates(w)
		if !ok {
			return p.errorf("unknown coordinates %q: want %s", w, CoordinatesNames())
		}
		a.Coordinates = c
		return nil
	}
	return a, p.fields(req("mode", mode), req("coordinates", coords), req("size", fixedInts(a.Size[:])))
}
