package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/internal/golden"
)

var updateREADME = flag.Bool("update-readme", false, "rewrite the README's generated tables from the current output")

// The README's memory table is generated from `mdlc plan`, for the AVX2
// kernels (whose packing and scratch the figures include) so that it is the
// same on every machine, and checked here so it cannot go stale.
const (
	memoryTableStart = "<!-- memory table: made by go test ./cmd/mdlc -run TestREADMEMemoryTable -update-readme -->\n"
	memoryTableEnd   = "<!-- end of memory table -->\n"
)

func TestREADMEMemoryTable(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("| model | batch | arena | lower bound | arena / bound | unplanned | as written |\n|---|---|---|---|---|---|---|\n")
	for _, m := range []string{"cnn", "cnn224", "lenet", "mlp", "resnet"} {
		for _, batch := range []string{"1", "8"} {
			code, out, errs := mdlc(t, "plan", "--json", "--kernels", "avx2", "--batch", batch, "../../stdlib/"+m+".mdl")
			require.Equal(t, 0, code, errs)
			var p struct {
				Arena      int64 `json:"arena_bytes"`
				LowerBound int64 `json:"lower_bound_bytes"`
				Unplanned  int64 `json:"unplanned_bytes"`
				AsWritten  int64 `json:"as_written_bytes"`
			}
			require.NoError(t, json.Unmarshal([]byte(out), &p))
			fmt.Fprintf(&sb, "| %s | %s | %s | %s | %.3f | %s | %s |\n", m, batch, commas(p.Arena), commas(p.LowerBound),
				float64(p.Arena)/float64(p.LowerBound), commas(p.Unplanned), commas(p.AsWritten))
		}
	}
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	before, rest, ok := strings.Cut(string(readme), memoryTableStart)
	require.True(t, ok, "README.md lacks the line %q", memoryTableStart)
	old, after, ok := strings.Cut(rest, memoryTableEnd)
	require.True(t, ok, "README.md lacks the line %q", memoryTableEnd)
	if *updateREADME {
		require.NoError(t, os.WriteFile("../../README.md", []byte(before+memoryTableStart+sb.String()+memoryTableEnd+after), 0o644))
		return
	}
	if old != sb.String() {
		t.Errorf("README.md's memory table is stale (run go test ./cmd/mdlc -run TestREADMEMemoryTable -update-readme):\n%s", golden.Diff(old, sb.String()))
	}
}
