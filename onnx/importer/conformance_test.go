package importer_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/mdlc/mdlc/compile"
	"github.com/mdlc/mdlc/internal/golden"
	"github.com/mdlc/mdlc/internal/size"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/onnx"
	"github.com/mdlc/mdlc/onnx/importer"
	"github.com/mdlc/mdlc/tensor"
	"github.com/mdlc/mdlc/weights"
)

// testData is Debian's libonnx-testdata: ONNX's backend test cases, each a
// model.onnx with inputs and expected outputs as TensorProto files.
const testData = "/usr/share/libonnx-testdata/data"

// suites are the folders of test cases (Debian ships "real", the whole
// networks, as references to download only).
var suites = []string{"node", "pytorch-converted", "pytorch-operator", "simple"}

// TestConformance imports and runs every ONNX backend test case and records
// which pass in testdata/conformance.golden, with the ops of its graph and
// the first line of the reason for each that does not: a case that starts
// or stops passing changes the file (go test -update to accept), and
// TestCoverage makes docs/onnx-coverage.md from it. Outputs must match within
// relative 1e-3 and absolute 1e-4: the backend tests' relative tolerance,
// and an absolute one for float32 sums taken in another order.
func TestConformance(t *testing.T) {
	if _, err := os.Stat(testData); err != nil {
		t.Skipf("%s: %v (apt-get install libonnx-testdata)", testData, err)
	}
	if testing.Short() {
		t.Skip("short")
	}
	dirs := suites
	var lines []string
	counts := map[string][2]int{}
	for _, suite := range dirs {
		cases, err := os.ReadDir(filepath.Join(testData, suite))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			dir := filepath.Join(testData, suite, c.Name())
			if _, err := os.Stat(filepath.Join(dir, "model.onnx")); err != nil {
				continue
			}
			result := runCase(t, dir)
			ops, err := graphOps(filepath.Join(dir, "model.onnx"))
			if err != nil {
				t.Fatal(err)
			}
			k := counts[suite]
			k[1]++
			if result == "ok" {
				k[0]++
			}
			counts[suite] = k
			lines = append(lines, suite+"/"+c.Name()+" ["+strings.Join(ops, " ")+"]: "+result)
		}
	}
	var head []string
	for _, suite := range dirs {
		head = append(head, fmt.Sprintf("# %s: %d of %d pass", suite, counts[suite][0], counts[suite][1]))
		t.Logf("%s: %d of %d pass", suite, counts[suite][0], counts[suite][1])
	}
	golden.Check(t, "testdata/conformance.golden", strings.Join(append(head, lines...), "\n")+"\n")
}

// runCase imports, compiles and runs one case on each of its data sets, and
// says "ok" or why not. A panic fails the test: mdlc must refuse, not crash.
func runCase(t *testing.T, dir string) (result string) {
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: panic: %v\n%s", dir, r, debug.Stack())
			result = "panic"
		}
	}()
	o := &compile.Options{Budget: 1 << 30}
	m, err := o.Load(filepath.Join(dir, "model.onnx"))
	if err != nil {
		return "import: " + firstLine(err)
	}
	sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	if len(sets) == 0 {
		return "no data sets"
	}
	for _, set := range sets {
		inputs := map[string]*tensor.Tensor{}
		for i, in := range m.Graph.Inputs {
			x, typ, err := readPB(filepath.Join(set, fmt.Sprintf("input_%d.pb", i)))
			if err != nil {
				return "data: " + firstLine(err)
			}
			if in.Type.DType == ir.F32 && x.IsInt() && typ != onnx.Bool {
				// bfloat16 test inputs are stored as their uint16 bits.
				return "data: input " + in.Name + " is stored as " + typ.String() + " for a float input"
			}
			if in.Type.DType == ir.F32 {
				x = x.Floats() // ONNX's bool inputs are f32 masks in mdlc
			}
			inputs[in.Name] = x
		}
		c, err := o.Compile(m, compile.Shape{}, inputs)
		if err != nil {
			return "compile: " + firstLine(err)
		}
		outs, err := o.Execute(c, inputs)
		if err != nil {
			return "run: " + firstLine(err)
		}
		for i, out := range m.Graph.Outputs {
			want, _, err := readPB(filepath.Join(set, fmt.Sprintf("output_%d.pb", i)))
			if err != nil {
				return "data: " + firstLine(err)
			}
			if msg := compare(outs[out.Name], want); msg != "" {
				return "wrong: output " + out.Name + ": " + msg
			}
		}
	}
	return "ok"
}

// graphOps are the op types a model's graph uses, sorted, those of other
// domains than ONNX's own written domain:op.
func graphOps(path string) ([]string, error) {
	m, err := onnx.ReadFile(path, size.Budget(1<<30))
	if err != nil {
		return nil, err
	}
	var ops []string
	for _, n := range m.Graph.Nodes {
		op := n.OpType
		if n.Domain != "" && n.Domain != "ai.onnx" {
			op = n.Domain + ":" + op
		}
		if !slices.Contains(ops, op) {
			ops = append(ops, op)
		}
	}
	slices.Sort(ops)
	return ops, nil
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	// The case names the file; the message need not.
	if _, rest, ok := strings.Cut(s, "model.onnx: "); ok {
		s = rest
	}
	return s
}

// readPB reads a TensorProto file as mdlc's tensor, and its ONNX type.
func readPB(path string) (*tensor.Tensor, onnx.DataType, error) {
	pt, err := onnx.ReadTensorFile(path, size.Budget(1<<30))
	if err != nil {
		return nil, 0, err
	}
	shape := make([]int, len(pt.Dims))
	for i, d := range pt.Dims {
		shape[i] = int(d)
	}
	switch pt.DataType {
	case onnx.Float, onnx.Double, onnx.Float16, onnx.BFloat16:
		f, err := pt.Float32s()
		return &tensor.Tensor{Shape: shape, Data: f}, pt.DataType, err
	}
	ints, err := pt.Int64s()
	if err != nil {
		return nil, 0, err
	}
	return &tensor.Tensor{Shape: shape, Ints: ints}, pt.DataType, nil
}

// compare checks got against want: shape, then values.
func compare(got, want *tensor.Tensor) string {
	if got == nil {
		return "missing"
	}
	if !slices.Equal(got.Shape, want.Shape) {
		return fmt.Sprintf("shape %v, want %v", got.Shape, want.Shape)
	}
	g, w := got.Floats().Data, want.Floats().Data
	for i := range w {
		a, b := float64(g[i]), float64(w[i])
		if math.IsNaN(a) && math.IsNaN(b) || a == b {
			continue
		}
		if math.Abs(a-b) > 1e-4+1e-3*math.Abs(b) {
			return fmt.Sprintf("element %d is %g, want %g", i, a, b)
		}
	}
	return ""
}

// TestCumSumConstantAxis runs ONNX's CumSum cases with their axis, a model
// input there, made an initializer, as exporters write it: the cases
// themselves count in TestConformance as refused, since mdlc needs the
// axis when importing.
func TestCumSumConstantAxis(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join(testData, "node", "test_cumsum_*"))
	if len(dirs) == 0 {
		t.Skipf("%s: no CumSum cases (apt-get install libonnx-testdata)", testData)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			m, err := onnx.ReadFile(filepath.Join(dir, "model.onnx"), size.Budget(1<<30))
			if err != nil {
				t.Fatal(err)
			}
			set := filepath.Join(dir, "test_data_set_0")
			axis, err := onnx.ReadTensorFile(filepath.Join(set, "input_1.pb"), size.Budget(1<<20))
			if err != nil {
				t.Fatal(err)
			}
			axis.Name = m.Graph.Inputs[1].Name
			m.Graph.Initializers = append(m.Graph.Initializers, axis)
			m.Graph.Inputs = m.Graph.Inputs[:1]
			p, err := importer.Import(m, importer.Options{Name: "cumsum", Budget: 1 << 30})
			if err != nil {
				t.Fatal(err)
			}
			tmp := t.TempDir()
			src, w := filepath.Join(tmp, "cumsum.mdl"), filepath.Join(tmp, "cumsum.safetensors")
			if err := os.WriteFile(src, p.Source, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := weights.WriteFile(w, p.Weights, nil); err != nil {
				t.Fatal(err)
			}
			o := &compile.Options{Weights: w, Budget: 1 << 30}
			cm, err := o.Load(src)
			if err != nil {
				t.Fatal(err)
			}
			x, _, err := readPB(filepath.Join(set, "input_0.pb"))
			if err != nil {
				t.Fatal(err)
			}
			inputs := map[string]*tensor.Tensor{p.Inputs[0].MDL: x}
			c, err := o.Compile(cm, compile.Shape{}, inputs)
			if err != nil {
				t.Fatal(err)
			}
			outs, err := o.Execute(c, inputs)
			if err != nil {
				t.Fatal(err)
			}
			want, _, err := readPB(filepath.Join(set, "output_0.pb"))
			if err != nil {
				t.Fatal(err)
			}
			if msg := compare(outs[p.Outputs[0].MDL], want); msg != "" {
				t.Errorf("%s\n%s", msg, p.Source)
			}
		})
	}
}
