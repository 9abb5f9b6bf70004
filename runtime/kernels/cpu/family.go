package cpu

// Family is a kernel family's implementations, one per kernel set: the
// generic one always, and the assembly ones, which the files of each set add
// at init when this CPU and build can run them. The plan picks one with For
// when it is built; tests compare every one in All with the generic one.
type Family[K any] struct {
	sets  []Set
	impls []K
}

// NewFamily starts a family with its generic implementation.
func NewFamily[K any](generic K) *Family[K] {
	return &Family[K]{sets: []Set{Generic}, impls: []K{generic}}
}

// Add registers set s's implementation ahead of those before it: the sets are
// added worst first, so All lists them best first.
func (f *Family[K]) Add(s Set, k K) {
	f.sets = append([]Set{s}, f.sets...)
	f.impls = append([]K{k}, f.impls...)
}

// For returns set s's implementation, the generic one for a set this process
// has none of.
func (f *Family[K]) For(s Set) K {
	for i, fs := range f.sets {
		if fs == s {
			return f.impls[i]
		}
	}
	return f.impls[len(f.impls)-1]
}

// All lists the implementations this process can run, best first, the
// generic one last.
func (f *Family[K]) All() []K { return f.impls }
