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
		if err := im.weight(name+".kernel", []int{int(k.n), units}, rowsInOrder(b.floats(), []int{int(k.n), units}, a.rowOrder)); err != nil {
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

// rowsInOrder is a [rows, cols] kernel with its rows taken in order (row p
// is row order[p]), for an input flattened otherwise than ONNX flattened
// it (flattenForDense); the kernel itself when order is nil.
func rowsInOrder(kernel []float32, dims []int, order []int) []float32 {
	if order == nil || len(order) != dims[0] {
		return kernel // no order, or a kernel that does not fit, which the caller refuses
	}
	cols := dims[1]
	out := make([]float32, len(kernel))
	for p, r := range order {
		copy(out[p*cols:(p+1)*cols], kernel[r*cols:(r+1)*cols])
	}
	return out
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
		kernel = tensor.Permute(kernel, bd, []int{1, 0})
		bd = []int{bd[1], bd[0]}
	}
	if alpha != 1 {
		kernel = slices.Clone(kernel)
		for i := range kernel {
			kernel[i] *= alpha
		}
	}
	kernel = rowsInOrder(kernel, bd, a.rowOrder)
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
	args, err := im.matmulArgs(a, b, ta, tb)
	if err != nil {
		return err
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

// einsum imports the matrix-product forms of Einsum as a matmul: two
// operands whose letters are the same batch axes, in the same order,
// followed by two axes each, one of them summed over ("bij,bjk->bik",
// "bhid,bhjd->bhij"), transposing an operand where its summed axis comes
// first or last. Other equations without diagonals or ellipses are a
// product and a sum (einsumProduct).
func einsum(im *importer, n *onnx.Node) error {
	eq := strings.ReplaceAll(attrString(n, "equation", ""), " ", "")
	lhs, out, explicit := strings.Cut(eq, "->")
	terms := strings.Split(lhs, ",")
	if strings.Contains(eq, ".") {
		return fmt.Errorf("equation %q: mdlc imports equations without ellipses (...)", eq)
	}
	if !explicit || len(terms) != 2 || len(n.Inputs) != 2 {
		return einsumProduct(im, n, eq, terms, out, explicit)
	}
	a, err := im.need(n, 0)
	if err != nil {
		return err
	}
	b, err := im.need(n, 1)
	if err != nil {
		return err
	}
	transA, transB, m, nn, ok := matmulForm(terms[0], terms[1], out, a.rank(), b.rank())
	if !ok {
		return einsumProduct(im, n, eq, terms, out, explicit)
	}
	args, err := im.matmulArgs(a, b, transA, transB)
	if err != nil {
		return err
	}
	r := len(out)
	shape := append(slices.Clone(a.shape[:r-2]), a.shape[r-2+strings.IndexByte(terms[0][r-2:], m)], b.shape[r-2+strings.IndexByte(terms[1][r-2:], nn)])
	im.set(n, 0, im.emit(n, "einsum", "matmul", "", args, shape, false))
	return nil
}

// matmulForm reads two terms and an output as a batched matrix product:
// the same rank everywhere, the batch letters leading alike, a letter of
// both operands' last two summed, and the output's last two the rows m and
// columns nn; transA and transB say where the summed letter comes first
// (in a) or last (in b).
func matmulForm(ta, tb, out string, rankA, rankB int) (transA, transB bool, m, nn byte, ok bool) {
	r := len(ta)
	if r < 2 || rankA != r || rankB != r || len(tb) != r || len(out) != r || tb[:r-2] != ta[:r-2] || out[:r-2] != ta[:r-2] {
		return false, false, 0, 0, false
	}
	am, bm, om := ta[r-2:], tb[r-2:], out[r-2:]
	var k byte
	for i := range 2 {
		if c := am[i]; strings.IndexByte(bm, c) >= 0 && strings.IndexByte(om, c) < 0 {
			k = c
		}
	}
	if k == 0 {
		return false, false, 0, 0, false
	}
	transA, transB = am[0] == k, bm[1] == k
	m, nn = am[0], bm[1]
	if transA {
		m = am[1]
	}
	if transB {
		nn = bm[0]
	}
	return transA, transB, m, nn, om == string([]byte{m, nn})
}

// einsumProduct is any Einsum whose terms repeat no letter: each operand
// transposed to one order of all the letters, the output's first, with
// ones for the letters it lacks, their broadcast product, and a sum over
// the letters the output lacks:
//
//	out[o] = Σ_s Π_t x_t[letters of t from (o, s)]
//
// Without "->", the output is the letters used once, in alphabetical order.
func einsumProduct(im *importer, n *onnx.Node, eq string, terms []string, out string, explicit bool) error {
	if len(terms) != len(n.Inputs) {
		return fmt.Errorf("equation %q has %d terms for %d operands", eq, len(terms), len(n.Inputs))
	}
	count := map[byte]int{}
	sizes := map[byte]dim{}
	var order []byte // every letter, in first use
	ops := make([]*val, len(terms))
	for t, term := range terms {
		x, err := im.need(n, t)
		if err != nil {
			return err
		}
		if len(term) != x.rank() {
			return fmt.Errorf("equation %q: term %q does not fit operand %s", eq, term, shapeString(x.shape))
		}
		for i := range len(term) {
			c := term[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') || strings.IndexByte(term[i+1:], c) >= 0 {
				return fmt.Errorf("equation %q: term %q repeats a letter (a diagonal) or holds another character; mdlc imports products and sums", eq, term)
			}
			if d, ok := sizes[c]; ok && d != x.shape[i] {
				return fmt.Errorf("equation %q: letter %c is %s in one operand and %s in another", eq, c, d, x.shape[i])
			}
			if _, ok := sizes[c]; !ok {
				order = append(order, c)
			}
			sizes[c] = x.shape[i]
			count[c]++
		}
		if x, err = im.logical(x); err != nil {
			return err
		}
		ops[t] = x
	}
	if !explicit {
		var once []byte
		for _, c := range order {
			if count[c] == 1 {
				once = append(once, c)
			}
		}
		slices.Sort(once)
		out = string(once)
	}
	all := []byte(out)
	for i := range len(out) {
		if _, ok := sizes[out[i]]; !ok || strings.IndexByte(out[i+1:], out[i]) >= 0 {
			return fmt.Errorf("equation %q: the output %q names a letter no operand has, or twice", eq, out)
		}
	}
	for _, c := range order {
		if strings.IndexByte(out, c) < 0 {
			all = append(all, c)
		}
	}
	shape := make([]dim, len(all))
	for i, c := range all {
		shape[i] = sizes[c]
	}
	var prod *val
	for t, term := range terms {
		x := ops[t]
		ref, err := im.tensorRef(x, false)
		if err != nil {
			return err
		}
		// Transpose to the letters' order in all, then insert the others.
		var have []byte
		for _, c := range all {
			if strings.IndexByte(term, c) >= 0 {
				have = append(have, c)
			}
		}
		perm := make([]int, len(have))
		identity := true
		for i, c := range have {
			perm[i] = strings.IndexByte(term, c)
			identity = identity && perm[i] == i
		}
		if !identity {
			ref = im.emit(n, "einsum", "transpose", ref, []string{intList(perm)}, nil, false).ref
		}
		for i, c := range all {
			if strings.IndexByte(term, c) < 0 {
				ref = im.emit(n, "einsum", "expand_dims", ref, []string{"axis=" + strconv.Itoa(i)}, nil, false).ref
			}
		}
		v := &val{ref: ref, shape: make([]dim, len(all))}
		for i, c := range all {
			v.shape[i] = known(1)
			if strings.IndexByte(term, c) >= 0 {
				v.shape[i] = sizes[c]
			}
		}
		if prod == nil {
			prod = v
			continue
		}
		if prod, err = im.elementwise(n, "mul", []*val{prod, v}, shape); err != nil {
			return err
		}
	}
	if len(all) > len(out) {
		var summed []int
		for i := len(out); i < len(all); i++ {
			summed = append(summed, i)
		}
		prod = im.emit(n, "einsum", "reduce_sum", prod.ref, []string{intList(summed)}, shape[:len(out)], false)
	}
	prod.shape = shape[:len(out)]
	im.set(n, 0, prod)
	return nil
}

// matmulArgs are a matmul statement's operands and its transpose flags.
func (im *importer) matmulArgs(a, b *val, transA, transB bool) ([]string, error) {
	ar, err := im.tensorRef(a, false)
	if err != nil {
		return nil, err
	}
	br, err := im.tensorRef(b, false)
	if err != nil {
		return nil, err
	}
	args := []string{ar, br}
	if transA {
		args = append(args, "transpose_a=true")
	}
	if transB {
		args = append(args, "transpose_b=true")
	}
	return args, nil
}
