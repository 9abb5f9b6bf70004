package passes

// cse gives every node a key (op, attributes as printed, operand identities)
// and, walking in schedule order, replaces a node whose key was seen before
// with the earlier node's result. Ops are pure, so equal keys mean equal
// values.
//
// Invariant: no two nodes have the same key.

import (
	"fmt"
	"strings"

	"github.com/mdlc/mdlc/ir"
)

func cse(g *ir.Graph) error {
	seen := map[string]*ir.Value{}
	dead := map[*ir.Node]bool{}
	for _, n := range g.Nodes {
		var k strings.Builder
		k.WriteString(n.Op.String())
		if n.Attrs != nil {
			k.WriteString("{" + n.Attrs.String() + "}")
		}
		for _, v := range n.Inputs {
			fmt.Fprintf(&k, " %d", v.ID)
		}
		key := k.String()
		if prev, ok := seen[key]; ok {
			g.ReplaceUses(n.Outputs[0], prev)
			dead[n] = true
			continue
		}
		seen[key] = n.Outputs[0]
	}
	removeNodes(g, dead)
	return nil
}
