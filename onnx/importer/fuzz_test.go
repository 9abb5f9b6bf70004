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
		"pytorch-converted/test_Linear", "node/test_concat_2d_axis_0", "node/test_slice", "node/test_gemm_default_no_bias", "node/test_resize_upsample_scales_nearest",
		"node/test_sce_mean_weight_ii_3d_log_prob", "node/test_nllloss_NCd1d2_with_weight_reduction_mean", "node/test_gather_elements_negative_indices",
		"pytorch-converted/test_Conv3d_groups", "pytorch-converted/test_MaxPool3d_stride_padding", "node/test_layer_normalization_4d_axis1",
		"node/test_argmax_keepdims_example_select_last_index", "node/test_pow", "node/test_mod_mixed_sign_float32", "node/test_reduce_prod_keepdims_example"} {
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
