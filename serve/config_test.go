package serve

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/stdlib"
)

// A config as Triton's documentation writes them, in each of the text
// format's spellings: comments, lists of values and of messages, a field
// repeated, separators, '<>' braces, and a colon before a message.
const tritonConfig = `# fashion's settings
name: "fashion"
max_batch_size: 16
dynamic_batching {
  max_queue_delay_microseconds: 500
  preferred_batch_size: [ 8, 4 ]
  preferred_batch_size: 2;
  default_queue_policy: { max_queue_size: 64 }
}
instance_group [
  { count: 2, kind: KIND_CPU },
  < count: 1 >
]
`

func TestParseModelConfig(t *testing.T) {
	c, err := parseModelConfig("m/config.pbtxt", []byte(tritonConfig), "fashion")
	require.NoError(t, err)
	delay := 500 * time.Microsecond
	batch, queue, instances := 16, 64, 3
	assert.Equal(t, &ModelConfig{File: "m/config.pbtxt", MaxBatch: &batch, MaxQueueDelay: &delay, PreferredBatch: []int{2, 4, 8}, MaxQueue: &queue, Instances: &instances}, c)

	c, err = parseModelConfig("m/config.pbtxt", []byte("# nothing set\n"), "fashion")
	require.NoError(t, err)
	assert.Equal(t, &ModelConfig{File: "m/config.pbtxt"}, c)

	cases := []struct{ src, msg string }{
		{"input [ { name: \"x\" } ]", `m/config.pbtxt:1:1: unknown field input: mdlc's model config takes dynamic_batching.default_queue_policy.max_queue_size, dynamic_batching.max_queue_delay_microseconds, dynamic_batching.preferred_batch_size, instance_group.count, instance_group.kind, max_batch_size, name`},
		{"max_batch_size: 4\nmax_bach_size: 4", `m/config.pbtxt:2:1: unknown field max_bach_size (did you mean max_batch_size?)`},
		{"dynamic_batching {\n  max_queue_delay_microsecond: 5\n}", `m/config.pbtxt:2:3: unknown field dynamic_batching.max_queue_delay_microsecond (did you mean dynamic_batching.max_queue_delay_microseconds?)`},
		{"max_batch_size: 0", "m/config.pbtxt:1:1: max_batch_size 0 (Triton's no batch axis) does not apply"},
		{"max_batch_size: -3", "m/config.pbtxt:1:1: max_batch_size must be a whole number from 1 to 65536"},
		{"max_batch_size: 2.5", "max_batch_size must be a whole number"},
		{"max_batch_size: \"8\"", "max_batch_size must be a whole number"},
		{"max_batch_size: 0x10", "m/config.pbtxt:1:17: bad number \"0x10\""},
		{"max_batch_size: 99999999999999999999999", "max_batch_size must be a whole number from 1 to 65536"},
		{"max_batch_size: 4 max_batch_size: 8", "m/config.pbtxt:1:19: max_batch_size is given twice"},
		{"max_batch_size { }", "max_batch_size takes a value, not a message"},
		{"dynamic_batching: 3", "dynamic_batching is a message: write dynamic_batching { ... }"},
		{"name: \"other\"", `m/config.pbtxt:1:1: name is "other", but the model is fashion (named after its directory)`},
		{"name: fashion", "name must be a quoted string"},
		{"instance_group [ { count: 1, kind: KIND_GPU } ]", "m/config.pbtxt:1:30: kind KIND_GPU: mdlc runs models on the CPU; give KIND_CPU (or KIND_AUTO)"},
		{"instance_group [ { kind: KIND_CPU } ]", "m/config.pbtxt:1:1: an instance_group needs a count"},
		{"instance_group [ { count: 0 } ]", "count must be a whole number from 1 to 1024"},
		{"instance_group [ { count: 1000 }, { count: 1000 } ]", "the instance groups' counts add up to 2000, more than 1024"},
		{"dynamic_batching { preferred_batch_size: [4, 4] }", "m/config.pbtxt:1:46: preferred_batch_size 4 is given twice"},
		{"dynamic_batching { default_queue_policy { max_queue_size: 0 } }", "max_queue_size 0 (Triton's unbounded queue) is refused"},
		{"dynamic_batching { max_queue_delay_microseconds: -1 }", "max_queue_delay_microseconds must be a whole number from 0 to 3600000000"},
		{"name: \"fashion", "m/config.pbtxt:1:7: unterminated string"},
		{"dynamic_batching {\n  max_queue_delay_microseconds: 5\n", "m/config.pbtxt:3:1: unexpected end of file, want \"}\""},
		{"max_batch_size 4", "m/config.pbtxt:1:16: want ':' after max_batch_size"},
		{"max_batch_size:", "m/config.pbtxt:1:16: unexpected end of file, want a value for max_batch_size"},
		{"dynamic_batching { preferred_batch_size: [4 8] }", "m/config.pbtxt:1:45: want ',' or ']' in the list of preferred_batch_size"},
		{"} max_batch_size: 4", "m/config.pbtxt:1:1: want a field name, got \"}\""},
		{"max_batch_size: 4 @", "m/config.pbtxt:1:19: unexpected character '@'"},
	}
	for _, c := range cases {
		_, err := parseModelConfig("m/config.pbtxt", []byte(c.src), "fashion")
		assert.ErrorContains(t, err, c.msg, c.src)
	}

	// A preferred size must fit the maximum, whichever gave it.
	c, err = parseModelConfig("m/config.pbtxt", []byte("dynamic_batching { preferred_batch_size: 16 }"), "fashion")
	require.NoError(t, err)
	cfg := DefaultOptions().Config
	assert.ErrorContains(t, c.apply(&cfg), "m/config.pbtxt: preferred_batch_size 16 is more than the model's max_batch_size 8")
}

// TestModelConfigOverrides: a repository model's config.pbtxt overrides the
// server's settings for that model only; the others keep the flags'.
func TestModelConfigOverrides(t *testing.T) {
	dir := t.TempDir()
	src, ok := stdlib.Source("fashion_cnn")
	require.True(t, ok)
	for _, name := range []string{"small", "plain"} {
		require.NoError(t, mkfile(dir+"/"+name+"/1/model.mdl", src))
	}
	require.NoError(t, mkfile(dir+"/small/config.pbtxt", []byte("max_batch_size: 2\ninstance_group [{ count: 2 }]\ndynamic_batching { max_queue_delay_microseconds: 250 }\n")))
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

	plain, small := s.models[0].cfg, s.models[1].cfg
	require.Equal(t, "plain", s.models[0].Name)
	assert.Equal(t, o.MaxBatch, plain.MaxBatch)
	assert.Equal(t, 2, small.MaxBatch)
	assert.Equal(t, 2, small.Instances)
	assert.Equal(t, 250*time.Microsecond, small.MaxQueueDelay)
	assert.Equal(t, o.MaxQueue, small.MaxQueue, "not in the config: the flag's")
	assert.Equal(t, max(1, runtime.GOMAXPROCS(0)/2), small.Compile.Threads, "threads follow the model's instances")
	_, v := get(t, ts.URL+"/v2/models/small")
	assert.Equal(t, 2.0, v["parameters"].(map[string]any)["max_batch_size"])
	resp, b := postJSON(t, ts.URL+"/v2/models/small/infer", map[string]any{"inputs": []any{jsonTensor("image", "FP32", []int{3, 28, 28, 1}, make([]float32, 3*784))}})
	assert.Equal(t, 400, resp.StatusCode)
	assert.Contains(t, string(b), "batch of 3 is more than model small takes at once (2)")
	resp, b = postJSON(t, ts.URL+"/v2/models/plain/infer", map[string]any{"inputs": []any{jsonTensor("image", "FP32", []int{3, 28, 28, 1}, make([]float32, 3*784))}})
	assert.Equal(t, 200, resp.StatusCode, string(b))

	// A bad config stops the repository from loading, naming the line.
	require.NoError(t, mkfile(dir+"/small/config.pbtxt", []byte("max_batch_size: 2\ninput [ ]\n")))
	_, err = SpecsFromRepository(dir)
	assert.ErrorContains(t, err, dir+"/small/config.pbtxt:2:1: unknown field input")
	// As does one whose preferred size is past the flags' maximum.
	require.NoError(t, mkfile(dir+"/small/config.pbtxt", []byte("dynamic_batching { preferred_batch_size: 9 }")))
	specs, err = SpecsFromRepository(dir)
	require.NoError(t, err)
	_, err = New(specs, o)
	assert.ErrorContains(t, err, "preferred_batch_size 9 is more than the model's max_batch_size 8")

	// NAME=DIR reads DIR's config.
	require.NoError(t, mkfile(dir+"/small/1/config.pbtxt", []byte("max_batch_size: 4")))
	specs, err = SpecsFromFiles([]string{"tiny=" + dir + "/small/1"})
	require.NoError(t, err)
	require.NotNil(t, specs[0].Config)
	assert.Equal(t, 4, *specs[0].Config.MaxBatch)
}

// TestPreferredBatch: with a queue delay far longer than the test, a batch
// still runs once it reaches the largest preferred size, or a preferred
// size with nothing more queued; without preferred sizes these requests
// would wait out the delay and time out.
func TestPreferredBatch(t *testing.T) {
	o := DefaultOptions()
	o.MaxQueueDelay = time.Hour
	o.RequestTimeout = 20 * time.Second
	o.PreferredBatch = []int{1, 3}
	s, ts := newTestServer(t, o, "fashion_cnn")
	url := ts.URL + "/v2/models/fashion_cnn/infer"
	one := map[string]any{"inputs": []any{jsonTensor("image", "FP32", []int{1, 28, 28, 1}, make([]float32, 784))}}
	two := map[string]any{"inputs": []any{jsonTensor("image", "FP32", []int{2, 28, 28, 1}, make([]float32, 2*784))}}
	resp, b := postJSON(t, url, one)
	require.Equal(t, 200, resp.StatusCode, string(b))
	mm := s.models[0].metrics
	assert.Equal(t, int64(1), mm.execs.Load(), "one row, a preferred size, nothing more queued: run at once")

	// Two rows wait for a third, then the batch of 3 runs, at most the
	// largest preferred size.
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i, req := range []map[string]any{two, one} {
		if i == 1 {
			// The first request is queued before the second is sent.
			for mm.queued.Load() == 0 {
				time.Sleep(time.Millisecond)
			}
		}
		wg.Go(func() {
			b, _ := json.Marshal(req)
			resp, err := http.Post(url, "application/json", bytes.NewReader(b))
			if err == nil {
				codes[i] = resp.StatusCode
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, []int{200, 200}, codes)
	assert.Equal(t, int64(2), mm.execs.Load())
	assert.Equal(t, int64(4), mm.inferences.Load())
}
