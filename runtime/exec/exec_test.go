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
