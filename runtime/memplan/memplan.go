// Package memplan places the intermediate tensors of an execution plan in one
// arena, so running the plan allocates nothing. It knows nothing of the IR: it
// sees buffers, each with a size in bytes and a lifetime over a schedule of
// steps 0..S-1, and returns a byte offset for each.
//
// As in TensorFlow Lite Micro's memory planners and XLA's heap simulator,
// liveness is kept apart from placement. Lifetimes turns "defined at step d,
// read at steps u..." into a Buffer's inclusive interval [First, Last]. A
// Problem collects buffers and aliases; a Planner places them; Plan checks the
// result, and Best keeps the smallest arena of several planners.
//
// The invariant of every Plan, which Plan.Verify checks: two buffers live at a
// common step never share a byte, unless one is an alias of the other. Each
// buffer owns its size rounded up to the alignment (64 bytes by default), and
// every offset is a multiple of it, so a SIMD kernel may load and store whole
// vectors up to the rounded end of any buffer.
//
// Aliases are in-place updates: Problem.Alias(out, in) places out at in's
// offset, for a step that reads in for the last time and writes out, element
// by element, over it. It needs in.First < in.Last == out.First, out no larger
// than in, and in not a graph output; each buffer is overwritten in place at
// most once and overwrites at most one buffer. A chain of aliases is then one
// block, sized by its first buffer and live from its first buffer's First to
// its last buffer's Last; planners see only such alias-free blocks.
//
// The planners are greedy, after Pisarchyk and Lee, "Efficient Memory
// Management for Deep Neural Net Inference" (2020). GreedyBySize (TFLite
// Micro's GreedyMemoryPlanner) takes blocks largest first and puts each at the
// lowest offset where it overlaps no placed block live at a common step.
// GreedyByBreadth takes the steps with the most live bytes first, their blocks
// largest first, and puts each in the smallest gap that fits. Linear gives each
// block its own space; it is the baseline. Plan.LowerBound, the largest number
// of bytes live at one step, is what no placement can beat; the greedy
// planners usually reach it on real networks.
package memplan

import (
	"fmt"
	"slices"
)

// DefaultAlign is the alignment New uses when given 0: a cache line, and the
// widest SIMD vector (AVX-512).
const DefaultAlign = 64

// Buffer is a tensor the arena must hold for steps First..Last inclusive: the
// step that writes it and the last step that reads it.
type Buffer struct {
	Size        int64
	First, Last int
	// Output marks a graph output: the caller reads it after the last step,
	// so no step may overwrite it in place.
	Output bool
}

// overlaps reports whether a and b are live at a common step.
func (a Buffer) overlaps(b Buffer) bool { return a.First <= b.Last && b.First <= a.Last }

func (b Buffer) check() error {
	if b.Size < 0 {
		return fmt.Errorf("size %d is negative", b.Size)
	}
	if b.First < 0 || b.First > b.Last {
		return fmt.Errorf("lifetime [%d, %d] is empty or before step 0", b.First, b.Last)
	}
	return nil
}

// Alias records that buffer Out is written in place over buffer In.
type Alias struct{ Out, In int }

// Problem is a set of buffers, with aliases between them, to place in one arena.
type Problem struct {
	align   int64
	bufs    []Buffer
	aliases []Alias
	// in and out link each buffer to the one it overwrites in place and the
	// one that overwrites it, -1 for none, so Alias can refuse a second link.
	in, out []int
}

// New returns an empty problem whose offsets and rounded sizes will be
// multiples of align, a power of two; 0 means DefaultAlign.
func New(align int64) *Problem {
	if align == 0 {
		align = DefaultAlign
	}
	return &Problem{align: align}
}

// Add adds a buffer and returns its id: 0, 1, 2... in the order of the calls.
// Plan reports an invalid buffer.
func (p *Problem) Add(b Buffer) int {
	p.bufs = append(p.bufs, b)
	p.in = append(p.in, -1)
	p.out = append(p.out, -1)
	return len(p.bufs) - 1
}

// Alias asks that buffer out be written in place over buffer in (see the
// package comment for the conditions). It returns an error, and records
// nothing, if the lifetimes, sizes or earlier aliases do not allow it; the
// buffers are then placed apart. Only the caller knows whether the step's
// kernel may write over its operand; memplan checks only the lifetimes.
func (p *Problem) Alias(out, in int) error {
	if out < 0 || out >= len(p.bufs) || in < 0 || in >= len(p.bufs) {
		return fmt.Errorf("alias of buffer %d onto %d: no such buffer among %d", out, in, len(p.bufs))
	}
	if err := checkAlias(p.bufs, out, in); err != nil {
		return err
	}
	if p.out[in] >= 0 {
		return fmt.Errorf("alias of buffer %d onto %d: buffer %d is already overwritten in place by %d", out, in, in, p.out[in])
	}
	if p.in[out] >= 0 {
		return fmt.Errorf("alias of buffer %d onto %d: buffer %d is already written in place over %d", out, in, out, p.in[out])
	}
	p.in[out], p.out[in] = in, out
	p.aliases = append(p.aliases, Alias{Out: out, In: in})
	return nil
}

// checkAlias checks the conditions on the lifetimes and sizes of one alias.
// First strictly increases along a chain of aliases, so chains have no cycles,
// and a buffer is never live at a step together with its alias's alias.
func checkAlias(bufs []Buffer, out, in int) error {
	o, i := bufs[out], bufs[in]
	fail := func(format string, args ...any) error {
		return fmt.Errorf("alias of buffer %d onto %d: %s", out, in, fmt.Sprintf(format, args...))
	}
	switch {
	case out == in:
		return fail("a buffer cannot alias itself")
	case i.Output:
		return fail("buffer %d is a graph output, read after the last step", in)
	case i.Last != o.First:
		return fail("buffer %d is last read at step %d but buffer %d is written at step %d; the two must be the same step", in, i.Last, out, o.First)
	case i.First >= i.Last:
		return fail("buffer %d is written at step %d and never read after it", in, i.First)
	case o.Size > i.Size:
		return fail("buffer %d (%d bytes) is larger than buffer %d (%d bytes)", out, o.Size, in, i.Size)
	}
	return nil
}

// Plan is a placement of every buffer of a Problem.
type Plan struct {
	Planner string // the planner that placed the blocks
	Align   int64
	Buffers []Buffer
	Aliases []Alias
	// Offsets holds each buffer's byte offset in the arena, by id.
	Offsets []int64
	// Size is the arena's size in bytes: the end of the highest buffer, with
	// its size rounded up to Align.
	Size int64
	// LowerBound is the largest number of bytes live at one step, not
	// counting a buffer at the step where it overwrites its alias: no
	// placement needs less. Planners reserve a chain of aliases its first
	// buffer's size throughout, so a chain whose sizes shrink may keep them
	// above it.
	LowerBound int64
	// Unplanned is what giving every buffer its own allocation would take.
	Unplanned int64
}

// Plan places the problem's buffers with planner pl and verifies the result.
func (p *Problem) Plan(pl Planner) (*Plan, error) {
	if p.align <= 0 || p.align&(p.align-1) != 0 {
		return nil, fmt.Errorf("alignment %d is not a power of two", p.align)
	}
	for id, b := range p.bufs {
		if err := b.check(); err != nil {
			return nil, fmt.Errorf("buffer %d: %w", id, err)
		}
	}
	blocks, blockOf := mergeAliases(p.bufs, p.aliases, p.align)
	at := pl.Place(blocks)
	if len(at) != len(blocks) {
		return nil, fmt.Errorf("planner %s placed %d of %d blocks", pl.Name, len(at), len(blocks))
	}
	plan := &Plan{
		Planner:    pl.Name,
		Align:      p.align,
		Buffers:    slices.Clone(p.bufs),
		Aliases:    slices.Clone(p.aliases),
		Offsets:    make([]int64, len(p.bufs)),
		LowerBound: LowerBound(handedOver(p.bufs, p.aliases), p.align),
		Unplanned:  Unplanned(p.bufs, p.align),
	}
	for id, blk := range blockOf {
		plan.Offsets[id] = at[blk]
	}
	for i, b := range blocks {
		plan.Size = max(plan.Size, at[i]+b.Size)
	}
	if err := plan.Verify(); err != nil {
		return nil, fmt.Errorf("planner %s: %w", pl.Name, err)
	}
	return plan, nil
}

// Best plans with each planner, Planners if none is given, and returns the
// smallest arena, the earliest planner winning ties.
func (p *Problem) Best(planners ...Planner) (*Plan, error) {
	if len(planners) == 0 {
		planners = Planners
	}
	var best *Plan
	for _, pl := range planners {
		plan, err := p.Plan(pl)
		if err != nil {
			return nil, err
		}
		if best == nil || plan.Size < best.Size {
			best = plan
		}
	}
	return best, nil
}

// mergeAliases merges each chain of aliases into one block, sized by its first
// buffer (sizes do not grow along a chain) rounded up to align, and live from
// its first buffer's First to its last buffer's Last. blockOf maps each buffer
// to its block; blocks are in the order of their first buffers.
func mergeAliases(bufs []Buffer, aliases []Alias, align int64) (blocks []Buffer, blockOf []int) {
	next := make([]int, len(bufs))
	aliased := make([]bool, len(bufs))
	for i := range next {
		next[i] = -1
	}
	for _, a := range aliases {
		next[a.In], aliased[a.Out] = a.Out, true
	}
	blockOf = make([]int, len(bufs))
	for id, b := range bufs {
		if aliased[id] {
			continue
		}
		blk := Buffer{Size: alignUp(b.Size, align), First: b.First}
		for m := id; m >= 0; m = next[m] {
			blockOf[m] = len(blocks)
			blk.Last = bufs[m].Last
		}
		blocks = append(blocks, blk)
	}
	return blocks, blockOf
}

// handedOver returns bufs with each buffer written in place live from the
// step after its First: at that step it lies within its alias, live too.
func handedOver(bufs []Buffer, aliases []Alias) []Buffer {
	bufs = slices.Clone(bufs)
	for _, a := range aliases {
		bufs[a.Out].First++
	}
	return slices.DeleteFunc(bufs, func(b Buffer) bool { return b.First > b.Last })
}

func alignUp(n, align int64) int64 { return (n + align - 1) &^ (align - 1) }
