package serve

import (
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Metrics in the Prometheus text exposition format (version 0.0.4), written
// by hand: a few counters and histograms need no client library. Names are
// Triton's where Triton has the metric (so its dashboards work unchanged),
// with its labels model and version; the histograms, which Triton does not
// export, are mdlc_*. Durations in Triton's counters are cumulative
// microseconds.

// Failure reasons, as Triton's nv_inference_request_failure labels them.
const (
	reasonRejected = iota // the request was refused: bad input, queue full
	reasonCanceled        // the deadline passed or the client went away
	reasonBackend         // the execution failed
	numReasons
)

var reasonNames = [numReasons]string{"REJECTED", "CANCELED", "BACKEND"}

// latencyBuckets are the request-latency histogram's upper bounds, in
// seconds: 100 µs to 10 s, about three per decade.
var latencyBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// modelMetrics are one model version's counters.
type modelMetrics struct {
	model, version string
	success        atomic.Int64
	failure        [numReasons]atomic.Int64
	// inferences counts rows (Triton's inference count: a batch of 4 in
	// one request is 4), execs the executions batches ran in.
	inferences, execs atomic.Int64
	// requestUs is the handler's time from the request's arrival to its
	// answer; queueUs the jobs' time queued; computeUs the executions'.
	requestUs, queueUs, computeUs atomic.Int64
	queued                        atomic.Int64
	latency                       *histogram
	batchSize                     *histogram
	mu                            sync.Mutex
	status                        map[int]int64
	// grpcStatus counts the gRPC form's infer calls by status code name.
	grpcStatus map[string]int64
}

func newModelMetrics(model, version string, maxBatch int) *modelMetrics {
	var sizes []float64
	for b := 1; b < maxBatch; b *= 2 {
		sizes = append(sizes, float64(b))
	}
	sizes = append(sizes, float64(maxBatch))
	return &modelMetrics{model: model, version: version, latency: newHistogram(latencyBuckets), batchSize: newHistogram(sizes), status: map[int]int64{}, grpcStatus: map[string]int64{}}
}

// countStatus counts an infer response by HTTP status.
func (m *modelMetrics) countStatus(code int) {
	m.mu.Lock()
	m.status[code]++
	m.mu.Unlock()
}

// countGRPC counts a gRPC infer call by its status code's name.
func (m *modelMetrics) countGRPC(code string) {
	m.mu.Lock()
	m.grpcStatus[code]++
	m.mu.Unlock()
}

// observe counts an infer request answered with the HTTP status given (a
// gRPC call's equivalent): its latency, and success or failure by reason.
func (m *modelMetrics) observe(status int, elapsed time.Duration) {
	m.latency.observe(elapsed.Seconds())
	m.requestUs.Add(elapsed.Microseconds())
	switch {
	case status == http.StatusOK:
		m.success.Add(1)
	case status == http.StatusGatewayTimeout || status == statusClientClosed:
		m.failure[reasonCanceled].Add(1)
	case status >= 500 && status != http.StatusServiceUnavailable:
		m.failure[reasonBackend].Add(1)
	default:
		m.failure[reasonRejected].Add(1)
	}
}

// histogram is a Prometheus histogram with fixed buckets.
type histogram struct {
	mu     sync.Mutex
	bounds []float64
	counts []int64 // per bucket, not cumulative; the last is +Inf
	sum    float64
}

func newHistogram(bounds []float64) *histogram {
	return &histogram{bounds: bounds, counts: make([]int64, len(bounds)+1)}
}

func (h *histogram) observe(v float64) {
	i, _ := slices.BinarySearch(h.bounds, v)
	h.mu.Lock()
	h.counts[i]++
	h.sum += v
	h.mu.Unlock()
}

// family is one metric's HELP and TYPE lines and how to get its value from
// a model's metrics.
type family struct {
	name, help, kind string
	value            func(*modelMetrics) int64
}

var counters = []family{
	{"nv_inference_request_success", "Number of successful inference requests, all batch sizes", "counter", func(m *modelMetrics) int64 { return m.success.Load() }},
	{"nv_inference_count", "Number of inferences performed (a batch of n in one request counts n)", "counter", func(m *modelMetrics) int64 { return m.inferences.Load() }},
	{"nv_inference_exec_count", "Number of model executions performed (a dynamically batched execution counts 1)", "counter", func(m *modelMetrics) int64 { return m.execs.Load() }},
	{"nv_inference_request_duration_us", "Cumulative inference request duration in microseconds (arrival to answer)", "counter", func(m *modelMetrics) int64 { return m.requestUs.Load() }},
	{"nv_inference_queue_duration_us", "Cumulative inference queuing duration in microseconds", "counter", func(m *modelMetrics) int64 { return m.queueUs.Load() }},
	{"nv_inference_compute_infer_duration_us", "Cumulative compute inference duration in microseconds (per execution)", "counter", func(m *modelMetrics) int64 { return m.computeUs.Load() }},
	{"nv_inference_pending_request_count", "Instantaneous number of requests queued for execution", "gauge", func(m *modelMetrics) int64 { return m.queued.Load() }},
}

// writeMetrics writes every model's metrics, models in name and version
// order so that the output is stable.
func writeMetrics(w io.Writer, models []*modelMetrics) error {
	slices.SortFunc(models, func(a, b *modelMetrics) int {
		return strings.Compare(a.model+"\x00"+a.version, b.model+"\x00"+b.version)
	})
	var b strings.Builder
	for _, f := range counters {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", f.name, f.help, f.name, f.kind)
		for _, m := range models {
			fmt.Fprintf(&b, "%s{%s} %d\n", f.name, m.labels(), f.value(m))
		}
	}
	b.WriteString("# HELP nv_inference_request_failure Number of failed inference requests, all batch sizes\n# TYPE nv_inference_request_failure counter\n")
	for _, m := range models {
		for r := range numReasons {
			fmt.Fprintf(&b, "nv_inference_request_failure{%s,reason=%q} %d\n", m.labels(), reasonNames[r], m.failure[r].Load())
		}
	}
	b.WriteString("# HELP mdlc_inference_requests_total Infer requests answered over HTTP, by status\n# TYPE mdlc_inference_requests_total counter\n")
	for _, m := range models {
		m.mu.Lock()
		status := maps.Clone(m.status)
		m.mu.Unlock()
		for _, code := range slices.Sorted(maps.Keys(status)) {
			fmt.Fprintf(&b, "mdlc_inference_requests_total{%s,code=\"%d\"} %d\n", m.labels(), code, status[code])
		}
	}
	b.WriteString("# HELP mdlc_inference_grpc_requests_total gRPC ModelInfer calls answered, by status code\n# TYPE mdlc_inference_grpc_requests_total counter\n")
	for _, m := range models {
		m.mu.Lock()
		codes := maps.Clone(m.grpcStatus)
		m.mu.Unlock()
		for _, code := range slices.Sorted(maps.Keys(codes)) {
			fmt.Fprintf(&b, "mdlc_inference_grpc_requests_total{%s,grpc_code=%q} %d\n", m.labels(), code, codes[code])
		}
	}
	writeHistograms(&b, "mdlc_inference_request_duration_seconds", "Infer request latency, arrival to answer, in seconds", models, func(m *modelMetrics) *histogram { return m.latency })
	writeHistograms(&b, "mdlc_inference_batch_size", "Rows per execution (the dynamic batcher's batch sizes)", models, func(m *modelMetrics) *histogram { return m.batchSize })
	_, err := io.WriteString(w, b.String())
	return err
}

func writeHistograms(b *strings.Builder, name, help string, models []*modelMetrics, get func(*modelMetrics) *histogram) {
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name)
	for _, m := range models {
		h := get(m)
		h.mu.Lock()
		counts, sum := slices.Clone(h.counts), h.sum
		h.mu.Unlock()
		var cum int64
		for i, c := range counts {
			cum += c
			le := "+Inf"
			if i < len(h.bounds) {
				le = formatFloat(h.bounds[i])
			}
			fmt.Fprintf(b, "%s_bucket{%s,le=%q} %d\n", name, m.labels(), le, cum)
		}
		fmt.Fprintf(b, "%s_sum{%s} %s\n%s_count{%s} %d\n", name, m.labels(), formatFloat(sum), name, m.labels(), cum)
	}
}

func formatFloat(v float64) string {
	if math.IsInf(v, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// labels are the model's labels; names and versions are checked to be
// [A-Za-z0-9_.-] when loaded, so they need no escaping.
func (m *modelMetrics) labels() string {
	return fmt.Sprintf("model=%q,version=%q", m.model, m.version)
}
