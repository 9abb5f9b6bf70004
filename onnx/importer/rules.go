package importer

import (
	"github.com/mdlc/mdlc/onnx"
)

// rule imports one node: it reads the node's inputs from im.vals, writes
// statements, and records the node's outputs.
type rule func(im *importer, n *onnx.Node) error

// versioned is a rule and the opset from which it applies (the op's
// since-version whose semantics it implements).
type versioned struct {
	since int64
	fn    rule
}

// rules holds every op the importer reads, by ONNX op type. Where an op's
// meaning changed across opsets (attributes that became inputs, Softmax's
// axis), there is one entry per since-version, oldest first; lookup takes
// the newest not above the model's opset. Ops whose changes mdlc does not
// care about (new element types) have one entry, since 1.
var rules = map[string][]versioned{}

func register(op string, since int64, fn rule) {
	rules[op] = append(rules[op], versioned{since, fn})
}

// lookup is the rule for op at opset, or nil.
func lookup(op string, opset int64) rule {
	var best rule
	for _, v := range rules[op] {
		if v.since <= opset {
			best = v.fn
		}
	}
	return best
}

// Attribute readers with ONNX's defaults.

func attrInt(n *onnx.Node, name string, def int64) int64 {
	if a := n.Attr(name); a != nil {
		return a.I
	}
	return def
}

func attrFloat(n *onnx.Node, name string, def float32) float32 {
	if a := n.Attr(name); a != nil {
		return a.F
	}
	return def
}

func attrInts(n *onnx.Node, name string) ([]int64, bool) {
	if a := n.Attr(name); a != nil {
		return a.Ints, true
	}
	return nil, false
}

func attrString(n *onnx.Node, name, def string) string {
	if a := n.Attr(name); a != nil {
		return string(a.S)
	}
	return def
}
