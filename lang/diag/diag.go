// Package diag formats compiler diagnostics as Go, Rust and Elm compilers do:
// a `file:line:col: error: message` first line that tools can parse, then the
// source line as written, a caret under the span, and a help line.
package diag

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mdlc/mdlc/internal/numfmt"
)

// Pos is a 1-based source position.
type Pos struct {
	File      string
	Line, Col int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// Severity tells an error, which fails a check, from a warning, which does not.
type Severity uint8

const (
	Error Severity = iota // the zero value, so a Diagnostic is an error unless marked
	Warning
)

func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// Diagnostic is one error or warning, with the span it is about and advice.
type Diagnostic struct {
	Severity Severity
	Pos, End Pos // End is exclusive; on Pos's line when the span fits one line
	Msg      string
	Help     string
	// Notes point at related places, e.g. the call that instantiated a block.
	Notes []Note
}

// Note is a secondary position with a message.
type Note struct {
	Pos Pos
	Msg string
}

func (d *Diagnostic) Error() string {
	return Escape(d.Pos.String() + ": " + d.Severity.String() + ": " + d.Msg)
}

// List is a set of diagnostics; as an error it reports all of them.
type List []*Diagnostic

func (l List) Error() string {
	lines := make([]string, len(l))
	for i, d := range l {
		lines[i] = d.Error()
	}
	return strings.Join(lines, "\n")
}

// HasErrors reports whether any diagnostic is an error, not only warnings.
func (l List) HasErrors() bool {
	for _, d := range l {
		if d.Severity == Error {
			return true
		}
	}
	return false
}

// Errors returns the errors of l, without its warnings.
func (l List) Errors() List {
	var out List
	for _, d := range l {
		if d.Severity == Error {
			out = append(out, d)
		}
	}
	return out
}

// Sorted orders by file and position, dropping exact duplicates (a block
// instantiated twice reports the same mistake once).
func (l List) Sorted() List {
	out := append(List(nil), l...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Pos, out[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	dedup := out[:0]
	for i, d := range out {
		if i > 0 && d.Pos == out[i-1].Pos && d.Msg == out[i-1].Msg {
			continue
		}
		dedup = append(dedup, d)
	}
	return dedup
}

// Source gives the text of a file by name, for quoting lines.
type Source func(file string) []byte

// MaxRendered is how many diagnostics Render prints in full; past it, one
// line counts the rest, since nobody reads the 5,000th error of a file.
const MaxRendered = 100

// Render writes the diagnostics in full, quoting the source, then a count
// when there are several.
func (l List) Render(src Source) string {
	var b strings.Builder
	sorted := l.Sorted()
	shown := sorted[:min(len(sorted), MaxRendered)]
	for _, d := range shown {
		d.render(&b, src)
	}
	if rest := sorted[len(shown):]; len(rest) > 0 {
		what := "diagnostics"
		if !rest.hasWarnings() {
			what = "errors"
		}
		fmt.Fprintf(&b, "and %s more %s\n", Thousands(len(rest)), what)
	}
	if len(sorted) > 1 {
		b.WriteString(sorted.count() + "\n")
	}
	return b.String()
}

func (l List) hasWarnings() bool {
	for _, d := range l {
		if d.Severity == Warning {
			return true
		}
	}
	return false
}

// count says how many errors and warnings l holds: "3 errors, 1 warning".
func (l List) count() string {
	var errs, warns int
	for _, d := range l {
		if d.Severity == Warning {
			warns++
		} else {
			errs++
		}
	}
	var parts []string
	if errs > 0 {
		parts = append(parts, plural(errs, "error"))
	}
	if warns > 0 {
		parts = append(parts, plural(warns, "warning"))
	}
	return strings.Join(parts, ", ")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return Thousands(n) + " " + what + "s"
}

// Thousands writes n with commas between groups of three digits: 4,995.
func Thousands(n int) string { return numfmt.Commas(int64(n)) }

// MaxMessage is how many runes of a message are printed: a message can quote
// a value from the source, such as a list of 100,000 sizes.
const MaxMessage = 1000

func (d *Diagnostic) render(b *strings.Builder, src Source) {
	fmt.Fprintf(b, "%s: %s: %s\n", Escape(d.Pos.String()), d.Severity, Escape(d.Msg))
	line := sourceLine(src, d.Pos)
	gutter := len(fmt.Sprint(d.Pos.Line))
	pad := strings.Repeat(" ", gutter)
	if line != "" || d.Pos.Line > 0 {
		text, caret, width := excerpt(line, d.Pos.Col, d.end(line))
		fmt.Fprintf(b, "%s |\n", pad)
		fmt.Fprintf(b, "%d | %s\n", d.Pos.Line, text)
		fmt.Fprintf(b, "%s | %s%s\n", pad, strings.Repeat(" ", caret), strings.Repeat("^", width))
	}
	for _, n := range d.Notes {
		fmt.Fprintf(b, "%s = note: %s: %s\n", pad, Escape(n.Pos.String()), Escape(n.Msg))
	}
	if d.Help != "" {
		fmt.Fprintf(b, "%s = help: %s\n", pad, Escape(d.Help))
	}
}

// end is the exclusive byte column where the caret stops, within line.
func (d *Diagnostic) end(line string) int {
	end := d.End.Col
	if d.End.Line != d.Pos.Line || end <= d.Pos.Col {
		end = d.Pos.Col + 1
	}
	return min(end, len(line)+1)
}

func sourceLine(src Source, p Pos) string {
	if src == nil || p.Line < 1 {
		return ""
	}
	text := src(p.File)
	for i := 1; i < p.Line; i++ {
		nl := bytes.IndexByte(text, '\n')
		if nl < 0 {
			return ""
		}
		text = text[nl+1:]
	}
	if nl := bytes.IndexByte(text, '\n'); nl >= 0 {
		text = text[:nl]
	}
	return strings.TrimRight(string(text), "\r")
}

// MaxLineWidth is how many display columns of a source line are quoted; a
// longer line is cut around the caret, with … where text was left out.
const MaxLineWidth = 120

// excerpt renders the part of line to quote, escaped and with tabs expanded,
// and where the caret goes in it: its display offset and width. from and to
// are 1-based columns counted in runes, as the lexer counts them; to is
// exclusive.
func excerpt(line string, from, to int) (text string, caret, width int) {
	runes := []rune(line)
	from, to = from-1, max(to-1, from)
	// Only runes near the caret can be shown, and each takes a column at least.
	lo := max(0, min(from, len(runes))-MaxLineWidth)
	hi := min(len(runes), to+MaxLineWidth)
	cells := make([]string, 0, hi-lo)
	starts := make([]int, 0, hi-lo) // display column of each cell
	col, caretEnd := 0, -1
	caret = -1
	for i := lo; i < hi; i++ {
		if i == from {
			caret = col
		}
		if i == to {
			caretEnd = col
		}
		c := cell(runes[i])
		cells = append(cells, c)
		starts = append(starts, col)
		col += utf8.RuneCountInString(c)
	}
	// A caret past the end of the line, at a missing token.
	if caret < 0 {
		caret = col + max(from-hi, 0)
	}
	if caretEnd < 0 {
		caretEnd = col + max(to-hi, 0)
	}
	width = max(caretEnd-caret, 1)
	if lo == 0 && hi == len(runes) && col <= MaxLineWidth {
		return strings.Join(cells, ""), caret, width
	}
	// Keep MaxLineWidth columns, starting a third of them before the caret.
	start := max(0, min(caret-MaxLineWidth/3, col-MaxLineWidth))
	end := start + MaxLineWidth
	var b strings.Builder
	shift := -1
	if lo > 0 || start > 0 {
		b.WriteString("…")
	}
	for i, c := range cells {
		if starts[i] >= start && starts[i]+utf8.RuneCountInString(c) <= end {
			if shift < 0 {
				shift = starts[i] // where the quoted text starts
				if b.Len() > 0 {
					shift-- // the …
				}
			}
			b.WriteString(c)
		}
	}
	if hi < len(runes) || end < col {
		b.WriteString("…")
	}
	caret -= shift
	return b.String(), caret, max(min(width, MaxLineWidth-caret+1), 1)
}

// cell is how one rune of source is shown: tabs as four spaces, control
// characters escaped so that a quoted line cannot move the cursor, clear the
// screen or hide text.
func cell(r rune) string {
	switch {
	case r == '\t':
		return "    "
	case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
		return escapeRune(r)
	}
	return string(r)
}

func escapeRune(r rune) string {
	if r < 0x100 {
		return fmt.Sprintf(`\x%02x`, r)
	}
	return fmt.Sprintf(`\u%04x`, r)
}

// Escape shows the control characters of s (ANSI escapes, carriage returns,
// bidirectional overrides) as Go escapes, for messages that quote names or
// strings from the source, and cuts it after MaxMessage runes.
func Escape(s string) string {
	if utf8.RuneCountInString(s) > MaxMessage {
		s = string([]rune(s)[:MaxMessage]) + "…"
	}
	clean := true
	for _, r := range s {
		if r != '\t' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r)) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r != '\t' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r)) {
			b.WriteString(escapeRune(r))
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}
