package exec

import (
	"sync/atomic"
	"testing"

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

// rounds is a gang job: in each round every member writes its slot, meets
// the others, then checks that every slot holds this round's value.
type rounds struct {
	slots  [8]atomic.Int32
	sizes  [8]atomic.Int32
	stale  atomic.Int32
	rounds int
}

func (r *rounds) member(t *Team, _ [][]float32, _ []float32, m, n int) {
	r.sizes[m].Store(int32(n))
	for round := 1; round <= r.rounds; round++ {
		r.slots[m].Store(int32(round))
		t.sync(n)
		for i := range n {
			if got := r.slots[i].Load(); got < int32(round) {
				r.stale.Add(1)
			}
		}
		t.sync(n)
	}
}

func TestGangMeets(t *testing.T) {
	for _, helpers := range []int{0, 1, 3} {
		team := NewTeam(helpers, 4)
		for _, want := range []int{1, 2, 8} {
			r := &rounds{rounds: 200}
			team.gang(r, want-1, nil, make([]float32, 4))
			n := min(want, helpers+1)
			for m := range r.sizes {
				size := int32(n)
				if m >= n {
					size = 0
				}
				assert.Equal(t, size, r.sizes[m].Load(), "member %d of %d", m, n)
			}
			assert.Zero(t, r.stale.Load(), "%d members saw a slot of a past round", n)
		}
		team.Stop()
	}
	var none *Team
	r := &rounds{rounds: 3}
	none.gang(r, 4, nil, nil)
	assert.Equal(t, int32(1), r.sizes[0].Load())
}
