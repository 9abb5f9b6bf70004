package autodiff

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/passes"
	"github.com/mdlc/mdlc/runtime/plan"
	"github.com/mdlc/mdlc/tensor"
)

// BenchmarkAttentionGrad: attention's backward at bert's shape (batch 32, 4
// heads, T 128, d 32, a padding mask), dq, dk and dv, as attention_grad
// ("kernel") and as the forward ops the rule composed before it
// ("composed", whose mask's gradient the passes drop), each graph through
// the training passes, on one thread and on GOMAXPROCS.
func BenchmarkAttentionGrad(b *testing.B) {
	for _, form := range []string{"kernel", "composed"} {
		g := ir.NewGraph(form)
		in := map[string]*tensor.Tensor{}
		r := rand.New(rand.NewPCG(1, 2))
		input := func(name string, shape ...int) *ir.Value {
			x := tensor.New(shape...)
			for i := range x.Data {
				x.Data[i] = float32(r.NormFloat64())
			}
			in[name] = x
			return g.AddInput(name, ir.T(intsAny(shape)...))
		}
		q, k, v, dy := input("q", 32, 4, 128, 32), input("k", 32, 4, 128, 32), input("v", 32, 4, 128, 32), input("dy", 32, 4, 128, 32)
		mask := input("mask", 32, 1, 1, 128)
		if _, err := g.AddNode(ir.OpAttention, &ir.AttentionAttrs{}, []*ir.Value{q, k, v, mask}, "", ir.Pos{}); err != nil {
			b.Fatal(err)
		}
		bd := &builder{g: g}
		need := []bool{true, true, true, form == "composed"}
		rule := attentionRule
		if form == "composed" {
			rule = composedAttentionGrad
		}
		grads, err := rule(bd, g.Nodes[0], dy, need)
		if err != nil || bd.err != nil {
			b.Fatal(err, bd.err)
		}
		for i, name := range []string{"dq", "dk", "dv"} {
			g.AddOutput(name, grads[i])
		}
		if _, err := passes.RunTraining(g, passes.Options{Verify: true}); err != nil {
			b.Fatal(err)
		}
		threads := []int{1}
		if n := runtime.GOMAXPROCS(0); n > 1 {
			threads = append(threads, n)
		}
		for _, t := range threads {
			p, err := plan.Build(g, nil, nil, plan.Threads(t))
			if err != nil {
				b.Fatal(err)
			}
			b.Run(fmt.Sprintf("%s/threads=%d", form, t), func(b *testing.B) {
				for b.Loop() {
					if _, err := p.RunTensors(in); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(p.Schedule().ArenaBytes)/(1<<20), "arena_MiB")
			})
		}
	}
}

// BenchmarkGatherGrad: the gradient of a gather on a large axis, x [4096,
// 128] read at 256 indices along axis 0, as gather_grad's scatter-add
// ("scatter", the rule's) and as the one-hot matrix product the rule
// composed before it ("onehot": [idx = s] built by a comparison, then a
// transposed batched product, |indices|·axis multiply-adds per column),
// through the training passes, on one thread and on GOMAXPROCS.
func BenchmarkGatherGrad(b *testing.B) {
	const s, r, k = 4096, 128, 256
	for _, form := range []string{"scatter", "onehot"} {
		g := ir.NewGraph(form)
		rnd := rand.New(rand.NewPCG(1, 2))
		x := g.AddInput("x", ir.T(s, r))
		idx := make([]float32, k)
		for i := range idx {
			idx[i] = float32(rnd.IntN(s))
		}
		ids := g.AddConst("ids", ir.T(k), idx)
		dy := g.AddInput("dy", ir.T(k, r))
		in := map[string]*tensor.Tensor{"x": tensor.New(s, r), "dy": tensor.New(k, r)}
		for i := range in["dy"].Data {
			in["dy"].Data[i] = float32(rnd.NormFloat64())
		}
		if _, err := g.AddNode(ir.OpGather, &ir.GatherAttrs{}, []*ir.Value{x, ids}, "", ir.Pos{}); err != nil {
			b.Fatal(err)
		}
		bd := &builder{g: g}
		var dx *ir.Value
		if form == "scatter" {
			grads, err := gatherGrad(bd, g.Nodes[0], dy, []bool{true, false})
			if err != nil {
				b.Fatal(err)
			}
			dx = grads[0]
		} else {
			dx = oneHotGatherGrad(bd, ids, dy, s)
		}
		if bd.err != nil {
			b.Fatal(bd.err)
		}
		g.AddOutput("dx", dx)
		if _, err := passes.RunTraining(g, passes.Options{Verify: true}); err != nil {
			b.Fatal(err)
		}
		threads := []int{1}
		if n := runtime.GOMAXPROCS(0); n > 1 {
			threads = append(threads, n)
		}
		for _, t := range threads {
			p, err := plan.Build(g, nil, nil, plan.Threads(t))
			if err != nil {
				b.Fatal(err)
			}
			b.Run(fmt.Sprintf("%s/threads=%d", form, t), func(b *testing.B) {
				for b.Loop() {
					if _, err := p.RunTensors(in); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// oneHotGatherGrad is gather's gradient on axis 0 as the rule wrote it
// before gather_grad: dx = Mᵀ·dy with M [k, s] the one-hot matrix
// [ids[i] = j], built at run time by a comparison.
func oneHotGatherGrad(b *builder, ids, dy *ir.Value, s int) *ir.Value {
	positions := make([]float32, s)
	for i := range positions {
		positions[i] = float32(i)
	}
	k := ids.Type.Shape[0].Size
	cells := b.g.AddConst("positions", ir.T(s), positions)
	col := b.node(ir.OpReshape, &ir.ReshapeAttrs{Shape: ir.Shape{ir.D(k), ir.D(1)}}, ids)
	oneHot := b.node(ir.OpEqual, nil, col, cells)
	return b.node(ir.OpMatMul, &ir.MatMulAttrs{TransA: true}, oneHot, dy)
}
