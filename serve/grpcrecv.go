package serve

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"

	pb "github.com/mdlc/mdlc/serve/inferencepb"
)

// How the gRPC form bounds the memory hostile clients can make it hold.
//
// grpc-go reads a unary call's message whole, growing the stream's HTTP/2
// window to the size its header announces, before any handler or
// interceptor runs; a client may then send up to MaxBody on each of its
// streams and stall, and with many connections exhaust memory (64
// connections of 64 streams at the default 64 MiB would be 256 GiB). So:
//
//   - every method is served as a stream (the same bytes on the wire as a
//     unary call), whose one request is read only once a reception slot is
//     free: ModelInfer's slots hold MaxBody each within MaxBodyInflight, the
//     other methods' (health, readiness, metadata: small messages) have
//     controlSlots of their own, so probes are answered while inference is
//     saturated;
//   - a message must arrive within its reception time (ReadTimeout for
//     ModelInfer, controlReceiveTime for the others) or its call is
//     cancelled, so a stalled sender gives its slot back;
//   - the HTTP/2 windows are static, 64 KiB a stream: what a stream can send
//     before its reception starts (a dynamic window grows to megabytes);
//   - at most MaxInflight ModelInfer streams and controlStreams others are
//     open at once across all connections; past that a call is refused,
//     RESOURCE_EXHAUSTED, before anything of it is read.
//
// Received ModelInfer messages then count against the bytes of requests
// held, shared with REST (MaxBodyInflight). In all, the gRPC form holds at
// most about 2 × MaxBodyInflight + controlSlots × MaxBody + (MaxInflight +
// controlStreams) × 64 KiB of request bytes.
//
// What this does not prevent: clients that keep the control slots full of
// stalled messages delay the gRPC health calls queued behind them (each
// stalled message a second at most); the REST probes are not affected.

const (
	// streamWindow is each stream's HTTP/2 window before its reception.
	streamWindow = 64 << 10
	// connWindow is each connection's: large enough that a message's bytes
	// are not held back by window updates on a fast link.
	connWindow = 1 << 20
	// controlStreams are the calls other than ModelInfer open at once.
	controlStreams = 64
	// controlSlots are the receptions of such calls at once.
	controlSlots = 4
	// controlReceiveTime is how long such a call's message may take to
	// arrive: it is a few bytes.
	controlReceiveTime = time.Second
)

var errSlowMessage = errors.New("the request's message did not arrive within the time allowed: send it at once")

type streamCancelKey struct{}

// admitStream is the server's tap: it runs as a call's headers arrive, before
// anything of its message is read. It refuses a call past the open-stream
// limits, and gives the call a context its reception can cancel; the call's
// place is given back when its stream ends, however it ends.
func (s *Server) admitStream(ctx context.Context, info *tap.Info) (context.Context, error) {
	open, limit := s.grpcControl, int64(controlStreams)
	if info.FullMethodName == pb.GRPCInferenceService_ModelInfer_FullMethodName {
		open, limit = s.grpcInfer, int64(s.opts.MaxInflight)
	}
	if open.Add(1) > limit {
		open.Add(-1)
		return nil, status.Errorf(codes.ResourceExhausted, "the server has %d such calls open, its limit: retry later", limit)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	context.AfterFunc(ctx, func() { open.Add(-1) })
	return context.WithValue(ctx, streamCancelKey{}, cancel), nil
}

// gated returns desc with every method served as a stream whose request
// is read by s.receive; unary methods keep their handlers and interceptor.
func (s *Server) gated(desc *grpc.ServiceDesc) *grpc.ServiceDesc {
	out := &grpc.ServiceDesc{ServiceName: desc.ServiceName, HandlerType: desc.HandlerType, Metadata: desc.Metadata}
	for _, m := range desc.Methods {
		out.Streams = append(out.Streams, grpc.StreamDesc{StreamName: m.MethodName, Handler: func(srv any, ss grpc.ServerStream) error {
			resp, err := m.Handler(srv, ss.Context(), func(v any) error { return s.receive(ss, v) }, s.grpcInterceptor)
			if err != nil {
				return err
			}
			return ss.SendMsg(resp)
		}})
	}
	for _, sd := range desc.Streams {
		h := sd.Handler
		sd.Handler = func(srv any, ss grpc.ServerStream) error { return h(srv, gatedStream{ss, s}) }
		out.Streams = append(out.Streams, sd)
	}
	return out
}

// gatedStream reads a streaming method's messages through receive.
type gatedStream struct {
	grpc.ServerStream
	s *Server
}

func (g gatedStream) RecvMsg(v any) error { return g.s.receive(g.ServerStream, v) }

// receive reads ss's next message into v once a reception slot is free,
// cancelling the call if the message does not arrive in time.
func (s *Server) receive(ss grpc.ServerStream, v any) error {
	ctx := ss.Context()
	slots, within := s.controlRecv, controlReceiveTime
	if method, _ := grpc.Method(ctx); method == pb.GRPCInferenceService_ModelInfer_FullMethodName {
		slots, within = s.inferRecv, ReadTimeout
	}
	select {
	case slots <- struct{}{}:
		defer func() { <-slots }()
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	}
	cancel, ok := ctx.Value(streamCancelKey{}).(context.CancelCauseFunc)
	if !ok {
		return status.Error(codes.Internal, "a call reached its handler without passing the server's admission")
	}
	slow := time.AfterFunc(within, func() { cancel(errSlowMessage) })
	err := ss.RecvMsg(v)
	if !slow.Stop() {
		return status.Error(codes.DeadlineExceeded, fmt.Sprintf("%v (%s)", errSlowMessage, within))
	}
	return err
}
