package main

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mdlc/mdlc/compile"
	"github.com/mdlc/mdlc/internal/atomicfile"
	"github.com/mdlc/mdlc/onnx/importer"
	"github.com/mdlc/mdlc/weights"
)

func defineImport(fs *flag.FlagSet) func(*cli, []string) error {
	o := modelFlags(fs)
	dims := map[string]int{}
	fs.Var(dimList(dims), "dim", "`NAME=SIZE` fixes a dynamic dimension of the ONNX graph (its dim_param, or INPUT.AXIS for an unnamed one), e.g. sequence=128 (repeatable)")
	out := fs.String("o", "", "the .mdl `FILE` to write (default: the model's name with .mdl, in the current folder); the weights go beside it with .safetensors")
	return func(c *cli, files []string) error {
		path := files[0]
		if !strings.EqualFold(filepath.Ext(path), ".onnx") {
			return usagef("%s is not an .onnx file", path)
		}
		dst := *out
		if dst == "" {
			dst = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)) + ".mdl"
		}
		if filepath.Ext(dst) != ".mdl" {
			return usagef("-o %s: the program's file name ends in .mdl", dst)
		}
		lo := compile.LoadOptions{MaxNodes: o.MaxNodes, Budget: o.MemoryBudget(), Dims: dims}
		p, err := compile.Import(path, lo)
		if err != nil {
			return err
		}
		// Check the program before writing it: what mdlc writes, it runs.
		o.Dims = dims
		m, err := o.Load(path)
		if err != nil {
			return err
		}
		wpath := strings.TrimSuffix(dst, ".mdl") + ".safetensors"
		if err := weights.WriteFile(wpath, p.Weights, map[string]string{"model": p.Name, "source": filepath.Base(path)}); err != nil {
			return err
		}
		if err := atomicfile.Write(dst, 0o644, func(w io.Writer) error { _, err := w.Write(p.Source); return err }); err != nil {
			return err
		}
		var params int64
		for _, t := range p.Weights {
			params += int64(t.Len())
		}
		fmt.Fprintf(c.stdout, "%s: model %s, %d layers, %d parameters in %s\n", dst, p.Name, len(m.Layers), params, wpath)
		fmt.Fprintf(c.stdout, "run it with: mdlc run %s --weights %s\n", dst, wpath)
		return nil
	}
}

// importLong is import's help: what it writes, and the ops it reads.
func importLong() string {
	return "The program keeps the ONNX graph's input and output names and layouts (NCHW images are transposed once to mdlc's NHWC inside), " +
		"names layers after the graph's weights, and folds shape computations. ONNX opsets " + strconv.Itoa(importer.MinOpset) + " to " + strconv.Itoa(importer.MaxOpset) + ".\n\n" +
		"Ops it reads: " + strings.Join(importer.Ops(), ", ")
}
