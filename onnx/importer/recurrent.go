package importer

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/mdlc/mdlc/onnx"
	"github.com/mdlc/mdlc/tensor"
)

func init() {
	register("LSTM", 7, recurrent("lstm", []int{0, 2, 3, 1}))
	register("GRU", 7, recurrent("gru", []int{1, 0, 2}))
	register("RNN", 7, recurrent("simple_rnn", []int{0}))
}

// recurrent imports LSTM, GRU and RNN as mdlc's layers of the same cells.
// ONNX stacks the gates in its own order (LSTM i, o, f, c; GRU z, r, h),
// mdlc in PyTorch's (LSTM i, f, g, o; GRU r, z, n): order lists, for each
// of mdlc's gates, the ONNX gate it is. The weights are transposed to
// mdlc's x·kernel form. Sequences are [T, N, features] in ONNX (layout 0)
// and batch first in mdlc, so the input and the outputs Y, Y_h are
// transposed; Y_c is not available.
func recurrent(call string, order []int) rule {
	return func(im *importer, n *onnx.Node) error {
		x, err := im.need(n, 0)
		if err != nil {
			return err
		}
		if x.rank() != 3 {
			return fmt.Errorf("input %s is not a sequence of vectors", shapeString(x.shape))
		}
		w, wd, err := im.constWeight(n, 1, "W")
		if err != nil {
			return err
		}
		r, rd, err := im.constWeight(n, 2, "R")
		if err != nil {
			return err
		}
		hidden := int(attrInt(n, "hidden_size", 0))
		gates := len(order)
		dirs := 1
		bidir := false
		switch d := attrString(n, "direction", "forward"); d {
		case "forward":
		case "bidirectional":
			dirs, bidir = 2, true
		default:
			return fmt.Errorf("direction %q: mdlc's recurrent layers run forward, or both ways", d)
		}
		if hidden < 1 || len(wd) != 3 || wd[0] != dirs || wd[1] != gates*hidden || len(rd) != 3 || rd[1] != gates*hidden || rd[2] != hidden {
			return fmt.Errorf("W %v and R %v do not fit hidden_size %d with %d gates", wd, rd, hidden, gates)
		}
		features := wd[2]
		if attrFloat(n, "clip", 0) != 0 {
			return fmt.Errorf("clip: mdlc's cells do not clip")
		}
		if attrInt(n, "input_forget", 0) != 0 {
			return fmt.Errorf("input_forget: mdlc's LSTM has no coupled gates")
		}
		act := ""
		if a := n.Attr("activations"); a != nil {
			var names []string
			for _, s := range a.Strings {
				names = append(names, strings.ToLower(string(s)))
			}
			want := map[string][]string{"lstm": {"sigmoid", "tanh", "tanh"}, "gru": {"sigmoid", "tanh"}, "simple_rnn": {"tanh"}}[call]
			for i, name := range names {
				exp := want[i%len(want)]
				if call == "simple_rnn" && name == "relu" {
					act = "relu"
					continue
				}
				if name != exp {
					return fmt.Errorf("activations %v: mdlc's %s uses %v", names, call, want)
				}
			}
		}
		if call == "gru" && attrInt(n, "linear_before_reset", 0) != 1 {
			return fmt.Errorf("linear_before_reset=0 applies the reset gate before the recurrent product; mdlc's GRU is PyTorch's, linear_before_reset=1")
		}
		if v := im.in(n, 4); v != nil {
			lens, ok := v.ints()
			if !ok || v.ref != "" || !x.shape[0].isKnown() {
				return fmt.Errorf("sequence_lens is given at run time; mdlc runs every sequence to the end")
			}
			for _, l := range lens {
				if l != x.shape[0].n {
					return fmt.Errorf("sequence_lens %v: mdlc runs every sequence to the end", lens)
				}
			}
		}
		if im.in(n, 7) != nil {
			return fmt.Errorf("peepholes: mdlc's LSTM has none")
		}
		layout := attrInt(n, "layout", 0)
		seq := x
		if layout == 0 {
			if seq, err = im.transposed(n, x, []int{1, 0, 2}); err != nil {
				return err
			}
		}
		name := im.layerName(n, 1)
		var bias []float32
		if b := im.in(n, 3); b != nil {
			bv, bd, err := im.constWeight(n, 3, "B")
			if err != nil {
				return err
			}
			if len(bd) != 2 || bd[0] != dirs || bd[1] != 2*gates*hidden {
				return fmt.Errorf("B %v does not fit", bd)
			}
			bias = bv.floats()
		} else {
			bias = make([]float32, dirs*2*gates*hidden)
		}
		reorder := func(rows []float32, cols int) []float32 {
			out := make([]float32, 0, len(rows))
			for _, g := range order {
				out = append(out, rows[g*hidden*cols:(g+1)*hidden*cols]...)
			}
			return out
		}
		gh := gates * hidden
		for d := range dirs {
			prefix := name + "."
			if d == 1 {
				prefix += "reverse."
			}
			wk := reorder(w.floats()[d*gh*features:(d+1)*gh*features], features)
			rk := reorder(r.floats()[d*gh*hidden:(d+1)*gh*hidden], hidden)
			bs := bias[d*2*gh : (d+1)*2*gh]
			for _, p := range []struct {
				suffix string
				dims   []int
				data   []float32
			}{
				{"kernel", []int{features, gh}, tensor.Permute(wk, []int{gh, features}, []int{1, 0})},
				{"recurrent_kernel", []int{hidden, gh}, tensor.Permute(rk, []int{gh, hidden}, []int{1, 0})},
				{"bias", []int{gh}, reorder(bs[:gh], 1)},
				{"recurrent_bias", []int{gh}, reorder(bs[gh:], 1)},
			} {
				if err := im.weight(prefix+p.suffix, p.dims, p.data); err != nil {
					return err
				}
			}
		}
		args := []string{strconv.Itoa(hidden)}
		if bidir {
			args = append(args, "bidirectional=true")
		}
		if act != "" {
			args = append(args, "activation="+act)
		}
		var states []string
		for i, st := range []string{"h0", "c0"} {
			v := im.in(n, 5+i)
			if v == nil || v.ref == "" && allZero(v.floats()) {
				continue // zeros are mdlc's initial state too (exporters write them out)
			}
			if bidir {
				return fmt.Errorf("initial states with direction bidirectional: mdlc takes them for one direction")
			}
			// [1, N, H] → [N, H]
			one := &val{shape: v.shape[1:], c: v.c, ref: v.ref}
			if v.ref != "" {
				one = im.emit(n, st, "squeeze", v.ref, []string{"axes=[0]"}, v.shape[1:], false)
			}
			ref, err := im.tensorRef(one, false)
			if err != nil {
				return err
			}
			states = append(states, st+"="+ref)
		}
		args = append(args, states...)
		if len(n.Outputs) > 2 && n.Outputs[2] != "" && im.uses[n.Outputs[2]] > 0 {
			return fmt.Errorf("its last cell state Y_c is used; mdlc's lstm gives h")
		}
		useY := len(n.Outputs) > 0 && n.Outputs[0] != "" && im.uses[n.Outputs[0]] > 0
		useH := len(n.Outputs) > 1 && n.Outputs[1] != "" && im.uses[n.Outputs[1]] > 0
		batch, steps := seq.shape[0], seq.shape[1]
		if !useY {
			out := im.w.name(name)
			im.w.add(&stmt{outs: []string{out}, call: call, in: seq.ref, args: args, as: name, comment: comment(n)})
			last := &val{ref: out, shape: []dim{batch, known(int64(dirs * hidden))}}
			return im.recurrentState(n, last, dirs, hidden, layout)
		}
		out := im.w.name(name)
		im.w.add(&stmt{outs: []string{out}, call: call, in: seq.ref, args: append(args, "return_sequences=true"), as: name, comment: comment(n)})
		ys := &val{ref: out, shape: []dim{batch, steps, known(int64(dirs * hidden))}}
		y := im.emit(n, "y", "reshape", ys.ref, []string{intList([]int{0, dirs, hidden})}, []dim{batch, steps, known(int64(dirs)), known(int64(hidden))}, false)
		if layout == 0 {
			if y, err = im.transposed(n, y, []int{1, 2, 0, 3}); err != nil {
				return err
			}
		}
		im.set(n, 0, y)
		if !useH {
			return nil
		}
		if !steps.isKnown() {
			return fmt.Errorf("Y and Y_h both used on sequences of dynamic length: fix it with --dim")
		}
		// The forward direction ends at the last step, the backward one at
		// the first.
		t := strconv.FormatInt(steps.n, 10)
		parts := []string{im.emit(n, "y_h", "slice", ys.ref, []string{strconv.FormatInt(steps.n-1, 10), t, "axis=1"}, nil, false).ref}
		if bidir {
			parts[0] = im.emit(n, "y_h", "slice", parts[0], []string{"0", strconv.Itoa(hidden), "axis=2"}, nil, false).ref
			back := im.emit(n, "y_h", "slice", ys.ref, []string{"0", "1", "axis=1"}, nil, false)
			back = im.emit(n, "y_h", "slice", back.ref, []string{strconv.Itoa(hidden), strconv.Itoa(2 * hidden), "axis=2"}, nil, false)
			parts = append(parts, back.ref)
		}
		h := parts[0]
		if bidir {
			h = im.emit(n, "y_h", "concat", "", append(slices.Clone(parts), "axis=2"), nil, false).ref
		}
		last := im.emit(n, "y_h", "reshape", h, []string{intList([]int{dirs * hidden})}, []dim{batch, known(int64(dirs * hidden))}, false)
		return im.recurrentState(n, last, dirs, hidden, layout)
	}
}

// recurrentState sets Y_h, [dirs, N, H] (layout 0) or [N, dirs, H], from
// the last states side by side, [N, dirs·H].
func (im *importer) recurrentState(n *onnx.Node, last *val, dirs, hidden int, layout int64) error {
	batch := last.shape[0]
	h := im.emit(n, "y_h", "reshape", last.ref, []string{intList([]int{dirs, hidden})}, []dim{batch, known(int64(dirs)), known(int64(hidden))}, false)
	if layout == 0 {
		var err error
		if h, err = im.transposed(n, h, []int{1, 0, 2}); err != nil {
			return err
		}
	}
	im.set(n, 1, h)
	return nil
}

// transposed writes a transpose of a value held in logical order.
func (im *importer) transposed(n *onnx.Node, x *val, perm []int) (*val, error) {
	src, err := im.logical(x)
	if err != nil {
		return nil, err
	}
	ref, err := im.tensorRef(src, false)
	if err != nil {
		return nil, err
	}
	shape := make([]dim, len(perm))
	for i, p := range perm {
		shape[i] = x.shape[p]
	}
	if y := undoTranspose(src, perm); y != nil {
		return y, nil
	}
	if src.transposeOf != nil {
		// Two transposes in a row are one.
		src, perm = src.transposeOf, composePerm(src.transposePerm, perm)
		ref = src.ref
	}
	v := im.emit(n, "transposed", "transpose", ref, []string{intList(perm)}, shape, false)
	v.transposeOf, v.transposePerm = src, perm
	return v, nil
}

// composePerm is the permutation of transposing by first, then by then.
func composePerm(first, then []int) []int {
	out := make([]int, len(then))
	for i, p := range then {
		out[i] = first[p]
	}
	return out
}

// undoTranspose is the value x was transposed from, when transposing x by
// perm gives it back; nil otherwise. The statement that made x is then
// unused and dropped with the program's other dead statements.
func undoTranspose(x *val, perm []int) *val {
	if x.transposeOf == nil || len(perm) != len(x.transposePerm) {
		return nil
	}
	for i, p := range perm {
		if x.transposePerm[p] != i {
			return nil
		}
	}
	return x.transposeOf
}

func allZero(v []float32) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}
