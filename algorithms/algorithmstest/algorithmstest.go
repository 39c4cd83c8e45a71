// Package algorithmstest holds checks the algorithms' tests share.
package algorithmstest

import (
	"context"
	"testing"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/data"
)

// MaxFuzzCols is the widest model whose request Answers builds: a fuzzed
// model file may declare any width, and a request that wide is not what a
// loader's fuzz test is for.
const MaxFuzzCols = 1 << 12

// Answers fails t unless m, a model a loader accepted, answers a request
// of rows rows of its feature_dim (small varied values, dense) with one
// prediction a row. Models wider than MaxFuzzCols are not asked.
func Answers(t testing.TB, m algorithms.Model, rows int) {
	t.Helper()
	cols := m.FeatureDim()
	if cols < 1 || cols > MaxFuzzCols {
		return
	}
	x := make([]float32, rows*cols)
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	p, err := m.Predict(context.Background(), &data.Batch{Rows: rows, Cols: cols, Dense: x}, algorithms.PredictOptions{})
	if err != nil {
		t.Fatalf("a model that loads failed a request of %d rows: %v", rows, err)
	}
	if p.Rows != rows {
		t.Fatalf("%d prediction rows for %d", p.Rows, rows)
	}
}
