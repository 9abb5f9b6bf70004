package main

import (
	"fmt"
	"io"
	"os"

	"github.com/mdlc/mdlc/internal/atomicfile"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/lang/sema"
	"github.com/mdlc/mdlc/lang/syntax"
)

func runCheck(c *cli, args []string) error {
	fs := c.flags("check")
	files, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	p, ds := loader.Load(files[0])
	if len(ds) == 0 {
		ds = p.Check()
	}
	if len(ds) > 0 {
		return c.report(p, ds)
	}
	return nil
}

func runFmt(c *cli, args []string) error {
	fs := c.flags("fmt")
	write := fs.Bool("w", false, "rewrite the file in place")
	files, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	src, err := os.ReadFile(files[0])
	if err != nil {
		return err
	}
	f, ds := syntax.Parse(files[0], src)
	if len(ds) > 0 {
		fmt.Fprint(c.stderr, ds.Render(func(string) []byte { return src }))
		return errReported
	}
	out := syntax.Format(f)
	if !*write {
		fmt.Fprint(c.stdout, out)
		return nil
	}
	if out == string(src) {
		return nil
	}
	info, err := os.Stat(files[0])
	if err != nil {
		return err
	}
	return atomicfile.Write(files[0], info.Mode().Perm(), func(w io.Writer) error {
		_, err := io.WriteString(w, out)
		return err
	})
}

func runIR(c *cli, args []string) error {
	fs := c.flags("ir")
	model := fs.String("model", "", "the model to print, if the file has several")
	files, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	m, err := c.build(files[0], *model)
	if err != nil {
		return err
	}
	fmt.Fprint(c.stdout, ir.Print(m.Graph))
	return nil
}

func runLayers(c *cli, args []string) error {
	if _, err := parse(c.flags("layers"), args, 0); err != nil {
		return err
	}
	for _, l := range sema.Layers() {
		fmt.Fprintf(c.stdout, "%s\n    %s\n", l[0], l[1])
	}
	return nil
}
