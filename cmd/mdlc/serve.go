package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mdlc/mdlc/compile"
	"github.com/mdlc/mdlc/serve"
)

const serveLong = `Serves models over HTTP with the Open Inference Protocol (KServe v2, as Triton
and MLServer speak it): GET /v2/health/live, /v2/health/ready, /v2,
/v2/models/NAME[/versions/V][/ready]; POST /v2/models/NAME[/versions/V]/infer
with JSON tensors or the binary tensor extension; Prometheus metrics at
/metrics (Triton's names). Each FILE.mdl, MODEL.onnx or stdlib name is served
as a model named after it, version 1, or NAME=PATH as NAME, where PATH may also
be a directory holding model.mdl (+ weights.safetensors) or model.onnx, as
KServe leaves a model in /mnt/models; --model-repository DIR adds the models
laid out as DIR/NAME/VERSION/model.mdl (+ weights.safetensors) or model.onnx.
Requests for a model are batched dynamically (--max-batch, --max-queue-delay).
--grpc-addr ADDRESS also serves the protocol's gRPC form
(inference.GRPCInferenceService, as KServe's and Triton's gRPC clients call it;
serve/inferencepb/inference.proto) on a second port, with the same models,
batching, limits and metrics; it is off unless given (KServe's runtimes use
:8081). SIGINT or SIGTERM stops accepting connections, lets the requests in
flight finish (up to --drain), and exits.`

func defineServe(fs *flag.FlagSet) func(*cli, []string) error {
	o := serve.DefaultOptions()
	fs.Var((*budgetFlag)(&o.Compile.Budget), "max-memory", "the most memory one tensor, weight set or arena may take: a `SIZE` such as 512MiB (default: half of physical memory)")
	fs.Var((*threadsFlag)(&o.Compile.Threads), "threads", fmt.Sprintf("threads one execution uses: `N` from 1 to %d (default: GOMAXPROCS / --instances)", compile.MaxThreads()))
	dims := dimList{}
	fs.Var(dims, "dim", "`NAME=SIZE` fixing an ONNX model's dynamic dimension (repeatable)")
	repo := fs.String("model-repository", "", "serve the models of `DIR`, laid out as DIR/NAME/VERSION/model.mdl or model.onnx")
	addr := fs.String("addr", ":8080", "the `ADDRESS` to listen on")
	grpcAddr := fs.String("grpc-addr", "", "also serve the gRPC form of the protocol on `ADDRESS`, such as :8081 (default: off)")
	fs.Var((*positiveFlag)(&o.MaxBatch), "max-batch", "the most rows one execution batches, and that one request may hold: `N` (1: no batching)")
	fs.DurationVar(&o.MaxQueueDelay, "max-queue-delay", o.MaxQueueDelay, "how long a request waits for others to batch with: a `DURATION` (0: only those already queued)")
	fs.Var((*positiveFlag)(&o.MaxQueue), "max-queue", "the most requests queued per model: `N`; past it requests get 503")
	fs.Var((*positiveFlag)(&o.Instances), "instances", "the executions per model that run at once: `N`")
	fs.Var((*budgetFlag)(&o.MaxBody), "max-body", "the largest request body: a `SIZE`")
	fs.Var((*budgetFlag)(&o.MaxBodyInflight), "max-body-inflight", "the most bytes of request bodies held at once: a `SIZE`; past it requests get 429 (what they decode into is at most twice as much)")
	fs.Var((*positiveFlag)(&o.MaxInflight), "max-inflight", "the most infer requests handled at once: `N`; past it requests get 429")
	fs.DurationVar(&o.RequestTimeout, "request-timeout", o.RequestTimeout, "the longest an infer request may take, queueing included: a `DURATION`; past it 504")
	drain := fs.Duration("drain", 30*time.Second, "on SIGINT or SIGTERM, how long to let requests in flight finish: a `DURATION`")
	debug := fs.Bool("debug", false, "log every request, health probes and metrics scrapes included")
	return func(c *cli, files []string) error {
		switch {
		case len(files) == 0 && *repo == "":
			return usagef("give models to serve: FILE.mdl, MODEL.onnx or stdlib names, or --model-repository DIR")
		case o.MaxQueueDelay < 0:
			return usagef("--max-queue-delay must not be negative, got %v", o.MaxQueueDelay)
		case o.RequestTimeout <= 0:
			return usagef("--request-timeout must be positive, got %v", o.RequestTimeout)
		case o.MaxBody <= 0 || o.MaxBodyInflight <= 0:
			return usagef("--max-body and --max-body-inflight must be positive")
		case o.MaxBodyInflight < o.MaxBody:
			return usagef("--max-body-inflight (%d bytes) must be at least --max-body (%d bytes)", o.MaxBodyInflight, o.MaxBody)
		}
		o.Compile.Dims = dims
		specs, err := serve.SpecsFromFiles(files)
		if err != nil {
			return err
		}
		if *repo != "" {
			more, err := serve.SpecsFromRepository(*repo)
			if err != nil {
				return err
			}
			specs = append(specs, more...)
		}
		level := slog.LevelInfo
		if *debug {
			level = slog.LevelDebug
		}
		o.Log = slog.New(slog.NewJSONHandler(c.stderr, &slog.HandlerOptions{Level: level}))
		version, _, _ := moduleVersion()
		serve.Version = version
		s, err := serve.New(specs, o)
		if err != nil {
			return err
		}
		return runServer(s, o.Log, *addr, *grpcAddr, *drain)
	}
}

// runServer listens at once, so that liveness answers while the models
// load, then serves until a signal, or until a model fails to load. With
// grpcAddr it serves the gRPC form there too.
func runServer(s *serve.Server, log *slog.Logger, addr, grpcAddr string, drain time.Duration) error {
	// Signals are caught from before the first connection, so a
	// supervisor's SIGTERM always drains.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	var gln net.Listener
	if grpcAddr != "" {
		if gln, err = net.Listen("tcp", grpcAddr); err != nil {
			ln.Close()
			return err
		}
	}
	hs := s.HTTPServer(addr)
	served := make(chan error, 2)
	go func() { served <- hs.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String())
	gs := s.GRPCServer()
	if gln != nil {
		go func() { served <- gs.Serve(gln) }()
		log.Info("listening for gRPC", "addr", gln.Addr().String())
	}
	loaded := make(chan error, 1)
	go func() { loaded <- s.Load() }()
	var failure error
	for failure == nil && ctx.Err() == nil {
		select {
		case err := <-loaded:
			if err != nil {
				failure = fmt.Errorf("not serving: %w", err)
			} else {
				log.Info("every model is ready")
			}
			loaded = nil
		case err := <-served:
			hs.Close()
			gs.Stop()
			return err
		case <-ctx.Done():
		}
	}
	log.Info("shutting down: draining requests in flight", "drain", drain.String())
	sctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	// Both forms drain at once, within the one period.
	grpcStopped := make(chan error, 1)
	go func() { grpcStopped <- serve.StopGRPC(sctx, gs) }()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("requests still in flight after the drain period", "err", err)
	}
	if err := <-grpcStopped; err != nil {
		log.Error("gRPC calls still in flight after the drain period", "err", err)
	}
	s.Close()
	log.Info("stopped")
	return failure
}
