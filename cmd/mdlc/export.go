package main

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/mdlc/mdlc/internal/atomicfile"
	"github.com/mdlc/mdlc/onnx"
	"github.com/mdlc/mdlc/onnx/exporter"
)

const exportLong = `The ONNX model keeps the model's input and output names and mdlc's layouts
(NHWC images, batch first): convolutions and pools run in ONNX's NCHW between
transposes written only where the layout changes, with kernels permuted once.
Symbolic dimensions (N, T) stay symbolic unless --dim fixes them. The weights
are those mdlc run would use: --weights, a stdlib model's shipped ones, or
initialised from --seed. Batchnorm is folded into the convolution before it.`

func defineExport(fs *flag.FlagSet) func(*cli, []string) error {
	o := modelFlags(fs)
	weightFlags(fs, o)
	dims := map[string]int{}
	fs.Var(dimList(dims), "dim", "`NAME=SIZE` fixes a symbolic dimension in the ONNX model, e.g. N=1 or T=128 (repeatable)")
	opset := fs.Int("opset", exporter.Opset, "the ONNX `OPSET` to write; only 17 is written")
	out := fs.String("o", "", "the .onnx `FILE` to write (default: the model's name with .onnx, in the current folder)")
	return func(c *cli, files []string) error {
		if *opset != exporter.Opset {
			return usagef("--opset %d: mdlc writes ONNX opset %d only", *opset, exporter.Opset)
		}
		m, err := o.Load(files[0])
		if err != nil {
			return err
		}
		dst := *out
		if dst == "" {
			dst = m.Graph.Name + ".onnx"
		}
		if !strings.EqualFold(filepath.Ext(dst), ".onnx") {
			return usagef("-o %s: the model's file name ends in .onnx", dst)
		}
		om, w, err := o.Export(m, dims)
		if err != nil {
			return err
		}
		b, err := onnx.Encode(om)
		if err != nil {
			return err
		}
		if err := atomicfile.Write(dst, 0o644, func(wr io.Writer) error { _, err := wr.Write(b); return err }); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "%s: model %s, ONNX opset %d, %d nodes, %d initializers\n", dst, m.Graph.Name, exporter.Opset, len(om.Graph.Nodes), len(om.Graph.Initializers))
		switch {
		case w.Fresh:
			fmt.Fprintf(c.stdout, "weights: initialised from seed %d: the model has learned nothing (give --weights)\n", o.Seed)
		case w.Shipped != "":
			fmt.Fprintf(c.stdout, "weights: the ones shipped with %s (%s)\n", m.Graph.Name, w.Shipped)
		}
		return nil
	}
}
