package plan

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/mdlc/mdlc/runtime/exec"
	"github.com/mdlc/mdlc/runtime/memplan"
)

// StepInfo describes one step of a plan, for `mdlc plan` and its --json.
type StepInfo struct {
	Index int    `json:"index"`
	Op    string `json:"op"`
	Layer string `json:"layer,omitempty"`
	// Kernel names the kernel and, where there is a choice, the algorithm:
	// conv/gemm, conv/depthwise, gemm, chain, ...
	Kernel string `json:"kernel"`
	// Output is the value the step computes, named as the IR printer names
	// it, and Shape its shape.
	Output string `json:"output"`
	Shape  []int  `json:"shape"`
	// Buffer is where it goes: "arena", or "output NAME" for the caller's slice.
	Buffer string `json:"buffer"`
	// Offset is the byte offset in the arena, -1 outside it.
	Offset int64 `json:"offset"`
	Bytes  int64 `json:"bytes"`
	// ReadBytes is the size of the step's operands, each counted once (IR
	// shapes, 4 bytes an element): with Bytes, what the step reads and
	// writes at least.
	ReadBytes int64 `json:"read_bytes"`
	// Flops is the op's FLOP count at the plan's shapes, as model counts
	// give it (ir's cost rules: a multiply-add is two); ExecutedFlops is what
	// the chosen kernel runs, which is less for a reduced-arithmetic kernel:
	// Winograd (conv.Conv.Flops), causal attention skipping the key blocks
	// after a band (attention.Attention.Scores). Rates against a peak use
	// ExecutedFlops. Build refuses a graph whose op counts overflow int64;
	// an executed count that would is math.MaxInt64.
	Flops         int64 `json:"flops"`
	ExecutedFlops int64 `json:"executed_flops"`
	// InPlace names the operand the step overwrites, if it runs in place.
	InPlace string `json:"in_place,omitempty"`
	// Scratch is the step's kernel scratch in the arena, if it has any.
	ScratchOffset int64 `json:"scratch_offset,omitempty"`
	ScratchBytes  int64 `json:"scratch_bytes,omitempty"`
}

func (s *StepInfo) locate(out, scratch *buffer, mem *memplan.Plan) {
	s.Bytes, s.Offset, s.Buffer = 4*int64(out.size), -1, "arena"
	switch out.kind {
	case output:
		s.Buffer = "output " + out.label
	case state:
		s.Buffer = "state " + out.label
	default:
		s.Offset = mem.Offsets[out.memID]
	}
	if scratch.kind == arena {
		s.ScratchOffset, s.ScratchBytes = mem.Offsets[scratch.memID], 4*int64(scratch.size)
	}
}

// Schedule is a plan's steps and memory, as `mdlc plan` shows them.
type Schedule struct {
	Graph string         `json:"graph"`
	Env   map[string]int `json:"env"`
	// Kernels is the kernel set the plan runs, Threads the goroutines a run
	// spreads its GEMMs and convolutions over.
	Kernels string     `json:"kernels"`
	Threads int        `json:"threads"`
	Steps   []StepInfo `json:"steps"`
	// Planner is the memplan planner that placed the arena.
	Planner string `json:"planner"`
	// ArenaBytes is what an Arena allocates; LowerBound the most bytes live at
	// one step, which no placement can beat; Unplanned what giving every
	// buffer its own allocation would take.
	ArenaBytes int64 `json:"arena_bytes"`
	LowerBound int64 `json:"lower_bound_bytes"`
	Unplanned  int64 `json:"unplanned_bytes"`
	// ConstantBytes is the weights the plan holds, packed for its kernels.
	ConstantBytes int64 `json:"constant_bytes"`
}

// Schedule describes the plan.
func (p *Plan) Schedule() Schedule {
	s := Schedule{
		Graph: p.graph, Env: p.Env(), Kernels: string(p.prog.Kernels), Threads: p.threads, Steps: append([]StepInfo(nil), p.info...),
		Planner: p.mem.Planner, ArenaBytes: p.mem.Size, LowerBound: p.mem.LowerBound, Unplanned: p.mem.Unplanned,
	}
	for _, sl := range p.prog.Slots {
		if sl.Kind == exec.SlotConstant {
			s.ConstantBytes += 4 * int64(sl.N)
		}
	}
	return s
}

// String renders the schedule as a table, deterministically (for goldens):
// a header line with the memory totals, then a row per step.
func (s Schedule) String() string {
	var b strings.Builder
	env := make([]string, 0, len(s.Env))
	for _, k := range slices.Sorted(maps.Keys(s.Env)) {
		env = append(env, fmt.Sprintf("%s=%d", k, s.Env[k]))
	}
	fmt.Fprintf(&b, "plan %s(%s): %d steps, arena %d B (lower bound %d B, unplanned %d B, %s), constants %d B\n",
		s.Graph, strings.Join(env, ", "), len(s.Steps), s.ArenaBytes, s.LowerBound, s.Unplanned, s.Planner, s.ConstantBytes)
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "step\top\tlayer\tkernel\toutput\tbuffer\toffset\tbytes\tscratch\tin place of")
	for _, st := range s.Steps {
		off, scratch := "-", "-"
		if st.Offset >= 0 {
			off = fmt.Sprint(st.Offset)
		}
		if st.ScratchBytes > 0 {
			scratch = fmt.Sprintf("%d@%d", st.ScratchBytes, st.ScratchOffset)
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", st.Index, st.Op, st.Layer, st.Kernel, st.Output, st.Buffer, off, st.Bytes, scratch, st.InPlace)
	}
	w.Flush()
	lines := strings.Split(b.String(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

// Timeline is memplan's ASCII timeline of the arena: a row per buffer, a
// column per step.
func (p *Plan) Timeline() string { return p.mem.Timeline(p.labels) }
