package main

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/tensor"
)

// proxyVersion is the version this checkout takes in the test's proxy.
const proxyVersion = "v0.0.1"

// TestGenAndBuildOutsideTheCheckout proves that a user who installed mdlc
// can use `mdlc gen` and `mdlc build` in a directory of their own, with no
// checkout of mdlc anywhere: it serves this checkout's module from a module
// proxy made on the fly (a file:// GOPROXY, the module cache's downloads
// behind it for the dependencies, so no network is needed), installs mdlc
// from it with `go install`, then, from a fresh directory, generates a
// package into a user's module (which gets mdlc with `go get`, nothing
// else), builds and runs a program using it, and builds a static binary.
func TestGenAndBuildOutsideTheCheckout(t *testing.T) {
	if testing.Short() {
		t.Skip("installs mdlc from a module proxy and builds two programs")
	}
	goTool, err := exec.LookPath(filepath.Join(runtime.GOROOT(), "bin", "go"))
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	tmp := t.TempDir()
	proxy := filepath.Join(tmp, "proxy")
	writeProxy(t, root, proxy)
	modcache, err := exec.Command(goTool, "env", "GOMODCACHE").Output()
	require.NoError(t, err)
	env := append(os.Environ(),
		"GOPROXY=file://"+proxy+",file://"+filepath.Join(strings.TrimSpace(string(modcache)), "cache", "download"),
		"GOSUMDB=off", "GOFLAGS=-mod=mod", "GOWORK=off", "GOTOOLCHAIN=local",
		"GOMODCACHE="+filepath.Join(tmp, "modcache"), "GOBIN="+filepath.Join(tmp, "bin"))
	run := func(dir string, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s %s:\n%s", name, strings.Join(args, " "), out)
		return string(out)
	}
	defer run(tmp, goTool, "clean", "-modcache") // its files are read-only

	run(tmp, goTool, "install", "github.com/mdlc/mdlc/cmd/mdlc@"+proxyVersion)
	mdlcBin := filepath.Join(tmp, "bin", "mdlc")
	require.Contains(t, run(tmp, mdlcBin, "version"), "mdlc "+proxyVersion)

	user := filepath.Join(tmp, "user")
	require.NoError(t, os.MkdirAll(user, 0o755))
	run(user, goTool, "mod", "init", "example.com/user")
	out := run(user, mdlcBin, "gen", "-o", "cnn", "cnn")
	require.Contains(t, out, "go get github.com/mdlc/mdlc@"+proxyVersion)
	run(user, goTool, "get", "github.com/mdlc/mdlc@"+proxyVersion)
	main := `package main

import (
	"fmt"

	"example.com/user/cnn"
)

func main() {
	m, err := cnn.New()
	if err != nil {
		panic(err)
	}
	probs := make([]float32, cnn.ProbsSize)
	if err := m.Run(make([]float32, cnn.ImageSize), probs); err != nil {
		panic(err)
	}
	var sum float32
	for _, p := range probs {
		sum += p
	}
	fmt.Printf("sum %.3f\n", sum)
}
`
	require.NoError(t, os.WriteFile(filepath.Join(user, "main.go"), []byte(main), 0o644))
	run(user, goTool, "build", "-o", "app", ".")
	require.Contains(t, run(user, filepath.Join(user, "app")), "sum 1.000")

	elsewhere := filepath.Join(tmp, "elsewhere")
	require.NoError(t, os.MkdirAll(elsewhere, 0o755))
	require.NoError(t, tensor.WriteNpyFile(filepath.Join(elsewhere, "x.npy"), tensor.New(1, 32, 32, 3)))
	run(elsewhere, mdlcBin, "build", "-o", "cnnbin", "cnn")
	require.Contains(t, run(elsewhere, filepath.Join(elsewhere, "cnnbin"), "--input", "x.npy"), "probs: f32[1,10]")
}

// writeProxy lays out a GOPROXY directory serving the module at root, as
// committed (git ls-files), at proxyVersion.
func writeProxy(t *testing.T, root, proxy string) {
	dir := filepath.Join(proxy, "github.com", "mdlc", "mdlc", "@v")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	files, err := exec.Command("git", "-C", root, "ls-files").Output()
	require.NoError(t, err)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	prefix := "github.com/mdlc/mdlc@" + proxyVersion + "/"
	for _, name := range strings.Split(strings.TrimSpace(string(files)), "\n") {
		// The kernel generators are a module of their own: not in this zip.
		if strings.HasPrefix(name, "runtime/kernels/_asm/") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, name))
		if os.IsNotExist(err) {
			continue // deleted in the work tree
		}
		require.NoError(t, err)
		w, err := zw.Create(prefix + name)
		require.NoError(t, err)
		_, err = io.Copy(w, bytes.NewReader(data))
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	for name, data := range map[string][]byte{
		"list":                 []byte(proxyVersion + "\n"),
		proxyVersion + ".info": []byte(`{"Version":"` + proxyVersion + `","Time":"2026-12-04T00:00:00Z"}`),
		proxyVersion + ".mod":  mod,
		proxyVersion + ".zip":  buf.Bytes(),
	} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o644))
	}
}
