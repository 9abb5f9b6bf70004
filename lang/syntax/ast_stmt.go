package syntax

import "github.com/alecthomas/participle/v2/lexer"

// Stmt binds names to the results of an expression: `x = image | conv2d(32, 3)`,
// `h, c = cell(x)`. A name is bound once in a body; `_` discards a result.
type Stmt struct {
	Pos     lexer.Position
	Targets []*Ident `parser:"@@ (',' @@)* '='"`
	Value   *Expr    `parser:"@@"`
	EndPos  lexer.Position
}

// Ident is a name with its position.
type Ident struct {
	Pos    lexer.Position
	Name   string `parser:"@Ident"`
	EndPos lexer.Position
}
