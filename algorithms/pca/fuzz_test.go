package pca

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
	for _, named := range []map[string]*mxnet.NDArray{
		{"v": mxnet.NewFloat32([]float32{1, 0, 0, 1, 0, 0}, 3, 2), "mean": mxnet.NewFloat32([]float32{1, 2, 3}, 1, 3),
			"s": mxnet.NewFloat32([]float32{2, 1}, 2)},
		{"v": {Shape: []int{2, 1}, DType: mxnet.Float64, Float64: []float64{0.6, 0.8}}, "mean": mxnet.NewFloat32([]float32{0, 0}, 2)},
	} {
		file := &mxnet.File{}
		for _, name := range []string{"s", "v", "mean"} {
			if a, ok := named[name]; ok {
				file.Names = append(file.Names, name)
				file.Arrays = append(file.Arrays, a)
			}
		}
		seeds = append(seeds, file)
	}
	algorithmstest.FuzzNDArrayModel(f, seeds, func(file *mxnet.File) (algorithms.Model, error) {
		return fromFile("model_algo-1", file)
	})
}
