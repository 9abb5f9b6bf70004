package codegen

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/internal/golden"
)

// TestServeMainGolden: the main package of a served binary, as written
// (TestBuildServe in cmd/mdlc builds and runs one).
func TestServeMainGolden(t *testing.T) {
	src, err := ServeMain(Model{Name: "cnn224", Source: "stdlib/cnn224.mdl", SourceHash: "0123456789abcdef0123"}, "cnn224", "classifier", "v1.2.3")
	require.NoError(t, err)
	golden.Check(t, "testdata/servemain.go.golden", string(src))
}
