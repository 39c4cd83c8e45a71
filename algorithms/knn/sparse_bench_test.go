package knn

import (
	"testing"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/algorithms/algorithmstest"
)

// BenchmarkTrainSparseWide trains a classifier (k=10, sample_size 5,000)
// on 5,000 CSR rows of 200,000 features (algorithmstest.Topics, five
// stored a row) with each projection to 32 dimensions: the time and
// allocation of sparse wide training, whose sample was kept dense before.
func BenchmarkTrainSparseWide(b *testing.B) {
	c := algorithmstest.Topics(5000, 200_000)
	for _, typ := range []string{"sign", "fjlt"} {
		b.Run(typ, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				algorithmstest.Train(b, Algorithm{}, map[string]any{"feature_dim": "200000", "k": "10", "predictor_type": "classifier",
					"sample_size": "5000", "dimension_reduction_type": typ, "dimension_reduction_target": "32"},
					map[string]algorithms.Channel{"train": c})
			}
		})
	}
}
