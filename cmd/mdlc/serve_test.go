package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/mdlc/mdlc/serve/inferencepb"
)

func TestServeUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"serve"}, 2, "give models to serve"},
		{[]string{"serve", "--max-batch", "0", "fashion_cnn"}, 2, "--max-batch"},
		{[]string{"serve", "--max-queue-delay", "-1s", "fashion_cnn"}, 2, "--max-queue-delay must not be negative"},
		{[]string{"serve", "--model-repository", t.TempDir()}, 1, "holds no model"},
		{[]string{"serve", "--addr", "127.0.0.1:0", t.TempDir() + "/nope.mdl"}, 1, "nope.mdl: no such file"},
	} {
		code, _, errs := mdlc(t, c.args...)
		assert.Equal(t, c.code, code, "%v: %s", c.args, errs)
		assert.Contains(t, errs, c.want, c.args)
	}
}

// freeAddr is a localhost address no one listens on.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// TestServeDrainsOnSIGTERM: `mdlc serve` answers once ready, over REST and
// gRPC, and on SIGTERM finishes the requests in flight, then exits 0.
func TestServeDrainsOnSIGTERM(t *testing.T) {
	addr, grpcAddr := freeAddr(t), freeAddr(t)
	var code int
	var errs string
	var wg sync.WaitGroup
	// A long queue delay keeps the request queued when SIGTERM comes.
	wg.Go(func() {
		code, _, errs = mdlc(t, "serve", "--addr", addr, "--grpc-addr", grpcAddr, "--max-queue-delay", "1s", "fashion_cnn")
	})
	url := "http://" + addr
	require.Eventually(t, func() bool {
		resp, err := http.Get(url + "/v2/health/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}, 10*time.Second, 10*time.Millisecond)
	body, _ := json.Marshal(map[string]any{"inputs": []any{map[string]any{"name": "image", "datatype": "FP32", "shape": []int{1, 28, 28, 1}, "data": make([]float32, 784)}}})
	status := make(chan int, 1)
	go func() {
		resp, err := http.Post(url+"/v2/models/fashion_cnn/infer", "application/json", bytes.NewReader(body))
		if err != nil {
			status <- 0
			return
		}
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	grpcErr := make(chan error, 1)
	go func() {
		_, err := inferencepb.NewGRPCInferenceServiceClient(conn).ModelInfer(context.Background(), &inferencepb.ModelInferRequest{
			ModelName:        "fashion_cnn",
			Inputs:           []*inferencepb.ModelInferRequest_InferInputTensor{{Name: "image", Datatype: "FP32", Shape: []int64{1, 28, 28, 1}}},
			RawInputContents: [][]byte{make([]byte, 4*784)},
		})
		grpcErr <- err
	}()
	// SIGTERM once both requests are queued, as the server's gauge says.
	require.Eventually(t, func() bool {
		resp, err := http.Get(url + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), `nv_inference_pending_request_count{model="fashion_cnn",version="1"} 2`)
	}, 10*time.Second, 5*time.Millisecond)
	require.NoError(t, syscall.Kill(syscall.Getpid(), syscall.SIGTERM))
	assert.Equal(t, 200, <-status, "the request in flight is answered")
	assert.NoError(t, <-grpcErr, "the gRPC call in flight is answered")
	wg.Wait()
	assert.Equal(t, 0, code, errs)
	assert.True(t, strings.Contains(errs, `"msg":"stopped"`), errs)
}
