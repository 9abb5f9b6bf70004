package exporter

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/passes"
)

// TestEveryOpHasARule: each op is exported, or says why it cannot be.
func TestEveryOpHasARule(t *testing.T) {
	for op := ir.OpInvalid; op < ir.OpLast; op++ {
		r := rules[op]
		assert.True(t, (r.fn != nil) != (r.why != ""), "%s: a rule, or a reason it has none (not both)", op)
	}
}

// TestRefusalNamesTheLayer: an op without a rule fails naming the layer,
// the op and why.
func TestRefusalNamesTheLayer(t *testing.T) {
	g := ir.NewGraph("m")
	x := g.AddInput("x", ir.T(ir.S("N"), 4))
	y, err := g.AddNode(ir.OpDropout, &ir.DropoutAttrs{Rate: 0.5}, []*ir.Value{x}, "drop1", ir.Pos{File: "m.mdl", Line: 3, Col: 5})
	assert.NoError(t, err)
	g.AddOutput("y", y)
	_, err = Export(g, Options{})
	var ee *Error
	assert.ErrorAs(t, err, &ee)
	assert.EqualError(t, err, `m.mdl:3:5: layer "drop1": dropout cannot be exported to ONNX: `+lowered)
}

func TestPermute(t *testing.T) {
	// [2,3] transposed.
	got, dims := permute([]float32{1, 2, 3, 4, 5, 6}, []int{2, 3}, []int{1, 0})
	assert.Equal(t, []float32{1, 4, 2, 5, 3, 6}, got)
	assert.Equal(t, []int{3, 2}, dims)
	// HWIO [1,2,1,2] -> OIHW [2,1,1,2]: O outermost.
	got, dims = permute([]float32{1, 2, 3, 4}, []int{1, 2, 1, 2}, []int{3, 2, 0, 1})
	assert.Equal(t, []float32{1, 3, 2, 4}, got)
	assert.Equal(t, []int{2, 1, 1, 2}, dims)
}

// TestAfterPass: the pass export reads comes after lower (the reasons of
// dense, flatten, dropout and batchnorm rely on it) and before any fusion
// (fused ops have no rules).
func TestAfterPass(t *testing.T) {
	at := map[string]int{}
	for i, p := range passes.Pipeline {
		at[p.Name] = i
	}
	after, ok := at[AfterPass]
	assert.True(t, ok, "AfterPass %q is a pass", AfterPass)
	assert.Greater(t, after, at["lower"])
	for name, i := range at {
		if strings.HasPrefix(name, "fuse") {
			assert.Less(t, after, i, "%s runs after the graph is exported", name)
		}
	}
}
