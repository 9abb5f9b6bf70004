// Package stdlib embeds mdlc's standard library of .mdl models and blocks, so
// `import "blocks"` and `mdlc run cnn` work anywhere the binary runs.
package stdlib

import (
	"embed"
	"slices"
)

// FS holds the standard library's .mdl files at its root.
//
//go:embed *.mdl
var FS embed.FS

// Zoo names the model zoo: torchvision 0.14's ImageNet classifiers, layer for
// layer (<name>.mdl, model <name>, logits for 224×224 NHWC images), checked
// against torchvision itself by cmd/mdlc/zoo_test.go.
var Zoo = []string{"mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0", "resnet18", "resnet50", "vgg16"}

// IsZoo reports whether name is a model of the zoo.
func IsZoo(name string) bool { return slices.Contains(Zoo, name) }
