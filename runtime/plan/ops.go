package plan

import (
	"math"
	"slices"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime/exec"
	"github.com/mdlc/mdlc/runtime/kernels/attention"
	"github.com/mdlc/mdlc/runtime/kernels/conv"
	"github.com/mdlc/mdlc/runtime/kernels/convt"
	"github.com/mdlc/mdlc/runtime/kernels/eltwise"
	"github.com/mdlc/mdlc/runtime/kernels/layout"
	"github.com/mdlc/mdlc/runtime/kernels/mask"
	"github.com/mdlc/mdlc/runtime/kernels/pool"
	"github.com/mdlc/mdlc/runtime/kernels/recurrent"
	"github.com/mdlc/mdlc/runtime/kernels/reduce"
	"github.com/mdlc/mdlc/runtime/kernels/resize"
	"github.com/mdlc/mdlc/runtime/kernels/softmax"
	"github.com/mdlc/mdlc/tensor"
)

// rule is how a plan runs one op: a view, or a builder that compiles a node
// into a step. Build has verified the graph, so every node a builder sees is
// well-typed and it cannot fail. A test checks that every op has a rule.
type rule struct {
	// view ops return their operand's buffer, reinterpreted: no step.
	view  bool
	build func(b *builder, n *ir.Node) exec.Spec
}

var rules [ir.OpLast]rule

func init() {
	rules = [ir.OpLast]rule{
		ir.OpConv2D:     {build: buildConv},
		ir.OpDense:      {build: buildDense},
		ir.OpBatchNorm:  {build: buildBatchNorm},
		ir.OpPositional: {build: buildPositional},
		ir.OpEmbedding:  {build: buildEmbedding},
		ir.OpLayerNorm:  {build: buildNorm},
		ir.OpRMSNorm:    {build: buildNorm},

		ir.OpConv2DTranspose: {build: buildConvTranspose},

		ir.OpMatMul:    {build: buildMatMul},
		ir.OpAttention: {build: buildAttention},
		ir.OpRecurrent: {build: buildRecurrent},

		ir.OpMaxPool2D:       {build: buildPool(true)},
		ir.OpAvgPool2D:       {build: buildPool(false)},
		ir.OpGlobalAvgPool2D: {build: buildGlobalPool},

		ir.OpAdd: {build: buildBinary},
		ir.OpSub: {build: buildBinary},
		ir.OpMul: {build: buildBinary},
		ir.OpDiv: {build: buildBinary},

		ir.OpMinimum: {build: buildBinary},
		ir.OpMaximum: {build: buildBinary},

		ir.OpRelu:      {build: buildUnary},
		ir.OpLeakyRelu: {build: buildUnary},
		ir.OpSigmoid:   {build: buildUnary},
		ir.OpTanh:      {build: buildUnary},
		ir.OpGelu:      {build: buildUnary},
		ir.OpDropout:   {view: true},

		ir.OpClip:        {build: buildUnary},
		ir.OpElu:         {build: buildUnary},
		ir.OpSelu:        {build: buildUnary},
		ir.OpSilu:        {build: buildUnary},
		ir.OpHardSigmoid: {build: buildUnary},
		ir.OpHardSwish:   {build: buildUnary},
		ir.OpMish:        {build: buildUnary},
		ir.OpSoftplus:    {build: buildUnary},
		ir.OpSoftsign:    {build: buildUnary},
		ir.OpExp:         {build: buildUnary},
		ir.OpLog:         {build: buildUnary},
		ir.OpSqrt:        {build: buildUnary},
		ir.OpRsqrt:       {build: buildUnary},
		ir.OpAbs:         {build: buildUnary},
		ir.OpNeg:         {build: buildUnary},
		ir.OpPow:         {build: buildUnary},
		ir.OpErf:         {build: buildUnary},

		ir.OpSoftmax:    {build: buildSoftmax},
		ir.OpLogSoftmax: {build: buildSoftmax},

		ir.OpFlatten:   {view: true},
		ir.OpReshape:   {view: true},
		ir.OpTranspose: {build: buildTranspose},
		ir.OpConcat:    {build: buildConcat},
		ir.OpSlice:     {build: buildSlice},
		ir.OpPad:       {build: buildPad},
		ir.OpResize:    {build: buildResize},

		ir.OpPaddingMask: {build: buildPaddingMask},
		ir.OpToFloat:     {build: buildToFloat},

		ir.OpReduceSum:  {build: buildReduce(reduce.Sum, false)},
		ir.OpReduceMean: {build: buildReduce(reduce.Sum, true)},
		ir.OpReduceMax:  {build: buildReduce(reduce.Max, false)},
		ir.OpReduceMin:  {build: buildReduce(reduce.Min, false)},
		ir.OpArgMax:     {build: buildArgMax},
		ir.OpWhere:      {build: buildWhere},
		ir.OpGather:     {build: buildGather},

		ir.OpGreater:      {build: buildCompare(mask.Greater)},
		ir.OpGreaterEqual: {build: buildCompare(mask.GreaterEqual)},
		ir.OpLess:         {build: buildCompare(mask.Less)},
		ir.OpLessEqual:    {build: buildCompare(mask.LessEqual)},
		ir.OpEqual:        {build: buildCompare(mask.Equal)},
		ir.OpNotEqual:     {build: buildCompare(mask.NotEqual)},
		ir.OpFloor:        {build: buildFloor},

		ir.OpFusedConv2D: {build: buildFusedConv},
		ir.OpFusedMatMul: {build: buildFusedMatMul},
		ir.OpElementwise: {build: buildElementwise},

		ir.OpSumTo:            {build: buildSumTo},
		ir.OpUnaryGrad:        {build: buildUnaryGrad},
		ir.OpConv2DGradInput:  {build: buildConvGradInput},
		ir.OpConv2DGradFilter: {build: buildConvGradFilter},
		ir.OpMaxPool2DGrad:    {build: buildMaxPoolGrad},
		ir.OpAvgPool2DGrad:    {build: buildAvgPoolGrad},
		ir.OpEmbeddingGrad:    {build: buildEmbeddingGrad},
		ir.OpGatherGrad:       {build: buildGatherGrad},
		ir.OpRecurrentGrad:    {build: buildRecurrentGrad},
		ir.OpAttentionGrad:    {build: buildAttentionGrad},

		ir.OpSoftmaxCrossEntropy:       {build: buildCrossEntropy},
		ir.OpSparseSoftmaxCrossEntropy: {build: buildCrossEntropy},

		ir.OpBatchVariance: {build: buildBatchVariance},
		ir.OpDropoutTrain:  {build: buildDropoutTrain},
	}
}

// chainOps is how each op that can be a chain step runs as one; a test checks
// it covers ir.Fusable.
var chainOps = [ir.OpLast]func(ir.Attrs) eltwise.Step{
	ir.OpAdd:     kind(eltwise.Add),
	ir.OpSub:     kind(eltwise.Sub),
	ir.OpMul:     kind(eltwise.Mul),
	ir.OpDiv:     kind(eltwise.Div),
	ir.OpRelu:    kind(eltwise.Relu),
	ir.OpSigmoid: kind(eltwise.Sigmoid),
	ir.OpTanh:    kind(eltwise.Tanh),
	ir.OpLeakyRelu: func(a ir.Attrs) eltwise.Step {
		return eltwise.Step{Kind: eltwise.LeakyRelu, Alpha: a.(*ir.LeakyReluAttrs).Alpha}
	},
	ir.OpGelu: func(a ir.Attrs) eltwise.Step {
		if a.(*ir.GeluAttrs).Approximate {
			return eltwise.Step{Kind: eltwise.GeluTanh}
		}
		return eltwise.Step{Kind: eltwise.Gelu}
	},
	ir.OpMinimum: kind(eltwise.Minimum),
	ir.OpMaximum: kind(eltwise.Maximum),
	ir.OpClip: func(a ir.Attrs) eltwise.Step {
		c := a.(*ir.ClipAttrs)
		return eltwise.Step{Kind: eltwise.Clip, Alpha: c.Min, Beta: c.Max}
	},
	ir.OpElu: func(a ir.Attrs) eltwise.Step {
		return eltwise.Step{Kind: eltwise.Elu, Alpha: a.(*ir.EluAttrs).Alpha}
	},
	ir.OpSelu: kind(eltwise.Selu),
	ir.OpSilu: kind(eltwise.Silu),
	ir.OpHardSigmoid: func(a ir.Attrs) eltwise.Step {
		return eltwise.Step{Kind: eltwise.HardSigmoid, Alpha: a.(*ir.HardSigmoidAttrs).Alpha}
	},
	ir.OpHardSwish: kind(eltwise.HardSwish),
	ir.OpMish:      kind(eltwise.Mish),
	ir.OpSoftplus:  kind(eltwise.Softplus),
	ir.OpSoftsign:  kind(eltwise.Softsign),
	ir.OpExp:       kind(eltwise.Exp),
	ir.OpLog:       kind(eltwise.Log),
	ir.OpSqrt:      kind(eltwise.Sqrt),
	ir.OpRsqrt:     kind(eltwise.Rsqrt),
	ir.OpAbs:       kind(eltwise.Abs),
	ir.OpNeg:       kind(eltwise.Neg),
	ir.OpPow: func(a ir.Attrs) eltwise.Step {
		return eltwise.Step{Kind: eltwise.Pow, Alpha: a.(*ir.PowAttrs).Exponent}
	},
	ir.OpErf: kind(eltwise.Erf),
}

func kind(k eltwise.Kind) func(ir.Attrs) eltwise.Step {
	return func(ir.Attrs) eltwise.Step { return eltwise.Step{Kind: k} }
}

// load is the chain step that starts from v.
func (b *builder) load(v *ir.Value) eltwise.Step {
	return eltwise.Step{Kind: eltwise.Load, Operand: b.slot(v), Shape: b.shapes[v]}
}

// operand is the binary chain step op(v, w), or op(w, v) if swapped.
func (b *builder) operand(op ir.Op, attrs ir.Attrs, w *ir.Value, swapped bool) eltwise.Step {
	s := chainOps[op](attrs)
	s.Operand, s.Shape, s.Swapped = b.slot(w), b.shapes[w], swapped
	return s
}

// chain compiles an IR chain whose operands are n's inputs.
func (b *builder) chain(n *ir.Node, c ir.Chain) []eltwise.Step {
	steps := make([]eltwise.Step, len(c))
	for i, s := range c {
		if s.Op.Info().MinInputs == 2 {
			steps[i] = b.operand(s.Op, s.Attrs, n.Inputs[s.Operand], s.Swapped)
		} else {
			steps[i] = chainOps[s.Op](s.Attrs)
		}
	}
	return steps
}

// chainStep runs steps over n's result.
func (b *builder) chainStep(n *ir.Node, steps []eltwise.Step) exec.Spec {
	b.info[b.step].Kernel = "eltwise"
	return exec.Elementwise{Out: b.out(n), Chain: exec.Chain{Shape: b.shapes[n.Outputs[0]], Steps: steps}}
}

func buildUnary(b *builder, n *ir.Node) exec.Spec {
	b.inPlace(n, 0)
	return b.chainStep(n, []eltwise.Step{b.load(n.Inputs[0]), chainOps[n.Op](n.Attrs)})
}

// buildBinary starts from the operand it may overwrite: v = b; v = a op v
// when that is b.
func buildBinary(b *builder, n *ir.Node) exec.Spec {
	x, y := n.Inputs[0], n.Inputs[1]
	if b.inPlace(n, 0, 1) == 1 {
		return b.chainStep(n, []eltwise.Step{b.load(y), b.operand(n.Op, n.Attrs, x, true)})
	}
	return b.chainStep(n, []eltwise.Step{b.load(x), b.operand(n.Op, n.Attrs, y, false)})
}

func buildElementwise(b *builder, n *ir.Node) exec.Spec {
	b.inPlace(n, 0)
	steps := append([]eltwise.Step{b.load(n.Inputs[0])}, b.chain(n, n.Attrs.(*ir.ElementwiseAttrs).Chain)...)
	return b.chainStep(n, steps)
}

// buildBatchNorm folds constant statistics into a scale and shift run as a
// chain, y = x·s + t; statistics computed at run time are folded by the
// kernel each run.
func buildBatchNorm(b *builder, n *ir.Node) exec.Spec {
	x := n.Inputs[0]
	shape := b.shapes[x]
	bn := eltwise.BatchNorm{C: shape[len(shape)-1], Epsilon: n.Attrs.(*ir.BatchNormAttrs).Epsilon}
	b.inPlace(n, 0)
	stats := make([][]float32, 4)
	for i, v := range n.Inputs[1:] {
		stats[i] = b.data(v)
	}
	if stats[0] != nil && stats[1] != nil && stats[2] != nil && stats[3] != nil {
		s, t := make([]float32, bn.C), make([]float32, bn.C)
		bn.Fold(stats[0], stats[1], stats[2], stats[3], s, t)
		c := []int{bn.C}
		label := b.names[n.Outputs[0]]
		return b.chainStep(n, []eltwise.Step{
			b.load(x),
			{Kind: eltwise.Mul, Operand: b.constant(s, label+" scale"), Shape: c},
			{Kind: eltwise.Add, Operand: b.constant(t, label+" shift"), Shape: c},
		})
	}
	b.info[b.step].Kernel = "batchnorm"
	in := [5]int{}
	for i, v := range n.Inputs {
		in[i] = b.slot(v)
	}
	return exec.BatchNorm{In: in, Out: b.out(n), Scratch: b.scratch(bn.ScratchSize(), "scale and shift"), BN: bn}
}

// buildBatchVariance views x as [rows, C].
func buildBatchVariance(b *builder, n *ir.Node) exec.Spec {
	shape := b.shapes[n.Inputs[0]]
	c := shape[len(shape)-1]
	v := reduce.Variance{R: tensor.Numel(shape) / c, C: c}
	b.info[b.step].Kernel = "reduce"
	return exec.BatchVariance{X: b.slot(n.Inputs[0]), Mean: b.slot(n.Inputs[1]), Out: b.out(n),
		Scratch: b.scratch(v.ScratchSize(), "partial row"), Variance: v}
}

// dropoutChunk is the elements of a dropout_train unit: 16K hashes, some
// tens of microseconds, several times what waking a helper costs.
const dropoutChunk = 1 << 14

// buildDropoutTrain: in place over x when x dies here.
func buildDropoutTrain(b *builder, n *ir.Node) exec.Spec {
	a := n.Attrs.(*ir.DropoutTrainAttrs)
	size := tensor.Numel(b.shapes[n.Outputs[0]])
	b.inPlace(n, 0)
	units := (size + dropoutChunk - 1) / dropoutChunk
	b.info[b.step].Kernel = "mask"
	return exec.DropoutTrain{X: b.slot(n.Inputs[0]), Step: b.slot(n.Inputs[1]), Out: b.out(n), N: size, Chunk: dropoutChunk,
		Helpers: b.helpers(units, 10*float64(size), 0), Seed: uint64(a.Seed), Threshold: mask.Threshold(a.Rate),
		Scale: float32(1 / (1 - float64(a.Rate)))}
}

// buildAttention: packs keys and values a matrix a unit, then computes
// bands of query rows.
func buildAttention(b *builder, n *ir.Node) exec.Spec {
	a := attentionShape(b, n, n.Inputs)
	s := exec.Attention{Q: b.slot(n.Inputs[0]), K: b.slot(n.Inputs[1]), V: b.slot(n.Inputs[2]), Out: b.out(n), Shape: a}
	if a.HasMask {
		s.Mask = b.slot(n.Inputs[3])
	}
	k := s.New(b.kernels).A
	b.info[b.step].Kernel = "attention"
	computed, all := k.Scores()
	nominal := float64(b.info[b.step].Flops)
	b.executes(nominal*computed/all, nominal)
	s.Packed = b.temp(k.PackedSize(), "packed keys and values")
	s.Scratch = b.scratch(k.ScratchSize(), "a block of scores, rows")
	flops := 2 * float64(a.Batch*a.TQ*a.TK*(a.DK+a.DV))
	s.Helpers = b.helpers(k.Units(), flops, k.ScratchSize())
	return s
}

// attentionShape is the geometry of attention node n (or attention_grad)
// over operands fwd, (q, k, v[, mask]): the mask's strides over the scores
// [B..., Tq, Tk] become an offset per matrix and a row and key stride.
func attentionShape(b *builder, n *ir.Node, fwd []*ir.Value) attention.Shape {
	qs, ks, vs := b.shapes[fwd[0]], b.shapes[fwd[1]], b.shapes[fwd[2]]
	r := len(qs)
	at := n.Attrs.(*ir.AttentionAttrs)
	a := attention.Shape{Batch: tensor.Numel(qs[:r-2]), TQ: qs[r-2], TK: ks[r-2], DK: qs[r-1], DV: vs[r-1], Scale: at.Scale, Causal: at.Causal}
	if a.Scale == 0 {
		a.Scale = float32(1 / math.Sqrt(float64(a.DK)))
	}
	if len(fwd) == 4 {
		scores := append(slices.Clone(qs[:r-1]), ks[r-2])
		st := tensor.BroadcastStrides(b.shapes[fwd[3]], scores)
		a.HasMask, a.MaskRow, a.MaskKey = true, st[r-2], st[r-1]
		a.MaskOff = make([]int, a.Batch)
		for m := range a.MaskOff {
			for d, q := r-3, m; d >= 0; d-- {
				a.MaskOff[m] += q % scores[d] * st[d]
				q /= scores[d]
			}
		}
	}
	return a
}

// cells maps the IR's recurrent cells to the kernel's.
var cells = map[ir.Cell]recurrent.Cell{ir.CellRNN: recurrent.RNN, ir.CellLSTM: recurrent.LSTM, ir.CellGRU: recurrent.GRU}

// buildRecurrent: the recurrent kernel is packed now if constant.
func buildRecurrent(b *builder, n *ir.Node) exec.Spec {
	a := n.Attrs.(*ir.RecurrentAttrs)
	xs, us := b.shapes[n.Inputs[0]], b.shapes[n.Inputs[1]]
	s := exec.Recurrent{XW: b.slot(n.Inputs[0]), BU: b.slot(n.Inputs[2]), Out: b.out(n), Cell: cells[a.Cell],
		N: xs[0], T: xs[1], H: us[0], Relu: a.Relu, Reverse: a.Reverse, Sequence: a.Sequences}
	if len(n.Inputs) > 3 {
		s.H0 = b.slot(n.Inputs[3])
	}
	if len(n.Inputs) > 4 {
		s.C0 = b.slot(n.Inputs[4])
	}
	r := s.New(b.kernels).R
	b.info[b.step].Kernel = "recurrent/" + a.Cell.String()
	if data := b.data(n.Inputs[1]); data != nil {
		packed := make([]float32, r.PackedSize())
		r.PackWeights(packed, data)
		s.U = b.constant(packed, b.names[n.Inputs[1]]+" packed")
	} else {
		s.Raw, s.U = b.slot(n.Inputs[1]), b.temp(r.PackedSize(), "packed recurrent kernel")
	}
	s.State = b.temp(r.StateSize(), "h and c")
	s.Scratch = b.scratch(r.ScratchSize(), "a block's gates")
	flops := 2 * float64(s.N*s.H*s.Cell.Gates()*s.H)
	// One step's work against a wake-up: the helpers wake once a run, but
	// wait for each other at every step.
	s.Helpers = b.helpers(r.Blocks(), flops, r.ScratchSize())
	return s
}

// buildPositional adds a table of ir.Sinusoid for the bound length T, made
// now (float64, rounded once), or the first T rows of a learned table, as a
// chain broadcasting it over the batch.
func buildPositional(b *builder, n *ir.Node) exec.Spec {
	x := n.Inputs[0]
	shape := b.shapes[x]
	t, d := shape[1], shape[2]
	var pe int
	if len(n.Inputs) == 2 {
		pe = b.slot(n.Inputs[1])
	} else {
		table := make([]float32, t*d)
		for i := range table {
			table[i] = float32(ir.Sinusoid(i/d, i%d, d))
		}
		pe = b.constant(table, b.names[n.Outputs[0]]+" positions")
	}
	b.inPlace(n, 0)
	return b.chainStep(n, []eltwise.Step{b.load(x), {Kind: eltwise.Add, Operand: pe, Shape: []int{t, d}}})
}

func buildEmbedding(b *builder, n *ir.Node) exec.Spec {
	b.info[b.step].Kernel = "gather"
	return exec.Embedding{IDs: b.slot(n.Inputs[0]), Table: b.slot(n.Inputs[1]), Out: b.out(n), Dim: b.shapes[n.Inputs[1]][1]}
}

func buildPaddingMask(b *builder, n *ir.Node) exec.Spec {
	b.info[b.step].Kernel = "padding_mask"
	return exec.PaddingMask{IDs: b.slot(n.Inputs[0]), Out: b.out(n), Pad: n.Attrs.(*ir.PaddingMaskAttrs).Pad}
}

func buildToFloat(b *builder, n *ir.Node) exec.Spec {
	b.info[b.step].Kernel = "to_float"
	return exec.ToFloat{IDs: b.slot(n.Inputs[0]), Out: b.out(n)}
}

// buildNorm: layernorm and rmsnorm, in place when x dies here.
func buildNorm(b *builder, n *ir.Node) exec.Spec {
	x := n.Inputs[0]
	shape := b.shapes[x]
	c := shape[len(shape)-1]
	s := exec.Norm{X: b.slot(x), Gamma: b.slot(n.Inputs[1]), Out: b.out(n),
		Rows: tensor.Numel(shape) / c, C: c, Epsilon: n.Attrs.(*ir.NormAttrs).Epsilon, RMS: n.Op == ir.OpRMSNorm}
	if n.Op == ir.OpLayerNorm {
		s.Beta = b.slot(n.Inputs[2])
	}
	b.inPlace(n, 0)
	b.info[b.step].Kernel = "norm"
	return s
}

func buildSoftmax(b *builder, n *ir.Node) exec.Spec {
	x := n.Inputs[0]
	shape, axis := b.shapes[x], n.Attrs.(*ir.AxisAttrs).Axis
	s := exec.Softmax{X: b.slot(x), Out: b.out(n), Outer: tensor.Numel(shape[:axis]), Dim: shape[axis], Inner: tensor.Numel(shape[axis+1:]), Log: n.Op == ir.OpLogSoftmax}
	b.inPlace(n, 0)
	b.info[b.step].Kernel = "softmax"
	s.Scratch = b.scratch(softmax.New(b.kernels, s.Outer, s.Dim, s.Inner, s.Log).ScratchSize(), "max and sum")
	return s
}

func buildPool(isMax bool) func(*builder, *ir.Node) exec.Spec {
	return func(b *builder, n *ir.Node) exec.Spec {
		x := n.Inputs[0]
		s := b.shapes[x]
		w := n.Attrs.(*ir.PoolAttrs).Window2D
		b.info[b.step].Kernel = "pool"
		win := window(w, s[1], s[2], s[3])
		win.CountPad = n.Attrs.(*ir.PoolAttrs).CountPad
		// About 1 ns a tap, as a pool's gradient (poolHelpers).
		taps := float64(s[0]*s[3]) * float64(tensor.Numel(b.shapes[n.Outputs[0]][1:3])*w.Size[0]*w.Size[1])
		return exec.Pool{X: b.slot(x), Out: b.out(n), N: s[0], Max: isMax, Window: win, Helpers: b.helpers(s[0], 100*taps, 0)}
	}
}

func window(w ir.Window2D, h, wd, c int) exec.Window {
	kh, kw := w.Size[0], w.Size[1]
	return exec.Window{H: h, W: wd, C: c, KH: kh, KW: kw, Stride: w.Stride, Dilation: w.Dilation, Pads: w.PadsFor(h, wd, kh, kw)}
}

func buildGlobalPool(b *builder, n *ir.Node) exec.Spec {
	x := n.Inputs[0]
	s := b.shapes[x]
	b.info[b.step].Kernel = "pool"
	g := exec.GlobalPool{X: b.slot(x), Out: b.out(n), N: s[0], HW: s[1] * s[2], C: s[3]}
	k := pool.NewGlobal(b.kernels, g.N, g.HW, g.C)
	g.Scratch = b.scratch(k.ScratchSize(), "partial sums")
	return g
}

func buildTranspose(b *builder, n *ir.Node) exec.Spec {
	x := n.Inputs[0]
	b.info[b.step].Kernel = "layout"
	return exec.Transpose{X: b.slot(x), Out: b.out(n), Shape: b.shapes[x], Perm: n.Attrs.(*ir.TransposeAttrs).Perm}
}

func buildSlice(b *builder, n *ir.Node) exec.Spec {
	x, a := n.Inputs[0], n.Attrs.(*ir.SliceAttrs)
	s := b.shapes[x]
	inner := tensor.Numel(s[a.Axis+1:])
	b.info[b.step].Kernel = "layout"
	return exec.Slice{X: b.slot(x), Out: b.out(n), Slice: layout.Slice{Outer: tensor.Numel(s[:a.Axis]), Block: s[a.Axis] * inner,
		Offset: a.Start * inner, Len: (a.End - a.Start) * inner}}
}

// buildPad resolves the pad mode into per-axis source tables, so the step
// only copies.
func buildPad(b *builder, n *ir.Node) exec.Spec {
	x, a := n.Inputs[0], n.Attrs.(*ir.PadAttrs)
	shape := b.shapes[x]
	sources := make([][]int, len(shape))
	for d, size := range shape {
		sources[d] = make([]int, size+a.Pads[d][0]+a.Pads[d][1])
		for o := range sources[d] {
			sources[d][o] = a.Source(o, size, a.Pads[d])
		}
	}
	b.info[b.step].Kernel = "layout"
	return exec.Pad{X: b.slot(x), Out: b.out(n), Shape: shape, Sources: sources, Value: a.Value}
}

func buildConcat(b *builder, n *ir.Node) exec.Spec {
	axis := n.Attrs.(*ir.AxisAttrs).Axis
	out := b.shapes[n.Outputs[0]]
	c := layout.Concat{Outer: tensor.Numel(out[:axis])}
	for _, v := range n.Inputs {
		c.Parts = append(c.Parts, layout.Part{Operand: b.slot(v), Block: tensor.Numel(b.shapes[v][axis:])})
	}
	b.info[b.step].Kernel = "layout"
	return exec.Concat{Out: b.out(n), Concat: c}
}

// buildConv: conv2d, its bias (if any) as an epilogue.
func buildConv(b *builder, n *ir.Node) exec.Spec {
	var epi []eltwise.Step
	if len(n.Inputs) == 3 {
		epi = []eltwise.Step{b.operand(ir.OpAdd, nil, n.Inputs[2], false)}
	}
	return b.conv(n, n.Attrs.(*ir.ConvAttrs), epi, nil)
}

func buildFusedConv(b *builder, n *ir.Node) exec.Spec {
	a := n.Attrs.(*ir.FusedConvAttrs)
	return b.conv(n, &a.Conv, b.chain(n, a.Epilogue), a.Pool)
}

// conv compiles a convolution with its epilogue and, if mp is set, a max
// pool over its output. Constant weights are packed now; computed ones are
// packed into scratch by every run.
func (b *builder) conv(n *ir.Node, a *ir.ConvAttrs, epi []eltwise.Step, mp *ir.Window2D) exec.Spec {
	x, k := n.Inputs[0], n.Inputs[1]
	xs, ks := b.shapes[x], b.shapes[k]
	oh, ow := a.Out(xs[1], xs[2], ks[0], ks[1])
	s := exec.Conv{X: b.slot(x), Out: b.out(n),
		Shape: conv.Shape{N: xs[0], H: xs[1], W: xs[2], C: xs[3], KH: ks[0], KW: ks[1], CO: ks[3],
			Stride: a.Stride, Dilation: a.Dilation, Pads: a.PadsFor(xs[1], xs[2], ks[0], ks[1]), Groups: a.Groups},
		Epilogue: epi}
	if mp != nil {
		s.Pool = new(window(*mp, oh, ow, ks[3]))
	}
	c := s.New(b.kernels).Conv
	kernel := "conv/" + c.Algorithm().String()
	if mp != nil {
		kernel += "+maxpool"
	}
	b.info[b.step].Kernel = kernel
	b.executes(c.Flops())
	if data := b.data(k); data != nil {
		packed := make([]float32, c.PackedSize())
		c.PackWeights(packed, data)
		s.W = b.constant(packed, b.names[k]+" packed")
	} else {
		s.Raw, s.W = b.slot(k), b.temp(c.PackedSize(), "packed weights")
	}
	s.Scratch = b.scratch(c.ScratchSize(), "im2col panels")
	flops := 2 * float64(xs[0]*oh*ow) * float64(ks[0]*ks[1]*ks[2]) * float64(ks[3])
	s.Helpers = b.helpers(c.Units(), flops, c.ScratchSize())
	return s
}

// buildDense: x[..., in]·kernel[in, out] as one matrix product over all the
// leading axes, the bias as an epilogue.
func buildDense(b *builder, n *ir.Node) exec.Spec {
	x, k := n.Inputs[0], n.Inputs[1]
	ks := b.shapes[k]
	m := tensor.Numel(b.shapes[x]) / ks[0]
	var epi []eltwise.Step
	if len(n.Inputs) == 3 {
		epi = []eltwise.Step{b.operand(ir.OpAdd, nil, n.Inputs[2], false)}
	}
	return b.matmul(n, []int{m, ks[0]}, ks, []int{m, ks[1]}, ir.MatMulAttrs{}, epi)
}

func buildMatMul(b *builder, n *ir.Node) exec.Spec {
	a, w := n.Inputs[0], n.Inputs[1]
	return b.matmul(n, b.shapes[a], b.shapes[w], b.shapes[n.Outputs[0]], *n.Attrs.(*ir.MatMulAttrs), nil)
}

func buildFusedMatMul(b *builder, n *ir.Node) exec.Spec {
	a, w := n.Inputs[0], n.Inputs[1]
	at := n.Attrs.(*ir.FusedMatMulAttrs)
	return b.matmul(n, b.shapes[a], b.shapes[w], b.shapes[n.Outputs[0]], at.MatMul, b.chain(n, at.Epilogue))
}

// matmul compiles op(A)·op(B) batched over the leading axes of out, which the
// operands' leading axes broadcast into, followed by the epilogue. Constant
// B matrices are packed now; computed ones into scratch by every run.
func (b *builder) matmul(n *ir.Node, as, bs, os []int, at ir.MatMulAttrs, epi []eltwise.Step) exec.Spec {
	av, bv := n.Inputs[0], n.Inputs[1]
	chain := os // the epilogue's shape: the output's, however the rows are batched
	if rows, ok := stackRows(as, bs, os, at); ok {
		as, os = []int{rows, as[len(as)-1]}, []int{rows, os[len(os)-1]}
	}
	r, ra, rb := len(os), len(as), len(bs)
	m, nn := os[r-2], os[r-1]
	k, lda := as[ra-1], as[ra-1]
	if at.TransA {
		k, lda = as[ra-2], m
	}
	ldb := nn
	if at.TransB {
		ldb = k
	}
	if st := b.gemv(n, m, nn, k, ldb, at, os, bs, chain, epi); st != nil {
		return st
	}
	batch := os[:r-2]
	s := exec.MatMul{A: b.slot(av), Out: b.out(n), M: m, N: nn, K: k, Lda: lda, Ldb: ldb, TransA: at.TransA, TransB: at.TransB,
		Epilogue: exec.Chain{Shape: chain, Steps: epi}, BSize: k * nn,
		AOff: matrixIndex(batch, as[:ra-2]), BIdx: matrixIndex(batch, bs[:rb-2])}
	for i := range s.AOff {
		s.AOff[i] *= m * k
	}
	st := s.New(b.kernels)
	b.info[b.step].Kernel = "gemm"
	if data := b.data(bv); data != nil {
		count := tensor.Numel(bs[:rb-2])
		packed := make([]float32, count*st.PackedSize())
		for i := range count {
			st.G.Kernel.PackB(packed[i*st.PackedSize():(i+1)*st.PackedSize()], data[i*s.BSize:], k, nn, ldb, at.TransB)
		}
		s.PB = b.constant(packed, b.names[bv]+" packed")
	} else {
		s.B, s.PB, s.PackRun = b.slot(bv), b.temp(st.PackedSize(), "packed B"), true
	}
	s.Scratch = b.scratch(st.G.ScratchSize(), "gemm panels")
	flops := 2 * float64(len(s.AOff)) * float64(m) * float64(nn) * float64(k)
	s.Helpers = b.helpers(len(s.AOff)*st.G.Bands(), flops, st.G.ScratchSize())
	return s
}

// stackRows reports whether a batch of products A_t·B of one B matrix is
// one product of A's rows stacked, [B..., M, K]·[K, N] = [B⋯·M, K]·[K, N],
// and how many rows that is: A not transposed (its rows contiguous, in the
// output's order) and holding every batch position itself (none broadcast).
// One product packs B once and tiles all the rows, where a batch of
// products of few rows runs on edge tiles: the [T, 1, d]·[d, 3d] that
// PyTorch's exported attention projects, 128 products of one row, ran at
// 14 GFLOP/s against 48 for the same rows as one [128, 256] matrix
// (encoder-t128, one thread, AVX-512, load 8 on 2 CPUs).
func stackRows(as, bs, os []int, at ir.MatMulAttrs) (int, bool) {
	r := len(os)
	if at.TransA || r < 3 || len(as) != r || !slices.Equal(as[:r-2], os[:r-2]) || tensor.Numel(bs[:len(bs)-2]) != 1 {
		return 0, false
	}
	return tensor.Numel(os[:r-1]), true
}

// matrixIndex maps each position of the batch axes to the index of the
// matrix an operand with leading axes lead supplies there (NumPy
// broadcasting: lead is right-aligned, its size-1 axes repeat).
func matrixIndex(batch, lead []int) []int {
	idx := make([]int, tensor.Numel(batch))
	for t := range idx {
		q, stride := t, 1
		for d := 1; d <= len(batch); d++ {
			pos := q % batch[len(batch)-d]
			q /= batch[len(batch)-d]
			if d > len(lead) {
				continue
			}
			if size := lead[len(lead)-d]; size != 1 {
				idx[t] += pos * stride
				stride *= size
			}
		}
	}
	return idx
}

// buildConvTranspose: a constant kernel is packed now, a computed one into
// a temporary by every run.
func buildConvTranspose(b *builder, n *ir.Node) exec.Spec {
	x, k := n.Inputs[0], n.Inputs[1]
	xs, ks, os := b.shapes[x], b.shapes[k], b.shapes[n.Outputs[0]]
	a := n.Attrs.(*ir.ConvTransposeAttrs)
	crop, _, _ := a.Geometry(xs[1], xs[2], ks[0], ks[1])
	s := exec.ConvTranspose{X: b.slot(x), Out: b.out(n), Shape: convt.Shape{N: xs[0], H: xs[1], W: xs[2], C: xs[3], KH: ks[0], KW: ks[1], CO: ks[2],
		Stride: a.Stride, Dilation: a.Dilation, Crop: crop, OH: os[1], OW: os[2]}}
	if len(n.Inputs) == 3 {
		s.Bias = b.slot(n.Inputs[2])
	}
	c := convt.New(b.kernels, s.Shape)
	b.info[b.step].Kernel = "convt"
	if data := b.data(k); data != nil {
		packed := make([]float32, c.PackedSize())
		c.PackWeights(packed, data)
		s.W = b.constant(packed, b.names[k]+" packed")
	} else {
		s.Raw, s.W = b.slot(k), b.temp(c.PackedSize(), "packed weights")
	}
	s.Scratch = b.scratch(c.ScratchSize(), "a band of cols, gemm panels")
	return s
}

// buildResize resolves the coordinate rule into per-axis tables, so the
// step only reads and blends.
func buildResize(b *builder, n *ir.Node) exec.Spec {
	x, a := n.Inputs[0], n.Attrs.(*ir.ResizeAttrs)
	s := b.shapes[x]
	axis := func(in, out int) resize.Axis { return resize.NewAxis(a.Coordinates, a.Mode == ir.Bilinear, in, out) }
	b.info[b.step].Kernel = "resize/" + a.Mode.String()
	return exec.Resize{X: b.slot(x), Out: b.out(n), N: s[0],
		Resize: resize.Resize{H: s[1], W: s[2], C: s[3], Rows: axis(s[1], a.Size[0]), Cols: axis(s[2], a.Size[1])}}
}
