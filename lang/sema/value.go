package sema

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/lang/diag"
)

// kind is what an expression evaluates to during elaboration.
type kind uint8

const (
	kTensor kind = iota + 1
	kInt
	kFloat
	kString
	kName // a bare name that is not a variable: an activation, a padding, true/false
	kList
	// kPoison stands for a value whose computation already failed; using it
	// reports nothing more, so one mistake gives one diagnostic.
	kPoison
)

var kindNames = [...]string{kTensor: "a tensor", kInt: "an integer", kFloat: "a number", kString: "a string", kName: "a name", kList: "a list", kPoison: "an invalid value"}

// value is the result of evaluating an expression.
type value struct {
	kind  kind
	t     *ir.Value
	i     int
	f     float64
	s     string // kString and kName
	list  []value
	start lexer.Position
	end   lexer.Position
}

func (v value) describe() string {
	switch v.kind {
	case kTensor:
		return "a tensor " + v.t.Type.String()
	case kInt:
		return fmt.Sprintf("the integer %d", v.i)
	case kFloat:
		return fmt.Sprintf("the number %g", v.f)
	case kString:
		return fmt.Sprintf("the string %q", v.s)
	case kName:
		return "the name `" + v.s + "`"
	}
	return kindNames[v.kind]
}

func pos(p lexer.Position) diag.Pos { return diag.Pos{File: p.Filename, Line: p.Line, Col: p.Column} }

func poison() value { return value{kind: kPoison} }

func anyPoison(vs []value) bool {
	for _, v := range vs {
		if v.kind == kPoison {
			return true
		}
	}
	return false
}

// text writes a constant value as it would appear in source.
func (v value) text() string {
	switch v.kind {
	case kInt:
		return strconv.Itoa(v.i)
	case kFloat:
		return strconv.FormatFloat(v.f, 'g', -1, 64)
	case kString:
		return strconv.Quote(v.s)
	case kName:
		return v.s
	case kList:
		parts := make([]string, len(v.list))
		for i, it := range v.list {
			parts[i] = it.text()
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return v.describe()
}
