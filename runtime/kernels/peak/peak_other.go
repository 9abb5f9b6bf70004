//go:build purego || !(amd64 || arm64)

package peak

// asm is empty: this build has no assembly version.
var asm []version
