package memplan

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// Verify checks the plan's invariant from its buffers, aliases and offsets
// alone: every offset is aligned and every buffer, its size rounded up to
// Align, lies in the arena; every alias is valid and shares its buffer's
// offset; and no two buffers live at a common step share a byte, unless one
// is an alias of the other. It reports every violation, except that a
// buffer with a bad lifetime, offset or extent hides those between buffers.
func (p *Plan) Verify() error {
	if p.Align <= 0 || p.Align&(p.Align-1) != 0 {
		return fmt.Errorf("alignment %d is not a power of two", p.Align)
	}
	if len(p.Offsets) != len(p.Buffers) {
		return fmt.Errorf("%d offsets for %d buffers", len(p.Offsets), len(p.Buffers))
	}
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if p.Size < 0 || p.Size%p.Align != 0 {
		fail("arena size %d is not a multiple of the alignment %d", p.Size, p.Align)
	}
	end := func(id int) int64 { return p.Offsets[id] + alignUp(p.Buffers[id].Size, p.Align) }
	for id, b := range p.Buffers {
		if err := b.check(); err != nil {
			fail("buffer %d: %v", id, err)
			continue
		}
		if off := p.Offsets[id]; off < 0 || off%p.Align != 0 || end(id) > p.Size {
			fail("buffer %d at [%d, %d) is misaligned or outside the arena of %d bytes", id, off, end(id), p.Size)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}

	// in[out] is the buffer that out overwrites in place.
	in := make([]int, len(p.Buffers))
	overwritten := make([]bool, len(p.Buffers))
	for i := range in {
		in[i] = -1
	}
	for _, a := range p.Aliases {
		if a.Out < 0 || a.Out >= len(in) || a.In < 0 || a.In >= len(in) {
			fail("alias of buffer %d onto %d: no such buffer", a.Out, a.In)
			continue
		}
		if err := checkAlias(p.Buffers, a.Out, a.In); err != nil {
			errs = append(errs, err)
		}
		if in[a.Out] >= 0 {
			fail("buffer %d is written in place over both %d and %d", a.Out, in[a.Out], a.In)
		}
		if overwritten[a.In] {
			fail("buffer %d is overwritten in place twice", a.In)
		}
		in[a.Out], overwritten[a.In] = a.In, true
		if p.Offsets[a.Out] != p.Offsets[a.In] {
			fail("alias of buffer %d onto %d: offsets %d and %d differ", a.Out, a.In, p.Offsets[a.Out], p.Offsets[a.In])
		}
	}

	// Compare each buffer with those that start while it is live.
	ids := make([]int, len(p.Buffers))
	for i := range ids {
		ids[i] = i
	}
	slices.SortFunc(ids, func(i, j int) int { return cmp.Compare(p.Buffers[i].First, p.Buffers[j].First) })
	for k, i := range ids {
		for _, j := range ids[k+1:] {
			if p.Buffers[j].First > p.Buffers[i].Last {
				break
			}
			if in[i] == j || in[j] == i {
				continue
			}
			lo, hi := max(p.Offsets[i], p.Offsets[j]), min(end(i), end(j))
			if lo < hi {
				fail("buffers %d and %d are both live at step %d and share bytes [%d, %d)",
					min(i, j), max(i, j), p.Buffers[j].First, lo, hi)
			}
		}
	}
	return errors.Join(errs...)
}
