package exec

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/eltwise"
)

// counterProgram adds its input to a state of two floats on every run and
// copies the sum to its output: state persists across runs.
func counterProgram() *Program {
	return &Program{
		Name:    "counter",
		Kernels: cpu.Generic,
		Specs: []Spec{
			Elementwise{Out: 1, Chain: Chain{Shape: []int{2}, Steps: []eltwise.Step{
				{Kind: eltwise.Load, Operand: 1, Shape: []int{2}}, {Kind: eltwise.Add, Operand: 2, Shape: []int{2}}}}},
			Copy{Src: 1, Dst: 3},
		},
		Slots:   []Slot{{}, {Kind: SlotState, N: 2}, {Kind: SlotInput, N: 2}, {Kind: SlotOutput, N: 2}},
		Inputs:  []Port{{Name: "x", Shape: []int{2}, DType: F32, Slot: 2}},
		Outputs: []Port{{Name: "y", Shape: []int{2}, DType: F32, Slot: 3}},
	}
}

func TestProgramState(t *testing.T) {
	p := counterProgram()
	require.EqualError(t, p.SetData([]float32{1}), "counter: 1 floats of data for slots that hold more")
	require.EqualError(t, p.SetData([]float32{1, 2, 3}), "counter: 3 floats of data for slots that hold 2")
	require.NoError(t, p.SetData([]float32{10, 20}))
	require.NoError(t, p.Compile())
	a := p.NewArena(1)
	defer a.Close()
	y := make([]float32, 2)
	for _, want := range [][]float32{{11, 22}, {12, 24}} {
		require.NoError(t, p.Run(a, []Input{Floats([]float32{1, 2})}, [][]float32{y}))
		assert.Equal(t, want, y)
	}
	assert.Equal(t, []float32{12, 24}, p.Slots[1].Data)

	p.busy.Store(true)
	require.ErrorContains(t, p.Run(a, []Input{Floats([]float32{1, 2})}, [][]float32{y}), "runs of a program with state must take turns")
	p.busy.Store(false)
	require.ErrorContains(t, p.Run(counterProgram().NewArena(1), []Input{Floats([]float32{1, 2})}, [][]float32{y}), "not made by this program's NewArena")
}

func TestProgramCheck(t *testing.T) {
	for _, tc := range []struct {
		edit func(p *Program)
		want string
	}{
		{func(p *Program) { p.Slots[0].Kind = SlotArena }, "slot 0 must be the empty slot"},
		{func(p *Program) { p.Slots = append(p.Slots, Slot{Kind: SlotArena, Off: 4, N: 2}) }, "slot 4: floats 4..6 are outside the arena of 0"},
		{func(p *Program) { p.Slots[1].Data = nil }, "slot 1 (state): 0 floats of data, want 2"},
		{func(p *Program) { p.Inputs[0].Slot = 3 }, `input "x": slot 3 is not an input slot of 2 floats`},
		{func(p *Program) { p.Outputs[0].Shape = []int{3} }, `output "y": slot 3 is not an output slot of 3 floats`},
		{func(p *Program) { p.Inputs[0].DType = I32 }, `input "x": i32 with id limit 0`},
	} {
		p := counterProgram()
		require.NoError(t, p.SetData([]float32{0, 0}))
		tc.edit(p)
		require.EqualError(t, p.Compile(), "counter: "+tc.want)
	}
}

// TestProfile: a profiled run records every step, in order, end to end.
func TestProfile(t *testing.T) {
	p := counterProgram()
	require.NoError(t, p.SetData([]float32{0, 0}))
	require.NoError(t, p.Compile())
	a := p.NewArena(1)
	defer a.Close()
	in, out := []Input{Floats([]float32{1, 2})}, [][]float32{make([]float32, 2)}
	run := func() { require.NoError(t, p.Run(a, in, out)) }
	run()
	times := a.Profile()
	require.Len(t, times, 2)
	require.Equal(t, []StepTime{{}, {}}, times, "nothing recorded before a run")
	require.Equal(t, &times[0], &a.Profile()[0], "the same slice")
	before := time.Now()
	run()
	after := time.Now()
	require.False(t, times[0].Start.Before(before))
	require.Equal(t, times[0].Took, times[1].Start.Sub(times[0].Start), "steps tile the run")
	require.LessOrEqual(t, times[1].Took, after.Sub(times[1].Start))
	require.Zero(t, testing.AllocsPerRun(10, run), "a profiled run allocates nothing")
}
