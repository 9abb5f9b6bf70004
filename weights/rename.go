package weights

import (
	"bufio"
	"bytes"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/mdlc/mdlc/tensor"
)

// MaxRenameRules bounds a rename map: a checkpoint's names are covered by a
// few patterns, and each rule is tried on every tensor name.
const MaxRenameRules = 1000

// Renames is a rename map (`--weights-map`): one rule a line,
//
//	PATTERN -> NAME
//
// where PATTERN is a regular expression (RE2) that must match a whole tensor
// name and NAME its new name, in which $1 or ${1} stand for the pattern's
// groups; NAME "-" drops the tensor. The first rule that matches wins; a name
// no rule matches is kept. Blank lines and lines starting with # are
// ignored. It lets a PyTorch or Hugging Face checkpoint load into a
// hand-written model without a conversion script.
type Renames struct {
	file  string
	rules []renameRule
}

type renameRule struct {
	line    int
	pattern *regexp.Regexp
	name    string
}

// ParseRenames reads a rename map; file names it in errors, which give the
// line.
func ParseRenames(file string, src []byte) (*Renames, error) {
	r := &Renames{file: file}
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(nil, 64<<10)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		pat, name, ok := strings.Cut(text, "->")
		pat, name = strings.TrimSpace(pat), strings.TrimSpace(name)
		if !ok || pat == "" || name == "" || strings.ContainsAny(name, " \t") {
			return nil, fmt.Errorf("%s:%d: want `PATTERN -> NAME` (NAME - drops the tensor), got %q", file, line, text)
		}
		re, err := regexp.Compile("^(?:" + pat + ")$")
		if err != nil {
			return nil, fmt.Errorf("%s:%d: pattern %q: %v", file, line, pat, err)
		}
		if len(r.rules) == MaxRenameRules {
			return nil, fmt.Errorf("%s:%d: more than %d rules; a few patterns with groups cover a checkpoint", file, line, MaxRenameRules)
		}
		r.rules = append(r.rules, renameRule{line: line, pattern: re, name: name})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v (lines are at most 64 KiB)", file, err)
	}
	return r, nil
}

// Apply renames ts's tensors, refusing two that would take the same name.
func (r *Renames) Apply(ts map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error) {
	out := make(map[string]*tensor.Tensor, len(ts))
	from := make(map[string]string, len(ts))
	for _, name := range slices.Sorted(maps.Keys(ts)) {
		to, where := r.rename(name)
		switch to {
		case "-":
			continue
		case "":
			return nil, fmt.Errorf("%s%s: %q becomes an empty name; write groups as ${1}", r.file, where, name)
		}
		if prev, ok := from[to]; ok {
			return nil, fmt.Errorf("%s%s: %q and %q both become %q; make the patterns tell them apart", r.file, where, prev, name, to)
		}
		from[to] = name
		out[to] = ts[name]
	}
	return out, nil
}

// rename is name's new name and, if a rule gave it, where that rule is.
func (r *Renames) rename(name string) (string, string) {
	for _, rule := range r.rules {
		m := rule.pattern.FindStringSubmatchIndex(name)
		if m == nil {
			continue
		}
		return string(rule.pattern.ExpandString(nil, rule.name, name, m)), fmt.Sprintf(":%d", rule.line)
	}
	return name, ""
}
