package sema_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/lang/sema"
	"github.com/mdlc/mdlc/stdlib"
)

// exponential is a program whose model expands to 2^depth relu layers.
func exponential(depth int) string {
	var b strings.Builder
	b.WriteString("block b0(x) -> (y) {\n  y = x | relu\n}\n")
	for i := 1; i <= depth; i++ {
		fmt.Fprintf(&b, "block b%d(x) -> (y) {\n  y = x | b%d | b%d\n}\n", i, i-1, i-1)
	}
	fmt.Fprintf(&b, "model m(x: f32[N, 4]) -> (y) {\n  y = x | b%d\n}\n", depth)
	return b.String()
}

// TestNodeBudget: expansion stops at the budget with one diagnostic that
// names the chain of calls, innermost first.
func TestNodeBudget(t *testing.T) {
	p, ds := loader.LoadSource("exp.mdl", []byte(exponential(40)))
	require.Empty(t, ds)
	_, ds = p.Build("m")
	require.Len(t, ds, 1)
	d := ds[0]
	require.Equal(t, "expanding this model creates more than 100,000 nodes", d.Msg)
	require.Equal(t, 3*41+1, d.Pos.Line)
	// At most 41 calls deep, from m to b40 to b0: all shown.
	require.LessOrEqual(t, len(d.Notes), 41)
	require.Regexp(t, "^in block `b[0-9]+` called from block `b[0-9]+`$", d.Notes[0].Msg)
	require.Equal(t, "in block `b40` called from model `m`", d.Notes[len(d.Notes)-1].Msg)

	// A longer chain keeps both ends.
	p, _ = loader.LoadSource("exp.mdl", []byte(exponential(80)))
	_, ds = p.Build("m")
	require.Len(t, ds, 1)
	notes := ds[0].Notes
	require.Len(t, notes, 51)
	require.Regexp(t, "^… [0-9]+ more calls$", notes[25].Msg)
	require.Equal(t, "in block `b80` called from model `m`", notes[50].Msg)

	// The budget is the loader's to set and counts nodes and block instances:
	// 32 relu and 63 instances fit in 100.
	small := &sema.Loader{Std: stdlib.FS, MaxNodes: 100}
	p, _ = small.LoadSource("exp.mdl", []byte(exponential(5)))
	m, ds := p.Build("m")
	require.Empty(t, ds)
	require.Len(t, m.Graph.Nodes, 32)
	p, _ = small.LoadSource("exp.mdl", []byte(exponential(6)))
	_, ds = p.Build("m")
	require.Len(t, ds, 1)
	require.Contains(t, ds[0].Msg, "more than 100 nodes")
	require.Equal(t, "in block `b6` called from model `m`", ds[0].Notes[len(ds[0].Notes)-1].Msg)
}

// TestNodeBudgetPerFile: Check shares one budget between the models of a
// file, and stops at the first that passes it.
func TestNodeBudgetPerFile(t *testing.T) {
	src := exponential(14) // 2^14 relu and 2^15-1 instances: about half the budget
	for i := range 100 {
		src += fmt.Sprintf("model m%d(x: f32[N, 4]) -> (y) {\n  y = x | b14\n}\n", i)
	}
	p, ds := loader.LoadSource("many.mdl", []byte(src))
	require.Empty(t, ds)
	m, ds := p.Build("m99")
	require.Empty(t, ds, "one model alone fits")
	require.Len(t, m.Graph.Nodes, 1<<14)
	ds = p.Check()
	require.Len(t, ds, 1, ds.Error())
	require.Equal(t, "expanding the models of this file up to this one creates more than 100,000 nodes", ds[0].Msg)
	// m and m0 fit, m1 passes the budget.
	require.Contains(t, ds[0].Notes[len(ds[0].Notes)-1].Msg, "called from model `m1`")
}
