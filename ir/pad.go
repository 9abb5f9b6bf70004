package ir

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// PadMode says what fills the cells a pad op adds.
type PadMode uint8

const (
	// PadConstant fills them with Value (0 for a zero pad).
	PadConstant PadMode = iota
	// PadReflect mirrors the axis about its first and last cells, which are
	// not repeated: [a b c] padded by 2 reads c b [a b c] b a (NumPy's
	// and PyTorch's "reflect"). Pads must be smaller than the axis.
	PadReflect
	// PadEdge repeats the first and last cells (PyTorch's "replicate").
	PadEdge
)

var padModeNames = [...]string{PadConstant: "constant", PadReflect: "reflect", PadEdge: "edge"}

func (m PadMode) String() string {
	if int(m) < len(padModeNames) {
		return padModeNames[m]
	}
	return fmt.Sprintf("pad_mode(%d)", m)
}

// ParsePadMode maps a mode's name to a PadMode; PyTorch's "replicate" and
// "zeros" name edge and a constant 0.
func ParsePadMode(s string) (PadMode, bool) {
	switch s {
	case "zero", "zeros", "constant":
		return PadConstant, true
	case "reflect":
		return PadReflect, true
	case "edge", "replicate":
		return PadEdge, true
	}
	return 0, false
}

// PadAttrs pad every axis of a tensor: Pads[i] cells before and after axis i.
type PadAttrs struct {
	Mode  PadMode
	Pads  [][2]int
	Value float32 // the fill of PadConstant
}

func (a *PadAttrs) String() string {
	pads := make([]string, 0, 2*len(a.Pads))
	for _, p := range a.Pads {
		pads = append(pads, strconv.Itoa(p[0]), strconv.Itoa(p[1]))
	}
	s := "mode=" + a.Mode.String() + " pads=[" + strings.Join(pads, ",") + "]"
	if a.Mode == PadConstant {
		s += " value=" + fmtFloat(a.Value)
	}
	return s
}

// Source is the input index that output index o of an axis of size n with
// pads p reads, or -1 for a constant cell.
func (a *PadAttrs) Source(o, n int, p [2]int) int {
	i := o - p[0]
	switch {
	case i >= 0 && i < n:
		return i
	case a.Mode == PadEdge:
		return min(max(i, 0), n-1)
	case a.Mode == PadReflect && i < 0:
		return -i
	case a.Mode == PadReflect:
		return 2*(n-1) - i
	}
	return -1
}

func inferPad(a Attrs, in []Type) (Type, error) {
	at, x := a.(*PadAttrs), in[0]
	if len(at.Pads) != x.Shape.Rank() {
		return Type{}, typeErr("", "pad: %d pairs of pads for the rank-%d input %s", len(at.Pads), x.Shape.Rank(), x)
	}
	if at.Mode > PadEdge {
		return Type{}, typeErr("", "pad: unknown mode %d", at.Mode)
	}
	out := slices.Clone(x.Shape)
	for i, p := range at.Pads {
		if p == ([2]int{}) {
			continue
		}
		if p[0] < 0 || p[1] < 0 || p[0] > MaxElements || p[1] > MaxElements {
			return Type{}, typeErr("pads count cells to add, from 0", "pad: axis %d's pads %v must be 0 to 2^40", i, p)
		}
		d := x.Shape[i]
		if !d.Known() {
			return Type{}, typeErr("give the input a fixed size on that axis", "pad: axis %d of %s is padded, so its size must be known", i, x)
		}
		if at.Mode == PadReflect && max(p[0], p[1]) >= d.Size {
			return Type{}, typeErr("reflect mirrors the axis without repeating its edge, so each pad must be smaller than the axis; use mode=edge or smaller pads",
				"pad: reflect pads of %d before and %d after need axis %d to be longer than %d, but %s has %d there", p[0], p[1], i, max(p[0], p[1]), x, d.Size)
		}
		if at.Mode == PadEdge && d.Size == 0 {
			return Type{}, typeErr("", "pad: edge cannot pad the empty axis %d of %s", i, x)
		}
		out[i] = D(d.Size + p[0] + p[1])
	}
	return Type{DType: x.DType, Shape: out}, nil
}

func (*PadAttrs) parseAttrs(p *parser) (Attrs, error) {
	a := &PadAttrs{}
	mode := func(p *parser) error {
		w, err := p.word("a pad mode")
		if err != nil {
			return err
		}
		i := slices.Index(padModeNames[:], w)
		if i < 0 {
			return p.errorf("unknown pad mode %q: want %s", w, strings.Join(padModeNames[:], ", "))
		}
		a.Mode = PadMode(i)
		return nil
	}
	var flat []int
	if err := p.fields(req("mode", mode), req("pads", intsVal(&flat)), opt("value", floatVal(&a.Value))); err != nil {
		return nil, err
	}
	if len(flat)%2 != 0 {
		return nil, p.errorf("pads=[before,after,...] needs two integers per axis, found %d", len(flat))
	}
	a.Pads = make([][2]int, len(flat)/2)
	for i := range a.Pads {
		a.Pads[i] = [2]int{flat[2*i], flat[2*i+1]}
	}
	return a, nil
}
