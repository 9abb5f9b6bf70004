package diag

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestRender(t *testing.T) {
	src := map[string][]byte{"m.mdl": []byte("model m(x: f32[N]) -> (y) {\n\ty = x | dense(10)\n}\n")}
	l := List{
		{Pos: Pos{"m.mdl", 2, 10}, End: Pos{"m.mdl", 2, 19}, Msg: "second", Help: "do this"},
		{Pos: Pos{"m.mdl", 1, 1}, End: Pos{"m.mdl", 1, 6}, Msg: "first", Notes: []Note{{Pos{"m.mdl", 2, 2}, "see here"}}},
		{Pos: Pos{"m.mdl", 1, 1}, End: Pos{"m.mdl", 1, 6}, Msg: "first"},
	}
	// Sorted by position, the duplicate dropped, a tab shown as four columns
	// with the caret moved to match.
	require.Equal(t, `m.mdl:1:1: error: first
  |
1 | model m(x: f32[N]) -> (y) {
  | ^^^^^
  = note: m.mdl:2:2: see here
m.mdl:2:10: error: second
  |
2 |     y = x | dense(10)
  |             ^^^^^^^^^
  = help: do this
2 errors
`, l.Render(func(f string) []byte { return src[f] }))
	require.Equal(t, "m.mdl:2:10: error: second\nm.mdl:1:1: error: first\nm.mdl:1:1: error: first", l.Error())
}

func TestRenderWithoutSource(t *testing.T) {
	d := List{{Pos: Pos{"gone.mdl", 3, 4}, Msg: "cannot read"}}
	require.Contains(t, d.Render(nil), "gone.mdl:3:4: error: cannot read\n")
}

func TestRenderEscapesControlCharacters(t *testing.T) {
	src := []byte("model m(x: f32[N]) -> (y) {\n  y = x | \x1b[2Jrelu\x00\xff\n}\n")
	l := List{{Pos: Pos{"m.mdl", 2, 11}, End: Pos{"m.mdl", 2, 19}, Msg: "unknown layer `\x1b[2Jrelu`", Help: "bell\a"}}
	require.Equal(t, "m.mdl:2:11: error: unknown layer `\\x1b[2Jrelu`\n"+
		"  |\n"+
		"2 |   y = x | \\x1b[2Jrelu\\x00\ufffd\n"+
		"  |           ^^^^^^^^^^^\n"+
		"  = help: bell\\x07\n", l.Render(func(string) []byte { return src }))
}

func TestRenderCutsLongLines(t *testing.T) {
	line := "  y = x" + strings.Repeat(" | relu", 100) + " | bad" + strings.Repeat(" | relu", 100)
	col := strings.Index(line, "bad") + 1
	l := List{{Pos: Pos{"m.mdl", 1, col}, End: Pos{"m.mdl", 1, col + 3}, Msg: "unknown layer `bad`"}}
	out := l.Render(func(string) []byte { return []byte(line) })
	lines := strings.Split(out, "\n")
	quoted, caret := lines[2], lines[3]
	require.True(t, strings.HasPrefix(quoted, "1 | …"), quoted)
	require.True(t, strings.HasSuffix(quoted, "…"), quoted)
	require.LessOrEqual(t, utf8.RuneCountInString(quoted), len("1 | ")+MaxLineWidth+2)
	// The caret is under `bad` in the cut line.
	at := strings.Index(caret, "^")
	require.Equal(t, "bad", string([]rune(quoted)[at:at+3]), "%s\n%s", quoted, caret)
	require.Equal(t, "^^^", strings.TrimSpace(caret[at:]))

	// Near the start, only the end is cut.
	l[0].Pos.Col, l[0].End.Col = 3, 4
	out = l.Render(func(string) []byte { return []byte(line) })
	require.Contains(t, out, "1 |   y = x | relu")
	require.Contains(t, out, "\n  |   ^\n")
}

func TestRenderCapsTheList(t *testing.T) {
	var l List
	for i := range 5095 {
		l = append(l, &Diagnostic{Pos: Pos{"m.mdl", i + 1, 1}, Msg: "bad"})
	}
	out := l.Render(nil)
	require.Equal(t, MaxRendered, strings.Count(out, ": error: bad"))
	require.True(t, strings.HasSuffix(out, "and 4,995 more errors\n5,095 errors\n"), out[len(out)-80:])
}

func TestWarnings(t *testing.T) {
	l := List{
		{Severity: Warning, Pos: Pos{"m.mdl", 2, 3}, Msg: "`h` is never used"},
		{Pos: Pos{"m.mdl", 1, 1}, Msg: "bad"},
	}
	require.True(t, l.HasErrors())
	require.False(t, l[:1].HasErrors())
	require.Len(t, l.Errors(), 1)
	out := l.Render(nil)
	require.Contains(t, out, "m.mdl:2:3: warning: `h` is never used\n")
	require.True(t, strings.HasSuffix(out, "1 error, 1 warning\n"), out)
	require.Equal(t, "", List{}.Render(nil))
	require.Equal(t, "1,000,000", Thousands(1000000))
	require.Equal(t, "999", Thousands(999))
}
