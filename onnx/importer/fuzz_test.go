package importer_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mdlc/mdlc/lang/sema"
	"github.com/mdlc/mdlc/onnx"
	"github.com/mdlc/mdlc/onnx/importer"
)

// FuzzImport: no decodable model makes the importer, or the checking of
// the program it writes, panic; and an import of a hostile file stays
// within the budget it was given.
func FuzzImport(f *testing.F) {
	for _, name := range []string{"node/test_conv_with_strides_padding", "node/test_reshape_reordered_all_dims", "node/test_maxpool_2d_ceil",
		"pytorch-converted/test_Linear", "node/test_concat_2d_axis_0", "node/test_slice", "node/test_gemm_default_no_bias", "node/test_resize_upsample_scales_nearest"} {
		if data, err := os.ReadFile(filepath.Join(testData, name, "model.onnx")); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := onnx.Decode(data, 1<<24)
		if err != nil {
			return
		}
		p, err := importer.Import(m, importer.Options{Budget: 1 << 24})
		if err != nil {
			return
		}
		var total int64
		for _, w := range p.Weights {
			total += int64(w.Len()) * 4
		}
		if total > 1<<24 {
			t.Fatalf("weights of %d bytes past a budget of %d", total, 1<<24)
		}
		if prog, ds := (&sema.Loader{MaxNodes: 1 << 16}).LoadSource("fuzz.mdl", p.Source); !ds.HasErrors() {
			prog.Build(p.Name)
		}
	})
}
