package layout

// Pad copies a tensor into a larger one, filling the cells around it: each
// output index of each axis reads the input index its source table names,
// or Value where the table says -1. The tables carry the pad mode (constant,
// reflect, edge), so the kernel knows none.
type Pad struct {
	sources   [][]int
	value     float32
	xs, os    []int // the strides of the input and of the output
	innermost int   // the last padded axis; below it rows copy whole
}

// NewPad describes padding a tensor of the given shape: sources[d][o] is the
// input index along axis d that output index o reads, or -1.
func NewPad(shape []int, sources [][]int, value float32) *Pad {
	p := &Pad{sources: sources, value: value, xs: make([]int, len(shape)), os: make([]int, len(shape)), innermost: -1}
	xs, os := 1, 1
	for d := len(shape) - 1; d >= 0; d-- {
		p.xs[d], p.os[d] = xs, os
		xs *= shape[d]
		os *= len(sources[d])
		if p.innermost < 0 && !identity(sources[d], shape[d]) {
			p.innermost = d
		}
	}
	return p
}

func identity(src []int, n int) bool {
	if len(src) != n {
		return false
	}
	for i, s := range src {
		if s != i {
			return false
		}
	}
	return true
}

// Run writes out from x:
//
//	out[o0, o1, ...] = x[sources[0][o0], sources[1][o1], ...], or value if any is -1
func (p *Pad) Run(x, out []float32) {
	if p.innermost < 0 {
		copy(out, x)
		return
	}
	p.axis(0, x, out)
}

// axis fills out, the block of the output at one index of the axes before
// d, from x, the input's block there.
func (p *Pad) axis(d int, x, out []float32) {
	os, xs := p.os[d], p.xs[d]
	for o, src := range p.sources[d] {
		dst := out[o*os : (o+1)*os]
		switch {
		case src < 0:
			for i := range dst {
				dst[i] = p.value
			}
		case d == p.innermost:
			copy(dst, x[src*xs:(src+1)*xs])
		default:
			p.axis(d+1, x[src*xs:(src+1)*xs], dst)
		}
	}
}
