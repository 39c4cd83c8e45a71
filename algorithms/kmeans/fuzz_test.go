package kmeans

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
	for _, a := range []*mxnet.NDArray{
		mxnet.NewFloat32([]float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 3, 4),
		{Shape: []int{2, 2}, DType: mxnet.Float64, Float64: []float64{1, 2, 3, 4}},
		{Shape: []int{1, 3}, DType: mxnet.Int32, Int64: []int64{1, -2, 3}},
	} {
		var b bytes.Buffer
		if err := mxnet.Write(&b, &mxnet.File{Arrays: []*mxnet.NDArray{a}}); err != nil {
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
