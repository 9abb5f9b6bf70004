package tensor

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// A .npy header is a Python dict literal that NumPy reads with
// ast.literal_eval. pyParser accepts the subset that headers use: strings,
// integers (with Python 2's L suffix), True, False, None, tuples and lists.

type (
	pyTuple []any
	pyList  []any
	pyNone  struct{}
)

type pyParser struct {
	s     string
	pos   int
	base  int // offset of s in the file, for error messages
	depth int
}

func (p *pyParser) errorf(format string, args ...any) error {
	return fmt.Errorf("npy: header byte %d: %s", p.base+p.pos, fmt.Sprintf(format, args...))
}

func (p *pyParser) skipSpace() {
	for p.pos < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.pos]) >= 0 {
		p.pos++
	}
}

func (p *pyParser) eat(c byte) bool {
	if p.pos < len(p.s) && p.s[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

// dict parses the whole header: one dict with string keys, then only
// whitespace (NumPy pads with spaces and a newline).
func (p *pyParser) dict() (map[string]any, error) {
	p.skipSpace()
	if !p.eat('{') {
		return nil, p.errorf("header is not a dict literal")
	}
	d := map[string]any{}
	for {
		p.skipSpace()
		if p.eat('}') {
			break
		}
		at := p.pos
		k, err := p.value()
		if err != nil {
			return nil, err
		}
		key, ok := k.(string)
		if !ok {
			p.pos = at
			return nil, p.errorf("dict key %s is not a string", pyRepr(k))
		}
		if _, dup := d[key]; dup {
			p.pos = at
			return nil, p.errorf("duplicate key %q", key)
		}
		p.skipSpace()
		if !p.eat(':') {
			return nil, p.errorf("expected ':' after key %q", key)
		}
		if d[key], err = p.value(); err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.eat('}') {
			break
		}
		if !p.eat(',') {
			return nil, p.errorf("expected ',' or '}'")
		}
	}
	p.skipSpace()
	if p.pos < len(p.s) {
		return nil, p.errorf("unexpected %q after the header dict", p.s[p.pos])
	}
	return d, nil
}

func (p *pyParser) value() (any, error) {
	p.skipSpace()
	if p.pos >= len(p.s) {
		return nil, p.errorf("unexpected end of header")
	}
	switch c := p.s[p.pos]; {
	case c == '\'' || c == '"':
		return p.str()
	case c == '(' || c == '[':
		return p.seq()
	case c == '-' || c == '+' || '0' <= c && c <= '9':
		return p.int()
	case 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || c == '_':
		start := p.pos
		for p.pos < len(p.s) && isIdent(p.s[p.pos]) {
			p.pos++
		}
		switch id := p.s[start:p.pos]; id {
		case "True":
			return true, nil
		case "False":
			return false, nil
		case "None":
			return pyNone{}, nil
		default:
			p.pos = start
			return nil, p.errorf("unexpected name %q", id)
		}
	default:
		return nil, p.errorf("unexpected %q", c)
	}
}

func isIdent(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_'
}

// str parses a quoted string; a backslash keeps the next character as is,
// which covers the escapes a dtype string could need.
func (p *pyParser) str() (string, error) {
	q := p.s[p.pos]
	start := p.pos
	p.pos++
	var b strings.Builder
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		switch {
		case c == q:
			p.pos++
			return b.String(), nil
		case c == '\n':
			return "", p.errorf("newline in string")
		case c == '\\' && p.pos+1 < len(p.s):
			p.pos++
			c = p.s[p.pos]
		}
		b.WriteByte(c)
		p.pos++
	}
	p.pos = start
	return "", p.errorf("unterminated string")
}

func (p *pyParser) int() (int, error) {
	start := p.pos
	neg := p.s[p.pos] == '-'
	if p.s[p.pos] == '-' || p.s[p.pos] == '+' {
		p.pos++
	}
	digits := p.pos
	n := 0
	for p.pos < len(p.s) && '0' <= p.s[p.pos] && p.s[p.pos] <= '9' {
		d := int(p.s[p.pos] - '0')
		if n > (math.MaxInt-d)/10 {
			p.pos = start
			return 0, p.errorf("integer too large")
		}
		n = n*10 + d
		p.pos++
	}
	if p.pos == digits {
		p.pos = start
		return 0, p.errorf("malformed number")
	}
	// Python 2 wrote longs as 3L; NumPy still reads such headers.
	if p.pos < len(p.s) && (p.s[p.pos] == 'L' || p.s[p.pos] == 'l') {
		p.pos++
	}
	if p.pos < len(p.s) && (isIdent(p.s[p.pos]) || p.s[p.pos] == '.') {
		p.pos = start
		return 0, p.errorf("malformed number")
	}
	if neg {
		n = -n
	}
	return n, nil
}

// seq parses a tuple or list. As in Python, (x) is x itself, not a tuple.
func (p *pyParser) seq() (any, error) {
	open := p.s[p.pos]
	end := byte(')')
	if open == '[' {
		end = ']'
	}
	if p.depth == maxNpyDepth {
		return nil, p.errorf("nested too deeply")
	}
	p.depth++
	defer func() { p.depth-- }()
	p.pos++
	var items []any
	comma := false
	for {
		p.skipSpace()
		if p.eat(end) {
			break
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		items = append(items, v)
		p.skipSpace()
		if p.eat(end) {
			break
		}
		if !p.eat(',') {
			return nil, p.errorf("expected ',' or '%c'", end)
		}
		comma = true
	}
	switch {
	case open == '[':
		return pyList(items), nil
	case len(items) == 1 && !comma:
		return items[0], nil
	}
	return pyTuple(items), nil
}

// pyRepr formats a parsed value as Python would, cut short for error messages.
func pyRepr(v any) string {
	var b strings.Builder
	writeRepr(&b, v)
	if s := b.String(); len(s) > 80 {
		return s[:77] + "..."
	}
	return b.String()
}

func writeRepr(b *strings.Builder, v any) {
	switch v := v.(type) {
	case string:
		q := strconv.Quote(v)
		b.WriteString("'" + q[1:len(q)-1] + "'")
	case int:
		b.WriteString(strconv.Itoa(v))
	case bool:
		b.WriteString(map[bool]string{true: "True", false: "False"}[v])
	case pyNone:
		b.WriteString("None")
	case pyTuple:
		b.WriteByte('(')
		for i, x := range v {
			if b.Len() > 80 {
				break
			}
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, x)
		}
		if len(v) == 1 {
			b.WriteByte(',')
		}
		b.WriteByte(')')
	case pyList:
		b.WriteByte('[')
		for i, x := range v {
			if b.Len() > 80 {
				break
			}
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, x)
		}
		b.WriteByte(']')
	}
}
