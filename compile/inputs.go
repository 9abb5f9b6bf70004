package compile

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/tensor"
)

// ReadInputs reads the inputs given as NAME=FILE, or FILE alone for a model
// of one input: .npy arrays, or images (.png, .jpg) decoded, resized to the
// input's height and width and scaled to 0..1, as the seed's Keras code
// does. Each is checked against its input's type by Bind.
func (o *Options) ReadInputs(m *Model, given []string) (map[string]*tensor.Tensor, error) {
	g := m.Graph
	inputs := map[string]*tensor.Tensor{}
	for _, arg := range given {
		name, path, named := strings.Cut(arg, "=")
		if !named {
			if len(g.Inputs) != 1 {
				return nil, usagef("model %s takes %d inputs (%s); give each as --input NAME=FILE", g.Name, len(g.Inputs), InputNames(g))
			}
			name, path = g.Inputs[0].Name, arg
		}
		in := findInput(g, name)
		if in == nil {
			return nil, usagef("model %s has no input %q; its inputs are %s", g.Name, name, InputNames(g))
		}
		if _, dup := inputs[name]; dup {
			return nil, usagef("input %q given twice", name)
		}
		t, err := o.readInput(path, in)
		if err != nil {
			return nil, err
		}
		inputs[name] = t
	}
	return inputs, nil
}

func findInput(g *ir.Graph, name string) *ir.Value {
	for _, in := range g.Inputs {
		if in.Name == name {
			return in
		}
	}
	return nil
}

func (o *Options) readInput(path string, in *ir.Value) (*tensor.Tensor, error) {
	if strings.ToLower(filepath.Ext(path)) == ".npy" {
		t, err := tensor.ReadNpyFileWithin(path, o.budget())
		if err != nil {
			return nil, err
		}
		switch {
		case in.Type.DType != ir.F32 && !t.IsInt():
			return nil, fmt.Errorf("%s: input %s is token ids (%s), but the file holds floats: save the ids as integers (numpy's int32 or int64)", path, in.Name, in.Type)
		case in.Type.DType == ir.F32:
			t = t.Floats()
		}
		// One example without its batch axis is unambiguous: add the axis.
		if len(t.Shape) == in.Type.Shape.Rank()-1 && !in.Type.Shape[0].Known() {
			t.Shape = append([]int{1}, t.Shape...)
		}
		return t, nil
	}
	s := in.Type.Shape
	if in.Type.DType != ir.F32 {
		return nil, fmt.Errorf("%s: input %s is token ids (%s): give them as an .npy of integers", path, in.Name, in.Type)
	}
	if s.Rank() != 4 || !s[1].Known() || !s[2].Known() || !s[3].Known() || (s[3].Size != 1 && s[3].Size != 3) {
		return nil, fmt.Errorf("%s: an image can only feed an input of shape (N, height, width, 1 or 3); input %s is %s", path, in.Name, in.Type)
	}
	return tensor.LoadImageWithin(path, s[1].Size, s[2].Size, s[3].Size, o.budget())
}

// Samples makes a deterministic sample for every input at the binding env
// (which Bind checked against the budget): uniform in [0, 1), the range the
// seed's images are scaled to, for f32; token ids uniform over the
// vocabulary of the embeddings reading them.
func Samples(m *Model, env map[string]int, seed uint64) (map[string]*tensor.Tensor, error) {
	g := m.Graph
	rng := rand.New(rand.NewPCG(seed, 0x5a4d504c45))
	inputs := map[string]*tensor.Tensor{}
	for _, in := range g.Inputs {
		shape, err := in.Type.Shape.Bind(env)
		if err != nil {
			return nil, err
		}
		if in.Type.DType == ir.F32 {
			t := tensor.New(shape...)
			for j := range t.Data {
				t.Data[j] = rng.Float32()
			}
			inputs[in.Name] = t
			continue
		}
		t := tensor.NewInts(shape...)
		limit := g.TokenLimit(in)
		for j := range t.Ints {
			t.Ints[j] = int64(rng.IntN(limit))
		}
		inputs[in.Name] = t
	}
	return inputs, nil
}
