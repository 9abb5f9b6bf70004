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

// TestNestingLimit: deep nesting is a diagnostic at the bracket that crosses
// the limit, found before the parser recurses; strings and comments do not count.
func TestNestingLimit(t *testing.T) {
	head := "# ((((\nmodel m(x: f32[N, 4]) -> (y) {\n  y = \"(((é\" | "
	levels := syntax.MaxNesting - 1 // the body's brace is the first level
	ok := head + strings.Repeat("relu(", levels) + "x" + strings.Repeat(")", levels) + "\n}\n"
	_, ds := syntax.Parse("ok.mdl", []byte(ok))
	require.NotContains(t, ds.Error(), "nesting")

	deep := head + strings.Repeat("relu(", 100_000) + "x" + strings.Repeat(")", 100_000) + "\n}\n"
	_, ds = syntax.Parse("deep.mdl", []byte(deep))
	require.Len(t, ds, 1)
	require.Equal(t, "nesting deeper than 200 levels", ds[0].Msg)
	require.Equal(t, 3, ds[0].Pos.Line)
	require.Equal(t, len([]rune("  y = \"(((é\" | "))+levels*len("relu(")+len("relu")+1, ds[0].Pos.Col)
	require.Contains(t, ds[0].Help, "pipeline")
}

// TestLongFlatPrograms: a long pipeline and a long argument list parse and
// print without deep recursion.
func TestLongFlatPrograms(t *testing.T) {
	pipeline := "model m(x: f32[N, 4]) -> (y) {\n  y = x" + strings.Repeat(" | relu", 20_000) + "\n}\n"
	out := format(t, "pipeline.mdl", []byte(pipeline))
	require.Equal(t, 20_000, strings.Count(out, "| relu"))
	args := "model m(x: f32[N, 4]) -> (y) {\n  y = concat(x" + strings.Repeat(", x", 20_000) + ")\n}\n"
	out = format(t, "args.mdl", []byte(args))
	require.Equal(t, 20_000, strings.Count(out, ", x"))
}

// TestLabels: class names after a result's type, printed canonically: on the
// declaration's line when it fits, else one result per line.
func TestLabels(t *testing.T) {
	src := "model m(x: f32[N, 2]) -> (y: f32[N, 2] labels [\"a\",\"b\\x1b\",]) {\n  y = x\n}\n"
	f, ds := syntax.Parse("l.mdl", []byte(src))
	require.Empty(t, ds)
	require.Equal(t, []string{"a", "b\x1b"}, f.Decls[0].Results[0].Labels.Names)
	require.Equal(t, "model m(x: f32[N, 2]) -> (y: f32[N, 2] labels [\"a\", \"b\\x1b\"]) {\n  y = x\n}\n", syntax.Format(f))

	long := "model cnn(image: f32[N, 32, 32, 3]) -> (probs: f32[N, 10] labels [\"airplane\", \"automobile\", \"bird\", \"cat\", \"deer\", \"dog\", \"frog\", \"horse\", \"ship\", \"truck\"], logits) {  # end\n  # first\n  probs = image\n  logits = image\n}\n"
	out := format(t, "long.mdl", []byte(long))
	require.Equal(t, "model cnn(image: f32[N, 32, 32, 3]) -> (  # end\n"+
		"  probs: f32[N, 10] labels [\"airplane\", \"automobile\", \"bird\", \"cat\", \"deer\", \"dog\", \"frog\", \"horse\", \"ship\", \"truck\"],\n"+
		"  logits,\n"+
		") {\n  # first\n  probs = image\n  logits = image\n}\n", out)
	require.Equal(t, out, format(t, "long.mdl", []byte(out)))

	// `labels` is a keyword only after a result.
	f, ds = syntax.Parse("n.mdl", []byte("model labels(labels: f32[N]) -> (labels) {\n  labels = labels\n}\n"))
	require.Empty(t, ds)
	require.Nil(t, f.Decls[0].Results[0].Labels)
}

func TestStringAndLabelErrors(t *testing.T) {
	_, ds := syntax.Parse("q.mdl", []byte("model m(x: f32[N, 2]) -> (y labels [\"\\q\", \"b\"]) {\n  y = x\n}\n"))
	require.Len(t, ds, 1)
	require.Equal(t, `syntax error: invalid escape in the string "\q"`, ds[0].Msg)
	require.Contains(t, ds[0].Help, `\x1b`)
	_, ds = syntax.Parse("q.mdl", []byte("model m(x: f32[N, 2]) -> (y labels [a]) {\n  y = x\n}\n"))
	require.Len(t, ds, 1)
	require.Contains(t, ds[0].Help, `labels ["cat", "dog", ...]`)
}

// TestFormatArithmetic: infix operations print with the parentheses their
// grouping needs and no others, and printing is idempotent.
func TestFormatArithmetic(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"x * 0.5 + y", "x * 0.5 + y"},
		{"(x * 0.5) + y", "x * 0.5 + y"},
		{"x * (0.5 + y)", "x * (0.5 + y)"},
		{"a - (b - c)", "a - (b - c)"},
		{"(a - b) - c", "a - b - c"},
		{"a / (b * c)", "a / (b * c)"},
		{"(a / b) * c", "a / b * c"},
		{"-(a * b)", "-(a * b)"},
		{"(-a) * b", "-a * b"},
		{"-(x)", "-x"},
		{"- 3", "-3"},
		{"-(-3)", "--3"},
		{"a - -b", "a - -b"},
		{"((a + b))", "a + b"},
		{"(a + b) | relu", "a + b | relu"},
		{"a + (b | relu)", "a + (b | relu)"},
		{"(x | relu) | tanh", "(x | relu) | tanh"},
		{"mul(x, (6.0))", "mul(x, 6.0)"},
		{"max(x,0)*2", "max(x, 0) * 2"},
		{"[1, -1, 2 * 3]", "[1, -1, 2 * 3]"},
	} {
		src := "model m(x: f32[N, 4]) -> (y) {\n  y = " + c.in + "\n}\n"
		want := "model m(x: f32[N, 4]) -> (y) {\n  y = " + c.want + "\n}\n"
		out := format(t, "arith.mdl", []byte(src))
		require.Equal(t, want, out, c.in)
		require.Equal(t, out, format(t, "arith.mdl", []byte(out)), c.in)
	}
}

// TestArithmeticPrecedence: products bind tighter than sums, both group to
// the left, and a negation binds tightest.
func TestArithmeticPrecedence(t *testing.T) {
	var show func(a *syntax.Arith) string
	show = func(a *syntax.Arith) string {
		if a.Term == nil {
			return "(" + show(a.L) + " " + a.Op + " " + show(a.R) + ")"
		}
		if a.Term.Neg != nil {
			return "neg"
		}
		return a.Term.Call.Name[0]
	}
	for in, want := range map[string]string{
		"a + b * c - d": "((a + (b * c)) - d)",
		"a / b / c":     "((a / b) / c)",
		"a - b + c":     "((a - b) + c)",
		"-a * b":        "(neg * b)",
		"a * b + c * d": "((a * b) + (c * d))",
	} {
		f, ds := syntax.Parse("p.mdl", []byte("model m(a: f32[4]) -> (y) {\n  y = "+in+"\n}\n"))
		require.Empty(t, ds)
		require.Equal(t, want, show(f.Decls[0].Body[0].Value.Tree()), in)
	}
}

// TestNegationLimit: a run of minus signs nests the parser as brackets do,
// so it counts towards MaxNesting; a long flat sum does not.
func TestNegationLimit(t *testing.T) {
	head := "model m(x: f32[N, 4]) -> (y) {\n  y = "
	_, ds := syntax.Parse("ok.mdl", []byte(head+strings.Repeat("- ", syntax.MaxNesting-1)+"x\n}\n"))
	require.Empty(t, ds)
	_, ds = syntax.Parse("deep.mdl", []byte(head+strings.Repeat("-", 1_000_000)+"x\n}\n"))
	require.Len(t, ds, 1)
	require.Contains(t, ds[0].Msg, "levels of negation and nesting")

	sum := head + "x" + strings.Repeat(" - -x * 2", 20_000) + "\n}\n"
	require.Equal(t, sum, format(t, "sum.mdl", []byte(sum)))
}

// TestTrainBlock: a train block prints one setting per line, in its place
// among the statements, and `train` remains a name elsewhere.
func TestTrainBlock(t *testing.T) {
	src := "model m(x: f32[N, 2]) -> (y) {\n  train = x\n  train { epochs = 6  optimizer = adam(lr=0.001) }  # end\n  y = train\n}\n"
	f, ds := syntax.Parse("t.mdl", []byte(src))
	require.Empty(t, ds)
	d := f.Decls[0]
	require.Len(t, d.Train, 1)
	require.Len(t, d.Body, 2)
	require.Equal(t, "epochs", d.Train[0].Settings[0].Key.Name)
	want := "model m(x: f32[N, 2]) -> (y) {\n  train = x\n  train {\n    epochs = 6\n    optimizer = adam(lr=0.001)\n  }  # end\n  y = train\n}\n"
	require.Equal(t, want, syntax.Format(f))
	require.Equal(t, want, format(t, "t.mdl", []byte(want)))
}
