package diag

import (
	"testing"

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
