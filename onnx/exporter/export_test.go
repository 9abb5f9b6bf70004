package exporter_test

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/compile"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/onnx"
	"github.com/mdlc/mdlc/stdlib"
	"github.com/mdlc/mdlc/tensor"
	"github.com/mdlc/mdlc/weights"
)

// tolerance bounds max|mdlc - other| / max|mdlc| over an output: float32
// arithmetic in another order (im2col vs direct convolution, fused vs
// unfused epilogues) and nothing else.
const tolerance = 1e-5

// bigModels are left out of -short runs: hundreds of MB of weights each,
// encoded, decoded and run three times.
var bigModels = map[string]bool{"vgg16": true, "resnet50": true, "efficientnet_b0": true, "cnn224": true}

// fixed are the dimensions fixed in the exported file: mdlc's ONNX frontend
// needs a slice's bounds known when compiling, and gpt's learned positions
// are sliced to T (TestSymbolicLength runs gpt with T symbolic in ONNX
// Runtime).
var fixed = map[string]map[string]int{"gpt": {"T": 16}}

// importGaps are the models mdlc's ONNX frontend cannot read back, and why:
// the export is checked by ONNX's checker and ONNX Runtime only. The test
// fails when one imports, so the entry goes when the importer learns it.
var importGaps = map[string]string{
	"resize_ratio": "scales that are not whole ratios: mdlc's importer reads a resize by them only as sizes, which the exporter writes when the batch is fixed (TestResizeSizes)",
}

// stdlibModels lists the stdlib files that declare a model.
func stdlibModels(t *testing.T) []string {
	files, err := fs.Glob(stdlib.FS, "*.mdl")
	require.NoError(t, err)
	var names []string
	for _, f := range files {
		name := strings.TrimSuffix(f, ".mdl")
		if _, err := (&compile.Options{}).Load(name); err == nil {
			names = append(names, name)
		}
	}
	require.Greater(t, len(names), 15)
	return names
}

// exported is one stdlib model written as ONNX, with the inputs and
// outputs of mdlc's own run of the .mdl to compare against.
type exported struct {
	name   string
	path   string
	inputs map[string]*tensor.Tensor
	want   map[string]*tensor.Tensor
}

// perturbedWeights writes the model's initial weights with noise added,
// so that biases, batchnorm's statistics and layer norms' shifts (zero or
// one when initialised) take part in the comparison: each value moves by
// up to ±0.05, and a variance is scaled by up to 1.5.
func perturbedWeights(t *testing.T, name, dir string) string {
	m, err := (&compile.Options{}).Load(name)
	require.NoError(t, err)
	ts, err := weights.Init(m.Graph, 1)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(uint64(len(name)), 11))
	for _, k := range slices.Sorted(maps.Keys(ts)) {
		for i, v := range ts[k].Data {
			if strings.HasSuffix(k, "variance") {
				ts[k].Data[i] = v * (1 + 0.5*rng.Float32())
			} else {
				ts[k].Data[i] = v + 0.1*(rng.Float32()-0.5)
			}
		}
	}
	path := filepath.Join(dir, base(name)+".safetensors")
	require.NoError(t, weights.WriteFile(path, ts, nil))
	return path
}

func export(t *testing.T, name, dir string, dims map[string]int) *exported {
	wpath := perturbedWeights(t, name, dir)
	defer os.Remove(wpath)
	o := &compile.Options{Weights: wpath}
	m, err := o.Load(name)
	require.NoError(t, err)
	om, _, err := o.Export(m, dims)
	require.NoError(t, err, name)
	b, err := onnx.Encode(om)
	require.NoError(t, err)
	path := filepath.Join(dir, base(name)+".onnx")
	require.NoError(t, os.WriteFile(path, b, 0o644))

	ro := &compile.Options{Weights: wpath}
	rm, err := ro.Load(name)
	require.NoError(t, err)
	shape := compile.Shape{Batch: 2, Dims: map[string]int{}}
	for k, v := range dims {
		if k == compile.BatchSymbol(rm.Graph) {
			shape.Batch = v
		} else {
			shape.Dims[k] = v
		}
	}
	c, err := ro.Compile(rm, shape, nil)
	require.NoError(t, err)
	in, err := compile.Samples(rm, c.Env, 7)
	require.NoError(t, err)
	want, err := ro.Execute(c, in)
	require.NoError(t, err)
	return &exported{name: name, path: path, inputs: in, want: want}
}

// base is a model's file name without folder and extension.
func base(model string) string {
	return strings.TrimSuffix(filepath.Base(model), filepath.Ext(model))
}

// relMax is max|got - want| / max|want|.
func relMax(got, want []float32) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	var d, m float64
	for i := range want {
		d = math.Max(d, math.Abs(float64(got[i])-float64(want[i])))
		m = math.Max(m, math.Abs(float64(want[i])))
	}
	if math.IsNaN(d) {
		return math.Inf(1)
	}
	return d / math.Max(m, 1e-30)
}

// TestStdlibRoundTrip: every stdlib model exports, and mdlc's ONNX frontend
// runs the file to the outputs of the .mdl; ONNX's checker and ONNX Runtime
// agree where they are installed.
func TestStdlibRoundTrip(t *testing.T) {
	dir := t.TempDir()
	ort := ortScript(t)
	for _, name := range stdlibModels(t) {
		t.Run(name, func(t *testing.T) {
			if testing.Short() && bigModels[name] {
				t.Skip("a large model: left out of -short")
			}
			roundTrip(t, name, dir, ort)
		})
	}
}

// TestOps: the programs of testdata exercise the ops and forms no stdlib
// model has (every unary op, comparisons, reductions, pads, transposed and
// depthwise convolutions, resizes, recurrent cells in each direction).
func TestOps(t *testing.T) {
	dir := t.TempDir()
	ort := ortScript(t)
	files, err := filepath.Glob("testdata/*.mdl")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(base(f), func(t *testing.T) { roundTrip(t, f, dir, ort) })
	}
}

// roundTrip exports a model, checks the file, runs it in ONNX Runtime and
// through mdlc's ONNX frontend, and compares both with mdlc's run of it.
func roundTrip(t *testing.T, name, dir, ort string) {
	ex := export(t, name, dir, fixed[name])
	defer os.Remove(ex.path)
	checkModel(t, ex.path)
	if ort != "" {
		runORT(t, ort, ex)
	}

	o := &compile.Options{}
	m, err := o.Load(ex.path)
	if gap := importGaps[base(name)]; gap != "" {
		require.Error(t, err, "%s imports now: remove it from importGaps", name)
		t.Logf("%s: no round trip: %s", name, gap)
		return
	}
	require.NoError(t, err, "mdlc imports what it exported")
	c, err := o.Compile(m, compile.Shape{Dims: map[string]int{}}, ex.inputs)
	require.NoError(t, err)
	got, err := o.Execute(c, ex.inputs)
	require.NoError(t, err)
	for out, w := range ex.want {
		e := relMax(got[out].Data, w.Data)
		t.Logf("%s: round trip %s max error %.2g", name, out, e)
		assert.Less(t, e, tolerance, "%s output %s through mdlc's ONNX frontend", name, out)
	}
}

// checkModel runs onnx.checker.check_model (full_check: shape inference
// too) when python3's onnx package is installed.
func checkModel(t *testing.T, path string) {
	py := "/usr/bin/python3"
	if exec.Command(py, "-c", "import onnx.checker").Run() != nil {
		t.Log("no python3-onnx: the ONNX checker is not run")
		return
	}
	out, err := exec.Command(py, "-c", "import sys, onnx; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)", path).CombinedOutput()
	assert.NoError(t, err, "onnx.checker: %s", out)
}

// ortScript is bench/ort_outputs.js when node and onnxruntime-node are
// installed (bench/.work/node_modules, as bench/run.sh installs them, or
// MDLC_ORT_MODULES naming a node_modules folder to link there), else "".
func ortScript(t *testing.T) string {
	bench, err := filepath.Abs("../../bench")
	require.NoError(t, err)
	if _, err := exec.LookPath("node"); err != nil {
		t.Log("no node: ONNX Runtime is not run")
		return ""
	}
	modules := filepath.Join(bench, ".work", "node_modules")
	if env := os.Getenv("MDLC_ORT_MODULES"); env != "" {
		if _, err := os.Stat(modules); os.IsNotExist(err) {
			require.NoError(t, os.MkdirAll(filepath.Dir(modules), 0o755))
			require.NoError(t, os.Symlink(env, modules))
		}
	}
	if _, err := os.Stat(filepath.Join(modules, "onnxruntime-node")); err != nil {
		t.Log("no onnxruntime-node in bench/.work/node_modules (set MDLC_ORT_MODULES): ONNX Runtime is not run")
		return ""
	}
	return filepath.Join(bench, "ort_outputs.js")
}

// runORT runs ONNX Runtime on the exported file and compares its outputs.
func runORT(t *testing.T, script string, ex *exported) {
	dir := t.TempDir()
	args := []string{script, ex.path, filepath.Join(dir, "out_")}
	for name, in := range ex.inputs {
		p := filepath.Join(dir, "in_"+name+".npy")
		require.NoError(t, writeInput(p, in, ex))
		args = append(args, name+"="+p)
	}
	out, err := exec.Command("node", args...).CombinedOutput()
	require.NoError(t, err, "ONNX Runtime: %s", out)
	for name, w := range ex.want {
		got, err := tensor.ReadNpyFile(filepath.Join(dir, "out_"+name+".npy"))
		require.NoError(t, err)
		assert.Equal(t, w.Shape, got.Shape, name)
		e := relMax(got.Data, w.Data)
		t.Logf("%s: ONNX Runtime %s max error %.2g", ex.name, name, e)
		assert.Less(t, e, tolerance, "%s output %s in ONNX Runtime", ex.name, name)
	}
}

// writeInput writes an input as .npy: float32, or token ids as the
// model's integer type (ONNX Runtime does not convert int64 to int32).
func writeInput(path string, in *tensor.Tensor, ex *exported) error {
	m, err := (&compile.Options{}).Load(ex.name)
	if err != nil {
		return err
	}
	for _, v := range m.Graph.Inputs {
		if v.Type.DType == ir.I32 && in.IsInt() {
			return writeInt32Npy(path, in)
		}
	}
	return tensor.WriteNpyFile(path, in)
}

func writeInt32Npy(path string, in *tensor.Tensor) error {
	dims := make([]string, len(in.Shape))
	for i, d := range in.Shape {
		dims[i] = fmt.Sprint(d)
	}
	shape := strings.Join(dims, ", ")
	if len(dims) == 1 {
		shape += ","
	}
	h := fmt.Sprintf("{'descr': '<i4', 'fortran_order': False, 'shape': (%s), }", shape)
	h += strings.Repeat(" ", (64-(10+len(h)+1)%64)%64) + "\n"
	b := append([]byte("\x93NUMPY\x01\x00"), byte(len(h)), byte(len(h)>>8))
	b = append(b, h...)
	for _, v := range in.Ints {
		b = binary.LittleEndian.AppendUint32(b, uint32(int32(v)))
	}
	return os.WriteFile(path, b, 0o644)
}

// TestSymbolicLength: gpt exported with N and T symbolic (its learned
// positions sliced by Shape, its causal mask made by Trilu) runs in ONNX
// Runtime at two lengths as mdlc runs it.
func TestSymbolicLength(t *testing.T) {
	ort := ortScript(t)
	if ort == "" {
		t.Skip("no ONNX Runtime")
	}
	dir := t.TempDir()
	o := &compile.Options{Seed: 1}
	m, err := o.Load("gpt")
	require.NoError(t, err)
	om, _, err := o.Export(m, nil)
	require.NoError(t, err)
	assert.Equal(t, "tensor(int32)[N,T]", om.Graph.Inputs[0].Type.String())
	b, err := onnx.Encode(om)
	require.NoError(t, err)
	path := filepath.Join(dir, "gpt.onnx")
	require.NoError(t, os.WriteFile(path, b, 0o644))
	checkModel(t, path)
	for _, length := range []int{9, 16} {
		shape := compile.Shape{Batch: 1, Dims: map[string]int{"T": length}}
		ro := &compile.Options{Seed: 1}
		rm, err := ro.Load("gpt")
		require.NoError(t, err)
		c, err := ro.Compile(rm, shape, nil)
		require.NoError(t, err)
		in, err := compile.Samples(rm, c.Env, 7)
		require.NoError(t, err)
		want, err := ro.Execute(c, in)
		require.NoError(t, err)
		runORT(t, ort, &exported{name: "gpt", path: path, inputs: in, want: want})
	}
}

// TestResizeSizes: with the batch fixed, a resize is written with sizes,
// which mdlc's importer reads back.
func TestResizeSizes(t *testing.T) {
	dir := t.TempDir()
	ex := export(t, "testdata/resize_ratio.mdl", dir, map[string]int{"N": 2})
	m, err := onnx.ReadFile(ex.path, 1<<30)
	require.NoError(t, err)
	var resize *onnx.Node
	for _, n := range m.Graph.Nodes {
		if n.OpType == "Resize" {
			resize = n
		}
	}
	require.NotNil(t, resize)
	assert.Len(t, resize.Inputs, 4, "X, roi, scales, sizes")
	o := &compile.Options{}
	im, err := o.Load(ex.path)
	require.NoError(t, err)
	c, err := o.Compile(im, compile.Shape{Dims: map[string]int{}}, ex.inputs)
	require.NoError(t, err)
	got, err := o.Execute(c, ex.inputs)
	require.NoError(t, err)
	assert.Less(t, relMax(got["y"].Data, ex.want["y"].Data), tolerance)
}
