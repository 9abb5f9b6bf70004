package syntax

import (
	"strings"

	"github.com/alecthomas/participle/v2/lexer"
)

// Expr is a pipeline: a head, the term Head and the infix operations Ops
// that follow it, then stages. `x | f(a) | g` means g(f(x, a)): each stage
// receives the previous value as its first tensor input. The pipe binds
// loosest: `a + b | relu` is relu(a + b).
type Expr struct {
	Pos    lexer.Position
	Head   *Term    `parser:"@@"`
	Ops    []*Infix `parser:"@@*"`
	Stages []*Call  `parser:"('|' @@)*"`
	EndPos lexer.Position
}

// Infix is one binary operation of an expression's head, applied to what
// precedes it as Tree groups it: `*`, `/` and `//` (floor division of
// integers, for channel arithmetic such as make_divisible) bind tighter than
// `+` and `-`, and each group is left-associative.
type Infix struct {
	Pos     lexer.Position
	Op      string `parser:"@('+' | '-' | '*' | '/' | '//')"`
	Operand *Term  `parser:"@@"`
	EndPos  lexer.Position
}

// Term is an operand: a call or name, a number, a string, a list, a
// parenthesised expression, or a negated term, `-x`. A tuple, `(3, 3)` as
// Keras and PyTorch write sizes, parses as Paren and Tuple, the items after
// the first; Parse turns it into the List it means, so nothing after the
// parser sees a Tuple.
type Term struct {
	Pos    lexer.Position
	Call   *Call   `parser:"  @@"`
	Number *Number `parser:"| @@"`
	String *string `parser:"| @String"`
	List   *List   `parser:"| @@"`
	Paren  *Expr   `parser:"| '(' @@"`
	Tuple  []*Expr `parser:"(',' @@)* ')'"`
	Neg    *Term   `parser:"| '-' @@"`
	EndPos lexer.Position
}

// Terms are the head's operands, in source order, each with any negations
// taken off.
func (e *Expr) Terms() []*Term {
	ts := make([]*Term, 0, 1+len(e.Ops))
	for _, t := range append([]*Term{e.Head}, e.operands()...) {
		for t.Neg != nil {
			t = t.Neg
		}
		ts = append(ts, t)
	}
	return ts
}

func (e *Expr) operands() []*Term {
	ts := make([]*Term, len(e.Ops))
	for i, in := range e.Ops {
		ts[i] = in.Operand
	}
	return ts
}

// Arith is an expression's head as a tree: a Term, or Op applied to L and
// R. Pos and EndPos span its source.
type Arith struct {
	Term        *Term
	Op          string
	L, R        *Arith
	Pos, EndPos lexer.Position
}

// Precedence is how tightly an operator binds: products 2, sums 1.
func Precedence(op string) int {
	if op == "*" || op == "/" || op == "//" {
		return 2
	}
	return 1
}

// Tree groups the head's terms by precedence (operator precedence parsing).
func (e *Expr) Tree() *Arith {
	var operands []*Arith
	var ops []string
	reduce := func() {
		n := len(operands)
		l, r := operands[n-2], operands[n-1]
		operands = append(operands[:n-2], &Arith{Op: ops[len(ops)-1], L: l, R: r, Pos: l.Pos, EndPos: r.EndPos})
		ops = ops[:len(ops)-1]
	}
	operands = append(operands, &Arith{Term: e.Head, Pos: e.Head.Pos, EndPos: e.Head.EndPos})
	for _, in := range e.Ops {
		for len(ops) > 0 && Precedence(ops[len(ops)-1]) >= Precedence(in.Op) {
			reduce()
		}
		ops = append(ops, in.Op)
		operands = append(operands, &Arith{Term: in.Operand, Pos: in.Operand.Pos, EndPos: in.Operand.EndPos})
	}
	for len(ops) > 0 {
		reduce()
	}
	return operands[0]
}

// Call applies a layer or block, or, without parentheses, names a value, a layer
// taking no arguments, or an enumerated constant such as `relu` or `same`.
// `as` names the layer instance, which prefixes its parameters' names; an
// integer in braces after it is appended, so that `as res{i}` in a loop
// names res0, res1, ...
type Call struct {
	Pos     lexer.Position
	Name    []string `parser:"@Ident ('.' @Ident)*"`
	Args    *Args    `parser:"@@?"`
	As      *Ident   `parser:"('as' @@"`
	AsIndex *Ident   `parser:"('{' @@ '}')?)?"`
	EndPos  lexer.Position
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
