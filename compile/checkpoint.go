package compile

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/mdlc/mdlc/internal/safeio"
	"github.com/mdlc/mdlc/lang/sema"
	"github.com/mdlc/mdlc/tensor"
	"github.com/mdlc/mdlc/weights"
)

// Weight layouts Options.WeightsLayout names.
const (
	// LayoutMDLC is mdlc's own: Keras's HWIO kernels, (in, out) dense
	// kernels (`mdlc layers` gives each parameter's).
	LayoutMDLC = "mdlc"
	// LayoutTorch is PyTorch's: OIHW kernels, (out, in) linear weights,
	// transposed recurrent and attention projections; parameters may also
	// go by PyTorch's attribute names (conv1.weight for conv1.kernel,
	// bn.running_var for bn.moving_variance).
	LayoutTorch = "torch"
)

// WeightsLayouts are the layouts --weights-layout takes.
var WeightsLayouts = []string{LayoutMDLC, LayoutTorch}

// loadCheckpoint reads a weights file saved by another framework or under
// other names: every tensor is read (within the budget), renamed by
// Options.WeightsMap, taken from PyTorch's names and layouts under
// LayoutTorch, and then checked against m's parameters.
func (o *Options) loadCheckpoint(m *Model) (map[string]*tensor.Tensor, error) {
	ts, err := weights.ReadFileWithin(o.Weights, o.budget())
	if err != nil {
		return nil, err
	}
	how := []string{}
	if o.WeightsMap != "" {
		src, err := safeio.ReadFile(o.WeightsMap, safeio.MaxRenames)
		if err != nil {
			return nil, err
		}
		r, err := weights.ParseRenames(o.WeightsMap, src)
		if err != nil {
			return nil, err
		}
		if ts, err = r.Apply(ts); err != nil {
			return nil, err
		}
		how = append(how, "renamed by "+o.WeightsMap)
	}
	if o.WeightsLayout == LayoutTorch {
		if ts, err = fromTorch(m, ts); err != nil {
			return nil, fmt.Errorf("%s: %w", o.Weights, err)
		}
		how = append(how, "read in PyTorch's layout")
	}
	if err := weights.Check(m.Graph, ts); err != nil {
		help := "`mdlc layers` lists each layer's parameters and their layouts"
		if o.WeightsLayout != LayoutTorch {
			if name, n := torchNamed(m, ts); n > 0 {
				help = fmt.Sprintf("%q and %d more are PyTorch's names for parameters: add --weights-layout torch", name, n-1)
			}
		}
		return nil, fmt.Errorf("%s, %s:\n%w\nhelp: %s", o.Weights, strings.Join(how, " and "), err, help)
	}
	return ts, nil
}

// torchNamed counts the tensors named by a layer and PyTorch's attribute
// for one of its parameters, and gives the first.
func torchNamed(m *Model, ts map[string]*tensor.Tensor) (first string, n int) {
	for _, name := range slices.Sorted(maps.Keys(ts)) {
		for _, l := range m.Layers {
			suffix, ok := strings.CutPrefix(name, l.Name+".")
			if _, torch := sema.TorchParams(l.Kind)[suffix]; ok && torch {
				if n == 0 {
					first = name
				}
				n++
				break
			}
		}
	}
	return first, n
}

// fromTorch renames PyTorch's attribute names to the parameters of m's
// layers and permutes each parameter of a layer PyTorch has a module for
// from that module's layout to mdlc's. Parameters of layers PyTorch has no
// module for (separable_conv2d, positional, variable) are taken as they are.
func fromTorch(m *Model, ts map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error) {
	// Longest names first, so that a block's layer res1.conv1 is found
	// before a layer named res1 would be.
	layers := slices.Clone(m.Layers)
	slices.SortStableFunc(layers, func(a, b Layer) int { return len(b.Name) - len(a.Name) })
	params := map[string][]int{}
	for _, p := range m.Graph.Params {
		shape, err := p.Type.Shape.Bind(nil)
		if err == nil {
			params[p.Name] = shape
		}
	}
	out := make(map[string]*tensor.Tensor, len(ts))
	from := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(ts)) {
		t := ts[name]
		to, form, known := torchParam(layers, name)
		if !known {
			out[name] = t
			continue
		}
		if to == "" {
			continue
		}
		if prev, ok := from[to]; ok {
			return nil, fmt.Errorf("%q and %q are both %s", prev, name, to)
		}
		from[to] = name
		want, ok := params[to]
		if !ok || form.Perm == nil {
			out[to] = t
			continue
		}
		if t.IsInt() {
			return nil, fmt.Errorf("%q holds integers; %s is a float parameter", name, to)
		}
		torchShape := torchShape(want, form)
		if !slices.Equal(t.Shape, torchShape) {
			hint := ""
			if slices.Equal(t.Shape, want) {
				hint = "; that is mdlc's layout: was this tensor saved by mdlc rather than PyTorch?"
			}
			return nil, fmt.Errorf("%q has shape %s; for %s %s PyTorch's layout is %s%s", name, tensor.ShapeString(t.Shape), to, tensor.ShapeString(want), tensor.ShapeString(torchShape), hint)
		}
		view := t.Shape
		if form.SplitFirst {
			view = []int{want[2], want[3], t.Shape[2], t.Shape[3]}
		}
		out[to] = &tensor.Tensor{Shape: want, Data: tensor.Permute(t.Data, view, form.Perm)}
	}
	return out, nil
}

// torchParam is the parameter a tensor name stands for: the layer it names
// and, under that, PyTorch's attribute or mdlc's own suffix. known is false
// for a name of no layer PyTorch has a module for, kept as it is.
func torchParam(layers []Layer, name string) (to string, form sema.TorchForm, known bool) {
	for _, l := range layers {
		suffix, ok := strings.CutPrefix(name, l.Name+".")
		if !ok {
			continue
		}
		p, ok := sema.TorchSuffix(l.Kind, suffix)
		if !ok {
			return "", sema.TorchForm{}, false
		}
		if p.Suffix == "" {
			return "", p.Form, true
		}
		return l.Name + "." + p.Suffix, p.Form, true
	}
	return "", sema.TorchForm{}, false
}

// torchShape is the shape PyTorch stores a parameter of mdlc's shape want
// in: the inverse of the form's permutation, with a depthwise kernel's two
// channel axes as PyTorch's one (C·m, 1, kh, kw).
func torchShape(want []int, form sema.TorchForm) []int {
	s := make([]int, len(want))
	for i, p := range form.Perm {
		s[p] = want[i]
	}
	if form.SplitFirst {
		return []int{s[0] * s[1], 1, s[2], s[3]}
	}
	return s
}
