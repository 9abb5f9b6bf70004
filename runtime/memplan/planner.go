package memplan

import (
	"cmp"
	"slices"
)

// Planner places blocks: alias-free buffers whose sizes are multiples of the
// alignment. Place returns an offset for each block such that two blocks live
// at a common step do not overlap; offsets made of sums of block sizes are
// aligned too.
type Planner struct {
	Name  string
	Place func(blocks []Buffer) []int64
}

var (
	// Linear gives every block its own space, in order: no reuse.
	Linear = Planner{"linear", linear}
	// GreedyBySize is TFLite Micro's GreedyMemoryPlanner: largest block
	// first, each at the lowest offset where it fits.
	GreedyBySize = Planner{"greedy-by-size", func(b []Buffer) []int64 { return place(b, bySize(b), firstFit) }}
	// GreedyByBreadth takes the steps with the most live bytes first and,
	// at each, its blocks largest first, each in the smallest gap where it
	// fits, keeping large gaps for later blocks.
	GreedyByBreadth = Planner{"greedy-by-breadth", func(b []Buffer) []int64 { return place(b, byBreadth(b), bestFit) }}
	// GreedyInOrder takes the blocks in the order the schedule first
	// writes them, each at the lowest offset where it fits, as a running
	// allocator would: a large block that comes after long-lived ones is not
	// forced above them because an earlier large block took the bottom.
	GreedyInOrder = Planner{"greedy-in-order", func(b []Buffer) []int64 { return place(b, inOrder(b), firstFit) }}
)

// Planners are the planners Best tries, in order of preference. On random
// schedules each is sometimes strictly better than the others. By size and by
// breadth reach the lower bound on the CNNs of the standard library; on the
// stacked bidirectional GRU both place the three largest blocks at the
// bottom and end 1.18-1.22× above the bound, where in order reaches it.
// Best-fit by size and first-fit by breadth were tried too, and never beat
// the better of the first two on random layer graphs.
var Planners = []Planner{GreedyBySize, GreedyByBreadth, GreedyInOrder}

func linear(blocks []Buffer) []int64 {
	at := make([]int64, len(blocks))
	var end int64
	for i, b := range blocks {
		at[i] = end
		end += b.Size
	}
	return at
}

// bySize orders blocks largest first; among equal sizes, the longer lived,
// then the earlier, then the lower index first, so plans are deterministic.
func bySize(blocks []Buffer) []int {
	order := make([]int, len(blocks))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(i, j int) int {
		a, b := blocks[i], blocks[j]
		return cmp.Or(
			cmp.Compare(b.Size, a.Size),
			cmp.Compare(b.Last-b.First, a.Last-a.First),
			cmp.Compare(a.First, b.First),
			cmp.Compare(i, j))
	})
	return order
}

// inOrder orders blocks by their first step, then as bySize does.
func inOrder(blocks []Buffer) []int {
	order := bySize(blocks)
	slices.SortStableFunc(order, func(i, j int) int { return cmp.Compare(blocks[i].First, blocks[j].First) })
	return order
}

// byBreadth orders the steps by their live bytes, most first, and lists the
// blocks live at each step, largest first, that an earlier step has not listed.
func byBreadth(blocks []Buffer) []int {
	steps := 0
	for _, b := range blocks {
		steps = max(steps, b.Last+1)
	}
	breadth := make([]int64, steps)
	live := make([][]int, steps)
	for i, b := range blocks {
		for s := b.First; s <= b.Last; s++ {
			breadth[s] += b.Size
			live[s] = append(live[s], i)
		}
	}
	stepOrder := make([]int, steps)
	for s := range stepOrder {
		stepOrder[s] = s
	}
	slices.SortStableFunc(stepOrder, func(s, t int) int { return cmp.Compare(breadth[t], breadth[s]) })
	size := bySize(blocks)
	rank := make([]int, len(blocks))
	for r, i := range size {
		rank[i] = r
	}
	order := make([]int, 0, len(blocks))
	listed := make([]bool, len(blocks))
	for _, s := range stepOrder {
		slices.SortFunc(live[s], func(i, j int) int { return cmp.Compare(rank[i], rank[j]) })
		for _, i := range live[s] {
			if !listed[i] {
				listed[i] = true
				order = append(order, i)
			}
		}
	}
	return order
}

// fit says which gap place chooses among those where a block fits.
type fit bool

const (
	firstFit fit = false // the lowest gap
	bestFit  fit = true  // the smallest gap, the lowest of equals
)

// place puts the blocks in the given order, each in a gap between the placed
// blocks live at a common step with it, chosen by how, or above them all.
func place(blocks []Buffer, order []int, how fit) []int64 {
	at := make([]int64, len(blocks))
	var placed []int // by offset
	for _, i := range order {
		b := blocks[i]
		var end int64 // of the conflicting blocks below the gap scanned
		best, bestGap := int64(-1), int64(0)
		for _, j := range placed {
			if !b.overlaps(blocks[j]) {
				continue
			}
			if gap := at[j] - end; gap >= b.Size && (best < 0 || how == bestFit && gap < bestGap) {
				best, bestGap = end, gap
				if how == firstFit {
					break
				}
			}
			end = max(end, at[j]+blocks[j].Size)
		}
		if best < 0 {
			best = end
		}
		at[i] = best
		k, _ := slices.BinarySearchFunc(placed, best, func(j int, off int64) int { return cmp.Compare(at[j], off) })
		placed = slices.Insert(placed, k, i)
	}
	return at
}
