package importer

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/mdlc/mdlc/lang/sema"
)

// Blocks: where the graph repeats a module (torchvision's layer1.0 and
// layer1.1, BERT's encoder/layer.0 to layer.11), the program defines one
// block and calls it once per instance.
//
// An instance is the run of consecutive statements whose ONNX module path
// starts with the same numbered scope (layer1.0, encoder/layer.3), reading
// any tensors from before it and leaving exactly one that later statements
// or the outputs read. Two instances are the same block when their
// statements make the same calls wired the same way with the same
// arguments, numbers aside: numbers that differ between instances become
// the block's int or float parameters (one parameter for positions that
// always agree), numbers that agree stay in the block. Weights move under
// the instance: layer1_0_conv1.kernel becomes layer1_0.conv1.kernel.

// block is a block definition of the program.
type block struct {
	name    string
	comment string
	// ins are its tensor parameters; params its number parameters, each
	// "name: type".
	ins, params []string
	out         string
	body        []*stmt
}

// run is an instance: the statements stmts[start:end] of module prefix.
type run struct {
	prefix     string
	start, end int
	ins        []string
	out        string
	sig        string
	// numbers are the numeric arguments' texts in statement order; at
	// their (statement, argument) positions.
	numbers []string
	at      [][2]int
}

// instancePrefix is the module path up to its first numbered scope
// (layer1.0/conv1 → layer1.0; encoder/layer.0/attention → encoder/layer.0),
// or "" if it has none.
func instancePrefix(module string) string {
	scopes := strings.Split(module, "/")
	for i, s := range scopes {
		last := s[strings.LastIndexByte(s, '.')+1:]
		if _, err := strconv.Atoi(last); err == nil && last != s {
			return strings.Join(scopes[:i+1], "/")
		}
	}
	return ""
}

// extractBlocks replaces the instances of repeated modules by block calls.
func (im *importer) extractBlocks(ins, outs []port) {
	stmts := im.w.stmts
	defined := map[string]bool{}
	for _, p := range ins {
		defined[p.name] = true
	}
	for _, s := range stmts {
		for _, o := range s.outs {
			defined[o] = true
		}
	}
	// Who reads each name, once, so that each run's analysis costs its own
	// length: the program and its names come from the ONNX file.
	readers := map[string][]int{}
	for i, s := range stmts {
		for _, ref := range reads(s, defined) {
			readers[ref] = append(readers[ref], i)
		}
	}
	for _, o := range outs {
		readers[o.name] = append(readers[o.name], len(stmts))
	}
	runs := instances(stmts)
	groups := map[string][]*run{}
	var order []string
	for _, r := range runs {
		if !r.analyse(stmts, defined, readers) {
			continue
		}
		if groups[r.sig] == nil {
			order = append(order, r.sig)
		}
		groups[r.sig] = append(groups[r.sig], r)
	}
	byLayer := im.weightsByLayer()
	replace := map[int]*stmt{}
	skip := make([]bool, len(stmts))
	for _, sig := range order {
		g := groups[sig]
		if len(g) < 2 {
			continue
		}
		b, calls := im.makeBlock(g, byLayer)
		im.w.blocks = append(im.w.blocks, b)
		for i, r := range g {
			replace[r.start] = calls[i]
			for j := r.start; j < r.end; j++ {
				skip[j] = true
			}
		}
	}
	var out []*stmt
	for i, s := range stmts {
		if c, ok := replace[i]; ok {
			out = append(out, c)
		}
		if !skip[i] {
			out = append(out, s)
		}
	}
	im.w.stmts = out
}

// instances are the runs of statements sharing a numbered module prefix;
// a prefix met again after another is not an instance.
func instances(stmts []*stmt) []*run {
	var runs []*run
	count := map[string]int{}
	for i := 0; i < len(stmts); {
		p := instancePrefix(stmts[i].module)
		j := i + 1
		for j < len(stmts) && instancePrefix(stmts[j].module) == p {
			j++
		}
		if p != "" {
			runs = append(runs, &run{prefix: p, start: i, end: j})
			count[p]++
		}
		i = j
	}
	return slices.DeleteFunc(runs, func(r *run) bool { return count[r.prefix] > 1 })
}

// analyse finds the run's tensor inputs and its one output and writes its
// signature; false if it is not a block instance. readers lists the
// statements reading each name, len(stmts) standing for the outputs.
func (r *run) analyse(stmts []*stmt, defined map[string]bool, readers map[string][]int) bool {
	local := map[string]int{}
	for i, s := range stmts[r.start:r.end] {
		for _, o := range s.outs {
			local[o] = i
		}
	}
	readOutside := func(name string) bool {
		return slices.ContainsFunc(readers[name], func(i int) bool { return i < r.start || i >= r.end })
	}
	var sb strings.Builder
	code := func(ref string) string {
		if _, ok := local[ref]; ok {
			return "%" + ref
		}
		k := slices.Index(r.ins, ref)
		if k < 0 {
			k = len(r.ins)
			r.ins = append(r.ins, ref)
		}
		return "$" + strconv.Itoa(k)
	}
	// Local names are numbered by definition order so that instances
	// compare equal whatever their names.
	localCode := map[string]string{}
	next := 0
	for i, s := range stmts[r.start:r.end] {
		rename := func(ref string) string {
			if c, ok := localCode[ref]; ok {
				return c
			}
			c := code(ref)
			if strings.HasPrefix(c, "%") {
				return "%?" // read before it is defined: not a block
			}
			return c
		}
		sb.WriteString(s.call)
		if s.as != "" {
			sb.WriteString(" as")
		}
		if s.in != "" {
			sb.WriteString(" " + rename(s.in))
		}
		for k, a := range s.args {
			key, val := splitArg(a)
			if isNumber(val) {
				r.numbers = append(r.numbers, val)
				r.at = append(r.at, [2]int{i, k})
				val = "#"
			} else {
				val = mapRefs(val, defined, rename)
			}
			sb.WriteString(" " + key + val)
		}
		for _, o := range s.outs {
			localCode[o] = "%" + strconv.Itoa(next)
			next++
			if readOutside(o) {
				if r.out != "" {
					return false
				}
				r.out = o
			}
		}
		sb.WriteString(";")
	}
	r.sig = sb.String()
	return r.out != "" && len(r.ins) > 0 && !strings.Contains(r.sig, "%?")
}

// reads are the program names a statement reads.
func reads(s *stmt, defined map[string]bool) []string {
	var refs []string
	if s.in != "" {
		refs = append(refs, s.in)
	}
	for _, a := range s.args {
		_, val := splitArg(a)
		mapRefs(val, defined, func(ref string) string { refs = append(refs, ref); return ref })
	}
	return refs
}

// splitArg splits a keyword argument into "key=" and its value.
func splitArg(a string) (string, string) {
	if k, v, ok := strings.Cut(a, "="); ok && !strings.HasPrefix(v, "=") && ident(k) == k {
		return k + "=", v
	}
	return "", a
}

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil && !strings.ContainsAny(s, "_xXpP") && !strings.EqualFold(s, "inf") && !strings.EqualFold(s, "nan")
}

// mapRefs rewrites the program names in an argument's text.
func mapRefs(text string, defined map[string]bool, f func(string) string) string {
	var b strings.Builder
	isIdent := func(c byte) bool {
		return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	for i := 0; i < len(text); {
		if !isIdent(text[i]) {
			b.WriteByte(text[i])
			i++
			continue
		}
		j := i
		for j < len(text) && isIdent(text[j]) {
			j++
		}
		if w := text[i:j]; defined[w] {
			b.WriteString(f(w))
		} else {
			b.WriteString(w)
		}
		i = j
	}
	return b.String()
}

// makeBlock writes the block of a group of matching instances, and the call
// that replaces each.
func (im *importer) makeBlock(g []*run, byLayer map[string][]string) (*block, []*stmt) {
	first := g[0]
	stmts := im.w.stmts
	// Numbers that differ between instances become parameters, one for
	// positions whose values always agree.
	type param struct {
		name, typ string
		values    []string
		// stmt is the statement of the parameter's first position.
		stmt int
	}
	var params []*param
	paramAt := map[[2]int]*param{}
	for k, at := range first.at {
		values := make([]string, len(g))
		same := true
		for i, r := range g {
			values[i] = r.numbers[k]
			same = same && values[i] == values[0]
		}
		if same {
			continue
		}
		var p *param
		for _, q := range params {
			if slices.Equal(q.values, values) {
				p = q
			}
		}
		if p == nil {
			typ := "int"
			for _, v := range values {
				if strings.ContainsAny(v, ".eE") {
					typ = "float"
				}
			}
			p = &param{name: argName(stmts[first.start+at[0]], at[1]), typ: typ, values: values, stmt: at[0]}
			params = append(params, p)
		}
		paramAt[at] = p
	}
	// Names inside the block: the instance's own names less its prefix,
	// values and layers each in their namespace as in the language.
	taken, layers := map[string]bool{}, map[string]bool{}
	for _, k := range reserved {
		taken[k] = true
	}
	freshIn := func(taken map[string]bool, base string) string {
		base = ident(base)
		name := base
		for i := 1; taken[name]; i++ {
			name = base + "_" + strconv.Itoa(i)
		}
		taken[name] = true
		return name
	}
	fresh := func(base string) string { return freshIn(taken, base) }
	names := map[string]string{}
	for i, in := range first.ins {
		if i == 0 {
			names[in] = fresh("x")
		} else {
			names[in] = fresh("x" + strconv.Itoa(i))
		}
	}
	names[first.out] = fresh("y")
	short := func(name string, r *run) string {
		s := strings.TrimPrefix(name, ident(r.prefix)+"_")
		if s == "" {
			return name
		}
		return s
	}
	var body []*stmt
	localAs := make([]string, first.end-first.start)
	for i, s := range stmts[first.start:first.end] {
		for _, o := range s.outs {
			if _, ok := names[o]; !ok {
				names[o] = fresh(short(o, first))
			}
		}
		if s.as != "" {
			localAs[i] = freshIn(layers, short(s.as, first))
		}
	}
	// Parameters of the same name are told apart by their layers
	// (conv_0_filters, conv_2_filters).
	count := map[string]int{}
	for _, p := range params {
		count[p.name]++
	}
	for _, p := range params {
		if count[p.name] > 1 && localAs[p.stmt] != "" {
			p.name = localAs[p.stmt] + "_" + p.name
		}
		p.name = fresh(p.name)
	}
	defined := map[string]bool{}
	for k := range names {
		defined[k] = true
	}
	rename := func(ref string) string { return names[ref] }
	for i, s := range stmts[first.start:first.end] {
		c := &stmt{call: s.call, as: localAs[i]}
		if s.in != "" {
			c.in = names[s.in]
		}
		for _, o := range s.outs {
			c.outs = append(c.outs, names[o])
		}
		for k, a := range s.args {
			key, val := splitArg(a)
			if p := paramAt[[2]int{i, k}]; p != nil {
				val = p.name
			} else {
				val = mapRefs(val, defined, rename)
			}
			c.args = append(c.args, key+val)
		}
		body = append(body, c)
	}
	b := &block{name: im.w.name(blockStem(first.prefix) + "_block"), out: names[first.out], body: body}
	for _, in := range first.ins {
		b.ins = append(b.ins, names[in])
	}
	var prefixes []string
	for _, p := range params {
		b.params = append(b.params, p.name+": "+p.typ)
	}
	var calls []*stmt
	for i, r := range g {
		prefixes = append(prefixes, r.prefix)
		inst := im.w.layer(ident(r.prefix))
		for j, s := range stmts[r.start:r.end] {
			for _, name := range byLayer[s.as] {
				im.weights[inst+"."+localAs[j]+"."+strings.TrimPrefix(name, s.as+".")] = im.weights[name]
				delete(im.weights, name)
			}
		}
		call := &stmt{outs: []string{r.out}, call: b.name, in: r.ins[0], as: inst, comment: "onnx: " + r.prefix}
		call.args = append(call.args, r.ins[1:]...)
		for _, p := range params {
			call.args = append(call.args, p.values[i])
		}
		calls = append(calls, call)
	}
	b.comment = "onnx: " + strings.Join(prefixes, ", ")
	return b, calls
}

// argName names a parameter after the argument it stands for: its keyword,
// or the name the layer's signature gives a positional argument.
func argName(s *stmt, k int) string {
	if key, _ := splitArg(s.args[k]); key != "" {
		return strings.TrimSuffix(key, "=")
	}
	if s.in != "" {
		k++
	}
	for _, l := range sema.Layers() {
		name, rest, _ := strings.Cut(l.Signature, "(")
		if name != s.call {
			continue
		}
		params := strings.Split(strings.TrimSuffix(rest, ")"), ", ")
		if k < len(params) {
			p, _, _ := strings.Cut(params[k], "=")
			return p
		}
	}
	return "n"
}

// blockStem names a block after its instances' module: the scopes less
// their numbers (layer1.0 → layer, encoder/layer.0 → encoder_layer).
func blockStem(prefix string) string {
	var parts []string
	for _, scope := range strings.Split(prefix, "/") {
		for _, p := range strings.Split(scope, ".") {
			p = strings.TrimRight(p, "0123456789")
			if p != "" && (len(parts) == 0 || parts[len(parts)-1] != p) {
				parts = append(parts, p)
			}
		}
	}
	if len(parts) == 0 {
		return "module"
	}
	return ident(strings.Join(parts, "_"))
}

// weightsByLayer lists the weights of each layer instance, whose names have
// no dot: a weight is named LAYER.PARAM.
func (im *importer) weightsByLayer() map[string][]string {
	by := map[string][]string{}
	for _, name := range slices.Sorted(maps.Keys(im.weights)) {
		layer, _, _ := strings.Cut(name, ".")
		by[layer] = append(by[layer], name)
	}
	return by
}
