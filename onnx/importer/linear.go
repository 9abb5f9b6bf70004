package importer

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/mdlc/mdlc/onnx"
)

func init() {
	register("MatMul", 1, matMul)
	register("Gemm", 1, gemm)
	register("Einsum", 12, einsum)
}

// matMul is dense when B is a 2-D weight and A has rank 2 or 3 (an Add of
// a bias vector after it joins it: fuseBias), else matmul.
func matMul(im *importer, n *onnx.Node) error {
	a, err := im.need(n, 0)
	if err != nil {
		return err
	}
	b, err := im.need(n, 1)
	if err != nil {
		return err
	}
	if a.rank() < 2 || b.rank() < 2 {
		return fmt.Errorf("a 1-D operand (%s · %s): mdlc imports matrix products of rank 2 and more", shapeString(a.shape), shapeString(b.shape))
	}
	k, kb := a.shape[a.rank()-1], b.shape[b.rank()-2]
	if k != kb {
		return fmt.Errorf("inner sizes differ: %s · %s", shapeString(a.shape), shapeString(b.shape))
	}
	if a.ref != "" && b.ref == "" && b.rank() == 2 && (a.rank() == 2 || a.rank() == 3) {
		al, err := im.logical(a)
		if err != nil {
			return err
		}
		units := int(b.shape[1].n)
		name := im.layerName(n, 1)
		if err := im.weight(name+".kernel", []int{int(k.n), units}, b.floats()); err != nil {
			return err
		}
		shape := append(slices.Clone(a.shape[:a.rank()-1]), known(int64(units)))
		out := im.w.name(name)
		im.w.add(&stmt{outs: []string{out}, call: "dense", in: al.ref, args: []string{strconv.Itoa(units), "use_bias=false"}, as: name, comment: comment(n)})
		im.set(n, 0, &val{ref: out, shape: shape})
		return nil
	}
	if im.attentionPattern(n, a, b) {
		return nil
	}
	batch, err := broadcast(a.shape[:a.rank()-2], b.shape[:b.rank()-2])
	if err != nil {
		return err
	}
	shape := append(batch, a.shape[a.rank()-2], b.shape[b.rank()-1])
	ar, err := im.tensorRef(a, false)
	if err != nil {
		return err
	}
	br, err := im.tensorRef(b, false)
	if err != nil {
		return err
	}
	im.set(n, 0, im.emit(n, "matmul", "matmul", "", []string{ar, br}, shape, false))
	return nil
}

// gemm is alpha·A'·B' + beta·C: a dense layer when B and C are weights.
func gemm(im *importer, n *onnx.Node) error {
	a, err := im.need(n, 0)
	if err != nil {
		return err
	}
	if bv := im.in(n, 1); bv != nil && bv.ref != "" {
		return gemmProduct(im, n, a, bv)
	}
	b, bd, err := im.constWeight(n, 1, "B")
	if err != nil {
		return err
	}
	if a.rank() != 2 || len(bd) != 2 {
		return fmt.Errorf("Gemm takes matrices; got %s and %v", shapeString(a.shape), bd)
	}
	alpha, beta := attrFloat(n, "alpha", 1), attrFloat(n, "beta", 1)
	kernel := b.floats()
	if attrInt(n, "transB", 0) == 1 {
		kernel = permute(kernel, bd, []int{1, 0})
		bd = []int{bd[1], bd[0]}
	}
	if alpha != 1 {
		kernel = slices.Clone(kernel)
		for i := range kernel {
			kernel[i] *= alpha
		}
	}
	x, err := im.logical(a)
	if err != nil {
		return err
	}
	if attrInt(n, "transA", 0) == 1 {
		x = im.emit(n, "transposed", "transpose", x.ref, []string{"[1, 0]"}, []dim{a.shape[1], a.shape[0]}, false)
	}
	if !x.shape[1].isKnown() || int(x.shape[1].n) != bd[0] {
		return fmt.Errorf("A's columns %s do not fit B %v", x.shape[1], bd)
	}
	units := bd[1]
	name := im.layerName(n, 1)
	if err := im.weight(name+".kernel", bd, kernel); err != nil {
		return err
	}
	args := []string{strconv.Itoa(units)}
	if c := im.in(n, 2); c != nil && beta != 0 {
		if c.ref != "" {
			return fmt.Errorf("C is computed at run time; mdlc needs Gemm's C as a weight")
		}
		cv := c.floats()
		bias := make([]float32, units)
		switch len(cv) {
		case 1:
			for i := range bias {
				bias[i] = beta * cv[0]
			}
		case units:
			if c.rank() == 2 && c.shape[0].n != 1 {
				return fmt.Errorf("C %s is not a bias over the columns", shapeString(c.shape))
			}
			for i := range bias {
				bias[i] = beta * cv[i]
			}
		default:
			return fmt.Errorf("C %s is not a bias over %d columns", shapeString(c.shape), units)
		}
		if err := im.weight(name+".bias", []int{units}, bias); err != nil {
			return err
		}
	} else {
		args = append(args, "use_bias=false")
	}
	out := im.w.name(name)
	im.w.add(&stmt{outs: []string{out}, call: "dense", in: x.ref, args: args, as: name, comment: comment(n)})
	im.set(n, 0, &val{ref: out, shape: []dim{x.shape[0], known(int64(units))}})
	return nil
}

// gemmProduct is Gemm of two run-time matrices: matmul, then alpha and
// beta·C by broadcasting.
func gemmProduct(im *importer, n *onnx.Node, a, b *val) error {
	if a.rank() != 2 || b.rank() != 2 {
		return fmt.Errorf("Gemm takes matrices; got %s and %s", shapeString(a.shape), shapeString(b.shape))
	}
	ta, tb := attrInt(n, "transA", 0) == 1, attrInt(n, "transB", 0) == 1
	m, k := a.shape[0], a.shape[1]
	if ta {
		m, k = k, m
	}
	kb, cols := b.shape[0], b.shape[1]
	if tb {
		kb, cols = cols, kb
	}
	if k != kb {
		return fmt.Errorf("inner sizes differ: %s · %s", shapeString(a.shape), shapeString(b.shape))
	}
	ar, err := im.tensorRef(a, false)
	if err != nil {
		return err
	}
	br, err := im.tensorRef(b, false)
	if err != nil {
		return err
	}
	args := []string{ar, br}
	if ta {
		args = append(args, "transpose_a=true")
	}
	if tb {
		args = append(args, "transpose_b=true")
	}
	shape := []dim{m, cols}
	y := im.emit(n, "gemm", "matmul", "", args, shape, false)
	if alpha := attrFloat(n, "alpha", 1); alpha != 1 {
		y = im.emit(n, "gemm", "mul", y.ref, []string{number(float64(alpha))}, shape, false)
	}
	if c := im.in(n, 2); c != nil {
		if beta := attrFloat(n, "beta", 1); beta != 1 {
			if c.ref != "" {
				c = im.emit(n, "gemm_c", "mul", c.ref, []string{number(float64(beta))}, c.shape, false)
			} else {
				f := slices.Clone(c.floats())
				for i := range f {
					f[i] *= beta
				}
				c = &val{shape: c.shape, c: &konst{f: f}}
			}
		}
		if y, err = im.elementwise(n, "add", []*val{y, c}, shape); err != nil {
			return err
		}
	}
	im.set(n, 0, y)
	return nil
}

// einsum imports the matrix-product forms of Einsum: two operands whose
// letters are the same batch axes, in the same order, followed by two
// axes each, one of them summed over ("bij,bjk->bik", "bhid,bhjd->bhij"):
// a matmul, transposing an operand where its summed axis comes first or
// last.
func einsum(im *importer, n *onnx.Node) error {
	eq := strings.ReplaceAll(attrString(n, "equation", ""), " ", "")
	lhs, out, ok := strings.Cut(eq, "->")
	terms := strings.Split(lhs, ",")
	if !ok || len(terms) != 2 || len(n.Inputs) != 2 || strings.Contains(eq, ".") {
		return fmt.Errorf("equation %q: mdlc imports two-operand matrix products with an explicit output", eq)
	}
	a, err := im.need(n, 0)
	if err != nil {
		return err
	}
	b, err := im.need(n, 1)
	if err != nil {
		return err
	}
	ta, tb := terms[0], terms[1]
	if len(ta) != a.rank() || len(tb) != b.rank() || len(ta) != len(tb) || len(ta) < 2 || len(out) != len(ta) {
		return fmt.Errorf("equation %q does not fit operands %s and %s as a matrix product", eq, shapeString(a.shape), shapeString(b.shape))
	}
	r := len(ta)
	batch := ta[:r-2]
	if tb[:r-2] != batch || out[:r-2] != batch {
		return fmt.Errorf("equation %q: the batch axes must lead, in one order", eq)
	}
	am, bm, om := ta[r-2:], tb[r-2:], out[r-2:]
	// The summed letter is in both operands' last two and not the output's.
	var k byte
	for i := range 2 {
		if c := am[i]; strings.IndexByte(bm, c) >= 0 && strings.IndexByte(om, c) < 0 {
			k = c
		}
	}
	if k == 0 {
		return fmt.Errorf("equation %q sums over no axis of the last two", eq)
	}
	transA := am[0] == k
	transB := bm[1] == k
	var m, nn byte
	if transA {
		m = am[1]
	} else {
		m = am[0]
	}
	if transB {
		nn = bm[0]
	} else {
		nn = bm[1]
	}
	if om != string([]byte{m, nn}) {
		return fmt.Errorf("equation %q: the output's last two axes must be the product's rows and columns", eq)
	}
	ar, err := im.tensorRef(a, false)
	if err != nil {
		return err
	}
	br, err := im.tensorRef(b, false)
	if err != nil {
		return err
	}
	args := []string{ar, br}
	if transA {
		args = append(args, "transpose_a=true")
	}
	if transB {
		args = append(args, "transpose_b=true")
	}
	shape := append(slices.Clone(a.shape[:r-2]), a.shape[r-2+strings.IndexByte(am, m)], b.shape[r-2+strings.IndexByte(bm, nn)])
	im.set(n, 0, im.emit(n, "einsum", "matmul", "", args, shape, false))
	return nil
}
