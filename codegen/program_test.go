package codegen

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime/exec"
	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/plan"
	"github.com/mdlc/mdlc/tensor"
)

// TestWeightsFillStateAndConstants: the weights file holds the constant and
// state slots in the order exec.Program.SetData reads them, so a generated
// program of a plan built for training gets its state back.
func TestWeightsFillStateAndConstants(t *testing.T) {
	g := ir.NewGraph("sgd")
	x := g.AddInput("x", ir.T(1, 3))
	p := g.AddParam("p", ir.T(3, 2), ir.Init{Kind: ir.InitZeros}, true)
	bias := g.AddConst("bias", ir.T(2), []float32{7, 8})
	y, err := g.AddNode(ir.OpMatMul, &ir.MatMulAttrs{}, []*ir.Value{x, p}, "", ir.Pos{})
	require.NoError(t, err)
	y, err = g.AddNode(ir.OpAdd, nil, []*ir.Value{y, bias}, "", ir.Pos{})
	require.NoError(t, err)
	half := g.AddConst("half", ir.T(1), []float32{0.5})
	update, err := g.AddNode(ir.OpMul, nil, []*ir.Value{p, half}, "", ir.Pos{})
	require.NoError(t, err)
	g.AddOutput("y", y)
	pl, err := plan.Build(g, map[string]*tensor.Tensor{"p": {Shape: []int{3, 2}, Data: []float32{1, 2, 3, 4, 5, 6}}}, nil,
		plan.Kernels(cpu.Generic), plan.Train(map[string]*ir.Value{"p": update}))
	require.NoError(t, err)
	prog := pl.Program()
	files, err := Generate(prog, Options{Package: "sgd", Model: Model{Name: "sgd"}})
	require.NoError(t, err)
	require.Regexp(t, `\{Kind: exec.SlotState, N: 6\}, +// 1: @p\n`, string(files["sgd.go"]))

	blob := files["sgd.weights"]
	floats := make([]float32, len(blob)/4)
	for i := range floats {
		floats[i] = math.Float32frombits(binary.LittleEndian.Uint32(blob[4*i:]))
	}
	back := &exec.Program{Name: "sgd", Slots: make([]exec.Slot, len(prog.Slots))}
	for i, s := range prog.Slots {
		back.Slots[i] = exec.Slot{Kind: s.Kind, Off: s.Off, N: s.N}
	}
	require.NoError(t, back.SetData(floats))
	for i, s := range prog.Slots {
		require.Equal(t, s.Data, back.Slots[i].Data, "slot %d %s", i, strings.TrimSpace(prog.Labels[i]))
	}
}

// TestGenerateBackwardSteps: the gradient ops' steps are plain data that
// Generate writes as Go literals.
func TestGenerateBackwardSteps(t *testing.T) {
	g, err := ir.Parse(`graph backward(%image: f32[2,6,6,3], %dy: f32[2,3,3,4], %ids: i32[2,5], %drows: f32[2,5,4], %xw: f32[2,5,8], %drnn: f32[2,5,2], %h0: f32[2,2], %q: f32[2,2,3,4], %datt: f32[2,2,3,4], %mask: f32[2,1,1,3], %pick: f32[2,3]) {
  @conv.kernel: f32[3,3,3,4] = zeros
  @rk: f32[2,8] = zeros
  @rb: f32[8] = zeros
  %0: f32[2,6,6,3] = conv2d_grad_input(%dy, @conv.kernel) {stride=[2,2] padding=same shape=[2,6,6,3]}
  %1: f32[3,3,3,4] = conv2d_grad_filter(%image, %dy) {stride=[2,2] padding=same shape=[3,3,3,4]}
  %2: f32[2,6,6,3] = maxpool2d_grad(%image, %0) {size=[1,1] stride=[1,1] padding=valid}
  %3: f32[2,6,6,3] = avgpool2d_grad(%2) {size=[3,3] stride=[1,1] padding=same shape=[2,6,6,3]}
  %4: f32[1,6,1,3] = sum_to(%3) {shape=[1,6,1,3]}
  %5: f32[2,6,6,3] = unary_grad(%image, %3) {fn=clip{min=0 max=6}}
  %6: f32[50,4] = embedding_grad(%ids, %drows) {shape=[50,4]}
  %7: f32[2,6,8] = recurrent_grad(%xw, @rk, @rb, %h0, %h0, %drnn) {cell=lstm reverse=true sequences=true}
  %8: f32[2,2,36] = attention_grad(%q, %q, %q, %mask, %datt) {causal=true scale=0}
  %9: f32[2,2,7,4] = gather_grad(%pick, %datt) {shape=[2,2,7,4]}
  return dx=%5, dk=%1, s=%4, table=%6, dxw=%7, datt=%8, gathered=%9
}
`)
	require.NoError(t, err)
	w := map[string]*tensor.Tensor{"conv.kernel": tensor.New(3, 3, 3, 4), "rk": tensor.New(2, 8), "rb": tensor.New(8)}
	pl, err := plan.Build(g, w, nil, plan.Kernels(cpu.Generic))
	require.NoError(t, err)
	files, err := Generate(pl.Program(), Options{Package: "backward", Model: Model{Name: "backward"}})
	require.NoError(t, err)
	src := string(files["backward.go"])
	for _, step := range []string{"exec.ConvGrad{", "exec.PoolGrad{", "exec.SumTo{", "exec.UnaryGrad{", "exec.EmbeddingGrad{", "exec.RecurrentGrad{", "exec.AttentionGrad{", "exec.GatherGrad{"} {
		require.Contains(t, src, step)
	}
}
