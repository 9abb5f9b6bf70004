package plan

import (
	"fmt"
	"maps"
	"math"
	"runtime"
	"slices"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime/exec"
	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/memplan"
	"github.com/mdlc/mdlc/tensor"
)

// buffer is a tensor's storage as the builder sees it: one per slot. Views
// share their operand's buffer.
type buffer struct {
	kind  exec.SlotKind
	size  int // floats
	def   int // the step writing it; -1 for inputs and constants
	uses  []int
	label string
	data  []float32 // constants
	// inPlaceOf is the buffer this one overwrites in place, or nil.
	inPlaceOf *buffer
	memID     int // memplan buffer id
	// update is, for a state buffer, the value written over it once its
	// step (updatedAt) has run, or nil.
	update    *ir.Value
	updatedAt int
}

// The kinds of buffer: slot 0 is the empty slice, for steps without
// scratch; graph inputs and outputs are bound by Run; constants are data
// owned by the plan; arena buffers (intermediates and scratch) are placed by
// memplan.
const (
	none     = exec.SlotEmpty
	input    = exec.SlotInput
	output   = exec.SlotOutput
	constant = exec.SlotConstant
	arena    = exec.SlotArena
	state    = exec.SlotState // a parameter of a plan built for training
)

// builder compiles one graph.
type builder struct {
	g       *ir.Graph
	env     map[string]int
	weights map[string]*tensor.Tensor
	shapes  map[*ir.Value][]int
	roots   map[*ir.Value]int // value -> its buffer (slot)
	bufs    []*buffer
	names   map[*ir.Value]string
	specs   []exec.Spec
	info    []StepInfo
	flops   []int64 // each node's FLOPs, in the order of g.Nodes
	meta    []stepMeta
	step    int // the step being built

	kernels cpu.Set // the kernel set, chosen once
	// train makes parameters state (Train); updates maps an update's value
	// to its parameter.
	train   bool
	updates map[*ir.Value]*ir.Value
	// helperScratch is the scratch a helper goroutine needs: the most any
	// parallel step's unit needs.
	helperScratch int
}

// stepMeta is where a step writes: its result's and its scratch's slots.
type stepMeta struct {
	out, scratch int
}

// Option configures Build.
type Option func(*options)

type options struct {
	threads int
	kernels cpu.Set
	train   bool
	updates map[string]*ir.Value
}

// Threads sets how many goroutines run each parallel step of the plan (the
// GEMMs and convolutions): the goroutine calling Run and n-1 helpers per
// Arena. The default is GOMAXPROCS when Build runs. Outputs do not depend
// on it, bit for bit.
func Threads(n int) Option { return func(o *options) { o.threads = n } }

// Kernels makes the plan run the kernels of set instead of the ones
// cpu.Select chooses. Its constants are packed for set; only a process that
// can run set (cpu.Available) can run the plan, which Build checks unless the
// plan is only written out (Program) for another machine, as mdlc gen does for
// another GOARCH.
func Kernels(set cpu.Set) Option { return func(o *options) { o.kernels = set } }

// Train builds the plan for training (see runtime/exec's package doc): every
// parameter of the graph, trainable or not (batchnorm's running statistics
// are updated too), becomes a state slot of the program holding its weights
// unpacked, which persists from one run to the next, instead of a constant
// packed for its kernel; steps that want packed weights pack them on every
// run. updates maps a parameter's name to its update p' = f(p, ...), a value
// computed by an op of the graph: each run writes it over the parameter's
// state, in place, so the next run reads it. An update must come after
// every read of its parameter and be computed by an op whose kernel may
// write over its operand (elementwise ops, chains, norms, softmax) with the
// parameter as that operand; Build says which update breaks the rule.
// Inference plans keep packed constants.
func Train(updates map[string]*ir.Value) Option {
	return func(o *options) { o.train, o.updates = true, updates }
}

// Build compiles g for the given symbol bindings (e.g. {"N": 7}), with
// weights for its parameters by name (nil if it has none left: every weight a
// constant). The plan copies what it keeps of the weights. The kernel set is
// chosen now, once (cpu.Select: the best this CPU runs, or MDLC_KERNELS).
func Build(g *ir.Graph, weights map[string]*tensor.Tensor, env map[string]int, opts ...Option) (*Plan, error) {
	o := options{threads: runtime.GOMAXPROCS(0)}
	for _, f := range opts {
		f(&o)
	}
	if o.threads < 1 {
		return nil, fmt.Errorf("graph %s: %d threads: a plan needs at least one", g.Name, o.threads)
	}
	set := o.kernels
	if set == "" {
		var err error
		if set, err = cpu.Select(); err != nil {
			return nil, fmt.Errorf("graph %s: %w", g.Name, err)
		}
	}
	if err := ir.Verify(g); err != nil {
		return nil, fmt.Errorf("graph %s does not verify: %w", g.Name, err)
	}
	b := &builder{g: g, env: env, weights: weights, shapes: map[*ir.Value][]int{}, roots: map[*ir.Value]int{}, names: map[*ir.Value]string{},
		kernels: set, train: o.train}
	b.bufs = []*buffer{{kind: none, def: -1, label: "none"}}
	if err := b.bind(); err != nil {
		return nil, fmt.Errorf("graph %s: %w", g.Name, err)
	}
	if err := b.bindUpdates(o.updates); err != nil {
		return nil, fmt.Errorf("graph %s: %w", g.Name, err)
	}
	if err := g.CheckBound(env); err != nil {
		return nil, fmt.Errorf("graph %s: %w", g.Name, err)
	}
	flops, err := g.FlopsByNode(env)
	if err != nil {
		return nil, fmt.Errorf("graph %s: %w", g.Name, err)
	}
	b.flops = flops
	p := &Plan{graph: g.Name, env: maps.Clone(env), threads: o.threads,
		prog: &exec.Program{Name: "plan " + g.Name, Kernels: set}}
	if err := b.schedule(p); err != nil {
		return nil, fmt.Errorf("graph %s: %w", g.Name, err)
	}
	for _, n := range g.Nodes {
		if rules[n.Op].view {
			continue
		}
		b.step = b.stepOf(n)
		b.specs[b.step] = rules[n.Op].build(b, n)
		if param := b.updates[n.Outputs[0]]; param != nil && b.info[b.step].InPlace == "" {
			return nil, fmt.Errorf("graph %s: the update of parameter %s is computed by %s, whose kernel here cannot write over the parameter in place: compute it with an elementwise op whose first operand is the parameter", g.Name, param.Name, n.Op)
		}
	}
	if err := b.place(p); err != nil {
		return nil, fmt.Errorf("graph %s: %w", g.Name, err)
	}
	p.info = b.info
	p.prog.Specs, p.prog.HelperScratch = b.specs, b.helperScratch
	if err := p.prog.Compile(); err != nil {
		return nil, fmt.Errorf("graph %s: the plan does not check (a bug in mdlc): %w", g.Name, err)
	}
	return p, nil
}

// bind checks the graph's types and weights and binds every value's shape.
func (b *builder) bind() error {
	all := slices.Concat(b.g.Inputs, b.g.Params, b.g.Consts)
	for _, n := range b.g.Nodes {
		all = append(all, n.Outputs...)
	}
	next := 0
	for _, v := range all {
		shape, err := v.Type.Shape.Bind(b.env)
		if err != nil {
			return fmt.Errorf("value %s %s: %w (bind it in env)", v.Name, v.Type, err)
		}
		if slices.ContainsFunc(shape, func(d int) bool { return d < 1 }) {
			return fmt.Errorf("value %s %s: dimensions bound to %s, each must be at least 1", v.Name, v.Type, tensor.ShapeString(shape))
		}
		b.shapes[v] = shape
		switch v.Kind {
		case ir.Input:
			b.names[v] = "%" + v.Name
		case ir.Param, ir.Const:
			b.names[v] = "@" + v.Name
		default:
			b.names[v] = fmt.Sprintf("%%%d", next)
			next++
		}
	}
	for _, p := range b.g.Params {
		w := b.weights[p.Name]
		if w == nil {
			return fmt.Errorf("no weights for parameter %s %s", p.Name, p.Type)
		}
		if !slices.Equal(w.Shape, b.shapes[p]) || len(w.Data) != tensor.Numel(w.Shape) {
			return fmt.Errorf("weights for parameter %s have shape %s (%d values), want %s", p.Name, tensor.ShapeString(w.Shape), len(w.Data), p.Type)
		}
	}
	return nil
}

// schedule numbers the steps, gives every value a buffer (views their
// operand's), records each buffer's uses, and binds graph outputs to the
// buffers that compute them, adding a copy step where that is impossible.
func (b *builder) schedule(p *Plan) error {
	if b.train {
		// Every parameter's state is a piece of one slice, trainable ones
		// first, so an optimiser updates them all in one pass (Parameters).
		p.state = map[string]int{}
		order := slices.Clone(b.g.Params)
		slices.SortStableFunc(order, func(x, y *ir.Value) int { return cmpBool(y.Trainable, x.Trainable) })
		total := 0
		for _, v := range order {
			total += tensor.Numel(b.shapes[v])
		}
		p.params = make([]float32, total)
		off := 0
		for _, v := range order {
			n := tensor.Numel(b.shapes[v])
			data := p.params[off : off+n : off+n]
			copy(data, b.weights[v.Name].Data)
			b.roots[v] = b.add(&buffer{kind: state, size: n, def: -1, data: data, label: b.names[v]})
			p.state[v.Name] = b.roots[v]
			p.layout = append(p.layout, ParamRange{Name: v.Name, Offset: off, Shape: slices.Clone(b.shapes[v]), Trainable: v.Trainable})
			off += n
		}
	}
	for _, v := range b.g.Inputs {
		id := b.add(&buffer{kind: input, size: tensor.Numel(b.shapes[v]), def: -1, label: b.names[v]})
		b.roots[v] = id
		in := exec.Port{Name: v.Name, Shape: b.shapes[v], Slot: id, DType: exec.DType(v.Type.DType)}
		if v.Type.DType != ir.F32 {
			in.Limit = b.g.TokenLimit(v)
		}
		p.prog.Inputs = append(p.prog.Inputs, in)
	}
	// Constants, and views of them, get buffers only when a kernel reads
	// them as they are (see root): most are packed instead.
	for i, n := range b.g.Nodes {
		out := n.Outputs[0]
		if rules[n.Op].view {
			if id, ok := b.roots[n.Inputs[0]]; ok {
				b.roots[out] = id
			}
			continue
		}
		s := len(b.specs)
		b.specs = append(b.specs, nil)
		b.info = append(b.info, StepInfo{Index: s, Op: n.Op.String(), Layer: n.Layer, Output: b.names[out], Shape: b.shapes[out],
			ReadBytes: b.readBytes(n.Inputs...), Flops: b.flops[i], ExecutedFlops: b.flops[i]})
		for _, in := range n.Inputs {
			id, ok := b.roots[in]
			if !ok {
				continue
			}
			r := b.bufs[id]
			if r.update != nil && b.origin(in) != r.update {
				return fmt.Errorf("parameter %s is read by %s (step %d) after its update at step %d: schedule every update after the last read of its parameter",
					b.origin(in).Name, n.Op, s, r.updatedAt)
			}
			if len(r.uses) == 0 || r.uses[len(r.uses)-1] != s {
				r.uses = append(r.uses, s)
			}
		}
		if param := b.updates[out]; param != nil {
			// The update is written over its parameter's state (see inPlace).
			b.roots[out] = b.roots[param]
			b.bufs[b.roots[out]].update, b.bufs[b.roots[out]].updatedAt = out, s
		} else {
			b.roots[out] = b.add(&buffer{kind: arena, size: tensor.Numel(b.shapes[out]), def: s, label: b.names[out]})
		}
		b.meta = append(b.meta, stepMeta{out: b.roots[out]})
	}
	for _, o := range b.g.Outputs {
		r := b.bufs[b.root(o.Value)]
		if r.update != nil && b.origin(o.Value) != r.update {
			return fmt.Errorf("output %s is parameter %s, which every run updates in place: output its update instead", o.Name, o.Value.Name)
		}
		shape := b.shapes[o.Value]
		if r.kind == arena {
			r.kind, r.label = output, o.Name
			p.prog.Outputs = append(p.prog.Outputs, exec.Port{Name: o.Name, Shape: shape, DType: exec.F32, Slot: b.root(o.Value)})
			continue
		}
		// An input, a constant, or a buffer already bound to another output.
		s := len(b.specs)
		src := b.root(o.Value)
		r.uses = append(r.uses, s)
		dst := b.add(&buffer{kind: output, size: r.size, def: s, label: o.Name})
		p.prog.Outputs = append(p.prog.Outputs, exec.Port{Name: o.Name, Shape: shape, DType: exec.F32, Slot: dst})
		b.specs = append(b.specs, exec.Copy{Src: src, Dst: dst})
		b.info = append(b.info, StepInfo{Index: s, Op: "copy", Kernel: "copy", Output: b.names[o.Value], Shape: shape, ReadBytes: b.readBytes(o.Value)})
		b.meta = append(b.meta, stepMeta{out: dst})
	}
	return nil
}

// readBytes is the size of the distinct values among vs.
func (b *builder) readBytes(vs ...*ir.Value) int64 {
	var n int64
	for i, v := range vs {
		if !slices.Contains(vs[:i], v) {
			n += 4 * int64(tensor.Numel(b.shapes[v]))
		}
	}
	return n
}

// executes records that the current step's kernel runs executed FLOPs for
// the part of its op that the op's count puts at nominal (see
// StepInfo.ExecutedFlops).
func (b *builder) executes(executed, nominal float64) {
	st := &b.info[b.step]
	st.ExecutedFlops = math.MaxInt64
	if n := math.Round(float64(st.Flops) - nominal + executed); n < math.MaxInt64 {
		st.ExecutedFlops = int64(n)
	}
}

// bindUpdates checks the updates of a plan built for training: each names a
// parameter and is the result of an op (not a view of another buffer) of
// the parameter's shape, and no value updates two parameters.
func (b *builder) bindUpdates(updates map[string]*ir.Value) error {
	b.updates = map[*ir.Value]*ir.Value{}
	for _, name := range slices.Sorted(maps.Keys(updates)) {
		v, param := updates[name], b.g.Param(name)
		switch {
		case param == nil:
			return fmt.Errorf("update of %s: the graph has no such parameter", name)
		case v == nil || v.Kind != ir.Result || !slices.Contains(b.g.Nodes, v.Def) || rules[v.Def.Op].view:
			return fmt.Errorf("update of parameter %s: want the result of an op of the graph that computes the new value", name)
		case !slices.Equal(b.shapes[v], b.shapes[param]):
			return fmt.Errorf("update of parameter %s %s has shape %s", name, param.Type, tensor.ShapeString(b.shapes[v]))
		case b.updates[v] != nil:
			return fmt.Errorf("update of parameter %s: the same value already updates %s", name, b.updates[v].Name)
		}
		b.updates[v] = param
	}
	return nil
}

// origin is the value whose buffer v is: v, or the operand a view of v
// reinterprets.
func (b *builder) origin(v *ir.Value) *ir.Value {
	for v.Kind == ir.Result && rules[v.Def.Op].view {
		v = v.Def.Inputs[0]
	}
	return v
}

func (b *builder) add(buf *buffer) int {
	b.bufs = append(b.bufs, buf)
	return len(b.bufs) - 1
}

// root is v's buffer. A constant (or a view of one) gets its buffer, a copy
// of its data, when first read.
func (b *builder) root(v *ir.Value) int {
	if id, ok := b.roots[v]; ok {
		return id
	}
	var id int
	if v.Kind == ir.Result { // a view
		id = b.root(v.Def.Inputs[0])
	} else {
		id = b.constant(slices.Clone(b.data(v)), b.names[v])
	}
	b.roots[v] = id
	return id
}

// constant adds plan-owned data, such as packed weights.
func (b *builder) constant(data []float32, label string) int {
	if data == nil {
		data = []float32{}
	}
	return b.add(&buffer{kind: constant, size: len(data), def: -1, data: data, label: label})
}

// data is the data of a constant, a parameter or a view of one, as the graph
// and the weights hold it (not copied), or nil for a value computed at run
// time.
func (b *builder) data(v *ir.Value) []float32 {
	switch {
	case v.Kind == ir.Const:
		return v.Data
	case v.Kind == ir.Param && !b.train:
		return b.weights[v.Name].Data
	case v.Kind == ir.Result && rules[v.Def.Op].view:
		return b.data(v.Def.Inputs[0])
	}
	return nil
}

// stepOf is the step computing n: its result's buffer's, or for an update
// the step that writes it over its parameter's state.
func (b *builder) stepOf(n *ir.Node) int {
	r := b.bufs[b.roots[n.Outputs[0]]]
	if r.update == n.Outputs[0] {
		return r.updatedAt
	}
	return r.def
}

// out is the slot of the node's result.
func (b *builder) out(n *ir.Node) int { return b.roots[n.Outputs[0]] }

// slot is the slot of an operand.
func (b *builder) slot(v *ir.Value) int { return b.root(v) }

// scratch adds a scratch buffer of n floats live for the current step, or
// returns the empty slot for n = 0.
func (b *builder) scratch(n int, what string) int {
	if n == 0 {
		return 0
	}
	b.meta[b.step].scratch = b.add(&buffer{kind: arena, size: n, def: b.step, label: fmt.Sprintf("scratch %d (%s)", b.step, what)})
	return b.meta[b.step].scratch
}

// helpers is how many helper goroutines the current step may use for work of
// the given size cut into units each needing scratch floats (exec.Helpers),
// and makes each helper's scratch large enough for it.
func (b *builder) helpers(units int, flops float64, scratch int) int {
	n := exec.Helpers(units, flops)
	if n > 0 {
		// At least one float: a program starts its helpers only when they
		// have scratch (exec.Program.NewArena), and a split step without
		// scratch (a direct convolution) must still find them.
		b.helperScratch = max(b.helperScratch, scratch, 1)
	}
	return n
}

// temp adds a buffer of n floats live for the current step only, beside its
// scratch: memory a step fills and reads within one run.
func (b *builder) temp(n int, what string) int {
	return b.add(&buffer{kind: arena, size: n, def: b.step, label: fmt.Sprintf("temp %d (%s)", b.step, what)})
}

// inPlace picks, among the operand positions a kernel may overwrite, the
// first whose buffer dies at this step: an intermediate in the arena, as
// large as the result, read for the last time here and by no other operand
// of the step. It records the choice for memplan and returns the position,
// or -1.
func (b *builder) inPlace(n *ir.Node, positions ...int) int {
	out := b.bufs[b.out(n)]
	if out.kind == state {
		return b.inPlaceOfState(n, positions)
	}
	if out.kind != arena {
		return -1
	}
	for _, i := range positions {
		id := b.root(n.Inputs[i])
		r := b.bufs[id]
		if r.kind != arena || r.size != out.size || slices.Max(r.uses) != b.step {
			continue
		}
		shared := false
		for j, v := range n.Inputs {
			shared = shared || (j != i && b.root(v) == id)
		}
		if shared {
			continue
		}
		out.inPlaceOf = r
		b.info[b.step].InPlace = b.names[n.Inputs[i]]
		return i
	}
	return -1
}

// inPlaceOfState picks, for an update, the position among those the kernel
// may overwrite that holds the parameter it updates, read by no other
// operand of the step: the conditions of a memplan alias, for a buffer
// outside the arena whose last read (schedule checks) is this step. Build
// refuses an update for which there is none.
func (b *builder) inPlaceOfState(n *ir.Node, positions []int) int {
	id := b.out(n)
	for _, i := range positions {
		if b.root(n.Inputs[i]) != id {
			continue
		}
		if slices.ContainsFunc(n.Inputs, func(v *ir.Value) bool { return v != n.Inputs[i] && b.root(v) == id }) {
			return -1
		}
		b.info[b.step].InPlace = b.names[n.Inputs[i]]
		return i
	}
	return -1
}

// place plans the arena: the intermediates and scratch buffers, with the
// in-place updates as aliases, and fixes every slot.
func (b *builder) place(p *Plan) error {
	var vals []memplan.Value
	var ids []int
	for id, r := range b.bufs {
		if r.kind != arena {
			continue
		}
		r.memID = len(vals)
		vals = append(vals, memplan.Value{Size: 4 * int64(r.size), Def: r.def, Uses: r.uses})
		ids = append(ids, id)
	}
	lives, err := memplan.Lifetimes(max(len(b.specs), 1), vals)
	if err != nil {
		return err
	}
	prob := memplan.New(0)
	for _, l := range lives {
		prob.Add(l)
	}
	for _, id := range ids {
		r := b.bufs[id]
		if r.inPlaceOf == nil {
			continue
		}
		if err := prob.Alias(r.memID, r.inPlaceOf.memID); err != nil {
			// The builder only asks for aliases memplan allows.
			return fmt.Errorf("in-place update of %s over %s: %w", r.label, r.inPlaceOf.label, err)
		}
	}
	mem, err := prob.Best()
	if err != nil {
		return err
	}
	p.mem, p.prog.ArenaFloats = mem, int(mem.Size/4)
	p.prog.Slots = make([]exec.Slot, len(b.bufs))
	for id, r := range b.bufs {
		p.slotLabels = append(p.slotLabels, r.label)
		p.prog.Slots[id] = exec.Slot{Kind: r.kind, N: r.size, Data: r.data}
		if r.kind == arena {
			p.prog.Slots[id].Off = int(mem.Offsets[r.memID] / 4)
			p.labels = append(p.labels, r.label)
		}
	}
	for s, m := range b.meta {
		b.info[s].locate(b.bufs[m.out], b.bufs[m.scratch], mem)
	}
	return nil
}

// cmpBool orders false before true.
func cmpBool(x, y bool) int {
	switch {
	case x == y:
		return 0
	case x:
		return 1
	}
	return -1
}
