package serve

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/mdlc/mdlc/serve/inferencepb"
)

func bytesTensor(name string, images ...[]byte) map[string]any {
	data := make([]string, len(images))
	for i, img := range images {
		data[i] = base64.StdEncoding.EncodeToString(img)
	}
	return jsonTensor(name, "BYTES", []int{len(images)}, data)
}

// TestInferBase64Image: a BYTES input of base64 images (KServe's and
// Triton's convention) is decoded as an image body is, so the answer is
// `mdlc run --input`'s; several images are a batch, each row its own; the
// binary extension's BYTES layout (length-prefixed raw bytes) gives the same.
func TestInferBase64Image(t *testing.T) {
	_, ts := newTestServer(t, DefaultOptions(), "fashion_cnn")
	url := ts.URL + "/v2/models/fashion_cnn/infer"
	_, want := runOutputs(t, "fashion_cnn", coat)
	img, err := os.ReadFile(coat)
	require.NoError(t, err)

	resp, b := postJSON(t, url, map[string]any{"inputs": []any{bytesTensor("image", img)}})
	require.Equal(t, 200, resp.StatusCode, string(b))
	var r testResponse
	require.NoError(t, json.Unmarshal(b, &r))
	assert.Equal(t, []int{1, 10}, r.Outputs[0].Shape)
	assert.Equal(t, want.Data, r.Outputs[0].Data)

	// JSON may escape the alphabet's '/' as "\/".
	escaped := strings.ReplaceAll(body(bytesTensor("image", img)), "/", `\/`)
	resp, b = post(t, url, "application/json", []byte(escaped), nil)
	require.Equal(t, 200, resp.StatusCode, string(b))
	require.NoError(t, json.Unmarshal(b, &r))
	assert.Equal(t, want.Data, r.Outputs[0].Data)

	var black bytes.Buffer
	require.NoError(t, pngEncode(&black, 28, 28))
	resp, b = postJSON(t, url, map[string]any{"inputs": []any{bytesTensor("image", black.Bytes(), img)}})
	require.Equal(t, 200, resp.StatusCode, string(b))
	require.NoError(t, json.Unmarshal(b, &r))
	assert.Equal(t, []int{2, 10}, r.Outputs[0].Shape)
	assert.InDeltaSlice(t, want.Data, r.Outputs[0].Data[10:], 1e-5)
	resp, b = postJSON(t, url, map[string]any{"inputs": []any{bytesTensor("image", black.Bytes())}})
	require.Equal(t, 200, resp.StatusCode, string(b))
	var alone testResponse
	require.NoError(t, json.Unmarshal(b, &alone))
	assert.InDeltaSlice(t, alone.Outputs[0].Data, r.Outputs[0].Data[:10], 1e-5)

	var elems []byte
	for _, e := range [][]byte{img, img} {
		elems = binary.LittleEndian.AppendUint32(elems, uint32(len(e)))
		elems = append(elems, e...)
	}
	req, hlen := binaryRequest(t, map[string]any{
		"inputs": []any{map[string]any{"name": "image", "datatype": "BYTES", "shape": []int{2}, "parameters": map[string]any{"binary_data_size": len(elems)}}},
	})
	resp, b = post(t, url, "application/octet-stream", append(req, elems...), map[string]string{"Inference-Header-Content-Length": strconv.Itoa(hlen)})
	require.Equal(t, 200, resp.StatusCode, string(b))
	require.NoError(t, json.Unmarshal(b, &r))
	assert.Equal(t, []int{2, 10}, r.Outputs[0].Shape)
	assert.Equal(t, r.Outputs[0].Data[:10], r.Outputs[0].Data[10:])
	assert.InDeltaSlice(t, want.Data, r.Outputs[0].Data[:10], 1e-5)
}

// TestBase64ImageErrors: what cannot be a BYTES image is refused with a
// message that says which element and why, before anything is run; a
// decompression bomb is refused from its header, as in a body.
func TestBase64ImageErrors(t *testing.T) {
	o := DefaultOptions()
	o.MaxBody = 1 << 20
	o.MaxBodyInflight = 4 << 20
	_, ts := newTestServer(t, o, "fashion_cnn", "gpt")
	url := ts.URL + "/v2/models/fashion_cnn/infer"
	img, err := os.ReadFile(coat)
	require.NoError(t, err)
	b64 := base64.StdEncoding.EncodeToString(img)
	// A 2000×1000 PNG of one colour: 6 KB that would decode to 8 MB, more
	// pixels than a 28×28 input takes.
	var bomb bytes.Buffer
	require.NoError(t, pngEncode(&bomb, 2000, 1000))
	// 1024×1024 pixels is the cap, and its decoding's 8 MB is more than
	// the 4 MiB of --max-body-inflight.
	var big bytes.Buffer
	require.NoError(t, pngEncode(&big, 1024, 1024))
	bytesBody := func(shape []int, data any) string {
		return body(jsonTensor("image", "BYTES", shape, data))
	}
	cases := []struct {
		name   string
		url    string
		body   string
		status int
		msg    string
	}{
		{"not base64", url, bytesBody([]int{1}, []string{"not base64!"}), 400, `input "image" element 0 is not base64`},
		{"not an image", url, body(bytesTensor("image", []byte("hello, not an image"))), 400, `input "image" element 0 is not a PNG, JPEG or GIF image`},
		{"decompression bomb", url, body(bytesTensor("image", bomb.Bytes())), 413, `input "image" element 0: the png image is 2000x1000, more than the 1048576 pixels model fashion_cnn's 28x28 input takes`},
		{"bomb after a good image", url, body(bytesTensor("image", img, bomb.Bytes())), 413, `element 1: the png image is 2000x1000`},
		{"over the bytes in flight", url, body(bytesTensor("image", big.Bytes())), 429, "bytes of request bodies, its limit"},
		{"not strings", url, bytesBody([]int{1}, []int{1}), 400, "BYTES data is a list of base64 strings"},
		{"nested", url, bytesBody([]int{1}, [][]string{{b64}}), 400, "BYTES data is a list of base64 strings"},
		{"fewer elements", url, bytesBody([]int{2}, []string{b64}), 400, `element 1: the data has fewer elements`},
		{"more elements", url, bytesBody([]int{1}, []string{b64, b64}), 400, "the data holds more than 1 elements, but its shape [1] calls for 1"},
		{"shape of rank 2", url, bytesBody([]int{1, 1}, []string{b64}), 400, "its shape is [n] for n images, not [1 1]"},
		{"over max batch", url, bytesBody([]int{9}, []string{b64}), 400, "batch of 9 is more than model fashion_cnn takes at once (8)"},
		{"not an image input", ts.URL + "/v2/models/gpt/infer", body(jsonTensor("ids", "BYTES", []int{1}, []string{b64})), 400, `input "ids" is INT32[N, T], not an image`},
		{"unknown input", url, body(bytesTensor("pixels", img)), 400, `no input "pixels"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, b := post(t, c.url, "application/json", []byte(c.body), nil)
			assert.Equal(t, c.status, resp.StatusCode, string(b))
			var e errorBody
			require.NoError(t, json.Unmarshal(b, &e), string(b))
			assert.Contains(t, e.Error, c.msg)
		})
	}

	binCases := []struct {
		name  string
		shape []int
		data  []byte
		msg   string
	}{
		{"short length", []int{1}, []byte{1, 0}, "element 0: the binary data ends before it"},
		{"length past the data", []int{1}, []byte{200, 0, 0, 0, 1}, "element 0: its length is 200 bytes, more than the 1 left"},
		{"bytes left over", []int{1}, append(binary.LittleEndian.AppendUint32(nil, uint32(len(img))), append(img, 7)...), "1 bytes of binary data follow its 1 elements"},
	}
	for _, c := range binCases {
		t.Run(c.name, func(t *testing.T) {
			req, hlen := binaryRequest(t, map[string]any{
				"inputs": []any{map[string]any{"name": "image", "datatype": "BYTES", "shape": c.shape, "parameters": map[string]any{"binary_data_size": len(c.data)}}},
			})
			resp, b := post(t, url, "application/octet-stream", append(req, c.data...), map[string]string{"Inference-Header-Content-Length": strconv.Itoa(hlen)})
			assert.Equal(t, 400, resp.StatusCode, string(b))
			assert.Contains(t, string(b), c.msg)
		})
	}
}

// TestGRPCImages: the gRPC form takes images as BYTES too, one an element
// of bytes_contents or of raw_input_contents' BYTES layout, and answers
// what `mdlc run` answers for the image; what cannot be one is refused with
// INVALID_ARGUMENT naming the input.
func TestGRPCImages(t *testing.T) {
	_, c, _ := newGRPCTestServer(t, DefaultOptions(), "fashion_cnn")
	_, want := runOutputs(t, "fashion_cnn", coat)
	img, err := os.ReadFile(coat)
	require.NoError(t, err)
	ctx := context.Background()
	bytesInput := func(n int64, elems ...[]byte) *pb.ModelInferRequest_InferInputTensor {
		return &pb.ModelInferRequest_InferInputTensor{Name: "image", Datatype: "BYTES", Shape: []int64{n}, Contents: &pb.InferTensorContents{BytesContents: elems}}
	}

	got, err := c.ModelInfer(ctx, &pb.ModelInferRequest{ModelName: "fashion_cnn", Inputs: []*pb.ModelInferRequest_InferInputTensor{bytesInput(1, img)}})
	require.NoError(t, err)
	assert.Equal(t, []int64{1, 10}, got.Outputs[0].Shape)
	assert.Equal(t, want.Data, got.Outputs[0].Contents.GetFp32Contents())

	got, err = c.ModelInfer(ctx, &pb.ModelInferRequest{ModelName: "fashion_cnn", Inputs: []*pb.ModelInferRequest_InferInputTensor{bytesInput(2, img, img)}})
	require.NoError(t, err)
	assert.Equal(t, []int64{2, 10}, got.Outputs[0].Shape)
	rows := got.Outputs[0].Contents.GetFp32Contents()
	assert.Equal(t, rows[:10], rows[10:])
	assert.InDeltaSlice(t, want.Data, rows[:10], 1e-5)

	var elems []byte
	for range 2 {
		elems = binary.LittleEndian.AppendUint32(elems, uint32(len(img)))
		elems = append(elems, img...)
	}
	got, err = c.ModelInfer(ctx, &pb.ModelInferRequest{ModelName: "fashion_cnn",
		Inputs:           []*pb.ModelInferRequest_InferInputTensor{{Name: "image", Datatype: "BYTES", Shape: []int64{2}}},
		RawInputContents: [][]byte{elems}})
	require.NoError(t, err)
	require.Len(t, got.RawOutputContents, 1)
	assert.InDeltaSlice(t, want.Data, rawFloats(t, got.RawOutputContents[0])[10:], 1e-5)

	for _, c2 := range []struct {
		in   *pb.ModelInferRequest_InferInputTensor
		want string
	}{
		{bytesInput(2, img), `input "image" element 1: bytes_contents ends before it`},
		{bytesInput(1, img, img), `input "image": bytes_contents holds 2 elements, but its shape [1] calls for 1`},
		{bytesInput(1, []byte("not an image")), `input "image" element 0`},
		{&pb.ModelInferRequest_InferInputTensor{Name: "image", Datatype: "BYTES", Shape: []int64{1}, Contents: &pb.InferTensorContents{BytesContents: [][]byte{img}, Fp32Contents: []float32{1}}},
			`input "image" is BYTES: its elements go in bytes_contents, but the contents hold values in other fields`},
	} {
		_, err := c.ModelInfer(ctx, &pb.ModelInferRequest{ModelName: "fashion_cnn", Inputs: []*pb.ModelInferRequest_InferInputTensor{c2.in}})
		assert.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
		assert.Contains(t, status.Convert(err).Message(), c2.want)
	}
}
