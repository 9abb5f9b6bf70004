package exporter

import (
	"fmt"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/onnx"
)

// Recurrent layers. mdlc's recurrent op loops over xw, the input projection
// computed before it as one matrix product (x·K + b); ONNX's LSTM, GRU and
// RNN take the input x and the weights W, R, B and project x themselves. So
// the projection is folded back into W and B where it is a matmul by a
// constant (plus a constant bias) that only the loop reads, as every
// recurrent layer elaborates; otherwise W is the identity on xw's gates.
// ONNX's gates are in another order than mdlc's (PyTorch's), and ONNX
// multiplies by Wᵀ and Rᵀ where mdlc multiplies by K and U:
//
//	W[d][j·H + r][c] = K[c][order[j]·H + r]   R likewise from U
//	B[d] = [b reordered, bu reordered]
//
// A forward and a reverse loop over the same x joined by a concatenation
// (a bidirectional layer) become one bidirectional node.

// gateOrder[cell][j] is the mdlc gate that is ONNX's gate j: LSTM i,f,g,o
// -> i,o,f,c; GRU r,z,n -> z,r,h (linear_before_reset=1 is PyTorch's n).
var gateOrder = [...][]int{ir.CellRNN: {0}, ir.CellLSTM: {0, 3, 1, 2}, ir.CellGRU: {1, 0, 2}}

var cellOps = [...]string{ir.CellRNN: "RNN", ir.CellLSTM: "LSTM", ir.CellGRU: "GRU"}

// loop is one direction of a recurrent layer, its weights in ONNX's layout.
type loop struct {
	x       *ir.Value // what ONNX's X is: the layer's input, or xw itself
	w, r, b []float32 // W [G·H, I], R [G·H, H], B [2·G·H]
	inputs  int       // I
}

// projection finds x, K and b with xw = x·K + b, K and b constants and
// nothing else reading the product; ok is false when xw is not that.
func (e *exporter) projection(xw *ir.Value) (x *ir.Value, k, b []float32, ok bool) {
	if xw.Def == nil || e.uses[xw] != 1 {
		return nil, nil, nil, false
	}
	mm := xw
	if xw.Def.Op == ir.OpAdd {
		a, c := xw.Def.Inputs[0], xw.Def.Inputs[1]
		if a.Kind == ir.Const {
			a, c = c, a
		}
		if c.Kind != ir.Const || c.Type.Shape.Rank() != 1 || a.Def == nil || e.uses[a] != 1 {
			return nil, nil, nil, false
		}
		mm, b = a, c.Data
	}
	d := mm.Def
	if d.Op != ir.OpMatMul || *d.Attrs.(*ir.MatMulAttrs) != (ir.MatMulAttrs{}) || d.Inputs[1].Kind != ir.Const || d.Inputs[0].Type.Shape.Rank() != 3 {
		return nil, nil, nil, false
	}
	return d.Inputs[0], d.Inputs[1].Data, b, true
}

// onnxLoop puts one recurrent node's weights in ONNX's layout.
func (e *exporter) onnxLoop(n *ir.Node) (*loop, error) {
	a := n.Attrs.(*ir.RecurrentAttrs)
	xw, u, bu := n.Inputs[0], n.Inputs[1], n.Inputs[2]
	if u.Kind != ir.Const || bu.Kind != ir.Const {
		return nil, fmt.Errorf("its recurrent kernel and bias are not constants: export needs the weights bound")
	}
	order := gateOrder[a.Cell]
	g, h := len(order), u.Type.Shape[0].Size
	gh := g * h
	x, k, b, ok := e.projection(xw)
	in := gh
	if ok {
		in = x.Type.Shape[2].Size
	} else {
		// The identity: ONNX's gate j reads xw's gate order[j].
		x, k = xw, make([]float32, gh*gh)
		for i := range gh {
			k[i*gh+i] = 1
		}
	}
	l := &loop{x: x, w: make([]float32, gh*in), r: make([]float32, gh*h), b: make([]float32, 2*gh), inputs: in}
	for j, src := range order {
		for r := range h {
			row, col := j*h+r, src*h+r
			for c := range in {
				l.w[row*in+c] = k[c*gh+col]
			}
			for c := range h {
				l.r[row*h+c] = u.Data[c*gh+col]
			}
			if b != nil {
				l.b[row] = b[col]
			}
			l.b[gh+row] = bu.Data[col]
		}
	}
	return l, nil
}

// recurrent exports one direction; a loop that is half of a bidirectional
// layer is left to the concatenation that joins it.
func recurrent(e *exporter, n *ir.Node) error {
	if r := e.readers[n.Outputs[0]]; len(r) == 1 && r[0].Op == ir.OpConcat {
		if _, ok := e.bidirectional(r[0]); ok {
			return nil
		}
	}
	out, err := e.recurrentNode([]*ir.Node{n})
	if err != nil {
		return err
	}
	e.nhwc[n.Outputs[0]] = out
	return nil
}

// recurrentNode writes one ONNX node for the loops (one, or forward and
// reverse over the same x) and returns the mdlc-shaped result: [N, T,
// dirs·H] with sequences, else [N, dirs·H].
func (e *exporter) recurrentNode(ns []*ir.Node) (string, error) {
	a := ns[0].Attrs.(*ir.RecurrentAttrs)
	h := ns[0].Inputs[1].Type.Shape[0].Size
	var loops []*loop
	for _, n := range ns {
		l, err := e.onnxLoop(n)
		if err != nil {
			return "", err
		}
		loops = append(loops, l)
	}
	dirs := int64(len(loops))
	l0 := loops[0]
	gh := int64(len(l0.b) / 2)
	var w, r, b []float32
	for _, l := range loops {
		w, r, b = append(w, l.w...), append(r, l.r...), append(b, l.b...)
	}
	layer := layerOf(ns[0])
	wn, err := e.floats(layer+".W", []int64{dirs, gh, int64(l0.inputs)}, w)
	if err != nil {
		return "", err
	}
	rn, err := e.floats(layer+".R", []int64{dirs, gh, int64(h)}, r)
	if err != nil {
		return "", err
	}
	bn, err := e.floats(layer+".B", []int64{dirs, 2 * gh}, b)
	if err != nil {
		return "", err
	}
	x, err := e.val(l0.x)
	if err != nil {
		return "", err
	}
	in := []string{e.emit("Transpose", []string{x}, attrInts("perm", 1, 0, 2)), wn, rn, bn}
	// Initial states [N, H] -> [1, N, H], after sequence_lens (left out).
	for i := 3; i < len(ns[0].Inputs); i++ {
		s, err := e.val(ns[0].Inputs[i])
		if err != nil {
			return "", err
		}
		if i == 3 {
			in = append(in, "")
		}
		in = append(in, e.emit("Unsqueeze", []string{s, e.int64s("axes", 0)}))
	}
	direction := "forward"
	switch {
	case dirs == 2:
		direction = "bidirectional"
	case a.Reverse:
		direction = "reverse"
	}
	attrs := []*onnx.Attribute{attrInt("hidden_size", int64(h)), attrString("direction", direction)}
	switch {
	case a.Cell == ir.CellGRU:
		attrs = append(attrs, attrInt("linear_before_reset", 1))
	case a.Cell == ir.CellRNN && a.Relu:
		acts := make([]string, dirs)
		for i := range acts {
			acts[i] = "Relu"
		}
		attrs = append(attrs, attrStrings("activations", acts...))
	}
	outs := e.emitN(cellOps[a.Cell], in, 2, attrs...)
	node := e.nodes[len(e.nodes)-1]
	if a.Sequences {
		// Y [T, dirs, N, H] -> [N, T, dirs, H] -> [N, T, dirs·H].
		node.Outputs = outs[:1]
		y := e.emit("Transpose", []string{outs[0]}, attrInts("perm", 2, 0, 1, 3))
		return e.emit("Reshape", []string{y, e.int64s("shape", 0, 0, dirs*int64(h))}), nil
	}
	// Y_h [dirs, N, H] -> [N, dirs, H] -> [N, dirs·H].
	node.Outputs[0] = ""
	y := e.emit("Transpose", []string{outs[1]}, attrInts("perm", 1, 0, 2))
	return e.emit("Reshape", []string{y, e.int64s("shape", 0, dirs*int64(h))}), nil
}

// bidirectional reports whether concat n joins a forward and a reverse loop
// of the same cell over the same x on the feature axis, each read only
// there and without initial states: a bidirectional layer.
func (e *exporter) bidirectional(n *ir.Node) ([]*ir.Node, bool) {
	if len(n.Inputs) != 2 || n.Attrs.(*ir.AxisAttrs).Axis != n.Outputs[0].Type.Shape.Rank()-1 {
		return nil, false
	}
	var loops []*ir.Node
	var xs []*ir.Value
	for i, v := range n.Inputs {
		d := v.Def
		if d == nil || d.Op != ir.OpRecurrent || e.uses[v] != 1 || len(d.Inputs) > 3 || d.Attrs.(*ir.RecurrentAttrs).Reverse != (i == 1) {
			return nil, false
		}
		x, _, _, ok := e.projection(d.Inputs[0])
		if !ok {
			return nil, false
		}
		loops, xs = append(loops, d), append(xs, x)
	}
	fa, ra := *loops[0].Attrs.(*ir.RecurrentAttrs), *loops[1].Attrs.(*ir.RecurrentAttrs)
	ra.Reverse = false
	return loops, xs[0] == xs[1] && fa == ra && loops[0].Inputs[1].Type.Equal(loops[1].Inputs[1].Type)
}
