package nn

import "github.com/mdlc/mdlc/ir"

// Activation is an elementwise function applied after a layer; the zero
// value is Linear, none.
type Activation uint8

const (
	Linear Activation = iota
	Relu
	LeakyRelu // slope 0.3 below zero, as Keras's default
	Sigmoid
	Tanh
	Gelu // the erf form
	Softmax
	LogSoftmax
	// Appended, keeping the numbers above.
	Relu6       // clip(x, 0, 6)
	Elu         // alpha 1, as Keras's and PyTorch's default
	Selu        //
	GeluTanh    // gelu's tanh approximation
	Silu        // x·sigmoid(x)
	Swish       // silu's other name
	HardSigmoid // relu6(x+3)/6, PyTorch's and Keras 3's; hard_sigmoid(alpha=0.2) is Keras 2's
	HardSwish   // x·relu6(x+3)/6
	Mish
	Softplus
	Softsign
	Exponential // e^x, Keras's name
	activationCount
)

var activationInfo = [activationCount]struct {
	name  string
	op    ir.Op
	attrs func() ir.Attrs
}{
	Linear:     {name: "linear"},
	Relu:       {name: "relu", op: ir.OpRelu},
	LeakyRelu:  {name: "leaky_relu", op: ir.OpLeakyRelu, attrs: func() ir.Attrs { return &ir.LeakyReluAttrs{Alpha: 0.3} }},
	Sigmoid:    {name: "sigmoid", op: ir.OpSigmoid},
	Tanh:       {name: "tanh", op: ir.OpTanh},
	Gelu:       {name: "gelu", op: ir.OpGelu, attrs: func() ir.Attrs { return &ir.GeluAttrs{} }},
	Softmax:    {name: "softmax", op: ir.OpSoftmax},
	LogSoftmax: {name: "log_softmax", op: ir.OpLogSoftmax},

	Relu6:       {name: "relu6", op: ir.OpClip, attrs: func() ir.Attrs { return &ir.ClipAttrs{Min: 0, Max: 6} }},
	Elu:         {name: "elu", op: ir.OpElu, attrs: func() ir.Attrs { return &ir.EluAttrs{Alpha: 1} }},
	Selu:        {name: "selu", op: ir.OpSelu},
	GeluTanh:    {name: "gelu_tanh", op: ir.OpGelu, attrs: func() ir.Attrs { return &ir.GeluAttrs{Approximate: true} }},
	Silu:        {name: "silu", op: ir.OpSilu},
	Swish:       {name: "swish", op: ir.OpSilu},
	HardSigmoid: {name: "hard_sigmoid", op: ir.OpHardSigmoid, attrs: func() ir.Attrs { return &ir.HardSigmoidAttrs{Alpha: 1.0 / 6} }},
	HardSwish:   {name: "hard_swish", op: ir.OpHardSwish},
	Mish:        {name: "mish", op: ir.OpMish},
	Softplus:    {name: "softplus", op: ir.OpSoftplus},
	Softsign:    {name: "softsign", op: ir.OpSoftsign},
	Exponential: {name: "exponential", op: ir.OpExp},
}

func (a Activation) String() string {
	if a >= activationCount {
		return "invalid activation"
	}
	return activationInfo[a].name
}

// Activations lists every activation, Linear first.
func Activations() []Activation {
	out := make([]Activation, activationCount)
	for i := range out {
		out[i] = Activation(i)
	}
	return out
}

// ParseActivation finds an activation by its name (relu, log_softmax, ...).
func ParseActivation(name string) (Activation, bool) {
	for _, a := range Activations() {
		if a.String() == name {
			return a, true
		}
	}
	return 0, false
}

// Activate applies act to x; softmax and log_softmax along the last axis.
func Activate(l *Layer, x *ir.Value, act Activation) (*ir.Value, error) {
	if act >= activationCount {
		return nil, &ir.TypeError{Msg: "unknown activation " + itoa(int(act))}
	}
	info := activationInfo[act]
	if info.op == ir.OpInvalid {
		return x, nil
	}
	var attrs ir.Attrs
	switch {
	case info.attrs != nil:
		attrs = info.attrs()
	case info.op == ir.OpSoftmax || info.op == ir.OpLogSoftmax:
		attrs = &ir.AxisAttrs{Axis: x.Type.Shape.Rank() - 1}
	}
	return l.Node(info.op, attrs, x)
}
