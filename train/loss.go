package train

import (
	"fmt"
	"strings"
)

// Loss is a training objective, named as Keras names it.
type Loss int

const (
	// SparseCategoricalCrossentropy: class ids as labels, -log softmax(z)[id].
	SparseCategoricalCrossentropy Loss = iota
	// CategoricalCrossentropy: one-hot (or soft) label rows, -Σ y·log softmax(z).
	CategoricalCrossentropy
	// BinaryCrossentropy: labels in [0, 1] per output element,
	// -(y·log p + (1-y)·log(1-p)) with p = sigmoid(z), computed from z.
	BinaryCrossentropy
	// MeanSquaredError: (prediction - y)², averaged over each example's elements.
	MeanSquaredError
	// MeanAbsoluteError: |prediction - y|, averaged likewise.
	MeanAbsoluteError
)

var lossNames = [...]string{
	SparseCategoricalCrossentropy: "sparse_categorical_crossentropy",
	CategoricalCrossentropy:       "categorical_crossentropy",
	BinaryCrossentropy:            "binary_crossentropy",
	MeanSquaredError:              "mse",
	MeanAbsoluteError:             "mae",
}

// lossAliases are the other names Keras accepts for the same losses.
var lossAliases = map[string]Loss{
	"mean_squared_error":  MeanSquaredError,
	"mean_absolute_error": MeanAbsoluteError,
}

func (l Loss) String() string {
	if int(l) < len(lossNames) {
		return lossNames[l]
	}
	return fmt.Sprintf("Loss(%d)", int(l))
}

// ParseLoss reads a loss by its Keras name.
func ParseLoss(s string) (Loss, error) {
	for i, n := range lossNames {
		if s == n {
			return Loss(i), nil
		}
	}
	if l, ok := lossAliases[s]; ok {
		return l, nil
	}
	return 0, fmt.Errorf("unknown loss %q; losses are %s", s, strings.Join(lossNames[:], ", "))
}

// classifies is true for the losses whose predictions are classes, which
// accuracy is measured on.
func (l Loss) classifies() bool {
	return l == SparseCategoricalCrossentropy || l == CategoricalCrossentropy || l == BinaryCrossentropy
}
