// Package exec runs compiled programs: the kinds of step a program is made
// of, each a kernel call from runtime/kernels on an operand table; the team
// of goroutines that spreads a step's work over threads; and Program, the
// executable program with its one run loop.
//
// A step is written down as a Spec, plain data (operand slots, shapes, the
// epilogue's steps), and compiled for a kernel set into a Step. A Program is
// the specs in order, the slot table they index, the ports a run binds and
// the sizes of an Arena's memory. Package plan builds a Program from a graph;
// mdlc gen writes the same Program out as a Go literal; both run it with
// Program.Run, a plain loop over the compiled steps, so both run the same
// kernels on the same layouts and give the same bits.
//
// The operand table holds one slice per slot: arena ranges, constants
// (packed weights), state, and the caller's inputs and outputs. Steps index
// it with the slot numbers in their spec; nothing here allocates while a
// step runs. Nothing here imports package tensor or the IR, so a generated
// package links only this, the kernels and the standard library.
//
// # State: room for training
//
// Decided now, so that training builds on it:
//
//   - A state slot (SlotState) is memory owned by the program, beside the
//     arena (per run), constants (read only) and the caller's ports: it
//     persists from one run to the next, and steps read and write it. It
//     holds trainable parameters and optimiser moments. Every arena of a
//     program binds the same state memory, so runs of a program with state
//     take turns (Run refuses a concurrent one rather than race).
//   - A plan built for training (plan.Train) makes every parameter a state
//     slot, unpacked, instead of a packed constant: steps that want packed
//     weights (GEMM, convolution, recurrent) pack them into the arena on
//     every run, as they already do for weights computed at run time, so an
//     update is seen by the next run with no re-packing pass. Inference keeps
//     packed constants.
//   - An update p' = f(p, g, m, ...) is an ordinary op. Its result is
//     placed over the state slot of p, in place, as memplan places an
//     in-place result over an operand that dies at its step: p must be read
//     for the last time by that step, and the op's kernel must be one that
//     may write over that operand. There is no special in-place mechanism:
//     the next run reads p'.
//   - Integer operands are an operand mask (ir.OpInfo.IntOperands), so that
//     training's integer inputs (labels, indices) need no new flag.
package exec

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

// Step is a compiled step. Run reads and writes through the operand table b
// and spreads its work over t (nil for one thread).
type Step interface {
	Run(b [][]float32, t *Team)
}

// Checker is a step whose operands can hold values it is not defined on (a
// gather's indices): Check, called before Run, describes the first, or
// returns nil. The run stops with that error.
type Checker interface {
	Check(b [][]float32) error
}

// Spec is a step as plain data, compiled for a kernel set once, when a plan
// or a generated model is made.
type Spec interface {
	Compile(set cpu.Set) Step
}

// MinFlopsPerThread is the least work worth waking a helper for: about what
// the AVX2 GEMM does in the ~10µs a wake-up takes.
const MinFlopsPerThread = 1e6

// Helpers is how many helper goroutines, at most, a step may use for work of
// the given size cut into units: whatever the thread count, so that a spec
// does not depend on it.
func Helpers(units int, flops float64) int {
	return max(min(units, int(flops/MinFlopsPerThread))-1, 0)
}
