package computetest

import (
	"testing"

	"github.com/sagebrush-ml/sagebrush/compute"
)

// BenchmarkBackend runs the shared benchmarks against be, named by shape:
// the k-means Lloyd step (5000 points of MNIST against 100 centers) and a
// kNN query batch (1000 queries against 10000 samples). Each reports
// GFLOP/s, counting 2*m*n*k flops for the matrix product that dominates.
func BenchmarkBackend(b *testing.B, be compute.Backend) {
	b.Run("Gemm/m=5000,n=100,k=784", func(b *testing.B) { benchGemm(b, be, 5000, 100, 784) })
	b.Run("PairwiseL2/n=5000,d=784,k=100", func(b *testing.B) { benchPairwise(b, be, 5000, 784, 100) })
	b.Run("NearestL2/n=5000,d=784,k=100", func(b *testing.B) { benchNearest(b, be, 5000, 784, 100) })
	b.Run("NearestL2/n=1000,d=784,k=10000", func(b *testing.B) { benchNearest(b, be, 1000, 784, 10000) })
	// A one-row k-means request: the size where a cgo call costs more than
	// the product (compute/cpu's smallGemm).
	b.Run("NearestL2/n=1,d=784,k=10", func(b *testing.B) { benchNearest(b, be, 1, 784, 10) })
}

func reportGFLOPs(b *testing.B, flops float64) {
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// benchGemm times C = X·Cᵀ, the product inside PairwiseL2 (A is m×k, B is
// n×k, transposed).
func benchGemm(b *testing.B, be compute.Backend, m, n, k int) {
	rng := newRand()
	x := randMatrix(m, k, 0, uniform(rng))
	y := randMatrix(n, k, 0, uniform(rng))
	c := compute.NewMatrix(m, n)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		be.Gemm(false, true, 1, x, y, 0, c)
	}
	reportGFLOPs(b, 2*float64(m)*float64(n)*float64(k))
}

func benchPairwise(b *testing.B, be compute.Backend, n, d, k int) {
	rng := newRand()
	x := randMatrix(n, d, 0, uniform(rng))
	y := randMatrix(k, d, 0, uniform(rng))
	yn := make([]float32, k)
	be.RowSquaredNorms(yn, y)
	dst := compute.NewMatrix(n, k)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		be.PairwiseL2(dst, x, y, yn)
	}
	reportGFLOPs(b, 2*float64(n)*float64(k)*float64(d))
}

func benchNearest(b *testing.B, be compute.Backend, n, d, k int) {
	rng := newRand()
	x := randMatrix(n, d, 0, uniform(rng))
	y := randMatrix(k, d, 0, uniform(rng))
	yn := make([]float32, k)
	be.RowSquaredNorms(yn, y)
	idx := make([]int32, n)
	dist := make([]float32, n)
	var scratch []float32
	if _, ok := be.(compute.Nearest); !ok {
		scratch = make([]float32, n*k)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		compute.NearestL2(be, idx, dist, x, y, yn, scratch)
	}
	reportGFLOPs(b, 2*float64(n)*float64(k)*float64(d))
}
