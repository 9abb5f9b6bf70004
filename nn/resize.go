package nn

import (
	"math"
	"strconv"

	"github.com/mdlc/mdlc/ir"
)

// Resize resizes the height and width of NHWC images to Size, or by Scale
// (output floor(input·scale), which needs a known input size): exactly one
// of the two is set. Coordinates are as ir.Coordinates says; the position
// of an output cell uses the ratio input/output, which for an integer
// scale is 1/scale, as every framework has it.
type Resize struct {
	Size        [2]int
	Scale       [2]float64
	Mode        ir.ResizeMode
	Coordinates ir.Coordinates
}

// Upsampling is Keras's UpSampling2D: each axis times Size, nearest
// (asymmetric: PyTorch's nn.Upsample default too) or, if Bilinear,
// half_pixel (TF2, PyTorch's align_corners=False).
type Upsampling struct {
	Size     [2]int
	Bilinear bool
}

// Apply adds the resize op.
func (r Resize) Apply(l *Layer, x *ir.Value) (*ir.Value, error) {
	if err := needImage("resize", x); err != nil {
		return nil, err
	}
	size := r.Size
	switch {
	case (r.Size != [2]int{}) == (r.Scale != [2]float64{}):
		return nil, &ir.TypeError{Msg: "resize takes size or scale, not both", Help: "resize(size=[64, 64]) gives that size, resize(scale=2) twice the input's"}
	case r.Size != [2]int{}:
		if err := positive("resize", "size", r.Size[:]...); err != nil {
			return nil, err
		}
	default:
		for i, s := range r.Scale {
			d := x.Type.Shape[1+i]
			if !(s > 0) || s > ir.MaxElements {
				return nil, &ir.TypeError{Msg: "resize: scale must be positive, got " + formatFloat(s), Help: "scale=2 doubles the height and width, scale=0.5 halves them"}
			}
			if !d.Known() {
				return nil, &ir.TypeError{Msg: "resize by scale needs a known height and width, got " + x.Type.String(), Help: "give size= instead"}
			}
			if r.Mode == ir.Nearest && r.Coordinates == ir.Asymmetric && s != math.Trunc(s) {
				return nil, &ir.TypeError{Msg: "resize: nearest with asymmetric coordinates and the non-integer scale " + formatFloat(s) + " picks different cells in different frameworks",
					Help: "PyTorch's mode=\"nearest\" steps by 1/scale, TensorFlow and ONNX by input/output: give size= (the latter), or an integer scale, where they agree"}
			}
			size[i] = int(math.Floor(float64(d.Size) * s))
			if size[i] < 1 || float64(d.Size)*s > ir.MaxElements {
				return nil, &ir.TypeError{Msg: "resize: scale " + formatFloat(s) + " of " + x.Type.String() + " leaves no cells or too many", Help: "choose a scale that keeps the size 1 to 2^40"}
			}
		}
	}
	return l.Node(ir.OpResize, &ir.ResizeAttrs{Mode: r.Mode, Coordinates: r.Coordinates, Size: size}, x)
}

// Apply is Resize's with the scale Size.
func (u Upsampling) Apply(l *Layer, x *ir.Value) (*ir.Value, error) {
	if err := positive("upsampling2d", "size", u.Size[:]...); err != nil {
		return nil, err
	}
	r := Resize{Scale: [2]float64{float64(u.Size[0]), float64(u.Size[1])}, Coordinates: ir.Asymmetric}
	if u.Bilinear {
		r.Mode, r.Coordinates = ir.Bilinear, ir.HalfPixel
	}
	return r.Apply(l, x)
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
