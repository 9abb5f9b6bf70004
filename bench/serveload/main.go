// Command serveload measures `mdlc serve` on localhost: the latency (p50,
// p99) and throughput of infer requests at several concurrencies, with and
// without dynamic batching, in the JSON and binary forms over HTTP and the
// raw form over gRPC, beside the model's in-process latency (what `mdlc
// bench` times: one plan run, no HTTP).
//
//	go run ./bench/serveload                       # cnn224, 1/8/32 clients, every form
//	go run ./bench/serveload --model cnn --requests 2000 --forms binary,grpc
//	go run ./bench/serveload --paired 300 --forms binary  # one client, each request beside an in-process run and a bare transport
//
// The server runs in this process on 127.0.0.1 with the settings `mdlc serve`
// defaults to (and its gRPC form beside it), and its clients are goroutines
// with their own connections (HTTP/1.1, or one HTTP/2 connection each): on a
// small machine they share its CPUs, which the figures include. Every run is
// bounded by --requests and --time. The output is a Markdown table headed
// by the CPU model and GOMAXPROCS.
package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/mdlc/mdlc/compile"
	"github.com/mdlc/mdlc/runtime/plan"
	"github.com/mdlc/mdlc/serve"
	"github.com/mdlc/mdlc/serve/inferencepb"
)

func main() {
	model := flag.String("model", "cnn224", "the model: a stdlib name or a .mdl file with one f32 input")
	requests := flag.Int("requests", 400, "timed requests per row of the table")
	limit := flag.Duration("time", 20*time.Second, "the most time one row may take")
	concurrency := flag.String("concurrency", "1,8,32", "client counts, comma-separated")
	forms := flag.String("forms", "binary,json,grpc", "request forms, comma-separated: binary and json (REST), grpc (raw_input_contents)")
	maxBatch := flag.Int("max-batch", 8, "--max-batch of the batching server (the other runs with 1)")
	delay := flag.Duration("max-queue-delay", 0, "--max-queue-delay of the batching server")
	instances := flag.Int("instances", 1, "--instances of both servers (each execution on GOMAXPROCS/instances threads)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to `FILE`")
	paired := flag.Int("paired", 0, "instead of the table, `N` pairs of one in-process run and one request from one client, alternated so that both see the same load, for each REST form")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "serveload:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	var err error
	if *paired > 0 {
		err = runPaired(*model, *paired, *forms, *maxBatch, *delay, *instances)
	} else {
		err = run(*model, *requests, *limit, *concurrency, *forms, *maxBatch, *delay, *instances)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "serveload:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(model string, requests int, limit time.Duration, concurrency, forms string, maxBatch int, delay time.Duration, instances int) error {
	var clients []int
	for _, s := range strings.Split(concurrency, ",") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return fmt.Errorf("--concurrency: %q is not a positive count", s)
		}
		clients = append(clients, n)
	}
	inProcess, shape, err := inProcessLatency(model)
	if err != nil {
		return err
	}
	fmt.Printf("CPU: %s, GOMAXPROCS %d, model %s, input %v, %d instance(s)\n\n", cpuModel(), runtime.GOMAXPROCS(0), model, shape, instances)
	fmt.Printf("in-process (one plan run, batch 1, no HTTP): median %.3f ms\n\n", ms(inProcess))
	fmt.Println("| form | batching | clients | requests | p50 ms | p99 ms | req/s | p50 / in-process | rows / execution | queue ms / request | compute ms / execution |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|")
	bodies := makeBodies(shape)
	grpcReq := grpcRequest(name(model), shape)
	for _, batch := range []int{1, maxBatch} {
		url, grpcAddr, stop, err := startServer(model, batch, delay, instances)
		if err != nil {
			return err
		}
		for _, form := range strings.Split(forms, ",") {
			body, ok := bodies[form]
			if !ok && form != "grpc" {
				stop()
				return fmt.Errorf("--forms: unknown form %q (binary, json or grpc)", form)
			}
			for _, c := range clients {
				var send func(client int) error
				var done func()
				if form == "grpc" {
					send, done, err = grpcSender(grpcAddr, grpcReq, c)
					if err != nil {
						stop()
						return err
					}
				} else {
					send, done = httpSender(url+"/v2/models/"+name(model)+"/infer", body, c)
				}
				before := counts(url)
				r, err := load(send, c, requests, limit)
				done()
				if err != nil {
					stop()
					return err
				}
				after := counts(url)
				d := func(name string) float64 { return float64(after[name] - before[name]) }
				batching := "off"
				if batch > 1 {
					batching = fmt.Sprintf("max %d, %v", batch, delay)
				}
				p50, p99 := percentile(r.lat, 0.50), percentile(r.lat, 0.99)
				fmt.Printf("| %s | %s | %d | %d | %.3f | %.3f | %.0f | %.2f | %.2f | %.3f | %.3f |\n", form, batching, c, len(r.lat), ms(p50), ms(p99), float64(len(r.lat))/r.wall.Seconds(), float64(p50)/float64(inProcess),
					d("nv_inference_count")/max(d("nv_inference_exec_count"), 1), d("nv_inference_queue_duration_us")/1000/max(d("nv_inference_request_success"), 1), d("nv_inference_compute_infer_duration_us")/1000/max(d("nv_inference_exec_count"), 1))
			}
		}
		stop()
	}
	return nil
}

// runPaired alternates one plan run in this process, one request to the
// server and the same request to a bare net/http handler (which reads the
// body and answers with as many bytes as the model's outputs), n times per
// form, and prints the medians and their ratios: the server's overhead at
// one client, and how much of it the loopback transport alone takes, each
// triple under the same load.
func runPaired(model string, n int, forms string, maxBatch int, delay time.Duration, instances int) error {
	p, err := inProcessPlan(model)
	if err != nil {
		return err
	}
	shape := p.Inputs()[0].Shape
	url, _, stop, err := startServer(model, maxBatch, delay, instances)
	if err != nil {
		return err
	}
	defer stop()
	x := make([]float32, numel(shape))
	var outs [][]float32
	answer := 0
	for _, o := range p.Outputs() {
		outs = append(outs, make([]float32, numel(o.Shape)))
		answer += 4 * numel(o.Shape)
	}
	bareURL, stopBare, err := startBare(answer)
	if err != nil {
		return err
	}
	defer stopBare()
	a := p.NewArena()
	defer a.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	bareClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer bareClient.CloseIdleConnections()
	bodies := makeBodies(shape)
	fmt.Printf("CPU: %s, GOMAXPROCS %d, model %s, input %v, %d instance(s), %d triples a form\n\n", cpuModel(), runtime.GOMAXPROCS(0), model, shape, instances, n)
	fmt.Println("| form | in-process p50 ms | served p50 ms | bare transport p50 ms | served / in-process (medians) | median of ratios served / in-process | median of ratios bare / in-process |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, form := range strings.Split(forms, ",") {
		b, ok := bodies[form]
		if !ok {
			return fmt.Errorf("--forms: %q: paired runs take the REST forms, binary and json", form)
		}
		var local, served, bare []time.Duration
		var ratios, bareRatios []float64
		for i := range n + 20 {
			t := time.Now()
			if err := p.Run(a, []plan.Input{plan.Floats(x)}, outs); err != nil {
				return err
			}
			l := time.Since(t)
			t = time.Now()
			if err := send(client, url+"/v2/models/"+name(model)+"/infer", b); err != nil {
				return err
			}
			r := time.Since(t)
			t = time.Now()
			if err := send(bareClient, bareURL, b); err != nil {
				return err
			}
			t0 := time.Since(t)
			if i >= 20 { // warm-up
				local, served, bare = append(local, l), append(served, r), append(bare, t0)
				ratios = append(ratios, float64(r)/float64(l))
				bareRatios = append(bareRatios, float64(t0)/float64(l))
			}
		}
		slices.Sort(ratios)
		slices.Sort(bareRatios)
		pl, ps, pb := percentile(local, 0.5), percentile(served, 0.5), percentile(bare, 0.5)
		fmt.Printf("| %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |\n", form, ms(pl), ms(ps), ms(pb), float64(ps)/float64(pl), ratios[len(ratios)/2], bareRatios[len(bareRatios)/2])
	}
	return nil
}

// startBare starts the transport alone: a net/http handler on loopback
// that reads the whole body into one buffer, as the server does, and
// answers with answer bytes.
func startBare(answer int) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	reply := make([]byte, answer)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(reply)
	})}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String() + "/", func() { srv.Close() }, nil
}

// send posts one request and reads the whole answer.
func send(client *http.Client, url string, b body) error {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(b.data))
	if err != nil {
		return err
	}
	for k, v := range b.headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// counts reads the server's counters (one model is served): Triton's
// nv_inference_* by name, without labels.
func counts(url string) map[string]int64 {
	c := map[string]int64{}
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		return c
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		name, _, labelled := strings.Cut(f0(f), "{")
		if len(f) != 2 || !labelled || !strings.HasPrefix(name, "nv_inference_") {
			continue
		}
		n, _ := strconv.ParseInt(f[1], 10, 64)
		c[name] += n
	}
	return c
}

func f0(f []string) string {
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// name is the model's name as the server gives it.
func name(model string) string {
	specs, err := serve.SpecsFromFiles([]string{model})
	if err != nil {
		return model
	}
	return specs[0].Name
}

// inProcessPlan is the model's plan at batch 1, as mdlc bench compiles it.
func inProcessPlan(model string) (*plan.Plan, error) {
	o := &compile.Options{}
	m, err := o.Load(model)
	if err != nil {
		return nil, err
	}
	if len(m.Graph.Inputs) != 1 {
		return nil, fmt.Errorf("model %s has %d inputs; serveload sends one", model, len(m.Graph.Inputs))
	}
	c, err := o.Compile(m, compile.Shape{Batch: 1}, nil)
	if err != nil {
		return nil, err
	}
	return c.Plan, nil
}

// inProcessLatency is the median of timed plan runs at batch 1, as mdlc
// bench measures it, and the model's input shape at batch 1.
func inProcessLatency(model string) (time.Duration, []int, error) {
	p, err := inProcessPlan(model)
	if err != nil {
		return 0, nil, err
	}
	in := p.Inputs()[0]
	x := make([]float32, numel(in.Shape))
	var outs [][]float32
	for _, o := range p.Outputs() {
		outs = append(outs, make([]float32, numel(o.Shape)))
	}
	a := p.NewArena()
	defer a.Close()
	var times []time.Duration
	for i := range 230 {
		start := time.Now()
		if err := p.Run(a, []plan.Input{plan.Floats(x)}, outs); err != nil {
			return 0, nil, err
		}
		if i >= 30 {
			times = append(times, time.Since(start))
		}
	}
	return percentile(times, 0.5), in.Shape, nil
}

func numel(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// body is one request's bytes and headers.
type body struct {
	data    []byte
	headers map[string]string
}

// makeBodies builds one image's request in each form: pixel values k/255,
// as a decoded image holds them.
func makeBodies(shape []int) map[string]body {
	x := pixels(shape)
	js, _ := json.Marshal(map[string]any{"inputs": []any{map[string]any{"name": "image", "datatype": "FP32", "shape": shape, "data": x}}})
	head, _ := json.Marshal(map[string]any{
		"inputs":     []any{map[string]any{"name": "image", "datatype": "FP32", "shape": shape, "parameters": map[string]any{"binary_data_size": 4 * len(x)}}},
		"parameters": map[string]any{"binary_data_output": true},
	})
	bin := append([]byte{}, head...)
	for _, v := range x {
		bin = binary.LittleEndian.AppendUint32(bin, math.Float32bits(v))
	}
	return map[string]body{
		"json":   {js, map[string]string{"Content-Type": "application/json"}},
		"binary": {bin, map[string]string{"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": strconv.Itoa(len(head))}},
	}
}

// grpcRequest is the binary body's request in the gRPC form's raw layout,
// as Triton's clients send it: the same pixels, little-endian.
func grpcRequest(model string, shape []int) *inferencepb.ModelInferRequest {
	x := pixels(shape)
	raw := make([]byte, 0, 4*len(x))
	for _, v := range x {
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
	}
	dims := make([]int64, len(shape))
	for i, d := range shape {
		dims[i] = int64(d)
	}
	return &inferencepb.ModelInferRequest{
		ModelName:        model,
		Inputs:           []*inferencepb.ModelInferRequest_InferInputTensor{{Name: "image", Datatype: "FP32", Shape: dims}},
		RawInputContents: [][]byte{raw},
	}
}

// pixels is one image of the shape: values k/255, as a decoded image holds
// them, the same every call.
func pixels(shape []int) []float32 {
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, numel(shape))
	for i := range x {
		x[i] = float32(rng.IntN(256)) / 255
	}
	return x
}

// startServer serves the model on 127.0.0.1 with the given batching, over
// HTTP and gRPC.
func startServer(model string, maxBatch int, delay time.Duration, instances int) (string, string, func(), error) {
	specs, err := serve.SpecsFromFiles([]string{model})
	if err != nil {
		return "", "", nil, err
	}
	o := serve.DefaultOptions()
	o.MaxBatch, o.MaxQueueDelay, o.Instances = maxBatch, delay, instances
	o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := serve.New(specs, o)
	if err != nil {
		return "", "", nil, err
	}
	if err := s.Load(); err != nil {
		return "", "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", "", nil, err
	}
	gln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ln.Close()
		return "", "", nil, err
	}
	hs := s.HTTPServer(ln.Addr().String())
	go hs.Serve(ln)
	gs := s.GRPCServer()
	go gs.Serve(gln)
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		hs.Shutdown(ctx)
		s.StopGRPC(ctx, gs)
		s.Close()
	}
	return "http://" + ln.Addr().String(), gln.Addr().String(), stop, nil
}

// httpSender posts the body, c clients sharing a transport of c
// connections.
func httpSender(url string, b body, c int) (func(int) error, func()) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c, MaxConnsPerHost: c}}
	return func(int) error { return send(client, url, b) }, client.CloseIdleConnections
}

// grpcSender calls ModelInfer with req, each of the c clients on its own
// connection, and checks that the answer holds raw outputs.
func grpcSender(addr string, req *inferencepb.ModelInferRequest, c int) (func(int) error, func(), error) {
	conns := make([]*grpc.ClientConn, c)
	closeAll := func() {
		for _, conn := range conns {
			if conn != nil {
				conn.Close()
			}
		}
	}
	for i := range conns {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		conns[i] = conn
	}
	send := func(client int) error {
		resp, err := inferencepb.NewGRPCInferenceServiceClient(conns[client]).ModelInfer(context.Background(), req)
		if err != nil {
			return err
		}
		if len(resp.RawOutputContents) == 0 {
			return errors.New("the answer has no raw outputs")
		}
		return nil
	}
	return send, closeAll, nil
}

type result struct {
	lat  []time.Duration
	wall time.Duration
}

// load sends requests from c clients, client i calling send(i) (after a
// warm-up of 2c+10 untimed requests that also builds the plans the batch
// sizes need) and returns the latencies of those that succeeded; any
// failure is an error.
func load(send func(client int) error, c, requests int, limit time.Duration) (result, error) {
	run := func(n int, timed bool) (result, error) {
		var next atomic.Int64
		var mu sync.Mutex
		var r result
		var firstErr error
		deadline := time.Now().Add(limit)
		start := time.Now()
		var wg sync.WaitGroup
		for client := range c {
			wg.Go(func() {
				for next.Add(1) <= int64(n) && time.Now().Before(deadline) {
					t := time.Now()
					err := send(client)
					d := time.Since(t)
					mu.Lock()
					if err != nil && firstErr == nil {
						firstErr = err
					}
					if err == nil && timed {
						r.lat = append(r.lat, d)
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		r.wall = time.Since(start)
		return r, firstErr
	}
	if _, err := run(2*c+10, false); err != nil {
		return result{}, fmt.Errorf("warm-up: %w", err)
	}
	r, err := run(requests, true)
	if err == nil && len(r.lat) == 0 {
		err = errors.New("no request finished within --time")
	}
	return r, err
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// cpuModel is the CPU's name from /proc/cpuinfo, where there is one.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
