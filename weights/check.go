package weights

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/mdlc/mdlc/internal/suggest"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/tensor"
)

// Check reports whether ts holds exactly g's parameters, each with its shape.
// All problems are reported, one line each, in parameter order and then
// extra names in sorted order.
func Check(g *ir.Graph, ts map[string]*tensor.Tensor) error {
	return check(g, ts, "weights")
}

// Load reads a safetensors file and checks it against g; errors start with
// the path.
func Load(path string, g *ir.Graph) (map[string]*tensor.Tensor, error) {
	ts, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := check(g, ts, path); err != nil {
		return nil, err
	}
	return ts, nil
}

// check prefixes each line with where the weights came from.
func check(g *ir.Graph, ts map[string]*tensor.Tensor, prefix string) error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", prefix, fmt.Sprintf(format, args...)))
	}
	var missing []string
	for _, p := range g.Params {
		want, err := p.Type.Shape.Bind(nil)
		t, ok := ts[p.Name]
		switch {
		case err != nil:
			fail("parameter %q of the model has shape %s: %v", p.Name, p.Type.Shape, err)
		case !ok:
			fail("missing %q (%s)", p.Name, p.Type)
			missing = append(missing, p.Name)
		case t == nil:
			fail("%q is nil", p.Name)
		case !slices.Equal(t.Shape, want):
			fail("%q has shape %s, the model expects %s", p.Name, tensor.ShapeString(t.Shape), tensor.ShapeString(want))
		case len(t.Data) != tensor.Numel(want):
			fail("%q has %d values, its shape %s needs %d", p.Name, len(t.Data), tensor.ShapeString(want), tensor.Numel(want))
		}
	}
	params := make(map[string]bool, len(g.Params))
	for _, p := range g.Params {
		params[p.Name] = true
	}
	for _, name := range slices.Sorted(maps.Keys(ts)) {
		if params[name] {
			continue
		}
		// A misspelt name most likely stands for a parameter that is missing.
		if s := suggest.Closest(name, missing); s != "" {
			fail("%q is not a parameter of model %s; did you mean %q?", name, g.Name, s)
		} else {
			fail("%q is not a parameter of model %s", name, g.Name)
		}
	}
	return errors.Join(errs...)
}
