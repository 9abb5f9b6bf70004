// Package codegen writes a compiled plan out as an ordinary Go package: the
// plan's executable program (runtime/exec.Program: the specs as literals, the
// slot table, the ports) as a Go literal, thin typed wrappers (New or Load,
// Run, RunArena, NewArena, shape and size constants) over exec.Program's one
// run loop, and the plan's constants (weights packed for the kernels) in a
// binary file embedded with go:embed and checked against a CRC-32C when New
// runs. Generated code has no run loop of its own, so it cannot drift from
// plans.
//
// A package is generated for one kernel set (the plan's): its packed weights
// and arena layout are that set's. It runs that set wherever the CPU and the
// build can (MDLC_KERNELS does not apply), and New fails with a clear error
// elsewhere (a CPU without AVX2, a purego build).
package codegen

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"go/format"
	"go/token"
	"hash/crc32"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/mdlc/mdlc/internal/numfmt"
	"github.com/mdlc/mdlc/runtime/exec"
	"github.com/mdlc/mdlc/runtime/plan"
	"github.com/mdlc/mdlc/tensor"
)

// Model describes what the package is generated from, for its doc comment.
type Model struct {
	Name       string
	Source     string // the .mdl file as given
	SourceHash string // hex SHA-256 of its bytes
	Params     int64
	FLOPs      int64 // per example
	// Labels names the classes of classifier outputs, by output name.
	Labels map[string][]string
}

// Files is a generated package: file name to contents.
type Files map[string][]byte

// Options are what Generate writes and how.
type Options struct {
	Package string
	Model   Model
	// External makes the package read its weights file at run time (Load)
	// instead of embedding it (New).
	External bool
	// Tests adds a test file: the outputs on a fixed input (Sample) have the
	// CRC-32C OutputSums, as mdlc computed them with the same plan; Run
	// allocates nothing; two threads give the same bits; corrupt weights are
	// refused. And a benchmark.
	Tests      bool
	OutputSums []uint32
	// Train, if set, adds a Trainer (mdlc gen --train): the training step's
	// wrapper, its programs and their weights, and with Tests its test.
	Train *Training
}

// Generate writes prog as a package.
func Generate(prog plan.Program, o Options) (Files, error) {
	pkg, m, tests, outputs := o.Package, o.Model, o.Tests, o.OutputSums
	if !token.IsIdentifier(pkg) || token.IsKeyword(pkg) || pkg == "main" || strings.ToLower(pkg) != pkg {
		return nil, fmt.Errorf("package name %q: want a lower-case Go identifier (not a keyword, not main), e.g. %s", pkg, PackageName(m.Name))
	}
	g := &gen{pkg: pkg, m: m, prog: prog, external: o.External, imports: map[string]bool{}}
	g.names()
	blob := g.weights()
	src, err := g.source(blob)
	if err != nil {
		return nil, err
	}
	files := Files{pkg + ".go": src, pkg + ".weights": blob}
	if tests {
		if len(outputs) != len(prog.Outputs) {
			return nil, fmt.Errorf("%d output checksums for %d outputs", len(outputs), len(prog.Outputs))
		}
		t, err := g.testSource(outputs)
		if err != nil {
			return nil, err
		}
		files[pkg+"_test.go"] = t
	}
	if o.Train != nil {
		if err := g.trainFiles(o.Train, tests, files); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// PackageName is a package name made from a model name: lower case, letters
// and digits only.
func PackageName(model string) string {
	var sb strings.Builder
	for _, r := range strings.ToLower(model) {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) && sb.Len() > 0) {
			sb.WriteRune(r)
		}
	}
	if sb.Len() == 0 || token.IsKeyword(sb.String()) || sb.String() == "main" {
		return "model" + sb.String()
	}
	return sb.String()
}

type gen struct {
	pkg      string
	external bool
	m        Model
	prog     plan.Program
	imports  map[string]bool
	// params and consts name each input and output in Go: the parameter of
	// Run, and the prefix of its exported Shape and Size.
	params, consts []string
	// constOff is where each constant slot's data starts in the weights.
	constOff map[int]int
	floats   int
}

// names picks Go names for the ports: their own where they are identifiers
// that clash with nothing the generated code declares.
func (g *gen) names() {
	taken := map[string]bool{"m": true, "a": true, "i": true, "err": true, "ArenaFloats": true, "Kernels": true, "Batch": true, "Arena": true, "Model": true}
	// Parameters must not hide the packages the generated code uses.
	for _, p := range []string{"binary", "cpu", "crc32", "errors", "exec", "fmt", "layout", "math", "os", "slices", "sync", "tensor", "testing"} {
		taken[p] = true
	}
	for _, p := range slices.Concat(g.prog.Inputs, g.prog.Outputs) {
		param := p.Name
		for taken[param] || token.IsKeyword(param) || !token.IsIdentifier(param) {
			param += "_"
		}
		taken[param] = true
		c := exported(p.Name)
		for taken[c+"Shape"] {
			c += "_"
		}
		taken[c+"Shape"] = true
		g.params, g.consts = append(g.params, param), append(g.consts, c)
	}
}

// exported makes snake_case into CamelCase.
func exported(name string) string {
	var sb strings.Builder
	up := true
	for _, r := range name {
		if r == '_' {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
		}
		up = false
		sb.WriteRune(r)
	}
	if sb.Len() == 0 {
		return "X"
	}
	return sb.String()
}

// weights lays out the constant slots one after another, as little-endian
// float32s.
func (g *gen) weights() []byte {
	g.constOff = map[int]int{}
	var blob []byte
	for i, s := range g.prog.Slots {
		if s.Kind != exec.SlotConstant && s.Kind != exec.SlotState {
			continue
		}
		g.constOff[i] = g.floats
		g.floats += len(s.Data)
		blob = littleEndian(blob, s.Data)
	}
	return blob
}

// littleEndian appends floats to dst as little-endian float32s.
func littleEndian(dst []byte, floats []float32) []byte {
	for _, v := range floats {
		dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(v))
	}
	return dst
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum is the CRC-32C of floats' bits, little-endian: how a generated
// package checks its weights and its tests check outputs.
func Checksum(floats []float32) uint32 {
	return crc32.Checksum(littleEndian(make([]byte, 0, 4*len(floats)), floats), castagnoli)
}

func (g *gen) source(blob []byte) ([]byte, error) {
	var body strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&body, format, args...) }
	prog := g.prog

	w("// Shapes of the inputs and outputs, and their sizes in elements.\nvar (\n")
	for i, p := range slices.Concat(prog.Inputs, prog.Outputs) {
		w("\t%sShape = [%d]int{%s}\n", g.consts[i], len(p.Shape), strings.Trim(strings.Join(strings.Fields(fmt.Sprint(p.Shape)), ", "), "[]"))
	}
	for i, p := range prog.Outputs {
		if labels := g.m.Labels[p.Name]; labels != nil {
			quoted := make([]string, len(labels))
			for j, l := range labels {
				quoted[j] = strconv.Quote(l)
			}
			w("\t// %sLabels names the classes of %s.\n\t%sLabels = [%d]string{%s}\n", g.consts[len(prog.Inputs)+i], p.Name, g.consts[len(prog.Inputs)+i], len(labels), strings.Join(quoted, ", "))
		}
	}
	w(")\n\nconst (\n")
	for i, p := range slices.Concat(prog.Inputs, prog.Outputs) {
		w("\t%sSize = %d\n", g.consts[i], tensor.Numel(p.Shape))
	}
	for i, p := range prog.Inputs {
		if p.DType != exec.F32 {
			w("\t// %sVocab bounds the token ids of %s: each in 0..%sVocab-1.\n\t%sVocab = %d\n", g.consts[i], p.Name, g.consts[i], g.consts[i], p.Limit)
		}
	}
	w("\t// ArenaFloats is the size of an Arena's planned memory, in float32s.\n\tArenaFloats = %d\n", prog.ArenaFloats)
	w("\t// Kernels is the kernel set the package was generated for.\n\tKernels = %q\n)\n\n", prog.Kernels)

	if !g.external {
		w("//go:embed %s.weights\nvar weightsFile []byte\n\n", g.pkg)
	}
	w("const (\n\tweightFloats = %d\n\tweightsCRC = %#08x // CRC-32C of the weights file\n)\n\n", g.floats, crc32.Checksum(blob, castagnoli))

	w("// Model is the compiled model and its weights. It is immutable once made:\n")
	w("// any number of goroutines may run it at once, each with its own Arena\n// (RunArena); Run serialises callers on one arena of its own.\n")
	w("type Model struct {\n\tprog *exec.Program\n\n\tmu sync.Mutex\n\town *Arena\n}\n\n")
	w("// Arena is the memory of one run at a time and the goroutines that share\n// its work. Close it when done.\ntype Arena = exec.Arena\n\n")

	if g.external {
		w("// Load reads the weights file %s.weights that mdlc gen wrote, checks it\n// and the kernel set, and builds the steps.\n", g.pkg)
		w("func Load(path string) (*Model, error) {\n\tdata, err := os.ReadFile(path)\n\tif err != nil {\n\t\treturn nil, fmt.Errorf(\"%s: %%w\", err)\n\t}\n\treturn load(data, path)\n}\n\n", g.pkg)
	} else {
		w("// New checks the embedded weights and the kernel set and builds the steps.\n")
		w("func New() (*Model, error) { return load(weightsFile, \"the embedded weights\") }\n\n")
	}
	w("func load(data []byte, what string) (*Model, error) {\n")
	w("\tprog := program()\n\tif !slices.Contains(cpu.Available(), prog.Kernels) {\n")
	w("\t\treturn nil, fmt.Errorf(\"%s: generated for the %%s kernels, which this CPU or build cannot run (available: %%v); regenerate with mdlc gen --kernels %%s\", prog.Kernels, cpu.Available(), cpu.Available()[0])\n\t}\n", g.pkg)
	w("\tif len(data) != 4*weightFloats || crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)) != weightsCRC {\n")
	w("\t\treturn nil, fmt.Errorf(\"%s: %%s: not this model's weights or corrupt (%%d bytes, want %%d with CRC-32C %%#08x); regenerate the package\", what, len(data), 4*weightFloats, uint32(weightsCRC))\n\t}\n", g.pkg)
	w("\tw := make([]float32, weightFloats)\n")
	w("\tfor i := range w {\n\t\tw[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))\n\t}\n")
	w("\tif err := prog.SetData(w); err != nil {\n\t\treturn nil, err\n\t}\n")
	w("\tif err := prog.Compile(); err != nil {\n\t\treturn nil, err\n\t}\n")
	w("\tm := &Model{prog: prog}\n\tm.own = prog.NewArena(1)\n\treturn m, nil\n}\n\n")

	w("// NewArena allocates an arena whose runs spread their larger steps over\n// threads goroutines (at least 1). Outputs do not depend on threads.\n")
	w("func (m *Model) NewArena(threads int) *Arena { return m.prog.NewArena(threads) }\n\n")

	args := strings.Join(g.params, ", ")
	ports := slices.Concat(prog.Inputs, prog.Outputs)
	var sig []string
	for i, p := range ports {
		sig = append(sig, g.params[i]+" "+goType(p.DType))
	}
	w("// Run computes the outputs from the inputs on the model's own arena, one\n// caller at a time. Each slice holds its tensor row-major: see the Shape and\n// Size constants.\n")
	w("func (m *Model) Run(%s) error {\n\tm.mu.Lock()\n\tdefer m.mu.Unlock()\n\treturn m.RunArena(m.own, %s)\n}\n\n", strings.Join(sig, ", "), args)
	var ins, outs []string
	for i, p := range prog.Inputs {
		field := map[exec.DType]string{exec.F32: "Floats", exec.I32: "Int32s", exec.I64: "Int64s"}[p.DType]
		ins = append(ins, fmt.Sprintf("{%s: %s}", field, g.params[i]))
	}
	outs = g.params[len(prog.Inputs):]
	w("// RunArena is Run on an arena of the caller's, made by m.NewArena. It\n// allocates nothing.\n")
	w("func (m *Model) RunArena(a *Arena, %s) error {\n", strings.Join(sig, ", "))
	w("\treturn m.prog.Run(a, []exec.Input{%s}, [][]float32{%s})\n}\n\n", strings.Join(ins, ", "), strings.Join(outs, ", "))

	const doc = "// program is the compiled plan, run by exec.Program's run loop: its steps\n// as specs, the slot table they index and the ports a run binds.\n"
	if err := g.program(w, doc+"func program() *exec.Program", g.pkg, prog, "ArenaFloats", g.imports); err != nil {
		return nil, err
	}

	var out bytes.Buffer
	out.WriteString("// Code generated by mdlc gen. DO NOT EDIT.\n\n")
	out.WriteString(g.doc())
	std := []string{"encoding/binary", "fmt", "hash/crc32", "math", "slices", "sync"}
	if g.external {
		std = append(std, "os")
	} else {
		std = append(std, "embed")
	}
	slices.Sort(std)
	fmt.Fprintf(&out, "package %s\n\nimport (\n", g.pkg)
	for _, p := range std {
		if p == "embed" {
			fmt.Fprintf(&out, "\t_ %q\n", p)
		} else {
			fmt.Fprintf(&out, "\t%q\n", p)
		}
	}
	out.WriteString("\n")
	g.imports["github.com/mdlc/mdlc/runtime/exec"] = true
	g.imports["github.com/mdlc/mdlc/runtime/kernels/cpu"] = true
	for _, p := range slices.Sorted(maps.Keys(g.imports)) {
		fmt.Fprintf(&out, "\t%q\n", p)
	}
	out.WriteString(")\n\n")
	out.WriteString(body.String())
	src, err := format.Source(out.Bytes())
	if err != nil {
		return nil, fmt.Errorf("generated code does not parse (a bug in mdlc): %w", err)
	}
	return src, nil
}

// goType is the Go slice type of a port's data.
func goType(d exec.DType) string {
	switch d {
	case exec.I32:
		return "[]int32"
	case exec.I64:
		return "[]int64"
	}
	return "[]float32"
}

// describe is a step's comment: the op, its layer and the kernel.
func describe(s plan.StepInfo) string {
	d := fmt.Sprintf("step %d: %s", s.Index, s.Op)
	if s.Layer != "" {
		d += " (" + s.Layer + ")"
	}
	return d + " -> " + s.Output + ", " + s.Kernel
}

func (g *gen) doc() string {
	var sb strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&sb, format, args...) }
	m := g.m
	w("// Package %s runs the model %s, compiled by mdlc from %s\n// (sha256 %s) for the %s kernels:\n//\n", g.pkg, m.Name, m.Source, m.SourceHash, g.prog.Kernels)
	var in, out []string
	for _, p := range g.prog.Inputs {
		in = append(in, p.Name+" "+p.DType.String()+tensor.ShapeString(p.Shape))
	}
	for _, p := range g.prog.Outputs {
		out = append(out, p.Name+" "+p.DType.String()+tensor.ShapeString(p.Shape))
	}
	w("//\t(%s) -> (%s)\n//\n", strings.Join(in, ", "), strings.Join(out, ", "))
	w("// %s parameters, %s FLOPs per example, %d steps, an arena of %s bytes.\n", commas(m.Params), commas(m.FLOPs), len(g.prog.Specs), commas(int64(4*g.prog.ArenaFloats)))
	made := "New()"
	if g.external {
		made = "Load(\"path/to/" + g.pkg + ".weights\")"
	}
	w("//\n// Use:\n//\n//\tm, err := %s.%s\n//\t...\n//\terr = m.Run(%s)\n", g.pkg, made, strings.Join(g.params, ", "))
	return sb.String()
}

func commas(n int64) string { return numfmt.Commas(n) }

// program writes decl, a function's doc and signature, and its body, which
// returns prog as a literal named name: the specs, the slot table
// (constants and state without their data, which the package binds at run
// time) and the ports; arena is the expression of its ArenaFloats. It adds
// the packages the literal names to imports.
func (g *gen) program(w func(string, ...any), decl, name string, prog plan.Program, arena string, imports map[string]bool) error {
	lit := func(v any) (string, error) {
		var sb strings.Builder
		err := literal(&sb, reflect.ValueOf(v), imports)
		return sb.String(), err
	}
	w("%s {\n\treturn &exec.Program{\n\t\tName: %q,\n\t\tKernels: %q,\n\t\tSpecs: []exec.Spec{\n", decl, name, prog.Kernels)
	for i, s := range prog.Specs {
		l, err := lit(s)
		if err != nil {
			return fmt.Errorf("step %d: %w", i, err)
		}
		w("\t\t\t// %s\n\t\t\t%s,\n", describe(prog.Info[i]), l)
	}
	w("\t\t},\n\t\tSlots: []exec.Slot{\n")
	for i, s := range prog.Slots {
		s.Data = nil
		l, err := lit(s)
		if err != nil {
			return fmt.Errorf("slot %d: %w", i, err)
		}
		w("\t\t\t%s, // %d: %s\n", strings.TrimPrefix(l, "exec.Slot"), i, prog.Labels[i])
	}
	w("\t\t},\n")
	for _, ports := range []struct {
		field string
		ports []exec.Port
	}{{"Inputs", prog.Inputs}, {"Outputs", prog.Outputs}} {
		l, err := lit(ports.ports)
		if err != nil {
			return err
		}
		w("\t\t%s: %s,\n", ports.field, l)
	}
	w("\t\tArenaFloats: %s,\n\t\tHelperScratch: %d,\n\t}\n}\n", arena, prog.HelperScratch)
	return nil
}
