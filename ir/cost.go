package ir

// perExample is the element count with every symbolic dimension (batch,
// sequence) taken as 1.
func perExample(s Shape) int64 {
	n := int64(1)
	for _, d := range s {
		if d.Known() {
			n *= int64(d.Size)
		}
	}
	return n
}

func flopsPerOutput(k int64) func(*Node) int64 {
	return func(n *Node) int64 { return k * perExample(n.Outputs[0].Type.Shape) }
}

func flopsPerInput(k int64) func(*Node) int64 {
	return func(n *Node) int64 { return k * perExample(n.Inputs[0].Type.Shape) }
}

func flopsConv2D(n *Node) int64 {
	k := n.Inputs[1].Type.Shape
	macs := perExample(n.Outputs[0].Type.Shape) * int64(k[0].Size*k[1].Size*k[2].Size)
	f := 2 * macs
	if len(n.Inputs) == 3 {
		f += perExample(n.Outputs[0].Type.Shape)
	}
	return f
}

func flopsDense(n *Node) int64 {
	out := perExample(n.Outputs[0].Type.Shape)
	f := 2 * out * int64(n.Inputs[1].Type.Shape[0].Size)
	if len(n.Inputs) == 3 {
		f += out
	}
	return f
}

func flopsMatMul(n *Node) int64 {
	a := n.Inputs[0].Type.Shape
	k := a[len(a)-1]
	if n.Attrs.(*MatMulAttrs).TransA {
		k = a[len(a)-2]
	}
	return 2 * perExample(n.Outputs[0].Type.Shape) * perExample(Shape{k})
}

// flopsAttention: q·kᵀ and the product with v, 2·Tq·Tk·(dk+dv), and about
// 5 per score for the scale, mask and softmax.
func flopsAttention(n *Node) int64 {
	q, v := n.Inputs[0].Type.Shape, n.Inputs[2].Type.Shape
	r := q.Rank()
	return perExample(q[:r-1]) * perExample(v[r-2:r-1]) * (2*(perExample(q[r-1:])+perExample(v[r-1:])) + 5)
}

// flopsRecurrent: per step h·U, 2·H·G·H, and about 8 per gate element.
func flopsRecurrent(n *Node) int64 {
	xw, u := n.Inputs[0].Type.Shape, n.Inputs[1].Type.Shape
	return perExample(xw[:2]) * (2*perExample(u) + 8*perExample(u[1:]))
}

func flopsPool(n *Node) int64 {
	w := n.Attrs.(*PoolAttrs).Size
	return perExample(n.Outputs[0].Type.Shape) * int64(w[0]*w[1])
}

// Flops is the node's floating point operation count per example.
func (n *Node) Flops() int64 { return n.Op.Info().Flops(n) }
