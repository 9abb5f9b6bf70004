package plan

import (
	"fmt"
	"maps"
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
	meta    []stepMeta
	step    int // the step being built

	kernels cpu.Set // the kernel set, chosen once
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
		kernels: set}
	b.bufs = []*buffer{{kind: none, def: -1, label: "none"}}
	if err := b.bind(); err != nil {
		return nil, fmt.Errorf("graph %s: %w", g.Name, err)
	}
	if err := g.CheckBound(env); err != nil {
		return nil, fmt.Errorf("graph %s: %w", g.Name, err)
	}
	p := &Plan{graph: g.Name, env: maps.Clone(env), threads: o.threads,
		prog: &exec.Program{Name: "plan " + g.Name, Kernels: set}}
	b.schedule(p)
	for _, n := range g.Nodes {
		if rules[n.Op].view {
			continue
		}
		b.step = b.stepOf(n)
		b.specs[b.step] = rules[n.Op].build(b, n)
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
func (b *builder) schedule(p *Plan) {
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
	for _, n := range b.g.Nodes {
		out := n.Outputs[0]
		if rules[n.Op].view {
			if id, ok := b.roots[n.Inputs[0]]; ok {
				b.roots[out] = id
			}
			continue
		}
		s := len(b.specs)
		b.specs = append(b.specs, nil)
		b.info = append(b.info, StepInfo{Index: s, Op: n.Op.String(), Layer: n.Layer, Output: b.names[out]})
		for _, in := range n.Inputs {
			id, ok := b.roots[in]
			if !ok {
				continue
			}
			if r := b.bufs[id]; len(r.uses) == 0 || r.uses[len(r.uses)-1] != s {
				r.uses = append(r.uses, s)
			}
		}
		b.roots[out] = b.add(&buffer{kind: arena, size: tensor.Numel(b.shapes[out]), def: s, label: b.names[out]})
		b.meta = append(b.meta, stepMeta{out: b.roots[out]})
	}
	for _, o := range b.g.Outputs {
		r := b.bufs[b.root(o.Value)]
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
		b.info = append(b.info, StepInfo{Index: s, Op: "copy", Kernel: "copy", Output: b.names[o.Value]})
		b.meta = append(b.meta, stepMeta{out: dst})
	}
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
	case v.Kind == ir.Param:
		return b.weights[v.Name].Data
	case v.Kind == ir.Result && rules[v.Def.Op].view:
		return b.data(v.Def.Inputs[0])
	}
	return nil
}

func (b *builder) stepOf(n *ir.Node) int { return b.bufs[b.roots[n.Outputs[0]]].def }

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
		b.helperScratch = max(b.helperScratch, scratch)
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
