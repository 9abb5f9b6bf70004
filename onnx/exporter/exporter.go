// Package exporter writes an mdlc graph as an ONNX model (opset 17), the
// importer's inverse: `mdlc export` uses it so that a model written in .mdl
// opens in Netron and runs in ONNX Runtime.
//
// What is exported: the graph after the driver's passes up to AfterPass, with
// the weights bound as constants. There, layers are already primitive ops
// (dense is matmul and add, batchnorm's scale and shift are folded into the
// convolution before it) but nothing is fused yet: fused ops are mdlc's
// kernels, which ONNX has no ops for.
//
// How a graph becomes ONNX:
//   - One rule per ir.Op (rules.go), in a table indexed by the op; an op
//     without a rule carries the reason it cannot be exported, and the error
//     names the layer and the op.
//   - Layout: mdlc is NHWC with HWIO kernels, ONNX's Conv and pools NCHW
//     with OIHW ones. The model's inputs and outputs keep mdlc's layout and
//     names. A 4-D value can have an NCHW twin: convolutions and pools read
//     and make twins, and elementwise ops and concatenations whose operands
//     have twins compute on twins, so a run of conv, relu, pool, add stays
//     in NCHW and a Transpose is written only where an op needs the other
//     layout (as tf2onnx does). Kernels are permuted once, as initializers.
//   - Symbolic dimensions (N, T, ...) stay symbolic (dim_param), unless
//     Options.Dims fixes them; where ONNX needs a size the graph leaves
//     symbolic (a sinusoidal encoding's length), the error says which --dim
//     to give.
//   - Nodes no output needs (a transpose back to NHWC that only another
//     convolution would have read) are dropped at the end, with the
//     initializers only they read.
package exporter

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"

	"github.com/mdlc/mdlc/internal/size"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/onnx"
)

// Opset is the default-domain opset the exporter writes: 17 has
// LayerNormalization, the last op an mdlc layer needs.
const Opset = 17

// irVersion is the ONNX IR version of opset 17's release (ONNX 1.12).
const irVersion = 8

// AfterPass is the pass of passes.Pipeline whose result is exported: after
// lowering, folding and dead-code elimination, before the fusions.
const AfterPass = "dce"

// Options control an export.
type Options struct {
	// Dims fixes symbolic dimensions to sizes, by name (N=1, T=128).
	Dims map[string]int
	// Source names what the model was read from, for the model's metadata.
	Source string
	// Budget bounds the constants the export computes from sizes Dims
	// gives (a sinusoid of T rows, a causal mask of T² cells).
	Budget size.Budget
}

// Error is a node the exporter cannot write: which layer and op, and why.
type Error struct {
	Layer string
	Op    ir.Op
	Pos   ir.Pos
	Err   error
}

func (e *Error) Error() string {
	where := ""
	if e.Pos.File != "" {
		where = e.Pos.String() + ": "
	}
	return fmt.Sprintf("%slayer %q: %s cannot be exported to ONNX: %s", where, e.Layer, e.Op, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Export writes g, whose weights are bound (Const values), as an ONNX model.
func Export(g *ir.Graph, o Options) (*onnx.Model, error) {
	syms := symbols(g)
	for _, name := range slices.Sorted(maps.Keys(o.Dims)) {
		if !slices.Contains(syms, name) {
			return nil, fmt.Errorf("model %s has no symbolic dimension %s to fix", g.Name, name)
		}
		if o.Dims[name] < 1 {
			return nil, fmt.Errorf("dimension %s=%d: a size is at least 1", name, o.Dims[name])
		}
	}
	e := &exporter{g: g, o: o, nhwc: map[*ir.Value]string{}, nchw: map[*ir.Value]string{}, consts: map[constKey]string{}, scalars: map[uint32]string{}, taken: map[string]bool{}}
	e.uses, e.readers = map[*ir.Value]int{}, map[*ir.Value][]*ir.Node{}
	for _, n := range g.Nodes {
		for _, v := range n.Inputs {
			e.uses[v]++
			e.readers[v] = append(e.readers[v], n)
		}
	}
	for _, out := range g.Outputs {
		e.taken[out.Name] = true
		e.uses[out.Value]++
	}
	graph := &onnx.Graph{Name: g.Name}
	for _, in := range g.Inputs {
		e.taken[in.Name] = true
		e.nhwc[in] = in.Name
		vi, err := e.valueInfo(in.Name, in.Type)
		if err != nil {
			return nil, err
		}
		graph.Inputs = append(graph.Inputs, vi)
	}
	for _, n := range g.Nodes {
		r := rules[n.Op]
		if r.fn == nil {
			return nil, &Error{Layer: layerOf(n), Op: n.Op, Pos: n.Pos, Err: errors.New(r.why)}
		}
		e.node = n
		if err := r.fn(e, n); err != nil {
			return nil, &Error{Layer: layerOf(n), Op: n.Op, Pos: n.Pos, Err: err}
		}
	}
	// Each output's value by its ONNX name, then the nodes it needs.
	sources := make([]string, len(g.Outputs))
	for i, out := range g.Outputs {
		name, err := e.val(out.Value)
		if err != nil {
			return nil, fmt.Errorf("output %s: %w", out.Name, err)
		}
		sources[i] = name
	}
	e.prune(sources)
	e.nameOutputs(sources)
	for _, out := range g.Outputs {
		vi, err := e.valueInfo(out.Name, out.Value.Type)
		if err != nil {
			return nil, err
		}
		graph.Outputs = append(graph.Outputs, vi)
	}
	vis, err := e.valueInfos()
	if err != nil {
		return nil, err
	}
	graph.Nodes, graph.Initializers, graph.ValueInfo = e.nodes, e.inits, vis
	m := &onnx.Model{
		IRVersion:    irVersion,
		Opsets:       []onnx.OpsetID{{Version: Opset}},
		ProducerName: "mdlc",
		Graph:        graph,
	}
	if o.Source != "" {
		m.Metadata = []onnx.KeyValue{{Key: "source", Value: o.Source}}
	}
	return m, nil
}

// symbols lists the graph's symbolic dimensions, its inputs' first.
func symbols(g *ir.Graph) []string {
	syms := g.Symbols()
	for _, out := range g.Outputs {
		for _, d := range out.Value.Type.Shape {
			if !d.Known() && !slices.Contains(syms, d.Sym) {
				syms = append(syms, d.Sym)
			}
		}
	}
	return syms
}

func layerOf(n *ir.Node) string {
	if n.Layer != "" {
		return n.Layer
	}
	return n.Op.String()
}

// exporter is one export's state: the ONNX nodes and initializers written
// so far, and each mdlc value's ONNX names in either layout.
type exporter struct {
	g     *ir.Graph
	o     Options
	nodes []*onnx.Node
	inits []*onnx.Tensor
	// nhwc names a value in mdlc's own layout; nchw a 4-D value's NCHW
	// twin. A value has one or both.
	nhwc, nchw map[*ir.Value]string
	consts     map[constKey]string
	scalars    map[uint32]string // by the value's bits
	taken      map[string]bool
	// uses counts each value's readers, graph outputs included; readers
	// are the nodes among them.
	uses    map[*ir.Value]int
	readers map[*ir.Value][]*ir.Node
	// node is the mdlc node being exported, whose layer names what it emits.
	node *ir.Node
}

// constKey is a constant in a layout: its value and the permutation of its
// axes (after padding its shape to rank 4 with leading 1s, for an NCHW twin).
type constKey struct {
	v    *ir.Value
	perm string
	rank int
}

// unique returns base, or base with the first free suffix _1, _2, ...
func (e *exporter) unique(base string) string {
	name := base
	for i := 1; e.taken[name]; i++ {
		name = base + "_" + strconv.Itoa(i)
	}
	e.taken[name] = true
	return name
}

// Attribute builders.

func attrInt(name string, v int64) *onnx.Attribute {
	return &onnx.Attribute{Name: name, Type: onnx.AttrInt, I: v}
}

func attrInts(name string, v ...int64) *onnx.Attribute {
	return &onnx.Attribute{Name: name, Type: onnx.AttrInts, Ints: v}
}

func attrFloat(name string, v float32) *onnx.Attribute {
	return &onnx.Attribute{Name: name, Type: onnx.AttrFloat, F: v}
}

func attrString(name, v string) *onnx.Attribute {
	return &onnx.Attribute{Name: name, Type: onnx.AttrString, S: []byte(v)}
}

func attrStrings(name string, v ...string) *onnx.Attribute {
	a := &onnx.Attribute{Name: name, Type: onnx.AttrStrings}
	for _, s := range v {
		a.Strings = append(a.Strings, []byte(s))
	}
	return a
}

// emit writes one node of opType and returns its first output, named after
// the current layer and the op (conv2d_1/Conv).
func (e *exporter) emit(opType string, inputs []string, attrs ...*onnx.Attribute) string {
	return e.emitN(opType, inputs, 1, attrs...)[0]
}

// emitN writes a node with nout outputs; an empty name in outputs' place
// is left for the caller to fill in (an optional output not produced).
func (e *exporter) emitN(opType string, inputs []string, nout int, attrs ...*onnx.Attribute) []string {
	name := e.unique(layerOf(e.node) + "/" + opType)
	outs := make([]string, nout)
	outs[0] = name
	for i := 1; i < nout; i++ {
		outs[i] = e.unique(name + ":" + strconv.Itoa(i))
	}
	e.nodes = append(e.nodes, &onnx.Node{Name: name, OpType: opType, Inputs: inputs, Outputs: outs, Attrs: attrs})
	return outs
}

// initializer adds a weight or a constant of the export and returns its name.
func (e *exporter) initializer(t *onnx.Tensor) string {
	t.Name = e.unique(t.Name)
	e.inits = append(e.inits, t)
	return t.Name
}

// floats adds a FLOAT initializer named after base.
func (e *exporter) floats(base string, dims []int64, v []float32) (string, error) {
	t, err := onnx.NewFloatTensor(base, dims, v)
	if err != nil {
		return "", err
	}
	return e.initializer(t), nil
}

// scalar is a FLOAT scalar initializer of value v, one per value in the
// graph (relu6's bounds, gelu's constants), named by its first use's base.
func (e *exporter) scalar(base string, v float32) string {
	if name, ok := e.scalars[math.Float32bits(v)]; ok {
		return name
	}
	name, _ := e.floats(base, nil, []float32{v}) // one value for no dims: cannot fail
	e.scalars[math.Float32bits(v)] = name
	return name
}

// int64s adds an INT64 initializer (shapes, axes, pads) of one dimension.
func (e *exporter) int64s(base string, v ...int64) string {
	t, _ := onnx.NewIntTensor(layerOf(e.node)+"/"+base, onnx.Int64, []int64{int64(len(v))}, v) // dims match v: cannot fail
	return e.initializer(t)
}

// val is v's name in mdlc's layout: an input, a constant as an
// initializer, a result, or a transpose of its NCHW twin.
func (e *exporter) val(v *ir.Value) (string, error) {
	if name, ok := e.nhwc[v]; ok {
		return name, nil
	}
	if v.Kind == ir.Const {
		return e.constant(v, nil)
	}
	twin, ok := e.nchw[v]
	if !ok {
		return "", fmt.Errorf("%s has no ONNX value (a bug in mdlc's exporter)", describe(v))
	}
	name := e.emitFor(v, "Transpose", []string{twin}, attrInts("perm", 0, 2, 3, 1))
	e.nhwc[v] = name
	return name, nil
}

// emitFor is emit with the layer of the node that made v, so a transpose
// written where a value is read is named after the layer that made it.
func (e *exporter) emitFor(v *ir.Value, opType string, inputs []string, attrs ...*onnx.Attribute) string {
	cur := e.node
	if v.Def != nil {
		e.node = v.Def
	}
	defer func() { e.node = cur }()
	return e.emit(opType, inputs, attrs...)
}

// valNCHW is a 4-D value's NCHW twin, or a constant of rank at most 4
// padded to rank 4 and permuted so that it broadcasts against twins as it
// broadcast against NHWC values.
func (e *exporter) valNCHW(v *ir.Value) (string, error) {
	if name, ok := e.nchw[v]; ok {
		return name, nil
	}
	if v.Kind == ir.Const {
		return e.constant(v, []int{0, 3, 1, 2})
	}
	if v.Type.Shape.Rank() != 4 {
		return "", fmt.Errorf("%s is %s, not a 4-D image (N, H, W, C)", describe(v), v.Type)
	}
	x, err := e.val(v)
	if err != nil {
		return "", err
	}
	name := e.emitFor(v, "Transpose", []string{x}, attrInts("perm", 0, 3, 1, 2))
	e.nchw[v] = name
	return name, nil
}

// hasTwin reports whether v is already available in NCHW.
func (e *exporter) hasTwin(v *ir.Value) bool {
	_, ok := e.nchw[v]
	return ok
}

// constant adds a Const's data as an initializer named after it, with its
// axes permuted by perm (output axis i is input axis perm[i]); a perm longer
// than the constant's rank pads its shape with leading 1s first. Each form
// of a constant is added once.
func (e *exporter) constant(v *ir.Value, perm []int) (string, error) {
	if v.Kind != ir.Const {
		return "", fmt.Errorf("%s is not a constant: export needs the weights bound", describe(v))
	}
	key := constKey{v: v, perm: fmt.Sprint(perm), rank: len(perm)}
	if name, ok := e.consts[key]; ok {
		return name, nil
	}
	dims := make([]int, v.Type.Shape.Rank())
	for i, d := range v.Type.Shape {
		dims[i] = d.Size
	}
	data := v.Data
	if perm != nil {
		if len(dims) > len(perm) {
			return "", fmt.Errorf("constant %s of rank %d cannot take a permutation of %d axes", v.Name, len(dims), len(perm))
		}
		for len(dims) < len(perm) {
			dims = append([]int{1}, dims...)
		}
		data, dims = permute(data, dims, perm)
	}
	base := v.Name
	if base == "" {
		base = "const_" + strconv.Itoa(v.ID)
	}
	shape := make([]int64, len(dims))
	for i, d := range dims {
		shape[i] = int64(d)
	}
	name, err := e.floats(base, shape, data)
	if err != nil {
		return "", err
	}
	e.consts[key] = name
	return name, nil
}

// permute transposes row-major data of shape dims: output axis i is input
// axis perm[i].
func permute(data []float32, dims, perm []int) ([]float32, []int) {
	r := len(dims)
	out := make([]float32, len(data))
	odims := make([]int, r)
	for i, p := range perm {
		odims[i] = dims[p]
	}
	istride := make([]int, r)
	s := 1
	for i := r - 1; i >= 0; i-- {
		istride[i] = s
		s *= dims[i]
	}
	idx := make([]int, r) // the output index, counted in row-major order
	for o := range out {
		src := 0
		for i, p := range perm {
			src += idx[i] * istride[p]
		}
		out[o] = data[src]
		for i := r - 1; i >= 0; i-- {
			if idx[i]++; idx[i] < odims[i] {
				break
			}
			idx[i] = 0
		}
	}
	return out, odims
}

// size is a dimension's size: known, or fixed by Options.Dims.
func (e *exporter) size(d ir.Dim) (int, bool) {
	if d.Known() {
		return d.Size, true
	}
	n, ok := e.o.Dims[d.Sym]
	return n, ok
}

// needSize is size, or an error saying which --dim fixes it.
func (e *exporter) needSize(d ir.Dim, what string) (int, error) {
	if n, ok := e.size(d); ok {
		return n, nil
	}
	return 0, fmt.Errorf("%s is the symbolic dimension %s, and ONNX needs its size here: give it with --dim %s=SIZE", what, d.Sym, d.Sym)
}

// table checks a rows×cols float32 constant the export is about to compute
// against the budget, the size overflow-checked.
func (e *exporter) table(what string, rows, cols int) error {
	return e.o.Budget.CheckShape(fmt.Sprintf("%s (%d×%d)", what, rows, cols), []int{rows, cols}, 4)
}

func (e *exporter) valueInfo(name string, t ir.Type) (*onnx.ValueInfo, error) {
	elem, ok := map[ir.DType]onnx.DataType{ir.F32: onnx.Float, ir.I32: onnx.Int32, ir.I64: onnx.Int64}[t.DType]
	if !ok {
		return nil, fmt.Errorf("value %s: element type %s has no ONNX type", name, t.DType)
	}
	ty := &onnx.Type{Kind: onnx.KindTensor, Elem: elem, HasShape: true}
	for _, d := range t.Shape {
		if n, ok := e.size(d); ok {
			ty.Shape = append(ty.Shape, onnx.Dim{Value: int64(n), Known: true})
		} else {
			ty.Shape = append(ty.Shape, onnx.Dim{Param: d.Sym})
		}
	}
	return &onnx.ValueInfo{Name: name, Type: ty}, nil
}

// valueInfos types each value a node makes that is an mdlc value or its
// NCHW twin, in schedule order: Netron shows the shapes on the edges, and
// ONNX's shape inference (the checker's full check) holds them to its own.
func (e *exporter) valueInfos() ([]*onnx.ValueInfo, error) {
	made := map[string]bool{}
	for _, n := range e.nodes {
		for _, o := range n.Outputs {
			made[o] = true
		}
	}
	for _, out := range e.g.Outputs {
		made[out.Name] = false // typed as a graph output
	}
	var vis []*onnx.ValueInfo
	add := func(name string, t ir.Type) error {
		if name == "" || !made[name] { // "": an optional output left out
			return nil
		}
		made[name] = false
		vi, err := e.valueInfo(name, t)
		vis = append(vis, vi)
		return err
	}
	for _, n := range e.g.Nodes {
		v := n.Outputs[0]
		if err := add(e.nhwc[v], v.Type); err != nil {
			return nil, err
		}
		if twin, ok := e.nchw[v]; ok {
			s := v.Type.Shape
			if err := add(twin, ir.Type{DType: v.Type.DType, Shape: ir.Shape{s[0], s[3], s[1], s[2]}}); err != nil {
				return nil, err
			}
		}
	}
	return vis, nil
}

// prune drops the nodes whose outputs nothing reads and no graph output
// is, latest first, then the initializers no kept node reads.
func (e *exporter) prune(outputs []string) {
	live := map[string]bool{}
	for _, o := range outputs {
		live[o] = true
	}
	var kept []*onnx.Node
	for i := len(e.nodes) - 1; i >= 0; i-- {
		n := e.nodes[i]
		if !slices.ContainsFunc(n.Outputs, func(o string) bool { return live[o] }) {
			continue
		}
		for _, in := range n.Inputs {
			live[in] = true
		}
		kept = append(kept, n)
	}
	slices.Reverse(kept)
	e.nodes = kept
	e.inits = slices.DeleteFunc(e.inits, func(t *onnx.Tensor) bool { return !live[t.Name] })
}

// nameOutputs gives each graph output its mdlc name: the node making it is
// renamed where it can be; an output that is an input, a constant or
// another output's value gets an Identity.
func (e *exporter) nameOutputs(sources []string) {
	made := map[string]*onnx.Node{}
	for _, n := range e.nodes {
		for _, o := range n.Outputs {
			made[o] = n
		}
	}
	renamed := map[string]bool{}
	for i, out := range e.g.Outputs {
		src := sources[i]
		if n := made[src]; n != nil && !renamed[src] {
			renamed[src] = true
			e.rename(src, out.Name)
			continue
		}
		if renamed[src] {
			src = e.g.Outputs[slices.Index(sources, src)].Name
		}
		e.nodes = append(e.nodes, &onnx.Node{Name: out.Name + "/Identity", OpType: "Identity", Inputs: []string{src}, Outputs: []string{out.Name}})
	}
}

// rename replaces value name old by new in every node.
func (e *exporter) rename(old, new string) {
	for _, n := range e.nodes {
		for _, list := range [][]string{n.Inputs, n.Outputs} {
			for i, s := range list {
				if s == old {
					list[i] = new
				}
			}
		}
	}
}

// describe names a value for an error.
func describe(v *ir.Value) string {
	switch v.Kind {
	case ir.Input:
		return fmt.Sprintf("input %q", v.Name)
	case ir.Param:
		return fmt.Sprintf("parameter %q", v.Name)
	case ir.Const:
		return fmt.Sprintf("constant %q", v.Name)
	}
	if v.Def != nil {
		return fmt.Sprintf("the result of %s (layer %q)", v.Def.Op, layerOf(v.Def))
	}
	return fmt.Sprintf("value %%%d", v.ID)
}

// negInf is the additive mask value that drops a score.
var negInf = float32(math.Inf(-1))
