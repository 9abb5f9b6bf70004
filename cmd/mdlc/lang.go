package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mdlc/mdlc/internal/atomicfile"
	"github.com/mdlc/mdlc/internal/safeio"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/lang/sema"
	"github.com/mdlc/mdlc/lang/syntax"
	"github.com/mdlc/mdlc/passes"
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
	if ds.HasErrors() {
		return c.report(p, ds)
	}
	// Warnings are printed but do not fail the check.
	fmt.Fprint(c.stderr, ds.Render(p.Source))
	return nil
}

func runFmt(c *cli, args []string) error {
	fs := c.flags("fmt")
	write := fs.Bool("w", false, "rewrite the file in place")
	files, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	// Only .mdl files: a syntax error quotes a line of the file.
	if !strings.HasSuffix(files[0], ".mdl") {
		return fmt.Errorf("%q is not a .mdl file: mdlc fmt formats .mdl programs", files[0])
	}
	src, err := safeio.ReadFile(files[0], safeio.MaxSource)
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
	after := fs.String("after", "", "optimise, and print the IR after this pass (see --passes)")
	list := fs.Bool("passes", false, "optimise, and list the passes with what each changed")
	weightsPath := fs.String("weights", "", "weights to optimise with (default: initialised from --seed)")
	seed := fs.Uint64("seed", 1, "seed for initial weights")
	files, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	if *after != "" && passes.Lookup(*after) == nil {
		return usageError{fmt.Sprintf("no pass named %q; passes are %s", *after, passes.Names())}
	}
	m, err := c.build(files[0], *model)
	if err != nil {
		return err
	}
	g := m.Graph
	if *after == "" && !*list {
		fmt.Fprint(c.stdout, ir.Print(g))
		return nil
	}
	stats, err := optimise(g, *weightsPath, *seed, *after)
	if err != nil {
		return err
	}
	if *list {
		for _, st := range stats {
			fmt.Fprintf(c.stdout, "%-14s %4d -> %4d nodes  %9v  %s\n", st.Pass, st.NodesBefore, st.NodesAfter, st.Duration, passes.Lookup(st.Pass).Doc)
		}
		return nil
	}
	fmt.Fprint(c.stdout, ir.Print(g))
	return nil
}

// optimise binds weights (from a file, or initialised from seed) and runs
// the pass pipeline, up to and including stopAfter if it is set.
func optimise(g *ir.Graph, weightsPath string, seed uint64, stopAfter string) ([]passes.Stat, error) {
	ws, err := loadWeights(g, weightsPath, seed)
	if err != nil {
		return nil, err
	}
	if err := passes.BindWeights(g, ws); err != nil {
		return nil, err
	}
	return passes.Run(g, passes.Options{Verify: true, StopAfter: stopAfter})
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
