package plan

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/lang/sema"
	"github.com/mdlc/mdlc/passes"
	"github.com/mdlc/mdlc/runtime/exec"
	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/kerneltest"
	"github.com/mdlc/mdlc/runtime/ref"
	"github.com/mdlc/mdlc/stdlib"
	"github.com/mdlc/mdlc/tensor"
	"github.com/mdlc/mdlc/weights"
)

// Tolerances on kerneltest.Err (the worst |got-want| / (|want| + rms(want)))
// between a plan and the reference runtime on the same graph. Plans sum in
// float32, in another order, where the reference sums in float64; the
// optimised graphs also fold batchnorm into weights, rounding differently
// again. Random graphs chain more ops, some of which amplify errors
// (division, the slopes of gelu and tanh). Observed: 3e-7 over the stdlib
// models, 1.8e-6 over the random graphs.
const (
	stdlibTol = 1e-5
	randomTol = 1e-4
)

func TestEveryOpHasARule(t *testing.T) {
	for op := ir.OpInvalid + 1; op < ir.OpLast; op++ {
		r := rules[op]
		require.True(t, r.view != (r.build != nil), "op %s needs exactly one of a view or a builder", op)
		if ir.Fusable(op) {
			require.NotNil(t, chainOps[op], "fusable op %s cannot run as a chain step", op)
		}
	}
}

// model loads a stdlib model as cmd/mdlc does.
func model(t testing.TB, file, name string) *ir.Graph {
	t.Helper()
	p, ds := (&sema.Loader{Std: stdlib.FS}).Load(file)
	require.Empty(t, ds)
	m, ds := p.Build(name)
	require.Empty(t, ds)
	return m.Graph
}

// stdlibModels lists every model of the standard library as file, name.
func stdlibModels(t testing.TB) [][2]string {
	files, err := fs.Glob(stdlib.FS, "*.mdl")
	require.NoError(t, err)
	var models [][2]string
	for _, f := range files {
		file := strings.TrimSuffix(f, ".mdl")
		p, ds := (&sema.Loader{Std: stdlib.FS}).Load(file)
		require.Empty(t, ds)
		for _, m := range p.Models() {
			models = append(models, [2]string{file, m})
		}
	}
	require.NotEmpty(t, models)
	return models
}

// stdlibWeights are weights.Init's, with the zeros and ones of biases and
// batchnorm statistics replaced by random values (variances positive), which
// would hide mistakes in how they are applied.
func stdlibWeights(t testing.TB, g *ir.Graph, r *rand.Rand) map[string]*tensor.Tensor {
	w, err := weights.Init(g, 1)
	require.NoError(t, err)
	for _, p := range g.Params {
		if p.Init.Kind == ir.InitGlorotUniform || p.Init.Kind == ir.InitUniform {
			continue
		}
		for i := range w[p.Name].Data {
			w[p.Name].Data[i] = 0.5 + r.Float32()
			if p.Init.Kind == ir.InitZeros {
				w[p.Name].Data[i] -= 1
			}
		}
	}
	return w
}

func randomInputs(g *ir.Graph, env map[string]int, r *rand.Rand) (map[string]*tensor.Tensor, []Input) {
	byName := map[string]*tensor.Tensor{}
	var list []Input
	for _, v := range g.Inputs {
		shape, err := v.Type.Shape.Bind(env)
		if err != nil {
			panic(err)
		}
		if v.Type.DType != ir.F32 {
			x := tensor.NewInts(shape...)
			limit := min(g.TokenLimit(v), 1000)
			for i := range x.Ints {
				x.Ints[i] = int64(r.IntN(limit))
			}
			byName[v.Name] = x
			list = append(list, Int64s(x.Ints))
			continue
		}
		x := tensor.New(shape...)
		for i := range x.Data {
			x.Data[i] = r.Float32()
		}
		byName[v.Name] = x
		list = append(list, Floats(x.Data))
	}
	return byName, list
}

// checkPlan builds g, runs it on inputs and compares with want; checks the
// memory plan and that a warmed-up run allocates nothing.
func checkPlan(t *testing.T, g *ir.Graph, w map[string]*tensor.Tensor, env map[string]int, in map[string]*tensor.Tensor, want map[string]*tensor.Tensor, tol float64) float64 {
	t.Helper()
	p, err := Build(g, w, env)
	require.NoError(t, err)
	require.NoError(t, p.Memory().Verify())
	got, err := p.RunTensors(in)
	require.NoError(t, err)
	worst := 0.0
	for name, x := range want {
		require.Equal(t, x.Shape, got[name].Shape, "output %s", name)
		e := kerneltest.Err(got[name].Data, x.Data)
		require.LessOrEqual(t, e, tol, "output %s", name)
		worst = max(worst, e)
	}

	inputs := make([]Input, len(g.Inputs))
	for i, v := range g.Inputs {
		inputs[i] = Input{Floats: in[v.Name].Data, Int64s: in[v.Name].Ints}
	}
	outputs := make([][]float32, len(g.Outputs))
	for i, o := range g.Outputs {
		outputs[i] = make([]float32, len(want[o.Name].Data))
	}
	a := p.NewArena()
	require.NoError(t, p.Run(a, inputs, outputs))
	allocs := testing.AllocsPerRun(3, func() {
		if err := p.Run(a, inputs, outputs); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs, "allocations per warmed-up run")
	for i, o := range g.Outputs {
		require.True(t, sameBits(got[o.Name].Data, outputs[i]), "output %s differs between Run and RunTensors", o.Name)
	}
	return worst
}

// sameBits compares float32s bit for bit, so NaNs compare equal.
func sameBits(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
}

// Every stdlib model, as checked (weights as parameters) and as optimised
// (weights bound as constants, batchnorm folded, ops fused), against the
// reference on the checked graph.
func TestStdlibModelsMatchReference(t *testing.T) {
	for _, m := range stdlibModels(t) {
		if stdlib.IsZoo(m[1]) {
			// Minutes on the reference runtime at 224×224; cmd/mdlc/zoo_test.go
			// checks the zoo's plans against torchvision instead.
			continue
		}
		for _, batch := range []int{1, 7} {
			t.Run(fmt.Sprintf("%s/N=%d", m[1], batch), func(t *testing.T) {
				if testing.Short() && batch > 1 {
					t.Skip("batch 1 covers the kernels; the reference runtime is slow on the larger models, under qemu most of all")
				}
				r := rand.New(rand.NewPCG(uint64(batch), 1))
				g := model(t, m[0], m[1])
				w := stdlibWeights(t, g, r)
				env := map[string]int{"N": batch, "T": 16} // T: the sequence length of gpt
				in, _ := randomInputs(g, env, r)
				want, err := ref.Run(g, w, in)
				require.NoError(t, err)
				e := checkPlan(t, g, w, env, in, want, stdlibTol)

				opt := model(t, m[0], m[1])
				require.NoError(t, passes.BindWeights(opt, w))
				_, err = passes.Run(opt, passes.Options{Verify: true})
				require.NoError(t, err)
				eo := checkPlan(t, opt, nil, env, in, want, stdlibTol)
				t.Logf("error %.2g, optimised %.2g", e, eo)
			})
		}
	}
}

// The seed CNN as checked: each relu overwrites its conv's output in place,
// flatten is a view, the softmax writes the caller's output.
func TestSeedCNNScheduleUnoptimised(t *testing.T) {
	g := model(t, "cnn", "cnn")
	p, err := Build(g, stdlibWeights(t, g, rand.New(rand.NewPCG(1, 1))), map[string]int{"N": 4})
	require.NoError(t, err)
	var got []string
	for _, st := range p.Schedule().Steps {
		got = append(got, fmt.Sprintf("%s %s -> %s %s %s", st.Op, st.Kernel, st.Output, st.Buffer, st.InPlace))
	}
	dense := "gemm" // 4 rows by 10 columns: GEMVs where the set's rule takes them
	if maxRowsN[p.Kernels()] >= 10 {
		dense = "gemv"
	}
	require.Equal(t, []string{
		"conv2d conv/direct -> %0 arena ",
		"relu eltwise -> %1 arena %0",
		"maxpool2d pool -> %2 arena ",
		"conv2d conv/winograd -> %3 arena ",
		"relu eltwise -> %4 arena %3",
		"maxpool2d pool -> %5 arena ",
		"dense " + dense + " -> %7 arena ",
		"softmax softmax -> %8 output probs ",
	}, got)
	require.Contains(t, p.Timeline(), "%1 ")
	require.Contains(t, p.Timeline(), "in place of %0")
}

// The seed CNN, optimised, is four steps: two fused conv+bias+relu+maxpool,
// the classifier's fused matmul (the reshape is a view) and its softmax. The
// plan holds each weight once, packed.
func TestSeedCNNSchedule(t *testing.T) {
	// The generic kernels' panels are 2 wide, so every width here packs
	// without padding (the assembly kernels' are 12 or 16).
	t.Setenv("MDLC_KERNELS", "generic")
	g := model(t, "cnn", "cnn")
	params := g.ParamCount()
	require.NoError(t, passes.BindWeights(g, stdlibWeights(t, g, rand.New(rand.NewPCG(1, 1)))))
	_, err := passes.Run(g, passes.Options{Verify: true})
	require.NoError(t, err)
	p, err := Build(g, nil, map[string]int{"N": 4})
	require.NoError(t, err)
	s := p.Schedule()
	var got []string
	for _, st := range s.Steps {
		got = append(got, fmt.Sprintf("%s %s -> %s %s %s", st.Op, st.Kernel, st.Output, st.Buffer, st.InPlace))
	}
	require.Equal(t, []string{
		"fused_conv2d conv/direct+maxpool -> %0 arena ",
		"fused_conv2d conv/winograd+maxpool -> %1 arena ",
		"fused_matmul gemm -> %3 arena ",
		"softmax softmax -> %4 output probs ",
	}, got)
	require.LessOrEqual(t, s.LowerBound, s.ArenaBytes)
	require.LessOrEqual(t, s.ArenaBytes, s.Unplanned)
	// No panel padding (every width is even), but the second conv's 3×3
	// kernel, 32 → 64, is Winograd's 16 positions: 16 floats per (cin,
	// cout) where there were 9; the first, 3 → 32, runs direct, unpacked.
	require.Equal(t, 4*(params+7*32*64), s.ConstantBytes)
	require.Contains(t, p.Timeline(), "scratch 0 (im2col panels)")
	text := s.String()
	require.Contains(t, text, "plan cnn(N=4): 4 steps, arena ")
	require.Contains(t, text, "softmax       dense     softmax")
	require.NotContains(t, text, " \n")
	_, err = json.Marshal(s)
	require.NoError(t, err)
}

// TestStepFlops: each step carries its op's FLOPs at the plan's shapes,
// which sum to the optimised graph's, what its kernel executes (Winograd's
// count for the convs), and the bytes of its operands.
func TestStepFlops(t *testing.T) {
	g := model(t, "cnn", "cnn")
	require.NoError(t, passes.BindWeights(g, stdlibWeights(t, g, rand.New(rand.NewPCG(1, 1)))))
	_, err := passes.Run(g, passes.Options{Verify: true})
	require.NoError(t, err)
	env := map[string]int{"N": 4}
	p, err := Build(g, nil, env)
	require.NoError(t, err)
	total, err := g.FlopsBound(env)
	require.NoError(t, err)
	steps := p.Schedule().Steps
	var sum int64
	for _, st := range steps {
		sum += st.Flops
		if !strings.HasPrefix(st.Kernel, "conv/winograd") {
			require.Equal(t, st.Flops, st.ExecutedFlops, "step %d (%s)", st.Index, st.Kernel)
		}
	}
	require.Equal(t, total, sum)
	// conv 2, 32 → 64 channels: 13×13 outputs pooled to 6×6, so 6×6 tiles
	// an image, each 32·32·64 + 32·32 + 24·64 operations where the direct
	// count is 2·13·13·64·288; the epilogue and pool count alike. Conv 1,
	// 3 → 32 channels, runs direct.
	conv1, conv2 := steps[0], steps[1]
	require.Equal(t, "conv/direct+maxpool", conv1.Kernel)
	require.Equal(t, "conv/winograd+maxpool", conv2.Kernel)
	require.Equal(t, conv2.Flops-2*4*13*13*64*288+4*6*6*(32*32*64+32*32+24*64), conv2.ExecutedFlops)
	require.Less(t, conv2.ExecutedFlops, conv2.Flops, "32 → 64 channels: fewer operations")
	require.Equal(t, int64(4*4*32*32*3)+4*3*3*3*32+4*32, conv1.ReadBytes, "image, kernel, bias")
	require.Equal(t, int64(4*4*10), steps[3].ReadBytes, "softmax reads the logits")
	require.Equal(t, int64(4*4*10), steps[3].Bytes)

	// Causal attention over 256 positions computes bands of 128 query rows
	// against the keys up to their last row: 3/4 of the scores.
	g = model(t, "gpt", "gpt")
	require.NoError(t, passes.BindWeights(g, stdlibWeights(t, g, rand.New(rand.NewPCG(1, 1)))))
	_, err = passes.Run(g, passes.Options{})
	require.NoError(t, err)
	p, err = Build(g, nil, map[string]int{"N": 1, "T": 256})
	require.NoError(t, err)
	attention := 0
	for _, st := range p.Schedule().Steps {
		if st.Op == "attention" {
			attention++
			require.Equal(t, st.Flops*3/4, st.ExecutedFlops)
		} else {
			require.Equal(t, st.Flops, st.ExecutedFlops, "step %d (%s)", st.Index, st.Op)
		}
	}
	require.Equal(t, 4, attention)
}

// Several goroutines running one plan, each with its own arena, get what a
// single goroutine gets. Run it with -race.
func TestConcurrentRuns(t *testing.T) {
	g := model(t, "resnet", "resnet")
	r := rand.New(rand.NewPCG(3, 3))
	w := stdlibWeights(t, g, r)
	env := map[string]int{"N": 2}
	p, err := Build(g, w, env)
	require.NoError(t, err)

	const workers, runs = 4, 3
	inputs := make([][]Input, workers)
	want := make([][]float32, workers)
	for i := range workers {
		_, inputs[i] = randomInputs(g, env, r)
		want[i] = make([]float32, 2*10)
		require.NoError(t, p.Run(p.NewArena(), inputs[i], [][]float32{want[i]}))
	}
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for i := range workers {
		wg.Go(func() {
			a := p.NewArena()
			out := make([]float32, 2*10)
			for range runs {
				if err := p.Run(a, inputs[i], [][]float32{out}); err != nil {
					errs[i] = err
					return
				}
				for j := range out {
					if out[j] != want[i][j] {
						errs[i] = fmt.Errorf("worker %d: output %d is %v, want %v", i, j, out[j], want[i][j])
						return
					}
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
}

func TestRunErrors(t *testing.T) {
	g := model(t, "cnn", "cnn")
	w := stdlibWeights(t, g, rand.New(rand.NewPCG(1, 1)))
	p, err := Build(g, w, map[string]int{"N": 2})
	require.NoError(t, err)
	a := p.NewArena()
	in, out := make([]float32, 2*32*32*3), make([]float32, 2*10)

	require.EqualError(t, p.Run(a, []Input{Floats(in[:5])}, [][]float32{out}),
		`plan cnn: input "image" holds 5 values, want 6144 for [2,32,32,3]`)
	require.EqualError(t, p.Run(a, []Input{Floats(in)}, [][]float32{out[:3]}),
		`plan cnn: output "probs" holds 3 values, want 20 for [2,10]`)
	require.EqualError(t, p.Run(a, nil, [][]float32{out}), `plan cnn: 0 inputs given, the graph has 1 ([image])`)
	require.EqualError(t, p.Run(a, []Input{Floats(in)}, [][]float32{out, out}), `plan cnn: 2 outputs given, the graph has 1 ([probs])`)
	other, err := Build(g, w, map[string]int{"N": 2})
	require.NoError(t, err)
	require.ErrorContains(t, other.Run(a, []Input{Floats(in)}, [][]float32{out}), "the arena was not made by this program's NewArena")

	_, err = p.RunTensors(map[string]*tensor.Tensor{"image": tensor.New(3, 32, 32, 3)})
	require.EqualError(t, err, `plan cnn: input "image" is [3,32,32,3], the plan was built for [2,32,32,3]`)
	require.Equal(t, []Port{{Name: "image", Shape: []int{2, 32, 32, 3}, DType: ir.F32}}, p.Inputs())
	require.Equal(t, []Port{{Name: "probs", Shape: []int{2, 10}, DType: ir.F32}}, p.Outputs())
}

// TestForeignKernels: a plan for a set this process cannot run packs its
// weights in that set's layout, and refuses to run.
func TestForeignKernels(t *testing.T) {
	foreign := cpu.NEON
	if slices.Contains(cpu.Available(), foreign) {
		foreign = cpu.AVX2
	}
	g := model(t, "cnn", "cnn")
	w := stdlibWeights(t, g, rand.New(rand.NewPCG(1, 1)))
	p, err := Build(g, w, map[string]int{"N": 1}, Kernels(foreign))
	require.NoError(t, err)
	require.Equal(t, foreign, p.Program().Kernels)
	in, out := make([]float32, 32*32*3), make([]float32, 10)
	require.ErrorContains(t, p.Run(p.NewArena(), []Input{Floats(in)}, [][]float32{out}), "cannot run")
}

func TestBuildErrors(t *testing.T) {
	g := model(t, "cnn", "cnn")
	w := stdlibWeights(t, g, rand.New(rand.NewPCG(1, 1)))

	_, err := Build(g, w, nil)
	require.EqualError(t, err, "graph cnn: value image f32[N,32,32,3]: dimension N is not bound (bind it in env)")
	_, err = Build(g, w, map[string]int{"N": 0})
	require.EqualError(t, err, "graph cnn: value image f32[N,32,32,3]: dimensions bound to [0,32,32,3], each must be at least 1")

	delete(w, "dense.bias")
	_, err = Build(g, w, map[string]int{"N": 1})
	require.EqualError(t, err, "graph cnn: no weights for parameter dense.bias f32[10]")
	w["dense.bias"] = tensor.New(11)
	_, err = Build(g, w, map[string]int{"N": 1})
	require.EqualError(t, err, "graph cnn: weights for parameter dense.bias have shape [11] (11 values), want f32[10]")

	_, err = Build(g, w, map[string]int{"N": 1}, Threads(0))
	require.EqualError(t, err, "graph cnn: 0 threads: a plan needs at least one")
	t.Setenv("MDLC_KERNELS", "sse9")
	_, err = Build(g, w, map[string]int{"N": 1})
	require.ErrorContains(t, err, "graph cnn: MDLC_KERNELS=sse9: unknown kernel set")
	t.Setenv("MDLC_KERNELS", "")

	g.Outputs = nil
	_, err = Build(g, w, map[string]int{"N": 1})
	require.ErrorContains(t, err, "graph cnn does not verify: graph cnn has no outputs")
}

// Outputs that are inputs, constants, views of other outputs, or the same
// value twice are copied into the caller's slices; a view of a computed value
// is computed into the output directly.
func TestOutputsThatNeedCopies(t *testing.T) {
	g := ir.NewGraph("outs")
	x := g.AddInput("x", ir.T("N", 6))
	c := g.AddConst("c", ir.T(2, 3), []float32{1, 2, 3, 4, 5, 6})
	y, err := g.AddNode(ir.OpRelu, nil, []*ir.Value{x}, "relu", ir.Pos{})
	require.NoError(t, err)
	flat, err := g.AddNode(ir.OpReshape, &ir.ReshapeAttrs{Shape: ir.Shape{ir.S("N"), ir.D(2), ir.D(3)}}, []*ir.Value{y}, "reshape", ir.Pos{})
	require.NoError(t, err)
	g.AddOutput("x", x)
	g.AddOutput("c", c)
	g.AddOutput("flat", flat)
	g.AddOutput("y", y)
	g.AddOutput("y2", y)

	p, err := Build(g, nil, map[string]int{"N": 1})
	require.NoError(t, err)
	in := &tensor.Tensor{Shape: []int{1, 6}, Data: []float32{-1, 2, -3, 4, -5, 6}}
	got, err := p.RunTensors(map[string]*tensor.Tensor{"x": in})
	require.NoError(t, err)
	want, err := ref.Run(g, nil, map[string]*tensor.Tensor{"x": in})
	require.NoError(t, err)
	require.Equal(t, want, got)
	var buffers []string
	for _, s := range p.Schedule().Steps {
		buffers = append(buffers, s.Op+" "+s.Buffer)
	}
	require.Equal(t, []string{"relu output flat", "copy output x", "copy output c", "copy output y", "copy output y2"}, buffers)
}

// TestTokenIDs: token ids go in as int32 or int64, are checked against the
// vocabulary before anything runs, and are refused as floats.
func TestTokenIDs(t *testing.T) {
	g := model(t, "bert", "bert_classifier")
	w := stdlibWeights(t, g, rand.New(rand.NewPCG(1, 1)))
	p, err := Build(g, w, map[string]int{"N": 2})
	require.NoError(t, err)
	require.Equal(t, []Port{{Name: "ids", Shape: []int{2, 128}, DType: ir.I32, Limit: 2048}}, p.Inputs())
	a := p.NewArena()
	ids32, ids64 := make([]int32, 2*128), make([]int64, 2*128)
	for i := range ids32 {
		ids32[i], ids64[i] = int32(i%100), int64(i%100)
	}
	out32, out64 := make([]float32, 4), make([]float32, 4)
	require.NoError(t, p.Run(a, []Input{Int32s(ids32)}, [][]float32{out32}))
	require.NoError(t, p.Run(a, []Input{Int64s(ids64)}, [][]float32{out64}))
	require.Equal(t, out32, out64)
	allocs := testing.AllocsPerRun(3, func() {
		if err := p.Run(a, []Input{Int32s(ids32)}, [][]float32{out32}); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs)

	ids64[130] = 2048
	require.EqualError(t, p.Run(a, []Input{Int64s(ids64)}, [][]float32{out64}),
		`plan bert_classifier: input "ids": token id 2048 at [1,2] is outside the vocabulary: ids must be in 0..2047`)
	ids32[0] = -1
	require.ErrorContains(t, p.Run(a, []Input{Int32s(ids32)}, [][]float32{out32}), "token id -1 at [0,0]")
	require.EqualError(t, p.Run(a, []Input{Floats(make([]float32, 256))}, [][]float32{out32}),
		`plan bert_classifier: input "ids" is token ids (i32[2,128]), got floats: pass the ids as Int32s or Int64s`)
	require.EqualError(t, p.Run(a, []Input{{Int32s: ids32, Int64s: ids64}}, [][]float32{out32}),
		`plan bert_classifier: input "ids": give exactly one of Floats, Int32s and Int64s`)
}

// TestDTypesAgree: plan converts ir.DType to exec.DType by number.
func TestDTypesAgree(t *testing.T) {
	for _, d := range []ir.DType{ir.F32, ir.I32, ir.I64} {
		require.Equal(t, d.String(), exec.DType(d).String())
	}
}

// An index out of range stops the run with an error naming it.
func TestGatherIndexOutOfRange(t *testing.T) {
	g := ir.NewGraph("pick")
	x := g.AddInput("x", ir.T("N", 3))
	i := g.AddInput("i", ir.T("N", 2))
	v, err := g.AddNode(ir.OpGather, &ir.GatherAttrs{Axis: 1, BatchDims: 1}, []*ir.Value{x, i}, "pick", ir.Pos{})
	require.NoError(t, err)
	g.AddOutput("y", v)
	p, err := Build(g, nil, map[string]int{"N": 2})
	require.NoError(t, err)
	in := map[string]*tensor.Tensor{"x": tensor.New(2, 3), "i": {Shape: []int{2, 2}, Data: []float32{0, -3, 2, 3}}}
	_, err = p.RunTensors(in)
	require.ErrorContains(t, err, `gather (layer "pick"): index 3 at [1,1] of the indices [2 2] is not an integer in -3..2`)
	in["i"].Data[3] = 0.5
	_, err = p.RunTensors(in)
	require.ErrorContains(t, err, "index 0.5 at [1,1]")
	in["i"].Data[3] = 1
	_, err = p.RunTensors(in)
	require.NoError(t, err)
}
