package compile

import (
	"runtime"

	"github.com/mdlc/mdlc/internal/size"
	"github.com/mdlc/mdlc/runtime/kernels/cpu"
)

// MaxThreads bounds --threads: past a few times the CPUs, more threads only
// cost memory and scheduling, and a huge count exhausts the process.
func MaxThreads() int { return max(4*runtime.NumCPU(), 64) }

// Options are what a command asks of the driver. The zero value compiles
// with initial weights from seed 0, optimised, for this machine's kernels.
type Options struct {
	// Model names the model of a file that declares several.
	Model string
	// Weights is a .safetensors file; "" initialises weights from Seed.
	Weights string
	// WeightsLayout is the layout of Weights' tensors: LayoutMDLC ("" too)
	// or LayoutTorch.
	WeightsLayout string
	// WeightsMap is a rename map file (weights.Renames) applied to Weights'
	// tensor names first.
	WeightsMap string
	Seed       uint64
	// Untrained initialises a stdlib model's weights from Seed even where
	// trained weights ship with it.
	Untrained bool
	// NoOpt runs or plans the graph as written (-O0).
	NoOpt bool
	// StopAfter ends the pass pipeline after the named pass.
	StopAfter string
	// Kernels is the kernel set to plan for; "" selects this machine's.
	Kernels cpu.Set
	// Threads is the threads a run spreads its work over; 0: GOMAXPROCS.
	Threads int
	// Budget bounds every allocation sized by the model or its data; 0
	// means size.Default().
	Budget size.Budget
	// MaxNodes bounds elaboration (LoadOptions.MaxNodes).
	MaxNodes int
	// Dims fixes an imported model's dynamic dimensions (LoadOptions.Dims).
	Dims map[string]int
}

func (o *Options) budget() size.Budget {
	if o.Budget == 0 {
		o.Budget = size.Default()
	}
	return o.Budget
}

// Load reads and checks the model at path (Options.Model picks one of
// several).
func (o *Options) Load(path string) (*Model, error) {
	return Load(path, o.Model, LoadOptions{MaxNodes: o.MaxNodes, Budget: o.budget(), Dims: o.Dims})
}

// LoadSource is Load for a program given as its text (LoadSource).
func (o *Options) LoadSource(path string, src []byte) (*Model, error) {
	return LoadSource(path, src, o.Model, LoadOptions{MaxNodes: o.MaxNodes, Budget: o.budget(), Dims: o.Dims})
}

// MemoryBudget is the budget every allocation sized by the model or its data
// is checked against (Options.Budget, or its default).
func (o *Options) MemoryBudget() size.Budget { return o.budget() }
