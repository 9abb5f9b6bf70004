package serve

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/mdlc/mdlc/serve/inferencepb"
	"github.com/mdlc/mdlc/tensor"
)

// serveGRPC serves s's gRPC form on a localhost port and returns a client
// (the generated stubs) connected to it.
func serveGRPC(t *testing.T, s *Server) pb.GRPCInferenceServiceClient {
	t.Helper()
	return pb.NewGRPCInferenceServiceClient(serveGRPCConn(t, s))
}

// serveGRPCConn serves s's gRPC form on a localhost port and returns a
// connection to it, stopped with the test.
func serveGRPCConn(t *testing.T, s *Server) *grpc.ClientConn {
	t.Helper()
	gs, conn := listenGRPC(t, s)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		assert.NoError(t, s.StopGRPC(ctx, gs))
	})
	return conn
}

// listenGRPC serves s's gRPC form on a localhost port, for the caller to
// stop, and returns a connection to it, closed with the test.
func listenGRPC(t *testing.T, s *Server) (*grpc.Server, *grpc.ClientConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	gs := s.GRPCServer()
	go gs.Serve(ln)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return gs, conn
}

// newGRPCTestServer serves the stdlib models named, loaded, over gRPC (and
// over REST, for comparisons).
func newGRPCTestServer(t *testing.T, o Options, names ...string) (*Server, pb.GRPCInferenceServiceClient, *httptest.Server) {
	t.Helper()
	s, ts := newTestServer(t, o, names...)
	return s, serveGRPC(t, s), ts
}

func fp32Input(name string, shape []int64, data []float32) *pb.ModelInferRequest_InferInputTensor {
	return &pb.ModelInferRequest_InferInputTensor{Name: name, Datatype: "FP32", Shape: shape, Contents: &pb.InferTensorContents{Fp32Contents: data}}
}

// rawRequest is an infer request in the raw form Triton's clients send.
func rawRequest(model string, shape []int64, data []float32) *pb.ModelInferRequest {
	return &pb.ModelInferRequest{
		ModelName:        model,
		Inputs:           []*pb.ModelInferRequest_InferInputTensor{{Name: "image", Datatype: "FP32", Shape: shape}},
		RawInputContents: [][]byte{floatBytes(data)},
	}
}

func rawFloats(t *testing.T, b []byte) []float32 {
	t.Helper()
	require.Zero(t, len(b)%4)
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

func requireBits(t *testing.T, want, got []float32, msg string) {
	t.Helper()
	require.Len(t, got, len(want), msg)
	for i := range want {
		require.Equal(t, math.Float32bits(want[i]), math.Float32bits(got[i]), "%s: value %d", msg, i)
	}
}

func TestGRPCHealthAndMetadata(t *testing.T) {
	_, c, _ := newGRPCTestServer(t, DefaultOptions(), "fashion_cnn")
	ctx := context.Background()
	live, err := c.ServerLive(ctx, &pb.ServerLiveRequest{})
	require.NoError(t, err)
	assert.True(t, live.Live)
	ready, err := c.ServerReady(ctx, &pb.ServerReadyRequest{})
	require.NoError(t, err)
	assert.True(t, ready.Ready)
	meta, err := c.ServerMetadata(ctx, &pb.ServerMetadataRequest{})
	require.NoError(t, err)
	assert.Equal(t, "mdlc", meta.Name)
	assert.Equal(t, Version, meta.Version)
	for _, v := range []string{"", "1"} {
		mm, err := c.ModelMetadata(ctx, &pb.ModelMetadataRequest{Name: "fashion_cnn", Version: v})
		require.NoError(t, err, v)
		assert.Equal(t, "fashion_cnn", mm.Name)
		assert.Equal(t, []string{"1"}, mm.Versions)
		assert.Equal(t, "mdlc", mm.Platform)
		require.Len(t, mm.Inputs, 1)
		assert.Equal(t, "image", mm.Inputs[0].Name)
		assert.Equal(t, "FP32", mm.Inputs[0].Datatype)
		assert.Equal(t, []int64{-1, 28, 28, 1}, mm.Inputs[0].Shape)
		require.Len(t, mm.Outputs, 1)
		assert.Equal(t, []int64{-1, 10}, mm.Outputs[0].Shape)
		mr, err := c.ModelReady(ctx, &pb.ModelReadyRequest{Name: "fashion_cnn", Version: v})
		require.NoError(t, err)
		assert.True(t, mr.Ready)
	}
	_, err = c.ModelMetadata(ctx, &pb.ModelMetadataRequest{Name: "nope"})
	assert.Equal(t, codes.NotFound, status.Code(err))
	assert.Equal(t, `unknown model "nope"`, status.Convert(err).Message())
	_, err = c.ModelReady(ctx, &pb.ModelReadyRequest{Name: "fashion_cnn", Version: "2"})
	assert.Equal(t, codes.NotFound, status.Code(err))
	assert.Equal(t, `model "fashion_cnn" has no version "2"`, status.Convert(err).Message())
}

func TestGRPCNotReadyUntilLoaded(t *testing.T) {
	s := unloadedServer(t, "fashion_cnn")
	c := serveGRPC(t, s)
	ctx := context.Background()
	live, err := c.ServerLive(ctx, &pb.ServerLiveRequest{})
	require.NoError(t, err)
	assert.True(t, live.Live, "live before the models load")
	ready, err := c.ServerReady(ctx, &pb.ServerReadyRequest{})
	require.NoError(t, err)
	assert.False(t, ready.Ready)
	mr, err := c.ModelReady(ctx, &pb.ModelReadyRequest{Name: "fashion_cnn"})
	require.NoError(t, err)
	assert.False(t, mr.Ready)
	_, err = c.ModelMetadata(ctx, &pb.ModelMetadataRequest{Name: "fashion_cnn"})
	assert.Equal(t, codes.Unavailable, status.Code(err))
	_, err = c.ModelInfer(ctx, rawRequest("fashion_cnn", []int64{1, 28, 28, 1}, make([]float32, 784)))
	assert.Equal(t, codes.Unavailable, status.Code(err))
	require.NoError(t, s.Load())
	defer s.Close()
	ready, err = c.ServerReady(ctx, &pb.ServerReadyRequest{})
	require.NoError(t, err)
	assert.True(t, ready.Ready)
}

// TestGRPCInferMatchesRun: both input forms answer what `mdlc run` and the
// REST binary form answer for the same image, bit for bit, raw outputs
// for raw inputs (and when asked) and fp32_contents otherwise.
func TestGRPCInferMatchesRun(t *testing.T) {
	_, c, ts := newGRPCTestServer(t, DefaultOptions(), "fashion_cnn")
	img, want := runOutputs(t, "fashion_cnn", coat)
	shape := []int64{1, 28, 28, 1}
	ctx := context.Background()

	body, hlen := binaryRequest(t, map[string]any{
		"inputs":     []any{map[string]any{"name": "image", "datatype": "FP32", "shape": img.Shape, "parameters": map[string]any{"binary_data_size": 4 * len(img.Data)}}},
		"parameters": map[string]any{"binary_data_output": true},
	}, img.Data)
	resp, out := post(t, ts.URL+"/v2/models/fashion_cnn/infer", "application/octet-stream", body, map[string]string{"Inference-Header-Content-Length": strconv.Itoa(hlen)})
	require.Equal(t, 200, resp.StatusCode, string(out))
	n, err := strconv.Atoi(resp.Header.Get("Inference-Header-Content-Length"))
	require.NoError(t, err)
	rest := rawFloats(t, out[n:])
	requireBits(t, want.Data, rest, "REST binary")

	r := rawRequest("fashion_cnn", shape, img.Data)
	r.Id = "coat-6"
	got, err := c.ModelInfer(ctx, r)
	require.NoError(t, err)
	assert.Equal(t, "fashion_cnn", got.ModelName)
	assert.Equal(t, "1", got.ModelVersion)
	assert.Equal(t, "coat-6", got.Id)
	require.Len(t, got.Outputs, 1)
	assert.Equal(t, "probs", got.Outputs[0].Name)
	assert.Equal(t, "FP32", got.Outputs[0].Datatype)
	assert.Equal(t, []int64{1, 10}, got.Outputs[0].Shape)
	assert.Nil(t, got.Outputs[0].Contents)
	require.Len(t, got.RawOutputContents, 1)
	requireBits(t, want.Data, rawFloats(t, got.RawOutputContents[0]), "gRPC raw")

	got, err = c.ModelInfer(ctx, &pb.ModelInferRequest{ModelName: "fashion_cnn", ModelVersion: "1", Inputs: []*pb.ModelInferRequest_InferInputTensor{fp32Input("image", shape, img.Data)}})
	require.NoError(t, err)
	assert.Empty(t, got.RawOutputContents)
	requireBits(t, want.Data, got.Outputs[0].Contents.GetFp32Contents(), "gRPC contents")

	// Contents in, raw out: asked for by the request or by the output.
	for _, r := range []*pb.ModelInferRequest{
		{ModelName: "fashion_cnn", Parameters: map[string]*pb.InferParameter{"binary_data_output": {ParameterChoice: &pb.InferParameter_BoolParam{BoolParam: true}}}},
		{ModelName: "fashion_cnn", Outputs: []*pb.ModelInferRequest_InferRequestedOutputTensor{{Name: "probs", Parameters: map[string]*pb.InferParameter{"binary_data": {ParameterChoice: &pb.InferParameter_BoolParam{BoolParam: true}}}}}},
	} {
		r.Inputs = []*pb.ModelInferRequest_InferInputTensor{fp32Input("image", shape, img.Data)}
		got, err = c.ModelInfer(ctx, r)
		require.NoError(t, err)
		require.Len(t, got.RawOutputContents, 1)
		requireBits(t, want.Data, rawFloats(t, got.RawOutputContents[0]), "gRPC contents in, raw out")
	}
}

// TestGRPCBatchedRequest: a request of two rows gets `mdlc run`'s answer for
// the same rows.
func TestGRPCBatchedRequest(t *testing.T) {
	_, c, _ := newGRPCTestServer(t, DefaultOptions(), "fashion_cnn")
	img, _ := runOutputs(t, "fashion_cnn", coat)
	x := tensor.New(2, 28, 28, 1)
	copy(x.Data, img.Data)
	for i, v := range img.Data {
		x.Data[784+i] = 1 - v
	}
	_, want := runOutputs(t, "fashion_cnn", writeNpy(t, x))
	got, err := c.ModelInfer(context.Background(), rawRequest("fashion_cnn", []int64{2, 28, 28, 1}, x.Data))
	require.NoError(t, err)
	assert.Equal(t, []int64{2, 10}, got.Outputs[0].Shape)
	requireBits(t, want.Data, rawFloats(t, got.RawOutputContents[0]), "two rows")
}

// TestGRPCTokenIDs: token ids as INT32 and INT64, typed and raw, give the
// same answer.
func TestGRPCTokenIDs(t *testing.T) {
	_, c, _ := newGRPCTestServer(t, DefaultOptions(), "gpt")
	ids := []int64{5, 6, 7, 8}
	var raw32, raw64 []byte
	ids32 := make([]int32, len(ids))
	for i, id := range ids {
		ids32[i] = int32(id)
		raw32 = binary.LittleEndian.AppendUint32(raw32, uint32(id))
		raw64 = binary.LittleEndian.AppendUint64(raw64, uint64(id))
	}
	in := func(dt string, contents *pb.InferTensorContents) []*pb.ModelInferRequest_InferInputTensor {
		return []*pb.ModelInferRequest_InferInputTensor{{Name: "ids", Datatype: dt, Shape: []int64{1, 4}, Contents: contents}}
	}
	var first []byte
	for _, r := range []*pb.ModelInferRequest{
		{Inputs: in("INT32", nil), RawInputContents: [][]byte{raw32}},
		{Inputs: in("INT64", nil), RawInputContents: [][]byte{raw64}},
		{Inputs: in("INT32", &pb.InferTensorContents{IntContents: ids32}), Parameters: map[string]*pb.InferParameter{"binary_data_output": {ParameterChoice: &pb.InferParameter_BoolParam{BoolParam: true}}}},
		{Inputs: in("INT64", &pb.InferTensorContents{Int64Contents: ids}), Parameters: map[string]*pb.InferParameter{"binary_data_output": {ParameterChoice: &pb.InferParameter_BoolParam{BoolParam: true}}}},
	} {
		r.ModelName = "gpt"
		got, err := c.ModelInfer(context.Background(), r)
		require.NoError(t, err)
		require.Len(t, got.RawOutputContents, 1)
		if first == nil {
			first = got.RawOutputContents[0]
		}
		assert.Equal(t, first, got.RawOutputContents[0], "%s", r.Inputs[0].Datatype)
	}
}

func TestGRPCInferErrors(t *testing.T) {
	o := DefaultOptions()
	o.MaxBody = 1 << 20
	_, c, _ := newGRPCTestServer(t, o, "fashion_cnn", "gpt")
	img := make([]float32, 784)
	shape := []int64{1, 28, 28, 1}
	inputs := func(ins ...*pb.ModelInferRequest_InferInputTensor) []*pb.ModelInferRequest_InferInputTensor {
		return ins
	}
	cases := []struct {
		name string
		req  *pb.ModelInferRequest
		code codes.Code
		msg  string
	}{
		{"unknown model", &pb.ModelInferRequest{ModelName: "nope"}, codes.NotFound, `unknown model "nope"`},
		{"unknown version", &pb.ModelInferRequest{ModelName: "fashion_cnn", ModelVersion: "9"}, codes.NotFound, `has no version "9"`},
		{"no inputs", &pb.ModelInferRequest{ModelName: "fashion_cnn"}, codes.InvalidArgument, "no inputs"},
		{"no contents", &pb.ModelInferRequest{ModelName: "fashion_cnn", Inputs: inputs(&pb.ModelInferRequest_InferInputTensor{Name: "image", Datatype: "FP32", Shape: shape})}, codes.InvalidArgument, `input "image" has no contents`},
		{"wrong dtype", &pb.ModelInferRequest{ModelName: "fashion_cnn", Inputs: inputs(&pb.ModelInferRequest_InferInputTensor{Name: "image", Datatype: "INT64", Shape: shape, Contents: &pb.InferTensorContents{Int64Contents: make([]int64, 784)}})}, codes.InvalidArgument, `datatype "INT64" is not FP32`},
		{"wrong shape", &pb.ModelInferRequest{ModelName: "fashion_cnn", Inputs: inputs(fp32Input("image", []int64{1, 28, 27, 1}, img[:756]))}, codes.InvalidArgument, "axis 2 is 27, want 28"},
		{"wrong rank", &pb.ModelInferRequest{ModelName: "fashion_cnn", Inputs: inputs(fp32Input("image", []int64{784}, img))}, codes.InvalidArgument, "has rank 1"},
		{"too few values", &pb.ModelInferRequest{ModelName: "fashion_cnn", Inputs: inputs(fp32Input("image", shape, img[:700]))}, codes.InvalidArgument, "fp32_contents holds 700 values, but its shape calls for 784"},
		{"values in another field", &pb.ModelInferRequest{ModelName: "fashion_cnn", Inputs: inputs(&pb.ModelInferRequest_InferInputTensor{Name: "image", Datatype: "FP32", Shape: shape, Contents: &pb.InferTensorContents{Fp64Contents: make([]float64, 784)}})}, codes.InvalidArgument, "its values go in fp32_contents, but the contents hold 784 values in other fields"},
		{"raw of the wrong length", rawRequest("fashion_cnn", shape, img[:783]), codes.InvalidArgument, "holds 3132 bytes, but 784 FP32 values take 3136"},
		{"raw entries for fewer inputs", &pb.ModelInferRequest{ModelName: "fashion_cnn", Inputs: inputs(&pb.ModelInferRequest_InferInputTensor{Name: "image", Datatype: "FP32", Shape: shape}), RawInputContents: [][]byte{floatBytes(img), nil}}, codes.InvalidArgument, "raw_input_contents has 2 entries for 1 inputs"},
		{"raw and contents", &pb.ModelInferRequest{ModelName: "fashion_cnn", Inputs: inputs(fp32Input("image", shape, img)), RawInputContents: [][]byte{floatBytes(img)}}, codes.InvalidArgument, "send every input one way"},
		{"unknown input", &pb.ModelInferRequest{ModelName: "fashion_cnn", Inputs: inputs(fp32Input("pixels", shape, img))}, codes.InvalidArgument, `no input "pixels"`},
		{"unknown output", &pb.ModelInferRequest{ModelName: "fashion_cnn", Inputs: inputs(fp32Input("image", shape, img)), Outputs: []*pb.ModelInferRequest_InferRequestedOutputTensor{{Name: "logits"}}}, codes.InvalidArgument, `no output "logits"`},
		{"binary_data not a bool", &pb.ModelInferRequest{ModelName: "fashion_cnn", Inputs: inputs(fp32Input("image", shape, img)), Parameters: map[string]*pb.InferParameter{"binary_data_output": {ParameterChoice: &pb.InferParameter_Int64Param{Int64Param: 1}}}}, codes.InvalidArgument, "binary_data_output must be true or false"},
		{"over max batch", rawRequest("fashion_cnn", []int64{9, 28, 28, 1}, make([]float32, 9*784)), codes.InvalidArgument, "batch of 9 is more than model fashion_cnn takes at once (8)"},
		{"oversized message", rawRequest("fashion_cnn", shape, make([]float32, 300_000)), codes.ResourceExhausted, "larger than max"},
		{"token id out of vocabulary", &pb.ModelInferRequest{ModelName: "gpt", Inputs: inputs(&pb.ModelInferRequest_InferInputTensor{Name: "ids", Datatype: "INT64", Shape: []int64{1, 2}, Contents: &pb.InferTensorContents{Int64Contents: []int64{1, 1 << 40}}})}, codes.InvalidArgument, "outside the vocabulary"},
		{"sequence over the model's bound", &pb.ModelInferRequest{ModelName: "gpt", Inputs: inputs(&pb.ModelInferRequest_InferInputTensor{Name: "ids", Datatype: "INT32", Shape: []int64{1, 300}, Contents: &pb.InferTensorContents{IntContents: make([]int32, 300)}})}, codes.InvalidArgument, "256"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.ModelInfer(context.Background(), tc.req)
			assert.Equal(t, tc.code, status.Code(err), "%v", err)
			assert.Contains(t, status.Convert(err).Message(), tc.msg)
		})
	}
}

// TestGRPCDynamicBatching: concurrent gRPC calls queued within the delay
// run as one execution, and each gets its own rows.
func TestGRPCDynamicBatching(t *testing.T) {
	o := DefaultOptions()
	o.MaxBatch = 8
	o.MaxQueueDelay = 2 * time.Second // long enough that all 8 arrive; the full batch runs at once
	s, c, _ := newGRPCTestServer(t, o, "fashion_cnn")
	const n = 8
	inputs := make([][]float32, n)
	wants := make([][]float32, n)
	for i := range n {
		x := tensor.New(1, 28, 28, 1)
		for k := range x.Data {
			x.Data[k] = float32((k*(i+3))%17) / 16
		}
		inputs[i] = x.Data
		_, w := runOutputs(t, "fashion_cnn", writeNpy(t, x))
		wants[i] = w.Data
	}
	var wg sync.WaitGroup
	got := make([][]float32, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			r, err := c.ModelInfer(context.Background(), rawRequest("fashion_cnn", []int64{1, 28, 28, 1}, inputs[i]))
			errs[i] = err
			if err == nil && len(r.RawOutputContents) == 1 {
				got[i] = rawFloats(t, r.RawOutputContents[0])
			}
		})
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		assert.InDeltaSlice(t, wants[i], got[i], 1e-5, "request %d gets its own rows", i)
	}
	mm := s.models[0].metrics
	assert.Equal(t, int64(1), mm.execs.Load(), "8 requests of one row, max batch 8: one execution")
	assert.Equal(t, int64(n), mm.inferences.Load())
	assert.Equal(t, int64(n), mm.success.Load())
}

// TestGRPCLimits: the in-flight limit, the bytes of requests held and a
// full queue each get their status code, and are counted as REST counts
// them.
func TestGRPCLimits(t *testing.T) {
	o := DefaultOptions()
	o.MaxInflight = 1
	o.MaxQueue = 1
	s, c, _ := newGRPCTestServer(t, o, "fashion_cnn")
	m := s.models[0]
	req := rawRequest("fashion_cnn", []int64{1, 28, 28, 1}, make([]float32, 784))
	ctx := context.Background()

	s.inflight <- struct{}{}
	_, err := c.ModelInfer(ctx, req)
	assert.Equal(t, codes.ResourceExhausted, status.Code(err), "%v", err)
	assert.Contains(t, status.Convert(err).Message(), "handling 1 infer requests, its limit")
	ready, err := c.ServerReady(ctx, &pb.ServerReadyRequest{})
	require.NoError(t, err, "health is not counted")
	assert.True(t, ready.Ready)
	<-s.inflight

	s.bodyBytes.Add(o.MaxBodyInflight - 100)
	_, err = c.ModelInfer(ctx, req)
	assert.Equal(t, codes.ResourceExhausted, status.Code(err), "%v", err)
	assert.Contains(t, status.Convert(err).Message(), "bytes of requests, its limit")
	s.bodyBytes.Add(-(o.MaxBodyInflight - 100))

	// Park the only worker: the queue's one slot taken, a call is refused.
	m.batcher.close()
	m.batcher = newBatcher(m)
	m.batcher.q <- &job{done: make(chan jobResult, 1), cancelled: make(chan struct{})}
	_, err = c.ModelInfer(ctx, req)
	assert.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
	assert.Contains(t, status.Convert(err).Message(), "queue is full")
	<-m.batcher.q
	m.batcher.start()

	_, err = c.ModelInfer(ctx, req)
	require.NoError(t, err)
	assert.Equal(t, int64(0), s.bodyBytes.Load(), "every reservation is given back")
	assert.Equal(t, int64(3), m.metrics.failure[reasonRejected].Load())
	assert.Equal(t, int64(1), m.metrics.success.Load())
}

// TestGRPCDeadlines: a call not answered within the server's request
// timeout, or within the client's own deadline, gets DEADLINE_EXCEEDED,
// and the batcher skips it.
func TestGRPCDeadlines(t *testing.T) {
	req := rawRequest("fashion_cnn", []int64{1, 28, 28, 1}, make([]float32, 784))
	for _, serverTimeout := range []bool{true, false} {
		o := DefaultOptions()
		if serverTimeout {
			o.RequestTimeout = 100 * time.Millisecond
		}
		s, c, _ := newGRPCTestServer(t, o, "fashion_cnn")
		m := s.models[0]
		m.batcher.close()
		// Not started, and every execution slot taken: nothing runs.
		m.batcher = newBatcher(m)
		for range cap(m.batcher.slots) {
			m.batcher.slots <- struct{}{}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if serverTimeout {
			ctx, cancel = context.WithCancel(context.Background())
		}
		_, err := c.ModelInfer(ctx, req)
		cancel()
		assert.Equal(t, codes.DeadlineExceeded, status.Code(err), "%v", err)
		if serverTimeout {
			assert.Contains(t, status.Convert(err).Message(), "no answer within the request timeout")
		}
		require.Eventually(t, func() bool { return m.metrics.failure[reasonCanceled].Load() == 1 }, 10*time.Second, 5*time.Millisecond, "counted as canceled (server timeout %v)", serverTimeout)
		for range cap(m.batcher.slots) {
			<-m.batcher.slots
		}
		m.batcher.start()
	}
}

// TestGRPCMetrics: gRPC calls count in Triton's counters as REST requests
// do, and by status code in their own.
func TestGRPCMetrics(t *testing.T) {
	s, c, _ := newGRPCTestServer(t, DefaultOptions(), "fashion_cnn")
	for range 2 {
		_, err := c.ModelInfer(context.Background(), rawRequest("fashion_cnn", []int64{1, 28, 28, 1}, make([]float32, 784)))
		require.NoError(t, err)
	}
	_, err := c.ModelInfer(context.Background(), rawRequest("fashion_cnn", []int64{1, 28, 28, 2}, make([]float32, 2*784)))
	require.Error(t, err)
	var b bytes.Buffer
	require.NoError(t, writeMetrics(&b, []*modelMetrics{s.models[0].metrics}))
	for _, line := range []string{
		`nv_inference_request_success{model="fashion_cnn",version="1"} 2`,
		`nv_inference_request_failure{model="fashion_cnn",version="1",reason="REJECTED"} 1`,
		`nv_inference_count{model="fashion_cnn",version="1"} 2`,
		`mdlc_inference_grpc_requests_total{model="fashion_cnn",version="1",grpc_code="InvalidArgument"} 1`,
		`mdlc_inference_grpc_requests_total{model="fashion_cnn",version="1",grpc_code="OK"} 2`,
		`mdlc_inference_request_duration_seconds_count{model="fashion_cnn",version="1"} 3`,
	} {
		assert.Contains(t, b.String(), line+"\n")
	}
}

// panicky is a service whose ModelInfer panics, to show the interceptor
// at work over the wire.
type panicky struct {
	pb.UnimplementedGRPCInferenceServiceServer
}

func (panicky) ModelInfer(context.Context, *pb.ModelInferRequest) (*pb.ModelInferResponse, error) {
	panic("boom")
}

func (panicky) ServerLive(context.Context, *pb.ServerLiveRequest) (*pb.ServerLiveResponse, error) {
	return &pb.ServerLiveResponse{Live: true}, nil
}

// TestGRPCPanicIsInternal: a panic in a handler is answered INTERNAL and
// logged, and the server goes on.
func TestGRPCPanicIsInternal(t *testing.T) {
	var logs syncBuffer
	s := &Server{log: slog.New(slog.NewTextHandler(&logs, nil))}
	gs := grpc.NewServer(grpc.ChainUnaryInterceptor(s.grpcInterceptor))
	pb.RegisterGRPCInferenceServiceServer(gs, panicky{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go gs.Serve(ln)
	defer gs.Stop()
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	c := pb.NewGRPCInferenceServiceClient(conn)
	_, err = c.ModelInfer(context.Background(), &pb.ModelInferRequest{})
	assert.Equal(t, codes.Internal, status.Code(err))
	assert.Equal(t, "internal server error (logged)", status.Convert(err).Message())
	live, err := c.ServerLive(context.Background(), &pb.ServerLiveRequest{})
	require.NoError(t, err, "the server goes on")
	assert.True(t, live.Live)
	assert.Contains(t, logs.String(), "panic in a handler")
	assert.Contains(t, logs.String(), "boom")
}

// syncBuffer is a bytes.Buffer the server's goroutines may log into.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestStopGRPC: a graceful stop lets the call in flight finish.
func TestStopGRPC(t *testing.T) {
	o := DefaultOptions()
	o.MaxQueueDelay = 300 * time.Millisecond // the call waits queued when the stop begins
	s, _ := newTestServer(t, o, "fashion_cnn")
	gs, conn := listenGRPC(t, s)
	c := pb.NewGRPCInferenceServiceClient(conn)
	done := make(chan error, 1)
	go func() {
		_, err := c.ModelInfer(context.Background(), rawRequest("fashion_cnn", []int64{1, 28, 28, 1}, make([]float32, 784)))
		done <- err
	}()
	require.Eventually(t, func() bool { return s.models[0].metrics.queued.Load() == 1 }, 5*time.Second, time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, s.StopGRPC(ctx, gs))
	assert.NoError(t, <-done, "the call in flight is answered")
	_, err := c.ServerLive(context.Background(), &pb.ServerLiveRequest{})
	assert.Error(t, err, "no call after the stop")
}

// TestFloatBytes: raw_output_contents is little-endian.
func TestFloatBytes(t *testing.T) {
	assert.Equal(t, []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0}, floatBytes([]float32{1, -2}))
}

// FuzzGRPCRequest: no ModelInferRequest makes the conversion or the
// contents decoder panic, and a decoded tensor has exactly the values its
// shape asks for.
func FuzzGRPCRequest(f *testing.F) {
	for _, r := range []*pb.ModelInferRequest{
		{Inputs: []*pb.ModelInferRequest_InferInputTensor{fp32Input("image", []int64{1, 2}, []float32{1.5, -2})}},
		{Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "ids", Datatype: "INT32", Shape: []int64{2}, Contents: &pb.InferTensorContents{IntContents: []int32{1, 2}, BoolContents: []bool{true}}}}},
		{Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "m", Datatype: "BOOL", Shape: []int64{3}, Contents: &pb.InferTensorContents{BoolContents: []bool{true, false, true}}}}},
		{Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "a", Datatype: "INT64", Shape: []int64{1}}}, RawInputContents: [][]byte{{1, 0, 0, 0, 0, 0, 0, 0}}},
		{Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "a", Datatype: "FP32", Shape: []int64{1}}}, RawInputContents: [][]byte{{1, 0, 0}}, Parameters: map[string]*pb.InferParameter{"x": {ParameterChoice: &pb.InferParameter_StringParam{StringParam: "y"}}}},
		{Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "image", Datatype: "BYTES", Shape: []int64{2}, Contents: &pb.InferTensorContents{BytesContents: [][]byte{{0x89, 'P'}, {}}}}}},
		{Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "image", Datatype: "BYTES", Shape: []int64{1}}}, RawInputContents: [][]byte{{3, 0, 0, 0, 1, 2}}},
	} {
		b, err := proto.Marshal(r)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r pb.ModelInferRequest
		if proto.Unmarshal(b, &r) != nil {
			return
		}
		req, _, err := grpcRequest(&r)
		if err != nil {
			return
		}
		for i := range req.Inputs {
			in := &req.Inputs[i]
			if in.Datatype == dtBYTES && len(in.Shape) == 1 && in.Shape[0] >= 0 && in.Shape[0] <= 1<<10 {
				// The elements of a BYTES input, as decodeImageInputs reads
				// them before decoding each as an image.
				elems, err := newBytesReader(in)
				if err != nil {
					continue
				}
				for e := range int(in.Shape[0]) {
					data, _, err := elems.next(fmt.Sprint("element ", e), func(int64) error { return nil })
					if err != nil {
						break
					}
					if len(data) > len(b) {
						t.Fatalf("element %d holds %d bytes, more than the %d of the message", e, len(data), len(b))
					}
				}
				elems.end()
				continue
			}
			if elemSize(in.Datatype) == 0 {
				continue
			}
			n := 1
			for _, d := range in.Shape {
				if d < 0 || d > 1<<10 {
					n = -1
					break
				}
				n *= int(d)
			}
			if n < 0 || n > 1<<12 {
				continue
			}
			d, err := decodeInput(in, n)
			if err == nil && len(d.floats)+len(d.ints) != n {
				t.Fatalf("input %q: %d values decoded, want %d", in.Name, len(d.floats)+len(d.ints), n)
			}
		}
	})
}
