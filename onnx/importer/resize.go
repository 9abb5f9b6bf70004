package importer

import (
	"fmt"
	"math"
	"strconv"

	"github.com/mdlc/mdlc/onnx"
)

func init() {
	register("Pad", 1, pad)
	register("Pad", 11, pad)
	register("Resize", 10, resize)
	register("Upsample", 7, resize)
	register("Tile", 6, tile)
}

// pad pads the spatial axes of an image: mdlc's pad layer on NHWC.
func pad(im *importer, n *onnx.Node) error {
	x, err := im.need(n, 0)
	if err != nil {
		return err
	}
	r := x.rank()
	var pads []int64
	value := float64(attrFloat(n, "value", 0))
	if im.opset < 11 {
		if pads, _ = attrInts(n, "pads"); pads == nil {
			pads, _ = attrInts(n, "paddings")
		}
	} else {
		p, err := im.need(n, 1)
		if err != nil {
			return err
		}
		var ok bool
		if pads, ok = p.ints(); !ok || p.ref != "" {
			return fmt.Errorf("its pads are computed at run time")
		}
		if c := im.in(n, 2); c != nil {
			if value, ok = c.scalarValue(); !ok || c.ref != "" {
				return fmt.Errorf("its constant value is computed at run time")
			}
		}
		if a := im.in(n, 3); a != nil {
			axes, _, err := axesOf(im, n, 18, 3, r)
			if err != nil {
				return err
			}
			full := make([]int64, 2*r)
			for i, ax := range axes {
				full[ax], full[r+ax] = pads[i], pads[len(axes)+i]
			}
			pads = full
		}
	}
	if len(pads) != 2*r {
		return fmt.Errorf("%d pads for rank %d", len(pads), r)
	}
	zero := true
	for i, p := range pads {
		if p < 0 {
			return fmt.Errorf("negative pads %v crop; mdlc's pad adds", pads)
		}
		if p > 0 {
			zero = false
			if a := i % r; r != 4 || a < 2 {
				return fmt.Errorf("pads %v reach axis %d; mdlc pads the height and width of images", pads, a)
			}
		}
	}
	if zero {
		return identity(im, n)
	}
	mode := attrString(n, "mode", "constant")
	var args []string
	args = append(args, fmt.Sprintf("[[%d, %d], [%d, %d]]", pads[2], pads[r+2], pads[3], pads[r+3]))
	switch {
	case mode == "constant" && value == 0:
	case mode == "constant":
		args = append(args, `mode="constant"`, "value="+number(value))
	case mode == "reflect" || mode == "edge":
		args = append(args, `mode="`+mode+`"`)
	default:
		return fmt.Errorf("mode %q: mdlc pads with constant, reflect or edge", mode)
	}
	xs, err := im.channelsLastOf(x)
	if err != nil {
		return err
	}
	shape := []dim{x.shape[0], x.shape[1]}
	for a := 2; a < 4; a++ {
		d := x.shape[a]
		if !d.isKnown() {
			return fmt.Errorf("the spatial size %s is dynamic: fix it with --dim", d)
		}
		shape = append(shape, known(d.n+pads[a]+pads[r+a]))
	}
	im.set(n, 0, im.emit(n, "pad", "pad", xs.ref, args, shape, true))
	return nil
}

// resize reads Resize (opset 10 on) and Upsample: the height and width of
// an image, nearest or bilinear, where ONNX's coordinate rule and rounding
// are ones mdlc's resize has (ir.Coordinates).
func resize(im *importer, n *onnx.Node) error {
	x, err := im.need(n, 0)
	if err != nil {
		return err
	}
	if x.rank() != 4 || !x.shape[2].isKnown() || !x.shape[3].isKnown() {
		return fmt.Errorf("mdlc resizes images of known height and width; got %s", shapeString(x.shape))
	}
	var scales []float32
	var sizes []int64
	switch {
	case n.OpType == "Upsample" && im.opset < 9:
		a := n.Attr("scales")
		if a == nil {
			return fmt.Errorf("it has no scales")
		}
		scales = a.Floats
	case n.OpType == "Upsample" || im.opset < 11:
		s, err := im.need(n, 1)
		if err != nil {
			return err
		}
		if s.ref != "" {
			return fmt.Errorf("its scales are computed at run time")
		}
		scales = s.floats()
	default:
		if s := im.in(n, 2); s != nil && len(s.shape) > 0 && s.shape[0].n > 0 {
			if s.ref != "" {
				return fmt.Errorf("its scales are computed at run time")
			}
			scales = s.floats()
		}
		if s := im.in(n, 3); s != nil {
			var ok bool
			if sizes, ok = s.ints(); !ok || s.ref != "" {
				return fmt.Errorf("its sizes are computed at run time")
			}
		}
	}
	h, w := x.shape[2].n, x.shape[3].n
	var oh, ow int64
	switch {
	case len(sizes) == 4:
		if sizes[0] != x.shape[0].n || sizes[1] != x.shape[1].n {
			return fmt.Errorf("sizes %v resize the batch or channel axis", sizes)
		}
		oh, ow = sizes[2], sizes[3]
	case len(scales) == 4:
		if scales[0] != 1 || scales[1] != 1 {
			return fmt.Errorf("scales %v resize the batch or channel axis", scales)
		}
		oh, ow = int64(math.Floor(float64(h)*float64(scales[2]))), int64(math.Floor(float64(w)*float64(scales[3])))
		if float64(oh) != float64(h)*float64(scales[2]) || float64(ow) != float64(w)*float64(scales[3]) {
			return fmt.Errorf("scales %v do not give whole sizes; ONNX then maps coordinates by the scale, mdlc by the sizes", scales)
		}
	default:
		return fmt.Errorf("it gives neither 4 scales nor 4 sizes")
	}
	if oh < 1 || ow < 1 {
		return fmt.Errorf("output size %dx%d", oh, ow)
	}
	mode := attrString(n, "mode", "nearest")
	coords := attrString(n, "coordinate_transformation_mode", "half_pixel")
	if n.OpType == "Upsample" || im.opset < 11 {
		coords = "asymmetric"
	}
	nearest := attrString(n, "nearest_mode", "round_prefer_floor")
	if n.OpType == "Upsample" || im.opset < 11 {
		nearest = "floor" // what opset 10 and Upsample compute for their integer scales
	}
	var mdlMode, mdlCoords string
	switch mode {
	case "nearest":
		mdlMode = "nearest"
		switch {
		case coords == "asymmetric" && (nearest == "floor" || nearest == "round_prefer_floor" && oh%h == 0 && ow%w == 0):
			// Positions o/s of an integer upscale are whole or halves: floor
			// and round-half-down agree.
			mdlCoords = "asymmetric"
		case (coords == "half_pixel" || coords == "pytorch_half_pixel" && oh > 1 && ow > 1) && nearest == "round_prefer_ceil":
			mdlCoords = "half_pixel"
		default:
			return fmt.Errorf("nearest with %s coordinates and %s rounding: mdlc's nearest floors asymmetric positions and rounds others half up", coords, nearest)
		}
	case "linear", "bilinear":
		mdlMode = "bilinear"
		switch {
		case coords == "half_pixel", coords == "pytorch_half_pixel" && oh > 1 && ow > 1:
			mdlCoords = "half_pixel"
		case coords == "align_corners", coords == "asymmetric":
			mdlCoords = coords
		default:
			return fmt.Errorf("linear with %s coordinates: mdlc's bilinear takes half_pixel, align_corners or asymmetric", coords)
		}
		if attrInt(n, "antialias", 0) != 0 {
			return fmt.Errorf("antialias: mdlc's bilinear does not filter when shrinking")
		}
	default:
		return fmt.Errorf("mode %q: mdlc resizes nearest or bilinear", mode)
	}
	xs, err := im.channelsLastOf(x)
	if err != nil {
		return err
	}
	args := []string{"size=[" + strconv.FormatInt(oh, 10) + ", " + strconv.FormatInt(ow, 10) + "]", `mode="` + mdlMode + `"`, `coordinates="` + mdlCoords + `"`}
	im.set(n, 0, im.emit(n, "resize", "resize", xs.ref, args, []dim{x.shape[0], x.shape[1], known(oh), known(ow)}, true))
	return nil
}

// tile repeats x along each axis: constants folded, run-time values as
// concatenations of copies.
func tile(im *importer, n *onnx.Node) error {
	x, err := im.need(n, 0)
	if err != nil {
		return err
	}
	rv, err := im.need(n, 1)
	if err != nil {
		return err
	}
	reps, ok := rv.ints()
	if !ok || rv.ref != "" || len(reps) != x.rank() {
		return fmt.Errorf("its repeats must be known, one per axis")
	}
	v := x
	for a, k := range reps {
		if k < 1 || k > 1<<16 {
			return fmt.Errorf("repeat %d on axis %d", k, a)
		}
		if k == 1 {
			continue
		}
		shape := append([]dim(nil), v.shape...)
		if shape[a], err = dimOp("Mul", shape[a], known(k)); err != nil {
			return err
		}
		if v.ref == "" {
			copies := make([]*val, k)
			for i := range copies {
				copies[i] = v
			}
			total, _ := numel(shape)
			if err := im.fold(total); err != nil {
				return err
			}
			v = concatConst(copies, a, shape)
			continue
		}
		args := make([]string, 0, k+1)
		for range k {
			args = append(args, v.ref)
		}
		args = append(args, "axis="+strconv.Itoa(v.physicalAxis(a)))
		nv := im.emit(n, "tile", "concat", "", args, shape, v.channelsLast)
		nv.isInt = v.isInt
		v = nv
	}
	im.set(n, 0, v)
	return nil
}
