package ir

import (
	"fmt"
	"strconv"
	"strings"
)

// Attrs holds an op's static attributes. Each op has one concrete attrs type,
// named in its OpInfo; the verifier checks that a node carries that type.
// String must be deterministic: it is part of the printed IR.
type Attrs interface {
	String() string
}

// Padding says how spatial borders are handled by convolutions and pools.
type Padding uint8

const (
	// Valid uses no padding: windows lie wholly inside the input.
	Valid Padding = iota
	// Same pads so that output = ceil(input/stride), extra on the bottom/right
	// as TensorFlow and Keras do.
	Same
	// Explicit uses the Pads field.
	Explicit
)

var paddingNames = [...]string{Valid: "valid", Same: "same", Explicit: "explicit"}

func (p Padding) String() string {
	if int(p) < len(paddingNames) {
		return paddingNames[p]
	}
	return fmt.Sprintf("padding(%d)", p)
}

// ParsePadding maps "valid" and "same" to a Padding.
func ParsePadding(s string) (Padding, bool) {
	switch s {
	case "valid":
		return Valid, true
	case "same":
		return Same, true
	}
	return 0, false
}

// Window2D describes a sliding window over the H and W axes of an NHWC tensor.
// The window size of a convolution is its kernel's; of a pool, Size.
type Window2D struct {
	Size     [2]int
	Stride   [2]int
	Dilation [2]int
	Padding  Padding
	Pads     [4]int // top, bottom, left, right; used when Padding == Explicit
}

// PadsFor returns top, bottom, left, right padding for an input of h×w and a
// window of kh×kw.
func (w Window2D) PadsFor(h, wd, kh, kw int) [4]int {
	switch w.Padding {
	case Same:
		t, b := samePad(h, kh, w.Stride[0], w.Dilation[0])
		l, r := samePad(wd, kw, w.Stride[1], w.Dilation[1])
		return [4]int{t, b, l, r}
	case Explicit:
		return w.Pads
	}
	return [4]int{}
}

func samePad(in, k, stride, dil int) (before, after int) {
	out := (in + stride - 1) / stride
	total := max((out-1)*stride+(k-1)*dil+1-in, 0)
	return total / 2, total - total/2
}

// Out is the output height and width for an h×wd input and a kh×kw window,
// 0 on an axis the window does not fit.
func (w Window2D) Out(h, wd, kh, kw int) (oh, ow int) {
	p := w.PadsFor(h, wd, kh, kw)
	return windowOut(h+p[0]+p[1], kh, w.Stride[0], w.Dilation[0]), windowOut(wd+p[2]+p[3], kw, w.Stride[1], w.Dilation[1])
}

// windowOut counts the positions of a window on a padded axis. The
// subtraction goes negative when the window is wider than the axis, and Go's
// division truncates toward zero, so (-1)/2+1 would claim one position.
func windowOut(padded, k, stride, dil int) int {
	room := padded - ((k-1)*dil + 1)
	if room < 0 {
		return 0
	}
	return room/stride + 1
}

func (w Window2D) fields() []string {
	f := []string{}
	if w.Size != [2]int{} {
		f = append(f, "size="+pair(w.Size))
	}
	f = append(f, "stride="+pair(w.Stride))
	if w.Dilation != [2]int{1, 1} {
		f = append(f, "dilation="+pair(w.Dilation))
	}
	f = append(f, "padding="+w.Padding.String())
	if w.Padding == Explicit {
		f = append(f, fmt.Sprintf("pads=[%d,%d,%d,%d]", w.Pads[0], w.Pads[1], w.Pads[2], w.Pads[3]))
	}
	return f
}

func pair(p [2]int) string { return fmt.Sprintf("[%d,%d]", p[0], p[1]) }

// ConvAttrs are conv2d's attributes; the kernel (HWIO: kh, kw, in/groups, out)
// gives the window size.
type ConvAttrs struct {
	Window2D
	Groups int
}

func (a *ConvAttrs) String() string {
	f := a.fields()
	if a.Groups != 1 {
		f = append(f, "groups="+strconv.Itoa(a.Groups))
	}
	return strings.Join(f, " ")
}

// PoolAttrs are the attributes of max and average pooling. CountPad makes
// an average divide by the whole window, padded cells included (PyTorch's
// count_include_pad=True); otherwise it divides by the cells inside the
// input (Keras's and TensorFlow's rule).
type PoolAttrs struct {
	Window2D
	CountPad bool
}

func (a *PoolAttrs) String() string {
	f := a.fields()
	if a.CountPad {
		f = append(f, "count_pad=true")
	}
	return strings.Join(f, " ")
}

// AxisAttrs name one axis (softmax, log_softmax, concat). Negative axes count
// from the end as in NumPy; the checker normalises them to be non-negative.
type AxisAttrs struct {
	Axis int
}

func (a *AxisAttrs) String() string { return "axis=" + strconv.Itoa(a.Axis) }

// LeakyReluAttrs: y = x for x >= 0, alpha*x otherwise.
type LeakyReluAttrs struct {
	Alpha float32
}

func (a *LeakyReluAttrs) String() string { return "alpha=" + fmtFloat(a.Alpha) }

// ClipAttrs: y = min(max(x, Min), Max), NaN kept; Min <= Max.
type ClipAttrs struct {
	Min, Max float32
}

func (a *ClipAttrs) String() string { return "min=" + fmtFloat(a.Min) + " max=" + fmtFloat(a.Max) }

// EluAttrs: y = x for x > 0, alpha·(e^x - 1) otherwise.
type EluAttrs struct {
	Alpha float32
}

func (a *EluAttrs) String() string { return "alpha=" + fmtFloat(a.Alpha) }

// HardSigmoidAttrs: y = clip(alpha·x + 0.5, 0, 1). PyTorch's and Keras 3's
// hard sigmoid, relu6(x+3)/6, is alpha = 1/6; Keras 2's and ONNX's alpha = 0.2.
type HardSigmoidAttrs struct {
	Alpha float32
}

func (a *HardSigmoidAttrs) String() string { return "alpha=" + fmtFloat(a.Alpha) }

// PowAttrs: y = x^Exponent, as math.Pow: a negative x gives NaN unless the
// exponent is an integer.
type PowAttrs struct {
	Exponent float32
}

func (a *PowAttrs) String() string { return "exponent=" + fmtFloat(a.Exponent) }

// GeluAttrs selects the exact (erf) or the tanh approximation.
type GeluAttrs struct {
	Approximate bool
}

func (a *GeluAttrs) String() string {
	if a.Approximate {
		return "approximate=tanh"
	}
	return "approximate=none"
}

// TransposeAttrs: output axis i is input axis Perm[i].
type TransposeAttrs struct {
	Perm []int
}

func (a *TransposeAttrs) String() string { return "perm=" + ints(a.Perm) }

// MatMulAttrs transpose the last two axes of an operand before multiplying.
type MatMulAttrs struct {
	TransA, TransB bool
}

func (a *MatMulAttrs) String() string {
	return fmt.Sprintf("trans_a=%t trans_b=%t", a.TransA, a.TransB)
}

// BatchNormAttrs: y = (x-mean)/sqrt(var+eps)*gamma + beta over the last axis.
type BatchNormAttrs struct {
	Epsilon float32
}

func (a *BatchNormAttrs) String() string { return "epsilon=" + fmtFloat(a.Epsilon) }

// AttentionAttrs: out = softmax(q·kᵀ·Scale + mask)·v over the last two axes,
// with keys after the query's position masked out if Causal (query i sees
// keys j <= i, aligned at the top left as PyTorch's is_causal). Scale 0
// means 1/sqrt(d_k).
type AttentionAttrs struct {
	Causal bool
	Scale  float32
}

func (a *AttentionAttrs) String() string {
	return fmt.Sprintf("causal=%t scale=%s", a.Causal, fmtFloat(a.Scale))
}

// Cell is the recurrence of a recurrent op.
type Cell uint8

const (
	// CellRNN: h' = act(xw + h·U + bu), act tanh (or relu).
	CellRNN Cell = iota + 1
	// CellLSTM, gates i, f, g, o (PyTorch's order): c' = f·c + i·g,
	// h' = o·tanh(c'), with i, f, o sigmoids and g a tanh.
	CellLSTM
	// CellGRU, gates r, z, n (PyTorch's): n = tanh(xw_n + r·(h·U_n + bu_n)),
	// h' = (1-z)·n + z·h, with r and z sigmoids of xw + h·U + bu.
	CellGRU
)

var cellNames = [...]string{CellRNN: "rnn", CellLSTM: "lstm", CellGRU: "gru"}

func (c Cell) String() string {
	if int(c) < len(cellNames) && cellNames[c] != "" {
		return cellNames[c]
	}
	return fmt.Sprintf("cell(%d)", c)
}

// Gates is how many blocks of H columns the cell's projections have.
func (c Cell) Gates() int { return [...]int{CellRNN: 1, CellLSTM: 4, CellGRU: 3}[c] }

// RecurrentAttrs describe a recurrent layer's loop over the time axis. The
// op's operands are xw [N, T, G·H], the input projection of every step with
// its bias, computed before the loop as one matrix product (the large GEMM
// a recurrent layer has); u [H, G·H] and bu [G·H], the recurrent kernel and
// bias; and the initial h (and, for an LSTM, c), [N, H], zero if absent. The
// loop keeps only what must be sequential: h·U, one small product per step,
// and the gates, one elementwise pass. Its result is h at every step
// [N, T, H] with Sequences, else the final h [N, H]. Reverse runs the steps
// from T-1 down to 0 (the backward half of a bidirectional layer), writing
// each step's h at its own position.
type RecurrentAttrs struct {
	Cell      Cell
	Relu      bool // CellRNN with relu instead of tanh
	Reverse   bool
	Sequences bool
}

func (a *RecurrentAttrs) String() string {
	s := "cell=" + a.Cell.String()
	if a.Cell == CellRNN {
		s += " activation=" + map[bool]string{false: "tanh", true: "relu"}[a.Relu]
	}
	return s + fmt.Sprintf(" reverse=%t sequences=%t", a.Reverse, a.Sequences)
}

// SliceAttrs keep positions Start..End-1 of axis Axis.
type SliceAttrs struct {
	Axis, Start, End int
}

func (a *SliceAttrs) String() string {
	return fmt.Sprintf("axis=%d start=%d end=%d", a.Axis, a.Start, a.End)
}

// PaddingMaskAttrs: Pad is the id of the padding token.
type PaddingMaskAttrs struct {
	Pad int
}

func (a *PaddingMaskAttrs) String() string { return fmt.Sprintf("pad=%d", a.Pad) }

// NormAttrs: layer normalisation, y = (x-mean)/sqrt(var+eps)*gamma + beta,
// and RMS normalisation, y = x/sqrt(mean(x²)+eps)*gamma, with the statistics
// of each row of the last axis.
type NormAttrs struct {
	Epsilon float32
}

func (a *NormAttrs) String() string { return "epsilon=" + fmtFloat(a.Epsilon) }

// DropoutAttrs keep the training rate; at inference dropout is the identity.
type DropoutAttrs struct {
	Rate float32
}

func (a *DropoutAttrs) String() string { return "rate=" + fmtFloat(a.Rate) }

// DropoutTrainAttrs: inverted dropout, y = x⊙keep/(1-Rate), as Keras and
// PyTorch train. Element i is kept at step s (the op's scalar operand, a
// counter) when the top 32 bits of output i of the SplitMix64 stream seeded
// with splitmix(Seed ⊕ splitmix(s)) are at least Rate·2³² (see
// runtime/kernels/mask.Keep): a hash of (Seed, s, i), so the mask is the same
// for any thread count and any split of the work, and a new step draws a
// new mask without a new plan. Each dropout of a graph has its own Seed.
type DropoutTrainAttrs struct {
	Rate float32
	Seed int
}

func (a *DropoutTrainAttrs) String() string {
	return fmt.Sprintf("rate=%s seed=%d", fmtFloat(a.Rate), a.Seed)
}

func fmtFloat(f float32) string { return strconv.FormatFloat(float64(f), 'g', -1, 32) }

func ints(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return "[" + strings.Join(s, ",") + "]"
}

// ReshapeAttrs give the target shape (of reshape, sum_to, and embedding_grad's
// table); symbols in it are bound like the input's.
type ReshapeAttrs struct {
	Shape Shape
}

func (a *ReshapeAttrs) String() string { return "shape=" + a.Shape.String() }

func (a *ReshapeAttrs) bind(bound func(Shape) Shape) Attrs {
	return &ReshapeAttrs{Shape: bound(a.Shape)}
}
