package serve

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/compile"
	"github.com/mdlc/mdlc/stdlib"
	"github.com/mdlc/mdlc/tensor"
)

const coat = "../testdata/images/fashion-mnist/coat_6.png"

// newTestServer serves the stdlib models named, loaded.
func newTestServer(t *testing.T, o Options, names ...string) (*Server, *httptest.Server) {
	t.Helper()
	specs, err := SpecsFromFiles(names)
	require.NoError(t, err)
	o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := New(specs, o)
	require.NoError(t, err)
	require.NoError(t, s.Load())
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		ts.Close()
		s.Close()
	})
	return s, ts
}

// runOutputs is what `mdlc run` computes for the model on the input file:
// the same driver calls its command makes.
func runOutputs(t *testing.T, model string, input string) (*tensor.Tensor, *tensor.Tensor) {
	t.Helper()
	o := &compile.Options{}
	m, err := o.Load(model)
	require.NoError(t, err)
	fed, err := o.ReadInputs(m, []string{input})
	require.NoError(t, err)
	c, err := o.Compile(m, compile.Shape{}, fed)
	require.NoError(t, err)
	outs, err := o.Execute(c, fed)
	require.NoError(t, err)
	return fed[m.Graph.Inputs[0].Name], outs[m.Graph.Outputs[0].Name]
}

type testResponse struct {
	ModelName    string `json:"model_name"`
	ModelVersion string `json:"model_version"`
	ID           string `json:"id"`
	Outputs      []struct {
		Name       string         `json:"name"`
		Datatype   string         `json:"datatype"`
		Shape      []int          `json:"shape"`
		Data       []float32      `json:"data"`
		Parameters map[string]any `json:"parameters"`
	} `json:"outputs"`
}

func jsonTensor(name, dt string, shape []int, data any) map[string]any {
	return map[string]any{"name": name, "datatype": dt, "shape": shape, "data": data}
}

func post(t *testing.T, url, contentType string, body []byte, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

func postJSON(t *testing.T, url string, v any) (*http.Response, []byte) {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return post(t, url, "application/json", b, nil)
}

func get(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	var v map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
	return resp.StatusCode, v
}

func TestHealthAndMetadata(t *testing.T) {
	_, ts := newTestServer(t, DefaultOptions(), "fashion_cnn")
	code, v := get(t, ts.URL+"/v2/health/live")
	assert.Equal(t, 200, code)
	assert.Equal(t, true, v["live"])
	code, v = get(t, ts.URL+"/v2/health/ready")
	assert.Equal(t, 200, code)
	assert.Equal(t, true, v["ready"])
	code, v = get(t, ts.URL+"/v2")
	assert.Equal(t, 200, code)
	assert.Equal(t, "mdlc", v["name"])
	assert.Equal(t, []any{"binary_tensor_data"}, v["extensions"])
	for _, path := range []string{"/v2/models/fashion_cnn", "/v2/models/fashion_cnn/versions/1"} {
		code, v = get(t, ts.URL+path)
		assert.Equal(t, 200, code, path)
		assert.Equal(t, "fashion_cnn", v["name"])
		assert.Equal(t, []any{"1"}, v["versions"])
		assert.Equal(t, []any{map[string]any{"name": "image", "datatype": "FP32", "shape": []any{-1.0, 28.0, 28.0, 1.0}}}, v["inputs"])
		assert.Equal(t, []any{map[string]any{"name": "probs", "datatype": "FP32", "shape": []any{-1.0, 10.0}}}, v["outputs"])
	}
	for _, path := range []string{"/v2/models/fashion_cnn/ready", "/v2/models/fashion_cnn/versions/1/ready"} {
		code, v = get(t, ts.URL+path)
		assert.Equal(t, 200, code, path)
		assert.Equal(t, true, v["ready"])
	}
	code, v = get(t, ts.URL+"/v2/models/nope")
	assert.Equal(t, 404, code)
	assert.Equal(t, `unknown model "nope"`, v["error"])
	code, v = get(t, ts.URL+"/v2/models/fashion_cnn/versions/2/ready")
	assert.Equal(t, 404, code)
	assert.Equal(t, `model "fashion_cnn" has no version "2"`, v["error"])
}

// unloadedServer is a server of the stdlib models named, not loaded yet.
func unloadedServer(t *testing.T, names ...string) *Server {
	t.Helper()
	specs, err := SpecsFromFiles(names)
	require.NoError(t, err)
	o := DefaultOptions()
	o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := New(specs, o)
	require.NoError(t, err)
	return s
}

func TestNotReadyUntilLoaded(t *testing.T) {
	s := unloadedServer(t, "fashion_cnn")
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	code, _ := get(t, ts.URL+"/v2/health/live")
	assert.Equal(t, 200, code, "live before the models load")
	code, v := get(t, ts.URL+"/v2/health/ready")
	assert.Equal(t, 503, code)
	assert.Equal(t, false, v["ready"])
	code, v = get(t, ts.URL+"/v2/models/fashion_cnn/ready")
	assert.Equal(t, 503, code)
	assert.Equal(t, false, v["ready"])
	resp, _ := postJSON(t, ts.URL+"/v2/models/fashion_cnn/infer", map[string]any{})
	assert.Equal(t, 503, resp.StatusCode)
	require.NoError(t, s.Load())
	defer s.Close()
	code, _ = get(t, ts.URL+"/v2/health/ready")
	assert.Equal(t, 200, code)
}

// TestInferJSONMatchesRun: the JSON form answers what `mdlc run` computes
// for the same image, exactly (the shortest float32 text round-trips).
func TestInferJSONMatchesRun(t *testing.T) {
	_, ts := newTestServer(t, DefaultOptions(), "fashion_cnn")
	img, want := runOutputs(t, "fashion_cnn", coat)
	for _, path := range []string{"/v2/models/fashion_cnn/infer", "/v2/models/fashion_cnn/versions/1/infer"} {
		resp, body := postJSON(t, ts.URL+path, map[string]any{
			"id":     "coat-6",
			"inputs": []any{jsonTensor("image", "FP32", img.Shape, img.Data)},
		})
		require.Equal(t, 200, resp.StatusCode, string(body))
		assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		var r testResponse
		require.NoError(t, json.Unmarshal(body, &r))
		assert.Equal(t, "fashion_cnn", r.ModelName)
		assert.Equal(t, "1", r.ModelVersion)
		assert.Equal(t, "coat-6", r.ID)
		require.Len(t, r.Outputs, 1)
		assert.Equal(t, "probs", r.Outputs[0].Name)
		assert.Equal(t, "FP32", r.Outputs[0].Datatype)
		assert.Equal(t, []int{1, 10}, r.Outputs[0].Shape)
		assert.Equal(t, want.Data, r.Outputs[0].Data)
	}
}

// TestInferPythonJSON: JSON as Python's json.dumps writes it, spaces after
// every separator, and with fields the server does not know.
func TestInferPythonJSON(t *testing.T) {
	_, ts := newTestServer(t, DefaultOptions(), "fashion_cnn")
	data := strings.Repeat("0.5, ", 783) + "0.5"
	body := `{"id": "a\u00e9", "inputs": [{"name": "image", "datatype": "FP32", "shape": [1, 28, 28, 1], "data": [` + data + `], "extra": {"x": [1, {"y": null}]}}], "outputs": [ {"name": "probs"} ], "parameters": {"k": 1.5e3, "b": false}}`
	resp, b := post(t, ts.URL+"/v2/models/fashion_cnn/infer", "application/json", []byte(body), nil)
	require.Equal(t, 200, resp.StatusCode, string(b))
	var r testResponse
	require.NoError(t, json.Unmarshal(b, &r))
	assert.Equal(t, "aé", r.ID)
	assert.Equal(t, []int{1, 10}, r.Outputs[0].Shape)
}

// TestInferImage: a PNG body is decoded as mdlc run decodes --input, so
// the answer is run's exactly; an image the model cannot take is refused
// before it is decoded.
func TestInferImage(t *testing.T) {
	_, ts := newTestServer(t, DefaultOptions(), "fashion_cnn", "gpt")
	_, want := runOutputs(t, "fashion_cnn", coat)
	png, err := os.ReadFile(coat)
	require.NoError(t, err)
	resp, b := post(t, ts.URL+"/v2/models/fashion_cnn/infer", "image/png", png, nil)
	require.Equal(t, 200, resp.StatusCode, string(b))
	var r testResponse
	require.NoError(t, json.Unmarshal(b, &r))
	assert.Equal(t, []int{1, 10}, r.Outputs[0].Shape)
	assert.Equal(t, want.Data, r.Outputs[0].Data)

	resp, b = post(t, ts.URL+"/v2/models/gpt/infer", "image/png", png, nil)
	assert.Equal(t, 415, resp.StatusCode, string(b))
	assert.Contains(t, string(b), "not an image")
	resp, b = post(t, ts.URL+"/v2/models/fashion_cnn/infer", "image/jpeg", []byte("not a jpeg"), nil)
	assert.Equal(t, 400, resp.StatusCode, string(b))
	assert.Contains(t, string(b), "not a PNG, JPEG or GIF image")
	// A 2000×1000 PNG of one colour: 6 KB that would decode to 8 MB, more
	// pixels than a 28×28 input takes.
	var big bytes.Buffer
	require.NoError(t, pngEncode(&big, 2000, 1000))
	resp, b = post(t, ts.URL+"/v2/models/fashion_cnn/infer", "image/png", big.Bytes(), nil)
	assert.Equal(t, 413, resp.StatusCode, string(b))
	assert.Contains(t, string(b), "image is 2000x1000, more than the 1048576 pixels model fashion_cnn's 28x28 input takes")
}

func pngEncode(w io.Writer, width, height int) error {
	return png.Encode(w, image.NewGray(image.Rect(0, 0, width, height)))
}

// TestInferNestedData: nested row-major data is the same tensor as flat.
func TestInferNestedData(t *testing.T) {
	_, ts := newTestServer(t, DefaultOptions(), "fashion_cnn")
	img, want := runOutputs(t, "fashion_cnn", coat)
	nested := make([][][][]float32, 1)
	nested[0] = make([][][]float32, 28)
	for y := range 28 {
		nested[0][y] = make([][]float32, 28)
		for x := range 28 {
			nested[0][y][x] = []float32{img.Data[y*28+x]}
		}
	}
	resp, body := postJSON(t, ts.URL+"/v2/models/fashion_cnn/infer", map[string]any{"inputs": []any{jsonTensor("image", "FP32", img.Shape, nested)}})
	require.Equal(t, 200, resp.StatusCode, string(body))
	var r testResponse
	require.NoError(t, json.Unmarshal(body, &r))
	assert.Equal(t, want.Data, r.Outputs[0].Data)
}

// binaryRequest is an infer request in the binary extension's form: the
// JSON header, then each input's little-endian bytes.
func binaryRequest(t *testing.T, header map[string]any, tensors ...[]float32) ([]byte, int) {
	h, err := json.Marshal(header)
	require.NoError(t, err)
	body := append([]byte{}, h...)
	for _, d := range tensors {
		for _, v := range d {
			body = binary.LittleEndian.AppendUint32(body, math.Float32bits(v))
		}
	}
	return body, len(h)
}

func TestInferBinaryMatchesRun(t *testing.T) {
	_, ts := newTestServer(t, DefaultOptions(), "fashion_cnn")
	img, want := runOutputs(t, "fashion_cnn", coat)
	body, hlen := binaryRequest(t, map[string]any{
		"inputs":  []any{map[string]any{"name": "image", "datatype": "FP32", "shape": img.Shape, "parameters": map[string]any{"binary_data_size": 4 * len(img.Data)}}},
		"outputs": []any{map[string]any{"name": "probs", "parameters": map[string]any{"binary_data": true}}},
	}, img.Data)
	resp, out := post(t, ts.URL+"/v2/models/fashion_cnn/infer", "application/octet-stream", body, map[string]string{"Inference-Header-Content-Length": strconv.Itoa(hlen)})
	require.Equal(t, 200, resp.StatusCode, string(out))
	assert.Equal(t, "application/octet-stream", resp.Header.Get("Content-Type"))
	n, err := strconv.Atoi(resp.Header.Get("Inference-Header-Content-Length"))
	require.NoError(t, err)
	var r testResponse
	require.NoError(t, json.Unmarshal(out[:n], &r))
	assert.Equal(t, []int{1, 10}, r.Outputs[0].Shape)
	assert.Equal(t, 40.0, r.Outputs[0].Parameters["binary_data_size"])
	assert.Nil(t, r.Outputs[0].Data)
	got := make([]float32, 10)
	require.Len(t, out[n:], 40)
	for i := range got {
		got[i] = math.Float32frombits(binary.LittleEndian.Uint32(out[n+4*i:]))
	}
	assert.Equal(t, want.Data, got)

	// Binary in, JSON out; and binary_data_output for every output.
	body, hlen = binaryRequest(t, map[string]any{
		"inputs": []any{map[string]any{"name": "image", "datatype": "FP32", "shape": img.Shape, "parameters": map[string]any{"binary_data_size": 4 * len(img.Data)}}},
	}, img.Data)
	resp, out = post(t, ts.URL+"/v2/models/fashion_cnn/infer", "", body, map[string]string{"Inference-Header-Content-Length": strconv.Itoa(hlen)})
	require.Equal(t, 200, resp.StatusCode, string(out))
	require.NoError(t, json.Unmarshal(out, &r))
	assert.Equal(t, want.Data, r.Outputs[0].Data)
	resp, out = postJSON(t, ts.URL+"/v2/models/fashion_cnn/infer", map[string]any{
		"parameters": map[string]any{"binary_data_output": true},
		"inputs":     []any{jsonTensor("image", "FP32", img.Shape, img.Data)},
	})
	require.Equal(t, 200, resp.StatusCode, string(out))
	assert.NotEmpty(t, resp.Header.Get("Inference-Header-Content-Length"))
}

// TestInferBatchedRequest: a request of several rows gets what `mdlc run`
// gives for the same rows, and each row, to float32 rounding, what it gets
// alone (a plan for another batch size may block its loops otherwise).
func TestInferBatchedRequest(t *testing.T) {
	_, ts := newTestServer(t, DefaultOptions(), "fashion_cnn")
	img, want := runOutputs(t, "fashion_cnn", coat)
	x := tensor.New(2, 28, 28, 1)
	copy(x.Data, img.Data)
	for i, v := range img.Data {
		x.Data[784+i] = 1 - v
	}
	_, want2 := runOutputs(t, "fashion_cnn", writeNpy(t, x))
	resp, body := postJSON(t, ts.URL+"/v2/models/fashion_cnn/infer", map[string]any{"inputs": []any{jsonTensor("image", "FP32", []int{2, 28, 28, 1}, x.Data)}})
	require.Equal(t, 200, resp.StatusCode, string(body))
	var r testResponse
	require.NoError(t, json.Unmarshal(body, &r))
	assert.Equal(t, []int{2, 10}, r.Outputs[0].Shape)
	assert.Equal(t, want2.Data, r.Outputs[0].Data)
	assert.InDeltaSlice(t, want.Data, r.Outputs[0].Data[:10], 1e-5)
}

func writeNpy(t *testing.T, x *tensor.Tensor) string {
	path := t.TempDir() + "/x.npy"
	require.NoError(t, tensor.WriteNpyFile(path, x))
	return path
}

// TestDynamicBatching: concurrent requests queued within the delay run as
// one execution, and each gets its own rows.
func TestDynamicBatching(t *testing.T) {
	o := DefaultOptions()
	o.MaxBatch = 8
	o.MaxQueueDelay = 2 * time.Second // long enough that all 6 arrive; the full batch below runs at once
	s, ts := newTestServer(t, o, "fashion_cnn")
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
	codes := make([]int, n)
	for i := range n {
		wg.Go(func() {
			b, _ := json.Marshal(map[string]any{"inputs": []any{jsonTensor("image", "FP32", []int{1, 28, 28, 1}, inputs[i])}})
			resp, err := http.Post(ts.URL+"/v2/models/fashion_cnn/infer", "application/json", bytes.NewReader(b))
			if err != nil {
				return
			}
			defer resp.Body.Close()
			codes[i] = resp.StatusCode
			var r testResponse
			if json.NewDecoder(resp.Body).Decode(&r) == nil && len(r.Outputs) == 1 {
				got[i] = r.Outputs[0].Data
			}
		})
	}
	wg.Wait()
	for i := range n {
		require.Equal(t, 200, codes[i])
		assert.InDeltaSlice(t, wants[i], got[i], 1e-5, "request %d gets its own rows", i)
	}
	mm := s.models[0].metrics
	assert.Equal(t, int64(1), mm.execs.Load(), "8 requests of one row, max batch 8: one execution")
	assert.Equal(t, int64(n), mm.inferences.Load())
	assert.Equal(t, int64(n), mm.success.Load())
}

func TestInferErrors(t *testing.T) {
	o := DefaultOptions()
	o.MaxBody = 1 << 20
	_, ts := newTestServer(t, o, "fashion_cnn", "gpt")
	url := ts.URL + "/v2/models/fashion_cnn/infer"
	img := make([]float32, 28*28)
	binHeader := `{"inputs":[{"name":"image","datatype":"FP32","shape":[1,28,28,1],"parameters":{"binary_data_size":3136}}]}`
	cases := []struct {
		name   string
		url    string
		ct     string
		body   string
		header map[string]string
		status int
		msg    string
	}{
		{"unknown model", ts.URL + "/v2/models/nope/infer", "application/json", `{}`, nil, 404, `unknown model "nope"`},
		{"unknown version", ts.URL + "/v2/models/fashion_cnn/versions/9/infer", "application/json", `{}`, nil, 404, `has no version "9"`},
		{"bad JSON", url, "application/json", `{"inputs": [`, nil, 400, "not valid JSON"},
		{"no inputs", url, "application/json", `{"inputs": []}`, nil, 400, "no inputs"},
		{"wrong content type", url, "text/plain", `{}`, nil, 415, `content type "text/plain"`},
		{"wrong dtype", url, "application/json", body(jsonTensor("image", "INT64", []int{1, 28, 28, 1}, make([]int, 784))), nil, 400, `datatype "INT64" is not FP32`},
		{"wrong shape", url, "application/json", body(jsonTensor("image", "FP32", []int{1, 28, 27, 1}, img[:756])), nil, 400, "axis 2 is 27, want 28"},
		{"wrong rank", url, "application/json", body(jsonTensor("image", "FP32", []int{784}, img)), nil, 400, "has rank 1"},
		{"too few values", url, "application/json", body(jsonTensor("image", "FP32", []int{1, 28, 28, 1}, img[:700])), nil, 400, "data holds 700 values, but its shape calls for 784"},
		{"too many values", url, "application/json", body(jsonTensor("image", "FP32", []int{1, 28, 28, 1}, append(img, 1))), nil, 400, "more values than its shape's 784"},
		{"not a number", url, "application/json", `{"inputs":[{"name":"image","datatype":"FP32","shape":[1,28,28,1],"data":[` + strings.Repeat("1,", 783) + `"x"]}]}`, nil, 400, `data[783]: "\"x\"" is not a JSON number`},
		{"unknown input", url, "application/json", body(jsonTensor("pixels", "FP32", []int{1, 28, 28, 1}, img)), nil, 400, `no input "pixels"; its inputs are image FP32[N, 28, 28, 1]`},
		{"over max batch", url, "application/json", body(jsonTensor("image", "FP32", []int{9, 28, 28, 1}, make([]float32, 9*784))), nil, 400, "batch of 9 is more than model fashion_cnn takes at once (8)"},
		{"huge shape", url, "application/json", body(jsonTensor("image", "FP32", []int{1, 28, 28, 1 << 30}, img)), nil, 400, "want 1"},
		{"unknown output", url, "application/json", `{"inputs":[` + tensorJSON(jsonTensor("image", "FP32", []int{1, 28, 28, 1}, img)) + `],"outputs":[{"name":"logits"}]}`, nil, 400, `no output "logits"`},
		{"oversized body", url, "application/json", `{"inputs":[` + strings.Repeat(" ", 2<<20) + `]}`, nil, 413, "larger than the server's limit"},
		{"binary size past the body", url, "application/octet-stream", binHeader, map[string]string{"Inference-Header-Content-Length": strconv.Itoa(len(binHeader))}, 400, "binary_data_size 3136 is more than the 0 bytes left"},
		{"header length past the body", url, "application/octet-stream", binHeader, map[string]string{"Inference-Header-Content-Length": "100000"}, 400, "Inference-Header-Content-Length is 100000, but the body is"},
		{"token ids as floats", ts.URL + "/v2/models/gpt/infer", "application/json", body(jsonTensor("ids", "FP32", []int{1, 4}, []float32{1, 2, 3, 4})), nil, 400, `datatype "FP32" is not INT32 or INT64`},
		{"token id out of vocabulary", ts.URL + "/v2/models/gpt/infer", "application/json", body(jsonTensor("ids", "INT64", []int{1, 4}, []int{1, 2, 3, 1 << 40})), nil, 400, "outside the vocabulary"},
		{"sequence over the model's bound", ts.URL + "/v2/models/gpt/infer", "application/json", body(jsonTensor("ids", "INT32", []int{1, 300}, make([]int, 300))), nil, 400, "256"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, b := post(t, c.url, c.ct, []byte(c.body), c.header)
			assert.Equal(t, c.status, resp.StatusCode, string(b))
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			var e errorBody
			require.NoError(t, json.Unmarshal(b, &e), string(b))
			assert.Contains(t, e.Error, c.msg)
		})
	}
}

func body(inputs ...map[string]any) string {
	var parts []string
	for _, in := range inputs {
		parts = append(parts, tensorJSON(in))
	}
	return `{"inputs":[` + strings.Join(parts, ",") + `]}`
}

func tensorJSON(in map[string]any) string {
	b, err := json.Marshal(in)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestTokenIDs: a token-id model takes INT32 and INT64 ids alike, and
// sequences of different lengths each get their plan.
func TestTokenIDs(t *testing.T) {
	o := DefaultOptions()
	o.MaxPlans = 2
	s, ts := newTestServer(t, o, "gpt")
	var first []float32
	for _, dt := range []string{"INT32", "INT64"} {
		resp, b := postJSON(t, ts.URL+"/v2/models/gpt/infer", map[string]any{"inputs": []any{jsonTensor("ids", dt, []int{1, 4}, []int{5, 6, 7, 8})}})
		require.Equal(t, 200, resp.StatusCode, string(b))
		var r testResponse
		require.NoError(t, json.Unmarshal(b, &r))
		if first == nil {
			first = r.Outputs[0].Data
		}
		assert.Equal(t, first, r.Outputs[0].Data)
	}
	for _, shape := range [][]int{{2, 3}, {1, 5}, {1, 6}} {
		ids := make([]int, shape[0]*shape[1])
		resp, b := postJSON(t, ts.URL+"/v2/models/gpt/infer", map[string]any{"inputs": []any{jsonTensor("ids", "INT64", shape, ids)}})
		require.Equal(t, 200, resp.StatusCode, string(b))
		var r testResponse
		require.NoError(t, json.Unmarshal(b, &r))
		assert.Equal(t, shape, r.Outputs[0].Shape[:2])
	}
	assert.Len(t, s.models[0].plans.plans, 2, "the cache keeps MaxPlans plans")
}

// TestQueueFull: past MaxQueue waiting requests, a request is refused at
// once with 503 and Retry-After, and counted as rejected.
func TestQueueFull(t *testing.T) {
	o := DefaultOptions()
	o.MaxQueue = 1
	s, ts := newTestServer(t, o, "fashion_cnn")
	m := s.models[0]
	// Park the only worker: stop it and keep the queue's one slot taken.
	m.batcher.close()
	m.batcher = newBatcher(m)
	m.batcher.q <- &job{done: make(chan jobResult, 1), cancelled: make(chan struct{})}
	resp, b := postJSON(t, ts.URL+"/v2/models/fashion_cnn/infer", map[string]any{"inputs": []any{jsonTensor("image", "FP32", []int{1, 28, 28, 1}, make([]float32, 784))}})
	assert.Equal(t, 503, resp.StatusCode, string(b))
	assert.Equal(t, "1", resp.Header.Get("Retry-After"))
	assert.Contains(t, string(b), "queue is full")
	assert.Equal(t, int64(1), m.metrics.failure[reasonRejected].Load())
	<-m.batcher.q
	m.batcher.start()
}

// TestRequestTimeout: a request not answered within RequestTimeout gets
// 504, and the batcher skips it.
func TestRequestTimeout(t *testing.T) {
	o := DefaultOptions()
	o.RequestTimeout = 50 * time.Millisecond
	s, ts := newTestServer(t, o, "fashion_cnn")
	m := s.models[0]
	m.batcher.close()
	// Not started, and every execution slot taken: nothing runs.
	m.batcher = newBatcher(m)
	for range cap(m.batcher.slots) {
		m.batcher.slots <- struct{}{}
	}
	resp, b := postJSON(t, ts.URL+"/v2/models/fashion_cnn/infer", map[string]any{"inputs": []any{jsonTensor("image", "FP32", []int{1, 28, 28, 1}, make([]float32, 784))}})
	assert.Equal(t, 504, resp.StatusCode, string(b))
	assert.Equal(t, int64(1), m.metrics.failure[reasonCanceled].Load())
	for range cap(m.batcher.slots) {
		<-m.batcher.slots
	}
	m.batcher.start()
}

// TestLoneRequestRunsInline: a request that finds the queue empty and a
// slot free runs on its own goroutine (no worker is started here), with the
// answer a worker gives; with a queue delay a batchable model's request
// waits for company in the queue instead.
func TestLoneRequestRunsInline(t *testing.T) {
	img, want := runOutputs(t, "fashion_cnn", coat)
	req := map[string]any{"inputs": []any{jsonTensor("image", "FP32", img.Shape, img.Data)}}
	for _, delay := range []time.Duration{0, time.Hour} {
		o := DefaultOptions()
		o.MaxQueueDelay = delay
		o.RequestTimeout = 200 * time.Millisecond
		s, ts := newTestServer(t, o, "fashion_cnn")
		m := s.models[0]
		m.batcher.close()
		m.batcher = newBatcher(m) // no workers
		resp, b := postJSON(t, ts.URL+"/v2/models/fashion_cnn/infer", req)
		if delay > 0 {
			assert.Equal(t, 504, resp.StatusCode, string(b))
			<-m.batcher.q
		} else {
			require.Equal(t, 200, resp.StatusCode, string(b))
			var r testResponse
			require.NoError(t, json.Unmarshal(b, &r))
			assert.Equal(t, want.Data, r.Outputs[0].Data)
			assert.Equal(t, int64(1), m.metrics.execs.Load())
			assert.Equal(t, int64(0), m.metrics.queued.Load(), "nothing pending")
		}
		m.batcher.start()
	}
}

// TestPanicIsA500: a panic in a handler is answered 500 and logged, and
// the server goes on.
func TestPanicIsA500(t *testing.T) {
	var logs bytes.Buffer
	s := &Server{log: slog.New(slog.NewTextHandler(&logs, nil))}
	h := s.middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("boom") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/v2", nil))
	assert.Equal(t, 500, rec.Code)
	assert.JSONEq(t, `{"error":"internal server error (logged)"}`, rec.Body.String())
	assert.Contains(t, logs.String(), "panic in a handler")
	assert.Contains(t, logs.String(), "boom")
}

func TestMetrics(t *testing.T) {
	_, ts := newTestServer(t, DefaultOptions(), "fashion_cnn")
	img, _ := runOutputs(t, "fashion_cnn", coat)
	for range 3 {
		resp, _ := postJSON(t, ts.URL+"/v2/models/fashion_cnn/infer", map[string]any{"inputs": []any{jsonTensor("image", "FP32", img.Shape, img.Data)}})
		require.Equal(t, 200, resp.StatusCode)
	}
	post(t, ts.URL+"/v2/models/fashion_cnn/infer", "application/json", []byte("{"), nil)
	resp, err := http.Get(ts.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	text := string(b)
	assert.Equal(t, "text/plain; version=0.0.4; charset=utf-8", resp.Header.Get("Content-Type"))
	for _, line := range []string{
		`nv_inference_request_success{model="fashion_cnn",version="1"} 3`,
		`nv_inference_request_failure{model="fashion_cnn",version="1",reason="REJECTED"} 1`,
		`nv_inference_count{model="fashion_cnn",version="1"} 3`,
		`nv_inference_exec_count{model="fashion_cnn",version="1"} 3`,
		`mdlc_inference_requests_total{model="fashion_cnn",version="1",code="200"} 3`,
		`mdlc_inference_requests_total{model="fashion_cnn",version="1",code="400"} 1`,
		`mdlc_inference_request_duration_seconds_count{model="fashion_cnn",version="1"} 4`,
		`mdlc_inference_batch_size_bucket{model="fashion_cnn",version="1",le="1"} 3`,
		`mdlc_inference_batch_size_bucket{model="fashion_cnn",version="1",le="+Inf"} 3`,
		"# TYPE nv_inference_queue_duration_us counter",
		"# TYPE nv_inference_compute_infer_duration_us counter",
	} {
		assert.Contains(t, text, line+"\n")
	}
}

func TestRepository(t *testing.T) {
	dir := t.TempDir()
	src, ok := stdlib.Source("fashion_cnn")
	require.True(t, ok)
	for _, v := range []string{"1", "3"} {
		require.NoError(t, mkfile(dir+"/fashion/"+v+"/model.mdl", src))
	}
	specs, err := SpecsFromRepository(dir)
	require.NoError(t, err)
	require.Len(t, specs, 2)
	assert.Equal(t, Spec{Name: "fashion", Version: "1", Path: dir + "/fashion/1/model.mdl"}, specs[0])
	o := DefaultOptions()
	o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := New(specs, o)
	require.NoError(t, err)
	require.NoError(t, s.Load())
	defer s.Close()
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	code, v := get(t, ts.URL+"/v2/models/fashion")
	assert.Equal(t, 200, code)
	assert.Equal(t, []any{"1", "3"}, v["versions"])
	resp, b := postJSON(t, ts.URL+"/v2/models/fashion/infer", map[string]any{"inputs": []any{jsonTensor("image", "FP32", []int{1, 28, 28, 1}, make([]float32, 784))}})
	require.Equal(t, 200, resp.StatusCode, string(b))
	assert.Contains(t, string(b), `"model_version":"3"`, "no version named: the highest")

	require.NoError(t, mkfile(dir+"/bad/v1/model.mdl", src))
	_, err = SpecsFromRepository(dir)
	assert.ErrorContains(t, err, `version directory "v1"`)
}

// TestVersionChoice: a request that names no version goes to the highest
// version that is ready: one that failed to load (3) is passed over, not
// answered with 503, while naming it still reaches it.
func TestVersionChoice(t *testing.T) {
	dir := t.TempDir()
	src, ok := stdlib.Source("fashion_cnn")
	require.True(t, ok)
	require.NoError(t, mkfile(dir+"/fashion/1/model.mdl", src))
	require.NoError(t, mkfile(dir+"/fashion/2/model.mdl", src))
	require.NoError(t, mkfile(dir+"/fashion/3/model.mdl", []byte("model broken {")))
	specs, err := SpecsFromRepository(dir)
	require.NoError(t, err)
	o := DefaultOptions()
	o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := New(specs, o)
	require.NoError(t, err)
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	req := map[string]any{"inputs": []any{jsonTensor("image", "FP32", []int{1, 28, 28, 1}, make([]float32, 784))}}

	// Before loading nothing is ready: the highest version reports it.
	resp, b := postJSON(t, ts.URL+"/v2/models/fashion/infer", req)
	assert.Equal(t, 503, resp.StatusCode)
	assert.Contains(t, string(b), "model fashion version 3 is not ready")

	assert.ErrorContains(t, s.Load(), "version 3")
	defer s.Close()
	resp, b = postJSON(t, ts.URL+"/v2/models/fashion/infer", req)
	require.Equal(t, 200, resp.StatusCode, string(b))
	assert.Contains(t, string(b), `"model_version":"2"`)
	code, v := get(t, ts.URL+"/v2/models/fashion")
	assert.Equal(t, 200, code)
	assert.Equal(t, []any{"1", "2", "3"}, v["versions"])
	code, v = get(t, ts.URL+"/v2/models/fashion/ready")
	assert.Equal(t, 200, code)
	assert.Equal(t, "2", v["version"])
	resp, b = postJSON(t, ts.URL+"/v2/models/fashion/versions/3/infer", req)
	assert.Equal(t, 503, resp.StatusCode)
	assert.Contains(t, string(b), "model fashion version 3 is not ready")
	resp, b = postJSON(t, ts.URL+"/v2/models/fashion/versions/1/infer", req)
	require.Equal(t, 200, resp.StatusCode, string(b))
	assert.Contains(t, string(b), `"model_version":"1"`)
}

func TestSpecsFromFiles(t *testing.T) {
	specs, err := SpecsFromFiles([]string{"fashion_cnn", "../stdlib/lenet.mdl"})
	require.NoError(t, err)
	assert.Equal(t, []Spec{{Name: "fashion_cnn", Version: "1", Path: "fashion_cnn"}, {Name: "lenet", Version: "1", Path: "../stdlib/lenet.mdl"}}, specs)
	_, err = SpecsFromFiles([]string{"lenet", "../stdlib/lenet.mdl"})
	assert.ErrorContains(t, err, "two models are named lenet")
	_, err = SpecsFromFiles([]string{"a b.mdl"})
	assert.ErrorContains(t, err, "not a usable name")

	// NAME=PATH, a file or a version directory as KServe's storage
	// initializer fills /mnt/models.
	dir := t.TempDir()
	src, ok := stdlib.Source("fashion_cnn")
	require.True(t, ok)
	require.NoError(t, mkfile(dir+"/model.mdl", src))
	require.NoError(t, mkfile(dir+"/weights.safetensors", nil))
	specs, err = SpecsFromFiles([]string{"clothes=" + dir, "digits=../stdlib/lenet.mdl"})
	require.NoError(t, err)
	assert.Equal(t, []Spec{
		{Name: "clothes", Version: "1", Path: dir + "/model.mdl", Weights: dir + "/weights.safetensors"},
		{Name: "digits", Version: "1", Path: "../stdlib/lenet.mdl"},
	}, specs)
	_, err = SpecsFromFiles([]string{"empty=" + t.TempDir()})
	assert.ErrorContains(t, err, "holds no model.mdl or model.onnx")
	_, err = SpecsFromFiles([]string{"a b=lenet"})
	assert.ErrorContains(t, err, "not a usable name")
}

func TestParseFloat32(t *testing.T) {
	for _, s := range []string{"0", "-0", "1", "0.5", "0.003921569", "1e-3", "1.5E+2", "3.4028235e38", "1e-40", "1e-46", "123456789012345678901234", "0.1", "16777217", "0.30000001192092896"} {
		want, err := strconv.ParseFloat(s, 32)
		require.NoError(t, err)
		got, err := parseFloat32([]byte(s))
		require.NoError(t, err, s)
		assert.Equal(t, math.Float32bits(float32(want)), math.Float32bits(got), s)
	}
	// Every float32 written shortest parses back to itself.
	for i := uint32(0); i < 1<<32-1<<20; i += 1<<20 + 12345 {
		f := math.Float32frombits(i)
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			continue
		}
		s := strconv.FormatFloat(float64(f), 'g', -1, 32)
		got, err := parseFloat32([]byte(s))
		require.NoError(t, err, s)
		require.Equal(t, i, math.Float32bits(got), s)
	}
	for _, s := range []string{"", "-", "01", "1.", ".5", "1e", "NaN", "Infinity", "0x10", "1e+", "--1", "1e400"} {
		_, err := parseFloat32([]byte(s))
		assert.Error(t, err, s)
	}
}

func TestScanLeaves(t *testing.T) {
	var got []string
	collect := func(n int, b []byte, i int) (int, error) {
		end := tokenEnd(b, i)
		got = append(got, string(b[i:end]))
		return end, nil
	}
	require.NoError(t, scanLeaves([]byte(" [[1, 2],[3 ,4]] "), 4, collect))
	assert.Equal(t, []string{"1", "2", "3", "4"}, got)
	got = nil
	require.NoError(t, scanLeaves([]byte("[ [ ], [1, [ ] ,2 ] ]"), 2, collect), "empty arrays, spaces inside")
	assert.Equal(t, []string{"1", "2"}, got)
	for _, bad := range []string{`{}`, `[1,]`, `[1, ]`, `[1 2]`, `[,1]`, `[[1,2]`, `[1,2] x`, `[1][2]`, `[[1] [2]]`, `[1,,2]`} {
		assert.Error(t, scanLeaves([]byte(bad), 2, collect), bad)
	}
}

func mkfile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

func ExampleSpecsFromFiles() {
	specs, _ := SpecsFromFiles([]string{"fashion_cnn", "models/resnet.onnx"})
	for _, s := range specs {
		fmt.Println(s.Name, s.Version, s.Path)
	}
	// Output:
	// fashion_cnn 1 fashion_cnn
	// resnet 1 models/resnet.onnx
}

// TestOverload: past MaxInflight requests, or MaxBodyInflight bytes of
// bodies, a request is refused at once with 429 and Retry-After, and
// health checks still answer.
func TestOverload(t *testing.T) {
	o := DefaultOptions()
	o.MaxInflight = 1
	o.MaxBody, o.MaxBodyInflight = 1<<20, 1<<20
	s, ts := newTestServer(t, o, "fashion_cnn")
	req := map[string]any{"inputs": []any{jsonTensor("image", "FP32", []int{1, 28, 28, 1}, make([]float32, 784))}}

	s.inflight <- struct{}{} // one request in flight: the limit
	resp, b := postJSON(t, ts.URL+"/v2/models/fashion_cnn/infer", req)
	assert.Equal(t, 429, resp.StatusCode, string(b))
	assert.Equal(t, "1", resp.Header.Get("Retry-After"))
	assert.Contains(t, string(b), "handling 1 infer requests, its limit")
	code, _ := get(t, ts.URL+"/v2/health/ready")
	assert.Equal(t, 200, code, "probes are not counted")
	<-s.inflight

	s.bodyBytes.Add(1<<20 - 100) // bodies held: all but 100 bytes
	resp, b = postJSON(t, ts.URL+"/v2/models/fashion_cnn/infer", req)
	assert.Equal(t, 429, resp.StatusCode, string(b))
	assert.Contains(t, string(b), "bytes of request bodies, its limit")
	s.bodyBytes.Add(-(1<<20 - 100))
	resp, b = postJSON(t, ts.URL+"/v2/models/fashion_cnn/infer", req)
	assert.Equal(t, 200, resp.StatusCode, string(b))
	assert.Equal(t, int64(0), s.bodyBytes.Load(), "every reservation is given back")
}

// TestUnbatchedModel: a model without a batch dimension runs each request
// alone, its outputs whole.
func TestUnbatchedModel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fixed.mdl")
	require.NoError(t, os.WriteFile(path, []byte("model fixed(x: f32[2, 3]) -> (y) {\n  y = relu(x)\n}\n"), 0o644))
	s, ts := newTestServer(t, DefaultOptions(), path)
	assert.False(t, s.models[0].batchable)
	code, v := get(t, ts.URL+"/v2/models/fixed")
	require.Equal(t, 200, code)
	assert.Equal(t, []any{map[string]any{"name": "x", "datatype": "FP32", "shape": []any{2.0, 3.0}}}, v["inputs"])
	resp, b := postJSON(t, ts.URL+"/v2/models/fixed/infer", map[string]any{"inputs": []any{jsonTensor("x", "FP32", []int{2, 3}, []float32{-1, 2, -3, 4, -5, 6})}})
	require.Equal(t, 200, resp.StatusCode, string(b))
	var r testResponse
	require.NoError(t, json.Unmarshal(b, &r))
	assert.Equal(t, []int{2, 3}, r.Outputs[0].Shape)
	assert.Equal(t, []float32{0, 2, 0, 4, 0, 6}, r.Outputs[0].Data)
}

// TestRepositoryONNX: a repository version holding model.onnx is served as
// the ONNX frontend reads it (ONNX's own relu node test, from Debian's
// libonnx-testdata).
func TestRepositoryONNX(t *testing.T) {
	src, err := os.ReadFile("/usr/share/libonnx-testdata/data/node/test_relu/model.onnx")
	if err != nil {
		t.Skipf("ONNX's node tests are absent (apt-get install libonnx-testdata): %v", err)
	}
	dir := t.TempDir()
	require.NoError(t, mkfile(dir+"/relu/1/model.onnx", src))
	specs, err := SpecsFromRepository(dir)
	require.NoError(t, err)
	o := DefaultOptions()
	o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := New(specs, o)
	require.NoError(t, err)
	require.NoError(t, s.Load())
	defer s.Close()
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	code, v := get(t, ts.URL+"/v2/models/relu")
	require.Equal(t, 200, code, v)
	in := v["inputs"].([]any)[0].(map[string]any)
	var shape []int
	n := 1
	for _, d := range in["shape"].([]any) {
		shape = append(shape, int(d.(float64)))
		n *= int(d.(float64))
	}
	x := make([]float32, n)
	want := make([]float32, n)
	for i := range x {
		x[i] = float32(i%7) - 3
		want[i] = max(x[i], 0)
	}
	resp, b := postJSON(t, ts.URL+"/v2/models/relu/infer", map[string]any{"inputs": []any{jsonTensor(in["name"].(string), "FP32", shape, x)}})
	require.Equal(t, 200, resp.StatusCode, string(b))
	var r testResponse
	require.NoError(t, json.Unmarshal(b, &r))
	assert.Equal(t, shape, r.Outputs[0].Shape)
	assert.Equal(t, want, r.Outputs[0].Data)
}

// TestViewFloats: binary FP32 data is read in place on little-endian
// machines, as the values the portable loop decodes; readBody places the
// data after a header of any length where it can be.
func TestViewFloats(t *testing.T) {
	if !littleEndian {
		t.Skip("the data is read in place on little-endian machines only")
	}
	buf := make([]byte, 4*100+1)
	for i := range buf {
		buf[i] = byte(i*37 + 11)
	}
	for off := range 2 {
		b := buf[off : off+400]
		want := make([]float32, 100)
		for i := range want {
			want[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		decoded := make([]float32, 100)
		decodeFloats(decoded, b)
		for i := range want {
			require.Equal(t, math.Float32bits(want[i]), math.Float32bits(decoded[i]), "offset %d, element %d", off, i)
		}
		got := viewFloats(b)
		if off%4 != 0 {
			assert.Nil(t, got, "misaligned: no view")
			continue
		}
		require.Len(t, got, 100)
		assert.Equal(t, unsafe.Pointer(&b[0]), unsafe.Pointer(&got[0]), "in place")
		for i := range want {
			require.Equal(t, math.Float32bits(want[i]), math.Float32bits(got[i]), i)
		}
	}

	s := &Server{opts: DefaultOptions()}
	for hlen := range 8 {
		body := bytes.Repeat([]byte{1}, hlen+4*1000)
		for _, length := range []int64{int64(len(body)), -1} { // announced, and chunked
			r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
			r.ContentLength = length
			got, release, err := s.readBody(httptest.NewRecorder(), r, alignPad(hlen))
			require.NoError(t, err)
			assert.Equal(t, body, got)
			assert.NotNil(t, viewFloats(got[hlen:]), "header of %d bytes, length %d: the data is aligned", hlen, length)
			release()
		}
	}
	assert.Equal(t, int64(0), s.bodyBytes.Load())
}
