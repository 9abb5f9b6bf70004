package sema_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/lang/sema"
)

// TestTrainSpec: a train block's settings arrive in the model's TrainSpec,
// and a model without one has none.
func TestTrainSpec(t *testing.T) {
	src := `model m(x: f32[N, 8]) -> (y) {
  y = x | dense(8)
  train {
    loss = categorical_crossentropy(from_logits=true)
    optimizer = sgd(lr=0.05, momentum=0.9, nesterov=true, weight_decay=1e-4)
    metrics = [accuracy, top_k(k=3), sparse_top_k_categorical_accuracy]
    batch_size = 16
    epochs = 3
    validation_split = 0.2
    schedule = step(every=2, gamma=0.5)
  }
}

model bare(x: f32[N, 8]) -> (y) {
  y = x | dense(4)
}

model plateau(x: f32[N, 8]) -> (y) {
  y = x | dense(4)
  train {
    schedule = plateau(patience=3, min_lr=1e-5)
  }
}
`
	p, ds := loader.LoadSource("t.mdl", []byte(src))
	require.Empty(t, ds)
	m, ds := p.Build("m")
	require.Empty(t, ds.Render(p.Source))
	require.Equal(t, &sema.TrainSpec{
		Loss: "categorical_crossentropy", FromLogits: true,
		Optimizer: "sgd", LR: 0.05, Momentum: 0.9, Nesterov: true, WeightDecay: 1e-4,
		Metrics: []string{"accuracy", "top3", "top5"}, BatchSize: 16, Epochs: 3, ValidationSplit: 0.2,
		Schedule: "step", ScheduleEvery: 2, ScheduleGamma: 0.5,
	}, m.Train)
	bare, ds := p.Build("bare")
	require.Empty(t, ds)
	require.Nil(t, bare.Train)

	plateau, ds := p.Build("plateau")
	require.Empty(t, ds.Render(p.Source))
	require.Equal(t, &sema.TrainSpec{Schedule: "plateau", SchedulePatience: 3, ScheduleMinLR: 1e-5}, plateau.Train)
	bare, ds = p.Build("bare")
	require.Empty(t, ds)
	require.Nil(t, bare.Train)
}
