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
// A Plan wraps the executable program (runtime/exec.Program) it builds, and
// runs through that program's run loop, the one generated packages run too;
// it keeps what only the build knows: step info, the memory plan, labels.
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
	"slices"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime/exec"
	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/memplan"
	"github.com/mdlc/mdlc/tensor"
)

// Plan is a compiled graph, for one binding of its symbolic dimensions: the
// executable program (runtime/exec) that runs it, and what the build knows
// of it for people: each step's info, the memory plan, buffer labels.
type Plan struct {
	graph   string
	env     map[string]int
	prog    *exec.Program
	info    []StepInfo
	mem     *memplan.Plan
	labels  []string // memplan buffer labels, for the timeline
	threads int
	// slotLabels names each slot's buffer, for generated code's comments.
	slotLabels []string
	// state is the slot of each parameter of a plan built for training;
	// params holds all their data, laid out as layout says.
	state  map[string]int
	params []float32
	layout []ParamRange
}

// ParamRange is where a parameter lies in Parameters.
type ParamRange struct {
	Name      string
	Offset    int
	Shape     []int
	Trainable bool
}

// Size is the parameter's number of elements.
func (r ParamRange) Size() int { return tensor.Numel(r.Shape) }

// Arena is the memory of one run at a time (exec.Arena): the planned arena,
// the operand table, and the helper goroutines of a plan built for several
// threads, with their scratch.
type Arena = exec.Arena

// StepTime is when a step of a profiled run began and how long it took
// (Arena.Profile).
type StepTime = exec.StepTime

// Input is one input of a run, in its port's element type: Floats for an
// f32 input, Int32s or Int64s for token ids (either for i32 or i64 ports).
type Input = exec.Input

// Floats, Int32s and Int64s make an Input.
func Floats(x []float32) Input { return exec.Floats(x) }
func Int32s(x []int32) Input   { return exec.Int32s(x) }
func Int64s(x []int64) Input   { return exec.Int64s(x) }

// NewArena allocates the memory for running p and, if p runs on several
// threads, starts the helper goroutines, which live until Close (or until the
// garbage collector finds the arena unreachable), each with scratch of its
// own beside the planned arena (ArenaBytes). Use one per goroutine.
func (p *Plan) NewArena() *Arena { return p.prog.NewArena(p.threads) }

// Run runs the plan on inputs and writes the results into outputs, both in
// the order of the graph's Inputs and Outputs, each slice exactly as long as
// its tensor (row-major, shapes bound as in Build). Outputs must not overlap
// inputs. Token ids outside their embeddings' vocabulary are an error, found
// before anything runs. Run allocates nothing unless it fails.
func (p *Plan) Run(a *Arena, inputs []Input, outputs [][]float32) error {
	return p.prog.Run(a, inputs, outputs)
}

// RunTensors runs the plan on inputs by name and returns the outputs by name,
// allocating an arena and the outputs: a convenience for tools, not for
// serving. Each input's shape must be the one the plan was built for.
func (p *Plan) RunTensors(inputs map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error) {
	in := make([]Input, len(p.prog.Inputs))
	for i, port := range p.prog.Inputs {
		t, ok := inputs[port.Name]
		if !ok || t == nil {
			return nil, fmt.Errorf("plan %s: missing input %q %s", p.graph, port.Name, tensor.ShapeString(port.Shape))
		}
		if !slices.Equal(t.Shape, port.Shape) {
			return nil, fmt.Errorf("plan %s: input %q is %s, the plan was built for %s", p.graph, port.Name, tensor.ShapeString(t.Shape), tensor.ShapeString(port.Shape))
		}
		in[i] = Input{Floats: t.Data, Int64s: t.Ints}
	}
	for name := range inputs {
		if !slices.ContainsFunc(p.prog.Inputs, func(q exec.Port) bool { return q.Name == name }) {
			return nil, fmt.Errorf("plan %s: unknown input %q", p.graph, name)
		}
	}
	outs := make([][]float32, len(p.prog.Outputs))
	res := make(map[string]*tensor.Tensor, len(p.prog.Outputs))
	for i, port := range p.prog.Outputs {
		t := tensor.New(port.Shape...)
		outs[i], res[port.Name] = t.Data, t
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
func (p *Plan) Inputs() []Port { return ports(p.prog.Inputs) }

// Outputs lists the outputs Run writes, in order.
func (p *Plan) Outputs() []Port { return ports(p.prog.Outputs) }

func ports(ps []exec.Port) []Port {
	out := make([]Port, len(ps))
	for i, q := range ps {
		out[i] = Port{Name: q.Name, Shape: slices.Clone(q.Shape), DType: ir.DType(q.DType), Limit: q.Limit}
	}
	return out
}

// State returns a copy of the current value of parameter name in a plan
// built for training (Train): its weights, as updated by the runs so far. It
// must not be called during a run.
func (p *Plan) State(name string) ([]float32, error) {
	slot, ok := p.state[name]
	if !ok {
		return nil, fmt.Errorf("plan %s: no state %q: only a plan built with Train holds its parameters as state", p.graph, name)
	}
	return slices.Clone(p.prog.Slots[slot].Data), nil
}

// Parameters is the state of a plan built for training, live: every
// parameter's current values in one slice, laid out as Layout says, trainable
// parameters first (so an optimiser's one fused pass covers a prefix). Runs
// read it and write their updates into it; the caller may change it between
// runs, as an optimiser does, never during one. Nil for an inference plan.
func (p *Plan) Parameters() []float32 { return p.params }

// Layout is where each parameter lies in Parameters, in order.
func (p *Plan) Layout() []ParamRange { return slices.Clone(p.layout) }

// Env is the binding of symbolic dimensions the plan was built for.
func (p *Plan) Env() map[string]int { return maps.Clone(p.env) }

// Memory is the arena's placement, for checking (memplan's Plan.Verify) and
// reporting. It must not be modified.
func (p *Plan) Memory() *memplan.Plan { return p.mem }

// Kernels is the kernel set the plan runs (chosen by Build).
func (p *Plan) Kernels() cpu.Set { return p.prog.Kernels }

// Threads is the number of goroutines a run spreads its GEMMs and
// convolutions over, at most (steps too small to split run on one).
func (p *Plan) Threads() int { return p.threads }

// ArenaBytes is the size of an Arena's planned memory.
func (p *Plan) ArenaBytes() int64 { return p.mem.Size }
