package importer

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/mdlc/mdlc/lang/sema"
	"github.com/mdlc/mdlc/nn"
)

// stmt is one statement of the program: outs = call(in, args...) as name.
// in is the first tensor operand, which the printer may pipe in from the
// statement before when that is its only use.
type stmt struct {
	outs    []string
	call    string
	in      string
	args    []string
	as      string
	comment string
	// module is the ONNX module path of the node that made it
	// (layer1.0/conv1), which finds the instances of repeated modules.
	module string
}

// writer collects the program's statements and hands out unique names:
// values and layer instances have a namespace each, as in the language.
type writer struct {
	stmts  []*stmt
	blocks []*block
	taken  map[string]bool
	layers map[string]bool
	// module is the module path of the node being imported, given to the
	// statements it adds.
	module string
}

// reserved cannot name values: keywords, and the names a layer's argument
// may mean (layers, activations, padding modes).
var reserved = func() []string {
	r := append([]string{"train", "labels", "same", "valid", "causal", "linear", "zeros"}, sema.Keywords...)
	for _, l := range sema.Layers() {
		name, _, _ := strings.Cut(l.Signature, "(")
		r = append(r, name)
	}
	for _, a := range nn.Activations() {
		r = append(r, a.String())
	}
	return r
}()

func newWriter() *writer {
	w := &writer{taken: map[string]bool{}, layers: map[string]bool{}}
	for _, k := range reserved {
		w.taken[k] = true
	}
	return w
}

// layer is a fresh layer instance name made from base.
func (w *writer) layer(base string) string {
	base = ident(base)
	name := base
	for i := 1; w.layers[name]; i++ {
		name = base + "_" + strconv.Itoa(i)
	}
	w.layers[name] = true
	return name
}

// ident turns an ONNX name into an identifier: runs of other characters
// become one underscore; a leading digit gets a prefix.
func ident(name string) string {
	var b strings.Builder
	under := false
	for _, r := range name {
		ok := r < 128 && (r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		if !ok {
			under = true
			continue
		}
		if under && b.Len() > 0 {
			b.WriteByte('_')
		}
		under = false
		b.WriteRune(r)
	}
	s := b.String()
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		s = "v" + s
	}
	return s
}

// name is a fresh identifier made from base.
func (w *writer) name(base string) string {
	base = ident(base)
	if !w.taken[base] {
		w.taken[base] = true
		return base
	}
	for i := 1; ; i++ {
		n := base + "_" + strconv.Itoa(i)
		if !w.taken[n] {
			w.taken[n] = true
			return n
		}
	}
}

func (w *writer) add(s *stmt) {
	s.module = w.module
	w.stmts = append(w.stmts, s)
}

// number writes a float so that reading it back gives the same float32.
func number(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "1e39"
	case math.IsInf(f, -1):
		return "-1e39"
	}
	s := strconv.FormatFloat(float64(float32(f)), 'g', -1, 32)
	if !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	return s
}

func intList(v []int) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = strconv.Itoa(x)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func int64List(v []int64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = strconv.FormatInt(x, 10)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// port is a model input or output as the program declares it; typ is
// empty for a result the program leaves undeclared.
type port struct {
	name, typ string
}

// print writes the program: a header, the model's signature and its body,
// where a statement whose single result is used only as the first operand
// of the next joins it in a pipeline.
func (w *writer) print(header []string, model string, ins, outs []port) string {
	var b strings.Builder
	for _, h := range header {
		b.WriteString("# " + h + "\n")
	}
	sig := func(ps []port) string {
		parts := make([]string, len(ps))
		for i, p := range ps {
			parts[i] = p.name
			if p.typ != "" {
				parts[i] += ": " + p.typ
			}
		}
		return strings.Join(parts, ", ")
	}
	for _, bl := range w.blocks {
		b.WriteString("# " + bl.comment + "\n")
		fmt.Fprintf(&b, "block %s(%s) -> (%s) {\n", bl.name, strings.Join(append(slices.Clone(bl.ins), bl.params...), ", "), bl.out)
		writeBody(&b, bl.body, []string{bl.out})
		b.WriteString("}\n\n")
	}
	fmt.Fprintf(&b, "model %s(%s) -> (%s) {\n", model, sig(ins), sig(outs))
	names := make([]string, len(outs))
	for i, o := range outs {
		names[i] = o.name
	}
	writeBody(&b, w.stmts, names)
	b.WriteString("}\n")
	return b.String()
}

// writeBody writes statements, where a statement whose single result is
// used only as the first operand of the next joins it in a pipeline; outs
// are the results read after them.
func writeBody(b *strings.Builder, stmts []*stmt, outs []string) {
	uses := map[string]int{}
	for _, s := range stmts {
		if s.in != "" {
			uses[s.in]++
		}
		for _, a := range s.args {
			for _, tok := range tokens(a) {
				uses[tok]++
			}
		}
	}
	for _, o := range outs {
		uses[o]++
	}
	for i := 0; i < len(stmts); {
		j := i
		for j+1 < len(stmts) && len(stmts[j].outs) == 1 && stmts[j+1].in == stmts[j].outs[0] &&
			uses[stmts[j].outs[0]] == 1 && stmts[j+1].comment == "" && stmts[j].comment == "" {
			j++
		}
		for _, s := range stmts[i : j+1] {
			if s.comment != "" {
				b.WriteString("  # " + s.comment + "\n")
			}
		}
		last := stmts[j]
		b.WriteString("  " + strings.Join(last.outs, ", ") + " = ")
		first := stmts[i]
		switch {
		case i == j:
			b.WriteString(callText(first, true))
		case first.in != "":
			b.WriteString(first.in)
			for _, s := range stmts[i : j+1] {
				b.WriteString("\n    | " + callText(s, false))
			}
		default:
			b.WriteString(callText(first, true))
			for _, s := range stmts[i+1 : j+1] {
				b.WriteString("\n    | " + callText(s, false))
			}
		}
		b.WriteString("\n")
		i = j + 1
	}
}

// callText writes a call, with its first operand or without (piped).
func callText(s *stmt, withIn bool) string {
	args := s.args
	if withIn && s.in != "" {
		args = append([]string{s.in}, args...)
	}
	t := s.call
	if len(args) > 0 || withIn && s.in == "" {
		t += "(" + strings.Join(args, ", ") + ")"
	}
	if s.as != "" {
		t += " as " + s.as
	}
	return t
}

// tokens are the identifiers an argument's text names.
func tokens(a string) []string {
	if _, v, ok := strings.Cut(a, "="); ok && !strings.HasPrefix(v, "=") {
		a = v
	}
	return strings.FieldsFunc(a, func(r rune) bool {
		return !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	})
}
