// Package stdlib embeds mdlc's standard library of .mdl models and blocks, so
// `import "blocks"` and `mdlc run cnn` work anywhere the binary runs.
package stdlib

import "embed"

// FS holds the standard library's .mdl files at its root.
//
//go:embed *.mdl
var FS embed.FS
