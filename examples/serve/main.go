// Command serve is `mdlc serve` in a program of one's own: the serve package
// serving fashion_cnn (from mdlc's embedded standard library, with the
// trained weights that ship with it) over the Open Inference Protocol, with
// the same dynamic batching, limits and metrics, and a graceful stop.
//
//	go run ./examples/serve -addr localhost:8080
//	curl -s localhost:8080/v2/models/fashion_cnn
//	curl -s localhost:8080/v2/models/fashion_cnn/infer -H 'Content-Type: application/json' \
//	  -d '{"inputs":[{"name":"image","datatype":"FP32","shape":[1,28,28,1],"data":[...784 numbers...]}]}'
package main

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mdlc/mdlc/serve"
)

func main() {
	addr := flag.String("addr", "localhost:8080", "address to listen on")
	flag.Parse()
	s, err := newServer(slog.Default())
	if err != nil {
		slog.Error("not serving", "err", err)
		os.Exit(1)
	}
	hs := s.HTTPServer(*addr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		drain, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		hs.Shutdown(drain)
	}()
	slog.Info("serving fashion_cnn", "addr", *addr)
	err = hs.ListenAndServe()
	s.Close()
	if ctx.Err() == nil {
		slog.Error("stopped", "err", err)
		os.Exit(1)
	}
}

// newServer loads the model, with up to 16 images batched per execution.
func newServer(log *slog.Logger) (*serve.Server, error) {
	specs, err := serve.SpecsFromFiles([]string{"fashion_cnn"})
	if err != nil {
		return nil, err
	}
	o := serve.DefaultOptions()
	o.MaxBatch = 16
	o.Log = log
	s, err := serve.New(specs, o)
	if err != nil {
		return nil, err
	}
	return s, s.Load()
}
