package algorithmstest

import (
	"bytes"
	"testing"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/mxnet"
)

// FuzzNDArrayModel fuzzes a loader of models kept in one MXNet NDArray file
// (k-means, PCA): load is what Load does after reading the file. Each seed
// must load; then arbitrary bytes must be refused with an error or give a
// model that answers a request.
func FuzzNDArrayModel(f *testing.F, seeds []*mxnet.File, load func(*mxnet.File) (algorithms.Model, error)) {
	for _, file := range seeds {
		var b bytes.Buffer
		if err := mxnet.Write(&b, file); err != nil {
			f.Fatal(err)
		}
		back, err := mxnet.Read(bytes.NewReader(b.Bytes()))
		if err == nil {
			_, err = load(back)
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
		m, err := load(file)
		if err != nil {
			return
		}
		Answers(t, m, 2)
	})
}
