package pca

import (
	"testing"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/algorithms/algorithmstest"
)

// BenchmarkTrainSparseWide trains randomized PCA (10 components,
// mini_batch_size 500) on 5,000 CSR rows of 200,000 features
// (algorithmstest.Topics, five stored a row): the time and allocation of
// sparse wide training, whose sketch took every batch dense before.
func BenchmarkTrainSparseWide(b *testing.B) {
	c := algorithmstest.Topics(5000, 200_000)
	b.ReportAllocs()
	for b.Loop() {
		algorithmstest.Train(b, Algorithm{}, map[string]any{"feature_dim": "200000", "num_components": "10",
			"algorithm_mode": "randomized", "mini_batch_size": "500"}, map[string]algorithms.Channel{"train": c})
	}
}
