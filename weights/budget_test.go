package weights

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/internal/safeio"
	"github.com/mdlc/mdlc/internal/size"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/tensor"
)

// headerOnly fails every read past the header, so a test can tell that read
// refused a file before decoding any tensor.
type headerOnly struct {
	data      []byte
	dataStart int64
}

func (r headerOnly) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > r.dataStart {
		return 0, fmt.Errorf("read of data bytes [%d, %d)", off, off+int64(len(p)))
	}
	return bytes.NewReader(r.data).ReadAt(p, off)
}

func encode(t *testing.T, ts map[string]*tensor.Tensor) headerOnly {
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, ts, nil))
	b := buf.Bytes()
	n := int64(b[0]) | int64(b[1])<<8 | int64(b[2])<<16
	return headerOnly{b, 8 + n}
}

// TestHeaderCheckedFirst: a file of another model, or one over the budget,
// is refused from its header alone.
func TestHeaderCheckedFirst(t *testing.T) {
	g := cnn()
	other := map[string]*tensor.Tensor{"dense.kernel": tensor.New(2304, 10), "head.bias": tensor.New(10)}
	r := encode(t, other)
	_, _, err := read(r, int64(len(r.data)), readOptions{model: g, path: "other.safetensors"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `other.safetensors: "dense.kernel" has shape [2304,10], the model expects [1600,10]`)
	assert.Contains(t, err.Error(), `other.safetensors: "head.bias" is not a parameter of model cnn`)
	assert.NotContains(t, err.Error(), "read of data bytes")

	r = encode(t, mustInit(t, g, 1))
	_, _, err = read(r, int64(len(r.data)), readOptions{model: g, path: "cnn.safetensors", budget: 1 << 10})
	var over *size.Error
	require.ErrorAs(t, err, &over)
	assert.Contains(t, err.Error(), "reading the 6 tensors of cnn.safetensors as float32 needs 65,")
	assert.Contains(t, err.Error(), "more than the memory limit of 1,024 bytes; raise the limit with --max-memory")
}

// TestMismatchesCapped: a report lists 20 problems, then how many more.
func TestMismatchesCapped(t *testing.T) {
	g := ir.NewGraph("many")
	ts := map[string]*tensor.Tensor{}
	for i := range 30 {
		g.AddParam(fmt.Sprintf("layer%02d.kernel", i), ir.T(2), ir.Init{Kind: ir.InitZeros}, true)
		ts[fmt.Sprintf("other%02d", i)] = tensor.New(2)
	}
	err := Check(g, ts)
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	require.Len(t, lines, 21)
	assert.Equal(t, `weights: missing "layer00.kernel" (f32[2])`, lines[0])
	assert.Equal(t, "weights: and 40 more", lines[20])
}

func TestLoadWithin(t *testing.T) {
	g := cnn()
	path := filepath.Join(t.TempDir(), "cnn.safetensors")
	want := mustInit(t, g, 3)
	require.NoError(t, WriteFile(path, want, nil))
	got, err := LoadWithin(path, g, 1<<20)
	require.NoError(t, err)
	assertSameTensors(t, want, got)

	_, err = LoadWithin(path, g, 1<<10)
	assert.ErrorContains(t, err, "reading the 6 tensors of "+path+" as float32 needs")
	_, err = ReadFileWithin(path, 1<<10)
	assert.ErrorContains(t, err, "--max-memory")

	other := ir.NewGraph("other")
	other.AddParam("x", ir.T(1), ir.Init{Kind: ir.InitZeros}, true)
	_, err = LoadWithin(path, other, 1<<20)
	assert.ErrorContains(t, err, path+`: missing "x" (f32[1])`)
}

// Special files are refused, not read: /dev/zero would never end.
func TestReadFileSpecial(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero here")
	}
	_, err := ReadFile("/dev/zero")
	assert.True(t, errors.Is(err, safeio.ErrNotRegular), "%v", err)
	_, err = Load(t.TempDir(), cnn())
	assert.True(t, errors.Is(err, safeio.ErrNotRegular), "%v", err)
}

// TestInitWithin: dense(100000) on 100,000 features is 40 GB of weights,
// refused before a byte is allocated.
func TestInitWithin(t *testing.T) {
	g := ir.NewGraph("wide")
	g.AddParam("head.kernel", ir.T(100000, 100000), ir.Init{Kind: ir.InitGlorotUniform, FanIn: 100000, FanOut: 100000}, true)
	g.AddParam("head.bias", ir.T(100000), ir.Init{Kind: ir.InitZeros}, true)
	_, err := InitWithin(g, 1, 1<<30)
	var over *size.Error
	require.ErrorAs(t, err, &over)
	assert.Contains(t, err.Error(), "initialising the weights of model wide (2 parameters) needs 37.3 GiB, more than the memory limit of 1.0 GiB; raise the limit with --max-memory")

	// A parameter no shape inference saw, as a careless builder makes it.
	g = ir.NewGraph("overflow")
	g.AddParam("p", ir.T(4294967296, 4294967296, 4294967296), ir.Init{Kind: ir.InitZeros}, true)
	_, err = InitWithin(g, 1, 0)
	assert.ErrorContains(t, err, `weights.Init: the weights of model overflow: parameter "p"`)

	ts, err := InitWithin(cnn(), 1, 1<<20)
	require.NoError(t, err)
	assert.Len(t, ts, 6)
}
