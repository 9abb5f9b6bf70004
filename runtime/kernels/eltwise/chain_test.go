package eltwise

import (
	"slices"
	"testing"

	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/tensor"
)

// TestBroadcastStrides: the kernels' copy agrees with tensor's.
func TestBroadcastStrides(t *testing.T) {
	out := []int{2, 3, 4, 5}
	for _, s := range [][]int{{}, {1}, {5}, {4, 1}, {3, 4, 5}, {2, 1, 4, 1}, {2, 3, 4, 5}, {1, 1, 1, 1}} {
		if got, want := broadcastStrides(s, out), tensor.BroadcastStrides(s, out); !slices.Equal(got, want) {
			t.Errorf("broadcastStrides(%v, %v) = %v, want %v", s, out, got, want)
		}
	}
}

// A squeeze-excitation gate runs several rows at a time; an operand that
// repeats along the rows without a rows kernel (sub), or rows long enough,
// keep runs to a row.
func TestChainSpansRows(t *testing.T) {
	x := []int{1, 56, 56, 16}
	gate := func(k Kind, c int) *Chain {
		return NewChain(cpu.Generic, []int{1, 56, 56, c}, []Step{{Kind: Load, Operand: 0, Shape: []int{1, 56, 56, c}}, {Kind: k, Operand: 1, Shape: []int{1, 1, 1, c}}})
	}
	if c := gate(Mul, x[3]); c.rows != chunk/16 {
		t.Errorf("gate over %v: %d rows a run, want %d", x, c.rows, chunk/16)
	}
	if c := gate(Sub, x[3]); c.rows != 0 {
		t.Errorf("sub: %d rows a run, want 0", c.rows)
	}
	if c := gate(Mul, rowsBelow); c.rows != 0 {
		t.Errorf("rows of %d: %d rows a run, want 0", rowsBelow, c.rows)
	}
}
