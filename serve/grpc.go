package serve

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/http"
	"runtime/debug"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/mdlc/mdlc/serve/inferencepb"
)

// The gRPC form of the protocol (inference.GRPCInferenceService, defined in
// inferencepb/inference.proto). It shares everything past the wire with the
// REST form: the models, their checks, the batcher, the limits and the
// metrics; a request is turned into the same inferRequest and goes through
// Server.run.
//
// An input's values come either as typed contents (fp32_contents for FP32,
// bool_contents for BOOL, int_contents for INT32, int64_contents for INT64)
// or, for every input at once, as raw_input_contents: little-endian bytes,
// decoded as the binary extension's are. Outputs come back raw
// (raw_output_contents) when the inputs came raw, as Triton's clients expect,
// or when the request's binary_data_output parameter or an output's
// binary_data parameter is true; otherwise as fp32_contents.
//
// Limits: a message over MaxBody is refused by grpc-go itself
// (RESOURCE_EXHAUSTED) before it is read; the messages being handled at once
// hold at most MaxBodyInflight bytes and MaxInflight calls past which a call
// gets RESOURCE_EXHAUSTED, as REST gets 429; the bytes still arriving are
// bounded as grpcrecv.go explains; idle connections are closed after
// IdleTimeout and dead ones found by keepalive pings.

// GRPCMaxStreams is the most calls one gRPC connection carries at once.
const GRPCMaxStreams = 64

// Status codes of the errors, by the HTTP status the REST form answers them
// with, as Triton maps them.
func grpcCode(httpStatus int) codes.Code {
	switch httpStatus {
	case http.StatusOK:
		return codes.OK
	case http.StatusBadRequest, http.StatusUnsupportedMediaType:
		return codes.InvalidArgument
	case http.StatusNotFound:
		return codes.NotFound
	case http.StatusRequestEntityTooLarge, http.StatusTooManyRequests:
		return codes.ResourceExhausted
	case http.StatusServiceUnavailable:
		return codes.Unavailable
	case http.StatusGatewayTimeout:
		return codes.DeadlineExceeded
	case statusClientClosed:
		return codes.Canceled
	}
	return codes.Internal
}

// GRPCServer is a grpc.Server serving s's models with the limits above; run
// it with Serve on a listener, and stop it with StopGRPC.
func (s *Server) GRPCServer() *grpc.Server {
	gs := grpc.NewServer(
		grpc.MaxRecvMsgSize(int(min(s.opts.MaxBody, math.MaxInt32))),
		grpc.MaxConcurrentStreams(GRPCMaxStreams),
		grpc.MaxHeaderListSize(maxHeaderBytes),
		// The HTTP/2 handshake within the time REST gives headers.
		grpc.ConnectionTimeout(ReadHeaderTimeout),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionIdle: IdleTimeout,
			Time:              30 * time.Second,
			Timeout:           10 * time.Second,
		}),
		// A client pinging more often than every 10 s is cut off.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		// See grpcrecv.go: static windows, open streams admitted by count,
		// every request read under a reception slot.
		grpc.InitialWindowSize(streamWindow),
		grpc.InitialConnWindowSize(connWindow),
		grpc.InTapHandle(s.admitStream),
	)
	gs.RegisterService(s.gated(&pb.GRPCInferenceService_ServiceDesc), grpcService{s: s})
	gs.RegisterService(s.gated(&healthpb.Health_ServiceDesc), healthService{s: s})
	return gs
}

// StopGRPC stops gs, made by s.GRPCServer, gracefully (no new calls, those
// in flight answered, health watches told NOT_SERVING and ended) within ctx,
// then at once, closing what is left; it returns ctx's error when calls were
// still in flight.
func (s *Server) StopGRPC(ctx context.Context, gs *grpc.Server) error {
	s.stopOnce.Do(func() { close(s.stopping) })
	done := make(chan struct{})
	go func() {
		gs.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		gs.Stop()
		<-done
		return ctx.Err()
	}
}

// grpcInterceptor logs each call and turns a panic in a handler into
// INTERNAL with one log line (and the stack), as middleware does for REST.
func (s *Server) grpcInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic in a handler", "method", info.FullMethod, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			resp, err = nil, status.Error(codes.Internal, "internal server error (logged)")
		}
		level := s.log.Info
		switch info.FullMethod {
		case pb.GRPCInferenceService_ServerLive_FullMethodName, pb.GRPCInferenceService_ServerReady_FullMethodName, pb.GRPCInferenceService_ModelReady_FullMethodName:
			level = s.log.Debug
		}
		remote := ""
		if p, ok := peer.FromContext(ctx); ok {
			remote = p.Addr.String()
		}
		level("grpc request", "method", info.FullMethod, "code", status.Code(err).String(), "ms", float64(time.Since(start).Microseconds())/1000, "remote", remote)
	}()
	return handler(ctx, req)
}

type grpcService struct {
	// Embedded by value, as protoc-gen-go-grpc asks: a method added to
	// the service answers UNIMPLEMENTED until it is written here.
	pb.UnimplementedGRPCInferenceServiceServer
	s *Server
}

// lookup finds a model, or returns NOT_FOUND as REST answers 404.
func (g grpcService) lookup(name, version string) (*Model, error) {
	m, err := g.s.lookup(name, version)
	switch {
	case errors.Is(err, errUnknownModel):
		return nil, status.Errorf(codes.NotFound, "unknown model %q", name)
	case errors.Is(err, errUnknownVersion):
		return nil, status.Errorf(codes.NotFound, "model %q has no version %q", name, version)
	}
	return m, nil
}

func (g grpcService) ServerLive(context.Context, *pb.ServerLiveRequest) (*pb.ServerLiveResponse, error) {
	return &pb.ServerLiveResponse{Live: true}, nil
}

func (g grpcService) ServerReady(context.Context, *pb.ServerReadyRequest) (*pb.ServerReadyResponse, error) {
	return &pb.ServerReadyResponse{Ready: g.s.ready()}, nil
}

func (g grpcService) ModelReady(_ context.Context, r *pb.ModelReadyRequest) (*pb.ModelReadyResponse, error) {
	m, err := g.lookup(r.Name, r.Version)
	if err != nil {
		return nil, err
	}
	return &pb.ModelReadyResponse{Ready: m.Ready()}, nil
}

func (g grpcService) ServerMetadata(context.Context, *pb.ServerMetadataRequest) (*pb.ServerMetadataResponse, error) {
	// binary_tensor_data is REST's; the gRPC form has raw contents instead.
	return &pb.ServerMetadataResponse{Name: "mdlc", Version: Version}, nil
}

func (g grpcService) ModelMetadata(_ context.Context, r *pb.ModelMetadataRequest) (*pb.ModelMetadataResponse, error) {
	m, err := g.lookup(r.Name, r.Version)
	if err != nil {
		return nil, err
	}
	if !m.Ready() {
		return nil, status.Error(codes.Unavailable, m.notReady().Error())
	}
	resp := &pb.ModelMetadataResponse{Name: m.Name, Platform: "mdlc"}
	for _, o := range g.s.models {
		if o.Name == m.Name {
			resp.Versions = append(resp.Versions, o.Version)
		}
	}
	meta := func(ps []port) []*pb.ModelMetadataResponse_TensorMetadata {
		out := make([]*pb.ModelMetadataResponse_TensorMetadata, len(ps))
		for i, p := range ps {
			out[i] = &pb.ModelMetadataResponse_TensorMetadata{Name: p.name, Datatype: p.datatype(), Shape: p.dims}
		}
		return out
	}
	resp.Inputs, resp.Outputs = meta(m.inputs), meta(m.outputs)
	return resp, nil
}

func (g grpcService) ModelInfer(ctx context.Context, r *pb.ModelInferRequest) (*pb.ModelInferResponse, error) {
	start := time.Now()
	m, err := g.lookup(r.ModelName, r.ModelVersion)
	if err != nil {
		return nil, err
	}
	resp, httpStatus, err := g.infer(ctx, m, r)
	if err != nil {
		code := grpcCode(httpStatus)
		if httpStatus == statusClientClosed && ctx.Err() == context.DeadlineExceeded {
			code = codes.DeadlineExceeded
		}
		err = status.Error(code, err.Error())
	}
	m.metrics.countGRPC(status.Code(err).String())
	m.metrics.observe(httpStatus, time.Since(start))
	return resp, err
}

// infer answers a ModelInfer call for m, or its error with the HTTP status
// REST would answer it with.
func (g grpcService) infer(ctx context.Context, m *Model, r *pb.ModelInferRequest) (*pb.ModelInferResponse, int, error) {
	s := g.s
	fail := func(err error) (*pb.ModelInferResponse, int, error) {
		status, msg := s.errorStatus(m, err)
		return nil, status, errors.New(msg)
	}
	if !m.Ready() {
		return fail(m.notReady())
	}
	// The message, read whole by grpc-go, counts against the bytes of
	// requests held, as a REST body does.
	size := int64(proto.Size(r))
	if s.bodyBytes.Add(size) > s.opts.MaxBodyInflight {
		s.bodyBytes.Add(-size)
		return fail(&protocolError{http.StatusTooManyRequests, fmt.Sprintf("the server holds %d bytes of requests, its limit: retry later", s.opts.MaxBodyInflight)})
	}
	defer s.bodyBytes.Add(-size)
	select {
	case s.inflight <- struct{}{}:
		defer func() { <-s.inflight }()
	default:
		return fail(s.errInflight())
	}
	ctx, cancel := context.WithTimeoutCause(ctx, s.opts.RequestTimeout, errRequestTimeout)
	defer cancel()
	req, raw, err := grpcRequest(r)
	if err != nil {
		return fail(err)
	}
	if err := s.decodeImageInputs(nil, m, req); err != nil {
		return fail(err)
	}
	outs, err := s.run(ctx, m, req)
	if err != nil {
		return fail(err)
	}
	resp := &pb.ModelInferResponse{ModelName: m.Name, ModelVersion: m.Version, Id: r.Id, Outputs: make([]*pb.ModelInferResponse_InferOutputTensor, len(outs))}
	for _, o := range outs {
		raw = raw || o.binary
	}
	for i, o := range outs {
		t := &pb.ModelInferResponse_InferOutputTensor{Name: o.name, Datatype: dtFP32, Shape: make([]int64, len(o.shape))}
		for k, d := range o.shape {
			t.Shape[k] = int64(d)
		}
		if raw {
			resp.RawOutputContents = append(resp.RawOutputContents, floatBytes(o.data))
		} else {
			t.Contents = &pb.InferTensorContents{Fp32Contents: o.data}
		}
		resp.Outputs[i] = t
	}
	return resp, http.StatusOK, nil
}

// grpcRequest turns a ModelInferRequest into the request REST parses, and
// says whether its inputs came raw. Values are not decoded here: that waits
// for the shapes to be checked against the model (decodeInput).
func grpcRequest(r *pb.ModelInferRequest) (*inferRequest, bool, error) {
	if len(r.Inputs) == 0 {
		return nil, false, badRequest("the request has no inputs")
	}
	raw := len(r.RawInputContents) > 0
	if raw && len(r.RawInputContents) != len(r.Inputs) {
		return nil, false, badRequest("raw_input_contents has %d entries for %d inputs: give one for each input, in order", len(r.RawInputContents), len(r.Inputs))
	}
	req := &inferRequest{ID: r.Id, Parameters: grpcParams(r.Parameters), Inputs: make([]requestInput, len(r.Inputs))}
	for i, in := range r.Inputs {
		ri := requestInput{Name: in.Name, Shape: in.Shape, Datatype: in.Datatype, Parameters: grpcParams(in.Parameters)}
		switch {
		case raw && in.Contents != nil:
			return nil, false, badRequest("input %q has contents, but the request sends raw_input_contents: send every input one way", in.Name)
		case raw:
			// Non-nil even when empty: decodeBinary then refuses it by
			// its length.
			ri.binary = r.RawInputContents[i]
			if ri.binary == nil {
				ri.binary = []byte{}
			}
		case in.Contents == nil:
			return nil, false, badRequest("input %q has no contents (and the request no raw_input_contents)", in.Name)
		case in.Datatype == dtBYTES:
			c := in.Contents
			if len(c.BoolContents)+len(c.IntContents)+len(c.Int64Contents)+len(c.UintContents)+len(c.Uint64Contents)+len(c.Fp32Contents)+len(c.Fp64Contents) > 0 {
				return nil, false, badRequest("input %q is BYTES: its elements go in bytes_contents, but the contents hold values in other fields", in.Name)
			}
			// Non-nil even when empty: decodeImageInputs then refuses it
			// by its count.
			ri.elements = c.BytesContents
			if ri.elements == nil {
				ri.elements = [][]byte{}
			}
		default:
			ri.decode = contentsDecoder(in.Name, in.Datatype, in.Contents)
		}
		req.Inputs[i] = ri
	}
	for _, o := range r.Outputs {
		req.Outputs = append(req.Outputs, requestOutput{Name: o.Name, Parameters: grpcParams(o.Parameters)})
	}
	return req, raw, nil
}

// grpcParams gives parameters the types JSON's decoding gives them, so that
// boolParam and intParam read both forms alike.
func grpcParams(p map[string]*pb.InferParameter) map[string]any {
	if len(p) == 0 {
		return nil
	}
	out := make(map[string]any, len(p))
	for k, v := range p {
		switch c := v.GetParameterChoice().(type) {
		case *pb.InferParameter_BoolParam:
			out[k] = c.BoolParam
		case *pb.InferParameter_Int64Param:
			out[k] = float64(c.Int64Param)
		case *pb.InferParameter_Uint64Param:
			out[k] = float64(c.Uint64Param)
		case *pb.InferParameter_DoubleParam:
			out[k] = c.DoubleParam
		case *pb.InferParameter_StringParam:
			out[k] = c.StringParam
		}
	}
	return out
}

// contentsDecoder reads an input's typed contents: the values must all be
// in the field of its datatype, exactly n of them.
func contentsDecoder(name, datatype string, c *pb.InferTensorContents) func(n int) (tensorData, error) {
	return func(n int) (tensorData, error) {
		total := len(c.BoolContents) + len(c.IntContents) + len(c.Int64Contents) + len(c.UintContents) + len(c.Uint64Contents) + len(c.Fp32Contents) + len(c.Fp64Contents) + len(c.BytesContents)
		var field string
		var count int
		switch datatype {
		case dtFP32:
			field, count = "fp32_contents", len(c.Fp32Contents)
		case dtBOOL:
			field, count = "bool_contents", len(c.BoolContents)
		case dtINT32:
			field, count = "int_contents", len(c.IntContents)
		case dtINT64:
			field, count = "int64_contents", len(c.Int64Contents)
		default:
			return tensorData{}, badRequest("input %q: datatype %q is not one this server takes", name, datatype)
		}
		if count != total {
			return tensorData{}, badRequest("input %q is %s: its values go in %s, but the contents hold %d values in other fields", name, datatype, field, total-count)
		}
		if count != n {
			return tensorData{}, badRequest("input %q: %s holds %d values, but its shape calls for %d", name, field, count, n)
		}
		var d tensorData
		switch datatype {
		case dtFP32:
			d.floats = c.Fp32Contents
		case dtBOOL:
			d.floats = make([]float32, n)
			for i, b := range c.BoolContents {
				if b {
					d.floats[i] = 1
				}
			}
		case dtINT32:
			d.ints = make([]int64, n)
			for i, v := range c.IntContents {
				d.ints[i] = int64(v)
			}
		case dtINT64:
			d.ints = c.Int64Contents
		}
		return d, nil
	}
}

// floatBytes is data as little-endian bytes, raw_output_contents' layout.
func floatBytes(data []float32) []byte {
	b := make([]byte, 0, 4*len(data))
	for _, v := range data {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}
