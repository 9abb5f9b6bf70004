package importer

import (
	"slices"

	"github.com/mdlc/mdlc/onnx"
)

// attentionPattern recognises scaled dot-product attention as exporters
// write it, starting at the product of the queries and the transposed keys:
//
//	s = MatMul(q, kᵀ)  [s = s / c  or  s · c]  [s = s + mask]
//	a = Softmax(s, last axis)   y = MatMul(a, v)
//
// and writes one attention layer for it, whose kernel never holds the
// whole score matrix. kᵀ's transpose is undone (or composed with the one
// that made it). A mask or v computed after the first product in the
// graph's order is imported early when what it reads is known (early);
// otherwise the nodes stay as they are.
func (im *importer) attentionPattern(m1 *onnx.Node, q, kt *val) bool {
	r := q.rank()
	if r < 2 || kt.rank() != r || q.ref == "" || kt.ref == "" || q.channelsLast || kt.channelsLast || !sameShape(q.shape[:r-2], kt.shape[:r-2]) {
		return false
	}
	out := m1.Outputs[0]
	var nodes []*onnx.Node
	scale := 1.0
	if d := im.sole(out, "Div"); d != nil && d.Inputs[0] == out {
		c, ok := im.scalarConst(d.Inputs[1])
		if !ok || c == 0 {
			return false
		}
		scale, out = 1/c, d.Outputs[0]
		nodes = append(nodes, d)
	} else if m := im.sole(out, "Mul"); m != nil {
		c, ok := im.scalarConst(other(m, out))
		if !ok {
			return false
		}
		scale, out = c, m.Outputs[0]
		nodes = append(nodes, m)
	}
	var mask *val
	if a := im.sole(out, "Add"); a != nil {
		mask = im.early(other(a, out), 3)
		if mask == nil || mask.channelsLast || mask.isInt || mask.rank() > r {
			return false
		}
		if _, ok := mask.scalarValue(); ok && mask.ref == "" {
			// A constant added to every score leaves the softmax as it is.
			mask = nil
		}
		out = a.Outputs[0]
		nodes = append(nodes, a)
	}
	sm := im.sole(out, "Softmax")
	if sm == nil {
		return false
	}
	scores := &val{shape: append(slices.Clone(q.shape[:r-1]), kt.shape[r-1])}
	if axis, err := im.softmaxAxis(sm, scores, ""); err != nil || axis != int64(r-1) {
		return false
	}
	m2 := im.sole(sm.Outputs[0], "MatMul")
	if m2 == nil || m2.Inputs[0] != sm.Outputs[0] {
		return false
	}
	v := im.early(m2.Inputs[1], 3)
	if v == nil || v.ref == "" || v.channelsLast || v.rank() != r || !sameShape(v.shape[:r-2], q.shape[:r-2]) || v.shape[r-2] != kt.shape[r-1] {
		return false
	}
	swap := make([]int, r)
	for i := range swap {
		swap[i] = i
	}
	swap[r-2], swap[r-1] = r-1, r-2
	k, err := im.transposed(m1, kt, swap)
	if err != nil {
		return false
	}
	args := []string{q.ref, k.ref, v.ref}
	if mask != nil {
		ref, err := im.tensorRef(mask, false)
		if err != nil {
			return false
		}
		args = append(args, "mask="+ref)
	}
	args = append(args, "scale="+number(scale))
	shape := append(append([]dim{}, q.shape[:r-1]...), v.shape[r-1])
	ref := im.w.name("attention")
	im.w.add(&stmt{outs: []string{ref}, call: "attention", args: args, comment: "onnx: " + m1.Name + " to " + m2.Name})
	for _, n := range append(nodes, sm, m2) {
		im.skip[n] = true
	}
	im.vals[m2.Outputs[0]] = &val{ref: ref, shape: shape}
	return true
}

// scalarConst is the value of a constant holding one number.
func (im *importer) scalarConst(name string) (float64, bool) {
	c := im.vals[name]
	if c == nil || c.ref != "" {
		return 0, false
	}
	return c.scalarValue()
}
