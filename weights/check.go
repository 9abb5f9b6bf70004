package weights

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/mdlc/mdlc/internal/size"
	"github.com/mdlc/mdlc/internal/suggest"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/tensor"
)

// maxMismatches caps the lines of a mismatch report: a file of another model
// could otherwise print one line per tensor of both.
const maxMismatches = 20

// Check reports whether ts holds exactly g's parameters, each with its shape.
// Problems are reported one line each, in parameter order and then extra
// names in sorted order, the first 20 of them.
func Check(g *ir.Graph, ts map[string]*tensor.Tensor) error {
	return check(g, ts, "weights", true)
}

// Load is LoadWithin the default memory budget (size.Default).
func Load(path string, g *ir.Graph) (map[string]*tensor.Tensor, error) {
	return LoadWithin(path, g, size.Default())
}

// LoadWithin reads a safetensors file of g's weights. The header's names and
// shapes are checked against g's parameters, and the tensors' total against
// budget, before any tensor is decoded; errors start with the path.
func LoadWithin(path string, g *ir.Graph, budget size.Budget) (map[string]*tensor.Tensor, error) {
	ts, _, err := readFile(path, readOptions{budget: budget, model: g})
	return ts, err
}

// check prefixes each line with where the weights came from. withData also
// checks that each tensor's data fills its shape; a header has shapes only.
func check(g *ir.Graph, ts map[string]*tensor.Tensor, prefix string, withData bool) error {
	var lines []string
	fail := func(format string, args ...any) {
		lines = append(lines, fmt.Sprintf("%s: %s", prefix, fmt.Sprintf(format, args...)))
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
			fail("%q has shape %s, the model expects %s%s", p.Name, tensor.ShapeString(t.Shape), tensor.ShapeString(want), oldDepthwise(t.Shape, want))
		case withData && len(t.Data) != tensor.Numel(want):
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
	if len(lines) == 0 {
		return nil
	}
	if n := len(lines) - maxMismatches; n > 0 {
		lines = append(lines[:maxMismatches], fmt.Sprintf("%s: and %d more", prefix, n))
	}
	return &mismatchError{lines}
}

// oldDepthwise explains a depthwise kernel saved in the layout mdlc used
// before Keras's: (kh, kw, 1, channels·multiplier) holds the same values.
func oldDepthwise(got, want []int) string {
	if len(got) == 4 && len(want) == 4 && got[0] == want[0] && got[1] == want[1] && got[2] == 1 && want[2] > 1 && got[3] == want[2]*want[3] {
		return "; depthwise kernels are (kh, kw, channels, multiplier) as Keras stores them, the same values as (kh, kw, 1, channels·multiplier): reshape it"
	}
	return ""
}

// mismatchError lists how weights differ from a model, one line each.
type mismatchError struct{ lines []string }

func (e *mismatchError) Error() string { return strings.Join(e.lines, "\n") }
