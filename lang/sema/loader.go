// Package sema gives .mdl programs their meaning: it loads a file and its
// imports, resolves names, instantiates blocks, checks every shape, and lowers
// each model to an ir.Graph. Problems come back as diagnostics, all of them,
// not only the first.
package sema

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/mdlc/mdlc/internal/safeio"
	"github.com/mdlc/mdlc/lang/diag"
	"github.com/mdlc/mdlc/lang/syntax"
)

// StdPrefix marks files that come from the embedded standard library.
const StdPrefix = "stdlib/"

// Loader reads programs. Imports without a slash or .mdl suffix name files of
// the embedded standard library (Std); others are paths relative to the
// importing file.
type Loader struct {
	Std fs.FS
	// MaxNodes bounds the IR nodes and block instances one model may expand
	// to; 0 means DefaultMaxNodes.
	MaxNodes int
}

// Program is a loaded file with its transitive imports.
type Program struct {
	Root     *Unit
	units    map[string]*Unit
	sources  map[string][]byte
	maxNodes int
}

// Unit is one parsed file and what it can name.
type Unit struct {
	Path    string
	File    *syntax.File
	Imports map[string]*Unit // by namespace
	Decls   map[string]*syntax.Decl
	order   []*syntax.Decl
}

// Source returns a file's text for quoting in diagnostics.
func (p *Program) Source(file string) []byte { return p.sources[file] }

// Load reads the file at filename (or the stdlib file a bare name such as
// `cnn` names) and everything it imports. Only .mdl files are read.
func (l *Loader) Load(filename string) (*Program, diag.List) {
	p := &Program{units: map[string]*Unit{}, sources: map[string][]byte{}, maxNodes: l.MaxNodes}
	var diags diag.List
	filename = l.rootName(filename)
	root := p.load(l, filename, nil, nil, &diags)
	if root == nil && len(diags) == 0 {
		diags = append(diags, &diag.Diagnostic{Pos: diag.Pos{File: filename}, Msg: "cannot load " + filename})
	}
	p.Root = root
	return p, diags.Sorted()
}

// LoadSource parses src as if read from filename, for tests and tools.
func (l *Loader) LoadSource(filename string, src []byte) (*Program, diag.List) {
	p := &Program{units: map[string]*Unit{}, sources: map[string][]byte{filename: src}, maxNodes: l.MaxNodes}
	var diags diag.List
	p.Root = p.parse(l, filename, src, nil, &diags)
	return p, diags.Sorted()
}

func isStdName(imp string) bool {
	return !strings.Contains(imp, "/") && !strings.HasSuffix(imp, ".mdl")
}

// read returns a file's text. Stdlib imports read the embedded copy; the root
// file is read from disk first, so a checkout's edited stdlib/cnn.mdl is what
// `mdlc run stdlib/cnn.mdl` runs there, and the embedded copy anywhere else.
// Files on disk are read through safeio: regular files of bounded size only,
// so that /dev/zero or a FIFO named as a program cannot hang the checker.
func (p *Program) read(l *Loader, name string, root bool) ([]byte, error) {
	rest, std := strings.CutPrefix(name, StdPrefix)
	std = std && l.Std != nil
	if root || !std {
		// A .mdl name may be a link to another file, whose lines an error
		// would quote.
		if real, err := filepath.EvalSymlinks(name); err == nil && !strings.HasSuffix(real, ".mdl") {
			return nil, fmt.Errorf("it links to %s, which is not a .mdl file", real)
		}
		src, err := safeio.ReadFile(name, safeio.MaxSource)
		if err == nil || !std || !errors.Is(err, fs.ErrNotExist) {
			return src, err
		}
	}
	return fs.ReadFile(l.Std, rest)
}

// rootName maps a bare stdlib name (`cnn`) to its embedded file.
func (l *Loader) rootName(filename string) string {
	if l.Std == nil || !isStdName(filename) {
		return filename
	}
	if _, err := fs.Stat(l.Std, filename+".mdl"); err == nil {
		return StdPrefix + filename + ".mdl"
	}
	return filename
}

// badPath says why a file named as a program or an import is not read: only
// .mdl files are, so that an error can never quote a line of another file,
// and imports are relative, so a program cannot reach for /etc.
func badPath(name string, imported bool) (msg, help string) {
	switch {
	case imported && (filepath.IsAbs(name) || path.IsAbs(name)):
		return "import " + strconv.Quote(name) + " is an absolute path",
			"imports are stdlib names such as \"blocks\" or paths relative to the importing file, such as \"./mine.mdl\""
	case !strings.HasSuffix(name, ".mdl"):
		return strconv.Quote(name) + " is not a .mdl file",
			"mdlc reads programs from files ending in .mdl"
	}
	return "", ""
}

// load reads and parses name unless already loaded; stack holds the chain of
// files being loaded, to report import cycles.
func (p *Program) load(l *Loader, name string, stack []string, from *syntax.Import, diags *diag.List) *Unit {
	if u, ok := p.units[name]; ok {
		if u == nil {
			cycle := append(stack[indexOf(stack, name):], name)
			*diags = append(*diags, &diag.Diagnostic{
				Pos: pos(from.Pos), End: pos(from.EndPos),
				Msg:  "import cycle: " + strings.Join(cycle, " imports "),
				Help: "move the shared blocks into a third file that both import",
			})
		}
		return u
	}
	if msg, help := badPath(name, false); msg != "" {
		d := &diag.Diagnostic{Pos: diag.Pos{File: name}, Msg: msg, Help: help}
		if from != nil {
			d.Pos, d.End = pos(from.Pos), pos(from.EndPos)
		}
		*diags = append(*diags, d)
		return nil
	}
	src, err := p.read(l, name, from == nil)
	if err != nil {
		d := &diag.Diagnostic{Msg: "cannot read " + name + ": " + errText(err)}
		if from != nil {
			d.Pos, d.End = pos(from.Pos), pos(from.EndPos)
			d.Help = importHelp(l)
		} else {
			d.Pos = diag.Pos{File: name}
		}
		*diags = append(*diags, d)
		return nil
	}
	p.sources[name] = src
	return p.parse(l, name, src, stack, diags)
}

func (p *Program) parse(l *Loader, name string, src []byte, stack []string, diags *diag.List) *Unit {
	f, ds := syntax.Parse(name, src)
	if ds != nil {
		*diags = append(*diags, ds...)
		return nil
	}
	p.units[name] = nil // loading: seen again before done means a cycle
	u := &Unit{Path: name, File: f, Imports: map[string]*Unit{}, Decls: map[string]*syntax.Decl{}}
	stack = append(stack, name)
	for _, im := range f.Imports {
		if msg, help := badPath(im.Path, true); msg != "" && !isStdName(im.Path) {
			*diags = append(*diags, &diag.Diagnostic{Pos: pos(im.Pos), End: pos(im.EndPos), Msg: msg, Help: help})
			continue
		}
		target := resolveImport(name, im.Path)
		ns := im.Namespace()
		if _, dup := u.Imports[ns]; dup {
			*diags = append(*diags, &diag.Diagnostic{Pos: pos(im.Pos), End: pos(im.EndPos),
				Msg: "namespace `" + ns + "` is imported twice", Help: "give one of the imports another name with `as`"})
			continue
		}
		if dep := p.load(l, target, stack, im, diags); dep != nil {
			u.Imports[ns] = dep
		}
	}
	for _, d := range f.Decls {
		if prev, dup := u.Decls[d.Name]; dup {
			*diags = append(*diags, &diag.Diagnostic{Pos: pos(d.Pos), End: endOfName(d),
				Msg:  d.Kind + " `" + d.Name + "` is already declared at " + pos(prev.Pos).String(),
				Help: "rename one of them"})
			continue
		}
		u.Decls[d.Name] = d
		u.order = append(u.order, d)
	}
	p.units[name] = u
	return u
}

func resolveImport(from, imp string) string {
	if isStdName(imp) {
		return StdPrefix + imp + ".mdl"
	}
	if strings.HasPrefix(from, StdPrefix) {
		return path.Join(path.Dir(from), imp)
	}
	return filepath.Join(filepath.Dir(from), imp)
}

func importHelp(l *Loader) string {
	if l.Std == nil {
		return "imports are paths relative to the importing file"
	}
	var names []string
	fs.WalkDir(l.Std, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".mdl") {
			names = append(names, strings.TrimSuffix(p, ".mdl"))
		}
		return nil
	})
	sort.Strings(names)
	return "stdlib files are " + strings.Join(names, ", ") + "; other imports are paths relative to the importing file, ending in .mdl"
}

func errText(err error) string {
	if errors.Is(err, fs.ErrNotExist) {
		return "no such file"
	}
	if errors.Is(err, safeio.ErrNotRegular) {
		return "not a regular file"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func indexOf(s []string, x string) int {
	for i, y := range s {
		if y == x {
			return i
		}
	}
	return 0
}

// Models lists the root file's models in source order.
func (p *Program) Models() []string {
	var out []string
	if p.Root == nil {
		return nil
	}
	for _, d := range p.Root.order {
		if d.Kind == "model" {
			out = append(out, d.Name)
		}
	}
	return out
}

// endOfName is the end of `model name` or `block name`, to underline a declaration's head.
func endOfName(d *syntax.Decl) diag.Pos {
	p := pos(d.Pos)
	p.Col += len(d.Kind) + 1 + len(d.Name)
	return p
}
