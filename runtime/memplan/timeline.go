package memplan

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
)

// maxColumns bounds the width of a timeline: longer schedules show several
// steps per column.
const maxColumns = 64

// Timeline renders the plan as text, one row per buffer in id order: its id,
// its label if labels is not empty (labels[id], or nothing past its end), its
// offset and size in bytes, a column per step, '#' where it is live, and
// whether it is written in place over another buffer or is a graph output.
// The step where a buffer is overwritten in place is live in both rows. A last
// row marks with '^' the steps whose live bytes reach the lower bound. The
// text is deterministic. The plan must verify.
func (p *Plan) Timeline(labels []string) string {
	steps := 0
	for _, b := range p.Buffers {
		steps = max(steps, b.Last+1)
	}
	per := max(1, (steps+maxColumns-1)/maxColumns) // steps per column
	cols := (steps + per - 1) / per
	label := func(id int) string {
		if id < len(labels) {
			return labels[id]
		}
		return ""
	}
	in := make([]int, len(p.Buffers))
	for i := range in {
		in[i] = -1
	}
	for _, a := range p.Aliases {
		in[a.Out] = a.In
	}

	// Each row is its key fields (id, and label if any), offset, size,
	// columns and notes; keys are padded to a common width.
	type row struct {
		key            []string
		off, size, bar string
	}
	key := func(id, lbl string) []string {
		if len(labels) == 0 {
			return []string{cmp.Or(id, lbl)}
		}
		return []string{id, lbl}
	}
	var ruler []byte // the first step of every tenth column
	for c := 0; c < cols; c += 10 {
		for len(ruler) < c {
			ruler = append(ruler, ' ')
		}
		ruler = append(ruler, strconv.Itoa(c*per)...)
	}
	rows := []row{{key("id", "buffer"), "offset", "size", string(ruler)}}
	for id, b := range p.Buffers {
		bar := []byte(strings.Repeat(".", cols))
		for s := b.First; s <= b.Last; s++ {
			bar[s/per] = '#'
		}
		if in[id] >= 0 {
			bar = append(bar, " in place of "+cmp.Or(label(in[id]), strconv.Itoa(in[id]))...)
		}
		if b.Output {
			bar = append(bar, " output"...)
		}
		rows = append(rows, row{key(strconv.Itoa(id), label(id)), strconv.FormatInt(p.Offsets[id], 10), strconv.FormatInt(b.Size, 10), string(bar)})
	}
	if p.LowerBound > 0 {
		live := make([]int64, steps)
		for _, b := range handedOver(p.Buffers, p.Aliases) {
			for s := b.First; s <= b.Last; s++ {
				live[s] += alignUp(b.Size, p.Align)
			}
		}
		bar := []byte(strings.Repeat(" ", cols))
		for s, n := range live {
			if n == p.LowerBound {
				bar[s/per] = '^'
			}
		}
		rows = append(rows, row{key("", "peak"), "", "", string(bar)})
	}

	width := make([]int, len(rows[0].key)+2)
	for _, r := range rows {
		for i, k := range r.key {
			width[i] = max(width[i], len(k))
		}
		width[len(r.key)] = max(width[len(r.key)], len(r.off))
		width[len(r.key)+1] = max(width[len(r.key)+1], len(r.size))
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s: arena %d B, lower bound %d B, unplanned %d B, align %d B", p.Planner, p.Size, p.LowerBound, p.Unplanned, p.Align)
	if per > 1 {
		fmt.Fprintf(&sb, ", %d steps per column", per)
	}
	sb.WriteString("\n")
	for _, r := range rows {
		var line strings.Builder
		for i, k := range r.key {
			if i == 0 {
				fmt.Fprintf(&line, "%*s  ", width[i], k) // ids align right
			} else {
				fmt.Fprintf(&line, "%-*s  ", width[i], k)
			}
		}
		n := len(r.key)
		fmt.Fprintf(&line, "%*s  %*s  %s", width[n], r.off, width[n+1], r.size, r.bar)
		sb.WriteString(strings.TrimRight(line.String(), " "))
		sb.WriteString("\n")
	}
	return sb.String()
}
