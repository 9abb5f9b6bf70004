//go:build !purego

package cpu

const hasAsm = true
