// Package diag formats compiler diagnostics as Go, Rust and Elm compilers do:
// a `file:line:col: error: message` first line that tools can parse, then the
// source line as written, a caret under the span, and a help line.
package diag

import (
	"fmt"
	"sort"
	"strings"
)

// Pos is a 1-based source position.
type Pos struct {
	File      string
	Line, Col int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// Diagnostic is one error, with the span it is about and advice.
type Diagnostic struct {
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

func (d *Diagnostic) Error() string { return d.Pos.String() + ": error: " + d.Msg }

// List is a set of diagnostics; as an error it reports all of them.
type List []*Diagnostic

func (l List) Error() string {
	lines := make([]string, len(l))
	for i, d := range l {
		lines[i] = d.Error()
	}
	return strings.Join(lines, "\n")
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

// Render writes the diagnostics in full, quoting the source.
func (l List) Render(src Source) string {
	var b strings.Builder
	for _, d := range l.Sorted() {
		d.render(&b, src)
	}
	if n := len(l.Sorted()); n > 1 {
		fmt.Fprintf(&b, "%d errors\n", n)
	}
	return b.String()
}

func (d *Diagnostic) render(b *strings.Builder, src Source) {
	fmt.Fprintf(b, "%s: error: %s\n", d.Pos, d.Msg)
	line := sourceLine(src, d.Pos)
	gutter := len(fmt.Sprint(d.Pos.Line))
	pad := strings.Repeat(" ", gutter)
	if line != "" || d.Pos.Line > 0 {
		fmt.Fprintf(b, "%s |\n", pad)
		fmt.Fprintf(b, "%d | %s\n", d.Pos.Line, expandTabs(line))
		fmt.Fprintf(b, "%s | %s%s\n", pad, strings.Repeat(" ", column(line, d.Pos.Col)), strings.Repeat("^", d.width(line)))
	}
	for _, n := range d.Notes {
		fmt.Fprintf(b, "%s = note: %s: %s\n", pad, n.Pos, n.Msg)
	}
	if d.Help != "" {
		fmt.Fprintf(b, "%s = help: %s\n", pad, d.Help)
	}
}

func (d *Diagnostic) width(line string) int {
	end := d.End.Col
	if d.End.Line != d.Pos.Line || end <= d.Pos.Col {
		end = d.Pos.Col + 1
	}
	end = min(end, len(line)+1)
	return max(column(line, end)-column(line, d.Pos.Col), 1)
}

func sourceLine(src Source, p Pos) string {
	if src == nil || p.Line < 1 {
		return ""
	}
	text := src(p.File)
	lines := strings.Split(string(text), "\n")
	if p.Line > len(lines) {
		return ""
	}
	return strings.TrimRight(lines[p.Line-1], "\r")
}

// column converts a 1-based byte column to a display offset, counting a tab
// as four columns as expandTabs prints it.
func column(line string, col int) int {
	w := 0
	for i, r := range line {
		if i >= col-1 {
			break
		}
		if r == '\t' {
			w += 4
		} else {
			w++
		}
	}
	if col-1 > len(line) {
		w += col - 1 - len(line)
	}
	return w
}

func expandTabs(s string) string { return strings.ReplaceAll(s, "\t", "    ") }
