package sema

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/lang/syntax"
	"github.com/mdlc/mdlc/nn"
)

// argKind is the type of a layer or block argument.
type argKind uint8

const (
	aTensor  argKind = iota + 1
	aTensors         // all remaining positional tensors (concat)
	aInt
	aFloat
	aBool
	aString
	aPair // an int n meaning [n, n], or [a, b]
	aInts
	aPadding
	aPadding1D // a 1-D window's: valid, same, causal, n or [left, right]
	aActivation
	aIndices // a tensor, or a list of integers or of equal lists of them (gather)
)

var argKindNames = [...]string{aTensor: "a tensor", aTensors: "tensors", aInt: "an integer", aFloat: "a number",
	aBool: "true or false", aString: "a string", aPair: "an integer or a list of two", aInts: "a list of integers",
	aPadding: padForms, aPadding1D: pad1DForms, aActivation: "an activation",
	aIndices: "a tensor or a list of integers"}

// paramSpec declares one argument. A nil def makes it required; the default
// unset lets the layer decide (doc says what it does then).
type paramSpec struct {
	name string
	kind argKind
	def  any
	doc  string
}

// unset is the default of an optional argument with no fixed default value.
type unset struct{}

func (p paramSpec) String() string {
	switch {
	case p.doc != "":
		return p.name + "=" + p.doc
	case p.def == nil:
		return p.name
	}
	return p.name + "=" + fromGo(p.def).text()
}

func signature(name string, specs []paramSpec) string {
	parts := make([]string, len(specs))
	for i, s := range specs {
		parts[i] = s.String()
		if s.kind == aTensors {
			parts[i] = s.name + "..."
		}
	}
	return name + "(" + strings.Join(parts, ", ") + ")"
}

func activationNames() []string {
	var names []string
	for _, a := range nn.Activations() {
		names = append(names, a.String())
	}
	return names
}

// bound holds a call's arguments, converted to Go values by kind.
type bound struct {
	vals map[string]any
	arg  map[string]value // the value as written, for positions in errors
}

func (b *bound) tensor(name string) *ir.Value         { return b.vals[name].(*ir.Value) }
func (b *bound) tensors(name string) []*ir.Value      { return b.vals[name].([]*ir.Value) }
func (b *bound) int(name string) int                  { return b.vals[name].(int) }
func (b *bound) float(name string) float64            { return b.vals[name].(float64) }
func (b *bound) bool(name string) bool                { return b.vals[name].(bool) }
func (b *bound) pair(name string) [2]int              { return b.vals[name].([2]int) }
func (b *bound) ints(name string) []int               { return b.vals[name].([]int) }
func (b *bound) str(name string) string               { return b.vals[name].(string) }
func (b *bound) activation(name string) nn.Activation { return b.vals[name].(nn.Activation) }
func (b *bound) has(name string) bool                 { _, ok := b.vals[name]; return ok }

// optional is the tensor argument name, or nil if it was left out.
func (b *bound) optional(name string) *ir.Value {
	if !b.has(name) {
		return nil
	}
	return b.tensor(name)
}

// bindArgs matches a call's arguments (with the piped value first, if any) to
// specs and converts them. It reports every mistake it finds and returns
// ok=false if there was one. Poisoned arguments make it fail silently.
func (e *elab) bindArgs(callee string, specs []paramSpec, piped *value, c *syntax.Call, args []value, kw []*syntax.Ident) (*bound, bool) {
	b := &bound{vals: map[string]any{}, arg: map[string]value{}}
	ok := true
	fail := func(v value, msg, help string) {
		e.errorf(v.start, v.end, help, "%s", msg)
		ok = false
	}
	var positional []value
	if piped != nil {
		positional = append(positional, *piped)
	}
	seenKeyword := false
	for i, a := range args {
		if kw[i] != nil {
			seenKeyword = true
			continue
		}
		if seenKeyword {
			fail(a, "positional argument after keyword arguments", "write positional arguments first, then key=value ones")
			continue
		}
		positional = append(positional, a)
	}
	given := map[string]value{}
	misspelled := false
	next := 0
	for _, s := range specs {
		if next >= len(positional) {
			break
		}
		if s.kind == aTensors {
			given[s.name] = value{kind: kList, list: positional[next:], start: positional[next].start, end: positional[len(positional)-1].end}
			next = len(positional)
			break
		}
		given[s.name] = positional[next]
		next++
	}
	if next < len(positional) {
		extra := positional[next]
		fail(extra, fmt.Sprintf("too many arguments to %s", callee), "it takes "+signature(callee, specs))
	}
	for i, a := range args {
		if kw[i] == nil {
			continue
		}
		name := kw[i].Name
		spec := findSpec(specs, name)
		switch {
		case spec == nil:
			names := make([]string, len(specs))
			for j, s := range specs {
				names[j] = s.name
			}
			help := didYouMean(name, names)
			if help == "" {
				help = "it takes " + signature(callee, specs)
			}
			e.errorf(kw[i].Pos, kw[i].EndPos, help, "%s has no argument `%s`", callee, name)
			ok, misspelled = false, true
		case given[name].kind != 0:
			e.errorf(kw[i].Pos, kw[i].EndPos, "give each argument once", "argument `%s` of %s is given twice", name, callee)
			ok = false
		default:
			given[name] = a
		}
	}
	for _, s := range specs {
		v, present := given[s.name]
		if present && isNone(v) {
			// none leaves an optional tensor out, as if not given.
			if s.def == nil || (s.kind != aTensor && s.kind != aTensors) {
				fail(v, fmt.Sprintf("%s: `%s` is none, but it is required", callee, s.name), "none can only leave out an optional tensor, such as mask=")
				continue
			}
			present = false
		}
		if !present {
			if s.def == nil {
				// A misspelled keyword usually meant the missing one:
				// one error is enough.
				if !misspelled {
					e.missingArg(callee, specs, s, piped, c)
				}
				ok = false
			} else if s.def != (unset{}) {
				b.vals[s.name] = s.def
			}
			continue
		}
		if v.kind == kPoison || (v.kind == kList && anyPoison(v.list)) {
			ok = false
			continue
		}
		if s.kind == aTensor && (v.kind == kInt || v.kind == kFloat) {
			if v = e.scalar(v); v.kind == kPoison {
				ok = false
				continue
			}
		}
		b.arg[s.name] = v
		conv, msg := convert(s.kind, v)
		if msg != "" {
			help := ""
			if s.kind == aActivation && v.kind == kName {
				help = didYouMean(v.s, activationNames())
				if help == "" {
					help = "activations are " + strings.Join(activationNames(), ", ")
				}
			}
			if s.kind == aPadding && v.kind == kName && v.s == "causal" {
				help = "on (N, width, channels) use conv1d; on images pad explicitly, kernel-1 rows above: padding=[[2, 0], [1, 1]] for a 3x3 kernel"
			}
			if v.kind == kName && (s.kind == aTensor || s.kind == aTensors) {
				fail(v, "undefined name `"+v.s+"`", didYouMean(v.s, e.scope.names()))
				continue
			}
			fail(v, fmt.Sprintf("%s: `%s` %s", callee, s.name, msg), help)
			continue
		}
		b.vals[s.name] = conv
	}
	return b, ok
}

func (e *elab) missingArg(callee string, specs []paramSpec, s paramSpec, piped *value, c *syntax.Call) {
	if s.kind == aTensor || s.kind == aTensors {
		e.errorf(c.Pos, c.EndPos, "pipe a value into it (`x | "+callee+"`) or pass it first: "+signature(callee, specs),
			"%s needs an input tensor", callee)
		return
	}
	e.errorf(c.Pos, c.EndPos, "it takes "+signature(callee, specs), "%s needs argument `%s`", callee, s.name)
}

// isNone reports whether v is the name none: an optional tensor left out.
func isNone(v value) bool { return v.kind == kName && v.s == "none" }

func findSpec(specs []paramSpec, name string) *paramSpec {
	for i := range specs {
		if specs[i].name == name {
			return &specs[i]
		}
	}
	return nil
}

// convert checks v against the wanted kind and returns the Go value, or a
// message saying what was wrong.
func convert(k argKind, v value) (any, string) {
	// Written only on failure: describing a tensor's type costs more than
	// the conversion.
	want := func() string { return "must be " + argKindNames[k] + ", got " + v.describe() }
	switch k {
	case aTensor:
		if v.kind == kTensor {
			return v.t, ""
		}
	case aTensors:
		var ts []*ir.Value
		for _, it := range v.list {
			if it.kind != kTensor {
				return nil, "must be tensors, got " + it.describe()
			}
			ts = append(ts, it.t)
		}
		return ts, ""
	case aInt:
		if v.kind == kInt {
			return v.i, ""
		}
	case aFloat:
		switch v.kind {
		case kFloat:
			return v.f, ""
		case kInt:
			return float64(v.i), ""
		}
	case aBool:
		if v.kind == kName && (v.s == "true" || v.s == "false") {
			return v.s == "true", ""
		}
	case aString:
		if v.kind == kString || v.kind == kName {
			return v.s, ""
		}
	case aPair:
		if v.kind == kInt {
			return [2]int{v.i, v.i}, ""
		}
		if v.kind == kList && len(v.list) == 2 && v.list[0].kind == kInt && v.list[1].kind == kInt {
			return [2]int{v.list[0].i, v.list[1].i}, ""
		}
	case aInts:
		if v.kind == kList {
			out := make([]int, len(v.list))
			for i, it := range v.list {
				if it.kind != kInt {
					return nil, want()
				}
				out[i] = it.i
			}
			return out, ""
		}
	case aPadding:
		p, msg := convertPadding(v)
		if msg != "" {
			return nil, msg
		}
		return p, ""
	case aIndices:
		if v.kind == kTensor {
			return v.t, ""
		}
		if l, ok := indexList(v); ok {
			return l, ""
		}
	case aPadding1D:
		p, msg := convertPadding1D(v)
		if msg != "" {
			return nil, msg
		}
		return p, ""
	case aActivation:
		if v.kind == kName || v.kind == kString {
			if a, ok := nn.ParseActivation(v.s); ok {
				return a, ""
			}
			return nil, "is not a known activation: `" + v.s + "`"
		}
	}
	return nil, want()
}

// checkPositive reports a non-positive size argument.
func (e *elab) checkPositive(b *bound, callee string, names ...string) bool {
	ok := true
	for _, n := range names {
		v, set := b.vals[n]
		if !set || v == nil {
			continue
		}
		bad := false
		switch x := v.(type) {
		case int:
			bad = x < 1
		case [2]int:
			bad = x[0] < 1 || x[1] < 1
		case []int:
			bad = slices.ContainsFunc(x, func(d int) bool { return d < 1 })
		}
		if bad {
			a := b.arg[n]
			e.errorf(a.start, a.end, "sizes, strides and counts start at 1", "%s: `%s` must be positive, got %s", callee, n, a.text())
			ok = false
		}
	}
	return ok
}

func parseNumber(n *syntax.Number) (value, string) {
	text := n.Text
	if n.Neg {
		text = "-" + text
	}
	if n.IsInt() {
		var i int
		if _, err := fmt.Sscan(text, &i); err != nil || (i > math.MaxInt32 || i < math.MinInt32) {
			return value{}, "integer " + text + " is out of range"
		}
		return value{kind: kInt, i: i}, ""
	}
	var f float64
	if _, err := fmt.Sscan(text, &f); err != nil || math.IsInf(f, 0) {
		return value{}, "number " + text + " is out of range"
	}
	return value{kind: kFloat, f: f}, ""
}

// indices are constant gather positions: a list of integers, or of lists of
// the same length.
type indices struct {
	data, shape []int
}

func indexList(v value) (indices, bool) {
	if v.kind != kList || len(v.list) == 0 {
		return indices{}, false
	}
	if v.list[0].kind == kInt {
		var l indices
		for _, it := range v.list {
			if it.kind != kInt {
				return indices{}, false
			}
			l.data = append(l.data, it.i)
		}
		l.shape = []int{len(l.data)}
		return l, true
	}
	var l indices
	for _, row := range v.list {
		r, ok := indexList(row)
		if !ok || len(r.shape) != 1 || r.shape[0] != len(v.list[0].list) {
			return indices{}, false
		}
		l.data = append(l.data, r.data...)
	}
	l.shape = []int{len(v.list), len(v.list[0].list)}
	return l, true
}
