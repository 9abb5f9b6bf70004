// Package compile is mdlc's driver: the one place that takes a model from a
// file to something that runs. Every command (run, plan, bench, gen, build,
// export, summary, ir, init), and later the trainer, the ONNX importer and the server,
// goes through the same stages in the same order:
//
//	Load      frontend: the file's text → a checked, frontend-neutral Model
//	          (graph, layer table, class labels, diagnostics)
//	Bind      symbolic dimensions (N, T, ...) from flags and from fed tensors,
//	          conflicts refused, every size checked against the memory budget
//	Weights   parameters loaded from a file (checked against the model
//	          before any tensor is decoded), or initialised from a seed
//	Optimise  weights bound as constants, the pass pipeline (passes.Run)
//	Plan      the optimised graph compiled for a kernel set (runtime/plan)
//	Execute   the plan, or the reference runtime for -O0, on checked inputs
//
// Commands parse flags into Options and print what comes back; none stitches
// these stages itself. Sizes follow one rule (internal/size): every tensor,
// arena and weight set is computed with overflow-checked arithmetic and
// checked against Options.Budget before it is allocated.
package compile
