package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mdlc/mdlc/codegen"
	"github.com/mdlc/mdlc/internal/atomicfile"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/plan"
	"github.com/mdlc/mdlc/tensor"
)

func runGen(c *cli, args []string) error {
	fs := c.flags("gen")
	model := fs.String("model", "", "the model to compile, if the file has several")
	out := fs.String("o", "", "the directory to write the package into (created if missing)")
	pkg := fs.String("pkg", "", "the package name (default: the model's name, lower case)")
	weightsPath := fs.String("weights", "", "weights as .safetensors (default: Keras-style initialisation from --seed)")
	seed := fs.Uint64("seed", 1, "seed for initial weights")
	sh := shapeFlags(fs, "the batch size the package is compiled for")
	kernels := fs.String("kernels", "", "the kernel set to compile for: generic, avx2 or neon (default: the one this machine selects)")
	tests := fs.Bool("tests", false, "also write a test: same bits as mdlc, no allocation per run, a benchmark")
	external := fs.Bool("external-weights", false, "write the weights file beside the package for Load(path) instead of embedding it")
	files, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	if *out == "" {
		return usageError{"missing -o DIR: the directory to write the package into"}
	}
	if err := sh.check(); err != nil {
		return err
	}
	gen, err := compileForGen(c, files[0], *model, *weightsPath, *seed, sh.batch, sh.dims, cpu.Set(*kernels), codegen.Options{Package: *pkg, Tests: *tests, External: *external})
	if err != nil {
		return err
	}
	return writeFiles(*out, gen.files)
}

// generated is a package mdlc generated, and the program it came from.
type generated struct {
	pkg   string
	files codegen.Files
	prog  plan.Program
}

// compileForGen compiles a model to a plan and generates its package.
func compileForGen(c *cli, file, model, weightsPath string, seed uint64, batch int, dims dimList, set cpu.Set, o codegen.Options) (*generated, error) {
	m, err := c.build(file, model)
	if err != nil {
		return nil, err
	}
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	g := m.Graph
	if o.Package == "" {
		o.Package = codegen.PackageName(g.Name)
	}
	switch set {
	case "":
		if set, err = cpu.Select(); err != nil {
			return nil, err
		}
	case cpu.Generic, cpu.AVX2, cpu.NEON:
		if o.Tests && !slices.Contains(cpu.Available(), set) {
			return nil, fmt.Errorf("--tests --kernels %s: this machine cannot run %s kernels (available: %v), so it cannot compute the outputs the test checks; leave out --tests or run mdlc gen on such a machine", set, set, cpu.Available())
		}
	default:
		return nil, usageError{fmt.Sprintf("--kernels %s: unknown kernel set; choose generic, avx2 or neon", set)}
	}
	env, err := bindSymbols(g, batch, dims)
	if err != nil {
		return nil, err
	}
	s, err := summarize(m, dims)
	if err != nil {
		return nil, err
	}
	o.Model = codegen.Model{Name: g.Name, Source: file, SourceHash: fmt.Sprintf("%x", sha256.Sum256(src)), Params: s.TotalParams}
	flops, err := g.FlopsBound(env)
	if err != nil {
		return nil, err
	}
	if b := batchSymbol(g); b != "" {
		flops /= int64(env[b])
	}
	o.Model.FLOPs = flops
	if _, err := optimise(g, weightsPath, seed, ""); err != nil {
		return nil, err
	}
	p, err := plan.Build(g, nil, env, plan.Kernels(set))
	if err != nil {
		return nil, err
	}
	// The checksums of the outputs on the test's input, by this very plan.
	if o.Tests {
		var ins []plan.Input
		var outs [][]float32
		for _, in := range p.Inputs() {
			if in.DType != ir.F32 {
				ins = append(ins, plan.Int64s(codegen.SampleIDs(tensor.Numel(in.Shape), in.Limit)))
			} else {
				ins = append(ins, plan.Floats(codegen.Sample(tensor.Numel(in.Shape))))
			}
		}
		for _, o := range p.Outputs() {
			outs = append(outs, make([]float32, tensor.Numel(o.Shape)))
		}
		a := p.NewArena()
		err := p.Run(a, ins, outs)
		a.Close()
		if err != nil {
			return nil, err
		}
		for _, out := range outs {
			o.OutputSums = append(o.OutputSums, codegen.Checksum(out))
		}
	}
	prog := p.Program()
	files, err := codegen.Generate(prog, o)
	if err != nil {
		return nil, err
	}
	return &generated{pkg: o.Package, files: files, prog: prog}, nil
}

// writeFiles writes a generated package into dir, each file atomically.
func writeFiles(dir string, files codegen.Files) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		data := files[name]
		err := atomicfile.Write(filepath.Join(dir, name), 0o644, func(w io.Writer) error {
			_, err := w.Write(data)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func runBuild(c *cli, args []string) error {
	fs := c.flags("build")
	model := fs.String("model", "", "the model to compile, if the file has several")
	out := fs.String("o", "", "the binary to write")
	weightsPath := fs.String("weights", "", "weights as .safetensors (default: Keras-style initialisation from --seed)")
	seed := fs.Uint64("seed", 1, "seed for initial weights")
	sh := shapeFlags(fs, "the batch size the binary is compiled for")
	kernels := fs.String("kernels", "", "the kernel set to compile for (default: the best of GOARCH's that this machine runs)")
	files, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	if *out == "" {
		return usageError{"missing -o BIN: the binary to write"}
	}
	if err := sh.check(); err != nil {
		return err
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("mdlc build needs the go command on PATH: %w", err)
	}
	goarch, err := goEnv(goTool, "GOARCH")
	if err != nil {
		return err
	}
	set := cpu.Set(*kernels)
	if set == "" {
		set = cpu.Generic
		if s, ok := map[string]cpu.Set{"amd64": cpu.AVX2, "arm64": cpu.NEON}[goarch]; ok {
			set = s
		}
	}
	root, err := goEnv(goTool, "list", "-m", "-f", "{{.Dir}}", "github.com/mdlc/mdlc")
	if err != nil || root == "" {
		return fmt.Errorf("mdlc build needs the mdlc module's source: run it inside the mdlc module or a module that requires it (go list -m github.com/mdlc/mdlc: %v)", err)
	}
	dir, err := os.MkdirTemp("", "mdlc-build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	gen, err := compileForGen(c, files[0], *model, *weightsPath, *seed, sh.batch, sh.dims, set, codegen.Options{})
	if err != nil {
		return err
	}
	if err := writeFiles(filepath.Join(dir, gen.pkg), gen.files); err != nil {
		return err
	}
	main, err := codegen.Main(gen.pkg, "mdlcbuild/"+gen.pkg, gen.prog)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), main, 0o644); err != nil {
		return err
	}
	if err := writeModule(dir, "mdlcbuild", root); err != nil {
		return err
	}
	bin, err := filepath.Abs(*out)
	if err != nil {
		return err
	}
	cmd := exec.Command(goTool, "build", "-trimpath", "-o", bin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build of the generated program failed (a bug in mdlc; please report it):\n%s", msg)
	}
	return nil
}

// goEnv runs the go command and returns its output, trimmed.
func goEnv(goTool string, args ...string) (string, error) {
	if len(args) == 1 {
		args = []string{"env", args[0]}
	}
	out, err := exec.Command(goTool, args...).Output()
	return strings.TrimSpace(string(out)), err
}

// writeModule makes dir a module that builds against the mdlc source at root.
func writeModule(dir, module, root string) error {
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return err
	}
	sysVersion := ""
	for line := range strings.Lines(string(mod)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "golang.org/x/sys" {
			sysVersion = f[1]
		}
	}
	gomod := fmt.Sprintf("module %s\n\ngo 1.26\n\nrequire (\n\tgithub.com/mdlc/mdlc v0.0.0\n\tgolang.org/x/sys %s\n)\n\nreplace github.com/mdlc/mdlc => %s\n", module, sysVersion, root)
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644); err != nil {
		return err
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644)
}
