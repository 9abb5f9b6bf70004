package serve

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mdlc/mdlc/compile"
	"github.com/mdlc/mdlc/internal/size"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime/plan"
	"github.com/mdlc/mdlc/weights"
)

// Spec says where a model comes from: Path is a .mdl program, an .onnx
// model or a stdlib name; Weights a .safetensors file ("": the weights that
// ship with a stdlib model or come inside an ONNX file).
type Spec struct {
	Name, Version string
	Path, Weights string
	// Config is the model's config file, if it has one.
	Config *ModelConfig
	// Embedded, when set, is the model itself, which Path then only names.
	Embedded *Embedded
}

// Embedded is a model carried in memory, as a binary of `mdlc build
// --serve` carries its own: a program's text (an .mdl file with no imports
// but stdlib's, or the program mdlc imported from an ONNX file), the name of
// its model, and its weights as a .safetensors file in mdlc's layout.
type Embedded struct {
	Model   string
	Program []byte
	Weights []byte
}

// Config is how models are compiled and batched.
type Config struct {
	// Compile is the driver's options every model starts from (budget,
	// threads, kernels, fixed dimensions of ONNX models); Model and Weights
	// are set per model.
	Compile compile.Options
	// MaxBatch is the most rows (examples along the batch axis) one
	// execution takes; a request of more is refused. 1 turns batching off.
	MaxBatch int
	// MaxQueueDelay is how long the first request of a batch waits for
	// others to join it; 0 runs with what is already queued.
	MaxQueueDelay time.Duration
	// PreferredBatch are batch sizes (ascending) that run as soon as they
	// are reached with nothing more queued, without waiting out
	// MaxQueueDelay; a batch grows to the largest at most (none: MaxBatch).
	PreferredBatch []int
	// MaxQueue is the most requests waiting per model: past it a request is
	// refused with 503 rather than queued without bound.
	MaxQueue int
	// Instances is the number of executions per model that run at once.
	Instances int
	// MaxPlans bounds the compiled plans kept per model (one per batch size
	// and binding of the other symbolic dimensions).
	MaxPlans int
}

// The states of a model.
const (
	loading int32 = iota
	ready
	failed
)

// Model is one version of a model in the repository: its compiled graph,
// the plans built from it, and the batcher that runs requests for it.
type Model struct {
	Name, Version string
	spec          Spec
	cfg           Config
	opts          compile.Options
	state         atomic.Int32
	// The fields below are set by load, before state becomes ready, and
	// read only after.
	m         *compile.Model
	inputs    []port
	outputs   []port
	batchSym  string
	batchable bool
	plans     planCache
	batcher   *batcher
	metrics   *modelMetrics
	logger    *slog.Logger
}

func (m *Model) log() *slog.Logger { return m.logger }

// port is a model input or output as the protocol describes it: dims are
// -1 where symbolic, syms the symbols there.
type port struct {
	name  string
	dtype ir.DType
	dims  []int64
	syms  []string
	// limit bounds token ids to [0, limit) (0: not ids).
	limit int
}

func (p port) datatype() string {
	switch p.dtype {
	case ir.I32:
		return dtINT32
	case ir.I64:
		return dtINT64
	}
	return dtFP32
}

func newModel(spec Spec, cfg Config, mm *modelMetrics) *Model {
	m := &Model{Name: spec.Name, Version: spec.Version, spec: spec, cfg: cfg, metrics: mm}
	m.opts = cfg.Compile
	m.opts.Weights = spec.Weights
	m.opts.Dims = maps.Clone(cfg.Compile.Dims)
	m.plans.max = cfg.MaxPlans
	m.batcher = newBatcher(m)
	return m
}

// Ready reports whether the model has loaded and takes requests.
func (m *Model) Ready() bool { return m.state.Load() == ready }

// load reads, checks and optimises the model, and compiles its batch-1
// plan when nothing else needs binding, so that a model that cannot run
// fails at start rather than at its first request.
func (m *Model) load(log *slog.Logger) error {
	err := m.loadModel(log)
	if err != nil {
		m.state.Store(failed)
		return fmt.Errorf("model %s version %s (%s): %w", m.Name, m.Version, m.spec.Path, err)
	}
	m.batcher.start()
	m.state.Store(ready)
	return nil
}

func (m *Model) loadModel(log *slog.Logger) error {
	cm, w, err := m.read()
	if err != nil {
		return err
	}
	if w.Fresh {
		log.Warn("no weights given: serving freshly initialised weights, not a trained model", "model", m.Name, "version", m.Version, "seed", m.opts.Seed)
	}
	if _, err := m.opts.Optimise(cm, w); err != nil {
		return err
	}
	m.m = cm
	g := cm.Graph
	m.batchSym = compile.BatchSymbol(g)
	m.batchable = m.batchSym != "" && m.cfg.MaxBatch > 1
	for _, in := range g.Inputs {
		p := newPort(in.Name, in.Type)
		if p.dtype != ir.F32 {
			p.limit = g.TokenLimit(in)
		}
		m.inputs = append(m.inputs, p)
		if len(p.syms) == 0 || p.syms[0] != m.batchSym {
			m.batchable = false
		}
	}
	for _, out := range g.Outputs {
		p := newPort(out.Name, out.Value.Type)
		m.outputs = append(m.outputs, p)
		if len(p.syms) == 0 || p.syms[0] != m.batchSym {
			m.batchable = false
		}
	}
	if others := slices.DeleteFunc(g.Symbols(), func(s string) bool { return s == m.batchSym }); len(others) == 0 {
		if _, err := m.plans.get(m, nil, 1); err != nil {
			return err
		}
	}
	return nil
}

// read reads the model and its weights, from its files or from memory.
func (m *Model) read() (*compile.Model, *compile.Weights, error) {
	e := m.spec.Embedded
	if e == nil {
		cm, err := m.opts.Load(m.spec.Path)
		if err != nil {
			return nil, nil, err
		}
		w, err := m.opts.LoadWeights(cm)
		return cm, w, err
	}
	o := m.opts
	o.Model = e.Model
	cm, err := o.LoadSource(m.spec.Path, e.Program)
	if err != nil {
		return nil, nil, err
	}
	ts, _, err := weights.ReadModel(bytes.NewReader(e.Weights), int64(len(e.Weights)), cm.Graph, o.MemoryBudget())
	if err != nil {
		return nil, nil, fmt.Errorf("the embedded weights: %w", err)
	}
	return cm, &compile.Weights{Tensors: ts}, nil
}

func newPort(name string, t ir.Type) port {
	p := port{name: name, dtype: t.DType, dims: make([]int64, len(t.Shape)), syms: make([]string, len(t.Shape))}
	for i, d := range t.Shape {
		p.dims[i], p.syms[i] = int64(d.Size), d.Sym
		if !d.Known() {
			p.dims[i] = -1
		}
	}
	return p
}

// job is one request's inputs, checked against the model, on its way
// through the batcher.
type job struct {
	// dims binds the symbolic dimensions other than the batch; key is
	// their canonical text: only jobs with the same key share a batch.
	dims map[string]int
	key  string
	rows int
	data []tensorData // one per model input, in the model's order
	done chan jobResult
	// cancelled is closed when the client no longer waits (deadline
	// passed, connection gone): the batcher skips the job.
	cancelled <-chan struct{}
	enqueued  time.Time
}

// jobResult is what the batcher answers a job: its own rows of each
// output, or an error.
type jobResult struct {
	outputs [][]float32
	shapes  [][]int
	err     error
}

// prepare checks a request's inputs against the model (names, datatypes,
// shapes, the budget) and decodes them into a job. A JSON tensor's shape
// may call for no more values than its data has bytes, so no shape makes it
// allocate more than its body could fill.
func (m *Model) prepare(req *inferRequest) (*job, error) {
	byName := map[string]*requestInput{}
	for i := range req.Inputs {
		in := &req.Inputs[i]
		if _, dup := byName[in.Name]; dup {
			return nil, badRequest("input %q is given twice", in.Name)
		}
		if !slices.ContainsFunc(m.inputs, func(p port) bool { return p.name == in.Name }) {
			return nil, badRequest("model %s has no input %q; its inputs are %s", m.Name, in.Name, m.inputList())
		}
		byName[in.Name] = in
	}
	j := &job{dims: map[string]int{}, rows: 1}
	boundBy := map[string]string{}
	for _, p := range m.inputs {
		in := byName[p.name]
		if in == nil {
			return nil, badRequest("missing input %q (%s)", p.name, p.describe())
		}
		if err := p.checkDatatype(in.Datatype); err != nil {
			return nil, err
		}
		if len(in.Shape) != len(p.dims) {
			return nil, badRequest("input %q is %s, but the request's shape %v has rank %d", p.name, p.describe(), in.Shape, len(in.Shape))
		}
		for i, d := range in.Shape {
			if d < 1 || d > 1<<31 {
				return nil, badRequest("input %q: axis %d of shape %v must be from 1 to 2^31", p.name, i, in.Shape)
			}
			if p.dims[i] >= 0 && d != p.dims[i] {
				return nil, badRequest("input %q is %s, but the request's shape is %v: axis %d is %d, want %d", p.name, p.describe(), in.Shape, i, d, p.dims[i])
			}
			if sym := p.syms[i]; sym != "" {
				if prev, ok := j.dims[sym]; ok && prev != int(d) {
					return nil, badRequest("input %q: dimension %s is %d, but input %q has %s = %d", p.name, sym, d, boundBy[sym], sym, prev)
				}
				j.dims[sym], boundBy[sym] = int(d), p.name
			}
		}
	}
	if m.batchSym != "" {
		j.rows = j.dims[m.batchSym]
		delete(j.dims, m.batchSym)
		if j.rows > m.cfg.MaxBatch {
			return nil, badRequest("the request's batch of %d is more than model %s takes at once (%d)", j.rows, m.Name, m.cfg.MaxBatch)
		}
	}
	j.key = dimsKey(j.dims)
	// Building (or finding) the request's own plan binds its shape: a
	// dimension over the model's bounds, or sizes over the budget, are
	// refused here, before anything is decoded.
	if _, err := m.plans.get(m, j.dims, j.rows); err != nil {
		return nil, err
	}
	j.data = make([]tensorData, len(m.inputs))
	for i, p := range m.inputs {
		in := byName[p.name]
		n, ok := size.Numel(intDims(in.Shape))
		if !ok || (in.binary == nil && in.decoded == nil && in.decode == nil && n > int64(len(in.Data))) {
			return nil, badRequest("input %q: shape %v calls for more values than the request holds", p.name, in.Shape)
		}
		d, err := decodeInput(in, int(n))
		if err != nil {
			return nil, err
		}
		if p.limit > 0 {
			for k, id := range d.ints {
				if id < 0 || id >= int64(p.limit) {
					return nil, badRequest("input %q: token id %d at index %d is outside the vocabulary 0..%d", p.name, id, k, p.limit-1)
				}
			}
		}
		j.data[i] = d
	}
	return j, nil
}

func intDims(s []int64) []int {
	out := make([]int, len(s))
	for i, d := range s {
		out[i] = int(d)
	}
	return out
}

func dimsKey(dims map[string]int) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(dims)) {
		fmt.Fprintf(&b, "%s=%d,", k, dims[k])
	}
	return b.String()
}

func (p port) checkDatatype(dt string) error {
	ok := dt == p.datatype() || (p.dtype == ir.F32 && dt == dtBOOL) || (p.dtype != ir.F32 && (dt == dtINT32 || dt == dtINT64))
	if !ok {
		want := p.datatype()
		if p.dtype != ir.F32 {
			want = "INT32 or INT64"
		} else {
			want = "FP32 (or BOOL for a 0/1 mask)"
		}
		return badRequest("input %q is %s: datatype %q is not %s", p.name, p.describe(), dt, want)
	}
	return nil
}

func (p port) describe() string {
	parts := make([]string, len(p.dims))
	for i, d := range p.dims {
		parts[i] = fmt.Sprint(d)
		if d < 0 {
			parts[i] = p.syms[i]
		}
	}
	return fmt.Sprintf("%s[%s]", p.datatype(), strings.Join(parts, ", "))
}

func (m *Model) inputList() string {
	var parts []string
	for _, p := range m.inputs {
		parts = append(parts, p.name+" "+p.describe())
	}
	return strings.Join(parts, ", ")
}

// planCache keeps the plans built for a model, one per batch size and
// binding of the other dimensions, up to max (then the oldest goes). Each
// plan keeps a pool of arenas, so a run allocates no arena.
type planCache struct {
	mu    sync.Mutex
	max   int
	plans map[string]*planEntry
	order []string
	// build serialises builds: they are rare, and one at a time bounds the
	// memory and CPU a stream of new shapes can take. Looking up a plan
	// already built never waits for one.
	build sync.Mutex
}

type planEntry struct {
	// ready is closed once p or err is set.
	ready  chan struct{}
	p      *plan.Plan
	err    error
	arenas chan *plan.Arena
}

// get returns the plan for dims (the symbols other than the batch) and
// rows, building it if needed; callers asking for a plan being built wait
// for that build. A binding that fails is not kept.
func (c *planCache) get(m *Model, dims map[string]int, rows int) (*planEntry, error) {
	key := fmt.Sprintf("%s%s=%d", dimsKey(dims), m.batchSym, rows)
	c.mu.Lock()
	e, ok := c.plans[key]
	if !ok {
		if c.plans == nil {
			c.plans = map[string]*planEntry{}
		}
		if len(c.order) >= max(c.max, 1) {
			delete(c.plans, c.order[0])
			c.order = c.order[1:]
		}
		e = &planEntry{ready: make(chan struct{}), arenas: make(chan *plan.Arena, max(m.cfg.Instances, 1))}
		c.plans[key], c.order = e, append(c.order, key)
	}
	c.mu.Unlock()
	if !ok {
		c.build.Lock()
		e.p, e.err = m.buildPlan(dims, rows)
		c.build.Unlock()
		close(e.ready)
		if e.err != nil {
			c.mu.Lock()
			if c.plans[key] == e {
				delete(c.plans, key)
				c.order = slices.DeleteFunc(c.order, func(k string) bool { return k == key })
			}
			c.mu.Unlock()
		}
	}
	<-e.ready
	return e, e.err
}

// buildPlan binds the model's symbols (which checks every size against the
// budget) and compiles the plan.
func (m *Model) buildPlan(dims map[string]int, rows int) (*plan.Plan, error) {
	s := compile.Shape{Dims: maps.Clone(dims)}
	if m.batchSym != "" {
		s.Batch = rows
	}
	env, err := m.opts.Bind(m.m, s, nil)
	if err != nil {
		return nil, bindError(err)
	}
	p, err := m.opts.Plan(m.m, nil, env)
	if err != nil {
		return nil, bindError(err)
	}
	return p, nil
}

// bindError makes a binding the model refuses (a dimension out of its
// bounds, sizes over the budget) the client's error.
func bindError(err error) error {
	var se *size.Error
	var ue *compile.UsageError
	if errors.As(err, &se) || errors.As(err, &ue) {
		return badRequest("%v", err)
	}
	return badRequest("the request's shapes do not bind: %v", err)
}

func (e *planEntry) arena() *plan.Arena {
	select {
	case a := <-e.arenas:
		return a
	default:
		return e.p.NewArena()
	}
}

func (e *planEntry) release(a *plan.Arena) {
	select {
	case e.arenas <- a:
	default:
		a.Close()
	}
}
