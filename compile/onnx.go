package compile

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/mdlc/mdlc/lang/sema"
	"github.com/mdlc/mdlc/onnx"
	"github.com/mdlc/mdlc/onnx/importer"
	"github.com/mdlc/mdlc/stdlib"
)

// onnxFrontend reads ONNX models: the importer writes the model as an .mdl
// program, which is then checked and elaborated as any program is, so an
// .onnx file and the program `mdlc import` writes from it are the same model.
type onnxFrontend struct{}

// Import reads the ONNX model at path and writes it as a program.
func Import(path string, o LoadOptions) (*importer.Program, error) {
	if o.Budget == 0 {
		o.Budget = (&Options{}).budget()
	}
	m, err := onnx.ReadFile(path, o.Budget)
	if err != nil {
		return nil, err
	}
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	p, err := importer.Import(m, importer.Options{Name: name, Dims: o.Dims, Source: filepath.Base(path), Budget: o.Budget})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

func (onnxFrontend) Load(path, model string, o LoadOptions) (*Model, error) {
	p, err := Import(path, o)
	if err != nil {
		return nil, err
	}
	if model != "" && model != p.Name {
		return nil, &UsageError{fmt.Sprintf("%s holds one model, %s; --model %s names none", path, p.Name, model)}
	}
	prog, ds := (&sema.Loader{Std: stdlib.FS, MaxNodes: o.MaxNodes}).LoadSource(path+".mdl", p.Source)
	if ds.HasErrors() {
		return nil, fmt.Errorf("the program imported from %s does not check (a bug in mdlc's importer):\n%s", path, ds.Render(prog.Source))
	}
	m, err := build(prog, p.Name, path)
	if err != nil {
		return nil, fmt.Errorf("the program imported from %s does not check (a bug in mdlc's importer): %w", path, err)
	}
	m.Weights, m.Fixed = p.Weights, p.Fixed
	return m, nil
}

func (f onnxFrontend) Check(path string, o LoadOptions) (Diagnostics, error) {
	_, err := f.Load(path, "", o)
	return nil, err
}
