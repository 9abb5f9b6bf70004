package memplan

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// all are the planners tests run: Best's and the baseline.
var all = append([]Planner{Linear}, Planners...)

// problem adds bufs to a new problem with the default alignment.
func problem(bufs []Buffer) *Problem {
	p := New(0)
	for _, b := range bufs {
		p.Add(b)
	}
	return p
}

// planAll plans p with every planner, checking each plan's invariant.
func planAll(t *testing.T, p *Problem) map[string]*Plan {
	t.Helper()
	plans := map[string]*Plan{}
	for _, pl := range all {
		plan, err := p.Plan(pl)
		require.NoError(t, err, pl.Name)
		require.NoError(t, plan.Verify(), pl.Name)
		require.GreaterOrEqual(t, plan.Size, plan.LowerBound, pl.Name)
		plans[pl.Name] = plan
	}
	return plans
}

func TestLifetimes(t *testing.T) {
	bufs, err := Lifetimes(5, []Value{
		{Size: 8, Def: 0, Uses: []int{3, 1}},
		{Size: 8, Def: 1},                               // never read: live where written
		{Size: 8, Def: 2, Uses: []int{3}, Output: true}, // read by the caller after step 4
	})
	require.NoError(t, err)
	require.Equal(t, []Buffer{
		{Size: 8, First: 0, Last: 3},
		{Size: 8, First: 1, Last: 1},
		{Size: 8, First: 2, Last: 4, Output: true},
	}, bufs)

	for _, tc := range []struct {
		v    Value
		want string
	}{
		{Value{Size: -1}, "size -1 is negative"},
		{Value{Def: 5}, "defined at step 5, outside the 5 steps"},
		{Value{Def: 2, Uses: []int{2}}, "defined at step 2 but read at step 2"},
		{Value{Def: 2, Uses: []int{1}}, "defined at step 2 but read at step 1"},
		{Value{Def: 2, Uses: []int{5}}, "read at step 5 of 5"},
	} {
		_, err := Lifetimes(5, []Value{tc.v})
		require.ErrorContains(t, err, tc.want)
	}
}

// A chain of layers, each read only by the next, needs two buffers.
func TestChain(t *testing.T) {
	const n = 10
	vals := make([]Value, n)
	for i := range vals {
		vals[i] = Value{Size: 100, Def: i, Uses: []int{i + 1}}
	}
	vals[n-1] = Value{Size: 100, Def: n - 1, Output: true}
	bufs, err := Lifetimes(n, vals)
	require.NoError(t, err)
	plans := planAll(t, problem(bufs))
	for name, plan := range plans {
		require.EqualValues(t, 2*128, plan.LowerBound, name)
		require.EqualValues(t, n*128, plan.Unplanned, name)
	}
	require.EqualValues(t, n*128, plans[Linear.Name].Size)
	require.EqualValues(t, 2*128, plans[GreedyBySize.Name].Size)
	require.EqualValues(t, 2*128, plans[GreedyByBreadth.Name].Size)
}

// In a diamond, a is read by both branches, which are live together.
func TestDiamond(t *testing.T) {
	bufs, err := Lifetimes(4, []Value{
		{Size: 64, Def: 0, Uses: []int{1, 2}}, // a
		{Size: 64, Def: 1, Uses: []int{3}},    // b = f(a)
		{Size: 64, Def: 2, Uses: []int{3}},    // c = g(a)
		{Size: 64, Def: 3, Output: true},      // d = b + c
	})
	require.NoError(t, err)
	p := problem(bufs)
	best, err := p.Best()
	require.NoError(t, err)
	require.EqualValues(t, 192, best.LowerBound)
	require.EqualValues(t, 192, best.Size)
	require.Equal(t, GreedyBySize.Name, best.Planner)
	planAll(t, p)

	// d may overwrite b, the operand read last at step 3.
	require.NoError(t, p.Alias(3, 1))
	best, err = p.Best()
	require.NoError(t, err)
	require.EqualValues(t, 192, best.Size)
	require.Equal(t, best.Offsets[1], best.Offsets[3])
}

// A layer followed by elementwise steps, each in place over the last,
// needs one buffer.
func TestAliasChain(t *testing.T) {
	bufs, err := Lifetimes(5, []Value{
		{Size: 1000, Def: 0, Uses: []int{1}}, // conv
		{Size: 1000, Def: 1, Uses: []int{2}}, // + bias
		{Size: 1000, Def: 2, Uses: []int{3}}, // relu
		{Size: 800, Def: 3, Uses: []int{4}},  // a narrowing step
		{Size: 4, Def: 4, Output: true},      // sum
	})
	require.NoError(t, err)
	p := problem(bufs)
	for out := 1; out <= 3; out++ {
		require.NoError(t, p.Alias(out, out-1))
	}
	plans := planAll(t, p)
	for name, plan := range plans {
		for id := 1; id <= 3; id++ {
			require.Equal(t, plan.Offsets[0], plan.Offsets[id], name)
		}
		require.EqualValues(t, 1024, plan.LowerBound, name)
		require.EqualValues(t, 3*1024+832+64, plan.Unplanned, name)
	}
	require.EqualValues(t, 1024+64, plans[Linear.Name].Size)
	require.EqualValues(t, 1024+64, plans[GreedyBySize.Name].Size)
}

func TestAliasRejected(t *testing.T) {
	bufs := []Buffer{
		0: {Size: 64, First: 0, Last: 2},
		1: {Size: 64, First: 1, Last: 2},
		2: {Size: 64, First: 2, Last: 3},
		3: {Size: 128, First: 2, Last: 3},
		4: {Size: 64, First: 3, Last: 3}, // never read
		5: {Size: 64, First: 3, Last: 4, Output: true},
		6: {Size: 64, First: 4, Last: 4},
	}
	p := problem(bufs)
	require.NoError(t, p.Alias(2, 0))
	require.NoError(t, p.Alias(5, 2))
	for _, tc := range []struct {
		out, in int
		want    string
	}{
		{7, 0, "no such buffer among 7"},
		{0, 0, "a buffer cannot alias itself"},
		{1, 0, "buffer 0 is last read at step 2 but buffer 1 is written at step 1"},
		{3, 1, "buffer 3 (128 bytes) is larger than buffer 1 (64 bytes)"},
		{6, 5, "buffer 5 is a graph output"},
		{5, 4, "buffer 4 is written at step 3 and never read after it"},
		{4, 2, "buffer 2 is already overwritten in place by 5"},
		{2, 1, "buffer 2 is already written in place over 0"},
	} {
		require.ErrorContains(t, p.Alias(tc.out, tc.in), tc.want)
	}
	plans := planAll(t, p)
	require.Equal(t, []Alias{{2, 0}, {5, 2}}, plans[GreedyBySize.Name].Aliases)
}

func TestInvalidProblem(t *testing.T) {
	_, err := problem([]Buffer{{Size: 1, First: 2, Last: 1}}).Plan(GreedyBySize)
	require.ErrorContains(t, err, "buffer 0: lifetime [2, 1] is empty")
	_, err = problem([]Buffer{{Size: -1}}).Plan(GreedyBySize)
	require.ErrorContains(t, err, "buffer 0: size -1 is negative")
	_, err = New(48).Plan(GreedyBySize)
	require.ErrorContains(t, err, "alignment 48 is not a power of two")

	_, err = New(0).Plan(Planner{"bad", func(b []Buffer) []int64 { return make([]int64, len(b)) }})
	require.NoError(t, err) // nothing to place
	_, err = problem([]Buffer{{Size: 8}, {Size: 8}}).Plan(Planner{"bad", func(b []Buffer) []int64 { return make([]int64, len(b)) }})
	require.ErrorContains(t, err, "planner bad: buffers 0 and 1 are both live at step 0 and share bytes [0, 64)")
}

func TestEmptyAndZeroSize(t *testing.T) {
	plan, err := New(0).Best()
	require.NoError(t, err)
	require.Zero(t, plan.Size)
	require.Equal(t, "greedy-by-size: arena 0 B, lower bound 0 B, unplanned 0 B, align 64 B\nid  offset  size\n", plan.Timeline(nil))

	plans := planAll(t, problem([]Buffer{{Size: 0, First: 0, Last: 1}, {Size: 10, First: 0, Last: 1}, {Size: 0, First: 1, Last: 1}}))
	require.EqualValues(t, 64, plans[GreedyBySize.Name].Size)
	require.EqualValues(t, 64, plans[Linear.Name].Size)
}

func TestVerify(t *testing.T) {
	good := func() *Plan {
		return &Plan{
			Align:   64,
			Buffers: []Buffer{{Size: 64, First: 0, Last: 1}, {Size: 100, First: 1, Last: 2}, {Size: 64, First: 2, Last: 3}},
			Aliases: []Alias{{Out: 2, In: 1}},
			Offsets: []int64{0, 64, 64},
			Size:    192,
		}
	}
	require.NoError(t, good().Verify())
	for _, tc := range []struct {
		edit func(p *Plan)
		want string
	}{
		{func(p *Plan) { p.Offsets[1] = 0; p.Offsets[2] = 0 }, "buffers 0 and 1 are both live at step 1 and share bytes [0, 64)"},
		{func(p *Plan) { p.Offsets[0] = 128 }, "buffers 0 and 1 are both live at step 1 and share bytes [128, 192)"},
		{func(p *Plan) { p.Offsets[0] = 32 }, "buffer 0 at [32, 96) is misaligned"},
		{func(p *Plan) { p.Size = 128 }, "buffer 1 at [64, 192) is misaligned or outside the arena of 128 bytes"},
		{func(p *Plan) { p.Size = 200 }, "arena size 200 is not a multiple of the alignment 64"},
		{func(p *Plan) { p.Offsets[2] = 0 }, "alias of buffer 2 onto 1: offsets 0 and 64 differ"},
		{func(p *Plan) { p.Aliases = nil }, "buffers 1 and 2 are both live at step 2 and share bytes [64, 128)"},
		{func(p *Plan) { p.Aliases = append(p.Aliases, Alias{2, 1}) }, "buffer 2 is written in place over both 1 and 1"},
		{func(p *Plan) { p.Aliases[0] = Alias{2, 0} }, "alias of buffer 2 onto 0: buffer 0 is last read at step 1"},
		{func(p *Plan) { p.Offsets = p.Offsets[:2] }, "2 offsets for 3 buffers"},
	} {
		p := good()
		tc.edit(p)
		require.ErrorContains(t, p.Verify(), tc.want)
	}
}

func TestTimeline(t *testing.T) {
	bufs, err := Lifetimes(5, []Value{
		{Size: 4096, Def: 0, Uses: []int{1, 2}}, // conv
		{Size: 4096, Def: 1, Uses: []int{3}},    // conv_1
		{Size: 4096, Def: 2, Uses: []int{3}},    // relu
		{Size: 4096, Def: 3, Uses: []int{4}},    // add
		{Size: 40, Def: 4, Output: true},        // dense
	})
	require.NoError(t, err)
	p := problem(bufs)
	require.NoError(t, p.Alias(2, 0))
	require.NoError(t, p.Alias(3, 1))
	plan, err := p.Plan(GreedyBySize)
	require.NoError(t, err)
	require.Equal(t, `greedy-by-size: arena 8192 B, lower bound 8192 B, unplanned 16448 B, align 64 B
id  buffer  offset  size  0
 0  conv         0  4096  ###..
 1  conv_1    4096  4096  .###.
 2  relu         0  4096  ..##. in place of conv
 3  add       4096  4096  ...## in place of conv_1
 4  dense        0    40  ....# output
    peak                   ^^^
`, plan.Timeline([]string{"conv", "conv_1", "relu", "add", "dense"}))

	// Long schedules share columns.
	const n = 150
	vals := make([]Value, n)
	for i := range vals {
		vals[i] = Value{Size: 64, Def: i, Uses: []int{min(i+1, n-1)}}
	}
	vals[n-1] = Value{Size: 64, Def: n - 1, Output: true}
	bufs, err = Lifetimes(n, vals)
	require.NoError(t, err)
	plan, err = problem(bufs).Plan(GreedyBySize)
	require.NoError(t, err)
	lines := strings.Split(plan.Timeline(nil), "\n")
	require.Equal(t, "greedy-by-size: arena 128 B, lower bound 128 B, unplanned 9600 B, align 64 B, 3 steps per column", lines[0])
	require.Equal(t, "  id  offset  size  0         30        60        90        120", lines[1])
	require.Equal(t, "   5      64    64  .##"+strings.Repeat(".", 47), lines[7])
}

// The property test: random buffers, some written in place over others, some
// graph outputs. Every plan must verify and reach at least the lower bound;
// the linear planner must take exactly the unaliased buffers' rounded sizes.
//
// Observed over these 3000 cases (sizes uniform in 1 B..1 MiB, intervals
// uniform over 1..100 steps), arena / lower bound:
//
//	greedy-by-size     mean 1.055, worst 1.54
//	greedy-by-breadth  mean 1.074, worst 1.54
//	best of both       mean 1.047, worst 1.54
//
// Random intervals fragment far more than layer graphs (see below), and
// aliases whose sizes shrink keep their chain's first size reserved; the test
// asserts a mean of at most 1.10.
func TestRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const cases = 3000
	var sumGreedy, worstGreedy, sumBreadth, worstBreadth, sumBest, worstBest float64
	for range cases {
		steps := 1 + r.IntN(100)
		p := New(0)
		var bufs []Buffer
		var roots int64 // the linear planner's arena: buffers not written in place
		for range 1 + r.IntN(60) {
			b := Buffer{Size: 1 + r.Int64N(1<<20), First: r.IntN(steps)}
			b.Last = b.First + r.IntN(steps-b.First)
			if r.IntN(10) == 0 {
				b.Last, b.Output = steps-1, true
			}
			// One buffer in four overwrites a random earlier one that allows it.
			in := -1
			if i := r.IntN(len(bufs) + 1); i < len(bufs) && r.IntN(4) == 0 {
				if c := bufs[i]; !c.Output && c.First < c.Last && !overwritten(p, i) {
					in = i
					b.First, b.Size = c.Last, 1+r.Int64N(c.Size)
					b.Last = max(b.Last, b.First)
				}
			}
			bufs = append(bufs, b)
			id := p.Add(b)
			if in >= 0 {
				require.NoError(t, p.Alias(id, in))
			} else {
				roots += alignUp(b.Size, 64)
			}
		}
		// A random alias request is valid only by chance; a rejected one
		// changes nothing.
		if out, in := r.IntN(len(bufs)), r.IntN(len(bufs)); p.Alias(out, in) == nil {
			roots -= alignUp(bufs[out].Size, 64)
		}

		plans := planAll(t, p)
		lb := naiveLowerBound(plans[Linear.Name])
		for name, plan := range plans {
			require.Equal(t, lb, plan.LowerBound, name)
			require.Equal(t, Unplanned(bufs, 64), plan.Unplanned, name)
		}
		require.Equal(t, roots, plans[Linear.Name].Size)
		best, err := p.Best()
		require.NoError(t, err)
		require.Equal(t, min(plans[GreedyBySize.Name].Size, plans[GreedyByBreadth.Name].Size, plans[GreedyInOrder.Name].Size), best.Size)

		ratio := func(p *Plan) float64 { return float64(p.Size) / float64(p.LowerBound) }
		g, b, bb := ratio(plans[GreedyBySize.Name]), ratio(plans[GreedyByBreadth.Name]), ratio(best)
		sumGreedy, worstGreedy = sumGreedy+g, max(worstGreedy, g)
		sumBreadth, worstBreadth = sumBreadth+b, max(worstBreadth, b)
		sumBest, worstBest = sumBest+bb, max(worstBest, bb)
	}
	t.Logf("arena / lower bound: greedy-by-size mean %.3f worst %.3f; greedy-by-breadth mean %.3f worst %.3f; best mean %.3f worst %.3f",
		sumGreedy/cases, worstGreedy, sumBreadth/cases, worstBreadth, sumBest/cases, worstBest)
	require.LessOrEqual(t, sumGreedy/cases, 1.10)
}

func overwritten(p *Problem, id int) bool { return p.out[id] >= 0 }

// naiveLowerBound sums, step by step, the rounded sizes of the live buffers,
// except one written in place at the step where it overwrites its alias.
func naiveLowerBound(p *Plan) int64 {
	handover := map[int]int{} // buffer written in place -> its first step
	for _, a := range p.Aliases {
		handover[a.Out] = p.Buffers[a.Out].First
	}
	var peak int64
	for s := 0; s < 100; s++ {
		var live int64
		for id, b := range p.Buffers {
			if first, ok := handover[id]; b.First <= s && s <= b.Last && (!ok || s != first) {
				live += alignUp(b.Size, p.Align)
			}
		}
		peak = max(peak, live)
	}
	return peak
}

// Random layer graphs, planned as the plan builder will: each step reads one
// or two recent values and writes one; one step in three is elementwise, its
// result as large as its first operand and written over it if that allows.
// Observed over these 2000 cases, arena / lower bound: greedy-by-size mean
// 1.007, worst 1.33; best of both mean 1.005.
func TestRandomLayerGraphs(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const cases = 2000
	var sumGreedy, worstGreedy, sumBest float64
	for range cases {
		steps := 2 + r.IntN(100)
		vals := make([]Value, steps)
		inPlace := make([]int, steps) // the operand an elementwise step may overwrite
		for s := range vals {
			vals[s] = Value{Size: 64 << r.IntN(12), Def: s}
			inPlace[s] = -1
			for k := range min(s, 1+r.IntN(2)) {
				v := max(0, s-1-int(r.ExpFloat64()*3))
				vals[v].Uses = append(vals[v].Uses, s)
				if k == 0 && r.IntN(3) == 0 {
					inPlace[s], vals[s].Size = v, vals[v].Size
				}
			}
		}
		vals[steps-1].Output = true
		bufs, err := Lifetimes(steps, vals)
		require.NoError(t, err)
		p := problem(bufs)
		for s, v := range inPlace {
			if v >= 0 {
				_ = p.Alias(s, v) // refused if v is read later
			}
		}
		plans := planAll(t, p)
		best, err := p.Best()
		require.NoError(t, err)
		g := float64(plans[GreedyBySize.Name].Size) / float64(best.LowerBound)
		sumGreedy, worstGreedy = sumGreedy+g, max(worstGreedy, g)
		sumBest += float64(best.Size) / float64(best.LowerBound)
	}
	t.Logf("arena / lower bound: greedy-by-size mean %.3f worst %.3f; best mean %.3f", sumGreedy/cases, worstGreedy, sumBest/cases)
	require.LessOrEqual(t, sumGreedy/cases, 1.03)
}
