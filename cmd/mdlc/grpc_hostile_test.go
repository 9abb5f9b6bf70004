package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	pb "github.com/mdlc/mdlc/serve/inferencepb"
)

// TestServeHostileGRPCClients attacks `mdlc serve --grpc-addr` in a process
// of its own: bytes that are not HTTP/2, a preface and nothing more, a
// message over --max-body, and connections that open every stream they may
// and send most of a message of --max-body on each, then stall, holding
// what they sent on the server (12 connections × 64 streams × 1 MiB, 768 MiB
// if the server took it all; before the limits of serve/grpcrecv.go, 258 MiB
// got through and the server died). Through each, the health checks answer
// (REST's while the health service itself is the one attacked) and a valid
// call gets a status; the peak RSS stays below serveMaxRSS.
func TestServeHostileGRPCClients(t *testing.T) {
	if testing.Short() {
		t.Skip("builds mdlc and runs a server process")
	}
	addrs := freeAddrs(t, 2)
	script := fmt.Sprintf(`ulimit -v %d && exec "$@"`, addrLimit>>10)
	cmd := exec.Command("sh", "-c", script, "sh", mdlcBinary(t), "serve", "fashion_cnn", "--addr", addrs[0], "--grpc-addr", addrs[1],
		"--max-body", "1MiB", "--max-body-inflight", "4MiB", "--max-queue", "4", "--max-inflight", "16")
	var logs bytes.Buffer
	cmd.Stderr = &logs
	require.NoError(t, cmd.Start())
	defer cmd.Process.Kill()
	conn, err := grpc.NewClient(addrs[1], grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	health := healthpb.NewHealthClient(conn)
	serving := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		r, err := health.Check(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			return err
		}
		if r.Status != healthpb.HealthCheckResponse_SERVING {
			return fmt.Errorf("status %s", r.Status)
		}
		return nil
	}
	require.Eventually(t, func() bool { return serving() == nil }, 20*time.Second, 20*time.Millisecond, "the server never became ready")
	checkHealth := func(stage string) {
		t.Helper()
		assert.NoError(t, serving(), "health during %s", stage)
	}
	infer := pb.NewGRPCInferenceServiceClient(conn)
	valid := &pb.ModelInferRequest{ModelName: "fashion_cnn", Inputs: []*pb.ModelInferRequest_InferInputTensor{{
		Name: "image", Datatype: "FP32", Shape: []int64{1, 28, 28, 1}, Contents: &pb.InferTensorContents{Fp32Contents: make([]float32, 784)}}}}
	call := func() codes.Code {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, err := infer.ModelInfer(ctx, valid)
		return status.Code(err)
	}

	// Not HTTP/2, and a preface with nothing after it.
	var idle []net.Conn
	for i := range 20 {
		c, err := net.Dial("tcp", addrs[1])
		require.NoError(t, err)
		idle = append(idle, c)
		if i%2 == 0 {
			c.Write(bytes.Repeat([]byte("GET / HTTP/1.1\r\n"), 100))
		} else {
			c.Write([]byte(http2.ClientPreface))
		}
	}
	checkHealth("garbage and stalled handshakes")
	assert.Equal(t, codes.OK, call())

	// A message over --max-body.
	big := &pb.ModelInferRequest{ModelName: "fashion_cnn", RawInputContents: [][]byte{make([]byte, 2<<20)}}
	_, err = infer.ModelInfer(context.Background(), big, grpc.MaxCallSendMsgSize(4<<20))
	assert.Equal(t, codes.ResourceExhausted, status.Code(err), "%v", err)

	// Streams that each send most of a 1 MiB message and stall, to
	// ModelInfer and to the health service.
	var wg sync.WaitGroup
	var attackers []*stallingClient
	var mu sync.Mutex
	for i := range 12 {
		method := "/inference.GRPCInferenceService/ModelInfer"
		if i%3 == 2 {
			method = "/grpc.health.v1.Health/Check"
		}
		wg.Go(func() {
			a, err := stallMessages(addrs[1], method, 64, 1<<20-64)
			if err != nil {
				t.Errorf("attacker: %v", err)
				return
			}
			mu.Lock()
			attackers = append(attackers, a)
			mu.Unlock()
		})
	}
	wg.Wait()
	sent := 0
	for _, a := range attackers {
		sent += a.sent
	}
	t.Logf("stalling streams sent %d MiB in all", sent>>20)
	assert.NoError(t, healthy("http://"+addrs[0]), "REST health during stalled messages")
	assert.Contains(t, []codes.Code{codes.OK, codes.ResourceExhausted, codes.Unavailable}, call(), "a valid call beside the stalled ones")

	rss := peakRSS(t, cmd.Process.Pid)
	t.Logf("peak RSS %d MB", rss>>20)
	assert.Less(t, rss, int64(serveMaxRSS))
	for _, a := range attackers {
		a.conn.Close()
	}
	for _, c := range idle {
		c.Close()
	}
	require.Eventually(t, func() bool { return serving() == nil }, 10*time.Second, 50*time.Millisecond, "gRPC health after the attack")
	assert.Equal(t, codes.OK, call())
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), logs.String())
	assert.NotContains(t, logs.String(), "goroutine ")
}

// freeAddrs finds n free localhost addresses.
func freeAddrs(t *testing.T, n int) []string {
	var addrs []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs
}

// stallingClient is an HTTP/2 connection whose streams each sent part of a
// gRPC message.
type stallingClient struct {
	conn net.Conn
	sent int
}

// stallMessages opens streams calls of method on one connection and sends
// on each a message header announcing size bytes, then as much of it as the
// server's flow control lets through, up to all but the last byte; it
// returns once no more may be sent for a while, leaving the calls open.
func stallMessages(addr, method string, streams, size int) (*stallingClient, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	a := &stallingClient{conn: c}
	fail := func(err error) (*stallingClient, error) {
		c.Close()
		return nil, err
	}
	if _, err := c.Write([]byte(http2.ClientPreface)); err != nil {
		return fail(err)
	}
	fr := http2.NewFramer(c, c)
	if err := fr.WriteSettings(); err != nil {
		return fail(err)
	}
	// The server's windows: the connection's (stream 0) and each stream's,
	// grown by its WINDOW_UPDATEs, read on their own goroutine; updates
	// counts the frames that changed them.
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	window := map[uint32]int{0: 65535}
	initial, maxStreams := 65535, streams
	gotSettings, closed, updates := false, false, 0
	go func() {
		for {
			f, err := fr.ReadFrame()
			mu.Lock()
			switch f := f.(type) {
			case nil:
				closed = true
			case *http2.SettingsFrame:
				if !f.IsAck() {
					f.ForeachSetting(func(s http2.Setting) error {
						switch s.ID {
						case http2.SettingInitialWindowSize:
							for id := range window {
								if id != 0 {
									window[id] += int(s.Val) - initial
								}
							}
							initial = int(s.Val)
						case http2.SettingMaxConcurrentStreams:
							maxStreams = min(maxStreams, int(s.Val))
						}
						return nil
					})
					gotSettings = true
				}
			case *http2.WindowUpdateFrame:
				window[f.StreamID] += int(f.Increment)
			case *http2.RSTStreamFrame:
				window[f.StreamID] = -1 << 40 // refused: send it nothing more
			}
			updates++
			cond.Broadcast()
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	mu.Lock()
	for !gotSettings && !closed {
		cond.Wait()
	}
	n := maxStreams
	mu.Unlock()
	if err := fr.WriteSettingsAck(); err != nil {
		return fail(err)
	}
	var hbuf bytes.Buffer
	enc := hpack.NewEncoder(&hbuf)
	left := map[uint32]int{}
	for i := range n {
		id := uint32(2*i + 1)
		hbuf.Reset()
		for _, h := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":path", method},
			{":authority", addr}, {"content-type", "application/grpc"}, {"te", "trailers"}} {
			enc.WriteField(hpack.HeaderField{Name: h[0], Value: h[1]})
		}
		mu.Lock()
		window[id] += initial
		mu.Unlock()
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hbuf.Bytes(), EndHeaders: true}); err != nil {
			return fail(err)
		}
		left[id] = 5 + size - 1
	}
	// Send while any window lets bytes through; stop after 300 ms without.
	chunk := make([]byte, 16<<10)
	header := make([]byte, 5)
	binary.BigEndian.PutUint32(header[1:], uint32(size))
	for {
		progress := false
		for id, l := range left {
			mu.Lock()
			k := min(l, window[id], window[0], len(chunk))
			if k > 0 {
				window[id] -= k
				window[0] -= k
			}
			mu.Unlock()
			if k <= 0 {
				continue
			}
			data := chunk[:k]
			if l == 5+size-1 {
				data = append(append([]byte{}, header...), chunk[:k-5]...)
			}
			if err := fr.WriteData(id, false, data); err != nil {
				return a, nil // the server closed the connection: what it held is freed
			}
			left[id] -= k
			a.sent += k
			progress = true
		}
		if !progress {
			// Wait for a window to grow; give up after 300 ms without.
			mu.Lock()
			before, timedOut := updates, false
			timer := time.AfterFunc(300*time.Millisecond, func() { mu.Lock(); timedOut = true; cond.Broadcast(); mu.Unlock() })
			for updates == before && !timedOut && !closed {
				cond.Wait()
			}
			stop := updates == before
			mu.Unlock()
			timer.Stop()
			if stop {
				return a, nil
			}
		}
	}
}
