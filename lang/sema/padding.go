package sema

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/lang/syntax"
	"github.com/mdlc/mdlc/nn"
)

// padArg is a padding argument: valid, same, or explicit pads (top, bottom,
// left, right) written as PyTorch and Keras do, `1`, `[1, 2]` (rows, cols)
// or `[[top, bottom], [left, right]]`.
type padArg struct {
	mode ir.Padding
	pads [4]int
}

const padForms = "valid, same, an integer, [rows, cols] or [[top, bottom], [left, right]]"

// text writes the argument in its shortest source form.
func (p padArg) text() string {
	t := p.pads
	switch {
	case p.mode != ir.Explicit:
		return p.mode.String()
	case t[0] == t[1] && t[1] == t[2] && t[2] == t[3]:
		return strconv.Itoa(t[0])
	case t[0] == t[1] && t[2] == t[3]:
		return fmt.Sprintf("[%d, %d]", t[0], t[2])
	}
	return fmt.Sprintf("[[%d, %d], [%d, %d]]", t[0], t[1], t[2], t[3])
}

// value is the argument as a source value, for a block passing it on.
func (p padArg) value() value {
	if p.mode != ir.Explicit {
		return value{kind: kName, s: p.mode.String()}
	}
	pair := func(a, b int) value {
		return value{kind: kList, list: []value{{kind: kInt, i: a}, {kind: kInt, i: b}}}
	}
	return value{kind: kList, list: []value{pair(p.pads[0], p.pads[1]), pair(p.pads[2], p.pads[3])}}
}

// convertPadding reads a padding argument, or says what is wrong with it.
func convertPadding(v value) (padArg, string) {
	got := func() string { return "must be " + padForms + ", got " + v.text() }
	switch v.kind {
	case kName, kString:
		if p, ok := ir.ParsePadding(v.s); ok {
			return padArg{mode: p}, ""
		}
		if v.s == "causal" {
			return padArg{}, "cannot be causal: causal padding is for 1-D windows (conv1d, maxpool1d, avgpool1d)"
		}
		return padArg{}, "must be " + padForms + ", got `" + v.s + "`"
	case kInt:
		return explicitPads(v.i, v.i, v.i, v.i)
	case kList:
		if len(v.list) != 2 {
			return padArg{}, fmt.Sprintf("lists one pad per spatial axis, [rows, cols], or a pair per axis, [[top, bottom], [left, right]]: got %d items in %s", len(v.list), v.text())
		}
		a, b := v.list[0], v.list[1]
		switch {
		case a.kind == kInt && b.kind == kInt:
			return explicitPads(a.i, a.i, b.i, b.i)
		case isIntPair(a) && isIntPair(b):
			return explicitPads(a.list[0].i, a.list[1].i, b.list[0].i, b.list[1].i)
		case a.kind == kList || b.kind == kList:
			return padArg{}, "mixes nesting levels in " + v.text() + ": write [rows, cols] or [[top, bottom], [left, right]], two integers in each pair"
		}
	}
	return padArg{}, got()
}

func isIntPair(v value) bool {
	return v.kind == kList && len(v.list) == 2 && v.list[0].kind == kInt && v.list[1].kind == kInt
}

func explicitPads(top, bottom, left, right int) (padArg, string) {
	for _, p := range []int{top, bottom, left, right} {
		if p < 0 {
			return padArg{}, fmt.Sprintf("cannot be negative, got %d: pads count the cells added around the input (to crop, use `slice`)", p)
		}
	}
	return padArg{mode: ir.Explicit, pads: [4]int{top, bottom, left, right}}, ""
}

func (b *bound) padding(name string) padArg { return b.vals[name].(padArg) }

func buildPad(l *nn.Layer, a *bound) (*ir.Value, error) {
	p := a.padding("padding")
	if p.mode != ir.Explicit {
		return nil, &ir.TypeError{Msg: "pad: padding=" + p.mode.String() + " names a window's rule, not pads",
			Help: "give the pads: padding=1, padding=[rows, cols] or padding=[[top, bottom], [left, right]]"}
	}
	mode, ok := ir.ParsePadMode(a.str("mode"))
	if !ok {
		return nil, &ir.TypeError{Msg: "pad: unknown mode `" + a.str("mode") + "`", Help: "modes are zero, constant (with value=), reflect and edge (or replicate)"}
	}
	value := a.float("value")
	if value != 0 && mode != ir.PadConstant {
		return nil, &ir.TypeError{Msg: "pad: value= is the fill of mode=constant, not of " + a.str("mode"), Help: "write mode=constant, or leave value out"}
	}
	return nn.Pad{Mode: mode, Pads: p.pads, Value: float32(value)}.Apply(l, a.tensor("x"))
}

// noteSamePadding warns where padding=same pads unevenly on a strided axis:
// TensorFlow's rule puts the odd cell after, where PyTorch's padding=k//2
// pads both sides alike, so a model ported from PyTorch with `same` checks
// cleanly and computes something else. Like the unused-value warnings, it
// speaks only of the file being checked: an imported block's padding is
// its author's choice.
func (e *elab) noteSamePadding(l *nn.Layer, c *syntax.Call) {
	// 1-D layers are left out: the note's pads and spellings are 2-D ones.
	if e.scope == nil || e.scope.unit != e.prog.Root || strings.HasSuffix(c.QualifiedName(), "1d") {
		return
	}
	for _, n := range l.Nodes() {
		var w ir.Window2D
		var kh, kw int
		switch a := n.Attrs.(type) {
		case *ir.ConvAttrs:
			w, kh, kw = a.Window2D, n.Inputs[1].Type.Shape[0].Size, n.Inputs[1].Type.Shape[1].Size
		case *ir.PoolAttrs:
			w, kh, kw = a.Window2D, a.Size[0], a.Size[1]
		default:
			continue
		}
		x := n.Inputs[0].Type.Shape
		if w.Padding != ir.Same || !x[1].Known() || !x[2].Known() {
			continue
		}
		pads := w.PadsFor(x[1].Size, x[2].Size, kh, kw)
		uneven := (w.Stride[0] > 1 && pads[0] != pads[1]) || (w.Stride[1] > 1 && pads[2] != pads[3])
		// PyTorch's symmetric padding keeps the window centred only for
		// odd extents; for even ones there is nothing else to suggest.
		eh, ew := (kh-1)*w.Dilation[0], (kw-1)*w.Dilation[1]
		if !uneven || eh%2 != 0 || ew%2 != 0 {
			continue
		}
		sym := padArg{mode: ir.Explicit, pads: [4]int{eh / 2, eh / 2, ew / 2, ew / 2}}
		asIs := padArg{mode: ir.Explicit, pads: pads}
		e.warnf(c, fmt.Sprintf("write padding=%s for PyTorch's padding, or padding=%s to keep TensorFlow's and silence this note", sym.text(), asIs.text()),
			"padding=same with stride %s on this %dx%d input pads %d before and %d after (TensorFlow's rule), unlike PyTorch's symmetric padding=%s",
			pairText(w.Stride), x[1].Size, x[2].Size, unevenBefore(pads, w.Stride), unevenAfter(pads, w.Stride), sym.text())
		return
	}
}

// unevenBefore and unevenAfter are the pads of the first strided axis
// padded unevenly, the one the note describes.
func unevenBefore(p [4]int, stride [2]int) int {
	if stride[0] > 1 && p[0] != p[1] {
		return p[0]
	}
	return p[2]
}

func unevenAfter(p [4]int, stride [2]int) int {
	if stride[0] > 1 && p[0] != p[1] {
		return p[1]
	}
	return p[3]
}

func pairText(p [2]int) string {
	if p[0] == p[1] {
		return strconv.Itoa(p[0])
	}
	return fmt.Sprintf("[%d, %d]", p[0], p[1])
}
