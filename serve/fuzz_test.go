package serve

import (
	"testing"
)

// FuzzInferRequest: no body makes the request parser or the tensor
// decoders panic, and a decoded tensor has exactly the values asked for.
func FuzzInferRequest(f *testing.F) {
	f.Add([]byte(`{"id":"x","inputs":[{"name":"image","datatype":"FP32","shape":[1,2],"data":[[1.5,-2e3]]}],"outputs":[{"name":"probs","parameters":{"binary_data":true}}]}`), -1)
	f.Add([]byte(`{"inputs":[{"name":"ids","datatype":"INT64","shape":[2],"data":[1,2]},{"name":"m","datatype":"BOOL","shape":[2],"data":[true,false]}]}`), -1)
	f.Add([]byte(`{"inputs":[{"name":"a","datatype":"INT32","shape":[2],"parameters":{"binary_data_size":8}}]}`+"\x01\x00\x00\x00\x02\x00\x00\x00"), 87)
	f.Add([]byte(`{"inputs":[{"name":"\u00e9\"","datatype":"FP32","shape":[1],"data":["x"]}],"parameters":{"a":[1]}}`), -1)
	f.Fuzz(func(t *testing.T, body []byte, headerLen int) {
		req, err := parseInferRequest(body, headerLen)
		if err != nil {
			return
		}
		for i := range req.Inputs {
			in := &req.Inputs[i]
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
			if n < 0 || n > 1<<12 || (in.binary == nil && n > len(in.Data)) {
				continue
			}
			d, err := decodeInput(in, n)
			if err == nil && len(d.floats)+len(d.ints) != n {
				t.Fatalf("input %q: %d values decoded, want %d", in.Name, len(d.floats)+len(d.ints), n)
			}
		}
	})
}

// FuzzModelConfig: no config file makes its parser panic, and one it takes
// sets only what its checks allow.
func FuzzModelConfig(f *testing.F) {
	f.Add([]byte(tritonConfig))
	f.Add([]byte("instance_group [ { count: 1 } ] dynamic_batching < preferred_batch_size: [1, 2] >"))
	f.Add([]byte("name: 'fa\\'sh' # x\n max_batch_size: 1e3"))
	f.Fuzz(func(t *testing.T, src []byte) {
		c, err := parseModelConfig("config.pbtxt", src, "fashion")
		if err != nil {
			return
		}
		if c.MaxBatch != nil && (*c.MaxBatch < 1 || *c.MaxBatch > maxConfigBatch) {
			t.Fatalf("max batch %d", *c.MaxBatch)
		}
		if c.Instances != nil && (*c.Instances < 1 || *c.Instances > maxConfigInstances) {
			t.Fatalf("instances %d", *c.Instances)
		}
	})
}
