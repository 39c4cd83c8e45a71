package pca

import (
	"bytes"
	"testing"

	"github.com/sagebrush-ml/sagebrush/algorithms/algorithmstest"
	"github.com/sagebrush-ml/sagebrush/mxnet"
)

// FuzzLoad feeds arbitrary model files to what Load does after reading
// one (a model a user brings, SageMaker's own included): an error, never a
// panic, and a model that loads answers a request.
func FuzzLoad(f *testing.F) {
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
		var b bytes.Buffer
		if err := mxnet.Write(&b, file); err != nil {
			f.Fatal(err)
		}
		back, err := mxnet.Read(bytes.NewReader(b.Bytes()))
		if err == nil {
			_, err = fromFile("model_algo-1", back)
		}
		if err != nil {
			f.Fatalf("seed does not load: %v", err)
		}
		f.Add(b.Bytes())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := mxnet.Read(bytes.NewReader(b))
		if err != nil {
			return
		}
		m, err := fromFile("model_algo-1", file)
		if err != nil {
			return
		}
		algorithmstest.Answers(t, m, 2)
	})
}
