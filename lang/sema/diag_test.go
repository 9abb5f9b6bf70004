package sema_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/internal/golden"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/lang/sema"
	"github.com/mdlc/mdlc/stdlib"
)

var loader = &sema.Loader{Std: stdlib.FS}

// check loads and checks a file as `mdlc check` does, returning the rendered
// diagnostics.
func check(t *testing.T, path string) string {
	t.Helper()
	p, ds := loader.Load(path)
	if len(ds) == 0 {
		ds = p.Check()
	}
	return ds.Render(p.Source)
}

// TestDiagnostics checks every malformed program in testdata/diag against its
// golden rendering. Each must give at least one error or warning in the
// file:line:col: error: form, with a quoted line and a caret.
func TestDiagnostics(t *testing.T) {
	t.Chdir("../..")
	files, err := filepath.Glob("testdata/diag/*.mdl")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 12)
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".mdl")
		t.Run(name, func(t *testing.T) {
			out := check(t, f)
			require.NotEmpty(t, out, "a malformed program must be diagnosed")
			require.Regexp(t, `^\S+\.mdl:\d+:\d+: (error|warning): `, out)
			require.Contains(t, out, "^")
			golden.Check(t, strings.TrimSuffix(f, ".mdl")+".golden", out)
		})
	}
}

// TestStdlibChecks makes sure every embedded program is free of errors.
func TestStdlibChecks(t *testing.T) {
	entries, err := os.ReadDir("../../stdlib")
	require.NoError(t, err)
	n := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".mdl") {
			n++
			require.Empty(t, check(t, "../../stdlib/"+e.Name()), e.Name())
		}
	}
	require.GreaterOrEqual(t, n, 5)
}

// TestProgramsIR prints the IR of every model of the valid programs in
// testdata/programs.
func TestProgramsIR(t *testing.T) {
	t.Chdir("../..")
	files, err := filepath.Glob("testdata/programs/*.mdl")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		p, ds := loader.Load(f)
		require.Empty(t, ds.Render(p.Source))
		var out strings.Builder
		for _, name := range p.Models() {
			m, ds := p.Build(name)
			require.Empty(t, ds.Render(p.Source))
			out.WriteString(ir.Print(m.Graph))
		}
		golden.Check(t, strings.TrimSuffix(f, ".mdl")+".ir.golden", out.String())
	}
}

// TestManyErrorsAreCapped: a program with 5,000 mistakes prints the first
// 100 in full and counts the rest.
func TestManyErrorsAreCapped(t *testing.T) {
	var b strings.Builder
	b.WriteString("model m(x: f32[N, 4]) -> (y) {\n")
	for i := range 5000 {
		fmt.Fprintf(&b, "  y%d = x | nope\n", i)
	}
	b.WriteString("  y = x\n}\n")
	p, ds := loader.LoadSource("many.mdl", []byte(b.String()))
	require.Empty(t, ds)
	out := p.Check().Render(p.Source)
	require.Equal(t, 100, strings.Count(out, ": error: unknown layer `nope`"))
	require.NotContains(t, out, "warning")
	require.True(t, strings.HasSuffix(out, "\nand 4,900 more errors\n5,000 errors\n"), out[len(out)-200:])
}
