package importer

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/mdlc/mdlc/internal/size"
	"github.com/mdlc/mdlc/onnx"
)

// unaryOps are ONNX's one-input elementwise ops that are mdlc layers of the
// same meaning, with their Go form for folding constants.
var unaryOps = map[string]struct {
	call string
	fold func(float64) float64
}{
	"Relu":       {"relu", func(x float64) float64 { return math.Max(x, 0) }},
	"Sigmoid":    {"sigmoid", func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }},
	"Tanh":       {"tanh", math.Tanh},
	"Exp":        {"exp", math.Exp},
	"Log":        {"log", math.Log},
	"Sqrt":       {"sqrt", math.Sqrt},
	"Abs":        {"abs", math.Abs},
	"Neg":        {"neg", func(x float64) float64 { return -x }},
	"Erf":        {"erf", math.Erf},
	"Softplus":   {"softplus", func(x float64) float64 { return math.Log1p(math.Exp(x)) }},
	"Softsign":   {"softsign", func(x float64) float64 { return x / (1 + math.Abs(x)) }},
	"HardSwish":  {"hard_swish", func(x float64) float64 { return x * math.Min(math.Max(x+3, 0), 6) / 6 }},
	"Mish":       {"mish", func(x float64) float64 { return x * math.Tanh(math.Log1p(math.Exp(x))) }},
	"Floor":      {"", math.Floor},
	"Ceil":       {"", math.Ceil},
	"Round":      {"", math.RoundToEven},
	"Reciprocal": {"", func(x float64) float64 { return 1 / x }},
	"Sign": {"", func(x float64) float64 {
		switch {
		case x > 0:
			return 1
		case x < 0:
			return -1
		}
		return x // 0, and NaN stays NaN
	}},
}

func init() {
	for op := range unaryOps {
		register(op, 1, unary)
	}
	register("Identity", 1, identity)
	register("Dropout", 1, dropout)
	register("LeakyRelu", 1, func(im *importer, n *onnx.Node) error {
		return im.unaryCall(n, "leaky_relu", "alpha="+number(float64(attrFloat(n, "alpha", 0.01))))
	})
	register("Elu", 1, func(im *importer, n *onnx.Node) error {
		return im.unaryCall(n, "elu", "alpha="+number(float64(attrFloat(n, "alpha", 1))))
	})
	register("Selu", 1, func(im *importer, n *onnx.Node) error {
		a, g := attrFloat(n, "alpha", 1.67326319217681884765625), attrFloat(n, "gamma", 1.05070102214813232421875)
		if math.Abs(float64(a)-1.6732632) > 1e-6 || math.Abs(float64(g)-1.0507010) > 1e-6 {
			// gamma·elu(x, alpha): SELU with its own constants.
			if err := im.unaryCall(n, "elu", "alpha="+number(float64(a))); err != nil {
				return err
			}
			e := im.vals[n.Outputs[0]]
			im.set(n, 0, im.emit(n, "selu", "mul", e.ref, []string{number(float64(g))}, e.shape, e.channelsLast))
			return nil
		}
		return im.unaryCall(n, "selu")
	})
	register("HardSigmoid", 1, hardSigmoid)
	register("Gelu", 20, func(im *importer, n *onnx.Node) error {
		switch attrString(n, "approximate", "none") {
		case "none":
			return im.unaryCall(n, "gelu")
		case "tanh":
			return im.unaryCall(n, "gelu", "approximate=true")
		}
		return fmt.Errorf("unknown approximate=%q", attrString(n, "approximate", ""))
	})
	register("Clip", 1, clip)
	register("Clip", 11, clip)
	for op, call := range binaryOps {
		_ = call
		register(op, 1, binary)
	}
	register("Pow", 1, power)
	register("Min", 1, variadic("minimum"))
	register("Max", 1, variadic("maximum"))
	register("Sum", 1, variadic("add"))
	register("Mean", 1, mean)
	register("Where", 9, where)
	register("Not", 1, func(im *importer, n *onnx.Node) error {
		x, err := im.need(n, 0)
		if err != nil {
			return err
		}
		if x.ref == "" {
			// ¬x = (x == 0), a dimension being at least 1.
			out, err := im.foldBinary("Equal", x, &val{isInt: true, c: &konst{i: []dim{known(0)}}}, x.shape)
			if err != nil {
				return err
			}
			out.elem = onnx.Bool
			im.set(n, 0, out)
			return nil
		}
		v := im.emit(n, "not", "equal", x.ref, []string{"0.0"}, x.shape, x.channelsLast)
		v.isInt = true
		im.set(n, 0, v)
		return nil
	})
	register("PRelu", 1, prelu)
	register("ThresholdedRelu", 10, func(im *importer, n *onnx.Node) error {
		x, err := im.need(n, 0)
		if err != nil {
			return err
		}
		if x.ref == "" {
			return fmt.Errorf("its input is a constant")
		}
		alpha := number(float64(attrFloat(n, "alpha", 1)))
		above := im.emit(n, "above", "greater", x.ref, []string{alpha}, x.shape, x.channelsLast)
		im.set(n, 0, im.emit(n, "thresholded", "where", "", []string{above.ref, x.ref, "0.0"}, x.shape, x.channelsLast))
		return nil
	})
	register("Trilu", 14, trilu)
	register("Shrink", 9, shrink)
	register("Mod", 10, mod)
	register("IsNaN", 9, func(im *importer, n *onnx.Node) error {
		// NaN alone differs from itself.
		return im.mask(n, func(x *val) *val {
			return im.emit(n, "nan", "not_equal", "", []string{x.ref, x.ref}, x.shape, x.channelsLast)
		})
	})
	register("IsInf", 10, func(im *importer, n *onnx.Node) error {
		// Only ±∞ lie beyond float32's largest finite number, which, unlike
		// ∞, a .mdl number can be.
		big := number(math.MaxFloat32)
		pos, neg := attrInt(n, "detect_positive", 1) == 1, attrInt(n, "detect_negative", 1) == 1
		return im.mask(n, func(x *val) *val {
			switch {
			case pos && neg:
				mag := im.emit(n, "magnitude", "abs", x.ref, nil, x.shape, x.channelsLast)
				return im.emit(n, "inf", "greater", mag.ref, []string{big}, x.shape, x.channelsLast)
			case pos:
				return im.emit(n, "inf", "greater", x.ref, []string{big}, x.shape, x.channelsLast)
			case neg:
				return im.emit(n, "inf", "less", x.ref, []string{"-" + big}, x.shape, x.channelsLast)
			}
			// Detecting neither: all false, as nothing is below itself.
			return im.emit(n, "inf", "less", "", []string{x.ref, x.ref}, x.shape, x.channelsLast)
		})
	})
}

// mask writes a 0/1 test of the node's input computed at run time.
func (im *importer) mask(n *onnx.Node, test func(x *val) *val) error {
	x, err := im.need(n, 0)
	if err != nil {
		return err
	}
	if x.ref == "" {
		return fmt.Errorf("its input is a constant, which mdlc does not fold through %s", n.OpType)
	}
	v := test(x)
	v.isInt = true
	im.set(n, 0, v)
	return nil
}

// roundHalfEven is x rounded to the nearest integer, a half to the even
// one (ONNX's Round, numpy's round):
//
//	f = ⌊x⌋   d = x - f   r = f + [d > ½] + [d = ½]·(f - 2⌊f/2⌋)
//
// where f - 2⌊f/2⌋ is 1 for an odd f. d is exact: x and f share their
// exponent's range.
func (im *importer) roundHalfEven(n *onnx.Node, x *val) *val {
	s, cl := x.shape, x.channelsLast
	f := im.emit(n, "floor", "floor", x.ref, nil, s, cl)
	d := im.emit(n, "fraction", "sub", "", []string{x.ref, f.ref}, s, cl)
	up := im.emit(n, "above_half", "greater", d.ref, []string{"0.5"}, s, cl)
	tie := im.emit(n, "half", "equal", d.ref, []string{"0.5"}, s, cl)
	odd := im.odd(n, f)
	tieUp := im.emit(n, "tie_up", "mul", "", []string{tie.ref, odd.ref}, s, cl)
	r := im.emit(n, "round", "add", "", []string{f.ref, up.ref}, s, cl)
	return im.emit(n, "round", "add", "", []string{r.ref, tieUp.ref}, s, cl)
}

// odd is 1 where the integer f is odd, else 0: f - 2⌊f/2⌋.
func (im *importer) odd(n *onnx.Node, f *val) *val {
	s, cl := f.shape, f.channelsLast
	h := im.emit(n, "half", "mul", f.ref, []string{"0.5"}, s, cl)
	hf := im.emit(n, "half", "floor", h.ref, nil, s, cl)
	twice := im.emit(n, "even", "mul", hf.ref, []string{"2.0"}, s, cl)
	return im.emit(n, "odd", "sub", "", []string{f.ref, twice.ref}, s, cl)
}

// mod is a - b·⌊a/b⌋, the remainder with the divisor's sign (fmod=0,
// Python's %), or with fmod=1 a - b·trunc(a/b), the dividend's (C's fmod),
// trunc(q) being ⌊|q|⌋ with q's sign.
func mod(im *importer, n *onnx.Node) error {
	a, err := im.need(n, 0)
	if err != nil {
		return err
	}
	b, err := im.need(n, 1)
	if err != nil {
		return err
	}
	shape, err := broadcast(a.shape, b.shape)
	if err != nil {
		return err
	}
	if a.ref == "" && b.ref == "" {
		return fmt.Errorf("its operands are constants; mdlc does not fold Mod")
	}
	fmod := attrInt(n, "fmod", 0) == 1
	if !fmod && !(a.isInt && b.isInt) {
		return fmt.Errorf("fmod=0 of float values: ONNX requires fmod=1 for floating-point types")
	}
	q, err := im.elementwise(n, "div", []*val{a, b}, shape)
	if err != nil {
		return err
	}
	var whole *val
	if fmod {
		mag := im.emit(n, "quotient", "abs", q.ref, nil, shape, q.channelsLast)
		down := im.emit(n, "quotient", "floor", mag.ref, nil, shape, q.channelsLast)
		neg := im.emit(n, "quotient", "less", q.ref, []string{"0.0"}, shape, q.channelsLast)
		flip := im.emit(n, "quotient", "neg", down.ref, nil, shape, q.channelsLast)
		whole = im.emit(n, "quotient", "where", "", []string{neg.ref, flip.ref, down.ref}, shape, q.channelsLast)
	} else {
		whole = im.emit(n, "quotient", "floor", q.ref, nil, shape, q.channelsLast)
	}
	bw, err := im.elementwise(n, "mul", []*val{b, whole}, shape)
	if err != nil {
		return err
	}
	v, err := im.elementwise(n, "sub", []*val{a, bw}, shape)
	if err != nil {
		return err
	}
	v.isInt = a.isInt && b.isInt
	im.set(n, 0, v)
	return nil
}

// shrink is x+bias below -lambd, x-bias above lambd, else 0.
func shrink(im *importer, n *onnx.Node) error {
	x, err := im.need(n, 0)
	if err != nil {
		return err
	}
	if x.ref == "" {
		return fmt.Errorf("its input is a constant, which mdlc does not fold through Shrink")
	}
	l, bias := float64(attrFloat(n, "lambd", 0.5)), float64(attrFloat(n, "bias", 0))
	below := im.emit(n, "below", "less", x.ref, []string{number(-l)}, x.shape, x.channelsLast)
	above := im.emit(n, "above", "greater", x.ref, []string{number(l)}, x.shape, x.channelsLast)
	up := im.emit(n, "raised", "add", x.ref, []string{number(bias)}, x.shape, x.channelsLast)
	down := im.emit(n, "lowered", "sub", x.ref, []string{number(bias)}, x.shape, x.channelsLast)
	outer := im.emit(n, "shrink", "where", "", []string{above.ref, down.ref, "0.0"}, x.shape, x.channelsLast)
	im.set(n, 0, im.emit(n, "shrink", "where", "", []string{below.ref, up.ref, outer.ref}, x.shape, x.channelsLast))
	return nil
}

// dropout is the identity at inference, its mask all ones (true): ONNX's
// Dropout outside training, which from opset 12 an input turns on.
func dropout(im *importer, n *onnx.Node) error {
	if t := im.in(n, 2); t != nil {
		on, ok := t.scalarValue()
		if !ok || t.ref != "" {
			return fmt.Errorf("its training_mode is computed at run time; mdlc imports Dropout for inference")
		}
		if on != 0 {
			return fmt.Errorf("it is in training mode, whose random mask mdlc does not import")
		}
	}
	if err := identity(im, n); err != nil {
		return err
	}
	if len(n.Outputs) > 1 && n.Outputs[1] != "" && im.needed(n.Outputs[1]) {
		x := im.vals[n.Inputs[0]]
		total, ok := numel(x.shape)
		if !ok {
			return fmt.Errorf("its mask output is used and the input %s has a dynamic size (fix it with --dim)", shapeString(x.shape))
		}
		if err := im.fold(total); err != nil {
			return err
		}
		mask := &val{shape: x.shape, isInt: true, c: &konst{i: make([]dim, total)}}
		for i := range mask.c.i {
			mask.c.i[i] = known(1)
		}
		im.set(n, 1, mask)
	}
	return nil
}

// identity passes its input on.
func identity(im *importer, n *onnx.Node) error {
	x, err := im.need(n, 0)
	if err != nil {
		return err
	}
	im.set(n, 0, x)
	return nil
}

func unary(im *importer, n *onnx.Node) error {
	x, err := im.need(n, 0)
	if err != nil {
		return err
	}
	op := unaryOps[n.OpType]
	if x.ref == "" {
		f, err := numbers(x)
		if err != nil {
			return err
		}
		if err := im.fold(int64(len(f))); err != nil {
			return err
		}
		out := make([]float32, len(f))
		for i, v := range f {
			out[i] = float32(op.fold(float64(v)))
		}
		im.set(n, 0, &val{shape: x.shape, c: &konst{f: out}})
		return nil
	}
	switch n.OpType {
	case "Reciprocal":
		im.set(n, 0, im.emit(n, "reciprocal", "div", "", []string{"1.0", x.ref}, x.shape, x.channelsLast))
		return nil
	case "Sign":
		// (x > 0) - (x < 0); a NaN gives 0 where ONNX gives NaN.
		pos := im.emit(n, "positive", "greater", x.ref, []string{"0.0"}, x.shape, x.channelsLast)
		neg := im.emit(n, "negative", "less", x.ref, []string{"0.0"}, x.shape, x.channelsLast)
		im.set(n, 0, im.emit(n, "sign", "sub", "", []string{pos.ref, neg.ref}, x.shape, x.channelsLast))
		return nil
	case "Floor":
		im.set(n, 0, im.emit(n, "floor", "floor", x.ref, nil, x.shape, x.channelsLast))
		return nil
	case "Ceil":
		// ⌈x⌉ = -⌊-x⌋
		neg := im.emit(n, "ceil", "neg", x.ref, nil, x.shape, x.channelsLast)
		down := im.emit(n, "ceil", "floor", neg.ref, nil, x.shape, x.channelsLast)
		im.set(n, 0, im.emit(n, "ceil", "neg", down.ref, nil, x.shape, x.channelsLast))
		return nil
	case "Round":
		im.set(n, 0, im.roundHalfEven(n, x))
		return nil
	}
	return im.unaryCall(n, op.call)
}

// unaryCall writes call(x, args...) for the node's first input, folding in
// the activation of a conv or dense layer written just before when x has
// no other use.
func (im *importer) unaryCall(n *onnx.Node, call string, args ...string) error {
	x, err := im.need(n, 0)
	if err != nil {
		return err
	}
	if x.ref == "" {
		return fmt.Errorf("its input is a constant, which mdlc does not fold through %s", n.OpType)
	}
	if len(args) == 0 && im.fuseActivation(n, x, call) {
		im.set(n, 0, x)
		return nil
	}
	im.set(n, 0, im.emit(n, call, call, x.ref, args, x.shape, x.channelsLast))
	return nil
}

// fuseActivation sets the activation= of the statement that computed x,
// when it is a layer that takes one, has none yet, and x is read only here.
func (im *importer) fuseActivation(n *onnx.Node, x *val, call string) bool {
	if im.uses[n.Inputs[0]] != 1 || len(im.w.stmts) == 0 || x.other != nil {
		return false
	}
	s := im.w.stmts[len(im.w.stmts)-1]
	if len(s.outs) != 1 || s.outs[0] != x.ref {
		return false
	}
	switch s.call {
	case "conv2d", "depthwise_conv2d", "conv1d", "dense", "conv2d_transpose":
	default:
		return false
	}
	for _, a := range s.args {
		if strings.HasPrefix(a, "activation=") {
			return false
		}
	}
	switch call {
	case "relu", "sigmoid", "tanh", "relu6", "gelu", "silu", "hard_swish", "softplus", "elu", "selu":
	default:
		return false
	}
	s.args = append(s.args, "activation="+call)
	return true
}

func hardSigmoid(im *importer, n *onnx.Node) error {
	alpha, beta := attrFloat(n, "alpha", 0.2), attrFloat(n, "beta", 0.5)
	x, err := im.need(n, 0)
	if err != nil {
		return err
	}
	// x·HardSigmoid(x) with PyTorch's 1/6 and 0.5 is hard-swish.
	if users := im.users[n.Outputs[0]]; len(users) == 1 && users[0].OpType == "Mul" && beta == 0.5 && math.Abs(float64(alpha)-1.0/6) < 1e-7 && x.ref != "" {
		mul := users[0]
		other := mul.Inputs[0]
		if other == n.Outputs[0] {
			other = mul.Inputs[1]
		}
		if other == n.Inputs[0] {
			im.skip[mul] = true
			im.set(mul, 0, im.emit(mul, "hard_swish", "hard_swish", x.ref, nil, x.shape, x.channelsLast))
			return nil
		}
	}
	if beta == 0.5 {
		return im.unaryCall(n, "hard_sigmoid", "alpha="+number(float64(alpha)))
	}
	ax := im.emit(n, "hard_sigmoid", "mul", x.ref, []string{number(float64(alpha))}, x.shape, x.channelsLast)
	ab := im.emit(n, "hard_sigmoid", "add", ax.ref, []string{number(float64(beta))}, x.shape, x.channelsLast)
	im.set(n, 0, im.emit(n, "hard_sigmoid", "clip", ab.ref, []string{"0.0", "1.0"}, x.shape, x.channelsLast))
	return nil
}

// clip takes its bounds from attributes before opset 11 and from inputs
// (constants, for mdlc) after; Clip(0, 6) is relu6.
func clip(im *importer, n *onnx.Node) error {
	x, err := im.need(n, 0)
	if err != nil {
		return err
	}
	lo, hi := math.Inf(-1), math.Inf(1)
	if im.opset < 11 {
		lo, hi = float64(attrFloat(n, "min", float32(lo))), float64(attrFloat(n, "max", float32(hi)))
	} else {
		for i, b := range []*float64{&lo, &hi} {
			if v := im.in(n, i+1); v != nil {
				s, ok := v.scalarValue()
				if !ok || v.ref != "" {
					return fmt.Errorf("its bound %d is computed at run time; mdlc's clip takes numbers", i+1)
				}
				*b = s
			}
		}
	}
	switch {
	case math.IsInf(lo, -1) && math.IsInf(hi, 1):
		return identity(im, n)
	case lo == 0 && hi == 6:
		return im.unaryCall(n, "relu6")
	case lo == 0 && math.IsInf(hi, 1):
		return im.unaryCall(n, "relu")
	case math.IsInf(hi, 1):
		im.set(n, 0, im.emit(n, "clip", "maximum", x.ref, []string{number(lo)}, x.shape, x.channelsLast))
		return nil
	case math.IsInf(lo, -1):
		im.set(n, 0, im.emit(n, "clip", "minimum", x.ref, []string{number(hi)}, x.shape, x.channelsLast))
		return nil
	}
	return im.unaryCall(n, "clip", number(lo), number(hi))
}

// binaryOps are the broadcasting two-input ops and their mdlc layers.
var binaryOps = map[string]string{
	"Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div",
	"Equal": "equal", "Less": "less", "Greater": "greater", "LessOrEqual": "less_equal", "GreaterOrEqual": "greater_equal",
	"And": "mul", "Or": "maximum", "Xor": "not_equal",
}

func binary(im *importer, n *onnx.Node) error {
	a, err := im.need(n, 0)
	if err != nil {
		return err
	}
	b, err := im.need(n, 1)
	if err != nil {
		return err
	}
	if b, err = im.legacyBroadcast(n, a, b); err != nil {
		return err
	}
	shape, err := broadcast(a.shape, b.shape)
	if err != nil {
		return err
	}
	if a.ref == "" && b.ref == "" {
		out, err := im.foldBinary(n.OpType, a, b, shape)
		if err != nil {
			return err
		}
		im.set(n, 0, out)
		return nil
	}
	if n.OpType == "Add" {
		if fused, err := im.fuseBias(n, a, b); fused || err != nil {
			return err
		}
	}
	if n.OpType == "Div" && im.geluPattern(n, a, b) {
		return nil
	}
	call := binaryOps[n.OpType]
	v, err := im.elementwise(n, call, []*val{a, b}, shape)
	if err != nil {
		return err
	}
	v.isInt = a.isInt && b.isInt || strings.Contains("Equal Less Greater LessOrEqual GreaterOrEqual And Or Xor", n.OpType)
	im.set(n, 0, v)
	return nil
}

// legacyBroadcast reads opset 6's broadcast=1, axis=k: b's axes line up
// with a's from axis k on, which numpy's rule gives once b has trailing
// ones.
func (im *importer) legacyBroadcast(n *onnx.Node, a, b *val) (*val, error) {
	if im.opset >= 7 || attrInt(n, "broadcast", 0) != 1 || n.Attr("axis") == nil {
		return b, nil
	}
	axis := attrInt(n, "axis", 0)
	if axis < 0 {
		axis += int64(a.rank())
	}
	trailing := int64(a.rank()) - axis - int64(b.rank())
	if axis < 0 || trailing < 0 {
		return nil, fmt.Errorf("broadcast axis %d does not fit %s and %s", axis, shapeString(a.shape), shapeString(b.shape))
	}
	if trailing == 0 {
		return b, nil
	}
	if b.ref != "" {
		return nil, fmt.Errorf("opset 6 broadcasting of a run-time value along axis %d: mdlc reads it for weights only", axis)
	}
	out := *b
	out.shape = slices.Clone(b.shape)
	for range trailing {
		out.shape = append(out.shape, known(1))
	}
	return &out, nil
}

// elementwise writes call(operands...) in the layout most of them are held
// in: channels last when a run-time operand of the result's rank is.
func (im *importer) elementwise(n *onnx.Node, call string, ops []*val, shape []dim) (*val, error) {
	cl := false
	for _, o := range ops {
		if o.ref != "" && o.channelsLast && o.rank() == len(shape) {
			cl = true
		}
	}
	for _, o := range ops {
		if cl && o.ref != "" && o.rank() != len(shape) {
			cl = false
		}
	}
	args := make([]string, len(ops))
	for i, o := range ops {
		var err error
		if args[i], err = im.operand(o, len(shape), cl); err != nil {
			return nil, err
		}
	}
	return im.emit(n, strings.ToLower(n.OpType), call, "", args, shape, cl), nil
}

// broadcast is numpy's broadcast of two shapes.
func broadcast(a, b []dim) ([]dim, error) {
	r := max(len(a), len(b))
	out := make([]dim, r)
	for i := range r {
		da, db := known(1), known(1)
		if j := len(a) - r + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - r + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da == db, db == known(1):
			out[i] = da
		case da == known(1):
			out[i] = db
		default:
			return nil, fmt.Errorf("shapes %s and %s do not broadcast", shapeString(a), shapeString(b))
		}
	}
	return out, nil
}

// foldBinary computes a binary op of two constants, whose broadcast
// result is checked against the budget first.
func (im *importer) foldBinary(op string, a, b *val, shape []dim) (*val, error) {
	total, ok := numel(shape)
	if !ok {
		return nil, fmt.Errorf("result shape %s is not known", shapeString(shape))
	}
	if err := im.fold(total); err != nil {
		return nil, err
	}
	if err := checkKonst(a, b); err != nil {
		return nil, err
	}
	at := func(v *val, i int64) int64 { return broadcastIndex(v.shape, shape, i) }
	if a.isInt && b.isInt && a.c.i != nil && b.c.i != nil {
		out := &val{shape: shape, isInt: true, c: &konst{i: make([]dim, total)}}
		for i := range total {
			x, y := a.c.i[at(a, i)], b.c.i[at(b, i)]
			r, err := dimOp(op, x, y)
			if err != nil {
				return nil, err
			}
			out.c.i[i] = r
		}
		return out, nil
	}
	af, err := numbers(a)
	if err != nil {
		return nil, err
	}
	bf, err := numbers(b)
	if err != nil {
		return nil, err
	}
	if isBoolOp[op] {
		// A comparison of floats is a boolean, held as an integer.
		out := &val{shape: shape, isInt: true, elem: onnx.Bool, c: &konst{i: make([]dim, total)}}
		for i := range total {
			out.c.i[i] = known(boolOp(op, float64(af[at(a, i)]), float64(bf[at(b, i)])))
		}
		return out, nil
	}
	out := &val{shape: shape, c: &konst{f: make([]float32, total)}}
	for i := range total {
		x, y := float64(af[at(a, i)]), float64(bf[at(b, i)])
		var r float64
		switch op {
		case "Add":
			r = x + y
		case "Sub":
			r = x - y
		case "Mul":
			r = x * y
		case "Div":
			r = x / y
		case "Pow":
			r = math.Pow(x, y)
		default:
			return nil, fmt.Errorf("mdlc does not fold %s", op)
		}
		out.c.f[i] = float32(r)
	}
	return out, nil
}

// isBoolOp are the binary ops whose result is a boolean.
var isBoolOp = map[string]bool{
	"Equal": true, "Less": true, "Greater": true, "LessOrEqual": true, "GreaterOrEqual": true, "And": true, "Or": true, "Xor": true,
}

// boolOp is a comparison or a logical op, 1 for true and 0 for false.
func boolOp[T int64 | float64](op string, x, y T) int64 {
	t := false
	switch op {
	case "Equal":
		t = x == y
	case "Less":
		t = x < y
	case "Greater":
		t = x > y
	case "LessOrEqual":
		t = x <= y
	case "GreaterOrEqual":
		t = x >= y
	case "And":
		t = x != 0 && y != 0
	case "Or":
		t = x != 0 || y != 0
	case "Xor":
		t = (x != 0) != (y != 0)
	}
	if t {
		return 1
	}
	return 0
}

// dimOp is integer arithmetic over dimensions, symbols kept where the
// result is still n·symbol.
func dimOp(op string, x, y dim) (dim, error) {
	if x.isKnown() && y.isKnown() {
		a, b := x.n, y.n
		switch op {
		case "Add":
			return known(a + b), nil
		case "Sub":
			return known(a - b), nil
		case "Mul":
			return known(a * b), nil
		case "Div":
			if b == 0 {
				return dim{}, fmt.Errorf("integer division by zero")
			}
			q := a / b
			if (a%b != 0) && ((a < 0) != (b < 0)) {
				q-- // ONNX's integer Div rounds toward negative infinity, as numpy does
			}
			return known(q), nil
		case "Pow":
			// numpy's integer power: repeated products, wrapping as they do.
			if b < 0 {
				return dim{}, fmt.Errorf("an integer to the negative power %d, which ONNX's integer Pow leaves undefined", b)
			}
			r := int64(1)
			for ; b > 0; b >>= 1 {
				if b&1 == 1 {
					r *= a
				}
				a *= a
			}
			return known(r), nil
		}
		if !isBoolOp[op] {
			return dim{}, fmt.Errorf("mdlc does not fold %s", op)
		}
		return known(boolOp(op, a, b)), nil
	}
	switch {
	case op == "Mul" && y.isKnown():
		return dim{n: x.n * y.n, sym: x.sym}, nil
	case op == "Mul" && x.isKnown():
		return dim{n: x.n * y.n, sym: y.sym}, nil
	case op == "Div" && y.isKnown() && y.n != 0 && x.n%y.n == 0:
		return dim{n: x.n / y.n, sym: x.sym}, nil
	case op == "Div" && x.sym == y.sym && x.n%y.n == 0:
		return known(x.n / y.n), nil
	case op == "Equal" && x == y:
		return known(1), nil
	case op == "Equal" && (x.n > 0 && y.isKnown() && y.n < 1 || y.n > 0 && x.isKnown() && x.n < 1):
		// A dynamic dimension is at least 1: n·d with n > 0 is no zero or
		// -1 (ONNX's "keep" and "infer" in the shapes exporters compare).
		return known(0), nil
	}
	return dim{}, fmt.Errorf("%s of %s and %s, which depends on the dynamic dimension's value (fix it with --dim)", op, x, y)
}

// fuseBias folds Add(x, b) into the dense layer that computed x, when b is
// a constant vector over x's last axis and x has no other use.
func (im *importer) fuseBias(n *onnx.Node, a, b *val) (bool, error) {
	x, bias, xi := a, b, 0
	if a.ref == "" {
		x, bias, xi = b, a, 1
	}
	if bias.ref != "" || x.ref == "" || im.uses[n.Inputs[xi]] != 1 || len(im.w.stmts) == 0 || x.other != nil {
		return false, nil
	}
	s := im.w.stmts[len(im.w.stmts)-1]
	if s.call != "dense" || len(s.outs) != 1 || s.outs[0] != x.ref || s.as == "" {
		return false, nil
	}
	k := im.weights[s.as+".kernel"]
	if k == nil || len(bias.shape) != 1 || len(bias.floats()) != k.Shape[1] || !slices.Contains(s.args, "use_bias=false") {
		return false, nil
	}
	s.args = slices.DeleteFunc(s.args, func(a string) bool { return a == "use_bias=false" })
	im.set(n, 0, x)
	return true, im.weight(s.as+".bias", []int{k.Shape[1]}, bias.floats())
}

func power(im *importer, n *onnx.Node) error {
	a, err := im.need(n, 0)
	if err != nil {
		return err
	}
	b, err := im.need(n, 1)
	if err != nil {
		return err
	}
	if a.ref == "" && b.ref == "" {
		shape, err := broadcast(a.shape, b.shape)
		if err != nil {
			return err
		}
		out, err := im.foldBinary("Pow", a, b, shape)
		if err != nil {
			return err
		}
		im.set(n, 0, out)
		return nil
	}
	e, ok := b.scalarValue()
	if !ok || b.ref != "" {
		return im.tensorPower(n, a, b)
	}
	if e == 2 {
		im.set(n, 0, im.emit(n, "square", "mul", "", []string{a.ref, a.ref}, a.shape, a.channelsLast))
		return nil
	}
	return im.unaryCall(n, "pow", number(e))
}

// tensorPower is a^b for a tensor b, through logarithms:
//
//	|a|^b = e^(b·ln|a|), times -1 where a < 0 and b is odd,
//	NaN where a < 0 and b is not an integer, and 1 where b = 0
//
// (ln 0 = -∞ gives 0 for b > 0 and ∞ for b < 0, as pow does). The result
// has float32's relative error times about |b·ln|a||.
func (im *importer) tensorPower(n *onnx.Node, a, b *val) error {
	shape, err := broadcast(a.shape, b.shape)
	if err != nil {
		return err
	}
	at := func(v *val) (*val, error) { // v as a run-time tensor of the result's layout
		if v.ref != "" {
			return v, nil
		}
		ref, err := im.tensorRef(v, false)
		return &val{ref: ref, shape: v.shape}, err
	}
	if a, err = at(a); err != nil {
		return err
	}
	if b, err = at(b); err != nil {
		return err
	}
	mag := im.emit(n, "magnitude", "abs", a.ref, nil, a.shape, a.channelsLast)
	ln := im.emit(n, "log", "log", mag.ref, nil, a.shape, a.channelsLast)
	prod, err := im.elementwise(n, "mul", []*val{b, ln}, shape)
	if err != nil {
		return err
	}
	pw := im.emit(n, "power", "exp", prod.ref, nil, shape, prod.channelsLast)
	bf := im.emit(n, "exponent", "floor", b.ref, nil, b.shape, b.channelsLast)
	whole := im.emit(n, "integral", "equal", "", []string{bf.ref, b.ref}, b.shape, b.channelsLast)
	odd := im.odd(n, bf)
	sign := im.emit(n, "sign", "mul", odd.ref, []string{"-2.0"}, b.shape, b.channelsLast)
	sign = im.emit(n, "sign", "add", sign.ref, []string{"1.0"}, b.shape, b.channelsLast)
	// √(-(|b|+1)) is a NaN computed, as the language writes no NaN literal.
	nb := im.emit(n, "nan", "abs", b.ref, nil, b.shape, b.channelsLast)
	nb = im.emit(n, "nan", "add", nb.ref, []string{"1.0"}, b.shape, b.channelsLast)
	nb = im.emit(n, "nan", "neg", nb.ref, nil, b.shape, b.channelsLast)
	nan := im.emit(n, "nan", "sqrt", nb.ref, nil, b.shape, b.channelsLast)
	negSign := im.emit(n, "negative_base", "where", "", []string{whole.ref, sign.ref, nan.ref}, b.shape, b.channelsLast)
	neg := im.emit(n, "negative_base", "less", a.ref, []string{"0.0"}, a.shape, a.channelsLast)
	factor, err := im.elementwise(n, "where", []*val{neg, negSign, {c: &konst{f: []float32{1}}, shape: nil}}, shape)
	if err != nil {
		return err
	}
	signed, err := im.elementwise(n, "mul", []*val{pw, factor}, shape)
	if err != nil {
		return err
	}
	zero := im.emit(n, "zero_exponent", "equal", b.ref, []string{"0.0"}, b.shape, b.channelsLast)
	v, err := im.elementwise(n, "where", []*val{zero, {c: &konst{f: []float32{1}}, shape: nil}, signed}, shape)
	if err != nil {
		return err
	}
	v.isInt = a.isInt && b.isInt
	im.set(n, 0, v)
	return nil
}

// variadic chains a two-input layer over Min, Max or Sum's inputs.
func variadic(call string) rule {
	return func(im *importer, n *onnx.Node) error {
		var acc *val
		for i := range n.Inputs {
			x, err := im.need(n, i)
			if err != nil {
				return err
			}
			if acc == nil {
				acc = x
				continue
			}
			shape, err := broadcast(acc.shape, x.shape)
			if err != nil {
				return err
			}
			if acc, err = im.elementwise(n, call, []*val{acc, x}, shape); err != nil {
				return err
			}
		}
		if acc == nil {
			return fmt.Errorf("it has no inputs")
		}
		im.set(n, 0, acc)
		return nil
	}
}

func mean(im *importer, n *onnx.Node) error {
	if err := variadic("add")(im, n); err != nil {
		return err
	}
	s := im.vals[n.Outputs[0]]
	if len(n.Inputs) > 1 {
		im.set(n, 0, im.emit(n, "mean", "div", s.ref, []string{number(float64(len(n.Inputs)))}, s.shape, s.channelsLast))
	}
	return nil
}

func where(im *importer, n *onnx.Node) error {
	var ops []*val
	for i := range 3 {
		v, err := im.need(n, i)
		if err != nil {
			return err
		}
		ops = append(ops, v)
	}
	shape, err := broadcast(ops[0].shape, ops[1].shape)
	if err == nil {
		shape, err = broadcast(shape, ops[2].shape)
	}
	if err != nil {
		return err
	}
	if ops[0].ref == "" && ops[1].ref == "" && ops[2].ref == "" {
		out, err := im.foldWhere(ops[0], ops[1], ops[2], shape)
		if err != nil {
			return err
		}
		im.set(n, 0, out)
		return nil
	}
	v, err := im.elementwise(n, "where", ops, shape)
	if err != nil {
		return err
	}
	v.isInt = ops[1].isInt && ops[2].isInt
	im.set(n, 0, v)
	return nil
}

// foldWhere is Where(cond, x, y) of three constants, each broadcast to
// shape: x's element where cond's is true (nonzero), else y's. Integers
// stay dimensions, so that the shape exporters compute for Expand,
// Where(Equal(s, -1), 1, s), keeps the dynamic sizes in s; a condition
// must be known.
func (im *importer) foldWhere(cond, x, y *val, shape []dim) (*val, error) {
	total, ok := numel(shape)
	if !ok {
		return nil, fmt.Errorf("result shape %s is not known", shapeString(shape))
	}
	if err := checkKonst(cond, x, y); err != nil {
		return nil, err
	}
	if err := im.fold(total); err != nil {
		return nil, err
	}
	truth := func(i int64) (bool, error) {
		j := broadcastIndex(cond.shape, shape, i)
		if cond.c.i == nil {
			return cond.c.f[j] != 0, nil
		}
		if d := cond.c.i[j]; d.isKnown() {
			return d.n != 0, nil
		}
		return false, fmt.Errorf("its condition holds the dynamic dimension %s, not a boolean", cond.c.i[j])
	}
	out := &val{shape: shape, c: &konst{}}
	if x.elem == y.elem {
		out.elem = x.elem
	}
	if x.isInt && y.isInt && x.c.i != nil && y.c.i != nil {
		out.isInt, out.c.i = true, make([]dim, total)
		for i := range total {
			t, err := truth(i)
			if err != nil {
				return nil, err
			}
			if t {
				out.c.i[i] = x.c.i[broadcastIndex(x.shape, shape, i)]
			} else {
				out.c.i[i] = y.c.i[broadcastIndex(y.shape, shape, i)]
			}
		}
		return out, nil
	}
	xf, err := numbers(x)
	if err != nil {
		return nil, err
	}
	yf, err := numbers(y)
	if err != nil {
		return nil, err
	}
	out.c.f = make([]float32, total)
	for i := range total {
		t, err := truth(i)
		if err != nil {
			return nil, err
		}
		if t {
			out.c.f[i] = xf[broadcastIndex(x.shape, shape, i)]
		} else {
			out.c.f[i] = yf[broadcastIndex(y.shape, shape, i)]
		}
	}
	return out, nil
}

// prelu is max(0, x) + slope·min(0, x), written with mdlc's layers.
func prelu(im *importer, n *onnx.Node) error {
	x, err := im.need(n, 0)
	if err != nil {
		return err
	}
	slope, err := im.need(n, 1)
	if err != nil {
		return err
	}
	if im.opset < 7 && slope.rank() == 1 && x.rank() > 2 && slope.shape[0] == x.shape[1] && slope.ref == "" {
		// Before opset 7 a vector of slopes is one per channel.
		s := *slope
		s.shape = append([]dim{slope.shape[0]}, slices.Repeat([]dim{known(1)}, x.rank()-2)...)
		slope = &s
	}
	pos := im.emit(n, "prelu_pos", "relu", x.ref, nil, x.shape, x.channelsLast)
	neg := im.emit(n, "prelu_neg", "minimum", x.ref, []string{"0.0"}, x.shape, x.channelsLast)
	scaled, err := im.elementwise(n, "mul", []*val{neg, slope}, x.shape)
	if err != nil {
		return err
	}
	v, err := im.elementwise(n, "add", []*val{pos, scaled}, x.shape)
	if err != nil {
		return err
	}
	im.set(n, 0, v)
	return nil
}

// trilu keeps the upper (or lower) triangle of the last two axes from
// diagonal k on, and zeros the rest: where(mask, x, 0) with a constant 0/1
// mask. (A product with the mask would turn the -inf that a causal mask's
// triangle holds into NaN, as -inf·0 is.)
func trilu(im *importer, n *onnx.Node) error {
	x, err := im.need(n, 0)
	if err != nil {
		return err
	}
	var k int64
	if kv := im.in(n, 1); kv != nil {
		s, ok := kv.scalarValue()
		if !ok || kv.ref != "" {
			return fmt.Errorf("its diagonal k is computed at run time")
		}
		k = int64(s)
	}
	r := x.rank()
	if r < 2 || !x.shape[r-2].isKnown() || !x.shape[r-1].isKnown() {
		return fmt.Errorf("input %s: mdlc needs the last two sizes known", shapeString(x.shape))
	}
	rows, cols := x.shape[r-2].n, x.shape[r-1].n
	total, ok := size.Mul(rows, cols)
	if !ok {
		return size.Overflow("Trilu's mask")
	}
	if err := im.fold(total); err != nil {
		return err
	}
	upper := attrInt(n, "upper", 1) == 1
	mask := &val{shape: []dim{known(rows), known(cols)}, isInt: true, c: &konst{i: make([]dim, total)}}
	for i := range rows {
		for j := range cols {
			if upper && j-i >= k || !upper && j-i <= k {
				mask.c.i[i*cols+j] = known(1)
			}
		}
	}
	zero := &val{c: &konst{f: []float32{0}}}
	if x.isInt {
		zero = &val{isInt: true, c: &konst{i: []dim{known(0)}}}
	}
	if x.ref == "" {
		out, err := im.foldWhere(mask, x, zero, x.shape)
		if err != nil {
			return err
		}
		im.set(n, 0, out)
		return nil
	}
	v, err := im.elementwise(n, "where", []*val{mask, x, zero}, x.shape)
	if err != nil {
		return err
	}
	v.isInt = x.isInt
	im.set(n, 0, v)
	return nil
}

// geluPattern recognises GELU as exporters before opset 20 write it, from
// its first node: x·(1 + erf(x/√2))·0.5.
func (im *importer) geluPattern(div *onnx.Node, x, d *val) bool {
	if s, ok := d.scalarValue(); !ok || d.ref != "" || math.Abs(s-math.Sqrt2) > 1e-5 || x.ref == "" {
		return false
	}
	erf := im.sole(div.Outputs[0], "Erf")
	if erf == nil {
		return false
	}
	add := im.sole(erf.Outputs[0], "Add")
	if add == nil {
		return false
	}
	if one := im.vals[other(add, erf.Outputs[0])]; one == nil || one.ref != "" {
		return false
	} else if s, ok := one.scalarValue(); !ok || s != 1 {
		return false
	}
	m1 := im.sole(add.Outputs[0], "Mul")
	if m1 == nil {
		return false
	}
	half := func(name string) bool {
		v := im.vals[name]
		if v == nil || v.ref != "" {
			return false
		}
		s, ok := v.scalarValue()
		return ok && s == 0.5
	}
	// (1 + erf)·x, then ·0.5: PyTorch's form. (x·0.5 first would leave
	// that product written before the pattern is seen.)
	if other(m1, add.Outputs[0]) != div.Inputs[0] {
		return false
	}
	m2 := im.sole(m1.Outputs[0], "Mul")
	if m2 == nil || !half(other(m2, m1.Outputs[0])) {
		return false
	}
	for _, n := range []*onnx.Node{erf, add, m1, m2} {
		im.skip[n] = true
	}
	im.vals[m2.Outputs[0]] = im.emit(div, "gelu", "gelu", x.ref, nil, x.shape, x.channelsLast)
	return true
}
