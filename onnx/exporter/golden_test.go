package exporter_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/compile"
	"github.com/mdlc/mdlc/internal/golden"
	"github.com/mdlc/mdlc/onnx"
)

// TestGolden: the exported graphs of a CNN, a bidirectional GRU and gpt
// (symbolic length), in ONNX's textual syntax (onnx.printer's), so that a
// change to a rule shows in review as the ONNX it writes.
func TestGolden(t *testing.T) {
	for _, name := range []string{"cnn", "gru", "gpt"} {
		o := &compile.Options{Seed: 1}
		m, err := o.Load(name)
		require.NoError(t, err)
		om, _, err := o.Export(m, nil)
		require.NoError(t, err)
		golden.Check(t, "testdata/"+name+".onnx.txt", text(om))
	}
}

// text writes a model as ONNX's textual syntax does: the header, the
// graph's signature, the initializers' types and names, then the nodes,
// one a line.
func text(m *onnx.Model) string {
	var b strings.Builder
	g := m.Graph
	fmt.Fprintf(&b, "<ir_version: %d, opset_import: [\"\" : %d], producer_name: %q>\n", m.IRVersion, m.Opsets[0].Version, m.ProducerName)
	vis := func(list []*onnx.ValueInfo) string {
		parts := make([]string, len(list))
		for i, v := range list {
			parts[i] = typeText(v.Type) + " " + v.Name
		}
		return strings.Join(parts, ", ")
	}
	fmt.Fprintf(&b, "%s (%s) => (%s)\n", g.Name, vis(g.Inputs), vis(g.Outputs))
	b.WriteString("<\n")
	for i, t := range g.Initializers {
		sep := ","
		if i == len(g.Initializers)-1 {
			sep = ""
		}
		fmt.Fprintf(&b, "  %s%v %s%s\n", t.DataType, t.Dims, t.Name, sep)
	}
	b.WriteString(">\n{\n")
	for _, n := range g.Nodes {
		fmt.Fprintf(&b, "  %s = %s", strings.Join(n.Outputs, ", "), n.OpType)
		if len(n.Attrs) > 0 {
			parts := make([]string, len(n.Attrs))
			for i, a := range n.Attrs {
				parts[i] = a.Name + " = " + attrText(a)
			}
			fmt.Fprintf(&b, " <%s>", strings.Join(parts, ", "))
		}
		fmt.Fprintf(&b, " (%s)\n", strings.Join(n.Inputs, ", "))
	}
	b.WriteString("}\n")
	return b.String()
}

func typeText(t *onnx.Type) string {
	dims := make([]string, len(t.Shape))
	for i, d := range t.Shape {
		if d.Param != "" {
			dims[i] = d.Param
		} else {
			dims[i] = strconv.FormatInt(d.Value, 10)
		}
	}
	return t.Elem.String() + "[" + strings.Join(dims, ",") + "]"
}

func attrText(a *onnx.Attribute) string {
	switch a.Type {
	case onnx.AttrFloat:
		return strconv.FormatFloat(float64(a.F), 'g', -1, 32)
	case onnx.AttrInt:
		return strconv.FormatInt(a.I, 10)
	case onnx.AttrString:
		return strconv.Quote(string(a.S))
	case onnx.AttrInts:
		return fmt.Sprint(a.Ints)
	case onnx.AttrStrings:
		parts := make([]string, len(a.Strings))
		for i, s := range a.Strings {
			parts[i] = strconv.Quote(string(s))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case onnx.AttrTensor:
		return fmt.Sprintf("%s%v", a.T.DataType, a.T.Dims)
	}
	return fmt.Sprintf("(type %d)", a.Type)
}
