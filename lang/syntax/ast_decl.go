package syntax

import "github.com/alecthomas/participle/v2/lexer"

// Decl is a `model` or a `block`. Both are graphs with parameters and results;
// a model's parameters are all typed tensors (it can be run), a block's may be
// untyped tensors or configuration values, bound when it is called like a layer.
// Train blocks stand among the body's statements, at its top level; they are
// kept apart from Body, so that nothing that walks statements meets them, and
// the printer puts them back in source order.
type Decl struct {
	Pos     lexer.Position
	Kind    string    `parser:"@('model' | 'block')"`
	Name    string    `parser:"@Ident"`
	Params  []*Param  `parser:"'(' (@@ (',' @@)* ','?)? ')'"`
	Results []*Result `parser:"'->' '(' (@@ (',' @@)* ','?)? ')'"`
	Train   []*Train  `parser:"'{' ( @@"`
	Body    []*Stmt   `parser:"    | @@ )* '}'"`
	EndPos  lexer.Position
}

// Param is a declared input: `image: f32[N, 32, 32, 3]`, `x`, `filters: int`,
// `stride: int = 1`.
type Param struct {
	Pos     lexer.Position
	Name    string    `parser:"@Ident"`
	Type    *TypeExpr `parser:"(':' @@)?"`
	Default *Expr     `parser:"('=' @@)?"`
	EndPos  lexer.Position
}

// Result names a value the declaration returns, with an optional type that
// the checker verifies, and optionally the names of the classes along its last
// axis: `probs: f32[N, 10] labels ["airplane", "automobile", ...]`.
type Result struct {
	Pos    lexer.Position
	Name   string    `parser:"@Ident"`
	Type   *TypeExpr `parser:"(':' @@)?"`
	Labels *Labels   `parser:"@@?"`
	EndPos lexer.Position
}

// Labels are the class names of a result, one per index of its last axis.
// `labels` is a keyword only here, after a result, so it stays a valid name
// everywhere else.
type Labels struct {
	Pos    lexer.Position
	Names  []string `parser:"'labels' '[' (@String (',' @String)* ','?)? ']'"`
	EndPos lexer.Position
}

// TypeExpr is a tensor type `f32[N, 10]` or a scalar type name (`int`).
type TypeExpr struct {
	Pos    lexer.Position
	Name   string     `parser:"@Ident"`
	Dims   []*DimExpr `parser:"('[' @@ (',' @@)* ','? ']')?"`
	EndPos lexer.Position
}

// DimExpr is a known size or a symbol bound at run time.
type DimExpr struct {
	Pos    lexer.Position
	Size   *int   `parser:"( @Int"`
	Sym    string `parser:"| @Ident )"`
	EndPos lexer.Position
}
