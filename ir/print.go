package ir

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"strconv"
	"strings"
)

// Print writes the graph as text. The output depends only on the graph's
// structure and order, never on value IDs or map order: results are numbered
// %0, %1, ... in order of definition, so printed IR can serve as a golden file.
//
//	graph cnn(%image: f32[N,32,32,3]) {
//	  @conv2d.kernel: f32[3,3,3,32] = glorot_uniform(fan_in=27, fan_out=288)
//	  %0: f32[N,30,30,32] = conv2d(%image, @conv2d.kernel, @conv2d.bias) {stride=[1,1] padding=valid}  # conv2d
//	  return probs=%5
//	}
func Print(g *Graph) string {
	var b strings.Builder
	names := map[*Value]string{}
	ins := make([]string, len(g.Inputs))
	for i, v := range g.Inputs {
		names[v] = "%" + v.Name
		ins[i] = fmt.Sprintf("%%%s: %s", v.Name, v.Type)
	}
	fmt.Fprintf(&b, "graph %s(%s) {\n", g.Name, strings.Join(ins, ", "))
	for _, p := range g.Params {
		names[p] = "@" + p.Name
		frozen := ""
		if !p.Trainable {
			frozen = " frozen"
		}
		fmt.Fprintf(&b, "  @%s: %s = %s%s\n", p.Name, p.Type, p.Init, frozen)
	}
	for _, c := range g.Consts {
		names[c] = "@" + c.Name
		fmt.Fprintf(&b, "  @%s: %s = %s\n", c.Name, c.Type, constText(c.Data))
	}
	next := 0
	for _, n := range g.Nodes {
		outs := make([]string, len(n.Outputs))
		for i, v := range n.Outputs {
			names[v] = fmt.Sprintf("%%%d", next)
			next++
			outs[i] = fmt.Sprintf("%s: %s", names[v], v.Type)
		}
		args := make([]string, len(n.Inputs))
		for i, v := range n.Inputs {
			args[i] = valueName(names, v)
		}
		fmt.Fprintf(&b, "  %s = %s(%s)", strings.Join(outs, ", "), n.Op, strings.Join(args, ", "))
		if n.Attrs != nil {
			fmt.Fprintf(&b, " {%s}", n.Attrs)
		}
		if n.Layer != "" {
			fmt.Fprintf(&b, "  # %s", n.Layer)
		}
		b.WriteString("\n")
	}
	rets := make([]string, len(g.Outputs))
	for i, o := range g.Outputs {
		rets[i] = o.Name + "=" + valueName(names, o.Value)
	}
	fmt.Fprintf(&b, "  return %s\n}\n", strings.Join(rets, ", "))
	return b.String()
}

func valueName(names map[*Value]string, v *Value) string {
	if n, ok := names[v]; ok {
		return n
	}
	return fmt.Sprintf("<undefined value %d>", v.ID)
}

// maxInlineConst is the largest constant printed in full; larger ones print a
// checksum, which is enough to tell two apart in a diff.
const maxInlineConst = 16

func constText(data []float32) string {
	if len(data) > maxInlineConst {
		h := crc32.NewIEEE()
		var buf [4]byte
		for _, v := range data {
			binary.LittleEndian.PutUint32(buf[:], math.Float32bits(v))
			h.Write(buf[:])
		}
		return fmt.Sprintf("const(%d values, crc32 %08x)", len(data), h.Sum32())
	}
	parts := make([]string, len(data))
	for i, v := range data {
		parts[i] = strconv.FormatFloat(float64(v), 'g', -1, 32)
	}
	return "const [" + strings.Join(parts, ", ") + "]"
}
