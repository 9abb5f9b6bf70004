package compile

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/internal/size"
	"github.com/mdlc/mdlc/runtime/ref"
	"github.com/mdlc/mdlc/tensor"
)

func TestBindFromFlagsAndFedTensors(t *testing.T) {
	o := &Options{}
	m, err := o.Load("../stdlib/gpt.mdl")
	require.NoError(t, err)

	env, err := o.Bind(m, Shape{Batch: 2, Dims: map[string]int{"T": 8}}, nil)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"N": 2, "T": 8}, env)

	ids := tensor.NewInts(3, 5)
	env, err = o.Bind(m, Shape{Dims: map[string]int{}}, map[string]*tensor.Tensor{"ids": ids})
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"N": 3, "T": 5}, env, "symbols come from the fed tensor")

	_, err = o.Bind(m, Shape{Batch: 4}, map[string]*tensor.Tensor{"ids": ids})
	var ue *UsageError
	require.ErrorAs(t, err, &ue, "a flag contradicting the input is a usage error")
	assert.Contains(t, err.Error(), "--batch 4 contradicts input ids, whose N is 3")
	_, err = o.Bind(m, Shape{Dims: map[string]int{"T": 6}}, map[string]*tensor.Tensor{"ids": ids})
	assert.ErrorContains(t, err, "--dim T 6 contradicts input ids, whose T is 5")

	_, err = o.Bind(m, Shape{Dims: map[string]int{}}, nil)
	assert.ErrorContains(t, err, "give its size with --dim T=SIZE")
	_, err = o.Bind(m, Shape{Dims: map[string]int{"N": 2, "T": 4}}, nil)
	assert.ErrorContains(t, err, "set it with --batch")
	_, err = o.Bind(m, Shape{Dims: map[string]int{"T": 300}}, nil)
	assert.ErrorContains(t, err, "256", "the learned table's length is checked at the binding")
	_, err = o.Bind(m, Shape{Dims: map[string]int{"T": 5}}, map[string]*tensor.Tensor{"ids": tensor.New(3, 5)})
	assert.ErrorContains(t, err, "token ids")
}

func TestBudgetRefusesBeforeAllocating(t *testing.T) {
	o := &Options{Budget: 64 << 10}
	m, err := o.Load("../stdlib/cnn.mdl")
	require.NoError(t, err)
	_, err = o.Compile(m, Shape{Batch: 1}, nil)
	var se *size.Error
	require.ErrorAs(t, err, &se, "the cnn's 170 KB of weights do not fit in 64 KiB")
	_, err = (&Options{Budget: 1 << 20}).Bind(m, Shape{Batch: 1000}, nil)
	require.ErrorAs(t, err, &se)
	assert.Contains(t, err.Error(), "input image")
}

func TestCompileAndExecuteAgreeWithTheReference(t *testing.T) {
	for _, noOpt := range []bool{false, true} {
		o := &Options{NoOpt: noOpt, Seed: 3, Untrained: true}
		m, err := o.Load("../stdlib/lenet.mdl")
		require.NoError(t, err)
		c, err := o.Compile(m, Shape{Batch: 2}, nil)
		require.NoError(t, err)
		assert.True(t, c.Weights.Fresh)
		assert.Positive(t, c.Flops)
		in, err := Samples(m, c.Env, 7)
		require.NoError(t, err)
		got, err := o.Execute(c, in)
		require.NoError(t, err)

		fresh, err := o.Load("../stdlib/lenet.mdl")
		require.NoError(t, err)
		want, err := ref.Run(fresh.Graph, c.Weights.Tensors, in)
		require.NoError(t, err)
		for name, w := range want {
			assert.Less(t, tensor.MaxRelErr(got[name].Data, w.Data, 1e-3), 1e-5, name)
		}
	}
}

// TestShippedWeights: a stdlib model as stdlib writes it loads the weights
// that ship with it, and says how they were trained; the same text edited by
// a byte is another model, which starts from initial weights.
func TestShippedWeights(t *testing.T) {
	o := &Options{}
	m, err := o.Load("lenet")
	require.NoError(t, err)
	w, err := o.LoadWeights(m)
	require.NoError(t, err)
	assert.False(t, w.Fresh)
	assert.Contains(t, w.Shipped, "accuracy 0.9907 on mnist:test")
	m.Source = append(m.Source, '\n')
	w, err = o.LoadWeights(m)
	require.NoError(t, err)
	assert.True(t, w.Fresh)
	assert.Empty(t, w.Shipped)
}
