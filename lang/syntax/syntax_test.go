package syntax_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/internal/golden"
	"github.com/mdlc/mdlc/lang/syntax"
)

func TestGrammarEBNF(t *testing.T) {
	golden.Check(t, "../../testdata/grammar.ebnf.golden", syntax.Grammar()+"\n")
}

func format(t *testing.T, name string, src []byte) string {
	t.Helper()
	f, ds := syntax.Parse(name, src)
	require.Empty(t, ds, "%s: %v", name, ds)
	return syntax.Format(f)
}

// TestStdlibIsCanonical: the stdlib files are their own golden files, so
// `mdlc fmt` leaves every one of them unchanged.
func TestStdlibIsCanonical(t *testing.T) {
	files, err := filepath.Glob("../../stdlib/*.mdl")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		require.Equal(t, string(src), format(t, f, src), "%s is not in canonical form; run mdlc fmt -w", f)
	}
}

// TestFormatGolden prints every valid testdata program in canonical form and
// checks that formatting the result again changes nothing.
func TestFormatGolden(t *testing.T) {
	files, err := filepath.Glob("../../testdata/*/*.mdl")
	require.NoError(t, err)
	n := 0
	for _, f := range files {
		if strings.Contains(f, "/diag/") {
			continue
		}
		n++
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		out := format(t, f, src)
		require.Equal(t, out, format(t, f, []byte(out)), "formatting %s is not idempotent", f)
		golden.Check(t, filepath.Join("../../testdata/fmt", strings.ReplaceAll(strings.TrimPrefix(f, "../../testdata/"), "/", "_")+".golden"), out)
	}
	require.NotZero(t, n)
}

// TestFormatKeepsComments: every comment of the input survives formatting.
func TestFormatKeepsComments(t *testing.T) {
	src, err := os.ReadFile("../../testdata/fmt/messy.mdl")
	require.NoError(t, err)
	out := format(t, "messy.mdl", src)
	for _, line := range strings.Split(string(src), "\n") {
		if i := strings.Index(line, "#"); i >= 0 {
			require.Contains(t, out, strings.TrimSpace(line[i:]))
		}
	}
}

func TestParseErrorPosition(t *testing.T) {
	_, ds := syntax.Parse("x.mdl", []byte("model m(x: f32[N]) -> (y) {\n  y = x |\n}\n"))
	require.Len(t, ds, 1)
	require.Equal(t, 2, ds[0].Pos.Line)
	require.Equal(t, 9, ds[0].Pos.Col)
	require.Contains(t, ds[0].Msg, "`|` must be followed by a layer")
}
