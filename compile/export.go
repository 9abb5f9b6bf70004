package compile

import (
	"maps"
	"path/filepath"
	"slices"

	"github.com/mdlc/mdlc/internal/size"
	"github.com/mdlc/mdlc/onnx"
	"github.com/mdlc/mdlc/onnx/exporter"
)

// Export writes m as an ONNX model: its weights loaded as for running it
// (a stdlib model's shipped ones, Options.Weights, or initialised from the
// seed), bound as constants, the passes run up to exporter.AfterPass (so
// batchnorm is folded and dense is matmul and add, but nothing is fused),
// then the graph exported with dims fixing symbolic dimensions by name.
// m's graph is changed in place.
func (o *Options) Export(m *Model, dims map[string]int) (*onnx.Model, *Weights, error) {
	g := m.Graph
	syms := g.Symbols()
	for _, name := range slices.Sorted(maps.Keys(dims)) {
		if !slices.Contains(syms, name) {
			return nil, nil, usagef("--dim %s: model %s has no symbolic dimension %s (its inputs are %s)", name, g.Name, name, InputNames(g))
		}
	}
	// The file holds the weights once more, and a permuted kernel is a
	// copy until it is written: twice the weights, checked before any.
	pb, err := g.ParamBytes()
	if err == nil {
		if twice, ok := size.Mul(pb, 2); ok {
			err = o.budget().Check("the ONNX model of "+g.Name+" (its weights twice over while it is written)", twice)
		} else {
			err = size.Overflow("the ONNX model of " + g.Name)
		}
	}
	if err != nil {
		return nil, nil, err
	}
	w, err := o.LoadWeights(m)
	if err != nil {
		return nil, nil, err
	}
	at := *o
	at.StopAfter = exporter.AfterPass
	if _, err := at.Optimise(m, w); err != nil {
		return nil, nil, err
	}
	om, err := exporter.Export(g, exporter.Options{Dims: dims, Source: filepath.Base(m.File), Budget: o.budget()})
	if err != nil {
		return nil, nil, err
	}
	return om, w, nil
}
