package main

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serveMaxRSS bounds the server's peak resident memory through every attack
// below: the process with fashion_cnn loaded is about 30 MB, and the limits
// given (4 MiB of bodies in flight, at most twice that decoded) add little.
const serveMaxRSS = 150 << 20

// TestServeHostileClients runs `mdlc serve` in a process of its own under
// the hostile suite's address-space limit and attacks it: connections that
// never finish their headers or their bodies, bodies far over the limit
// (announced and chunked), a decompression-bomb PNG, and a flood of valid
// requests past its queue and in-flight limits. Through each, health checks
// answer within a second; every request gets a status, never a dropped
// connection; the peak RSS stays below serveMaxRSS; SIGTERM then exits 0.
func TestServeHostileClients(t *testing.T) {
	if testing.Short() {
		t.Skip("builds mdlc and runs a server process")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	script := fmt.Sprintf(`ulimit -v %d && exec "$@"`, addrLimit>>10)
	cmd := exec.Command("sh", "-c", script, "sh", mdlcBinary(t), "serve", "fashion_cnn", "--addr", addr,
		"--max-body", "1MiB", "--max-body-inflight", "4MiB", "--max-queue", "4", "--max-inflight", "16")
	var logs bytes.Buffer
	cmd.Stderr = &logs
	require.NoError(t, cmd.Start())
	defer cmd.Process.Kill()
	url := "http://" + addr
	require.Eventually(t, func() bool { return healthy(url) == nil }, 20*time.Second, 20*time.Millisecond, "the server never became ready")

	checkHealth := func(stage string) {
		t.Helper()
		assert.NoError(t, healthy(url), "health during %s", stage)
	}
	valid, err := jsonBody(1)
	require.NoError(t, err)

	// Slow headers and slow bodies: connections that hold a handler or a
	// reader open and send nothing more.
	var conns []net.Conn
	for i := range 40 {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		conns = append(conns, c)
		if i%2 == 0 {
			fmt.Fprintf(c, "POST /v2/models/fashion_cnn/infer HTTP/1.1\r\nHost: x\r\nX-Slow: ")
		} else {
			fmt.Fprintf(c, "POST /v2/models/fashion_cnn/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{\"inputs\":[")
		}
	}
	time.Sleep(200 * time.Millisecond)
	checkHealth("slow headers and bodies")
	status, _ := postStatus(url, "application/json", valid, -1)
	assert.Equal(t, 200, status, "a valid request beside the slow connections")

	// Bodies over the limit: announced, and chunked without a length.
	status, _ = postStatus(url, "application/json", bytes.Repeat([]byte(" "), 3<<20), -1)
	assert.Equal(t, 413, status)
	status, _ = postStatus(url, "application/json", bytes.Repeat([]byte(" "), 3<<20), 0)
	assert.Equal(t, 413, status, "chunked")
	checkHealth("huge bodies")

	// A decompression bomb: 8000×6000 pixels of one colour, some 50 KB of
	// PNG that would decode to 48 MB or more.
	var bomb bytes.Buffer
	require.NoError(t, png.Encode(&bomb, image.NewGray(image.Rect(0, 0, 8000, 6000))))
	status, msg := postStatus(url, "image/png", bomb.Bytes(), -1)
	assert.Equal(t, 413, status, msg)
	checkHealth("a decompression bomb")

	// A flood: 200 valid requests at once, past the queue of 4 and the 16
	// in flight. Each is answered: 200, or 429/503 to retry.
	var wg sync.WaitGroup
	counts := map[int]int{}
	var mu sync.Mutex
	for range 200 {
		wg.Go(func() {
			status, _ := postStatus(url, "application/json", valid, -1)
			mu.Lock()
			counts[status]++
			mu.Unlock()
		})
	}
	checkHealth("a flood")
	wg.Wait()
	for code := range counts {
		assert.Contains(t, []int{200, 429, 503}, code, "statuses %v", counts)
	}
	assert.Positive(t, counts[200], "statuses %v", counts)
	t.Logf("flood of 200: statuses %v", counts)
	checkHealth("after the flood")

	for _, c := range conns {
		c.Close()
	}
	rss := peakRSS(t, cmd.Process.Pid)
	t.Logf("peak RSS %d MB", rss>>20)
	assert.Less(t, rss, int64(serveMaxRSS))
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), logs.String())
	assert.NotContains(t, logs.String(), "goroutine ")
}

func healthy(url string) error {
	c := &http.Client{Timeout: time.Second}
	resp, err := c.Get(url + "/v2/health/ready")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// jsonBody is an infer request for fashion_cnn of rows images.
func jsonBody(rows int) ([]byte, error) {
	data := strings.TrimSuffix(strings.Repeat("0.5,", rows*784), ",")
	return []byte(`{"inputs":[{"name":"image","datatype":"FP32","shape":[` + strconv.Itoa(rows) + `,28,28,1],"data":[` + data + `]}]}`), nil
}

// postStatus posts body and returns the status and the answer; length -1
// sends a Content-Length, 0 sends the body chunked without one.
func postStatus(url, contentType string, body []byte, length int) (int, string) {
	var r io.Reader = bytes.NewReader(body)
	if length == 0 {
		r = io.MultiReader(r) // not a *bytes.Reader: net/http sends it chunked
	}
	req, err := http.NewRequest(http.MethodPost, url+"/v2/models/fashion_cnn/infer", r)
	if err != nil {
		return 0, err.Error()
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// peakRSS is a process's peak resident memory (VmHWM).
func peakRSS(t *testing.T, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/PID/status")
	return 0
}
