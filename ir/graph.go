package ir

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// ValueKind says where a value comes from.
type ValueKind uint8

const (
	// Input values are fed by the caller at run time.
	Input ValueKind = iota + 1
	// Param values are trained weights, loaded or initialised before running.
	Param
	// Result values are computed by a node.
	Result
	// Const values have data known when the graph is compiled: weights bound
	// for inference, and what the optimizer folds from them.
	Const
)

// InitKind is how a parameter is initialised when no weights are given; the
// defaults are Keras's.
type InitKind uint8

const (
	InitZeros InitKind = iota + 1
	InitOnes
	// InitGlorotUniform draws from U(-l, l), l = sqrt(6/(fan_in+fan_out)).
	InitGlorotUniform
	// InitUniform draws from U(-Limit, Limit): Keras's embeddings (0.05).
	InitUniform
)

// Init describes a parameter's initialiser.
type Init struct {
	Kind          InitKind
	FanIn, FanOut int
	Limit         float32
}

func (i Init) String() string {
	switch i.Kind {
	case InitZeros:
		return "zeros"
	case InitOnes:
		return "ones"
	case InitGlorotUniform:
		return fmt.Sprintf("glorot_uniform(fan_in=%d, fan_out=%d)", i.FanIn, i.FanOut)
	case InitUniform:
		return "uniform(limit=" + fmtFloat(i.Limit) + ")"
	}
	return "uninitialised"
}

// Value is an SSA value: a tensor produced once and read by any number of nodes.
type Value struct {
	ID   int
	Kind ValueKind
	Type Type
	// Name is the input's name, the parameter's hierarchical name
	// (res2.dense.bias), or for results the source variable it was bound to, if any.
	Name string
	// Def is the node computing a Result.
	Def *Node
	// Init is a Param's initialiser.
	Init Init
	// Trainable is false for parameters training does not update by gradient,
	// such as batchnorm's running statistics.
	Trainable bool
	// Data is a Const's value, row-major.
	Data []float32
}

// Pos is a source position carried from the language into the IR, so later
// stages can still point at the source.
type Pos struct {
	File      string
	Line, Col int
}

func (p Pos) String() string {
	if p.File == "" {
		return "-"
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Node applies an op to input values, producing output values.
type Node struct {
	ID      int
	Op      Op
	Inputs  []*Value
	Outputs []*Value
	Attrs   Attrs
	// Layer is the hierarchical name of the source layer the node implements
	// (conv2d_1, res2.dense): the unit of `mdlc summary` and of parameter names.
	Layer string
	Pos   Pos
}

// Output is a named result of a graph.
type Output struct {
	Name  string
	Value *Value
}

// Graph is one model: inputs, parameters, nodes in a valid execution order, and
// named outputs. A backward graph for training is built into the same structure.
type Graph struct {
	Name    string
	Inputs  []*Value
	Params  []*Value
	Consts  []*Value
	Nodes   []*Node
	Outputs []Output
	nextID  int
}

// NewGraph returns an empty graph.
func NewGraph(name string) *Graph { return &Graph{Name: name} }

func (g *Graph) newValue(kind ValueKind, name string, t Type) *Value {
	g.nextID++
	return &Value{ID: g.nextID, Kind: kind, Name: name, Type: t}
}

// AddInput declares a run-time input.
func (g *Graph) AddInput(name string, t Type) *Value {
	v := g.newValue(Input, name, t)
	g.Inputs = append(g.Inputs, v)
	return v
}

// AddParam declares a weight tensor.
func (g *Graph) AddParam(name string, t Type, init Init, trainable bool) *Value {
	v := g.newValue(Param, name, t)
	v.Init = init
	v.Trainable = trainable
	g.Params = append(g.Params, v)
	return v
}

// AddConst declares a constant; t's shape must be fully known and data must
// hold its elements.
func (g *Graph) AddConst(name string, t Type, data []float32) *Value {
	v := g.newValue(Const, name, t)
	v.Data = data
	g.Consts = append(g.Consts, v)
	return v
}

// Param finds a parameter by name.
func (g *Graph) Param(name string) *Value {
	for _, p := range g.Params {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// AddNode appends op(inputs) after checking arity, attributes and shapes, and
// returns its result. On a shape error (*TypeError) nothing is added.
func (g *Graph) AddNode(op Op, attrs Attrs, inputs []*Value, layer string, pos Pos) (*Value, error) {
	n, err := g.NewNode(op, attrs, inputs, layer, pos)
	if err != nil {
		return nil, err
	}
	g.Nodes = append(g.Nodes, n)
	return n.Outputs[0], nil
}

// NewNode makes a checked node of this graph without placing it in the
// schedule, for passes that insert nodes where they belong.
func (g *Graph) NewNode(op Op, attrs Attrs, inputs []*Value, layer string, pos Pos) (*Node, error) {
	info := op.Info()
	if !op.Valid() {
		return nil, fmt.Errorf("invalid op %d", op)
	}
	if len(inputs) < info.MinInputs || (info.MaxInputs >= 0 && len(inputs) > info.MaxInputs) {
		return nil, fmt.Errorf("%s takes %s operands, got %d", info.Name, arity(info), len(inputs))
	}
	if !op.attrsMatch(attrs) {
		return nil, fmt.Errorf("%s: attributes of type %T, want %T", info.Name, attrs, info.Attrs)
	}
	types := make([]Type, len(inputs))
	for i, in := range inputs {
		types[i] = in.Type
	}
	t, err := op.infer(attrs, types)
	if err != nil {
		return nil, err
	}
	g.nextID++
	n := &Node{ID: g.nextID, Op: op, Inputs: inputs, Attrs: attrs, Layer: layer, Pos: pos}
	out := g.newValue(Result, "", t)
	out.Def = n
	n.Outputs = []*Value{out}
	return n, nil
}

// ReplaceUses makes every reader of old, and every output that is old, read
// new instead: how a rewrite swaps a node's result for another. Types must
// match.
func (g *Graph) ReplaceUses(old, new *Value) {
	for _, n := range g.Nodes {
		for i, v := range n.Inputs {
			if v == old {
				n.Inputs[i] = new
			}
		}
	}
	for i := range g.Outputs {
		if g.Outputs[i].Value == old {
			g.Outputs[i].Value = new
		}
	}
}

// AddOutput names a value as a graph result.
func (g *Graph) AddOutput(name string, v *Value) {
	g.Outputs = append(g.Outputs, Output{Name: name, Value: v})
}

func arity(info *OpInfo) string {
	switch {
	case info.MaxInputs < 0:
		return fmt.Sprintf("at least %d", info.MinInputs)
	case info.MinInputs == info.MaxInputs:
		return fmt.Sprint(info.MinInputs)
	}
	return fmt.Sprintf("%d to %d", info.MinInputs, info.MaxInputs)
}

// ParamCount is the number of scalar weights, or math.MaxInt64 if it
// overflows: a figure to show. ParamBytes is the checked total.
func (g *Graph) ParamCount() int64 {
	n := of(0)
	for _, p := range g.Params {
		n = n.plus(elems(p.Type.Shape))
	}
	if !n.ok {
		return math.MaxInt64
	}
	return n.n
}

// Flops is the whole graph's floating point operations per example, or
// math.MaxInt64 if the count overflows. FlopsBound is the checked count.
func (g *Graph) Flops() int64 {
	f := of(0)
	for _, n := range g.Nodes {
		f = f.plus(n.Op.Info().Flops(n))
	}
	if !f.ok {
		return math.MaxInt64
	}
	return f.n
}

// FlopsBound is the FLOPs of one run with the symbolic dimensions bound by
// env (batch included): Flops counts every symbol as 1, which undercounts
// ops quadratic in a sequence length. A count that overflows int64 is an
// error naming the layer where it did. It binds the graph's types while it
// counts and restores them, so it must not run beside other uses of g.
func (g *Graph) FlopsBound(env map[string]int) (int64, error) {
	total := of(0)
	err := g.eachFlops(env, func(n *Node, f count) error {
		if total = total.plus(f); !total.ok {
			return fmt.Errorf("the FLOP count of model %s%s overflows 64-bit arithmetic at %s (layer %q): no machine runs it", g.Name, withBinding(env), n.Op, n.Layer)
		}
		return nil
	})
	return total.n, err
}

// FlopsByLayer is FlopsBound by the layer each node comes from (Node.Layer).
func (g *Graph) FlopsByLayer(env map[string]int) (map[string]int64, error) {
	byLayer := map[string]int64{}
	err := g.eachFlops(env, func(n *Node, f count) error {
		sum := of(byLayer[n.Layer]).plus(f)
		if !sum.ok {
			return fmt.Errorf("the FLOP count of layer %q%s overflows 64-bit arithmetic: no machine runs it", n.Layer, withBinding(env))
		}
		byLayer[n.Layer] = sum.n
		return nil
	})
	if err != nil {
		return nil, err
	}
	return byLayer, nil
}

// FlopsByNode is FlopsBound node by node, in the order of g.Nodes: what the
// plan reports beside each step's kernel.
func (g *Graph) FlopsByNode(env map[string]int) ([]int64, error) {
	flops := make([]int64, 0, len(g.Nodes))
	err := g.eachFlops(env, func(_ *Node, f count) error {
		flops = append(flops, f.n)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return flops, nil
}

// eachFlops calls visit with each node's FLOPs, the graph's types bound by
// env for the duration.
func (g *Graph) eachFlops(env map[string]int, visit func(*Node, count) error) error {
	vals := slices.Concat(g.Inputs, g.Params, g.Consts)
	for _, n := range g.Nodes {
		vals = append(vals, n.Outputs...)
	}
	saved := make([]Shape, len(vals))
	for i, v := range vals {
		saved[i] = v.Type.Shape
	}
	defer func() {
		for i, v := range vals {
			v.Type.Shape = saved[i]
		}
	}()
	for _, v := range vals {
		dims, err := v.Type.Shape.Bind(env)
		if err != nil {
			return fmt.Errorf("%s: %w", describe(v), err)
		}
		bound := make(Shape, len(dims))
		for j, d := range dims {
			bound[j] = D(d)
		}
		v.Type.Shape = bound
	}
	for _, n := range g.Nodes {
		if f := n.Op.Info().Flops(n); f.ok {
			if err := visit(n, f); err != nil {
				return err
			}
			continue
		}
		return fmt.Errorf("the FLOP count of %s (layer %q)%s overflows 64-bit arithmetic: no machine runs it", n.Op, n.Layer, withBinding(env))
	}
	return nil
}

// describe names a value for an error: input "x", parameter "dense.kernel",
// or the result of a layer's op.
func describe(v *Value) string {
	switch v.Kind {
	case Input:
		return fmt.Sprintf("input %q", v.Name)
	case Param:
		return fmt.Sprintf("parameter %q", v.Name)
	case Const:
		return fmt.Sprintf("constant %q", v.Name)
	}
	if v.Def != nil {
		return fmt.Sprintf("the result of %s (layer %q)", v.Def.Op, v.Def.Layer)
	}
	return fmt.Sprintf("value %%%d", v.ID)
}

func (g *Graph) Symbols() []string {
	var syms []string
	for _, in := range g.Inputs {
		for _, d := range in.Type.Shape {
			if !d.Known() && !slices.Contains(syms, d.Sym) {
				syms = append(syms, d.Sym)
			}
		}
	}
	return syms
}

// Qualified joins hierarchical name parts with dots, skipping empty ones.
func Qualified(parts ...string) string {
	var keep []string
	for _, p := range parts {
		if p != "" {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, ".")
}
