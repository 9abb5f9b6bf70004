package exec

import (
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mdlc/mdlc/internal/ids"
	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/layout"
)

// Program is an executable program: its steps as specs, in order, the slot
// table they index, the ports a run binds, and the sizes of the memory an
// Arena holds. Package plan builds one from a graph; mdlc gen writes one out
// as a Go literal. Both run it with the one run loop here, so generated code
// cannot drift from plans.
//
// The fields are the program as data. Compile, once, checks them and
// compiles the steps; after that the program must not be modified, except
// its state slots' memory, which its runs update.
type Program struct {
	// Name is how errors name the program: "plan cnn", or a generated
	// package's name.
	Name string
	// Kernels is the kernel set the specs were made for (constants packed
	// in its layout).
	Kernels cpu.Set
	Specs   []Spec
	Slots   []Slot
	Inputs  []Port
	Outputs []Port
	// ArenaFloats is the planned arena's size; HelperScratch each helper
	// goroutine's scratch (0: no step is worth splitting).
	ArenaFloats, HelperScratch int

	steps    []Step
	checks   []Checker // of each step, nil for most
	runnable bool
	stateful bool
	// busy is held by a run of a program with state slots, which runs
	// may not share.
	busy atomic.Bool
}

// SlotKind is what an entry of the operand table holds.
type SlotKind uint8

const (
	// SlotEmpty is nothing: slot 0, for steps without scratch or a mask.
	SlotEmpty SlotKind = iota
	// SlotArena is N floats at Off in an Arena's planned memory.
	SlotArena
	// SlotConstant is Data, read only, shared by every arena.
	SlotConstant
	// SlotInput and SlotOutput are the caller's slices, bound by Run for
	// its duration (token ids: N floats of the arena's own; see Run).
	SlotInput
	SlotOutput
	// SlotState is Data, owned by the program and shared by every arena,
	// which steps read and write and which persists from one run to the
	// next: trainable parameters and optimiser moments. See the package doc.
	SlotState
)

var slotKindNames = [...]string{SlotEmpty: "empty", SlotArena: "arena", SlotConstant: "constant", SlotInput: "input", SlotOutput: "output", SlotState: "state"}

func (k SlotKind) String() string {
	if int(k) < len(slotKindNames) {
		return slotKindNames[k]
	}
	return "SlotKind(" + strconv.Itoa(int(k)) + ")"
}

// GoString is the kind as Go source, for mdlc gen's literals.
func (k SlotKind) GoString() string {
	if int(k) < len(slotKindNames) {
		name := slotKindNames[k]
		return "exec.Slot" + strings.ToUpper(name[:1]) + name[1:]
	}
	return "exec.SlotKind(" + strconv.Itoa(int(k)) + ")"
}

// Slot is one entry of the operand table.
type Slot struct {
	Kind SlotKind
	// Off and N place an arena range; N is also the length of every other
	// kind's slice (0 for Empty).
	Off, N int
	// Data is a constant's or a state's memory, N floats (SetData fills it
	// for a program written out without it).
	Data []float32
}

// DType is a port's element type, numbered as ir.DType is (package plan
// tests that they agree; this package does not import the IR).
type DType uint8

const (
	F32 DType = iota + 1
	I32
	I64
)

var dtypeNames = [...]string{F32: "f32", I32: "i32", I64: "i64"}

func (d DType) String() string {
	if int(d) < len(dtypeNames) && dtypeNames[d] != "" {
		return dtypeNames[d]
	}
	return "DType(" + strconv.Itoa(int(d)) + ")"
}

// GoString is the type as Go source, for mdlc gen's literals.
func (d DType) GoString() string {
	if int(d) < len(dtypeNames) && dtypeNames[d] != "" {
		return "exec." + strings.ToUpper(dtypeNames[d])
	}
	return "exec.DType(" + strconv.Itoa(int(d)) + ")"
}

// Port is a graph input or output: its name, bound shape, element type and
// the slot a run binds it to. Token ids (I32, I64) must lie in ids.Range(Limit).
type Port struct {
	Name  string
	Shape []int
	DType DType
	Limit int
	Slot  int
}

// Size is the number of elements of the port's tensor.
func (p Port) Size() int {
	n := 1
	for _, d := range p.Shape {
		n *= d
	}
	return n
}

// SetData fills the constant and state slots, in slot order, from data, one
// after another, for a program written out without their data. The slots
// keep slices of data.
func (p *Program) SetData(data []float32) error {
	off := 0
	for i := range p.Slots {
		s := &p.Slots[i]
		if s.Kind != SlotConstant && s.Kind != SlotState {
			continue
		}
		if off+s.N > len(data) {
			return fmt.Errorf("%s: %d floats of data for slots that hold more", p.Name, len(data))
		}
		s.Data = data[off : off+s.N : off+s.N]
		off += s.N
	}
	if off != len(data) {
		return fmt.Errorf("%s: %d floats of data for slots that hold %d", p.Name, len(data), off)
	}
	return nil
}

// Compile checks the slot table and the ports and compiles the steps for
// the program's kernel set. A program for a set this process cannot run
// compiles (its specs can be inspected and written out) but does not run.
func (p *Program) Compile() error {
	if err := p.check(); err != nil {
		return fmt.Errorf("%s: %w", p.Name, err)
	}
	p.runnable = slices.Contains(cpu.Available(), p.Kernels)
	p.stateful = slices.ContainsFunc(p.Slots, func(s Slot) bool { return s.Kind == SlotState })
	p.steps = make([]Step, len(p.Specs))
	p.checks = make([]Checker, len(p.Specs))
	for i, s := range p.Specs {
		p.steps[i] = s.Compile(p.Kernels)
		p.checks[i], _ = p.steps[i].(Checker)
	}
	return nil
}

// Runnable reports whether this process can run the program's kernels.
func (p *Program) Runnable() bool { return p.runnable }

// check keeps a slot table that would index out of range, or ports bound to
// the wrong slots, from reaching the steps.
func (p *Program) check() error {
	if len(p.Slots) == 0 || p.Slots[0].Kind != SlotEmpty {
		return fmt.Errorf("slot 0 must be the empty slot")
	}
	for i, s := range p.Slots {
		switch {
		case s.N < 0 || s.Off < 0:
			return fmt.Errorf("slot %d (%s): negative offset or length", i, s.Kind)
		case s.Kind == SlotArena && s.Off > p.ArenaFloats-s.N:
			return fmt.Errorf("slot %d: floats %d..%d are outside the arena of %d", i, s.Off, s.Off+s.N, p.ArenaFloats)
		case (s.Kind == SlotConstant || s.Kind == SlotState) && len(s.Data) != s.N:
			return fmt.Errorf("slot %d (%s): %d floats of data, want %d", i, s.Kind, len(s.Data), s.N)
		case s.Kind > SlotState:
			return fmt.Errorf("slot %d: unknown kind %s", i, s.Kind)
		}
	}
	for _, ports := range []struct {
		what  string
		kind  SlotKind
		ports []Port
	}{{"input", SlotInput, p.Inputs}, {"output", SlotOutput, p.Outputs}} {
		for _, q := range ports.ports {
			if q.Slot <= 0 || q.Slot >= len(p.Slots) || p.Slots[q.Slot].Kind != ports.kind || p.Slots[q.Slot].N != q.Size() {
				return fmt.Errorf("%s %q: slot %d is not an %s slot of %d floats", ports.what, q.Name, q.Slot, ports.what, q.Size())
			}
			if q.DType != F32 && (ports.kind == SlotOutput || q.DType > I64 || q.Limit < 1) {
				return fmt.Errorf("%s %q: %s with id limit %d", ports.what, q.Name, q.DType, q.Limit)
			}
		}
	}
	return nil
}

// Arena is the memory of one run at a time: the planned arena; the operand
// table the steps read, which points into it, into the program's constants
// and state, and into the caller's slices during Run; and the helper
// goroutines of a program run on several threads, with their scratch.
type Arena struct {
	prog *Program
	mem  []float32
	bufs [][]float32
	team *Team
	stop runtime.Cleanup
	// times, when profiling, is each step's time in the last run.
	times []StepTime
}

// StepTime is when one step of a run began and how long it took.
type StepTime struct {
	Start time.Time
	Took  time.Duration
}

// Profile makes every later run of the arena record when each step began
// and how long it took, and returns the slice it records into: one entry per
// step, in order, overwritten by each run (read it between runs). A step's
// time is its wall time on the goroutine calling Run: one spread over helper
// goroutines (Team) counts until the last of them finishes, since the
// calling goroutine waits for them. Steps are timed end to end, one clock
// reading per step, so a run's steps tile it from its first step's start;
// without Profile, the run loop pays one nil check per step.
func (a *Arena) Profile() []StepTime {
	if a.times == nil {
		a.times = make([]StepTime, len(a.prog.steps))
	}
	return a.times
}

// NewArena allocates the memory for running p and, for threads > 1 when
// some step is worth splitting, starts threads-1 helper goroutines, which
// live until Close (or until the garbage collector finds the arena
// unreachable), each with scratch of its own beside the planned arena. Use
// one per goroutine. Outputs do not depend on threads, bit for bit.
func (p *Program) NewArena(threads int) *Arena {
	a := &Arena{prog: p, mem: make([]float32, p.ArenaFloats), bufs: make([][]float32, len(p.Slots))}
	if threads > 1 && p.HelperScratch > 0 {
		a.team = NewTeam(threads-1, p.HelperScratch)
		// The helpers hold the team, never the arena, so an arena dropped
		// without Close still becomes unreachable and its helpers end.
		a.stop = runtime.AddCleanup(a, (*Team).Stop, a.team)
	}
	for i, s := range p.Slots {
		switch s.Kind {
		case SlotArena:
			a.bufs[i] = a.mem[s.Off : s.Off+s.N : s.Off+s.N]
		case SlotConstant, SlotState:
			a.bufs[i] = s.Data
		}
	}
	// Token ids are checked and stored as int32 bits (layout.PutIDs) in
	// memory of the arena's own, beside the planned arena.
	for _, in := range p.Inputs {
		if in.DType != F32 {
			a.bufs[in.Slot] = make([]float32, in.Size())
		}
	}
	return a
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

func (in Input) id(i int) int64 {
	if in.Int64s != nil {
		return in.Int64s[i]
	}
	return int64(in.Int32s[i])
}

// Run runs the program on inputs and writes the results into outputs, both
// in the order of Inputs and Outputs, each slice exactly as long as its
// tensor (row-major). Outputs must not overlap inputs. Token ids outside
// their vocabulary are an error, found before anything runs. Run allocates
// nothing unless it fails.
//
// Runs of a program without state slots may go on at once, each on its own
// arena; a program with state refuses a second run while one is going on.
func (p *Program) Run(a *Arena, inputs []Input, outputs [][]float32) error {
	if a == nil || a.prog != p {
		return fmt.Errorf("%s: the arena was not made by this program's NewArena", p.Name)
	}
	if !p.runnable {
		return fmt.Errorf("%s: built for the %s kernels, which this process cannot run (available: %v)", p.Name, p.Kernels, cpu.Available())
	}
	if err := checkInputs(p.Inputs, inputs); err != nil {
		return fmt.Errorf("%s: %w", p.Name, err)
	}
	if err := checkOutputs(p.Outputs, outputs); err != nil {
		return fmt.Errorf("%s: %w", p.Name, err)
	}
	if p.stateful {
		if !p.busy.CompareAndSwap(false, true) {
			return fmt.Errorf("%s: another run is updating the program's state: runs of a program with state must take turns", p.Name)
		}
		defer p.busy.Store(false)
	}
	for i, in := range p.Inputs {
		if in.DType == F32 {
			a.bufs[in.Slot] = inputs[i].Floats
			continue
		}
		var bad int
		lo, hi := ids.Range(in.Limit)
		if inputs[i].Int64s != nil {
			bad = layout.PutIDs(a.bufs[in.Slot], inputs[i].Int64s, lo, hi)
		} else {
			bad = layout.PutIDs(a.bufs[in.Slot], inputs[i].Int32s, lo, hi)
		}
		if bad >= 0 {
			p.unbind(a)
			return fmt.Errorf("%s: input %q: token id %d at %s is outside the vocabulary: ids must be in %d..%d",
				p.Name, in.Name, inputs[i].id(bad), indexString(bad, in.Shape), lo, hi)
		}
	}
	for i, out := range p.Outputs {
		a.bufs[out.Slot] = outputs[i]
	}
	times := a.times
	var t time.Time
	if times != nil {
		t = time.Now()
	}
	for i, s := range p.steps {
		if c := p.checks[i]; c != nil {
			if err := c.Check(a.bufs); err != nil {
				p.unbind(a)
				return fmt.Errorf("%s: %w", p.Name, err)
			}
		}
		s.Run(a.bufs, a.team)
		if times != nil {
			end := time.Now()
			times[i] = StepTime{Start: t, Took: end.Sub(t)}
			t = end
		}
	}
	p.unbind(a)
	return nil
}

// unbind keeps no reference to the caller's memory.
func (p *Program) unbind(a *Arena) {
	for _, in := range p.Inputs {
		if in.DType == F32 {
			a.bufs[in.Slot] = nil
		}
	}
	for _, out := range p.Outputs {
		a.bufs[out.Slot] = nil
	}
}

func checkInputs(ports []Port, got []Input) error {
	if len(got) != len(ports) {
		return fmt.Errorf("%d inputs given, the graph has %d (%v)", len(got), len(ports), portNames(ports))
	}
	for i, p := range ports {
		in := got[i]
		switch {
		case (in.Floats != nil) == in.ints() || (in.Int32s != nil && in.Int64s != nil):
			return fmt.Errorf("input %q: give exactly one of Floats, Int32s and Int64s", p.Name)
		case p.DType == F32 && in.ints():
			return fmt.Errorf("input %q is f32%s, got integers", p.Name, shapeString(p.Shape))
		case p.DType != F32 && !in.ints():
			return fmt.Errorf("input %q is token ids (%s%s), got floats: pass the ids as Int32s or Int64s", p.Name, p.DType, shapeString(p.Shape))
		case in.len() != p.Size():
			return fmt.Errorf("input %q holds %d values, want %d for %s", p.Name, in.len(), p.Size(), shapeString(p.Shape))
		}
	}
	return nil
}

func checkOutputs(ports []Port, got [][]float32) error {
	if len(got) != len(ports) {
		return fmt.Errorf("%d outputs given, the graph has %d (%v)", len(got), len(ports), portNames(ports))
	}
	for i, p := range ports {
		if len(got[i]) != p.Size() {
			return fmt.Errorf("output %q holds %d values, want %d for %s", p.Name, len(got[i]), p.Size(), shapeString(p.Shape))
		}
	}
	return nil
}

func portNames(ports []Port) []string {
	names := make([]string, len(ports))
	for i, p := range ports {
		names[i] = p.Name
	}
	return names
}

// shapeString writes a shape as [a,b,c], as package tensor does, which
// this package does not import.
func shapeString(shape []int) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = strconv.Itoa(d)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// indexString is the position of row-major element i of shape, as [a,b,c].
func indexString(i int, shape []int) string {
	idx := make([]int, len(shape))
	for d := len(shape) - 1; d >= 0; d-- {
		idx[d] = i % shape[d]
		i /= shape[d]
	}
	return shapeString(idx)
}
