package serve

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unsafe"
)

// The Open Inference Protocol's infer request and response, in its JSON form
// and with its binary tensor extension, as KServe and Triton define them:
// https://github.com/kserve/open-inference-protocol (REST) and Triton's
// docs/protocol/extension_binary_data.md.

// Datatypes this server takes and gives. The protocol names more (FP16,
// UINT8, BYTES, ...); a model's inputs are f32 (which also take BOOL, as the
// ONNX importer makes bool inputs f32 0/1 masks) or token ids (INT32,
// INT64), and its outputs are FP32.
const (
	dtFP32  = "FP32"
	dtINT32 = "INT32"
	dtINT64 = "INT64"
	dtBOOL  = "BOOL"
)

// elemSize is a datatype's bytes in the binary extension (0: unknown).
func elemSize(dt string) int {
	switch dt {
	case dtFP32, dtINT32:
		return 4
	case dtINT64:
		return 8
	case dtBOOL:
		return 1
	}
	return 0
}

// requestInput is one input tensor of an infer request as the client sent
// it: data is the raw JSON array, or binary the bytes from the body's tail.
type requestInput struct {
	Name       string
	Shape      []int64
	Datatype   string
	Parameters map[string]any
	Data       []byte
	binary     []byte
	// elements are a BYTES input's elements, from gRPC's bytes_contents.
	elements [][]byte
	// decoded is the tensor of an image body, decoded already.
	decoded *tensorData
	// decode, when set, decodes the values of a tensor of n elements
	// from the form they came in (the gRPC form's typed contents),
	// refusing values that are not exactly n.
	decode func(n int) (tensorData, error)
}

// requestOutput asks for one output, perhaps in binary.
type requestOutput struct {
	Name       string
	Parameters map[string]any
}

// inferRequest is a parsed infer request.
type inferRequest struct {
	ID         string
	Parameters map[string]any
	Inputs     []requestInput
	Outputs    []requestOutput
}

// protocolError is a client's mistake: a 4xx status and a message that
// names what was wrong without echoing the request.
type protocolError struct {
	status int
	msg    string
}

func (e *protocolError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &protocolError{status: 400, msg: fmt.Sprintf(format, args...)}
}

// parseInferRequest parses an infer request's body. headerLen is the
// Inference-Header-Content-Length header (-1 when absent): the JSON is the
// body's first headerLen bytes and the inputs with a binary_data_size
// parameter take their bytes, in order, from the rest.
//
// The inputs' data is kept as raw JSON (parseRequestJSON) and scanned
// later, once the tensor's shape has been checked against the model
// (decodeInput).
func parseInferRequest(body []byte, headerLen int) (*inferRequest, error) {
	head, tail := body, []byte(nil)
	if headerLen >= 0 {
		if headerLen > len(body) {
			return nil, badRequest("Inference-Header-Content-Length is %d, but the body is %d bytes", headerLen, len(body))
		}
		head, tail = body[:headerLen], body[headerLen:]
	}
	req, err := parseRequestJSON(head)
	if err != nil {
		return nil, badRequest("the request is not valid JSON for an infer request: %v", err)
	}
	if len(req.Inputs) == 0 {
		return nil, badRequest("the request has no inputs")
	}
	for i := range req.Inputs {
		in := &req.Inputs[i]
		n, ok, err := intParam(in.Parameters, "binary_data_size")
		if err != nil {
			return nil, badRequest("input %q: %v", in.Name, err)
		}
		if !ok {
			if len(in.Data) == 0 {
				return nil, badRequest("input %q has no data (and no binary_data_size parameter)", in.Name)
			}
			continue
		}
		if len(in.Data) != 0 {
			return nil, badRequest("input %q has both data and binary_data_size", in.Name)
		}
		if n > int64(len(tail)) {
			return nil, badRequest("input %q: binary_data_size %d is more than the %d bytes left in the body", in.Name, n, len(tail))
		}
		in.binary, tail = tail[:n], tail[n:]
	}
	if len(tail) != 0 {
		return nil, badRequest("%d bytes of binary data follow the inputs' binary_data_size", len(tail))
	}
	return req, nil
}

// intParam reads a non-negative integer parameter.
func intParam(p map[string]any, name string) (int64, bool, error) {
	v, ok := p[name]
	if !ok {
		return 0, false, nil
	}
	f, isNum := v.(float64)
	if !isNum || f < 0 || f != math.Trunc(f) || f > 1<<53 {
		return 0, false, fmt.Errorf("parameter %s must be a whole number of bytes", name)
	}
	return int64(f), true, nil
}

// boolParam reads a boolean parameter (false when absent).
func boolParam(p map[string]any, name string) (bool, error) {
	v, ok := p[name]
	if !ok {
		return false, nil
	}
	b, isBool := v.(bool)
	if !isBool {
		return false, fmt.Errorf("parameter %s must be true or false", name)
	}
	return b, nil
}

// tensorData is one decoded input: floats for an f32 input, ints for token
// ids (INT32 widened).
type tensorData struct {
	floats []float32
	ints   []int64
}

// decodeInput fills a tensor of n elements from in's JSON data or binary
// bytes. n comes from the shape, already checked against the model and the
// server's limits, so the allocation is bounded; the data must hold exactly
// n values.
func decodeInput(in *requestInput, n int) (tensorData, error) {
	if in.decoded != nil {
		return *in.decoded, nil
	}
	if in.decode != nil {
		return in.decode(n)
	}
	if in.binary != nil {
		return decodeBinary(in, n)
	}
	var d tensorData
	var err error
	switch in.Datatype {
	case dtFP32:
		d.floats = make([]float32, n)
		err = scanLeaves(in.Data, n, func(k int, b []byte, i int) (end int, err error) {
			d.floats[k], end, err = parseFloat32At(b, i)
			return end, err
		})
	case dtBOOL:
		d.floats = make([]float32, n)
		err = scanLeaves(in.Data, n, func(k int, b []byte, i int) (end int, err error) {
			end = tokenEnd(b, i)
			d.floats[k], err = parseBool(b[i:end])
			return end, err
		})
	case dtINT32, dtINT64:
		lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
		if in.Datatype == dtINT32 {
			lo, hi = math.MinInt32, math.MaxInt32
		}
		d.ints = make([]int64, n)
		err = scanLeaves(in.Data, n, func(k int, b []byte, i int) (end int, err error) {
			end = tokenEnd(b, i)
			d.ints[k], err = parseInt(b[i:end], lo, hi)
			return end, err
		})
	}
	if err != nil {
		return d, badRequest("input %q: %v", in.Name, err)
	}
	return d, nil
}

// decodeBinary reads n little-endian elements of in's datatype.
func decodeBinary(in *requestInput, n int) (tensorData, error) {
	es := elemSize(in.Datatype)
	if int64(len(in.binary)) != int64(n)*int64(es) {
		return tensorData{}, badRequest("input %q holds %d bytes, but %d %s values take %d", in.Name, len(in.binary), n, in.Datatype, int64(n)*int64(es))
	}
	b := in.binary
	var d tensorData
	switch in.Datatype {
	case dtFP32:
		if d.floats = viewFloats(b); d.floats == nil {
			d.floats = make([]float32, n)
			decodeFloats(d.floats, b)
		}
	case dtBOOL:
		d.floats = make([]float32, n)
		for i := range d.floats {
			if b[i] != 0 {
				d.floats[i] = 1
			}
		}
	case dtINT32:
		d.ints = make([]int64, n)
		for i := range d.ints {
			d.ints[i] = int64(int32(binary.LittleEndian.Uint32(b[4*i:])))
		}
	case dtINT64:
		d.ints = make([]int64, n)
		for i := range d.ints {
			d.ints[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
		}
	}
	return d, nil
}

// littleEndian is true on machines whose float32s are laid out in memory
// as the binary extension sends them.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// viewFloats is the little-endian bytes b as float32s in place, or nil
// when they cannot be (a big-endian machine, or b not 4-byte aligned): the
// wire format is the memory format, so a tensor of the binary extension
// needs no copy at all (readBody aligns it), where decodeFloats's loop took
// 0.3 ms of a 224×224×3 image's request here and a copy 0.05 ms. The body
// is never written, and the job holding the view keeps it alive.
func viewFloats(b []byte) []float32 {
	if !littleEndian || len(b) == 0 || uintptr(unsafe.Pointer(unsafe.SliceData(b)))%4 != 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/4)
}

// alignPad is how far into its buffer readBody starts a body whose
// Inference-Header-Content-Length is headerLen, so that the binary data
// after the header is 4-byte aligned (a buffer's start is at least 8-byte
// aligned), and viewFloats reads it in place.
func alignPad(headerLen int) int {
	if headerLen < 0 {
		return 0
	}
	return (4 - headerLen%4) % 4
}

// decodeFloats fills dst from the little-endian bytes b on any machine:
// a copy of the bytes where memory is laid out as the wire is (a gRPC
// message's raw contents need not be aligned), 0.05 ms a 224×224×3 image
// here against the loop's 0.3.
func decodeFloats(dst []float32, b []byte) {
	if littleEndian && len(dst) > 0 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&dst[0])), 4*len(dst)), b)
		return
	}
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
}

// responseOutput is one output of an infer response.
type responseOutput struct {
	name   string
	shape  []int
	data   []float32
	binary bool
}

// encodeResponse writes an infer response: the JSON, and after it the
// binary outputs' bytes. headerLen is the JSON's length when any output is
// binary (the Inference-Header-Content-Length to send), else -1.
//
// Numbers are written with strconv's shortest float32 form, which parses
// back to the same float32. JSON has no NaN or infinity: those are written
// as null, and a client that needs them exactly asks for binary outputs.
func encodeResponse(model, version, id string, outs []responseOutput) (body []byte, headerLen int) {
	b := make([]byte, 0, 256)
	b = append(b, `{"model_name":`...)
	b = appendJSONString(b, model)
	b = append(b, `,"model_version":`...)
	b = appendJSONString(b, version)
	if id != "" {
		b = append(b, `,"id":`...)
		b = appendJSONString(b, id)
	}
	b = append(b, `,"outputs":[`...)
	anyBinary := false
	for i, o := range outs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendJSONString(b, o.name)
		b = append(b, `,"datatype":"FP32","shape":[`...)
		for j, d := range o.shape {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(d), 10)
		}
		b = append(b, ']')
		if o.binary {
			anyBinary = true
			b = append(b, `,"parameters":{"binary_data_size":`...)
			b = strconv.AppendInt(b, int64(4*len(o.data)), 10)
			b = append(b, "}}"...)
			continue
		}
		b = append(b, `,"data":[`...)
		for j, v := range o.data {
			if j > 0 {
				b = append(b, ',')
			}
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				b = append(b, "null"...)
				continue
			}
			b = strconv.AppendFloat(b, float64(v), 'g', -1, 32)
		}
		b = append(b, "]}"...)
	}
	b = append(b, "]}"...)
	if !anyBinary {
		return b, -1
	}
	headerLen = len(b)
	for _, o := range outs {
		if o.binary {
			for _, v := range o.data {
				b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
			}
		}
	}
	return b, headerLen
}

// appendJSONString appends s as a JSON string (encoding/json's escaping).
func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}
