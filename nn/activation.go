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
