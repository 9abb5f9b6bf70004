package syntax

import "github.com/alecthomas/participle/v2/lexer"

// Stmt is one statement of a body: an `if`, a `for`, or an assignment that
// binds names to the results of an expression: `x = image | conv2d(32, 3)`,
// `h, c = cell(x)`. A name is bound once in a body, except that inside an
// `if` branch or a `for` body a name bound before it may be bound again
// (`h = h | block(...)`); `_` discards a result.
type Stmt struct {
	Pos     lexer.Position
	If      *If      `parser:"  @@"`
	For     *For     `parser:"| @@"`
	Targets []*Ident `parser:"| @@ (',' @@)* '='"`
	Value   *Expr    `parser:"@@"`
	EndPos  lexer.Position
}

// If chooses statements by a condition on configuration values, decided
// when the model is elaborated: `if stride != 1 { ... } else { ... }`.
type If struct {
	Pos    lexer.Position
	Cond   *Cond   `parser:"'if' @@"`
	Then   []*Stmt `parser:"'{' @@* '}'"`
	Else   *Else   `parser:"('else' @@)?"`
	EndPos lexer.Position
}

// Else is an `else if` or the final `else { ... }`.
type Else struct {
	Pos    lexer.Position
	If     *If     `parser:"  @@"`
	Body   []*Stmt `parser:"| '{' @@* '}'"`
	EndPos lexer.Position
}

// For repeats its body for each integer of the half-open range From..To:
// `for i in 0..n { ... }` runs with i = 0, 1, ..., n-1, unrolled when the
// model is elaborated.
type For struct {
	Pos    lexer.Position
	Var    *Ident  `parser:"'for' @@ 'in'"`
	From   *Expr   `parser:"@@ Range"`
	To     *Expr   `parser:"@@"`
	Body   []*Stmt `parser:"'{' @@* '}'"`
	EndPos lexer.Position
}

// Cond is a condition: alternatives joined by `or`; `and` binds tighter.
type Cond struct {
	Pos    lexer.Position
	Or     []*Conj `parser:"@@ ('or' @@)*"`
	EndPos lexer.Position
}

// Conj is comparisons joined by `and`.
type Conj struct {
	Pos    lexer.Position
	And    []*Cmp `parser:"@@ ('and' @@)*"`
	EndPos lexer.Position
}

// Cmp is a negation, a parenthesised condition, a comparison `a == b`
// (`==`, `!=`, `<`, `<=`, `>`, `>=`), or a bool value alone.
type Cmp struct {
	Pos    lexer.Position
	Not    *Cmp   `parser:"  'not' @@"`
	Group  *Cond  `parser:"| '(' @@ ')'"`
	L      *Expr  `parser:"| @@"`
	Op     string `parser:"(@Compare"`
	R      *Expr  `parser:"@@)?"`
	EndPos lexer.Position
}

// Ident is a name with its position.
type Ident struct {
	Pos    lexer.Position
	Name   string `parser:"@Ident"`
	EndPos lexer.Position
}
