package serve

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/mdlc/mdlc/stdlib"
)

// A model repository in the layout Triton and KServe use:
//
//	DIR/NAME/VERSION/model.mdl   (+ weights.safetensors beside it)
//	DIR/NAME/VERSION/model.onnx
//	DIR/NAME/config.pbtxt        (optional: the model's settings, config.go)
//
// VERSION is a positive whole number; a request that names no version gets
// the highest that is ready. Every version found is loaded at start.

// validName is what a model name or version may be: it appears in URLs,
// logs and metric labels, which then need no escaping.
var validName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// SpecsFromFiles names each model after its file (fashion_cnn.mdl and the
// stdlib name fashion_cnn both serve as fashion_cnn), version 1. NAME=PATH
// names it NAME; PATH may then also be a directory laid out as one version
// of a repository (model.mdl with weights.safetensors, or model.onnx), as
// KServe's storage initializer leaves a model in /mnt/models.
func SpecsFromFiles(paths []string) ([]Spec, error) {
	var specs []Spec
	for _, p := range paths {
		spec := Spec{Name: strings.TrimSuffix(filepath.Base(p), filepath.Ext(p)), Path: p}
		if _, isStd := stdlib.Source(p); isStd {
			spec.Name = p
		}
		if name, path, named := strings.Cut(p, "="); named {
			spec = Spec{Name: name, Path: path}
			if st, err := os.Stat(path); err == nil && st.IsDir() {
				if spec, err = versionSpec(path); err != nil {
					return nil, err
				}
				spec.Name = name
				if spec.Config, err = readModelConfig(path, name); err != nil {
					return nil, err
				}
			}
		}
		if !validName.MatchString(spec.Name) {
			return nil, fmt.Errorf("%s: a model is named after its file, and %q is not a usable name (letters, digits, _ . -); name it with NAME=%s", p, spec.Name, p)
		}
		if slices.ContainsFunc(specs, func(s Spec) bool { return s.Name == spec.Name }) {
			return nil, fmt.Errorf("two models are named %s; name one of them otherwise with NAME=PATH", spec.Name)
		}
		spec.Version = "1"
		specs = append(specs, spec)
	}
	return specs, nil
}

// SpecsFromRepository lists the models of a repository directory.
func SpecsFromRepository(dir string) ([]Spec, error) {
	names, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("model repository: %w", err)
	}
	var specs []Spec
	for _, n := range names {
		if !n.IsDir() || strings.HasPrefix(n.Name(), ".") {
			continue
		}
		if !validName.MatchString(n.Name()) {
			return nil, fmt.Errorf("model repository %s: %q is not a usable model name (letters, digits, _ . -)", dir, n.Name())
		}
		versions, err := os.ReadDir(filepath.Join(dir, n.Name()))
		if err != nil {
			return nil, fmt.Errorf("model repository: %w", err)
		}
		cfg, err := readModelConfig(filepath.Join(dir, n.Name()), n.Name())
		if err != nil {
			return nil, err // file:line:col first
		}
		found := 0
		for _, v := range versions {
			if !v.IsDir() {
				continue // config files beside the versions
			}
			if num, err := strconv.Atoi(v.Name()); err != nil || num < 1 || strconv.Itoa(num) != v.Name() {
				return nil, fmt.Errorf("model repository %s: model %s has a version directory %q; versions are whole numbers from 1", dir, n.Name(), v.Name())
			}
			s, err := versionSpec(filepath.Join(dir, n.Name(), v.Name()))
			if err != nil {
				return nil, fmt.Errorf("model repository: %w", err)
			}
			s.Name, s.Version, s.Config = n.Name(), v.Name(), cfg
			specs = append(specs, s)
			found++
		}
		if found == 0 {
			return nil, fmt.Errorf("model repository %s: model %s has no version directory (%s/1/model.mdl)", dir, n.Name(), filepath.Join(dir, n.Name()))
		}
	}
	if len(specs) == 0 {
		return nil, fmt.Errorf("model repository %s holds no model: lay it out as %s/NAME/1/model.mdl (or model.onnx)", dir, dir)
	}
	return specs, nil
}

// versionSpec finds the model file of one version directory.
func versionSpec(dir string) (Spec, error) {
	mdl, onnx := filepath.Join(dir, "model.mdl"), filepath.Join(dir, "model.onnx")
	hasMdl, hasOnnx := isFile(mdl), isFile(onnx)
	switch {
	case hasMdl && hasOnnx:
		return Spec{}, fmt.Errorf("%s holds both model.mdl and model.onnx; keep one", dir)
	case hasOnnx:
		return Spec{Path: onnx}, nil
	case !hasMdl:
		return Spec{}, fmt.Errorf("%s holds no model.mdl or model.onnx", dir)
	}
	s := Spec{Path: mdl}
	if w := filepath.Join(dir, "weights.safetensors"); isFile(w) {
		s.Weights = w
	}
	return s, nil
}

func isFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// errUnknownModel and errUnknownVersion are answered 404.
var (
	errUnknownModel   = errors.New("unknown model")
	errUnknownVersion = errors.New("unknown version")
)

// lookup finds a model version; "" is the highest version of the name that
// is ready, so a version that failed to load, or is still loading, leaves
// the earlier ones answering. When none is ready it is the highest, whose
// state the caller then reports.
func (s *Server) lookup(name, version string) (*Model, error) {
	var best, bestReady *Model
	higher := func(m, than *Model) bool {
		return than == nil || versionNumber(m.Version) > versionNumber(than.Version)
	}
	for _, m := range s.models {
		if m.Name != name {
			continue
		}
		if version == m.Version {
			return m, nil
		}
		if version != "" {
			continue
		}
		if higher(m, best) {
			best = m
		}
		if m.Ready() && higher(m, bestReady) {
			bestReady = m
		}
	}
	if bestReady != nil {
		return bestReady, nil
	}
	if best != nil {
		return best, nil
	}
	if slices.ContainsFunc(s.models, func(m *Model) bool { return m.Name == name }) {
		return nil, errUnknownVersion
	}
	return nil, errUnknownModel
}

func versionNumber(v string) int {
	n, _ := strconv.Atoi(v)
	return n
}
