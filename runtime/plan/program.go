package plan

import (
	"slices"

	"github.com/mdlc/mdlc/runtime/exec"
)

// Program is a plan as data: its steps as specs, in order, and its slots.
// mdlc gen writes it out as Go that builds the same steps on the same slots.
type Program struct {
	Graph   string
	Kernels string
	Specs   []exec.Spec
	Info    []StepInfo
	Slots   []Slot
	Inputs  []PortSlot
	Outputs []PortSlot
	// ArenaFloats is the planned arena's size; HelperScratch each helper
	// goroutine's scratch (0: no step is worth splitting).
	ArenaFloats, HelperScratch int
}

// Slot is one entry of the operand table: a range of the arena, constant
// data, or (neither) nothing or a graph input or output, bound by a run.
type Slot struct {
	Arena  bool
	Off, N int
	Data   []float32
	Label  string
}

// PortSlot is a graph input or output and the slot a run binds it to.
type PortSlot struct {
	Port
	Slot int
}

// Program returns p as data. The constants' data is p's own and must not be
// modified.
func (p *Plan) Program() Program {
	prog := Program{Graph: p.graph, Kernels: string(p.kernels), Specs: p.specs, Info: slices.Clone(p.info),
		ArenaFloats: p.floats, HelperScratch: p.helperScratch}
	for i, s := range p.slots {
		prog.Slots = append(prog.Slots, Slot{Arena: s.arena, Off: s.off, N: s.n, Data: s.data, Label: p.slotLabels[i]})
	}
	for i, in := range ports(p.inputs) {
		prog.Inputs = append(prog.Inputs, PortSlot{Port: in, Slot: p.inputs[i].slot})
	}
	for i, out := range ports(p.outputs) {
		prog.Outputs = append(prog.Outputs, PortSlot{Port: out, Slot: p.outputs[i].slot})
	}
	return prog
}
