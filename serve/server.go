// Package serve is mdlc's model server: the Open Inference Protocol (KServe
// v2, as Triton and MLServer speak it) over HTTP/REST and gRPC, with
// dynamic batching, Prometheus metrics and hard limits on what a client can
// make it spend.
//
//	GET  /v2/health/live                          200 while the process runs
//	GET  /v2/health/ready                         200 once every model loaded
//	GET  /v2                                      server metadata
//	GET  /v2/models/{name}[/versions/{v}]         model metadata
//	GET  /v2/models/{name}[/versions/{v}]/ready   200 when ready, else 503
//	POST /v2/models/{name}[/versions/{v}]/infer   inference (JSON or binary)
//	GET  /metrics                                 Prometheus text format
//
// The files split by concern: protocol.go and scan.go the request and
// response codecs; repository.go where models come from; model.go a
// model's checks and compiled plans; batcher.go the dynamic batcher;
// limits.go the middleware (panics, logs) and the http.Server's timeouts;
// metrics.go the metrics; grpc.go the protocol's gRPC form
// (inference.GRPCInferenceService, whose stubs inferencepb holds), which
// shares all of these past the wire. Models are compiled by the driver
// (compile), as every mdlc command compiles them.
package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options are the server's settings: the models' Config and the limits on
// requests.
type Options struct {
	Config
	// MaxBody is the largest request body, in bytes.
	MaxBody int64
	// MaxBodyInflight bounds the bytes of the infer request bodies held at
	// once (reserved as they arrive, so a slow client holds only what it
	// has sent); past it a request is refused with 429.
	// What a body decodes into is at most twice its size (a JSON number
	// takes at least two bytes and becomes four), so this bounds the
	// memory that requests hold, whatever their number.
	MaxBodyInflight int64
	// MaxInflight is the most infer requests past reading their body
	// (decoding, queued or running) at once; past it a request is refused
	// with 429. Health, metadata and metrics requests are not counted, so
	// probes keep answering under load.
	MaxInflight int
	// RequestTimeout bounds an infer request from its arrival to its
	// answer, queueing included.
	RequestTimeout time.Duration
	// Log receives structured logs (nil: slog.Default()).
	Log *slog.Logger
}

// DefaultOptions are the settings `mdlc serve` starts from.
func DefaultOptions() Options {
	return Options{
		Config: Config{
			MaxBatch: 8,
			// No delay, Triton's default: a batch is what queued while
			// the previous execution ran, so a lone request never waits
			// and batches grow with the load.
			MaxQueueDelay: 0,
			MaxQueue:      256,
			Instances:     1,
			MaxPlans:      16,
		},
		MaxBody:         64 << 20,
		MaxBodyInflight: 256 << 20,
		MaxInflight:     512,
		RequestTimeout:  30 * time.Second,
	}
}

// Server serves a set of models.
type Server struct {
	opts     Options
	log      *slog.Logger
	models   []*Model
	inflight chan struct{}
	// bodyBytes are the bytes reserved by the bodies being handled.
	bodyBytes atomic.Int64
	handler   http.Handler
	// stopping is closed when the gRPC form starts to stop, ending the
	// health watches, which would otherwise hold a graceful stop open.
	stopping chan struct{}
	stopOnce sync.Once
	// The gRPC form's open streams and reception slots (grpcrecv.go).
	grpcInfer, grpcControl *atomic.Int64
	inferRecv, controlRecv chan struct{}
}

// New makes a server for specs; Load loads them. Each model runs its
// executions on GOMAXPROCS/Instances threads unless Compile.Threads says.
func New(specs []Spec, o Options) (*Server, error) {
	if o.MaxBatch < 1 || o.MaxQueue < 1 || o.Instances < 1 || o.MaxInflight < 1 || o.MaxBody < 1 || o.MaxBodyInflight < o.MaxBody || o.MaxPlans < 1 || o.MaxQueueDelay < 0 || o.RequestTimeout <= 0 {
		return nil, fmt.Errorf("serve: invalid options %+v: every limit must be positive, and MaxBodyInflight at least MaxBody", o)
	}
	autoThreads := o.Compile.Threads == 0
	if autoThreads {
		o.Compile.Threads = max(1, runtime.GOMAXPROCS(0)/o.Instances)
	}
	s := &Server{opts: o, log: o.Log, inflight: make(chan struct{}, o.MaxInflight), stopping: make(chan struct{}),
		grpcInfer: new(atomic.Int64), grpcControl: new(atomic.Int64),
		inferRecv: make(chan struct{}, max(1, o.MaxBodyInflight/o.MaxBody)), controlRecv: make(chan struct{}, controlSlots)}
	if s.log == nil {
		s.log = slog.Default()
	}
	for _, spec := range specs {
		if !validName.MatchString(spec.Name) || !validName.MatchString(spec.Version) || versionNumber(spec.Version) < 1 {
			return nil, fmt.Errorf("serve: model %q version %q: names are letters, digits, _ . - and versions whole numbers from 1", spec.Name, spec.Version)
		}
		for _, m := range s.models {
			if m.Name == spec.Name && m.Version == spec.Version {
				return nil, fmt.Errorf("serve: model %s version %s is given twice", spec.Name, spec.Version)
			}
		}
		cfg, err := modelSettings(spec, o.Config, autoThreads)
		if err != nil {
			return nil, err
		}
		m := newModel(spec, cfg, newModelMetrics(spec.Name, spec.Version, cfg.MaxBatch))
		m.logger = s.log
		s.models = append(s.models, m)
	}
	s.handler = s.middleware(s.routes())
	return s, nil
}

// Load loads every model, in order, logging each; a model that fails stays
// not ready, and the errors are returned together.
func (s *Server) Load() error {
	var errs []error
	for _, m := range s.models {
		start := time.Now()
		if err := m.load(s.log); err != nil {
			s.log.Error("model failed to load", "model", m.Name, "version", m.Version, "err", err)
			errs = append(errs, err)
			continue
		}
		s.log.Info("model ready", "model", m.Name, "version", m.Version, "path", m.spec.Path, "inputs", m.inputList(), "batching", m.batchable, "load_ms", time.Since(start).Milliseconds())
	}
	return errors.Join(errs...)
}

// Handler is the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Close stops the models' batchers once their queued requests have run.
// Call it after the http.Server's Shutdown has drained the handlers.
func (s *Server) Close() {
	for _, m := range s.models {
		if m.Ready() {
			m.batcher.close()
		}
	}
}

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/health/live", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]bool{"live": true})
	})
	mux.HandleFunc("GET /v2/health/ready", s.serverReady)
	mux.HandleFunc("GET /v2", s.serverMetadata)
	mux.HandleFunc("GET /v2/models/{name}", s.modelMetadata)
	mux.HandleFunc("GET /v2/models/{name}/versions/{version}", s.modelMetadata)
	mux.HandleFunc("GET /v2/models/{name}/ready", s.modelReady)
	mux.HandleFunc("GET /v2/models/{name}/versions/{version}/ready", s.modelReady)
	mux.HandleFunc("POST /v2/models/{name}/infer", s.infer)
	mux.HandleFunc("POST /v2/models/{name}/versions/{version}/infer", s.infer)
	mux.HandleFunc("GET /metrics", s.metrics)
	return mux
}

// errorBody is the protocol's error response.
type errorBody struct {
	Error string `json:"error"`
}

func (s *Server) serverReady(w http.ResponseWriter, r *http.Request) {
	if !s.ready() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]bool{"ready": false})
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ready": true})
}

// Version is what the server metadata reports as its version.
var Version = "devel"

func (s *Server) serverMetadata(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"name": "mdlc", "version": Version, "extensions": []string{"binary_tensor_data"}})
}

// model finds the request's model, answering 404 when there is none.
func (s *Server) model(w http.ResponseWriter, r *http.Request) *Model {
	name, version := r.PathValue("name"), r.PathValue("version")
	m, err := s.lookup(name, version)
	switch {
	case errors.Is(err, errUnknownModel):
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown model %q", name))
	case errors.Is(err, errUnknownVersion):
		writeError(w, http.StatusNotFound, fmt.Sprintf("model %q has no version %q", name, version))
	}
	return m
}

type tensorMetadata struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
}

func (s *Server) modelMetadata(w http.ResponseWriter, r *http.Request) {
	m := s.model(w, r)
	if m == nil {
		return
	}
	if !m.Ready() {
		writeError(w, http.StatusServiceUnavailable, m.notReady().Error())
		return
	}
	var versions []string
	for _, o := range s.models {
		if o.Name == m.Name {
			versions = append(versions, o.Version)
		}
	}
	meta := func(ps []port) []tensorMetadata {
		out := make([]tensorMetadata, len(ps))
		for i, p := range ps {
			out[i] = tensorMetadata{Name: p.name, Datatype: p.datatype(), Shape: p.dims}
		}
		return out
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"name": m.Name, "versions": versions, "platform": "mdlc",
		"inputs": meta(m.inputs), "outputs": meta(m.outputs),
		"parameters": map[string]any{"max_batch_size": m.cfg.MaxBatch, "dynamic_batching": m.batchable},
	})
}

func (s *Server) modelReady(w http.ResponseWriter, r *http.Request) {
	m := s.model(w, r)
	if m == nil {
		return
	}
	status := http.StatusOK
	if !m.Ready() {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, map[string]any{"name": m.Name, "version": m.Version, "ready": m.Ready()})
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	mm := make([]*modelMetrics, len(s.models))
	for i, m := range s.models {
		mm[i] = m.metrics
	}
	writeMetrics(w, mm)
}

// Content types of an infer request: JSON, or the binary extension's JSON
// header followed by tensor bytes (which Triton's clients send as
// application/octet-stream). None at all is taken as JSON, as curl -d
// --json and most clients send one.
// An image (image.go) is a request too.
func checkContentType(r *http.Request, binary bool) (isImage bool, err error) {
	ct := r.Header.Get("Content-Type")
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.TrimSpace(strings.ToLower(mt))
	switch {
	case ct == "", mt == "application/json":
		return false, nil
	case binary && mt == "application/octet-stream":
		return false, nil
	case !binary && isImageType(mt):
		return true, nil
	}
	return false, &protocolError{status: http.StatusUnsupportedMediaType, msg: fmt.Sprintf("content type %q is not an infer request: send application/json (or, with Inference-Header-Content-Length, application/octet-stream), or an image/png, image/jpeg or image/gif", mt)}
}

func (s *Server) infer(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	m := s.model(w, r)
	if m == nil {
		return
	}
	status := s.inferModel(w, r, m)
	m.metrics.countStatus(status)
	m.metrics.observe(status, time.Since(start))
}

// statusClientClosed is nginx's 499: the client went away before the
// answer. It is counted, never sent (nobody is there to read it).
const statusClientClosed = 499

// errClientGone is the answer to a request whose client stopped waiting
// (it went away, or its own deadline passed): 499, nothing sent.
var errClientGone = errors.New("the client stopped waiting")

// errRequestTimeout is the cause of a request context that RequestTimeout
// ended, told apart from one the client ended.
var errRequestTimeout = errors.New("request timeout")

// errorStatus is the HTTP status of an infer request's error and the
// message to answer with; an internal error is logged here.
func (s *Server) errorStatus(m *Model, err error) (int, string) {
	var pe *protocolError
	var ie *internalError
	switch {
	case errors.As(err, &pe):
		return pe.status, pe.msg
	case errors.Is(err, errQueueFull):
		return http.StatusServiceUnavailable, fmt.Sprintf("model %s's queue is full (%d requests): retry later", m.Name, m.cfg.MaxQueue)
	case errors.Is(err, errClientGone):
		return statusClientClosed, err.Error()
	case errors.As(err, &ie):
		s.log.Error("inference failed", "model", m.Name, "version", m.Version, "err", err)
	}
	return http.StatusInternalServerError, err.Error()
}

// errInflight refuses a request past MaxInflight (429).
func (s *Server) errInflight() error {
	return &protocolError{http.StatusTooManyRequests, fmt.Sprintf("the server is handling %d infer requests, its limit: retry later", s.opts.MaxInflight)}
}

// inferModel handles an infer request for m and returns the status sent.
func (s *Server) inferModel(w http.ResponseWriter, r *http.Request, m *Model) int {
	fail := func(err error) int {
		status, msg := s.errorStatus(m, err)
		switch status {
		case statusClientClosed:
			return status
		case http.StatusServiceUnavailable, http.StatusTooManyRequests:
			w.Header().Set("Retry-After", "1")
		}
		writeError(w, status, msg)
		return status
	}
	if !m.Ready() {
		return fail(m.notReady())
	}
	ctx, cancel := context.WithTimeoutCause(r.Context(), s.opts.RequestTimeout, errRequestTimeout)
	defer cancel()

	headerLen := -1
	if h := r.Header.Get("Inference-Header-Content-Length"); h != "" {
		n, err := strconv.Atoi(h)
		if err != nil || n < 0 {
			return fail(badRequest("Inference-Header-Content-Length must be a whole number of bytes"))
		}
		headerLen = n
	}
	isImage, err := checkContentType(r, headerLen >= 0)
	if err != nil {
		return fail(err)
	}
	if isImage {
		if _, err := m.imageInput(); err != nil {
			return fail(err) // before reading a body the model cannot take
		}
	}
	body, release, err := s.readBody(w, r, alignPad(headerLen))
	if err != nil {
		return fail(err)
	}
	defer release()
	// The in-flight limit counts requests from here, once their body is
	// read: a slow client then holds a connection and the bytes it sent
	// (MaxBodyInflight bounds those), never a slot of the CPU-bound stages.
	select {
	case s.inflight <- struct{}{}:
		defer func() { <-s.inflight }()
	default:
		return fail(s.errInflight())
	}
	var req *inferRequest
	if isImage {
		req, err = s.decodeImage(w, m, body)
	} else if req, err = parseInferRequest(body, headerLen); err == nil {
		err = s.decodeImageInputs(w, m, req)
	}
	if err != nil {
		return fail(err)
	}
	outs, err := s.run(ctx, m, req)
	if err != nil {
		return fail(err)
	}
	resp, hdr := encodeResponse(m.Name, m.Version, req.ID, outs2resp(outs))
	if hdr >= 0 {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Inference-Header-Content-Length", strconv.Itoa(hdr))
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(resp)))
	w.WriteHeader(http.StatusOK)
	w.Write(resp)
	return http.StatusOK
}

func (m *Model) notReady() error {
	return &protocolError{http.StatusServiceUnavailable, fmt.Sprintf("model %s version %s is not ready", m.Name, m.Version)}
}

// run is what an infer request goes through once parsed, whichever
// protocol brought it: the outputs it asks for, its inputs checked against
// m and decoded, the batcher, and the outputs filled in. ctx ends the wait:
// its cause is errRequestTimeout when RequestTimeout ended it (504), else
// the client stopped waiting (errClientGone).
func (s *Server) run(ctx context.Context, m *Model, req *inferRequest) ([]selectedOutput, error) {
	outs, err := m.selectOutputs(req)
	if err != nil {
		return nil, err
	}
	j, err := m.prepare(req)
	if err != nil {
		return nil, err
	}
	req.Inputs = nil // the job holds the decoded tensors now; the raw ones can go
	j.done = make(chan jobResult, 1)
	j.cancelled = ctx.Done()
	if err := m.batcher.submit(j); err != nil {
		return nil, err
	}
	var res jobResult
	select {
	case res = <-j.done:
	case <-ctx.Done():
		if context.Cause(ctx) != errRequestTimeout {
			return nil, errClientGone
		}
		return nil, &protocolError{http.StatusGatewayTimeout, fmt.Sprintf("no answer within the request timeout of %v", s.opts.RequestTimeout)}
	}
	if res.err != nil {
		return nil, res.err
	}
	for i := range outs {
		k := outs[i].index
		outs[i].data, outs[i].shape = res.outputs[k], res.shapes[k]
	}
	return outs, nil
}

// readBody reads the request body, refusing one over MaxBody with 413 (at
// once when Content-Length says so), and one that would take the bodies
// held past MaxBodyInflight with 429. The buffer grows as bytes arrive, each
// growth reserved first, so a client that announces a large body and sends
// it slowly holds little; it starts pad bytes into its allocation (see
// alignPad). release gives back the reservation; the caller defers it.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, pad int) (body []byte, release func(), err error) {
	tooLarge := &protocolError{http.StatusRequestEntityTooLarge, fmt.Sprintf("the request body is larger than the server's limit of %d bytes", s.opts.MaxBody)}
	if r.ContentLength > s.opts.MaxBody {
		return nil, nil, tooLarge
	}
	var held int64
	release = func() { s.bodyBytes.Add(-held) }
	grow := func(buf []byte, n int64) ([]byte, error) {
		if err := s.take(w, n-int64(cap(buf))); err != nil {
			return nil, err
		}
		held += n - int64(cap(buf))
		return append(make([]byte, 0, int64(pad)+n)[pad:pad], buf...), nil
	}
	// The first initialRead bytes (or a shorter body whole) come into one
	// buffer; then a body of known length grows to it at once (one copy:
	// its client has shown it sends), and one of unknown length doubles,
	// each step reserved. So what a client holds is at most initialRead
	// until it has sent that much.
	const initialRead = 64 << 10
	first := int64(4 << 10)
	if r.ContentLength > 0 {
		first = min(r.ContentLength, initialRead)
	}
	buf, err := grow(nil, first)
	if err != nil {
		return nil, nil, err
	}
	rd := http.MaxBytesReader(w, r.Body, s.opts.MaxBody)
	for {
		if int64(len(buf)) == r.ContentLength {
			return buf, release, nil // net/http's reader ends there
		}
		if len(buf) == cap(buf) {
			next := min(2*int64(cap(buf)), s.opts.MaxBody+1)
			if r.ContentLength > 0 {
				next = r.ContentLength
			}
			if buf, err = grow(buf, next); err != nil {
				break
			}
		}
		var n int
		n, err = rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, release, nil
		}
		if err != nil {
			break
		}
	}
	release()
	var mbe *http.MaxBytesError
	var pe *protocolError
	switch {
	case errors.As(err, &mbe):
		err = tooLarge
	case !errors.As(err, &pe):
		err = badRequest("reading the request body: %v", err)
	}
	return nil, nil, err
}

// take reserves n bytes of MaxBodyInflight, or refuses with 429 (and, to
// a REST client w, Retry-After); the caller gives them back by subtracting
// them from bodyBytes.
func (s *Server) take(w http.ResponseWriter, n int64) error {
	if s.bodyBytes.Add(n) > s.opts.MaxBodyInflight {
		s.bodyBytes.Add(-n)
		if w != nil {
			w.Header().Set("Retry-After", "1")
		}
		return &protocolError{http.StatusTooManyRequests, fmt.Sprintf("the server holds %d bytes of request bodies, its limit: retry later", s.opts.MaxBodyInflight)}
	}
	return nil
}

// decodeImage decodes an image body into a request, reserving the bytes
// its decoding allocates (at most 8 a pixel, which maxPixels bounds) while
// it decodes; the tensor it leaves, the model's input's height × width ×
// channels floats, is small beside them.
func (s *Server) decodeImage(w http.ResponseWriter, m *Model, body []byte) (*inferRequest, error) {
	n, decode, err := m.imageRequest(body)
	if err != nil {
		return nil, err
	}
	if err := s.take(w, n); err != nil {
		return nil, err
	}
	defer s.bodyBytes.Add(-n)
	return decode()
}

// selectedOutput is an output the client asked for (all of them when it
// named none), with where it is among the model's.
type selectedOutput struct {
	responseOutput
	index int
}

func outs2resp(outs []selectedOutput) []responseOutput {
	r := make([]responseOutput, len(outs))
	for i, o := range outs {
		r[i] = o.responseOutput
	}
	return r
}

// selectOutputs reads which outputs the request asks for, and in which
// form: binary when the output's binary_data parameter, or else the
// request's binary_data_output parameter, is true.
func (m *Model) selectOutputs(req *inferRequest) ([]selectedOutput, error) {
	allBinary, err := boolParam(req.Parameters, "binary_data_output")
	if err != nil {
		return nil, badRequest("%v", err)
	}
	var outs []selectedOutput
	if len(req.Outputs) == 0 {
		for i, p := range m.outputs {
			outs = append(outs, selectedOutput{responseOutput{name: p.name, binary: allBinary}, i})
		}
		return outs, nil
	}
	for _, o := range req.Outputs {
		i := -1
		for k, p := range m.outputs {
			if p.name == o.Name {
				i = k
			}
		}
		if i < 0 {
			var names []string
			for _, p := range m.outputs {
				names = append(names, p.name)
			}
			return nil, badRequest("model %s has no output %q; its outputs are %s", m.Name, o.Name, strings.Join(names, ", "))
		}
		bin, err := boolParam(o.Parameters, "binary_data")
		if err != nil {
			return nil, badRequest("output %q: %v", o.Name, err)
		}
		if _, set := o.Parameters["binary_data"]; !set {
			bin = allBinary
		}
		outs = append(outs, selectedOutput{responseOutput{name: o.Name, binary: bin}, i})
	}
	return outs, nil
}
