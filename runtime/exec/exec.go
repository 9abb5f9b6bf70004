// Package exec runs compiled steps: the kinds of step a plan is made of, each
// a kernel call from runtime/kernels on an operand table, and the team of
// goroutines that spreads a step's work over threads.
//
// A step is written down as a Spec, plain data (operand slots, shapes, the
// epilogue's steps), and compiled for a kernel set into a Step. Package plan
// builds specs from a graph and runs their steps; mdlc gen writes the same
// specs out as Go literals and its generated package compiles them with the
// same Compile, so both run the same kernels on the same layouts and give the
// same bits.
//
// The operand table b holds one slice per slot: arena ranges, constants
// (packed weights) and the caller's inputs and outputs. Steps index it with
// the slot numbers in their spec; nothing here allocates while a step runs.
package exec

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

// Step is a compiled step. Run reads and writes through the operand table b
// and spreads its work over t (nil for one thread).
type Step interface {
	Run(b [][]float32, t *Team)
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
