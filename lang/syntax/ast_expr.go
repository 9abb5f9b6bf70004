package syntax

import (
	"strings"

	"github.com/alecthomas/participle/v2/lexer"
)

// Expr is a pipeline: a head term followed by stages. `x | f(a) | g` means
// g(f(x, a)): each stage receives the previous value as its first tensor input.
type Expr struct {
	Pos    lexer.Position
	Head   *Term   `parser:"@@"`
	Stages []*Call `parser:"('|' @@)*"`
	EndPos lexer.Position
}

// Term is an operand: a call or name, a number, a string, a list, or a
// parenthesised expression. A tuple, `(3, 3)` as Keras and PyTorch write
// sizes, parses as Paren and Tuple, the items after the first; Parse turns
// it into the List it means, so nothing after the parser sees a Tuple.
type Term struct {
	Pos    lexer.Position
	Call   *Call   `parser:"  @@"`
	Number *Number `parser:"| @@"`
	String *string `parser:"| @String"`
	List   *List   `parser:"| @@"`
	Paren  *Expr   `parser:"| '(' @@"`
	Tuple  []*Expr `parser:"(',' @@)* ')'"`
	EndPos lexer.Position
}

// Call applies a layer or block, or, without parentheses, names a value, a layer
// taking no arguments, or an enumerated constant such as `relu` or `same`.
// `as` names the layer instance, which prefixes its parameters' names.
type Call struct {
	Pos    lexer.Position
	Name   []string `parser:"@Ident ('.' @Ident)*"`
	Args   *Args    `parser:"@@?"`
	As     *Ident   `parser:"('as' @@)?"`
	EndPos lexer.Position
}

// QualifiedName joins a dotted name back together.
func (c *Call) QualifiedName() string { return strings.Join(c.Name, ".") }

// Args is a parenthesised argument list, possibly empty.
type Args struct {
	Pos    lexer.Position
	List   []*Arg `parser:"'(' (@@ (',' @@)* ','?)? ')'"`
	EndPos lexer.Position
}

// Arg is a positional or keyword argument.
type Arg struct {
	Pos     lexer.Position
	Keyword *Ident `parser:"(@@ '=')?"`
	Value   *Expr  `parser:"@@"`
	EndPos  lexer.Position
}

// Number is an integer or floating point literal, possibly negative.
type Number struct {
	Pos    lexer.Position
	Neg    bool   `parser:"@'-'?"`
	Text   string `parser:"@(Float | Int)"`
	EndPos lexer.Position
}

// IsInt reports whether the literal was written without a fraction or exponent.
func (n *Number) IsInt() bool { return !strings.ContainsAny(n.Text, ".eE") }

// List is `[a, b, ...]`, used for sizes such as kernel=[3, 5].
type List struct {
	Pos    lexer.Position
	Items  []*Expr `parser:"'[' (@@ (',' @@)* ','?)? ']'"`
	EndPos lexer.Position
}
