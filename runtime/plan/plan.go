// Package plan compiles a graph into an execution plan: a flat list of steps,
// each a kernel call from runtime/kernels with its shapes bound, its weights
// packed into the layout the kernel wants, and its operands at fixed places.
// Running a plan interprets no graph, looks nothing up and allocates nothing.
//
// Every intermediate tensor lives in one arena whose layout runtime/memplan
// plans: a buffer is live from the step that writes it to the last step that
// reads it, and buffers whose lifetimes do not overlap share bytes. Reshape,
// flatten and dropout are views: their result is their operand's buffer, whose
// lifetime grows to cover both. An elementwise step (unary and binary ops,
// elementwise chains, batchnorm, softmax) whose operand dies at that step
// writes over it in place (a memplan alias). Kernel scratch (packed GEMM
// panels, bands of conv rows) is planned in the arena too, live for its step.
// A graph output is computed straight into the caller's output slice.
//
// Concurrency: a Plan is immutable once Build returns, and may be run by any
// number of goroutines at once, each with its own Arena (NewArena). An Arena
// holds all the mutable memory of a run and must not be shared between
// concurrent runs. Within a run, the GEMMs and convolutions are spread over
// the plan's threads (Threads): the Arena's helper goroutines, started by
// NewArena and stopped by Close, take bands of their output rows.
//
// Numerics: kernels accumulate in float32 where the reference runtime uses
// float64 (see each kernel package for its bound). Outputs agree with
// runtime/ref on the same graph to within 1e-5 of their magnitude (plus their
// rms) over the stdlib models, 1e-4 over random graphs; observed 3e-7 and
// 2e-6.
package plan

import (
	"fmt"
	"maps"
	"runtime"
	"slices"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime/exec"
	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/layout"
	"github.com/mdlc/mdlc/runtime/memplan"
	"github.com/mdlc/mdlc/tensor"
)

// Plan is a compiled graph, for one binding of its symbolic dimensions.
type Plan struct {
	graph   string
	env     map[string]int
	inputs  []port
	outputs []port
	specs   []exec.Spec
	steps   []exec.Step
	info    []StepInfo
	slots   []slot
	floats  int // arena size in float32s
	mem     *memplan.Plan
	labels  []string // memplan buffer labels, for the timeline
	// slotLabels names each slot's buffer, for generated code's comments.
	slotLabels []string

	kernels cpu.Set
	// runnable is whether this process can run the kernels (Kernels may
	// build a plan only to write it out for another machine).
	runnable bool
	threads  int
	// helperScratch is each helper goroutine's scratch, in floats; 0 when no
	// step is worth splitting.
	helperScratch int
}

// port is a graph input or output: its name, bound shape and slot.
type port struct {
	name  string
	shape []int
	size  int
	slot  int
	// dtype is the element type; token ids (i32, i64) must lie in
	// 0..limit-1 (ir.Graph.TokenLimit).
	dtype ir.DType
	limit int
}

// slot is where a kernel finds an operand: a range of the arena, constant
// data owned by the plan, or (neither) the caller's input or output slice,
// bound when Run starts.
type slot struct {
	arena  bool
	off, n int
	data   []float32
}

// Arena is the memory of one run at a time: the planned arena, the operand
// table the steps read, which points into it, into the plan's constants, and
// into the caller's slices during Run; and the helper goroutines of a plan
// built for several threads, with their scratch.
type Arena struct {
	plan *Plan
	mem  []float32
	bufs [][]float32
	team *exec.Team
	stop runtime.Cleanup
}

// Input is one input of a run, in its port's element type: Floats for an
// f32 input, Int32s or Int64s for token ids (either for i32 or i64 ports).
type Input struct {
	Floats []float32
	Int32s []int32
	Int64s []int64
}

// Floats, Int32s and Int64s make an Input.
func Floats(x []float32) Input { return Input{Floats: x} }
func Int32s(x []int32) Input   { return Input{Int32s: x} }
func Int64s(x []int64) Input   { return Input{Int64s: x} }

func (in Input) len() int { return len(in.Floats) + len(in.Int32s) + len(in.Int64s) }

func (in Input) ints() bool { return in.Int32s != nil || in.Int64s != nil }

// NewArena allocates the memory for running p and, if p runs on several
// threads, starts the helper goroutines, which live until Close (or until the
// garbage collector finds the arena unreachable), each with scratch of its
// own beside the planned arena (ArenaBytes). Use one per goroutine.
func (p *Plan) NewArena() *Arena {
	a := &Arena{plan: p, mem: make([]float32, p.floats), bufs: make([][]float32, len(p.slots))}
	if p.threads > 1 && p.helperScratch > 0 {
		a.team = exec.NewTeam(p.threads-1, p.helperScratch)
		// The helpers hold the team, never the arena, so an arena dropped
		// without Close still becomes unreachable and its helpers end.
		a.stop = runtime.AddCleanup(a, (*exec.Team).Stop, a.team)
	}
	for i, s := range p.slots {
		switch {
		case s.arena:
			a.bufs[i] = a.mem[s.off : s.off+s.n : s.off+s.n]
		case s.data != nil:
			a.bufs[i] = s.data
		}
	}
	// Token ids are checked and stored as int32 bits (layout.PutIDs) in
	// memory of the arena's own, beside the planned arena.
	for _, in := range p.inputs {
		if in.dtype != ir.F32 {
			a.bufs[in.slot] = make([]float32, in.size)
		}
	}
	return a
}

// Run runs the plan on inputs and writes the results into outputs, both in
// the order of the graph's Inputs and Outputs, each slice exactly as long as
// its tensor (row-major, shapes bound as in Build). Outputs must not overlap
// inputs. Token ids outside their embeddings' vocabulary are an error, found
// before anything runs. Run allocates nothing unless it fails.
func (p *Plan) Run(a *Arena, inputs []Input, outputs [][]float32) error {
	if a == nil || a.plan != p {
		return fmt.Errorf("plan %s: the arena was not made by this plan's NewArena", p.graph)
	}
	if !p.runnable {
		return fmt.Errorf("plan %s: built for the %s kernels, which this process cannot run (available: %v)", p.graph, p.kernels, cpu.Available())
	}
	if err := checkInputs(p.inputs, inputs); err != nil {
		return fmt.Errorf("plan %s: %w", p.graph, err)
	}
	if err := check("output", p.outputs, outputs); err != nil {
		return fmt.Errorf("plan %s: %w", p.graph, err)
	}
	for i, in := range p.inputs {
		if in.dtype == ir.F32 {
			a.bufs[in.slot] = inputs[i].Floats
			continue
		}
		var bad int
		if inputs[i].Int64s != nil {
			bad = layout.PutIDs(a.bufs[in.slot], inputs[i].Int64s, in.limit)
		} else {
			bad = layout.PutIDs(a.bufs[in.slot], inputs[i].Int32s, in.limit)
		}
		if bad >= 0 {
			return fmt.Errorf("plan %s: input %q: token id %d at %s is outside the vocabulary: ids must be in 0..%d",
				p.graph, in.name, inputs[i].id(bad), tensor.IndexString(bad, in.shape), in.limit-1)
		}
	}
	for i, out := range p.outputs {
		a.bufs[out.slot] = outputs[i]
	}
	for _, s := range p.steps {
		s.Run(a.bufs, a.team)
	}
	// Keep no reference to the caller's memory.
	for _, in := range p.inputs {
		if in.dtype == ir.F32 {
			a.bufs[in.slot] = nil
		}
	}
	for _, out := range p.outputs {
		a.bufs[out.slot] = nil
	}
	return nil
}

// Close stops the arena's helper goroutines. The arena must not be used
// after.
func (a *Arena) Close() {
	if a.team != nil {
		a.stop.Stop()
		a.team.Stop()
		a.team = nil
	}
}

func checkInputs(ports []port, got []Input) error {
	if len(got) != len(ports) {
		return fmt.Errorf("%d inputs given, the graph has %d (%v)", len(got), len(ports), portNames(ports))
	}
	for i, p := range ports {
		in := got[i]
		switch {
		case (in.Floats != nil) == in.ints() || (in.Int32s != nil && in.Int64s != nil):
			return fmt.Errorf("input %q: give exactly one of Floats, Int32s and Int64s", p.name)
		case p.dtype == ir.F32 && in.ints():
			return fmt.Errorf("input %q is f32%s, got integers", p.name, tensor.ShapeString(p.shape))
		case p.dtype != ir.F32 && !in.ints():
			return fmt.Errorf("input %q is token ids (%s%s), got floats: pass the ids as Int32s or Int64s", p.name, p.dtype, tensor.ShapeString(p.shape))
		case in.len() != p.size:
			return fmt.Errorf("input %q holds %d values, want %d for %s", p.name, in.len(), p.size, tensor.ShapeString(p.shape))
		}
	}
	return nil
}

func (in Input) id(i int) int64 {
	if in.Int64s != nil {
		return in.Int64s[i]
	}
	return int64(in.Int32s[i])
}

func portNames(ports []port) []string {
	names := make([]string, len(ports))
	for i, p := range ports {
		names[i] = p.name
	}
	return names
}

func check(what string, ports []port, got [][]float32) error {
	if len(got) != len(ports) {
		return fmt.Errorf("%d %ss given, the graph has %d (%v)", len(got), what, len(ports), portNames(ports))
	}
	for i, p := range ports {
		if len(got[i]) != p.size {
			return fmt.Errorf("%s %q holds %d values, want %d for %s", what, p.name, len(got[i]), p.size, tensor.ShapeString(p.shape))
		}
	}
	return nil
}

// RunTensors runs the plan on inputs by name and returns the outputs by name,
// allocating an arena and the outputs: a convenience for tools, not for
// serving. Each input's shape must be the one the plan was built for.
func (p *Plan) RunTensors(inputs map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error) {
	in := make([]Input, len(p.inputs))
	for i, port := range p.inputs {
		t, ok := inputs[port.name]
		if !ok || t == nil {
			return nil, fmt.Errorf("plan %s: missing input %q %s", p.graph, port.name, tensor.ShapeString(port.shape))
		}
		if !slices.Equal(t.Shape, port.shape) {
			return nil, fmt.Errorf("plan %s: input %q is %s, the plan was built for %s", p.graph, port.name, tensor.ShapeString(t.Shape), tensor.ShapeString(port.shape))
		}
		in[i] = Input{Floats: t.Data, Int64s: t.Ints}
	}
	for name := range inputs {
		if !slices.ContainsFunc(p.inputs, func(q port) bool { return q.name == name }) {
			return nil, fmt.Errorf("plan %s: unknown input %q", p.graph, name)
		}
	}
	outs := make([][]float32, len(p.outputs))
	res := make(map[string]*tensor.Tensor, len(p.outputs))
	for i, port := range p.outputs {
		t := tensor.New(port.shape...)
		outs[i], res[port.name] = t.Data, t
	}
	a := p.NewArena()
	defer a.Close()
	if err := p.Run(a, in, outs); err != nil {
		return nil, err
	}
	return res, nil
}

// Port is a graph input or output with its shape bound as in the plan.
type Port struct {
	Name  string
	Shape []int
	// DType is the element type: f32, or i32/i64 for token ids, which must
	// lie in 0..Limit-1.
	DType ir.DType
	Limit int
}

// Inputs lists the inputs Run takes, in order.
func (p *Plan) Inputs() []Port { return ports(p.inputs) }

// Outputs lists the outputs Run writes, in order.
func (p *Plan) Outputs() []Port { return ports(p.outputs) }

func ports(ps []port) []Port {
	out := make([]Port, len(ps))
	for i, q := range ps {
		out[i] = Port{Name: q.name, Shape: slices.Clone(q.shape), DType: q.dtype, Limit: q.limit}
	}
	return out
}

// Env is the binding of symbolic dimensions the plan was built for.
func (p *Plan) Env() map[string]int { return maps.Clone(p.env) }

// Memory is the arena's placement, for checking (memplan's Plan.Verify) and
// reporting. It must not be modified.
func (p *Plan) Memory() *memplan.Plan { return p.mem }

// Kernels is the kernel set the plan runs (chosen by Build).
func (p *Plan) Kernels() cpu.Set { return p.kernels }

// Threads is the number of goroutines a run spreads its GEMMs and
// convolutions over, at most (steps too small to split run on one).
func (p *Plan) Threads() int { return p.threads }

// ArenaBytes is the size of an Arena's planned memory.
func (p *Plan) ArenaBytes() int64 { return p.mem.Size }
