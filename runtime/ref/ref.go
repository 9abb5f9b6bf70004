// Package ref is the reference runtime: the oracle that every optimised kernel
// and graph pass is tested against. Each op is a plain loop written to be
// obviously correct rather than fast; kernels[op] holds it.
//
// Layouts: images are NHWC; conv2d kernels are HWIO [kh, kw, cin/groups, cout];
// dense kernels are [in, out] applied over the last axis.
//
// Token ids (i32, i64 inputs) arrive as integer tensors and are checked
// against the vocabulary of the embeddings reading them before anything runs.
//
// Numerics: every computed tensor is f32. Sums (conv2d, dense, matmul, pools,
// softmax) are accumulated in float64 and rounded to float32 once. A product of
// two float32s is exact in float64, so the only errors are the float64
// additions' (negligible next to float32's) and the final rounding: fast kernels
// that sum in float32, in any order, should be compared with a relative
// tolerance (tensor.MaxRelErr). Elementwise functions (exp, erf, tanh,
// batchnorm) are also evaluated in float64.
//
// The IR refuses explicit pool pads as wide as the window, but same padding
// with a dilation can still leave a window wholly in the padding (a 2x2
// window of dilation 2 on a 1x1 image): maxpool2d gives -Inf there,
// avgpool2d NaN (0/0), or 0 with count_pad.
//
// Gather's indices are values, so they are checked when the graph runs
// (checks): an index out of range is an error, not a panic.
package ref

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mdlc/mdlc/internal/ids"
	"github.com/mdlc/mdlc/internal/size"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/tensor"
)

// Run is RunWithin the default memory budget (size.Default).
func Run(g *ir.Graph, params map[string]*tensor.Tensor, inputs map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error) {
	return RunWithin(g, params, inputs, size.Default())
}

// RunWithin executes g on inputs by name, with params (weights) by name;
// returns outputs by name. params may hold weights the graph does not use.
// The results never alias inputs or params. The interpreter keeps every
// intermediate value until it returns, so they, the weights and the inputs
// (ir.Graph.CheckBudget) must fit budget together before the first node runs.
func RunWithin(g *ir.Graph, params map[string]*tensor.Tensor, inputs map[string]*tensor.Tensor, budget size.Budget) (map[string]*tensor.Tensor, error) {
	// Kernels index by the result types, so they are only safe on a graph whose
	// types are what its ops infer.
	if err := ir.Verify(g); err != nil {
		return nil, fmt.Errorf("graph %s does not verify: %w", g.Name, err)
	}
	env, err := Bind(g, inputs)
	if err != nil {
		return nil, err
	}
	if err := g.CheckBound(env); err != nil {
		return nil, err
	}
	if err := g.CheckBudget(env, budget); err != nil {
		return nil, err
	}
	vals := map[*ir.Value]*tensor.Tensor{}
	for _, v := range g.Inputs {
		vals[v] = inputs[v.Name]
	}
	for _, p := range g.Params {
		t, err := checkParam(p, params[p.Name], env)
		if err != nil {
			return nil, err
		}
		vals[p] = t
	}
	for _, c := range g.Consts {
		shape, _ := c.Type.Shape.Bind(nil)
		vals[c] = &tensor.Tensor{Shape: shape, Data: c.Data}
	}
	for _, n := range g.Nodes {
		out := n.Outputs[0]
		shape, err := out.Type.Shape.Bind(env)
		if err != nil {
			return nil, fmt.Errorf("%s (layer %q): result %s: %w", n.Op, n.Layer, out.Type, err)
		}
		in := make([]*tensor.Tensor, len(n.Inputs))
		for i, v := range n.Inputs {
			in[i] = vals[v]
		}
		if check := checks[n.Op]; check != nil {
			if err := check(n, in); err != nil {
				return nil, err
			}
		}
		t := tensor.New(shape...)
		kernels[n.Op](n, in, t)
		vals[out] = t
	}
	res := make(map[string]*tensor.Tensor, len(g.Outputs))
	for _, o := range g.Outputs {
		t := vals[o.Value]
		if o.Value.Kind != ir.Result {
			t = &tensor.Tensor{Shape: slices.Clone(t.Shape), Data: slices.Clone(t.Data)}
		}
		res[o.Name] = t
	}
	return res, nil
}

// Bind checks the fed inputs against the graph's input types and binds symbolic
// dims (N, T, ...). Every input must be fed, and nothing else.
func Bind(g *ir.Graph, inputs map[string]*tensor.Tensor) (map[string]int, error) {
	env := map[string]int{}
	boundBy := map[string]string{} // symbol -> the input that bound it first
	for _, v := range g.Inputs {
		t, ok := inputs[v.Name]
		if !ok || t == nil {
			return nil, fmt.Errorf("missing input %q: the model takes %s", v.Name, v.Type)
		}
		what := fmt.Sprintf("input %q", v.Name)
		if err := checkShape(what, v.Type, t); err != nil {
			return nil, err
		}
		for i, d := range v.Type.Shape {
			if d.Known() {
				continue
			}
			got := t.Shape[i]
			if got < 1 {
				return nil, fmt.Errorf("%s: dimension %s must be at least 1, got %d in %s", what, d.Sym, got, tensor.ShapeString(t.Shape))
			}
			if prev, ok := env[d.Sym]; ok && prev != got {
				return nil, fmt.Errorf("%s: dimension %s is %d in %s, but input %q bound it to %d",
					what, d.Sym, got, tensor.ShapeString(t.Shape), boundBy[d.Sym], prev)
			}
			if _, ok := env[d.Sym]; !ok {
				env[d.Sym], boundBy[d.Sym] = got, v.Name
			}
		}
		if err := checkData(what, t); err != nil {
			return nil, err
		}
		if t.IsInt() {
			if err := CheckIDs(g, v, t.Ints, t.Shape); err != nil {
				return nil, err
			}
		}
	}
	var extra []string
	for name := range inputs {
		if !slices.ContainsFunc(g.Inputs, func(v *ir.Value) bool { return v.Name == name }) {
			extra = append(extra, fmt.Sprintf("%q", name))
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		want := make([]string, len(g.Inputs))
		for i, v := range g.Inputs {
			want[i] = fmt.Sprintf("%s: %s", v.Name, v.Type)
		}
		return nil, fmt.Errorf("unknown input %s: the model takes (%s)", strings.Join(extra, ", "), strings.Join(want, ", "))
	}
	return env, nil
}

// checkShape checks t's element type, rank and known dims against typ; symbolic
// dims are the caller's to check.
func checkShape(what string, typ ir.Type, t *tensor.Tensor) error {
	if err := CheckKind(what, typ, t); err != nil {
		return err
	}
	mismatch := len(t.Shape) != typ.Shape.Rank()
	for i := 0; !mismatch && i < len(t.Shape); i++ {
		d := typ.Shape[i]
		mismatch = d.Known() && d.Size != t.Shape[i]
	}
	if mismatch {
		return fmt.Errorf("%s: the model takes %s, got %s", what, typ, tensor.ShapeString(t.Shape))
	}
	return nil
}

// CheckKind checks that t holds integers exactly when typ is token ids.
func CheckKind(what string, typ ir.Type, t *tensor.Tensor) error {
	switch ids := typ.DType != ir.F32; {
	case ids && !t.IsInt():
		return fmt.Errorf("%s is token ids (%s), got floats: feed integer ids (an .npy of int32 or int64)", what, typ)
	case !ids && t.IsInt():
		return fmt.Errorf("%s is %s, got integers", what, typ)
	}
	return nil
}

// checkData checks that t's data fills its shape exactly.
func checkData(what string, t *tensor.Tensor) error {
	n, ok := size.Numel(t.Shape)
	if !ok {
		return fmt.Errorf("%s: shape %s has more elements than 64-bit arithmetic counts", what, tensor.ShapeString(t.Shape))
	}
	if int64(t.Len()) != n {
		return fmt.Errorf("%s: shape %s has %d elements, but the data has %d", what, tensor.ShapeString(t.Shape), n, t.Len())
	}
	return nil
}

// CheckIDs checks that the token ids fed as input v are ones its embeddings
// can look up: ids.Range(g.TokenLimit(v)), as the compiled runtime
// checks them.
func CheckIDs(g *ir.Graph, v *ir.Value, values []int64, shape []int) error {
	lo, hi := ids.Range(g.TokenLimit(v))
	for i, id := range values {
		if id < lo || id > hi {
			return fmt.Errorf("input %q: token id %d at %s is outside the vocabulary: ids of %s must be in %d..%d",
				v.Name, id, tensor.IndexString(i, shape), v.Type, lo, hi)
		}
	}
	return nil
}

// checkParam checks a weight against its declared type, with symbols bound.
func checkParam(p *ir.Value, t *tensor.Tensor, env map[string]int) (*tensor.Tensor, error) {
	what := fmt.Sprintf("param %q", p.Name)
	if t == nil {
		return nil, fmt.Errorf("missing %s: the model takes %s", what, p.Type)
	}
	shape, err := p.Type.Shape.Bind(env)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, p.Type, err)
	}
	if err := checkShape(what, p.Type, t); err != nil {
		return nil, err
	}
	if !slices.Equal(shape, t.Shape) {
		return nil, fmt.Errorf("%s: the model takes %s = %s here, got %s", what, p.Type, tensor.ShapeString(shape), tensor.ShapeString(t.Shape))
	}
	if err := checkData(what, t); err != nil {
		return nil, err
	}
	return t, nil
}

// Eval computes one node from operand tensors whose shapes are concrete, for
// constant folding. The node's result type must be fully known.
func Eval(n *ir.Node, in []*tensor.Tensor) (*tensor.Tensor, error) {
	shape, err := n.Outputs[0].Type.Shape.Bind(nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", n.Op, err)
	}
	if err := size.Default().CheckShape(fmt.Sprintf("the folded result of %s (layer %q)", n.Op, n.Layer), shape, 4); err != nil {
		return nil, err
	}
	if !n.Op.Valid() || kernels[n.Op] == nil {
		return nil, fmt.Errorf("no reference kernel for op %d", n.Op)
	}
	if check := checks[n.Op]; check != nil {
		if err := check(n, in); err != nil {
			return nil, err
		}
	}
	out := tensor.New(shape...)
	kernels[n.Op](n, in, out)
	return out, nil
}
