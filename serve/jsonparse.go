package serve

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// A small recursive-descent parser for the infer request's JSON. It exists
// for one reason: encoding/json validates and then skips every byte of a
// tensor's data before handing it over as a RawMessage, two passes of its
// state machine over a body that is nearly all numbers (a 224×224×3 image is
// 150,528 of them, about 1.5 MB): measured, those passes took longer than
// decoding the numbers. Here a data array is only bracket-matched, and its
// values are parsed once, by scanLeaves, straight into the tensor.
//
// Everything else is parsed fully and strictly (RFC 8259): objects, arrays,
// strings with their escapes, numbers, literals; nesting deeper than
// maxDepth is refused, so no body can exhaust the stack.

const maxDepth = 64

type jsonParser struct {
	b     []byte
	i     int
	depth int
}

func (p *jsonParser) errorf(format string, args ...any) error {
	return fmt.Errorf("at byte %d: %s", p.i, fmt.Sprintf(format, args...))
}

func (p *jsonParser) ws() { p.i = skipSpace(p.b, p.i) }

// peek returns the next byte after whitespace, or 0 at the end.
func (p *jsonParser) peek() byte {
	p.ws()
	if p.i == len(p.b) {
		return 0
	}
	return p.b[p.i]
}

func (p *jsonParser) eat(c byte) error {
	if p.peek() != c {
		if p.i == len(p.b) {
			return p.errorf("unexpected end, want %q", c)
		}
		return p.errorf("unexpected %q, want %q", p.b[p.i], c)
	}
	p.i++
	return nil
}

// object calls field for each key, with the parser at the key's value,
// which field must consume.
func (p *jsonParser) object(field func(key string) error) error {
	if err := p.eat('{'); err != nil {
		return err
	}
	if p.depth++; p.depth > maxDepth {
		return p.errorf("nesting deeper than %d", maxDepth)
	}
	defer func() { p.depth-- }()
	if p.peek() == '}' {
		p.i++
		return nil
	}
	for {
		key, err := p.str()
		if err != nil {
			return err
		}
		if err := p.eat(':'); err != nil {
			return err
		}
		if err := field(key); err != nil {
			return err
		}
		switch p.peek() {
		case ',':
			p.i++
		case '}':
			p.i++
			return nil
		default:
			return p.errorf("want ',' or '}' in an object")
		}
	}
}

// array calls elem for each element, which elem must consume.
func (p *jsonParser) array(elem func() error) error {
	if err := p.eat('['); err != nil {
		return err
	}
	if p.depth++; p.depth > maxDepth {
		return p.errorf("nesting deeper than %d", maxDepth)
	}
	defer func() { p.depth-- }()
	if p.peek() == ']' {
		p.i++
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		switch p.peek() {
		case ',':
			p.i++
		case ']':
			p.i++
			return nil
		default:
			return p.errorf("want ',' or ']' in an array")
		}
	}
}

// str parses a string.
func (p *jsonParser) str() (string, error) {
	b, _, err := p.strBytes()
	return string(b), err
}

// strBytes parses a string, returning its bytes in place when it has no
// escapes (copied is then false), else a copy with them decoded.
func (p *jsonParser) strBytes() (b []byte, copied bool, err error) {
	if p.peek() != '"' {
		return nil, false, p.errorf("want a string")
	}
	start := p.i
	p.i++
	escaped := false
	for p.i < len(p.b) {
		switch c := p.b[p.i]; {
		case c == '"':
			p.i++
			raw := p.b[start:p.i]
			if !escaped && utf8.Valid(raw) {
				return raw[1 : len(raw)-1], false, nil
			}
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, false, p.errorf("bad string: %v", err)
			}
			return []byte(s), true, nil
		case c == '\\':
			escaped = true
			p.i += 2
		case c < 0x20:
			return nil, false, p.errorf("control character in a string")
		default:
			p.i++
		}
	}
	return nil, false, p.errorf("unterminated string")
}

// value parses any value into what encoding/json would make of it for an
// `any`: map[string]any, []any, string, float64, bool or nil.
func (p *jsonParser) value() (any, error) {
	switch c := p.peek(); {
	case c == '{':
		m := map[string]any{}
		err := p.object(func(key string) error {
			v, err := p.value()
			m[key] = v
			return err
		})
		return m, err
	case c == '[':
		var a []any
		err := p.array(func() error {
			v, err := p.value()
			a = append(a, v)
			return err
		})
		return a, err
	case c == '"':
		return p.str()
	}
	tok := p.scalar()
	switch string(tok) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "null":
		return nil, nil
	}
	if !isJSONNumber(tok) {
		return nil, p.errorf("want a JSON value")
	}
	f, err := strconv.ParseFloat(string(tok), 64)
	if err != nil {
		return nil, p.errorf("number out of range")
	}
	return f, nil
}

// scalar returns the text of a number or literal.
func (p *jsonParser) scalar() []byte {
	p.ws()
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c == ',' || c == ']' || c == '}' || c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == ':' {
			break
		}
		p.i++
	}
	return p.b[start:p.i]
}

// rawArray returns the text of an array, matched bracket to bracket but not
// otherwise checked: scanLeaves parses it once the shape is known. Strings
// inside are skipped whole, so a bracket in one does not count.
func (p *jsonParser) rawArray() ([]byte, error) {
	if p.peek() != '[' {
		return nil, p.errorf("want an array")
	}
	start, depth := p.i, 0
	for p.i < len(p.b) {
		if !arraySpecial[p.b[p.i]] {
			p.i++
			continue
		}
		switch p.b[p.i] {
		case '[':
			depth++
		case ']':
			depth--
			if depth == 0 {
				p.i++
				return p.b[start:p.i], nil
			}
		case '"':
			if _, err := p.str(); err != nil {
				return nil, err
			}
			continue
		}
		p.i++
	}
	return nil, p.errorf("unterminated array")
}

// arraySpecial marks the bytes rawArray stops at; it skips the rest (the
// digits, signs, dots and commas that make up nearly all of a tensor) with
// one table look-up each.
var arraySpecial = [256]bool{'[': true, ']': true, '"': true}

// params parses a parameters object: scalar values only, as the protocol
// defines parameters.
func (p *jsonParser) params() (map[string]any, error) {
	m := map[string]any{}
	err := p.object(func(key string) error {
		if c := p.peek(); c == '{' || c == '[' {
			return p.errorf("parameter %s must be a string, number or boolean", key)
		}
		v, err := p.value()
		m[key] = v
		return err
	})
	return m, err
}

// shape parses an array of whole numbers.
func (p *jsonParser) shape() ([]int64, error) {
	s := []int64{}
	err := p.array(func() error {
		tok := p.scalar()
		v, err := strconv.ParseInt(string(tok), 10, 64)
		if err != nil {
			return p.errorf("a shape holds whole numbers")
		}
		s = append(s, v)
		return nil
	})
	return s, err
}

// parseRequestJSON parses an infer request's JSON.
func parseRequestJSON(b []byte) (*inferRequest, error) {
	p := &jsonParser{b: b}
	req := &inferRequest{}
	err := p.object(func(key string) (err error) {
		switch key {
		case "id":
			req.ID, err = p.str()
		case "parameters":
			req.Parameters, err = p.params()
		case "inputs":
			err = p.array(func() error {
				var in requestInput
				err := p.object(func(key string) (err error) {
					switch key {
					case "name":
						in.Name, err = p.str()
					case "datatype":
						in.Datatype, err = p.str()
					case "shape":
						in.Shape, err = p.shape()
					case "parameters":
						in.Parameters, err = p.params()
					case "data":
						in.Data, err = p.rawArray()
					default:
						_, err = p.value()
					}
					return err
				})
				req.Inputs = append(req.Inputs, in)
				return err
			})
		case "outputs":
			err = p.array(func() error {
				var out requestOutput
				err := p.object(func(key string) (err error) {
					switch key {
					case "name":
						out.Name, err = p.str()
					case "parameters":
						out.Parameters, err = p.params()
					default:
						_, err = p.value()
					}
					return err
				})
				req.Outputs = append(req.Outputs, out)
				return err
			})
		default:
			_, err = p.value()
		}
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if p.peek() != 0 {
		return nil, p.errorf("unexpected text after the request")
	}
	return req, nil
}

// isJSONNumber reports whether tok is a number as JSON writes one:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? (strconv also takes Inf,
// NaN, hex and underscores, which JSON does not).
func isJSONNumber(tok []byte) bool {
	i := 0
	digits := func() int {
		start := i
		for i < len(tok) && tok[i] >= '0' && tok[i] <= '9' {
			i++
		}
		return i - start
	}
	if i < len(tok) && tok[i] == '-' {
		i++
	}
	if n := digits(); n == 0 || (n > 1 && tok[i-n] == '0') {
		return false
	}
	if i < len(tok) && tok[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(tok) && (tok[i] == 'e' || tok[i] == 'E') {
		i++
		if i < len(tok) && (tok[i] == '+' || tok[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(tok)
}
