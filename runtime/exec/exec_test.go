package exec

import (
	"sync/atomic"
	"testing"

	"github.com/mdlc/mdlc/runtime/kernels/conv"
	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/gemm"
	"github.com/stretchr/testify/assert"
)

func TestHelpers(t *testing.T) {
	assert.Equal(t, 0, Helpers(1, 1e9), "one unit")
	assert.Equal(t, 0, Helpers(100, 1.5e6), "too little work")
	assert.Equal(t, 2, Helpers(3, 1e9), "bounded by units")
	assert.Equal(t, 4, Helpers(100, 5e6), "bounded by work")
}

// counter counts the units computed and records which did not get scratch.
type counter struct {
	done      [64]atomic.Int32
	noScratch atomic.Int32
}

func (c *counter) unit(_ [][]float32, scratch []float32, u int) {
	if len(scratch) < 4 {
		c.noScratch.Add(1)
	}
	c.done[u].Add(1)
}

func TestTeamRunsEveryUnitOnce(t *testing.T) {
	for _, helpers := range []int{0, 1, 3} {
		team := NewTeam(helpers, 4)
		var c counter
		team.run(&c, 5, 60, 8, nil, make([]float32, 4))
		team.run(&c, 60, 64, 8, nil, make([]float32, 4))
		team.Stop()
		for u := range c.done {
			want := int32(1)
			if u < 5 {
				want = 0
			}
			assert.Equal(t, want, c.done[u].Load(), "unit %d with %d helpers", u, helpers)
		}
		assert.Zero(t, c.noScratch.Load())
	}
	var c counter
	var none *Team
	none.run(&c, 0, 3, 8, nil, make([]float32, 4))
	none.Stop()
	assert.Equal(t, int32(1), c.done[2].Load())
}

// stages is a phased job: unit u of phase p records p in its slot after
// checking that every other slot holds p-1 or p (the phase before is done,
// no unit is a phase ahead) and its own p-1 (it runs once a phase).
type stages struct {
	slots [8]atomic.Int32
	runs  atomic.Int32
	bad   atomic.Int32
	units int
}

func (s *stages) phaseUnit(_ [][]float32, scratch []float32, p, u int) {
	if len(scratch) < 4 {
		s.bad.Add(1)
	}
	for i := range s.units {
		if got := s.slots[i].Load(); got != int32(p-1) && (got != int32(p) || i == u) {
			s.bad.Add(1)
		}
	}
	s.slots[u].Store(int32(p))
	s.runs.Add(1)
}

func TestPhasesInOrder(t *testing.T) {
	for _, helpers := range []int{0, 1, 3} {
		team := NewTeam(helpers, 4)
		for _, units := range []int{1, 2, 5} {
			s := &stages{units: units}
			for i := range s.slots {
				s.slots[i].Store(-1)
			}
			team.phases(s, 300, units, 8, nil, make([]float32, 4))
			assert.Equal(t, int32(300*units), s.runs.Load(), "%d units, %d helpers", units, helpers)
			assert.Zero(t, s.bad.Load(), "%d units, %d helpers: a unit ran before the phase before it was done", units, helpers)
		}
		team.Stop()
	}
	var none *Team
	s := &stages{units: 2}
	s.slots[0].Store(-1)
	s.slots[1].Store(-1)
	none.phases(s, 3, 2, 4, nil, make([]float32, 4))
	assert.Equal(t, int32(6), s.runs.Load())
	assert.Zero(t, s.bad.Load())
}

// TestGoStrings: the kinds and types write themselves as the Go constants
// that name them, which mdlc gen's literals use.
func TestGoStrings(t *testing.T) {
	kinds := map[SlotKind]string{SlotEmpty: "exec.SlotEmpty", SlotArena: "exec.SlotArena", SlotConstant: "exec.SlotConstant",
		SlotInput: "exec.SlotInput", SlotOutput: "exec.SlotOutput", SlotState: "exec.SlotState", SlotState + 1: "exec.SlotKind(6)"}
	for k, want := range kinds {
		assert.Equal(t, want, k.GoString())
	}
	for d, want := range map[DType]string{F32: "exec.F32", I32: "exec.I32", I64: "exec.I64", 0: "exec.DType(0)"} {
		assert.Equal(t, want, d.GoString())
	}
}

// TestConvKernelSet: the narrow-product rule (gemm.ForWidth) picks the GEMM
// of the convolutions that run one; the depthwise kernels' convolutions
// (direct, depthwise) run their own set's, however few their channels.
func TestConvKernelSet(t *testing.T) {
	one := [2]int{1, 1}
	direct := conv.Shape{N: 2, H: 14, W: 14, C: 6, KH: 5, KW: 5, CO: 16, Stride: one, Dilation: one, Groups: 1}
	depthwise := conv.Shape{N: 1, H: 8, W: 8, C: 16, KH: 3, KW: 3, CO: 16, Stride: one, Dilation: one, Pads: [4]int{1, 1, 1, 1}, Groups: 16}
	im2col := conv.Shape{N: 1, H: 8, W: 8, C: 32, KH: 5, KW: 5, CO: 16, Stride: one, Dilation: one, Groups: 1}
	for _, set := range cpu.Available() {
		for _, tc := range []struct {
			name  string
			shape conv.Shape
			algo  conv.Algorithm
			want  cpu.Set
		}{
			{"direct", direct, conv.Direct, set},
			{"depthwise", depthwise, conv.Depthwise, set},
			{"im2col", im2col, conv.Im2col, gemm.ForWidth(set, 16).Set},
		} {
			c := Conv{Shape: tc.shape}.New(set).Conv
			assert.Equal(t, tc.algo, c.Algorithm(), "%s on %s", tc.name, set)
			assert.Equal(t, tc.want, c.Set(), "%s on %s", tc.name, set)
		}
	}
}
