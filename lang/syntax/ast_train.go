package syntax

import "github.com/alecthomas/participle/v2/lexer"

// Train says how a model is trained, what Keras's compile and fit take:
//
//	train {
//	  loss = sparse_categorical_crossentropy
//	  optimizer = adam(lr=0.001)
//	  metrics = [accuracy]
//	  batch_size = 32
//	  epochs = 6
//	}
//
// It stands among a model's statements, at the top level of its body, and
// builds nothing: the graph is the same with or without it. `train` is a
// keyword only before `{` there, so it stays a valid name everywhere else.
type Train struct {
	Pos      lexer.Position
	Settings []*Setting `parser:"'train' '{' @@* '}'"`
	EndPos   lexer.Position
}

// Setting is one `key = value` of a train block. The value is written as an
// expression (a name, a call with keyword arguments, a number, a list); the
// checker says which forms each key takes.
type Setting struct {
	Pos    lexer.Position
	Key    *Ident `parser:"@@ '='"`
	Value  *Expr  `parser:"@@"`
	EndPos lexer.Position
}
