package cpu

import (
	"slices"
	"strings"
	"sync"
)

// Family is a kernel family's implementations, one per kernel set: the
// generic one always, and the assembly ones, which the files of each set add
// at init when this CPU and build can run them. A set without code of its
// own in a family says so, naming the set whose code it runs (Uses): the
// avx512 set runs AVX2's kernels where AVX-512 ones are not (yet) faster.
// The plan picks an implementation with For when it is built; tests compare
// every one in All with the generic one.
type Family[K any] struct {
	name  string
	sets  []Set
	impls []K
	uses  map[Set]Set
}

// NewFamily starts a family with its generic implementation and records it
// under name for Implementations.
func NewFamily[K any](name string, generic K) *Family[K] {
	f := &Family[K]{name: name, sets: []Set{Generic}, impls: []K{generic}, uses: map[Set]Set{}}
	registry.add(name, f.runs)
	return f
}

// Add registers set s's implementation ahead of those before it: the sets are
// added worst first, so All lists them best first.
func (f *Family[K]) Add(s Set, k K) {
	f.sets = append([]Set{s}, f.sets...)
	f.impls = append([]K{k}, f.impls...)
}

// Uses declares that set s runs set from's implementation in this family,
// having none of its own.
func (f *Family[K]) Uses(s, from Set) { f.uses[s] = from }

// runs is the set whose implementation set s runs: its own, the one it
// uses, or generic for a set this process has neither of.
func (f *Family[K]) runs(s Set) Set {
	if slices.Contains(f.sets, s) {
		return s
	}
	if from, ok := f.uses[s]; ok && slices.Contains(f.sets, from) {
		return from
	}
	return Generic
}

// For returns the implementation set s runs (see Uses), the generic one for
// a set this process has none of.
func (f *Family[K]) For(s Set) K {
	return f.impls[slices.Index(f.sets, f.runs(s))]
}

// Runs says which set's implementation For(s) is.
func (f *Family[K]) Runs(s Set) Set { return f.runs(s) }

// All lists the implementations this process can run, best first, the
// generic one last, each once.
func (f *Family[K]) All() []K { return f.impls }

// Impl is what a kernel family runs for a set.
type Impl struct {
	Family string
	Runs   Set // the set whose code runs: the one asked for, or the one it uses
}

// Implementations lists, for every family registered in this process (those
// of the kernel packages it links), whose code set s runs, by family name:
// `mdlc env` shows where a set borrows another's kernels.
func Implementations(s Set) []Impl {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	var out []Impl
	for _, r := range registry.list {
		out = append(out, Impl{Family: r.name, Runs: r.runs(s)})
	}
	slices.SortFunc(out, func(a, b Impl) int { return strings.Compare(a.Family, b.Family) })
	return out
}

// registry holds the families created so far; package vars create them, so
// all are there once main starts.
var registry families

type families struct {
	mu   sync.Mutex
	list []registered
}

type registered struct {
	name string
	runs func(Set) Set
}

func (r *families) add(name string, runs func(Set) Set) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, registered{name, runs})
}
