package serve

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mdlc/mdlc/internal/safeio"
	"github.com/mdlc/mdlc/internal/suggest"
)

// A model's own settings, in the file Triton reads them from:
// DIR/NAME/config.pbtxt beside the version directories (or, for a model
// given as NAME=DIR, DIR/config.pbtxt), in protobuf's text format. Only the
// fields that mean something to mdlc are taken; any other is refused with
// its line, so a setting is never silently ignored:
//
//	name: "fashion"                        # if given, the directory's name
//	max_batch_size: 16                     # --max-batch
//	dynamic_batching {
//	  max_queue_delay_microseconds: 500    # --max-queue-delay
//	  preferred_batch_size: [ 4, 8 ]       # batch sizes to run at once when reached
//	  default_queue_policy { max_queue_size: 64 }   # --max-queue
//	}
//	instance_group [ { count: 2, kind: KIND_CPU } ]  # --instances
//
// The flags give every model's settings; a config overrides those it
// states, for its model. Triton's format rather than a JSON file of our
// own: a repository made for Triton (or KServe's Triton runtime) then needs
// no second file, and the fields keep Triton's meaning. Two differences:
// max_batch_size 0 (Triton: no batch axis) is refused, as an mdlc model's
// batch axis is in its program; and a config without dynamic_batching keeps
// the flags' batching rather than turning it off, as every other absent
// field keeps its flag.

// ConfigFile is the name of a model's config file.
const ConfigFile = "config.pbtxt"

// ModelConfig is what a config file sets; nil fields keep the server's.
type ModelConfig struct {
	// File is where it was read from, for messages.
	File           string
	MaxBatch       *int
	MaxQueueDelay  *time.Duration
	PreferredBatch []int
	MaxQueue       *int
	Instances      *int
}

// apply overrides cfg with what c sets, and checks the result: a preferred
// batch size must fit the model's maximum, whichever gave it.
func (c *ModelConfig) apply(cfg *Config) error {
	set := func(dst *int, v *int) {
		if v != nil {
			*dst = *v
		}
	}
	set(&cfg.MaxBatch, c.MaxBatch)
	set(&cfg.MaxQueue, c.MaxQueue)
	set(&cfg.Instances, c.Instances)
	if c.MaxQueueDelay != nil {
		cfg.MaxQueueDelay = *c.MaxQueueDelay
	}
	if c.PreferredBatch != nil {
		cfg.PreferredBatch = c.PreferredBatch
	}
	for _, p := range cfg.PreferredBatch {
		if p > cfg.MaxBatch {
			return fmt.Errorf("%s: preferred_batch_size %d is more than the model's max_batch_size %d", c.File, p, cfg.MaxBatch)
		}
	}
	return nil
}

// modelSettings are the settings spec's model runs with: the server's,
// overridden by its config file's. Threads, when the server chose them,
// follow the model's instances.
func modelSettings(spec Spec, cfg Config, autoThreads bool) (Config, error) {
	if spec.Config == nil {
		return cfg, nil
	}
	if err := spec.Config.apply(&cfg); err != nil {
		return cfg, err
	}
	if autoThreads {
		cfg.Compile.Threads = max(1, runtime.GOMAXPROCS(0)/cfg.Instances)
	}
	return cfg, nil
}

// Bounds of the config's numbers: what a server on one machine can use,
// and far from overflowing an int.
const (
	maxConfigBatch     = 1 << 16
	maxConfigInstances = 1024
	maxConfigQueue     = 1 << 24
	maxConfigDelayUs   = int64(time.Hour / time.Microsecond)
	maxConfigBytes     = 1 << 20
)

// readModelConfig reads dir's config file, if it has one (nil if not).
// name is the model's name, which the file's name field, if given, must be.
func readModelConfig(dir, name string) (*ModelConfig, error) {
	path := filepath.Join(dir, ConfigFile)
	if _, err := os.Stat(path); os.IsNotExist(err) {
		return nil, nil
	}
	src, err := safeio.ReadFile(path, maxConfigBytes)
	if err != nil {
		return nil, err
	}
	return parseModelConfig(path, src, name)
}

// parseModelConfig parses a config file's text; path names it in errors.
func parseModelConfig(path string, src []byte, name string) (*ModelConfig, error) {
	fields, err := parseText(src)
	if err != nil {
		return nil, fmt.Errorf("%s:%v", path, err)
	}
	c := &ModelConfig{File: path}
	errorf := func(f *textField, format string, args ...any) error {
		return fmt.Errorf("%s:%d:%d: %s", path, f.line, f.col, fmt.Sprintf(format, args...))
	}
	// integer reads f as a whole number in [lo, hi].
	integer := func(f *textField, lo, hi int64) (int64, error) {
		v, err := strconv.ParseInt(f.value, 10, 64)
		if f.msg != nil || f.kind != tokNumber || err != nil || v < lo || v > hi {
			return 0, errorf(f, "%s must be a whole number from %d to %d", f.name, lo, hi)
		}
		return v, nil
	}
	intField := func(dst **int, lo, hi int64) func(*textField) error {
		return func(f *textField) error {
			v, err := integer(f, lo, hi)
			n := int(v)
			*dst = &n
			return err
		}
	}
	top := schema{
		"name": {scalar: true, set: func(f *textField) error {
			if f.kind != tokString {
				return errorf(f, "name must be a quoted string")
			}
			if f.value != name {
				return errorf(f, "name is %q, but the model is %s (named after its directory)", f.value, name)
			}
			return nil
		}},
		"max_batch_size": {scalar: true, set: func(f *textField) error {
			if f.kind == tokNumber && f.value == "0" {
				return errorf(f, "max_batch_size 0 (Triton's no batch axis) does not apply: an mdlc model's batch axis is in its program; give 1 to turn batching off")
			}
			return intField(&c.MaxBatch, 1, maxConfigBatch)(f)
		}},
		"dynamic_batching": {message: schema{
			"max_queue_delay_microseconds": {scalar: true, set: func(f *textField) error {
				v, err := integer(f, 0, maxConfigDelayUs)
				d := time.Duration(v) * time.Microsecond
				c.MaxQueueDelay = &d
				return err
			}},
			"preferred_batch_size": {repeated: true, set: func(f *textField) error {
				v, err := integer(f, 1, maxConfigBatch)
				if err != nil {
					return err
				}
				if slices.Contains(c.PreferredBatch, int(v)) {
					return errorf(f, "preferred_batch_size %d is given twice", v)
				}
				c.PreferredBatch = append(c.PreferredBatch, int(v))
				slices.Sort(c.PreferredBatch)
				return nil
			}},
			"default_queue_policy": {message: schema{
				"max_queue_size": {scalar: true, set: func(f *textField) error {
					if f.kind == tokNumber && f.value == "0" {
						return errorf(f, "max_queue_size 0 (Triton's unbounded queue) is refused: mdlc's queues are bounded; give a size")
					}
					return intField(&c.MaxQueue, 1, maxConfigQueue)(f)
				}},
			}},
		}},
		"instance_group": {repeated: true, message: schema{
			"count": {scalar: true, set: func(f *textField) error {
				v, err := integer(f, 1, maxConfigInstances)
				n := int(v)
				if c.Instances != nil {
					n += *c.Instances // each group adds its instances, as in Triton
				}
				c.Instances = &n
				return err
			}},
			"kind": {scalar: true, set: func(f *textField) error {
				if f.kind != tokIdent || (f.value != "KIND_CPU" && f.value != "KIND_AUTO") {
					return errorf(f, "kind %s: mdlc runs models on the CPU; give KIND_CPU (or KIND_AUTO)", f.value)
				}
				return nil
			}},
		}, after: func(f *textField) error {
			if !slices.ContainsFunc(f.msg, func(g textField) bool { return g.name == "count" }) {
				return errorf(f, "an instance_group needs a count")
			}
			return nil
		}},
	}
	if err := top.apply(fields, "", errorf); err != nil {
		return nil, err
	}
	if c.Instances != nil && *c.Instances > maxConfigInstances {
		return nil, fmt.Errorf("%s: the instance groups' counts add up to %d, more than %d", path, *c.Instances, maxConfigInstances)
	}
	return c, nil
}

// schema is the fields a message takes: each a scalar (at most once), a
// repeated scalar, or a message (repeated or not); set is called for each
// scalar, after for each message once its fields are read.
type schema map[string]struct {
	scalar, repeated bool
	message          schema
	set              func(*textField) error
	after            func(*textField) error
}

func (s schema) names(prefix string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(s)) {
		if sub := s[k].message; sub != nil {
			out = append(out, sub.names(prefix+k+".")...)
			continue
		}
		out = append(out, prefix+k)
	}
	return out
}

func (s schema) apply(fields []textField, prefix string, errorf func(*textField, string, ...any) error) error {
	seen := map[string]bool{}
	for i := range fields {
		f := &fields[i]
		d, ok := s[f.name]
		if !ok {
			hint := ""
			if near := suggest.Closest(f.name, slices.Sorted(maps.Keys(s))); near != "" {
				hint = fmt.Sprintf(" (did you mean %s?)", prefix+near)
			}
			return errorf(f, "unknown field %s%s: mdlc's model config takes %s", prefix+f.name, hint, strings.Join(s.names(prefix), ", "))
		}
		if f.emptyList {
			continue
		}
		if seen[f.name] && !d.repeated {
			return errorf(f, "%s is given twice", prefix+f.name)
		}
		seen[f.name] = true
		if d.message != nil {
			if f.msg == nil {
				return errorf(f, "%s is a message: write %s { ... }", prefix+f.name, f.name)
			}
			if err := d.message.apply(f.msg, prefix+f.name+".", errorf); err != nil {
				return err
			}
			if d.after != nil {
				if err := d.after(f); err != nil {
					return err
				}
			}
			continue
		}
		if f.msg != nil {
			return errorf(f, "%s takes a value, not a message", prefix+f.name)
		}
		if err := d.set(f); err != nil {
			return err
		}
	}
	return nil
}

// The text format, as protobuf defines it, for what a config holds: fields
// `name: value` or `name { fields }` (also `name: { }` and `name < >`),
// separated by nothing, ',' or ';'; a list `name: [v, ...]` or
// `name [{...}, ...]` is the field repeated; values are numbers, quoted
// strings (with protobuf's C escapes) or identifiers (enums, true, false);
// '#' comments to the end of the line.

type tokKind int

const (
	tokEOF tokKind = iota
	tokIdent
	tokNumber
	tokString
	tokPunct
)

// textField is one field as written: a scalar (kind and value), a message
// (msg non-nil, perhaps empty), or an empty list (which sets nothing, but
// names a field all the same).
type textField struct {
	name      string
	line, col int
	kind      tokKind
	value     string
	msg       []textField
	emptyList bool
}

type token struct {
	kind      tokKind
	text      string
	line, col int
}

type textParser struct {
	src       []byte
	i         int
	line, col int
	tok       token
	depth     int
}

// posError is an error at a line and column, printed as "line:col: msg"
// after the file's name.
type posError struct {
	line, col int
	msg       string
}

func (e *posError) Error() string { return fmt.Sprintf("%d:%d: %s", e.line, e.col, e.msg) }

func parseText(src []byte) ([]textField, error) {
	p := &textParser{src: src, line: 1, col: 1}
	if err := p.next(); err != nil {
		return nil, err
	}
	fields, err := p.fields(tokEOF, "")
	if err != nil {
		return nil, err
	}
	return fields, nil
}

func (p *textParser) errorf(t token, format string, args ...any) error {
	return &posError{t.line, t.col, fmt.Sprintf(format, args...)}
}

func (p *textParser) advance() {
	if p.src[p.i] == '\n' {
		p.line, p.col = p.line+1, 1
	} else {
		p.col++
	}
	p.i++
}

// next reads the next token into p.tok.
func (p *textParser) next() error {
	for p.i < len(p.src) {
		c := p.src[p.i]
		if c == '#' {
			for p.i < len(p.src) && p.src[p.i] != '\n' {
				p.advance()
			}
			continue
		}
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			break
		}
		p.advance()
	}
	p.tok = token{line: p.line, col: p.col}
	if p.i == len(p.src) {
		p.tok.kind = tokEOF
		return nil
	}
	start := p.i
	c := p.src[p.i]
	switch {
	case isIdentByte(c, true):
		for p.i < len(p.src) && isIdentByte(p.src[p.i], false) {
			p.advance()
		}
		p.tok.kind = tokIdent
	case c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9'):
		p.advance()
		for p.i < len(p.src) && (isIdentByte(p.src[p.i], false) || p.src[p.i] == '.' || ((p.src[p.i] == '-' || p.src[p.i] == '+') && (p.src[p.i-1] == 'e' || p.src[p.i-1] == 'E'))) {
			p.advance()
		}
		p.tok.kind = tokNumber
	case c == '"' || c == '\'':
		p.advance()
		for {
			if p.i == len(p.src) || p.src[p.i] == '\n' {
				return p.errorf(p.tok, "unterminated string")
			}
			if p.src[p.i] == '\\' && p.i+1 < len(p.src) {
				p.advance()
			} else if p.src[p.i] == c {
				p.advance()
				break
			}
			p.advance()
		}
		raw := string(p.src[start:p.i])
		if c == '\'' {
			raw = `"` + strings.ReplaceAll(raw[1:len(raw)-1], `"`, `\"`) + `"`
		}
		s, err := strconv.Unquote(raw)
		if err != nil {
			return p.errorf(p.tok, "bad string %s", raw)
		}
		p.tok.kind, p.tok.text = tokString, s
		return nil
	case strings.IndexByte("{}[]<>:,;", c) >= 0:
		p.advance()
		p.tok.kind = tokPunct
	default:
		return p.errorf(p.tok, "unexpected character %q", c)
	}
	p.tok.text = string(p.src[start:p.i])
	return nil
}

func isIdentByte(c byte, first bool) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (!first && c >= '0' && c <= '9')
}

func (p *textParser) punct(s string) bool { return p.tok.kind == tokPunct && p.tok.text == s }

// fields reads fields until the closing token (EOF at the top level).
func (p *textParser) fields(end tokKind, close string) ([]textField, error) {
	if p.depth++; p.depth > maxDepth {
		return nil, p.errorf(p.tok, "nesting deeper than %d", maxDepth)
	}
	defer func() { p.depth-- }()
	fields := []textField{}
	for {
		switch {
		case end == tokEOF && p.tok.kind == tokEOF:
			return fields, nil
		case end == tokPunct && p.punct(close):
			return fields, p.next()
		case p.tok.kind == tokEOF:
			return nil, p.errorf(p.tok, "unexpected end of file, want %q", close)
		case p.tok.kind != tokIdent:
			return nil, p.errorf(p.tok, "want a field name, got %q", p.tok.text)
		}
		name := p.tok
		if err := p.next(); err != nil {
			return nil, err
		}
		colon := p.punct(":")
		if colon {
			if err := p.next(); err != nil {
				return nil, err
			}
		}
		got, err := p.fieldValues(name, colon)
		if err != nil {
			return nil, err
		}
		fields = append(fields, got...)
		if p.punct(",") || p.punct(";") {
			if err := p.next(); err != nil {
				return nil, err
			}
		}
	}
}

// fieldValues reads what follows a field's name (and colon): a value, a
// message, or a list of either.
func (p *textParser) fieldValues(name token, colon bool) ([]textField, error) {
	one := func() (textField, error) {
		f := textField{name: name.text, line: name.line, col: name.col}
		switch {
		case p.punct("{") || p.punct("<"):
			close := "}"
			if p.tok.text == "<" {
				close = ">"
			}
			if err := p.next(); err != nil {
				return f, err
			}
			msg, err := p.fields(tokPunct, close)
			f.msg = msg
			return f, err
		case p.tok.kind == tokIdent || p.tok.kind == tokNumber || p.tok.kind == tokString:
			if !colon {
				return f, p.errorf(p.tok, "want ':' after %s", name.text)
			}
			f.kind, f.value = p.tok.kind, p.tok.text
			if _, err := strconv.ParseFloat(p.tok.text, 64); p.tok.kind == tokNumber && err != nil {
				return f, p.errorf(p.tok, "bad number %q", p.tok.text)
			}
			return f, p.next()
		}
		if p.tok.kind == tokEOF {
			return f, p.errorf(p.tok, "unexpected end of file, want a value for %s", name.text)
		}
		return f, p.errorf(p.tok, "want a value for %s, got %q", name.text, p.tok.text)
	}
	if !p.punct("[") {
		f, err := one()
		return []textField{f}, err
	}
	if err := p.next(); err != nil {
		return nil, err
	}
	var out []textField
	for !p.punct("]") {
		if len(out) > 0 {
			if !p.punct(",") {
				return nil, p.errorf(p.tok, "want ',' or ']' in the list of %s", name.text)
			}
			if err := p.next(); err != nil {
				return nil, err
			}
		}
		at := p.tok
		f, err := one()
		if err != nil {
			return nil, err
		}
		if f.msg == nil {
			f.line, f.col = at.line, at.col // a value of a list: errors point at it
		}
		out = append(out, f)
	}
	if len(out) == 0 {
		out = []textField{{name: name.text, line: name.line, col: name.col, emptyList: true}}
	}
	return out, p.next()
}
