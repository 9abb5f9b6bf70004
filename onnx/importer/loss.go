package importer

import (
	"fmt"
	"slices"

	"github.com/mdlc/mdlc/onnx"
)

// ONNX's losses, written with mdlc's elementwise layers and reductions: the
// class axis (1) is matched against the targets as a 0/1 one-hot mask, so
// that a target outside the classes (an ignore_index such as -1 or C)
// selects nothing rather than failing a gather.

func init() {
	register("NegativeLogLikelihoodLoss", 12, func(im *importer, n *onnx.Node) error {
		x, err := im.need(n, 0)
		if err != nil {
			return err
		}
		return im.nllLoss(n, x)
	})
	register("SoftmaxCrossEntropyLoss", 12, func(im *importer, n *onnx.Node) error {
		x, err := im.need(n, 0)
		if err != nil {
			return err
		}
		if x.ref == "" {
			return fmt.Errorf("its scores are constants; mdlc imports losses of values computed at run time")
		}
		if x.rank() < 2 {
			return fmt.Errorf("scores %s: ONNX needs [N, C, ...]", shapeString(x.shape))
		}
		src, err := im.logical(x)
		if err != nil {
			return err
		}
		logp := im.emit(n, "log_prob", "log_softmax", src.ref, []string{"axis=1"}, x.shape, false)
		im.set(n, 1, logp)
		return im.nllLoss(n, logp)
	})
}

// nllLoss is NegativeLogLikelihoodLoss of log-probabilities x [N, C, d...]
// (a SoftmaxCrossEntropyLoss's too, whose inputs 1 and 2 are the same):
//
//	picked = Σ_c x·[target = c]        (over the class axis)
//	w      = Σ_c weight·[target = c] · [target ≠ ignore_index]
//	loss   = -picked·w, then none: loss, sum: Σ loss, mean: Σ loss / Σ w
//
// without weight, w is the ignore mask alone (or 1, and mean is a mean).
func (im *importer) nllLoss(n *onnx.Node, x *val) error {
	target, err := im.need(n, 1)
	if err != nil {
		return err
	}
	weight := im.in(n, 2)
	reduction := attrString(n, "reduction", "mean")
	switch reduction {
	case "none", "sum", "mean":
	default:
		return fmt.Errorf("reduction %q: ONNX defines none, sum and mean", reduction)
	}
	if x.ref == "" {
		return fmt.Errorf("its input is a constant; mdlc imports losses of values computed at run time")
	}
	r := x.rank()
	if r < 2 || target.rank() != r-1 || target.shape[0] != x.shape[0] || !sameShape(target.shape[1:], x.shape[2:]) {
		return fmt.Errorf("input %s and target %s: ONNX needs [N, C, d...] and [N, d...]", shapeString(x.shape), shapeString(target.shape))
	}
	classes := x.shape[1]
	if !classes.isKnown() {
		return fmt.Errorf("the number of classes %s is dynamic; fix it with --dim", classes)
	}
	if weight != nil && (weight.rank() != 1 || weight.shape[0] != classes) {
		return fmt.Errorf("weight %s: ONNX needs one per class, [%d]", shapeString(weight.shape), classes.n)
	}
	src, err := im.logical(x)
	if err != nil {
		return err
	}
	tref, err := im.tensorRef(target, false)
	if err != nil {
		return err
	}
	// [N, 1, d...] against the classes [C, 1, ...]: the one-hot mask.
	ts := slices.Insert(slices.Clone(target.shape), 1, known(1))
	t1 := im.emit(n, "target", "expand_dims", tref, []string{"axis=1"}, ts, false)
	if err := im.fold(classes.n); err != nil {
		return err
	}
	ids := make([]float32, classes.n)
	for c := range ids {
		ids[c] = float32(c)
	}
	colShape := append([]dim{classes}, slices.Repeat([]dim{known(1)}, r-2)...)
	cls := &val{shape: colShape, c: &konst{f: ids}}
	hot, err := im.elementwise(n, "equal", []*val{t1, cls}, x.shape)
	if err != nil {
		return err
	}
	all := func(v *val) []string {
		axes := make([]int, v.rank())
		for i := range axes {
			axes[i] = i
		}
		return []string{intList(axes)}
	}
	pickedAll := im.emit(n, "picked", "mul", "", []string{hot.ref, src.ref}, x.shape, false)
	picked := im.emit(n, "picked", "reduce_sum", pickedAll.ref, []string{"[1]"}, target.shape, false)
	var w *val // the weight of each target, nil for 1
	if weight != nil {
		col := weight
		if weight.ref == "" {
			col = &val{shape: colShape, c: weight.c}
		} else if r > 2 {
			if col, err = im.reshapeTo(n, weight, colShape, false); err != nil {
				return err
			}
		}
		wAll, err := im.elementwise(n, "mul", []*val{hot, col}, x.shape)
		if err != nil {
			return err
		}
		w = im.emit(n, "weight", "reduce_sum", wAll.ref, []string{"[1]"}, target.shape, false)
	}
	if ii := n.Attr("ignore_index"); ii != nil {
		keep := im.emit(n, "kept", "not_equal", tref, []string{number(float64(ii.I))}, target.shape, false)
		if w == nil {
			w = keep
		} else {
			w = im.emit(n, "weight", "mul", "", []string{w.ref, keep.ref}, target.shape, false)
		}
	}
	loss := picked
	if w != nil {
		loss = im.emit(n, "weighted", "mul", "", []string{picked.ref, w.ref}, target.shape, false)
	}
	loss = im.emit(n, "loss", "neg", loss.ref, nil, target.shape, false)
	switch {
	case reduction == "none":
	case reduction == "sum":
		loss = im.emit(n, "loss", "reduce_sum", loss.ref, all(loss), nil, false)
	case w == nil:
		loss = im.emit(n, "loss", "reduce_mean", loss.ref, all(loss), nil, false)
	default:
		total := im.emit(n, "loss", "reduce_sum", loss.ref, all(loss), nil, false)
		mass := im.emit(n, "weight_sum", "reduce_sum", w.ref, all(w), nil, false)
		loss = im.emit(n, "loss", "div", "", []string{total.ref, mass.ref}, nil, false)
	}
	im.set(n, 0, loss)
	return nil
}
