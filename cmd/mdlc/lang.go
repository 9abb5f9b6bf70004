package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/mdlc/mdlc/compile"
	"github.com/mdlc/mdlc/internal/atomicfile"
	"github.com/mdlc/mdlc/internal/safeio"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/lang/sema"
	"github.com/mdlc/mdlc/lang/syntax"
	"github.com/mdlc/mdlc/passes"
)

func defineCheck(*flag.FlagSet) func(*cli, []string) error {
	return func(c *cli, files []string) error {
		failed := false
		for _, file := range files {
			warnings, err := compile.Check(file, compile.LoadOptions{})
			if warnings != nil {
				fmt.Fprint(c.stderr, warnings.Render())
			}
			var ds compile.Diagnostics
			switch {
			case errors.As(err, &ds):
				fmt.Fprint(c.stderr, ds.Render())
				failed = true
			case err != nil:
				fmt.Fprintf(c.stderr, "mdlc check: %s\n", err)
				failed = true
			}
		}
		if failed {
			return errReported
		}
		return nil
	}
}

func defineFmt(fs *flag.FlagSet) func(*cli, []string) error {
	write := fs.Bool("w", false, "rewrite each file in place (through symlinks) when its formatting differs")
	list := fs.Bool("l", false, "list the files whose formatting differs")
	diff := fs.Bool("d", false, "print a diff of each file against its canonical form")
	return func(c *cli, files []string) error {
		failed := false
		for _, file := range files {
			if err := c.fmtFile(file, *write, *list, *diff); err != nil {
				if err != errReported {
					fmt.Fprintf(c.stderr, "mdlc fmt: %s\n", err)
				}
				failed = true
			}
		}
		if failed {
			return errReported
		}
		return nil
	}
}

// fmtFile formats one file: printed (the default), listed, diffed and/or
// rewritten. -w writes the file a symlink points to, keeping the link.
func (c *cli) fmtFile(file string, write, list, diff bool) error {
	// Only .mdl files: a syntax error quotes a line of the file.
	if !strings.HasSuffix(file, ".mdl") {
		return fmt.Errorf("%q is not a .mdl file: mdlc fmt formats .mdl programs", file)
	}
	src, err := safeio.ReadFile(file, safeio.MaxSource)
	if err != nil {
		return err
	}
	f, ds := syntax.Parse(file, src)
	if len(ds) > 0 {
		fmt.Fprint(c.stderr, ds.Render(func(string) []byte { return src }))
		return errReported
	}
	out := syntax.Format(f)
	changed := out != string(src)
	if !write && !list && !diff {
		fmt.Fprint(c.stdout, out)
		return nil
	}
	if list && changed {
		fmt.Fprintln(c.stdout, file)
	}
	if diff && changed {
		fmt.Fprint(c.stdout, unifiedDiff(file, src, []byte(out)))
	}
	if !write || !changed {
		return nil
	}
	target, err := filepath.EvalSymlinks(file)
	if err != nil {
		return err
	}
	info, err := os.Stat(target)
	if err != nil {
		return err
	}
	return atomicfile.Write(target, info.Mode().Perm(), func(w io.Writer) error {
		_, err := io.WriteString(w, out)
		return err
	})
}

func defineIR(fs *flag.FlagSet) func(*cli, []string) error {
	o := modelFlags(fs)
	weightFlags(fs, o)
	fs.StringVar(&o.StopAfter, "after", "", "optimise, and print the IR after this `PASS` (see --passes)")
	list := fs.Bool("passes", false, "optimise, and list the passes with what each changed")
	return func(c *cli, files []string) error {
		if o.StopAfter != "" && passes.Lookup(o.StopAfter) == nil {
			return usagef("no pass named %q; passes are %s", o.StopAfter, passes.Names())
		}
		if o.StopAfter != "" && *list {
			return usagef("give --after or --passes, not both")
		}
		m, err := o.Load(files[0])
		if err != nil {
			return err
		}
		if o.StopAfter == "" && !*list {
			fmt.Fprint(c.stdout, ir.Print(m.Graph))
			return nil
		}
		w, err := o.LoadWeights(m)
		if err != nil {
			return err
		}
		stats, err := o.Optimise(m, w)
		if err != nil {
			return err
		}
		if *list {
			for _, st := range stats {
				fmt.Fprintf(c.stdout, "%-14s %4d -> %4d nodes  %9v  %s\n", st.Pass, st.NodesBefore, st.NodesAfter, st.Duration, passes.Lookup(st.Pass).Doc)
			}
			return nil
		}
		fmt.Fprint(c.stdout, ir.Print(m.Graph))
		return nil
	}
}

func defineLayers(*flag.FlagSet) func(*cli, []string) error {
	return func(c *cli, _ []string) error {
		for _, l := range sema.Layers() {
			fmt.Fprintf(c.stdout, "%s\n    %s\n", l.Signature, l.Doc)
			for _, p := range l.Params {
				fmt.Fprintf(c.stdout, "    param %s\n", p)
			}
		}
		return nil
	}
}

// unifiedDiff is a line diff of a and b in the unified format (one hunk per
// run of changes, three lines of context), by a longest-common-subsequence
// table: formatting changes are small, and sources are capped in size.
func unifiedDiff(name string, a, b []byte) string {
	x, y := lines(a), lines(b)
	if int64(len(x))*int64(len(y)) > maxDiffCells {
		// Too large to align cheaply: one hunk replacing the whole file.
		return wholeDiff(name, x, y)
	}
	// lcs[i][j] is the LCS length of x[i:] and y[j:].
	lcs := make([][]int32, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int32, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if bytes.Equal(x[i], y[j]) {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type edit struct {
		kind byte // ' ', '-', '+'
		line []byte
		ai   int // line number in a (1-based) of this or the next a line
		bi   int
	}
	var edits []edit
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && bytes.Equal(x[i], y[j]):
			edits = append(edits, edit{' ', x[i], i + 1, j + 1})
			i, j = i+1, j+1
		case j < len(y) && (i == len(x) || lcs[i][j+1] >= lcs[i+1][j]):
			edits = append(edits, edit{'+', y[j], i + 1, j + 1})
			j++
		default:
			edits = append(edits, edit{'-', x[i], i + 1, j + 1})
			i++
		}
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "--- %s\n+++ %s (formatted)\n", name, name)
	const context = 3
	for k := 0; k < len(edits); {
		if edits[k].kind == ' ' {
			k++
			continue
		}
		start := max(k-context, 0)
		end := k
		for end < len(edits) {
			if edits[end].kind != ' ' {
				end++
				continue
			}
			run := end
			for run < len(edits) && edits[run].kind == ' ' {
				run++
			}
			if run == len(edits) || run-end > 2*context {
				end = min(end+context, len(edits))
				break
			}
			end = run
		}
		var na, nb int
		for _, e := range edits[start:end] {
			if e.kind != '+' {
				na++
			}
			if e.kind != '-' {
				nb++
			}
		}
		fmt.Fprintf(&out, "@@ -%d,%d +%d,%d @@\n", edits[start].ai, na, edits[start].bi, nb)
		for _, e := range edits[start:end] {
			out.WriteByte(e.kind)
			out.Write(e.line)
			out.WriteByte('\n')
		}
		k = end
	}
	return out.String()
}

// maxDiffCells bounds the diff's table (4 bytes a cell).
const maxDiffCells = 1 << 24

func wholeDiff(name string, x, y [][]byte) string {
	var out bytes.Buffer
	fmt.Fprintf(&out, "--- %s\n+++ %s (formatted)\n@@ -1,%d +1,%d @@\n", name, name, len(x), len(y))
	for _, l := range x {
		out.WriteString("-")
		out.Write(l)
		out.WriteByte('\n')
	}
	for _, l := range y {
		out.WriteString("+")
		out.Write(l)
		out.WriteByte('\n')
	}
	return out.String()
}

func lines(b []byte) [][]byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	if len(b) == 0 {
		return nil
	}
	return bytes.Split(b, []byte("\n"))
}
