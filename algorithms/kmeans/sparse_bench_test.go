package kmeans

import (
	"testing"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/algorithms/algorithmstest"
)

// BenchmarkTrainSparseWide trains k=10 on 5,000 CSR rows of 200,000
// features (algorithmstest.Topics, five stored a row), defaults otherwise:
// the time and allocation of sparse wide training, which made every
// mini-batch dense before.
func BenchmarkTrainSparseWide(b *testing.B) {
	c := algorithmstest.Topics(5000, 200_000)
	b.ReportAllocs()
	for b.Loop() {
		algorithmstest.Train(b, Algorithm{}, map[string]any{"feature_dim": "200000", "k": "10"}, map[string]algorithms.Channel{"train": c})
	}
}

// BenchmarkTrainSparseWideBatches is BenchmarkTrainSparseWide in mini-batches
// of 500 rows: ten steps an epoch, where a step's cost on CSR rows should
// follow the entries it holds, not k × extra_center_factor × feature_dim.
func BenchmarkTrainSparseWideBatches(b *testing.B) {
	c := algorithmstest.Topics(5000, 200_000)
	b.ReportAllocs()
	for b.Loop() {
		algorithmstest.Train(b, Algorithm{}, map[string]any{"feature_dim": "200000", "k": "10", "mini_batch_size": "500"}, map[string]algorithms.Channel{"train": c})
	}
}
