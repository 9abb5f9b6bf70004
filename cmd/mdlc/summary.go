package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/mdlc/mdlc/compile"
	"github.com/mdlc/mdlc/internal/numfmt"
)

type summaryLayer struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	OutputShape []*int `json:"output_shape"`
	Params      int64  `json:"params"`
	Flops       int64  `json:"flops"`
}

type summaryJSON struct {
	Model              string         `json:"model"`
	Layers             []summaryLayer `json:"layers"`
	TotalParams        int64          `json:"total_params"`
	TrainableParams    int64          `json:"trainable_params"`
	NonTrainableParams int64          `json:"non_trainable_params"`
	Flops              int64          `json:"flops_per_example"`
	// Dims are the sizes the FLOPs were counted with for symbols other
	// than the batch (--dim, or 1).
	Dims map[string]int `json:"dims,omitempty"`
	// Assumed lists the symbols counted as 1 for want of a --dim.
	Assumed []string `json:"assumed,omitempty"`
}

func defineSummary(fs *flag.FlagSet) func(*cli, []string) error {
	o := modelFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	dims := dimList{}
	fs.Var(dims, "dim", "`NAME=SIZE`: count FLOPs with this size for a symbolic dimension other than the batch, e.g. T=128 (default 1)")
	return func(c *cli, files []string) error {
		m, err := o.Load(files[0])
		if err != nil {
			return err
		}
		s, err := summarize(o, m, dims)
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(c.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(s)
		}
		printSummary(c.stdout, s)
		return nil
	}
}

// summarize counts FLOPs per example with the symbols other than the batch
// bound to their dims, 1 where none is given (and says which).
func summarize(o *compile.Options, m *compile.Model, dims dimList) (summaryJSON, error) {
	g := m.Graph
	s := summaryJSON{Model: g.Name}
	given := dimList{}
	for _, sym := range g.Symbols() {
		if sym == compile.BatchSymbol(g) {
			continue
		}
		if given[sym] = dims[sym]; given[sym] == 0 {
			given[sym] = 1
			s.Assumed = append(s.Assumed, sym)
		}
	}
	for name, n := range dims {
		if _, ok := given[name]; !ok {
			given[name] = n // Bind words the error
		}
	}
	env, err := o.Bind(m, compile.Shape{Dims: given}, nil)
	if err != nil {
		return s, err
	}
	if len(given) > 0 {
		s.Dims = given
	}
	byLayer, err := g.FlopsByLayer(env)
	if err != nil {
		return s, err
	}
	for _, f := range byLayer {
		s.Flops += f
	}
	for _, l := range m.Layers {
		var shape []*int
		for _, d := range l.Output.Type.Shape {
			if d.Known() {
				shape = append(shape, &d.Size)
			} else {
				shape = append(shape, nil)
			}
		}
		s.Layers = append(s.Layers, summaryLayer{Name: l.Name, Type: l.Kind, OutputShape: shape, Params: l.Params, Flops: byLayer[l.Name]})
	}
	for _, p := range m.Graph.Params {
		n, _ := p.Type.Shape.KnownProduct(0)
		s.TotalParams += int64(n)
		if p.Trainable {
			s.TrainableParams += int64(n)
		}
	}
	s.NonTrainableParams = s.TotalParams - s.TrainableParams
	return s, nil
}

// shapeText prints a shape as Keras does, unknown dims as None.
func shapeText(dims []*int) string {
	parts := make([]string, len(dims))
	for i, d := range dims {
		if d == nil {
			parts[i] = "None"
		} else {
			parts[i] = strconv.Itoa(*d)
		}
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func printSummary(w io.Writer, s summaryJSON) {
	rows := [][4]string{{"Layer (type)", "Output Shape", "Param #", "FLOPs"}}
	for _, l := range s.Layers {
		rows = append(rows, [4]string{l.Name + " (" + l.Type + ")", shapeText(l.OutputShape), commas(l.Params), commas(l.Flops)})
	}
	width := [4]int{}
	for _, r := range rows {
		for i, cell := range r {
			width[i] = max(width[i], len(cell))
		}
	}
	total := width[0] + width[1] + width[2] + width[3] + 9
	line := func(ch string) { fmt.Fprintln(w, strings.Repeat(ch, total)) }
	row := func(r [4]string) {
		fmt.Fprintf(w, " %-*s  %-*s  %*s  %*s\n", width[0], r[0], width[1], r[1], width[2], r[2], width[3], r[3])
	}
	fmt.Fprintf(w, "Model: %q\n", s.Model)
	line("_")
	row(rows[0])
	line("=")
	for i, r := range rows[1:] {
		row(r)
		if i < len(rows)-2 {
			line("_")
		}
	}
	line("=")
	fmt.Fprintf(w, "Total params: %s (%s)\n", commas(s.TotalParams), bytesText(s.TotalParams*4))
	fmt.Fprintf(w, "Trainable params: %s\n", commas(s.TrainableParams))
	fmt.Fprintf(w, "Non-trainable params: %s\n", commas(s.NonTrainableParams))
	fmt.Fprintf(w, "FLOPs per example: %s (a multiply-add counts 2)\n", commas(s.Flops))
	for _, sym := range slices.Sorted(maps.Keys(s.Dims)) {
		how := ""
		if slices.Contains(s.Assumed, sym) {
			how = fmt.Sprintf(" for want of --dim %s=SIZE", sym)
		}
		fmt.Fprintf(w, "  counted with %s = %d%s\n", sym, s.Dims[sym], how)
	}
	line("_")
}

func commas(n int64) string { return numfmt.Commas(n) }

func bytesText(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.2f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
