package sema

import (
	"fmt"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/nn"
)

// pad1D is a 1-D window's padding argument: valid, same, causal, an integer
// (both sides) or [left, right].
type pad1D struct{ nn.Window1D }

const pad1DForms = "valid, same, causal, an integer or [left, right]"

// value is the argument as a source value, for a block passing it on.
func (p pad1D) value() value {
	switch {
	case p.Causal:
		return value{kind: kName, s: "causal"}
	case p.Padding != ir.Explicit:
		return value{kind: kName, s: p.Padding.String()}
	}
	return value{kind: kList, list: []value{{kind: kInt, i: p.Pads[0]}, {kind: kInt, i: p.Pads[1]}}}
}

// convertPadding1D reads a 1-D padding argument, or says what is wrong with
// it; a 2-D form gets its own message, as it is the likely slip.
func convertPadding1D(v value) (pad1D, string) {
	switch v.kind {
	case kName, kString:
		if v.s == "causal" {
			return pad1D{nn.Window1D{Causal: true}}, ""
		}
		if p, ok := ir.ParsePadding(v.s); ok {
			return pad1D{nn.Window1D{Padding: p}}, ""
		}
		return pad1D{}, "must be " + pad1DForms + ", got `" + v.s + "`"
	case kInt:
		return explicit1D(v.i, v.i)
	case kList:
		if len(v.list) == 2 && v.list[0].kind == kInt && v.list[1].kind == kInt {
			return explicit1D(v.list[0].i, v.list[1].i)
		}
		if len(v.list) == 2 && (isIntPair(v.list[0]) || isIntPair(v.list[1])) {
			return pad1D{}, "is a 1-D window's: write [left, right], not " + v.text()
		}
	}
	return pad1D{}, "must be " + pad1DForms + ", got " + v.text()
}

func explicit1D(left, right int) (pad1D, string) {
	if left < 0 || right < 0 {
		return pad1D{}, fmt.Sprintf("cannot be negative, got [%d, %d]: pads count the cells added around the input (to crop, use `slice`)", left, right)
	}
	return pad1D{nn.Window1D{Padding: ir.Explicit, Pads: [2]int{left, right}}}, ""
}

func (b *bound) padding1D(name string) nn.Window1D { return b.vals[name].(pad1D).Window1D }

// causalDoc is what a 1-D window's padding argument means.
const causalDoc = "padding is valid, same (TensorFlow's rule, the odd cell after), causal (Keras's: (kernel-1)·dilation cells on the left only, so output t sees inputs up to t), " +
	"an integer (both sides, as PyTorch's padding=) or [left, right]"

var (
	valid1D     = paramSpec{name: "padding", kind: aPadding1D, def: pad1D{nn.Window1D{Padding: ir.Valid}}}
	pool1DSpecs = []paramSpec{input, {name: "pool", kind: aInt, def: 2}, {name: "strides", kind: aInt, def: unset{}, doc: "pool"}, valid1D}
)

func buildConv1D(l *nn.Layer, a *bound) (*ir.Value, error) {
	return nn.Conv1D{Filters: a.int("filters"), Kernel: a.int("kernel"), Stride: a.int("strides"), Dilation: a.int("dilation"), Groups: a.int("groups"),
		Window1D: a.padding1D("padding"), Activation: a.activation("activation"), UseBias: a.bool("use_bias")}.Apply(l, a.tensor("x"))
}

// buildPool1D leaves strides unset (zero) for nn to default to the pool size.
func buildPool1D(average bool) func(*nn.Layer, *bound) (*ir.Value, error) {
	return func(l *nn.Layer, a *bound) (*ir.Value, error) {
		p := nn.Pool1D{Average: average, Size: a.int("pool"), Window1D: a.padding1D("padding")}
		if average {
			p.CountPad = a.bool("count_include_pad")
		}
		if a.has("strides") {
			p.Stride = a.int("strides")
		}
		return p.Apply(l, a.tensor("x"))
	}
}

func buildGlobalPool1D(max bool) func(*nn.Layer, *bound) (*ir.Value, error) {
	return func(l *nn.Layer, a *bound) (*ir.Value, error) {
		return nn.GlobalPool1D{Max: max}.Apply(l, a.tensor("x"))
	}
}
