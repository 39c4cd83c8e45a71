package pca

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/algorithms/algorithmstest"
)

// BenchmarkTrainManyComponents trains on 2·d Gaussian rows whose features
// have seven scales, for many components: all of them (num_components =
// feature_dim), where the eigensolver finds d vectors and randomized
// mode's sketch would be as wide as the data, and either side of the
// width at which randomized mode stops sketching (Params.Sketches: k = 125
// of 1,000 features is a sketch of 250 columns, kept; k = 250 is not).
func BenchmarkTrainManyComponents(b *testing.B) {
	for _, tc := range []struct {
		mode string
		d, k int
	}{
		{"regular", 1000, 1000}, {"randomized", 1000, 1000}, {"regular", 2000, 2000},
		{"regular", 1000, 125}, {"randomized", 1000, 125}, {"randomized", 1000, 250},
	} {
		b.Run(fmt.Sprintf("%s/d=%d/k=%d", tc.mode, tc.d, tc.k), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			rows := make([][]float32, 2*tc.d)
			for i := range rows {
				rows[i] = make([]float32, tc.d)
				for j := range rows[i] {
					rows[i][j] = float32(rng.NormFloat64()) * float32(1+j%7)
				}
			}
			hp := map[string]any{"feature_dim": fmt.Sprint(tc.d), "num_components": fmt.Sprint(tc.k),
				"algorithm_mode": tc.mode, "mini_batch_size": "500"}
			for b.Loop() {
				algorithmstest.Train(b, Algorithm{}, hp, map[string]algorithms.Channel{"train": &memChannel{rows: rows, d: tc.d}})
			}
		})
	}
}

// BenchmarkTrainBatchSizes trains 20,000 Gaussian rows of 784 features
// (Fashion-MNIST's width), 50 components, in mini-batches from 10 rows to
// 500 (the default): what a small mini_batch_size costs a pass that does
// not depend on it.
func BenchmarkTrainBatchSizes(b *testing.B) {
	const n, d = 20000, 784
	rng := rand.New(rand.NewPCG(3, 4))
	rows := make([][]float32, n)
	for i := range rows {
		rows[i] = make([]float32, d)
		for j := range rows[i] {
			rows[i][j] = float32(rng.NormFloat64()) * float32(1+j%7)
		}
	}
	for _, mode := range []string{"regular", "randomized"} {
		for _, mb := range []int{10, 100, 500} {
			b.Run(fmt.Sprintf("%s/mini_batch_size=%d", mode, mb), func(b *testing.B) {
				hp := map[string]any{"feature_dim": fmt.Sprint(d), "num_components": "50",
					"algorithm_mode": mode, "mini_batch_size": fmt.Sprint(mb)}
				for b.Loop() {
					algorithmstest.Train(b, Algorithm{}, hp, map[string]algorithms.Channel{"train": &memChannel{rows: rows, d: d}})
				}
			})
		}
	}
}
