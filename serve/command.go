package serve

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mdlc/mdlc/compile"
	"github.com/mdlc/mdlc/internal/cliflag"
)

// Main is the whole program of a binary that serves one embedded model, as
// `mdlc build --serve` writes it: args is its command line, name the model's
// name (which --model-name replaces), version what the server metadata
// reports. It returns the exit status: 0 once a SIGINT or SIGTERM has been
// drained, 1 when the model fails to load or the address cannot be listened
// on, 2 for a usage error.
func Main(args []string, name, version string, e *Embedded, stderr io.Writer) int {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := DefaultOptions()
	fs.Var((*sizeFlag)(&o.Compile.Budget), "max-memory", "the most memory one tensor, weight set or arena may take: a `SIZE` such as 512MiB (default: half of physical memory)")
	fs.Var((*threadsFlag)(&o.Compile.Threads), "threads", fmt.Sprintf("threads one execution uses: `N` from 1 to %d (default: GOMAXPROCS / --instances)", compile.MaxThreads()))
	fs.StringVar(&name, "model-name", name, "the `NAME` the model is served as")
	addr := fs.String("addr", ":8080", "the `ADDRESS` to listen on")
	grpcAddr := fs.String("grpc-addr", "", "also serve the gRPC form of the protocol on `ADDRESS`, such as :8081 (default: off)")
	fs.Var((*positiveFlag)(&o.MaxBatch), "max-batch", "the most rows one execution batches, and that one request may hold: `N` (1: no batching)")
	fs.DurationVar(&o.MaxQueueDelay, "max-queue-delay", o.MaxQueueDelay, "how long a request waits for others to batch with: a `DURATION` (0: only those already queued)")
	fs.Var((*positiveFlag)(&o.MaxQueue), "max-queue", "the most requests queued: `N`; past it requests get 503")
	fs.Var((*positiveFlag)(&o.Instances), "instances", "the executions that run at once: `N`")
	fs.Var((*sizeFlag)(&o.MaxBody), "max-body", "the largest request body: a `SIZE`")
	fs.Var((*sizeFlag)(&o.MaxBodyInflight), "max-body-inflight", "the most bytes of request bodies held at once: a `SIZE`; past it requests get 429")
	fs.Var((*positiveFlag)(&o.MaxInflight), "max-inflight", "the most infer requests handled at once: `N`; past it requests get 429")
	fs.DurationVar(&o.RequestTimeout, "request-timeout", o.RequestTimeout, "the longest an infer request may take, queueing included: a `DURATION`; past it 504")
	drain := fs.Duration("drain", 30*time.Second, "on SIGINT or SIGTERM, how long to let requests in flight finish: a `DURATION`")
	debug := fs.Bool("debug", false, "log every request, health probes and metrics scrapes included")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s [flags]\n\nServes model %s, embedded in this binary, over HTTP with the Open Inference\nProtocol (KServe v2), as `mdlc serve` does. SIGINT or SIGTERM drains and exits.\n\n", args[0], name)
		fs.PrintDefaults()
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "%s: %s\n", args[0], fmt.Sprintf(format, a...))
		return 2
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	switch {
	case fs.NArg() > 0:
		return usage("the model is embedded: no arguments are taken, got %q", fs.Arg(0))
	case !validName.MatchString(name):
		return usage("--model-name %q: names are letters, digits, _ . -", name)
	case o.MaxQueueDelay < 0:
		return usage("--max-queue-delay must not be negative, got %v", o.MaxQueueDelay)
	case o.RequestTimeout <= 0:
		return usage("--request-timeout must be positive, got %v", o.RequestTimeout)
	case o.MaxBody <= 0 || o.MaxBodyInflight <= 0:
		return usage("--max-body and --max-body-inflight must be positive")
	case o.MaxBodyInflight < o.MaxBody:
		return usage("--max-body-inflight (%d bytes) must be at least --max-body (%d bytes)", o.MaxBodyInflight, o.MaxBody)
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	o.Log = slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	Version = version
	s, err := New([]Spec{{Name: name, Version: "1", Path: e.Model + ".mdl", Embedded: e}}, o)
	if err == nil {
		err = s.ListenAndServe(*addr, *grpcAddr, *drain)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// ListenAndServe listens at once, so that liveness answers while the
// models load, then serves until SIGINT or SIGTERM, or until a model fails
// to load; either way it stops accepting connections, lets the requests in
// flight finish (up to drain) and stops the models. With grpcAddr it serves
// the gRPC form there too, drained within the same period.
func (s *Server) ListenAndServe(addr, grpcAddr string, drain time.Duration) error {
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
	s.log.Info("listening", "addr", ln.Addr().String())
	gs := s.GRPCServer()
	if gln != nil {
		go func() { served <- gs.Serve(gln) }()
		s.log.Info("listening for gRPC", "addr", gln.Addr().String())
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
				s.log.Info("every model is ready")
			}
			loaded = nil
		case err := <-served:
			hs.Close()
			gs.Stop()
			return err
		case <-ctx.Done():
		}
	}
	s.log.Info("shutting down: draining requests in flight", "drain", drain.String())
	sctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	// Both forms drain at once, within the one period.
	grpcStopped := make(chan error, 1)
	go func() { grpcStopped <- s.StopGRPC(sctx, gs) }()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.log.Error("requests still in flight after the drain period", "err", err)
	}
	if err := <-grpcStopped; err != nil {
		s.log.Error("gRPC calls still in flight after the drain period", "err", err)
	}
	s.Close()
	s.log.Info("stopped")
	return failure
}

// The flag types mdlc's commands share (package cliflag).
type (
	sizeFlag     = cliflag.Budget
	positiveFlag = cliflag.Positive
	threadsFlag  = cliflag.Threads
)
