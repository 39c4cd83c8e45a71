package kmeans

import (
	"testing"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/algorithms/algorithmstest"
	"github.com/sagebrush-ml/sagebrush/mxnet"
)

// FuzzLoad feeds arbitrary model files to what Load does after reading
// one (a model a user brings, SageMaker's own included): an error, never a
// panic, and a model that loads answers a request.
func FuzzLoad(f *testing.F) {
	var seeds []*mxnet.File
	for _, a := range []*mxnet.NDArray{
		mxnet.NewFloat32([]float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 3, 4),
		{Shape: []int{2, 2}, DType: mxnet.Float64, Float64: []float64{1, 2, 3, 4}},
		{Shape: []int{1, 3}, DType: mxnet.Int32, Int64: []int64{1, -2, 3}},
	} {
		seeds = append(seeds, &mxnet.File{Arrays: []*mxnet.NDArray{a}})
	}
	algorithmstest.FuzzNDArrayModel(f, seeds, func(file *mxnet.File) (algorithms.Model, error) {
		return fromFile("model_algo-1", file)
	})
}
