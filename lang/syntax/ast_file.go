// Package syntax is the .mdl language's front end: the lexer and grammar
// (participle), the AST, and the canonical printer behind `mdlc fmt`.
package syntax

import "github.com/alecthomas/participle/v2/lexer"

// File is one .mdl source file: imports, then model and block declarations.
type File struct {
	Pos     lexer.Position
	Imports []*Import `parser:"@@*"`
	Decls   []*Decl   `parser:"@@*"`
	EndPos  lexer.Position

	// Comments are kept outside the grammar and re-attached by the printer by
	// position, so formatting never loses them.
	Comments []lexer.Token
}

// Import brings another file's declarations in under a namespace:
// `import "blocks"` (an embedded stdlib file) or `import "./mine.mdl" as m`.
type Import struct {
	Pos    lexer.Position
	Path   string `parser:"'import' @String"`
	Alias  string `parser:"('as' @Ident)?"`
	EndPos lexer.Position
}

// Namespace is the name the import's declarations are reached by.
func (i *Import) Namespace() string {
	if i.Alias != "" {
		return i.Alias
	}
	base := i.Path
	for j := len(base) - 1; j >= 0; j-- {
		if base[j] == '/' {
			base = base[j+1:]
			break
		}
	}
	if len(base) > 4 && base[len(base)-4:] == ".mdl" {
		base = base[:len(base)-4]
	}
	return base
}
