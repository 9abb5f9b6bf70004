// Package importer turns an ONNX model into an .mdl program and its weights
// in mdlc's layouts: the ONNX frontend. The program is the model as a person
// would write it (layers named after the ONNX graph's weights, pipelines,
// the ONNX node names in comments), so that `mdlc import` can hand it to a
// user to read and edit, and every other command runs an .onnx file by
// checking and compiling this program like any other: one path from text to
// plan, whichever frontend wrote the text.
//
// How a graph becomes a program:
//   - Values known at import time (initializers, Constant nodes, and the
//     shape computations exported graphs are full of: Shape → Gather →
//     Unsqueeze → Concat → Reshape) are folded here, with dynamic dimensions
//     kept as symbols, so the program holds only tensors that run.
//   - Each node is imported by the rule registered for its op with the
//     highest since-version not above the model's opset (rules.go).
//   - Layout: ONNX images are NCHW, mdlc's NHWC. The model's inputs and
//     outputs keep ONNX's layout; in between, a value has the layout of what
//     made it, and a transpose is written only where an op needs the other
//     one (a convolution, a Reshape, a Transpose of the whole tensor).
//     Elementwise ops, pools, normalisations, concatenations and reductions
//     take either layout by moving their axes.
//   - Patterns become mdlc's own layers: MatMul+Add and Gemm → dense,
//     Conv/Gemm followed by an activation → its activation= argument,
//     Clip(0, 6) → relu6, x·HardSigmoid(x) → hard_swish.
//
// Weights are converted once to mdlc's layouts (conv kernels OIHW → HWIO,
// Gemm's B transposed) and named as the program's parameters.
package importer

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unsafe"

	"github.com/mdlc/mdlc/internal/size"
	"github.com/mdlc/mdlc/onnx"
	"github.com/mdlc/mdlc/tensor"
)

// MinOpset and MaxOpset bound the default-domain opsets read. Opset 6 is
// still what older PyTorch exports use; its legacy broadcast attribute is
// read (binary).
const (
	MinOpset = 6
	MaxOpset = 21
)

// Options control an import.
type Options struct {
	// Name is the model's name in the program; default the graph's name.
	Name string
	// Dims fixes dynamic dimensions by their ONNX name (dim_param), or, for
	// one without a name, input.axis (e.g. "input.0").
	Dims map[string]int
	// Source is the model file's path, for the program's header.
	Source string
	Budget size.Budget
}

// Program is an imported model: the .mdl source and its weights, named as
// its parameters.
type Program struct {
	Name    string
	Source  []byte
	Weights map[string]*tensor.Tensor
	// Inputs and Outputs map the program's names to the ONNX graph's.
	Inputs, Outputs []Rename
	// Fixed are the names of Options.Dims that fixed a dynamic dimension.
	Fixed []string
}

// Rename pairs a value's ONNX name with its name in the program, which
// differs where the ONNX name is not an identifier.
type Rename struct{ ONNX, MDL string }

// Error is a node the importer cannot take: which and why, and what to do.
type Error struct {
	Node, Op string
	Msg      string
	Help     string
	// Err is the error Msg was made from, if any, so that errors.As finds
	// what a caller tells apart (a *size.Error is refused as too large).
	Err error
}

func (e *Error) Unwrap() error { return e.Err }

func (e *Error) Error() string {
	s := "onnx node " + e.Op
	if e.Node != "" {
		s += " " + strconvQuote(e.Node)
	}
	s += ": " + e.Msg
	if e.Help != "" {
		s += " (" + e.Help + ")"
	}
	return s
}

func strconvQuote(s string) string { return fmt.Sprintf("%q", s) }

// importer is one import in progress.
type importer struct {
	opset int64
	vals  map[string]*val
	uses  map[string]int
	users map[string][]*onnx.Node
	// producer is the node that computes each value.
	producer map[string]*onnx.Node
	skip     map[*onnx.Node]bool
	w        *writer
	weights  map[string]*tensor.Tensor
	budget   size.Budget
	bytes    int64
	// folded is the bytes of the constants folding made (fold).
	folded int64
	dims   map[string]int
	node   *onnx.Node
	fixed  []string
}

// Import turns m into a program.
func Import(m *onnx.Model, o Options) (*Program, error) {
	if m.Graph == nil {
		return nil, errors.New("the model has no graph")
	}
	opset, ok := m.Opset("")
	if !ok {
		opset = MinOpset
	}
	if opset < MinOpset || opset > MaxOpset {
		return nil, fmt.Errorf("the model imports ONNX opset %d; mdlc reads opsets %d to %d (convert it with onnx.version_converter)", opset, MinOpset, MaxOpset)
	}
	im := &importer{opset: opset, vals: map[string]*val{}, uses: map[string]int{}, users: map[string][]*onnx.Node{}, producer: map[string]*onnx.Node{},
		skip: map[*onnx.Node]bool{}, w: newWriter(), weights: map[string]*tensor.Tensor{}, budget: o.Budget, dims: o.Dims,
	}
	g := m.Graph
	if len(g.SparseInitializers) > 0 {
		return nil, errors.New("the model has sparse initializers, which mdlc does not read yet (densify them with onnx's tools)")
	}
	for _, t := range g.Initializers {
		v, err := fromTensor(t)
		if err != nil {
			return nil, fmt.Errorf("initializer %q: %w", t.Name, err)
		}
		im.vals[t.Name] = v
	}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if in != "" {
				im.uses[in]++
				im.users[in] = append(im.users[in], n)
			}
		}
		for _, out := range n.Outputs {
			if out != "" {
				im.producer[out] = n
			}
		}
	}
	for _, out := range g.Outputs {
		im.uses[out.Name]++
	}
	name := o.Name
	if name == "" {
		name = g.Name
	}
	name = ident(name)
	if name == "v" {
		name = "model"
	} else if im.w.taken[name] {
		name += "_model"

	}
	ins, renamedIn, err := im.inputs(g)
	if err != nil {
		return nil, err
	}
	// Constants first: they have no inputs, and patterns look ahead at
	// them (GELU's 1 and 0.5, layer norm's ε) before their turn comes.
	for _, n := range g.Nodes {
		if n.OpType == "Constant" && (n.Domain == "" || n.Domain == "ai.onnx") {
			if err := im.importNode(n); err != nil {
				return nil, err
			}
			im.skip[n] = true
		}
	}
	for _, n := range g.Nodes {
		if im.skip[n] {
			continue
		}
		if err := im.importNode(n); err != nil {
			return nil, err
		}
	}
	outs, renamedOut, err := im.outputs(g)
	if err != nil {
		return nil, err
	}
	im.dropDead(outs)
	im.extractBlocks(ins, outs)
	header := []string{"Imported from " + describe(o.Source, m) + " by mdlc import.",
		"Layouts: inputs and outputs as in the ONNX graph; images inside are NHWC, as mdlc's layers take them."}
	src := im.w.print(header, name, ins, outs)
	return &Program{Name: name, Source: []byte(src), Weights: im.weights, Inputs: renamedIn, Outputs: renamedOut, Fixed: im.fixed}, nil
}

func describe(path string, m *onnx.Model) string {
	s := "an ONNX model"
	if path != "" {
		s = path
	}
	opset, _ := m.Opset("")
	s += fmt.Sprintf(" (opset %d", opset)
	if m.ProducerName != "" {
		s += ", made by " + strings.TrimSpace(m.ProducerName+" "+m.ProducerVersion)
	}
	return s + ")"
}

// inputs declares the graph inputs that are not initializers.
func (im *importer) inputs(g *onnx.Graph) ([]port, []Rename, error) {
	var ports []port
	var renames []Rename
	for _, in := range g.Inputs {
		if _, ok := im.vals[in.Name]; ok {
			continue // an initializer listed as an input (IR version < 4), which a feed could override: mdlc takes it as a weight
		}
		t := in.Type
		if t == nil || t.Kind != onnx.KindTensor || !t.HasShape {
			return nil, nil, fmt.Errorf("input %q has no tensor shape in the graph (%v); mdlc needs one", in.Name, t)
		}
		if len(t.Shape) == 0 {
			return nil, nil, fmt.Errorf("input %q is a scalar; an .mdl model's inputs have at least one dimension (make it an initializer if it is a constant, such as an axis or a bound)", in.Name)
		}
		v := &val{elem: t.Elem}
		typ := "f32"
		switch {
		case isFloat(t.Elem):
		case t.Elem == onnx.Bool:
			// Booleans are held as mdlc's masks are: f32 0 and 1.
			v.isInt = true
		case t.Elem == onnx.Int64:
			typ, v.isInt = "i64", true
		case t.Elem == onnx.Int32:
			typ, v.isInt = "i32", true
		default:
			return nil, nil, fmt.Errorf("input %q holds %s values; mdlc's models take float, bool (as 0 and 1), int32 or int64 inputs", in.Name, t.Elem)
		}
		var parts []string
		for i, d := range t.Shape {
			var dd dim
			switch {
			case d.Known:
				dd = known(d.Value)
			default:
				key := d.Param
				if key == "" {
					key = fmt.Sprintf("%s.%d", in.Name, i)
				}
				if n, ok := im.dims[key]; ok {
					dd = known(int64(n))
					if !slices.Contains(im.fixed, key) {
						im.fixed = append(im.fixed, key)
					}
				} else if d.Param != "" {
					dd = dim{n: 1, sym: ident(d.Param)}
				} else {
					dd = dim{n: 1, sym: ident(fmt.Sprintf("%s_%d", in.Name, i))}
				}
			}
			if dd.isKnown() && dd.n < 1 {
				return nil, nil, fmt.Errorf("input %q: dimension %d is %d", in.Name, i, dd.n)
			}
			v.shape = append(v.shape, dd)
			s, _ := dd.mdl()
			parts = append(parts, s)
		}
		v.ref = im.w.name(in.Name)
		im.vals[in.Name] = v
		ports = append(ports, port{name: v.ref, typ: typ + "[" + strings.Join(parts, ", ") + "]"})
		renames = append(renames, Rename{ONNX: in.Name, MDL: v.ref})
		if typ != "f32" {
			// Integers take part in arithmetic, comparisons and indexing
			// as numbers; dropDead removes the conversion if only an
			// embedding reads them.
			v.ids = v.ref
			v.ref = im.w.name(in.Name + "_f")
			im.w.add(&stmt{outs: []string{v.ref}, call: "to_float", in: v.ids})
		}
	}
	if len(ports) == 0 {
		return nil, nil, errors.New("the graph has no inputs besides its weights")
	}
	return ports, renames, nil
}

// outputs names the graph's outputs, in ONNX's layout.
func (im *importer) outputs(g *onnx.Graph) ([]port, []Rename, error) {
	var ports []port
	var renames []Rename
	for _, out := range g.Outputs {
		v, ok := im.vals[out.Name]
		if !ok {
			return nil, nil, fmt.Errorf("output %q is not computed by any node", out.Name)
		}
		if v.ref == "" {
			// A shape, a size: known from the input types, and given as
			// the values of a variable.
			c, err := im.constOutput(out.Name, v)
			if err != nil {
				return nil, nil, fmt.Errorf("output %q is a constant (%s): %w", out.Name, shapeString(v.shape), err)
			}
			v = c
		}
		v, err := im.logical(v)
		if err != nil {
			return nil, nil, err
		}
		name := ident(out.Name)
		if im.w.taken[name] && v.ref != name {
			name = im.w.name(out.Name)
		} else {
			im.w.taken[name] = true
		}
		if v.ref != name {
			if err := im.rename(v, name); err != nil {
				return nil, nil, err
			}
		}
		typ := "f32" // comparisons and argmax too: mdlc gives them as float 0/1 and positions
		var parts []string
		for _, d := range v.shape {
			s, ok := d.mdl()
			if !ok {
				return nil, nil, fmt.Errorf("output %q has the dimension %s, which a .mdl type cannot write", out.Name, d)
			}
			parts = append(parts, s)
		}
		p := port{name: name, typ: typ + "[" + strings.Join(parts, ", ") + "]"}
		if len(parts) == 0 {
			p.typ = "" // a .mdl type has a dimension; a scalar result goes undeclared
		}
		ports = append(ports, p)
		renames = append(renames, Rename{ONNX: out.Name, MDL: name})
	}
	return ports, renames, nil
}

// constOutput is a constant v as a tensor of the program, of exactly v's
// shape: a variable holding its values, whose leading ones tensorRef drops
// put back.
func (im *importer) constOutput(name string, v *val) (*val, error) {
	if _, ok := numel(v.shape); !ok {
		return nil, fmt.Errorf("its size is not known")
	}
	ref, err := im.tensorRef(v, false)
	if err != nil {
		return nil, err
	}
	dims := make([]int, len(v.shape))
	for i, d := range v.shape {
		dims[i] = int(d.n)
	}
	switch {
	case len(dims) == 0:
		ref = im.emit(nil, name, "squeeze", ref, nil, nil, false).ref
	case dims[0] == 1 && len(dims) > 1:
		ref = im.emit(nil, name, "reshape", ref, []string{intList(dims), "keep_batch=false"}, nil, false).ref
	}
	return &val{ref: ref, shape: v.shape, isInt: v.isInt}, nil
}

// rename makes the statement that computes v assign name instead, or adds
// one that copies it when v is an input or already an output.
func (im *importer) rename(v *val, name string) error {
	for _, s := range slices.Backward(im.w.stmts) {
		for i, o := range s.outs {
			if o != v.ref {
				continue
			}
			if im.refUses(v.ref) == 0 {
				s.outs[i] = name
				v.ref = name
				return nil
			}
		}
	}
	im.w.add(&stmt{outs: []string{name}, call: "activation", in: v.ref, args: []string{"linear"}})
	v.ref = name
	return nil
}

// dropDead removes the statements no output depends on (a transpose that
// another undid, an ONNX value nothing reads), and the weights of the
// layers among them.
func (im *importer) dropDead(outs []port) {
	live := map[string]bool{}
	for _, o := range outs {
		live[o.name] = true
	}
	keep := make([]bool, len(im.w.stmts))
	for i := len(im.w.stmts) - 1; i >= 0; i-- {
		s := im.w.stmts[i]
		for _, o := range s.outs {
			keep[i] = keep[i] || live[o]
		}
		if !keep[i] {
			continue
		}
		if s.in != "" {
			live[s.in] = true
		}
		for _, a := range s.args {
			for _, t := range tokens(a) {
				live[t] = true
			}
		}
	}
	var stmts []*stmt
	byLayer := im.weightsByLayer()
	for i, s := range im.w.stmts {
		if keep[i] {
			stmts = append(stmts, s)
			continue
		}
		for _, name := range byLayer[s.as] {
			delete(im.weights, name)
		}
	}
	im.w.stmts = stmts
}

// refUses counts the statements that read a program name.
func (im *importer) refUses(ref string) int {
	n := 0
	for _, s := range im.w.stmts {
		if s.in == ref {
			n++
		}
		for _, a := range s.args {
			if slices.Contains(tokens(a), ref) {
				n++
			}
		}
	}
	return n
}

// importNode imports one node by the rule for its op and the opset.
func (im *importer) importNode(n *onnx.Node) error {
	im.node = n
	im.w.module = ""
	if strings.HasPrefix(n.Name, "/") {
		im.w.module = modulePath(n.Name)
	}
	if n.Domain != "" && n.Domain != "ai.onnx" {
		return im.errf("its domain %q is not ONNX's own; mdlc imports the default domain's ops", n.Domain)
	}
	r := lookup(n.OpType, im.opset)
	if r == nil {
		return &Error{Node: n.Name, Op: n.OpType, Msg: "mdlc does not import this op", Help: "`mdlc help import` lists the ops it does"}
	}
	for _, in := range n.Inputs {
		if in != "" && im.vals[in] == nil {
			return im.errf("its input %q is not defined before it (the graph is not in topological order, or the name is wrong)", in)
		}
	}
	if err := r(im, n); err != nil {
		var e *Error
		if errors.As(err, &e) {
			return err
		}
		return &Error{Node: n.Name, Op: n.OpType, Msg: err.Error(), Err: err}
	}
	for _, o := range n.Outputs {
		if o != "" && im.vals[o] == nil && im.needed(o) {
			return im.errf("mdlc does not compute its output %q, which is used", o)
		}
	}
	if movesElements[n.OpType] {
		// Integers moved are integers still (a Cast to int64 of them
		// changes nothing): all of the inputs moved must be.
		ints := true
		for i, in := range n.Inputs {
			if in != "" && (i == 0 || n.OpType == "Concat") {
				ints = ints && im.vals[in].isInt
			}
		}
		for _, o := range n.Outputs {
			if v := im.vals[o]; o != "" && v != nil && v.ref != "" {
				v.isInt = ints
			}
		}
	}
	return nil
}

// early is the value name, importing ahead of its turn the nodes that
// compute it when what they read is known already (up to depth nodes
// back), or nil. A pattern recognised at one node may need a value the
// graph computes after it: PyTorch writes the scaling of an attention mask
// after the product of the queries and keys it is added to. Imported early,
// a node is skipped at its turn; one that fails is left to fail there.
func (im *importer) early(name string, depth int) *val {
	if v := im.vals[name]; v != nil || depth == 0 {
		return v
	}
	n := im.producer[name]
	if n == nil || im.skip[n] {
		return nil
	}
	for _, in := range n.Inputs {
		if in != "" && im.early(in, depth-1) == nil {
			return nil
		}
	}
	node, module := im.node, im.w.module
	err := im.importNode(n)
	im.node, im.w.module = node, module
	if err != nil {
		return nil
	}
	im.skip[n] = true
	return im.vals[name]
}

// movesElements are the ops whose outputs hold elements of their first
// input (of every input, for Concat), moved or repeated.
var movesElements = map[string]bool{
	"Reshape": true, "Unsqueeze": true, "Squeeze": true, "Flatten": true, "Transpose": true, "Slice": true,
	"Expand": true, "Tile": true, "Split": true, "Concat": true, "DepthToSpace": true, "SpaceToDepth": true,
}

// needed reports whether a value is read by a node not taken into a
// pattern, or is a graph output.
func (im *importer) needed(name string) bool {
	n := 0
	for _, u := range im.users[name] {
		if !im.skip[u] {
			return true
		}
		for _, in := range u.Inputs {
			if in == name {
				n++
			}
		}
	}
	return im.uses[name] > n
}

func (im *importer) errf(format string, args ...any) error {
	return &Error{Node: im.node.Name, Op: im.node.OpType, Msg: fmt.Sprintf(format, args...)}
}

// in is input i of the node, nil when absent.
func (im *importer) in(n *onnx.Node, i int) *val {
	if i >= len(n.Inputs) || n.Inputs[i] == "" {
		return nil
	}
	return im.vals[n.Inputs[i]]
}

// need is input i, which must be present.
func (im *importer) need(n *onnx.Node, i int) (*val, error) {
	v := im.in(n, i)
	if v == nil {
		return nil, im.errf("input %d is missing", i)
	}
	return v, nil
}

// set records output i of the node.
func (im *importer) set(n *onnx.Node, i int, v *val) {
	if i < len(n.Outputs) && n.Outputs[i] != "" {
		im.vals[n.Outputs[i]] = v
	}
}

// comment is the ONNX node's name, for the program's reader.
func comment(n *onnx.Node) string {
	if n.Name == "" {
		return ""
	}
	return "onnx: " + n.Name
}

// emit adds a statement computing one tensor and returns its value.
func (im *importer) emit(n *onnx.Node, base, call, in string, args []string, shape []dim, channelsLast bool) *val {
	out := im.w.name(base)
	im.w.add(&stmt{outs: []string{out}, call: call, in: in, args: args})
	return &val{ref: out, shape: shape, channelsLast: channelsLast}
}

// weight records a parameter of the program, checked against the budget.
func (im *importer) weight(name string, shape []int, data []float32) error {
	n, ok := size.Add(im.bytes, int64(len(data))*4)
	if !ok {
		return size.Overflow("the imported weights")
	}
	if err := im.budget.Check("the imported weights", n); err != nil {
		return err
	}
	im.bytes = n
	im.weights[name] = &tensor.Tensor{Shape: shape, Data: data}
	return nil
}

// fold charges a constant of n elements that folding is about to make
// against the budget. Every folded constant is held until the import ends
// (any later node may read it), so they are charged together, as weights
// are, each element at the size of the larger form a constant takes (a
// dim, for integers).
func (im *importer) fold(n int64) error {
	b, ok := size.Mul(n, int64(unsafe.Sizeof(dim{})))
	if ok {
		b, ok = size.Add(im.folded, b)
	}
	if !ok {
		return size.Overflow("the constants the import folds")
	}
	if err := im.budget.Check("the constants the import folds", b); err != nil {
		return err
	}
	im.folded = b
	return nil
}

// layerName is a fresh instance name for a layer with weights: the ONNX
// name of its weight input (layer1.0.conv1.weight → layer1_0_conv1), or,
// where the exporter renamed the weights (onnx::Conv_193), the module path
// in the node's name (/layer1/layer1.0/conv1/Conv → layer1_0_conv1).
func (im *importer) layerName(n *onnx.Node, weightInput int) string {
	base := strings.ToLower(n.OpType)
	if weightInput < len(n.Inputs) {
		w := n.Inputs[weightInput]
		switch l, ok := strings.CutSuffix(w, ".weight"); {
		case ok:
			base = l
		case !strings.Contains(w, "::") && !strings.HasPrefix(w, "/") && w != "":
			base = w
		case n.Name != "":
			base = modulePath(n.Name)
		}
	}
	return im.w.layer(base)
}

// modulePath is the module of a node named by PyTorch's exporter: its
// scopes but the last (the op), less each scope that the next one repeats
// (/layer1/layer1.0/conv1/Conv → layer1.0/conv1).
func modulePath(node string) string {
	parts := strings.Split(strings.Trim(node, "/"), "/")
	if len(parts) > 1 {
		parts = parts[:len(parts)-1]
	}
	var keep []string
	for i, p := range parts {
		if i+1 < len(parts) && strings.HasPrefix(parts[i+1], p+".") {
			continue
		}
		keep = append(keep, p)
	}
	return strings.Join(keep, "/")
}

// Ops lists the ONNX ops the importer reads, sorted.
func Ops() []string {
	return slices.Sorted(maps.Keys(rules))
}
