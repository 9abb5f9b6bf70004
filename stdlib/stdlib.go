// Package stdlib embeds mdlc's standard library of .mdl models and blocks, so
// `import "blocks"` and `mdlc run cnn` work anywhere the binary runs.
package stdlib

import (
	"embed"
	"io/fs"
	"slices"
)

// FS holds the standard library's .mdl files at its root.
//
//go:embed *.mdl
var FS embed.FS

// trained holds the weights that ship with stdlib models, trained by mdlc
// train (see Trained).
//
//go:embed weights/*.safetensors
var trained embed.FS

// Trained returns the weights shipped for the stdlib model name, a
// safetensors file whose metadata says how they were trained, and whether it
// has any. They belong to the model as stdlib writes it: Source(name) must
// be what was loaded.
func Trained(name string) ([]byte, bool) {
	b, err := fs.ReadFile(trained, "weights/"+name+".safetensors")
	return b, err == nil
}

// Source is the text of the stdlib model name (name.mdl), if there is one.
func Source(name string) ([]byte, bool) {
	b, err := fs.ReadFile(FS, name+".mdl")
	return b, err == nil
}

// Zoo names the model zoo: torchvision 0.14's ImageNet classifiers, layer for
// layer (<name>.mdl, model <name>, logits for 224×224 NHWC images), checked
// against torchvision itself by cmd/mdlc/zoo_test.go.
var Zoo = []string{"mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0", "resnet18", "resnet50", "vgg16"}

// IsZoo reports whether name is a model of the zoo.
func IsZoo(name string) bool { return slices.Contains(Zoo, name) }
