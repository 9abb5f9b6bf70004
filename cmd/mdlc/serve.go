package main

import (
	"flag"
	"fmt"
	"log/slog"
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
A model's config.pbtxt (DIR/NAME/config.pbtxt, in Triton's format: max_batch_size,
dynamic_batching, instance_group) overrides these flags for that model.
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
		return s.ListenAndServe(*addr, *grpcAddr, *drain)
	}
}
