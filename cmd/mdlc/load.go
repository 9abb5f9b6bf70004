package main

import (
	"fmt"
	"strings"

	"github.com/mdlc/mdlc/lang/diag"
	"github.com/mdlc/mdlc/lang/sema"
	"github.com/mdlc/mdlc/stdlib"
)

var loader = &sema.Loader{Std: stdlib.FS}

// report writes diagnostics to stderr with quoted source.
func (c *cli) report(p *sema.Program, ds diag.List) error {
	var src diag.Source
	if p != nil {
		src = p.Source
	}
	fmt.Fprint(c.stderr, ds.Render(src))
	return errReported
}

// build loads file and checks the model named by modelFlag, or the file's only
// model.
func (c *cli) build(file, modelFlag string) (*sema.Model, error) {
	p, ds := loader.Load(file)
	if len(ds) > 0 {
		return nil, c.report(p, ds)
	}
	name := modelFlag
	if name == "" {
		models := p.Models()
		switch len(models) {
		case 0:
			return nil, fmt.Errorf("%s declares no model (only blocks); add `model name(input: f32[...]) -> (output) { ... }`", file)
		case 1:
			name = models[0]
		default:
			return nil, usageError{fmt.Sprintf("%s declares several models (%s): choose one with --model", file, strings.Join(models, ", "))}
		}
	}
	m, ds := p.Build(name)
	if len(ds) > 0 {
		return nil, c.report(p, ds)
	}
	return m, nil
}
