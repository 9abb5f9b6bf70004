package plan

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime/exec"
	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/kerneltest"
	"github.com/mdlc/mdlc/runtime/ref"
	"github.com/mdlc/mdlc/tensor"
)

// backwardGraphs use every gradient op over odd sizes, strides, dilations,
// padding, groups and broadcasting.
var backwardGraphs = []string{`graph conv(%x: f32[N,7,6,4], %dy: f32[N,4,3,6]) {
  @k: f32[3,2,2,6] = zeros
  %0: f32[N,7,6,4] = conv2d_grad_input(%dy, @k) {stride=[2,2] padding=same groups=2 shape=[N,7,6,4]}
  %1: f32[3,2,2,6] = conv2d_grad_filter(%x, %dy) {stride=[2,2] padding=same groups=2 shape=[3,2,2,6]}
  return dx=%0, dk=%1
}
`, `graph dilated(%x: f32[N,9,8,3], %dy: f32[N,6,4,5]) {
  @k: f32[3,3,3,5] = zeros
  %0: f32[N,9,8,3] = conv2d_grad_input(%dy, @k) {stride=[1,1] dilation=[2,2] padding=explicit pads=[1,0,0,0] shape=[N,9,8,3]}
  %1: f32[3,3,3,5] = conv2d_grad_filter(%x, %dy) {stride=[1,1] dilation=[2,2] padding=explicit pads=[1,0,0,0] shape=[3,3,3,5]}
  return dx=%0, dk=%1
}
`, `graph chunks(%x: f32[N,60,60,2], %dy: f32[N,30,30,3]) {
  @k: f32[3,3,2,3] = zeros
  %0: f32[N,60,60,2] = conv2d_grad_input(%dy, @k) {stride=[2,2] padding=same shape=[N,60,60,2]}
  %1: f32[3,3,2,3] = conv2d_grad_filter(%x, %dy) {stride=[2,2] padding=same shape=[3,3,2,3]}
  return dx=%0, dk=%1
}
`, `graph wide(%x: f32[N,10,12,64], %dy: f32[N,10,12,40]) {
  @k: f32[3,3,64,40] = zeros
  %0: f32[N,10,12,64] = conv2d_grad_input(%dy, @k) {stride=[1,1] padding=same shape=[N,10,12,64]}
  %1: f32[3,3,64,40] = conv2d_grad_filter(%x, %dy) {stride=[1,1] padding=same shape=[3,3,64,40]}
  return dx=%0, dk=%1
}
`, `graph channels(%x: f32[N,12,13,1], %dy: f32[N,12,13,40], %z: f32[N,9,8,3], %dz: f32[N,5,4,6]) {
  @k: f32[3,3,1,40] = zeros
  %1: f32[3,3,1,40] = conv2d_grad_filter(%x, %dy) {stride=[1,1] padding=same shape=[3,3,1,40]}
  %2: f32[3,3,1,6] = conv2d_grad_filter(%z, %dz) {stride=[2,2] padding=same groups=3 shape=[3,3,1,6]}
  %3: f32[5,4,1,6] = conv2d_grad_filter(%z, %dz) {stride=[1,1] dilation=[1,2] padding=explicit pads=[0,0,2,0] groups=3 shape=[5,4,1,6]}
  return dk=%1, grouped=%2, dilated=%3
}
`, `graph rows(%x: f32[N,9,11,6], %dy: f32[N,5,7,16], %dz: f32[N,8,7,16]) {
  @k: f32[5,5,6,16] = zeros
  %1: f32[5,5,6,16] = conv2d_grad_filter(%x, %dy) {stride=[1,1] padding=valid shape=[5,5,6,16]}
  %2: f32[5,5,6,16] = conv2d_grad_filter(%x, %dz) {stride=[1,1] padding=explicit pads=[1,2,0,0] shape=[5,5,6,16]}
  %3: f32[N,9,11,6] = conv2d_grad_input(%dy, @k) {stride=[1,1] padding=valid shape=[N,9,11,6]}
  return dk=%1, padded=%2, dx=%3
}
`, `graph pool(%x: f32[N,7,5,3], %dy: f32[N,4,3,3], %dz: f32[N,3,3,3]) {
  %0: f32[N,7,5,3] = maxpool2d_grad(%x, %dy) {size=[3,3] stride=[2,2] padding=same}
  %1: f32[N,7,5,3] = avgpool2d_grad(%dy) {size=[3,3] stride=[2,2] padding=same shape=[N,7,5,3]}
  %2: f32[N,7,5,3] = avgpool2d_grad(%dz) {size=[3,2] stride=[2,2] padding=explicit pads=[1,0,1,0] count_pad=true shape=[N,7,5,3]}
  return max=%0, avg=%1, padded=%2
}
`, `graph threads(%x: f32[N,64,64,32], %dy: f32[N,32,32,32]) {
  %0: f32[N,64,64,32] = maxpool2d_grad(%x, %dy) {size=[3,3] stride=[2,2] padding=same}
  %1: f32[N,64,64,32] = avgpool2d_grad(%dy) {size=[3,3] stride=[2,2] padding=same shape=[N,64,64,32]}
  %2: f32[N,64,64,32] = unary_grad(%x, %x) {fn=tanh}
  return max=%0, avg=%1, tanh=%2
}
`, `graph rest(%x: f32[N,3,5], %dy: f32[N,3,5], %ids: i32[N,3]) {
  %0: f32[1,3,1] = sum_to(%x) {shape=[1,3,1]}
  %1: f32[5] = sum_to(%x) {shape=[5]}
  %2: f32[N,3,5] = unary_grad(%x, %dy) {fn=gelu{approximate=tanh}}
  %3: f32[N,3,5] = unary_grad(%x, %dy) {fn=log}
  %4: f32[7,5] = embedding_grad(%ids, %dy) {shape=[7,5]}
  %5: f32[N,3] = softmax_cross_entropy(%x, %dy)
  %6: f32[N,3] = sparse_softmax_cross_entropy(%x, %ids)
  %7: f32[N,3,5] = unary_grad(%x, %dy) {fn=relu}
  %8: f32[N,3,5] = unary_grad(%x, %dy) {fn=tanh}
  %9: f32[N,3,5] = unary_grad(%x, %dy) {fn=silu}
  return a=%0, b=%1, c=%2, d=%3, e=%4, f=%5, g=%6, h=%7, i=%8, j=%9
}
`, `graph recurrent(%xw: f32[N,12,160], %dy: f32[N,12,40], %dl: f32[N,40], %h0: f32[N,40], %c0: f32[N,40], %xg: f32[N,5,15], %dg: f32[N,5,5], %hg: f32[N,5], %xr: f32[N,3,7], %dr: f32[N,7]) {
  @u: f32[40,160] = zeros
  @b: f32[160] = zeros
  @ug: f32[5,15] = zeros
  @bg: f32[15] = zeros
  @ur: f32[7,7] = zeros
  @br: f32[7] = zeros
  %0: f32[N,13,160] = recurrent_grad(%xw, @u, @b, %h0, %c0, %dy) {cell=lstm reverse=true sequences=true}
  %1: f32[N,12,160] = recurrent_grad(%xw, @u, @b, %dl) {cell=lstm reverse=false sequences=false}
  %2: f32[N,6,15] = recurrent_grad(%xg, @ug, @bg, %hg, %dg) {cell=gru reverse=false sequences=true}
  %3: f32[N,5,15] = recurrent_grad(%xg, @ug, @bg, %hg) {cell=gru reverse=true sequences=false}
  %4: f32[N,3,7] = recurrent_grad(%xr, @ur, @br, %dr) {cell=rnn activation=relu reverse=false sequences=false}
  %5: f32[N,3,7] = recurrent_grad(%xr, @ur, @br, %dr) {cell=rnn activation=tanh reverse=true sequences=false}
  return lstm=%0, last=%1, gru=%2, gru_last=%3, relu=%4, tanh=%5
}
`, `graph attention(%q: f32[N,4,100,16], %k: f32[N,4,130,16], %v: f32[N,4,130,24], %dy: f32[N,4,100,24], %mask: f32[N,1,1,130], %x: f32[N,2,50,8]) {
  @bias: f32[50,50] = zeros
  %0: f32[N,4,6800] = attention_grad(%q, %k, %v, %mask, %dy) {causal=false scale=0}
  %1: f32[N,4,6800] = attention_grad(%q, %k, %v, %dy) {causal=true scale=0.2}
  %2: f32[N,2,1200] = attention_grad(%x, %x, %x, @bias, %x) {causal=true scale=0}
  return padded=%0, causal=%1, self=%2
}
`}

// splits are the graphs whose steps of a kind must take helpers on more
// than one thread.
var splits = map[string]struct {
	op   string
	step func(exec.Spec) bool
}{
	"recurrent": {"recurrent_grad", func(s exec.Spec) bool { r, ok := s.(exec.RecurrentGrad); return ok && r.Helpers > 0 }},
	"attention": {"attention_grad", func(s exec.Spec) bool { a, ok := s.(exec.AttentionGrad); return ok && a.Helpers > 0 }},
}

// TestBackwardOpsMatchReference: the gradient ops' steps against runtime/ref,
// with every kernel set this machine runs (the convolutions' GEMMs differ).
// GradInput's chunks of an image's pixels: the wide graph has more pixels
// per image (120) than a chunk (65536/576 = 113); its blocks of images: 7
// in blocks of 2. GradFilter's ranges of pixels: 1 to 4 of whole chunks
// (the chunks graph has 25 chunks, 4 ranges); the channels graph has one
// input channel a group, so the taps are the GEMM's rows (strided, dilated,
// padded and grouped too), and N·OH·OW = 1092 pixels, chunks of 219 (AVX2
// and AVX-512's KC 256) and a last one of 216; the rows graph has no
// horizontal padding, so a kernel row's taps are one run of 30 floats,
// across panels, with and without vertical padding. The threads graph is
// large enough for the pools' and unary_grad's steps to take helpers; the
// recurrent graph's first two loops are work enough for a helper (2.1 MFLOP
// each), which takes whole sequences; the attention graph's gradients take
// helpers a matrix at a time, their query rows past a band of 96 (100 of
// them against 130 keys, cross attention) and not a multiple of it. Every
// graph gives the same bits on 1, 2 and 3 threads.
func TestBackwardOpsMatchReference(t *testing.T) {
	for _, set := range []cpu.Set{cpu.Generic, cpu.AVX2, cpu.AVX512, cpu.NEON} {
		t.Setenv("MDLC_KERNELS", string(set))
		if _, err := cpu.Select(); err != nil {
			continue
		}
		t.Run(string(set), checkBackwardOps)
	}
}

func checkBackwardOps(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 1))
	for _, text := range backwardGraphs {
		g, err := ir.Parse(text)
		require.NoError(t, err)
		env := map[string]int{"N": 7}
		w := map[string]*tensor.Tensor{}
		for _, p := range g.Params {
			shape, err := p.Type.Shape.Bind(nil)
			require.NoError(t, err)
			x := tensor.New(shape...)
			for i := range x.Data {
				x.Data[i] = r.Float32() - 0.5
			}
			w[p.Name] = x
		}
		in, _ := randomInputs(g, env, r)
		want, err := ref.Run(g, w, in)
		require.NoError(t, err)
		checkPlan(t, g, w, env, in, want, 1e-5)
		var outs []map[string]*tensor.Tensor
		for _, threads := range []int{1, 2, 3} {
			p, err := Build(g, w, env, Threads(threads))
			require.NoError(t, err)
			if split, ok := splits[g.Name]; ok && threads > 1 {
				require.True(t, slices.ContainsFunc(p.Program().Specs, split.step), "no %s step splits its units over %d threads", split.op, threads)
			}
			got, err := p.RunTensors(in)
			require.NoError(t, err)
			outs = append(outs, got)
		}
		for name, x := range outs[0] {
			for i, threads := range []int{2, 3} {
				require.True(t, sameBits(x.Data, outs[i+1][name].Data), "%s: output %s on 1 and %d threads", g.Name, name, threads)
			}
		}
	}
}

// TestGatherGradMatchesReference: gather_grad's scatter-add against
// runtime/ref's, over batches, leading axes, repeated and negative indices,
// one-float rows and rows wider than layout.ScatterCols (cut into runs of
// columns), axes longer than a unit's rows (layout.ScatterCells: 3000 rows
// of 600 floats in 24 ranges, 70000 of one float in 2), with the same bits
// on 1, 2 and 3 threads; the big case is work enough for helpers. An index out of range is an error, not a panic.
func TestGatherGradMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	for _, c := range []struct{ b, p, s, i, r int }{
		{1, 1, 7, 9, 3}, {2, 3, 5, 4, 1}, {3, 2, 4, 6, 700}, {1, 1, 3000, 700, 600}, {2, 1, 70000, 50, 1},
	} {
		g := ir.NewGraph("scatter")
		idx := make([]float32, c.b*c.i)
		for k := range idx {
			idx[k] = float32(r.IntN(2*c.s) - c.s) // -s..s-1: some count from the end
		}
		ids := g.AddInput("ids", ir.T(c.b, c.i))
		dy := g.AddInput("dy", ir.T(c.b, c.p, c.i, c.r))
		dx, err := g.AddNode(ir.OpGatherGrad, &ir.ReshapeAttrs{Shape: ir.Shape{ir.D(c.b), ir.D(c.p), ir.D(c.s), ir.D(c.r)}}, []*ir.Value{ids, dy}, "pick", ir.Pos{})
		require.NoError(t, err)
		g.AddOutput("dx", dx)
		in := map[string]*tensor.Tensor{"ids": {Shape: []int{c.b, c.i}, Data: idx}, "dy": tensor.New(c.b, c.p, c.i, c.r)}
		for k := range in["dy"].Data {
			in["dy"].Data[k] = r.Float32() - 0.5
		}
		want, err := ref.Run(g, nil, in)
		require.NoError(t, err)
		var first []float32
		for _, threads := range []int{1, 2, 3} {
			p, err := Build(g, nil, nil, Threads(threads))
			require.NoError(t, err)
			if c.s == 3000 {
				require.Positive(t, p.Program().Specs[0].(exec.GatherGrad).Helpers, "the big scatter takes no helpers")
			}
			got, err := p.RunTensors(in)
			require.NoError(t, err)
			require.LessOrEqual(t, kerneltest.Err(got["dx"].Data, want["dx"].Data), 1e-6, "%+v on %d threads", c, threads)
			if first == nil {
				first = got["dx"].Data
			}
			require.True(t, sameBits(first, got["dx"].Data), "%+v: 1 and %d threads differ", c, threads)
		}
		in["ids"].Data[len(idx)-1] = float32(c.s)
		p, err := Build(g, nil, nil)
		require.NoError(t, err)
		_, err = p.RunTensors(in)
		require.ErrorContains(t, err, `gather_grad (layer "pick"): index`)
		_, err = ref.Run(g, nil, in)
		require.ErrorContains(t, err, `gather_grad (layer "pick"): index`)
	}
}
