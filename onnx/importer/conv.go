package importer

import (
	"fmt"
	"math"
	"strconv"

	"github.com/mdlc/mdlc/onnx"
	"github.com/mdlc/mdlc/tensor"
)

func init() {
	register("Conv", 1, conv)
	register("ConvTranspose", 1, convTranspose)
	register("MaxPool", 1, pool(false))
	register("AveragePool", 1, pool(true))
	register("GlobalAveragePool", 1, globalPool("reduce_mean"))
	register("GlobalMaxPool", 1, globalPool("reduce_max"))
	register("BatchNormalization", 1, batchNorm)
	register("InstanceNormalization", 1, instanceNorm)
}

// window is a sliding window's geometry on the spatial axes, as ONNX's
// attributes give it.
type window struct {
	kernel, strides, dilations []int
	begin, end                 []int // pads before and after each axis
}

// readWindow reads kernel_shape (or the weight's), strides, dilations,
// pads and auto_pad, resolving SAME_* against the input's sizes.
func readWindow(n *onnx.Node, spatial []dim, kernel []int64) (*window, error) {
	r := len(spatial)
	if ks, ok := attrInts(n, "kernel_shape"); ok {
		kernel = ks
	}
	if len(kernel) != r {
		return nil, fmt.Errorf("kernel_shape %v does not fit %d spatial axes", kernel, r)
	}
	w := &window{}
	get := func(name string, def int64, count int) ([]int, error) {
		v, ok := attrInts(n, name)
		if !ok {
			out := make([]int, count)
			for i := range out {
				out[i] = int(def)
			}
			return out, nil
		}
		if len(v) != count {
			return nil, fmt.Errorf("%s has %d values, not %d", name, len(v), count)
		}
		out := make([]int, count)
		for i, x := range v {
			if x < 0 || x > 1<<20 {
				return nil, fmt.Errorf("%s holds %d", name, x)
			}
			out[i] = int(x)
		}
		return out, nil
	}
	var err error
	if w.strides, err = get("strides", 1, r); err != nil {
		return nil, err
	}
	if w.dilations, err = get("dilations", 1, r); err != nil {
		return nil, err
	}
	for i, k := range kernel {
		if k < 1 || k > 1<<20 || w.strides[i] < 1 || w.dilations[i] < 1 {
			return nil, fmt.Errorf("kernel %v, strides %v, dilations %v: each must be at least 1", kernel, w.strides, w.dilations)
		}
		w.kernel = append(w.kernel, int(k))
	}
	pads, err := get("pads", 0, 2*r)
	if err != nil {
		return nil, err
	}
	w.begin, w.end = pads[:r], pads[r:]
	switch ap := attrString(n, "auto_pad", "NOTSET"); ap {
	case "NOTSET", "":
	case "VALID":
		w.begin, w.end = make([]int, r), make([]int, r)
	case "SAME_UPPER", "SAME_LOWER":
		for i, d := range spatial {
			if !d.isKnown() {
				return nil, fmt.Errorf("auto_pad %s on the dynamic size %s: fix it with --dim", ap, d)
			}
			in, s := int(d.n), w.strides[i]
			total := max(((in+s-1)/s-1)*s+(w.kernel[i]-1)*w.dilations[i]+1-in, 0)
			small, big := total/2, total-total/2
			if ap == "SAME_UPPER" {
				w.begin[i], w.end[i] = small, big
			} else {
				w.begin[i], w.end[i] = big, small
			}
		}
	default:
		return nil, fmt.Errorf("unknown auto_pad %q", ap)
	}
	return w, nil
}

// out is the output size on axis i of a convolution or pool.
func (w *window) out(i int, in dim, ceil bool) (dim, error) {
	if !in.isKnown() {
		return dim{}, fmt.Errorf("the spatial size %s is dynamic: fix it with --dim", in)
	}
	span := int(in.n) + w.begin[i] + w.end[i] - (w.kernel[i]-1)*w.dilations[i] - 1
	if span < 0 {
		return dim{}, fmt.Errorf("the window (kernel %d, dilation %d) is larger than the padded input (%d)", w.kernel[i], w.dilations[i], int(in.n)+w.begin[i]+w.end[i])
	}
	o := span/w.strides[i] + 1
	if ceil && span%w.strides[i] != 0 {
		o++
		// The last window must start inside the input or its leading pad.
		if (o-1)*w.strides[i] >= int(in.n)+w.begin[i] {
			o--
		}
	}
	return known(int64(o)), nil
}

// paddingArg writes the window's pads as mdlc's padding= argument, "" for
// none.
func (w *window) paddingArg() string {
	zero, sym := true, true
	for i := range w.begin {
		zero = zero && w.begin[i] == 0 && w.end[i] == 0
		sym = sym && w.begin[i] == w.end[i]
	}
	switch {
	case zero:
		return ""
	case len(w.begin) == 1 && sym:
		return "padding=" + strconv.Itoa(w.begin[0])
	case len(w.begin) == 1:
		return "padding=" + intList([]int{w.begin[0], w.end[0]})
	case sym && w.begin[0] == w.begin[1]:
		return "padding=" + strconv.Itoa(w.begin[0])
	case sym:
		return "padding=" + intList(w.begin)
	}
	return fmt.Sprintf("padding=[%s, %s]", intList([]int{w.begin[0], w.end[0]}), intList([]int{w.begin[1], w.end[1]}))
}

// pair writes a per-axis argument: one number when the axes agree.
func pair(name string, v []int, def int) string {
	same := true
	for _, x := range v {
		same = same && x == v[0]
	}
	if same && v[0] == def {
		return ""
	}
	if same {
		return name + "=" + strconv.Itoa(v[0])
	}
	return name + "=" + intList(v)
}

func appendNonEmpty(args []string, more ...string) []string {
	for _, a := range more {
		if a != "" {
			args = append(args, a)
		}
	}
	return args
}

// constWeight is input i as a constant with a known shape.
func (im *importer) constWeight(n *onnx.Node, i int, what string) (*val, []int, error) {
	v, err := im.need(n, i)
	if err != nil {
		return nil, nil, err
	}
	if v.ref != "" || v.c == nil {
		return nil, nil, fmt.Errorf("its %s is computed at run time; mdlc needs it as a weight (an initializer)", what)
	}
	dims := make([]int, len(v.shape))
	for j, d := range v.shape {
		dims[j] = int(d.n)
	}
	return v, dims, nil
}

func conv(im *importer, n *onnx.Node) error {
	x, err := im.need(n, 0)
	if err != nil {
		return err
	}
	w, wd, err := im.constWeight(n, 1, "weight")
	if err != nil {
		return err
	}
	r := x.rank()
	if r < 3 || r > 5 || len(wd) != r {
		return fmt.Errorf("mdlc imports 1-D, 2-D and 3-D convolutions; this one has input %s and weight %v", shapeString(x.shape), wd)
	}
	kernel := make([]int64, r-2)
	for i := range kernel {
		kernel[i] = int64(wd[i+2])
	}
	win, err := readWindow(n, x.shape[2:], kernel)
	if err != nil {
		return err
	}
	groups := int(attrInt(n, "group", 1))
	cin, filters := x.shape[1], wd[0]
	if !cin.isKnown() || groups < 1 || int(cin.n) != wd[1]*groups || filters%groups != 0 {
		return fmt.Errorf("input channels %s, weight %v and group %d do not fit together", cin, wd, groups)
	}
	shape := []dim{x.shape[0], known(int64(filters))}
	for i := range r - 2 {
		o, err := win.out(i, x.shape[2+i], false)
		if err != nil {
			return err
		}
		shape = append(shape, o)
	}
	xs, err := im.channelsLastOf(x)
	if err != nil {
		return err
	}
	if r == 5 {
		return im.conv3d(n, xs, w, wd, win, groups, shape)
	}
	name := im.layerName(n, 1)
	var call string
	var args []string
	var data []float32
	var kdims []int
	depthwise := r == 4 && groups > 1 && groups == int(cin.n)
	switch {
	case r == 3:
		call = "conv1d"
		args = []string{strconv.Itoa(filters), "kernel=" + strconv.Itoa(win.kernel[0])}
		args = appendNonEmpty(args, pair("strides", win.strides, 1), win.paddingArg(), pair("dilation", win.dilations, 1))
		if groups > 1 {
			args = append(args, "groups="+strconv.Itoa(groups))
		}
		data, kdims = tensor.Permute(w.floats(), wd, []int{2, 1, 0}), []int{wd[2], wd[1], wd[0]}
	case depthwise:
		call = "depthwise_conv2d"
		args = []string{"kernel=" + kernelArg(win.kernel)}
		args = appendNonEmpty(args, pair("strides", win.strides, 1), win.paddingArg(), pair("dilation", win.dilations, 1))
		if m := filters / groups; m > 1 {
			args = append(args, "multiplier="+strconv.Itoa(m))
		}
		data, kdims = tensor.Permute(w.floats(), wd, []int{2, 3, 1, 0}), []int{wd[2], wd[3], groups, filters / groups}
	default:
		call = "conv2d"
		args = []string{strconv.Itoa(filters), "kernel=" + kernelArg(win.kernel)}
		args = appendNonEmpty(args, pair("strides", win.strides, 1), win.paddingArg(), pair("dilation", win.dilations, 1))
		if groups > 1 {
			args = append(args, "groups="+strconv.Itoa(groups))
		}
		data, kdims = tensor.Permute(w.floats(), wd, []int{2, 3, 1, 0}), []int{wd[2], wd[3], wd[1], wd[0]}
	}
	if err := im.weight(name+".kernel", kdims, data); err != nil {
		return err
	}
	args, err = im.convBias(n, name, filters, args)
	if err != nil {
		return err
	}
	out := im.w.name(name)
	im.w.add(&stmt{outs: []string{out}, call: call, in: xs.ref, args: args, as: name, comment: comment(n)})
	im.set(n, 0, &val{ref: out, shape: shape, channelsLast: true})
	return nil
}

// conv3d is a 3-D convolution of x [N, C, D, H, W] (held [N, D, H, W, C])
// as one 2-D convolution: for each kernel depth kd, the input depths
// od·stride + kd·dilation of every output depth od (after the depth's zero
// padding) are stacked into [N, Dout, H, W, C], the kD stacks are joined on
// the channels (group by group, for grouped convolutions), and a 2-D
// convolution of the N·Dout images [H, W, kD·C] with the kernel
// K[kh, kw, kd·C/g + c, o] = W[o, c, kd, kh, kw] gives [N, Dout, Hout,
// Wout, O]: y[od] = Σ_kd conv2d(x[od·s + kd·d], W[:, :, kd]).
func (im *importer) conv3d(n *onnx.Node, xs, w *val, wd []int, win *window, groups int, shape []dim) error {
	dims := make([]int, 5)
	for i, d := range xs.physical() {
		if !d.isKnown() {
			return fmt.Errorf("a 3-D convolution of %s: mdlc writes it as a 2-D one over depth slices, which needs every size known (fix it with --dim)", shapeString(xs.shape))
		}
		dims[i] = int(d.n)
	}
	batch, depth, h, wdt, c := dims[0], dims[1], dims[2], dims[3], dims[4]
	filters, cg, kd, kh, kw := wd[0], wd[1], wd[2], wd[3], wd[4]
	outD := int(shape[2].n)
	if steps := int64(outD)*int64(kd) + int64(kd)*int64(groups); steps > 4096 {
		return fmt.Errorf("a 3-D convolution taking %d depth slices; mdlc imports shallower ones", steps)
	}
	src := xs.ref
	if pb, pe := win.begin[0], win.end[0]; pb > 0 || pe > 0 {
		// pad takes [N, H, W, C]: the depth is padded as a height, with
		// height and width flattened as the width.
		flat := im.emit(n, "depth_rows", "reshape", src, []string{intList([]int{depth, h * wdt, c})}, nil, false)
		padded := im.emit(n, "depth_padded", "pad", flat.ref, []string{fmt.Sprintf("padding=[[%d, %d], [0, 0]]", pb, pe)}, nil, false)
		depth += pb + pe
		src = im.emit(n, "depth_padded", "reshape", padded.ref, []string{intList([]int{depth, h, wdt, c})}, nil, false).ref
	}
	slice := map[int]string{}
	at := func(d int) string {
		if slice[d] == "" {
			slice[d] = im.emit(n, "depth", "slice", src, []string{strconv.Itoa(d), strconv.Itoa(d + 1), "axis=1"}, nil, false).ref
		}
		return slice[d]
	}
	stacks := make([]string, kd)
	for k := range kd {
		var parts []string
		for o := range outD {
			parts = append(parts, at(o*win.strides[0]+k*win.dilations[0]))
		}
		stacks[k] = parts[0]
		if len(parts) > 1 {
			stacks[k] = im.emit(n, "depth_stack", "concat", "", append(parts, "axis=1"), nil, false).ref
		}
	}
	var channels []string
	for g := range groups {
		for k := range kd {
			s := stacks[k]
			if groups > 1 {
				s = im.emit(n, "group", "slice", s, []string{strconv.Itoa(g * cg), strconv.Itoa((g + 1) * cg), "axis=4"}, nil, false).ref
			}
			channels = append(channels, s)
		}
	}
	joined := channels[0]
	if len(channels) > 1 {
		joined = im.emit(n, "depth_channels", "concat", "", append(channels, "axis=4"), nil, false).ref
	}
	images := im.emit(n, "depth_images", "reshape", joined, []string{intList([]int{batch * outD, h, wdt, kd * c}), "keep_batch=false"}, nil, false)
	hw := &window{kernel: win.kernel[1:], strides: win.strides[1:], dilations: win.dilations[1:], begin: win.begin[1:], end: win.end[1:]}
	args := []string{strconv.Itoa(filters), "kernel=" + kernelArg(hw.kernel)}
	args = appendNonEmpty(args, pair("strides", hw.strides, 1), hw.paddingArg(), pair("dilation", hw.dilations, 1))
	if groups > 1 {
		args = append(args, "groups="+strconv.Itoa(groups))
	}
	// K[i, j, k·cg + ci, o] = W[o, ci, k, i, j]
	src5 := w.floats()
	kernel := make([]float32, len(src5))
	in := kd * cg
	for o := range filters {
		for ci := range cg {
			for k := range kd {
				for i := range kh {
					for j := range kw {
						kernel[((i*kw+j)*in+k*cg+ci)*filters+o] = src5[(((o*cg+ci)*kd+k)*kh+i)*kw+j]
					}
				}
			}
		}
	}
	name := im.layerName(n, 1)
	if err := im.weight(name+".kernel", []int{kh, kw, in, filters}, kernel); err != nil {
		return err
	}
	args, err := im.convBias(n, name, filters, args)
	if err != nil {
		return err
	}
	ref := im.w.name(name)
	im.w.add(&stmt{outs: []string{ref}, call: "conv2d", in: images.ref, args: args, as: name, comment: comment(n)})
	out := im.emit(n, name, "reshape", ref, []string{intList([]int{batch, outD, int(shape[3].n), int(shape[4].n), filters}), "keep_batch=false"}, nil, false)
	out.shape, out.channelsLast = shape, true
	im.set(n, 0, out)
	return nil
}

func kernelArg(k []int) string {
	if len(k) == 2 && k[0] == k[1] {
		return strconv.Itoa(k[0])
	}
	return intList(k)
}

func convTranspose(im *importer, n *onnx.Node) error {
	x, err := im.need(n, 0)
	if err != nil {
		return err
	}
	w, wd, err := im.constWeight(n, 1, "weight")
	if err != nil {
		return err
	}
	if x.rank() != 4 || len(wd) != 4 {
		return fmt.Errorf("mdlc imports 2-D transposed convolutions; this one has input %s and weight %v", shapeString(x.shape), wd)
	}
	if g := attrInt(n, "group", 1); g != 1 {
		return fmt.Errorf("group %d: mdlc's conv2d_transpose has no groups", g)
	}
	if _, ok := attrInts(n, "output_shape"); ok {
		return fmt.Errorf("output_shape is given; mdlc takes pads and output_padding (re-export without output_shape)")
	}
	if ap := attrString(n, "auto_pad", "NOTSET"); ap != "NOTSET" && ap != "VALID" {
		return fmt.Errorf("auto_pad %s: mdlc imports explicit pads for transposed convolutions", ap)
	}
	win, err := readWindow(n, x.shape[2:], []int64{int64(wd[2]), int64(wd[3])})
	if err != nil {
		return err
	}
	outPad := []int{0, 0}
	if op, ok := attrInts(n, "output_padding"); ok {
		if len(op) != 2 {
			return fmt.Errorf("output_padding %v", op)
		}
		outPad = []int{int(op[0]), int(op[1])}
	}
	if !x.shape[1].isKnown() || int(x.shape[1].n) != wd[0] {
		return fmt.Errorf("input channels %s do not fit weight %v", x.shape[1], wd)
	}
	filters := wd[1]
	shape := []dim{x.shape[0], known(int64(filters))}
	for i := range 2 {
		in := x.shape[2+i]
		if !in.isKnown() {
			return fmt.Errorf("the spatial size %s is dynamic: fix it with --dim", in)
		}
		o := (int(in.n)-1)*win.strides[i] + (win.kernel[i]-1)*win.dilations[i] + 1 - win.begin[i] - win.end[i] + outPad[i]
		shape = append(shape, known(int64(o)))
	}
	xs, err := im.channelsLastOf(x)
	if err != nil {
		return err
	}
	name := im.layerName(n, 1)
	args := []string{strconv.Itoa(filters), "kernel=" + kernelArg(win.kernel)}
	args = appendNonEmpty(args, pair("strides", win.strides, 1), win.paddingArg(), pair("output_padding", outPad, 0), pair("dilation", win.dilations, 1))
	if err := im.weight(name+".kernel", []int{wd[2], wd[3], wd[1], wd[0]}, tensor.Permute(w.floats(), wd, []int{2, 3, 1, 0})); err != nil {
		return err
	}
	if b := im.in(n, 2); b != nil {
		bv, bd, err := im.constWeight(n, 2, "bias")
		if err != nil {
			return err
		}
		if err := im.weight(name+".bias", bd, bv.floats()); err != nil {
			return err
		}
	} else {
		args = append(args, "use_bias=false")
	}
	out := im.w.name(name)
	im.w.add(&stmt{outs: []string{out}, call: "conv2d_transpose", in: xs.ref, args: args, as: name, comment: comment(n)})
	im.set(n, 0, &val{ref: out, shape: shape, channelsLast: true})
	return nil
}

func pool(average bool) rule {
	return func(im *importer, n *onnx.Node) error {
		x, err := im.need(n, 0)
		if err != nil {
			return err
		}
		if len(n.Outputs) > 1 && n.Outputs[1] != "" && im.uses[n.Outputs[1]] > 0 {
			return fmt.Errorf("its indices output is used; mdlc's max pooling gives only values")
		}
		r := x.rank()
		if r < 3 || r > 5 {
			return fmt.Errorf("mdlc imports 1-D, 2-D and 3-D pooling; the input is %s", shapeString(x.shape))
		}
		win, err := readWindow(n, x.shape[2:], nil)
		if err != nil {
			return err
		}
		dilated := false
		for i, d := range win.dilations {
			switch {
			case d == 1:
			case r == 5 && i == 0: // the depth's, which pool3d combines
			case average || r == 5:
				return fmt.Errorf("dilations %v: mdlc's pools have none (a max pool's may have some, a 3-D pool's depth too)", win.dilations)
			default:
				dilated = true
			}
		}
		ceil := attrInt(n, "ceil_mode", 0) == 1
		countPad := average && attrInt(n, "count_include_pad", 0) == 1
		shape := []dim{x.shape[0], x.shape[1]}
		for i := range r - 2 {
			o, err := win.out(i, x.shape[2+i], ceil)
			if err != nil {
				return err
			}
			shape = append(shape, o)
			// ceil_mode's extra cells: pad them after; a padded cell never
			// wins a max and is left out of a mean without count_include_pad.
			if extra := (int(o.n)-1)*win.strides[i] + win.kernel[i] - (int(x.shape[2+i].n) + win.begin[i] + win.end[i]); ceil && extra > 0 {
				if countPad {
					return fmt.Errorf("ceil_mode with count_include_pad: the cells ceil_mode adds count differently; mdlc does not import it")
				}
				win.end[i] += extra
			}
		}
		xs, err := im.channelsLastOf(x)
		if err != nil {
			return err
		}
		call := "maxpool2d"
		if average {
			call = "avgpool2d"
		}
		if r == 5 {
			return im.pool3d(n, xs, win, shape, call, countPad)
		}
		if dilated {
			return im.dilatedMaxPool(n, xs, win, shape)
		}
		var args []string
		if r == 3 {
			call = call[:len(call)-2] + "1d"
			args = []string{"pool=" + strconv.Itoa(win.kernel[0]), "strides=" + strconv.Itoa(win.strides[0])}
		} else {
			args = []string{"pool=" + kernelArg(win.kernel), "strides=" + kernelArg(win.strides)}
		}
		args = appendNonEmpty(args, win.paddingArg())
		if countPad && win.paddingArg() != "" {
			args = append(args, "count_include_pad=true")
		}
		im.set(n, 0, im.emit(n, call, call, xs.ref, args, shape, true))
		return nil
	}
}

// dilatedMaxPool is a max pool whose window cells lie dilation apart. A
// window's maximum is the maximum over its rows of each row's maximum, so
// the width is pooled first, then the height: along an axis, the maximum
// over the window's offsets k of the input (padded with -∞) cut to the
// cells each output reads at that offset, [k·dilation, ...), taken every
// stride by a 1-cell pool. A 1-D pool is a 2-D one of height 1.
func (im *importer) dilatedMaxPool(n *onnx.Node, xs *val, win *window, shape []dim) error {
	if steps := win.kernel[0] + win.kernel[len(win.kernel)-1]; steps > 1024 {
		return fmt.Errorf("a dilated max pool of %v cells: mdlc writes a slice per row and column and imports up to 1024", win.kernel)
	}
	src := xs.ref
	w := *win
	outs := []int{1, int(shape[len(shape)-1].n)}
	if len(w.kernel) == 1 {
		src = im.emit(n, "rows", "expand_dims", src, []string{"axis=1"}, nil, false).ref
		w = window{kernel: []int{1, w.kernel[0]}, strides: []int{1, w.strides[0]}, dilations: []int{1, w.dilations[0]},
			begin: []int{0, w.begin[0]}, end: []int{0, w.end[0]}}
	} else {
		outs[0] = int(shape[2].n)
	}
	if w.paddingArg() != "" {
		pads := fmt.Sprintf("padding=[[%d, %d], [%d, %d]]", w.begin[0], w.end[0], w.begin[1], w.end[1])
		src = im.emit(n, "padded", "pad", src, []string{pads, `mode="constant"`, "value=" + number(math.Inf(-1))}, nil, false).ref
	}
	for _, a := range []int{1, 0} { // width, then height
		var acc string
		for k := range w.kernel[a] {
			off := k * w.dilations[a]
			cell := im.emit(n, "cells", "slice", src, []string{strconv.Itoa(off), strconv.Itoa(off + (outs[a]-1)*w.strides[a] + 1), "axis=" + strconv.Itoa(a+1)}, nil, false).ref
			if w.strides[a] > 1 {
				strides := []int{1, 1}
				strides[a] = w.strides[a]
				cell = im.emit(n, "cells", "maxpool2d", cell, []string{"pool=1", "strides=" + intList(strides)}, nil, false).ref
			}
			if acc == "" {
				acc = cell
			} else {
				acc = im.emit(n, "window", "maximum", "", []string{acc, cell}, nil, false).ref
			}
		}
		src = acc
	}
	if len(win.kernel) == 1 {
		src = im.emit(n, "maxpool", "squeeze", src, []string{"axes=[1]"}, nil, false).ref
	}
	im.set(n, 0, &val{ref: src, shape: shape, channelsLast: true})
	return nil
}

// pool3d pools [N, C, D, H, W] (held [N, D, H, W, C]) as a 2-D pool of
// each depth slice, [N·D, H, W, C], then combines the slices each output
// depth's window covers: their maximum, or for a mean the mean of the 2-D
// means, which is the 3-D mean since every slice has the same number of
// cells (padded depths are left out, or count as zeros with
// count_include_pad, as the 2-D pool counts its pads).
func (im *importer) pool3d(n *onnx.Node, xs *val, win *window, shape []dim, call string, countPad bool) error {
	dims := make([]int, 5)
	for i, d := range xs.physical() {
		if !d.isKnown() {
			return fmt.Errorf("a 3-D pool of %s: mdlc pools it as 2-D slices, which needs every size known (fix it with --dim)", shapeString(xs.shape))
		}
		dims[i] = int(d.n)
	}
	batch, depth, ch := dims[0], dims[1], dims[4]
	outD, outH, outW := int(shape[2].n), int(shape[3].n), int(shape[4].n)
	if steps := int64(depth) + int64(outD)*int64(win.kernel[0]); steps > 4096 {
		return fmt.Errorf("a 3-D pool over %d depths would take %d statements; mdlc imports shallower ones", depth, steps)
	}
	flat := im.emit(n, "slices", "reshape", xs.ref, []string{intList([]int{batch * depth, dims[2], dims[3], ch}), "keep_batch=false"}, nil, false)
	args := []string{"pool=" + kernelArg(win.kernel[1:]), "strides=" + kernelArg(win.strides[1:])}
	hw := &window{kernel: win.kernel[1:], strides: win.strides[1:], dilations: win.dilations[1:], begin: win.begin[1:], end: win.end[1:]}
	args = appendNonEmpty(args, hw.paddingArg())
	if countPad && hw.paddingArg() != "" {
		args = append(args, "count_include_pad=true")
	}
	pooled := im.emit(n, call, call, flat.ref, args, nil, false)
	stack := im.emit(n, call, "reshape", pooled.ref, []string{intList([]int{batch, depth, outH, outW, ch}), "keep_batch=false"}, nil, false)
	slice := make([]string, depth)
	at := func(d int) string {
		if slice[d] == "" {
			slice[d] = im.emit(n, "depth", "slice", stack.ref, []string{strconv.Itoa(d), strconv.Itoa(d + 1), "axis=1"}, nil, false).ref
		}
		return slice[d]
	}
	combine, average := "maximum", call == "avgpool2d"
	if average {
		combine = "add"
	}
	var outs []string
	for o := range outD {
		acc, count := "", 0
		for j := range win.kernel[0] {
			d := o*win.strides[0] - win.begin[0] + j*win.dilations[0]
			if d < 0 || d >= depth {
				continue
			}
			if acc == "" {
				acc = at(d)
			} else {
				acc = im.emit(n, "window", combine, "", []string{acc, at(d)}, nil, false).ref
			}
			count++
		}
		if acc == "" {
			return fmt.Errorf("output depth %d's window holds only padding", o)
		}
		if average {
			if countPad {
				count = win.kernel[0]
			}
			if count > 1 {
				acc = im.emit(n, "window", "div", "", []string{acc, number(float64(count))}, nil, false).ref
			}
		}
		outs = append(outs, acc)
	}
	out := outs[0]
	if len(outs) > 1 {
		out = im.emit(n, call, "concat", "", append(outs, "axis=1"), nil, false).ref
	}
	im.set(n, 0, &val{ref: out, shape: shape, channelsLast: true})
	return nil
}

// globalPool reduces the spatial axes, keeping them as ones.
func globalPool(call string) rule {
	return func(im *importer, n *onnx.Node) error {
		x, err := im.need(n, 0)
		if err != nil {
			return err
		}
		if x.rank() < 3 {
			return fmt.Errorf("the input %s has no spatial axes", shapeString(x.shape))
		}
		xs, err := im.channelsLastOf(x)
		if err != nil {
			return err
		}
		shape := []dim{x.shape[0], x.shape[1]}
		var axes []int
		for a := 2; a < x.rank(); a++ {
			shape = append(shape, known(1))
			axes = append(axes, a-1)
		}
		if x.rank() == 4 {
			g := "global_avgpool2d"
			if call == "reduce_max" {
				g = "global_maxpool2d"
			}
			im.set(n, 0, im.emit(n, g, g, xs.ref, []string{"keepdims=true"}, shape, true))
			return nil
		}
		im.set(n, 0, im.emit(n, call, call, xs.ref, []string{intList(axes), "keepdims=true"}, shape, true))
		return nil
	}
}

func batchNorm(im *importer, n *onnx.Node) error {
	x, err := im.need(n, 0)
	if err != nil {
		return err
	}
	if attrInt(n, "training_mode", 0) != 0 || len(n.Outputs) > 1 && im.uses[n.Outputs[1]] > 0 {
		return fmt.Errorf("it is in training mode; mdlc imports batch norm for inference")
	}
	c := x.shape[1]
	if x.rank() < 2 || !c.isKnown() {
		return fmt.Errorf("input %s has no known channel axis", shapeString(x.shape))
	}
	name := im.layerName(n, 1)
	for i, p := range []string{"gamma", "beta", "moving_mean", "moving_variance"} {
		v, d, err := im.constWeight(n, i+1, p)
		if err != nil {
			return err
		}
		if len(d) != 1 || d[0] != int(c.n) {
			return fmt.Errorf("its %s %v does not fit %d channels", p, d, c.n)
		}
		if err := im.weight(name+"."+p, d, v.floats()); err != nil {
			return err
		}
	}
	in := x
	if x.rank() >= 3 {
		if in, err = im.channelsLastOf(x); err != nil {
			return err
		}
	}
	out := im.w.name(name)
	im.w.add(&stmt{outs: []string{out}, call: "batchnorm", in: in.ref, args: []string{"epsilon=" + number(float64(attrFloat(n, "epsilon", 1e-5)))}, as: name, comment: comment(n)})
	im.set(n, 0, &val{ref: out, shape: x.shape, channelsLast: in.channelsLast})
	return nil
}

// instanceNorm normalises each image's channels over its spatial axes:
// (x - mean)·rsqrt(var + ε)·scale + bias, written with mdlc's reductions.
func instanceNorm(im *importer, n *onnx.Node) error {
	x, err := im.need(n, 0)
	if err != nil {
		return err
	}
	if x.rank() < 3 {
		return fmt.Errorf("input %s has no spatial axes", shapeString(x.shape))
	}
	xs, err := im.channelsLastOf(x)
	if err != nil {
		return err
	}
	var axes []int
	for a := 1; a < x.rank()-1; a++ {
		axes = append(axes, a)
	}
	ax := intList(axes)
	eps := number(float64(attrFloat(n, "epsilon", 1e-5)))
	mu := im.emit(n, "in_mean", "reduce_mean", xs.ref, []string{ax, "keepdims=true"}, nil, true)
	d := im.emit(n, "in_centred", "sub", "", []string{xs.ref, mu.ref}, x.shape, true)
	sq := im.emit(n, "in_square", "mul", "", []string{d.ref, d.ref}, x.shape, true)
	v := im.emit(n, "in_var", "reduce_mean", sq.ref, []string{ax, "keepdims=true"}, nil, true)
	r := im.emit(n, "in_rstd", "add", v.ref, []string{eps}, nil, true)
	r = im.emit(n, "in_rstd", "rsqrt", r.ref, nil, nil, true)
	y := im.emit(n, "in_norm", "mul", "", []string{d.ref, r.ref}, x.shape, true)
	scale, err := im.need(n, 1)
	if err != nil {
		return err
	}
	bias, err := im.need(n, 2)
	if err != nil {
		return err
	}
	for _, p := range []struct {
		v    *val
		call string
	}{{scale, "mul"}, {bias, "add"}} {
		c := &val{shape: []dim{p.v.shape[0], known(1), known(1)}, c: p.v.c}
		if x.rank() == 3 {
			c.shape = c.shape[:2]
		}
		if p.v.ref != "" {
			return fmt.Errorf("its scale and bias are computed at run time; mdlc needs them as weights")
		}
		if y, err = im.elementwise(n, p.call, []*val{y, c}, x.shape); err != nil {
			return err
		}
	}
	im.set(n, 0, y)
	return nil
}

// convBias records a convolution's bias (input 2) as the layer's weight, or
// adds use_bias=false to its arguments when it has none.
func (im *importer) convBias(n *onnx.Node, layer string, filters int, args []string) ([]string, error) {
	if im.in(n, 2) == nil {
		return append(args, "use_bias=false"), nil
	}
	bv, bd, err := im.constWeight(n, 2, "bias")
	if err != nil {
		return nil, err
	}
	if len(bd) != 1 || bd[0] != filters {
		return nil, fmt.Errorf("bias %v does not fit %d filters", bd, filters)
	}
	return args, im.weight(layer+".bias", bd, bv.floats())
}
