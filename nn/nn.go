// Package nn builds the graphs of common layers from plain Go arguments:
// convolutions, dense layers, poolings, normalisations, embeddings,
// positional encodings, recurrent layers, attention, activations and the
// axis layers (split, slice, concat, reshape). Every frontend uses
// it, so a model written in .mdl and the same model imported from elsewhere
// lower to the same IR with the same parameter names.
//
// A Layer is one layer instance: the parameters it adds are named
// Name.suffix (conv2d_1.kernel, res2.conv1.kernel: the names of saved
// weights) and its nodes carry Name and Pos. Each kind of layer is an
// options struct whose Apply adds it to a Layer:
//
//	y, err := nn.Conv{Filters: 32, Kernel: [2]int{3, 3}, Activation: nn.Relu, UseBias: true}.Apply(l, x)
//
// Zero values are Go's, not a frontend's defaults: UseBias is false, and
// zero strides, dilations, groups and multipliers mean 1. Apply checks what
// the IR's shape rules cannot (sizes below 1, a window on a non-image, heads
// that do not divide d_model) and returns an *ir.TypeError with a help
// line, which the frontend reports at the layer's call; the layer may have
// added parameters by then, which Discard removes.
package nn

import "github.com/mdlc/mdlc/ir"

// Layer adds one layer instance's parameters and nodes to a graph.
type Layer struct {
	G *ir.Graph
	// Name is the instance's hierarchical name (res2.conv1), the prefix of
	// its parameters' names.
	Name string
	Pos  ir.Pos
	// Params counts the parameter elements added, for summaries.
	Params int64
	// firstParam and firstNode are where the layer's additions start.
	firstParam, firstNode int
}

// NewLayer starts the layer instance name at the end of graph g.
func NewLayer(g *ir.Graph, name string, pos ir.Pos) *Layer {
	return &Layer{G: g, Name: name, Pos: pos, firstParam: len(g.Params), firstNode: len(g.Nodes)}
}

// Nodes are the nodes the layer added, in order.
func (l *Layer) Nodes() []*ir.Node { return l.G.Nodes[l.firstNode:] }

// Discard removes what the layer added, after an error: a layer may have
// added parameters before it found a shape it cannot take. Nothing may have
// been added to the graph after the layer.
func (l *Layer) Discard() {
	l.G.Params, l.G.Nodes = l.G.Params[:l.firstParam], l.G.Nodes[:l.firstNode]
	l.Params = 0
}

// Param adds a trainable parameter named Name.suffix.
func (l *Layer) Param(suffix string, t ir.Type, init ir.Init) *ir.Value {
	return l.addParam(suffix, t, init, true)
}

// State adds a parameter training does not update by gradient, such as
// batchnorm's running statistics.
func (l *Layer) State(suffix string, t ir.Type, init ir.Init) *ir.Value {
	return l.addParam(suffix, t, init, false)
}

func (l *Layer) addParam(suffix string, t ir.Type, init ir.Init, trainable bool) *ir.Value {
	p := l.G.AddParam(ir.Qualified(l.Name, suffix), t, init, trainable)
	n, _ := t.Shape.KnownProduct(0)
	l.Params += int64(n)
	return p
}

// Node adds op(inputs) to the graph as part of this layer.
func (l *Layer) Node(op ir.Op, attrs ir.Attrs, inputs ...*ir.Value) (*ir.Value, error) {
	return l.G.AddNode(op, attrs, inputs, l.Name, l.Pos)
}
