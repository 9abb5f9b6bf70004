package exec

import (
	"fmt"

	"github.com/mdlc/mdlc/runtime/kernels/attention"
	"github.com/mdlc/mdlc/runtime/kernels/conv"
	"github.com/mdlc/mdlc/runtime/kernels/convt"
	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/eltwise"
	"github.com/mdlc/mdlc/runtime/kernels/gemm"
	"github.com/mdlc/mdlc/runtime/kernels/gemv"
	"github.com/mdlc/mdlc/runtime/kernels/layout"
	"github.com/mdlc/mdlc/runtime/kernels/mask"
	"github.com/mdlc/mdlc/runtime/kernels/norm"
	"github.com/mdlc/mdlc/runtime/kernels/pool"
	"github.com/mdlc/mdlc/runtime/kernels/recurrent"
	"github.com/mdlc/mdlc/runtime/kernels/reduce"
	"github.com/mdlc/mdlc/runtime/kernels/resize"
	"github.com/mdlc/mdlc/runtime/kernels/softmax"
)

// The specs, one per kind of step. Fields named after operands are slots of
// the operand table; chain operands and concat parts are slots too, which is
// why kernels take the whole table.

// Chain is an elementwise chain over a tensor of the given shape; no steps
// means none.
type Chain struct {
	Shape []int
	Steps []eltwise.Step
}

func (c Chain) compile(set cpu.Set) *eltwise.Chain {
	if len(c.Steps) == 0 {
		return nil
	}
	return eltwise.NewChain(set, c.Shape, c.Steps)
}

// Copy copies slot Src into slot Dst: a graph output that is an input, a
// constant, or another output's value.
type Copy struct{ Src, Dst int }

func (s Copy) Compile(cpu.Set) Step { return s }

func (s Copy) Run(b [][]float32, _ *Team) { copy(b[s.Dst], b[s.Src]) }

// Elementwise runs a chain over slot Out in place (its first step loads).
type Elementwise struct {
	Out   int
	Chain Chain
}

func (s Elementwise) Compile(set cpu.Set) Step {
	return &chainStep{out: s.Out, c: s.Chain.compile(set)}
}

type chainStep struct {
	out int
	c   *eltwise.Chain
}

func (s *chainStep) Run(b [][]float32, _ *Team) { s.c.Apply(b[s.out], 0, b) }

// BatchNorm normalises with statistics computed at run time: In holds x,
// gamma, beta, mean and variance.
type BatchNorm struct {
	In           [5]int
	Out, Scratch int
	BN           eltwise.BatchNorm
}

func (s BatchNorm) Compile(cpu.Set) Step { return s }

func (s BatchNorm) Run(b [][]float32, _ *Team) {
	s.BN.Run(b[s.In[0]], b[s.In[1]], b[s.In[2]], b[s.In[3]], b[s.In[4]], b[s.Out], b[s.Scratch])
}

// Attention is scaled dot-product attention; Mask is 0 without a mask. Every
// run packs each matrix's keys and values into slot Packed once, then
// computes bands of query rows; both are spread over up to Helpers helpers.
type Attention struct {
	Q, K, V, Mask, Out, Packed, Scratch int
	Helpers                             int
	Shape                               attention.Shape
}

func (s Attention) Compile(set cpu.Set) Step { return s.New(set) }

// New compiles the attention with the kernels of set.
func (s Attention) New(set cpu.Set) *AttentionStep {
	return &AttentionStep{spec: s, A: attention.New(gemm.For(set), s.Shape)}
}

// AttentionStep is a compiled Attention.
type AttentionStep struct {
	spec Attention
	A    *attention.Attention
}

func (s *AttentionStep) Run(b [][]float32, t *Team) {
	t.run((*attentionPack)(s), 0, s.spec.Shape.Batch, s.spec.Helpers, b, b[s.spec.Scratch])
	t.run(s, 0, s.A.Units(), s.spec.Helpers, b, b[s.spec.Scratch])
}

func (s *AttentionStep) unit(b [][]float32, scratch []float32, u int) {
	sp := &s.spec
	s.A.RunUnit(b[sp.Q], b[sp.Packed], b[sp.Mask], b[sp.Out], scratch, u)
}

// attentionPack is the job of packing the keys and values, a matrix a unit.
type attentionPack AttentionStep

func (s *attentionPack) unit(b [][]float32, _ []float32, m int) {
	sp := &s.spec
	s.A.Pack(b[sp.K], b[sp.V], b[sp.Packed], m)
}

// Norm is layer or RMS normalisation over the last axis of Rows rows of C
// features; Beta is unused (0) for RMS.
type Norm struct {
	X, Gamma, Beta, Out int
	Rows, C             int
	Epsilon             float32
	RMS                 bool
}

func (s Norm) Compile(set cpu.Set) Step {
	return &normStep{spec: s, n: norm.New(set, s.Rows, s.C, s.Epsilon, s.RMS)}
}

type normStep struct {
	spec Norm
	n    norm.Norm
}

func (s *normStep) Run(b [][]float32, _ *Team) {
	s.n.Run(b[s.spec.X], b[s.spec.Gamma], b[s.spec.Beta], b[s.spec.Out])
}

// Softmax is softmax or log-softmax over the middle axis of [Outer, Dim, Inner].
type Softmax struct {
	X, Out, Scratch   int
	Outer, Dim, Inner int
	Log               bool
}

func (s Softmax) Compile(set cpu.Set) Step {
	return &softmaxStep{spec: s, s: softmax.New(set, s.Outer, s.Dim, s.Inner, s.Log)}
}

type softmaxStep struct {
	spec Softmax
	s    softmax.Softmax
}

func (s *softmaxStep) Run(b [][]float32, _ *Team) {
	s.s.Run(b[s.spec.X], b[s.spec.Out], b[s.spec.Scratch])
}

// Window is a pooling window over H×W×C images: size, strides, dilations and
// pads (top, bottom, left, right); CountPad makes averages count padded cells.
type Window struct {
	H, W, C, KH, KW  int
	Stride, Dilation [2]int
	Pads             [4]int
	CountPad         bool
}

// New is the window with the kernels of set.
func (w Window) New(set cpu.Set) pool.Window {
	p := pool.NewWindow(set, w.H, w.W, w.C, w.KH, w.KW, w.Stride, w.Dilation, w.Pads)
	p.CountPad = w.CountPad
	return p
}

// Pool is max or average pooling of N images, an image per unit spread
// over up to Helpers helpers.
type Pool struct {
	X, Out, N int
	Max       bool
	Window    Window
	Helpers   int
}

func (s Pool) Compile(set cpu.Set) Step { return &poolStep{spec: s, w: s.Window.New(set)} }

type poolStep struct {
	spec Pool
	w    pool.Window
}

func (s *poolStep) Run(b [][]float32, t *Team) { t.run(s, 0, s.spec.N, s.spec.Helpers, b, nil) }

func (s *poolStep) unit(b [][]float32, _ []float32, u int) {
	w := &s.spec.Window
	in, o := w.H*w.W*w.C, s.w.OH*s.w.OW*w.C
	x, out := b[s.spec.X][u*in:(u+1)*in], b[s.spec.Out][u*o:(u+1)*o]
	if s.spec.Max {
		s.w.Max(x, out, 1)
	} else {
		s.w.Avg(x, out, 1)
	}
}

// GlobalPool averages each channel of N images of HW positions.
type GlobalPool struct {
	X, Out, Scratch int
	N, HW, C        int
}

func (s GlobalPool) Compile(set cpu.Set) Step {
	return &globalPoolStep{spec: s, g: pool.NewGlobal(set, s.N, s.HW, s.C)}
}

type globalPoolStep struct {
	spec GlobalPool
	g    pool.Global
}

func (s *globalPoolStep) Run(b [][]float32, _ *Team) {
	s.g.Avg(b[s.spec.X], b[s.spec.Out], b[s.spec.Scratch])
}

// Reduce sums, averages, or takes the max or min of slot X over some axes
// into slot Out.
type Reduce struct {
	X, Out, Scratch int
	Reduce          reduce.Reduce
}

func (s Reduce) Compile(cpu.Set) Step { return s }

func (s Reduce) Run(b [][]float32, _ *Team) { s.Reduce.Run(b[s.X], b[s.Out], b[s.Scratch]) }

// ArgMax writes the argmax of slot X along an axis into slot Out.
type ArgMax struct {
	X, Out, Scratch int
	ArgMax          reduce.ArgMax
}

func (s ArgMax) Compile(cpu.Set) Step { return s }

func (s ArgMax) Run(b [][]float32, _ *Team) { s.ArgMax.Run(b[s.X], b[s.Out], b[s.Scratch]) }

// Gather takes slices of slot X along an axis at the indices in slot
// Indices (layout.GatherAxis); Name, the layer, and Shape, the indices',
// are for the error an index out of range gives.
type Gather struct {
	X, Indices, Out int
	Gather          layout.GatherAxis
	Name            string
	Shape           []int
}

func (s Gather) Compile(cpu.Set) Step { return s }

func (s Gather) Check(b [][]float32) error {
	return checkGather("gather", s.Name, s.Shape, &s.Gather, b[s.Indices])
}

// checkGather refuses indices gather cannot read, naming op and layer.
func checkGather(op, layer string, shape []int, g *layout.GatherAxis, indices []float32) error {
	k := g.Bad(indices)
	if k < 0 {
		return nil
	}
	return fmt.Errorf("%s (layer %q): index %v at %s of the indices %v is not an integer in %d..%d",
		op, layer, indices[k], indexString(k, shape), shape, -g.A, g.A-1)
}

func (s Gather) Run(b [][]float32, _ *Team) { s.Gather.Run(b[s.X], b[s.Indices], b[s.Out]) }

// Floor writes slot Out: slot X rounded down.
type Floor struct{ X, Out int }

func (s Floor) Compile(cpu.Set) Step { return s }

func (s Floor) Run(b [][]float32, _ *Team) { mask.Floor(b[s.X], b[s.Out]) }

// Compare writes slot A op slot B, broadcast, as 0/1 into slot Out.
type Compare struct {
	A, B, Out int
	Compare   mask.Compare
}

func (s Compare) Compile(cpu.Set) Step { return s }

func (s Compare) Run(b [][]float32, _ *Team) { s.Compare.Run(b[s.A], b[s.B], b[s.Out]) }

// Where writes slot A where slot Cond is not 0, else slot B, broadcast, into
// slot Out.
type Where struct {
	Cond, A, B, Out int
	Where           mask.Where
}

func (s Where) Compile(cpu.Set) Step { return s }

func (s Where) Run(b [][]float32, _ *Team) { s.Where.Run(b[s.Cond], b[s.A], b[s.B], b[s.Out]) }

// BatchVariance writes the biased variance of slot X's rows, given their
// mean in slot Mean, into slot Out (reduce.Variance).
type BatchVariance struct {
	X, Mean, Out, Scratch int
	Variance              reduce.Variance
}

func (s BatchVariance) Compile(cpu.Set) Step { return s }

func (s BatchVariance) Run(b [][]float32, _ *Team) {
	s.Variance.Run(b[s.X], b[s.Mean], b[s.Out], b[s.Scratch])
}

// DropoutTrain is inverted dropout of the N floats of slot X into slot Out
// (mask.Dropout), its mask drawn from Seed and the step counter in slot
// Step (a float holding an integer). Its units are chunks of Chunk
// elements spread over up to Helpers helpers: the mask is a hash of each
// element's index, so it is the same however the chunks are shared out.
type DropoutTrain struct {
	X, Step, Out    int
	N, Chunk        int
	Helpers         int
	Seed, Threshold uint64
	Scale           float32
}

func (s DropoutTrain) Compile(cpu.Set) Step { return s }

func (s DropoutTrain) Run(b [][]float32, t *Team) {
	t.run(s, 0, (s.N+s.Chunk-1)/s.Chunk, s.Helpers, b, nil)
}

func (s DropoutTrain) unit(b [][]float32, _ []float32, u int) {
	lo, hi := u*s.Chunk, min((u+1)*s.Chunk, s.N)
	key := mask.StreamKey(s.Seed, uint64(b[s.Step][0]))
	mask.Dropout(b[s.X][lo:hi], b[s.Out][lo:hi], key, s.Threshold, s.Scale, lo)
}

// Transpose permutes the axes of a tensor of the given shape.
type Transpose struct {
	X, Out      int
	Shape, Perm []int
}

func (s Transpose) Compile(cpu.Set) Step {
	return &transposeStep{x: s.X, out: s.Out, t: layout.NewTranspose(s.Shape, s.Perm)}
}

type transposeStep struct {
	x, out int
	t      *layout.Transpose
}

func (s *transposeStep) Run(b [][]float32, _ *Team) { s.t.Run(b[s.x], b[s.out]) }

// Concat joins its parts' slots into slot Out.
type Concat struct {
	Out    int
	Concat layout.Concat
}

func (s Concat) Compile(cpu.Set) Step { return s }

func (s Concat) Run(b [][]float32, _ *Team) { s.Concat.Run(b, b[s.Out]) }

// Slice keeps a range of one axis of slot X in slot Out.
type Slice struct {
	X, Out int
	Slice  layout.Slice
}

func (s Slice) Compile(cpu.Set) Step { return s }

func (s Slice) Run(b [][]float32, _ *Team) { s.Slice.Run(b[s.X], b[s.Out]) }

// Pad copies slot X, of the given shape, into slot Out with cells around it:
// Sources[d][o] is the input index along axis d that output index o reads,
// -1 for Value.
type Pad struct {
	X, Out  int
	Shape   []int
	Sources [][]int
	Value   float32
}

func (s Pad) Compile(cpu.Set) Step {
	return &padStep{x: s.X, out: s.Out, p: layout.NewPad(s.Shape, s.Sources, s.Value)}
}

type padStep struct {
	x, out int
	p      *layout.Pad
}

func (s *padStep) Run(b [][]float32, _ *Team) { s.p.Run(b[s.x], b[s.out]) }

// Resize resizes N images of slot X into slot Out.
type Resize struct {
	X, Out, N int
	Resize    resize.Resize
}

func (s Resize) Compile(cpu.Set) Step { return s }

func (s Resize) Run(b [][]float32, _ *Team) { s.Resize.Run(b[s.X], b[s.Out], s.N) }

// Embedding copies, for every token id in slot IDs, its row of slot Table
// [V, Dim] into slot Out.
type Embedding struct{ IDs, Table, Out, Dim int }

func (s Embedding) Compile(cpu.Set) Step { return s }

func (s Embedding) Run(b [][]float32, _ *Team) { layout.Gather(b[s.IDs], b[s.Table], b[s.Out], s.Dim) }

// PaddingMask writes slot Out: -inf where the id in slot IDs is Pad, else 0.
type PaddingMask struct{ IDs, Out, Pad int }

func (s PaddingMask) Compile(cpu.Set) Step { return s }

func (s PaddingMask) Run(b [][]float32, _ *Team) { layout.PaddingMask(b[s.IDs], b[s.Out], s.Pad) }

// ToFloat writes slot Out: the ids in slot IDs as numbers.
type ToFloat struct{ IDs, Out int }

func (s ToFloat) Compile(cpu.Set) Step { return s }

func (s ToFloat) Run(b [][]float32, _ *Team) { layout.ToFloat(b[s.IDs], b[s.Out]) }

// Conv is a convolution, its epilogue and optional max pool. Its weights are
// packed in slot W, or, if Raw is set, computed at run time in slot Raw and
// packed into slot W by every run first. Its units (bands of output rows)
// are spread over up to Helpers helpers.
//
// With Flip set the conv is another's input gradient (conv.InputGrad: Shape
// is the convolution over the result's gradient X), and Raw holds the kernel
// of the convolution differentiated: every run turns it round
// (conv.FlipKernel) into slot Flip, then packs that.
type Conv struct {
	X, W, Raw, Flip, Out, Scratch int
	Helpers                       int
	Shape                         conv.Shape
	Epilogue                      []eltwise.Step // over the conv's output
	Pool                          *Window
}

func (s Conv) Compile(set cpu.Set) Step { return s.New(set) }

// New compiles the conv with the kernels of set. gemm.ForWidth's rule for
// narrow products is about the GEMM's panels of B, so it applies only to the
// algorithms that run the GEMM; the depthwise kernels (depthwise, grouped and
// direct convolutions) are the set's own: with AVX-512 they are the faster
// (conv.Algorithm.GEMM gives the measurements).
func (s Conv) New(set cpu.Set) *ConvStep {
	var pw *pool.Window
	if s.Pool != nil {
		pw = new(s.Pool.New(set))
	}
	kn := gemm.For(set)
	if conv.Choose(s.Shape, s.Epilogue, pw).GEMM() {
		kn = gemm.ForWidth(set, s.Shape.CO/max(s.Shape.Groups, 1))
	}
	return &ConvStep{spec: s, Conv: conv.New(kn, s.Shape, s.Epilogue, pw)}
}

// ConvStep is a compiled Conv.
type ConvStep struct {
	spec Conv
	Conv *conv.Conv
}

func (s *ConvStep) Run(b [][]float32, t *Team) {
	if s.spec.Raw != 0 {
		if s.spec.Flip != 0 {
			conv.FlipKernel(b[s.spec.Flip], b[s.spec.Raw], s.spec.Shape)
		}
		// Winograd's kernel transforms, some tenths of a millisecond for
		// the seed CNNs' second layers, spread over the helpers too.
		t.run((*convPack)(s), 0, s.Conv.PackUnits(), s.spec.Helpers, b, nil)
	}
	t.run(s, 0, s.Conv.Units(), s.spec.Helpers, b, b[s.spec.Scratch])
}

// convPack is the job of packing a conv's computed weights.
type convPack ConvStep

func (s *convPack) unit(b [][]float32, _ []float32, u int) {
	k := b[s.spec.Raw]
	if s.spec.Flip != 0 {
		k = b[s.spec.Flip]
	}
	s.Conv.PackUnit(b[s.spec.W], k, u)
}

func (s *ConvStep) unit(b [][]float32, scratch []float32, u int) {
	s.Conv.RunUnit(b[s.spec.X], b[s.spec.W], b[s.spec.Out], scratch, b, u)
}

// ConvTranspose is a transposed convolution: its kernel packed in slot W,
// or, if Raw is set, computed at run time in slot Raw and packed into slot
// W by every run first; Bias is 0 without a bias.
type ConvTranspose struct {
	X, W, Raw, Bias, Out, Scratch int
	Shape                         convt.Shape
}

func (s ConvTranspose) Compile(set cpu.Set) Step {
	return &convTStep{spec: s, c: convt.New(set, s.Shape)}
}

type convTStep struct {
	spec ConvTranspose
	c    *convt.ConvT
}

func (s *convTStep) Run(b [][]float32, _ *Team) {
	sp := &s.spec
	if sp.Raw != 0 {
		s.c.PackWeights(b[sp.W], b[sp.Raw])
	}
	var bias []float32
	if sp.Bias != 0 {
		bias = b[sp.Bias]
	}
	s.c.Run(b[sp.X], b[sp.W], bias, b[sp.Out], b[sp.Scratch])
}

// MatMul is a batch of products C_t = op(A_t)·op(B_t), t over the output's
// batch axes, each band of rows finished by the epilogue: its head (a bias
// per column, relu) by the GEMM's store, the rest as a chain. AOff is the offset
// of A_t in slot A; BIdx the index of B_t among the B matrices, which are
// BSize apart in slot B and packed apart in slot PB. B is packed in slot PB
// when the plan is built or, if PackRun, by every run before its products.
// A unit is one band of one product.
type MatMul struct {
	A, B, Out, Scratch, PB int
	M, N, K, Lda, Ldb      int
	TransA, TransB         bool
	Epilogue               Chain
	AOff, BIdx             []int
	BSize                  int
	PackRun                bool
	Helpers                int
}

func (s MatMul) Compile(set cpu.Set) Step { return s.New(set) }

// New compiles the product with the kernels of set.
func (s MatMul) New(set cpu.Set) *MatMulStep {
	kn := gemm.ForWidth(set, s.N)
	tile := eltwise.SplitTile(s.Epilogue.Steps, s.N)
	return &MatMulStep{spec: s, G: gemm.NewMatMul(kn, s.M, s.N, s.K, s.Lda, s.TransA), packed: kn.PackedSize(s.K, s.N),
		bias: tile.Bias, relu: tile.Relu, relu6: tile.Relu6, epi: Chain{Shape: s.Epilogue.Shape, Steps: tile.Rest}.compile(set)}
}

// MatMulStep is a compiled MatMul.
type MatMulStep struct {
	spec   MatMul
	G      *gemm.MatMul
	packed int
	bias   int // slot of the bias the store adds, -1 if none
	relu   bool
	relu6  bool
	epi    *eltwise.Chain
}

// PackedSize is the length of one packed B matrix.
func (s *MatMulStep) PackedSize() int { return s.packed }

func (s *MatMulStep) Run(b [][]float32, t *Team) {
	sp := &s.spec
	bands := s.G.Bands()
	if !sp.PackRun {
		t.run(s, 0, len(sp.AOff)*bands, sp.Helpers, b, b[sp.Scratch])
		return
	}
	// Pack each B_t once for the run of products that use it in turn.
	for t0 := 0; t0 < len(sp.AOff); {
		t1 := t0 + 1
		for t1 < len(sp.AOff) && sp.BIdx[t1] == sp.BIdx[t0] {
			t1++
		}
		s.G.Kernel.PackB(b[sp.PB], b[sp.B][sp.BIdx[t0]*sp.BSize:], sp.K, sp.N, sp.Ldb, sp.TransB)
		t.run(s, t0*bands, t1*bands, sp.Helpers, b, b[sp.Scratch])
		t0 = t1
	}
}

func (s *MatMulStep) unit(b [][]float32, scratch []float32, u int) {
	sp := &s.spec
	t, i0 := u/s.G.Bands(), u%s.G.Bands()*s.G.MC
	pb := b[sp.PB]
	if !sp.PackRun {
		pb = pb[sp.BIdx[t]*s.packed : (sp.BIdx[t]+1)*s.packed]
	}
	rows := min(s.G.MC, sp.M-i0)
	c := b[sp.Out][t*sp.M*sp.N : (t+1)*sp.M*sp.N]
	epi := gemm.Epilogue{Relu: s.relu, Relu6: s.relu6}
	if s.bias >= 0 {
		epi.Bias = b[s.bias]
	}
	s.G.Rows(b[sp.A][sp.AOff[t]:], pb, c, sp.N, i0, rows, scratch, epi)
	if s.epi != nil {
		s.epi.Apply(c[i0*sp.N:(i0+rows)*sp.N], t*sp.M*sp.N+i0*sp.N, b)
	}
}

// GEMV is y = x·W for Rows rows x of K (one when 0) and a constant W, K×N,
// packed in slot W at build. A unit is one block of K for every row, whose
// partial sums go to rows of slot Partial of their own; each row's are then
// added in block order and the epilogue run, so the result does not depend
// on which goroutine ran which block, nor a row's on the rows beside it.
type GEMV struct {
	A, W, Out, Partial, Scratch int
	Rows, K, N                  int
	Epilogue                    Chain
	Helpers                     int
}

func (s GEMV) Compile(set cpu.Set) Step { return s.New(set) }

// New compiles the product with the kernels of set.
func (s GEMV) New(set cpu.Set) *GEMVStep {
	return &GEMVStep{spec: s, G: gemv.New(set, s.K, s.N), rows: max(s.Rows, 1), epi: s.Epilogue.compile(set)}
}

// GEMVStep is a compiled GEMV.
type GEMVStep struct {
	spec GEMV
	G    *gemv.GEMV
	rows int
	epi  *eltwise.Chain
}

func (s *GEMVStep) Run(b [][]float32, t *Team) {
	t.run(s, 0, s.G.Blocks(), s.spec.Helpers, b, b[s.spec.Scratch])
	partial, out := b[s.spec.Partial], b[s.spec.Out]
	for r := range s.rows {
		s.G.Sum(partial[r*s.G.PartialSize():], out[r*s.G.N:])
	}
	if s.epi != nil {
		s.epi.Apply(out[:s.rows*s.G.N], 0, b)
	}
}

func (s *GEMVStep) unit(b [][]float32, scratch []float32, u int) {
	s.G.PartialRows(b[s.spec.A], s.G.K, s.rows, b[s.spec.W], b[s.spec.Partial], u, scratch)
}

// Recurrent is a recurrent layer's loop over time. The recurrent kernel is
// packed in slot U, or, if Raw is set, computed at run time in slot Raw and
// packed into slot U by every run first. H0 and C0 are 0 when absent. State
// holds h and c; up to Helpers helpers each run the loop for sequences of
// their own, or, for a small batch, share the blocks of units of each step.
type Recurrent struct {
	XW, U, Raw, BU, H0, C0, Out, State, Scratch int
	Cell                                        recurrent.Cell
	N, T, H                                     int
	Relu, Reverse, Sequence                     bool
	Helpers                                     int
}

func (s Recurrent) Compile(set cpu.Set) Step { return s.New(set) }

// New compiles the loop with the kernels of set.
func (s Recurrent) New(set cpu.Set) *RecurrentStep {
	st := &RecurrentStep{spec: s, R: recurrent.New(gemm.For(set), s.Cell, s.N, s.T, s.H, s.Relu, s.Reverse, s.Sequence)}
	// A team of 1+Helpers threads runs up to that many groups.
	st.groups = make([]recurrentGroups, 2+s.Helpers)
	for n := range st.groups {
		st.groups[n] = recurrentGroups{step: st, n: n}
	}
	return st
}

// RecurrentStep is a compiled Recurrent.
type RecurrentStep struct {
	spec Recurrent
	R    *recurrent.Recurrent
	// groups[n] is the job of n groups of sequences, made once so that a
	// run allocates none.
	groups []recurrentGroups
}

// Run has each thread run the loop for a group of sequences of its own if
// the batch is large enough, else share every step's blocks.
func (s *RecurrentStep) Run(b [][]float32, t *Team) {
	sp := &s.spec
	if sp.Raw != 0 {
		s.R.PackWeights(b[sp.U], b[sp.Raw])
	}
	if n := s.R.Groups(t.size(sp.Helpers)); n > 1 {
		t.run(&s.groups[n], 0, n, n-1, b, b[sp.Scratch])
		return
	}
	t.phases(s, sp.T+2, s.R.Blocks(), sp.Helpers, b, b[sp.Scratch])
}

// recurrentGroups is a loop run as n groups of sequences, a unit each.
type recurrentGroups struct {
	step *RecurrentStep
	n    int
}

func (j *recurrentGroups) unit(b [][]float32, scratch []float32, g int) {
	s := j.step
	sp := &s.spec
	var h0, c0 []float32
	if sp.H0 != 0 {
		h0 = b[sp.H0]
	}
	if sp.C0 != 0 {
		c0 = b[sp.C0]
	}
	r0, r1 := s.R.Group(g, j.n)
	s.R.RunRows(r0, r1, b[sp.XW], b[sp.U], b[sp.BU], h0, c0, b[sp.Out], b[sp.State], scratch)
}

// phaseUnit computes block u of a phase: the initial state, a step, or the
// last state's copy to the output.
func (s *RecurrentStep) phaseUnit(b [][]float32, scratch []float32, p, u int) {
	sp := &s.spec
	switch {
	case p == 0:
		var h0, c0 []float32
		if sp.H0 != 0 {
			h0 = b[sp.H0]
		}
		if sp.C0 != 0 {
			c0 = b[sp.C0]
		}
		s.R.Start(h0, c0, b[sp.State], u, 0, sp.N)
	case p <= sp.T:
		s.R.Step(p-1, u, 0, sp.N, b[sp.XW], b[sp.U], b[sp.BU], b[sp.Out], b[sp.State], scratch)
	default:
		s.R.Finish(b[sp.Out], b[sp.State], u, 0, sp.N)
	}
}
