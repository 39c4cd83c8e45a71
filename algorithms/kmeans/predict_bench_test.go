package kmeans

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/compute"
	"github.com/sagebrush-ml/sagebrush/data"
)

// BenchmarkPredict is a serving request's model work: k=10 centers of 784
// features (the Fashion-MNIST benchmark's model) against 1 and 100 rows.
func BenchmarkPredict(b *testing.B) {
	const k, d = 10, 784
	rng := rand.New(rand.NewPCG(1, 2))
	centers := make([]float32, k*d)
	for i := range centers {
		centers[i] = float32(rng.IntN(256))
	}
	m := newModel(compute.MatrixOf(k, d, centers), d, "")
	for _, n := range []int{1, 100} {
		x := make([]float32, n*d)
		for i := range x {
			x[i] = float32(rng.IntN(256))
		}
		batch := &data.Batch{Rows: n, Cols: d, Dense: x}
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Predict(context.Background(), batch, algorithms.PredictOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
