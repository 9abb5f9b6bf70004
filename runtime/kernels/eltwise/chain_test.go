package eltwise

import (
	"slices"
	"testing"

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
