package linearlearner

import (
	"testing"

	"github.com/sagebrush-ml/sagebrush/algorithms/algorithmstest"
	"github.com/sagebrush-ml/sagebrush/compute"
)

// FuzzModelZip: reading a model artifact (the ZIP, its JSON members, the
// MXNet params) never panics, only errors; a model it accepts answers a
// request.
func FuzzModelZip(f *testing.F) {
	t := &testing.T{}
	for _, s := range []struct {
		ap, op string
		d, k   int
	}{
		{`{"threshold": 0.4, "loss_type": "logistic", "predictor_type": "binary_classifier"}`, "LogisticRegressionOutput", 3, 1},
		{`{}`, "SoftmaxOutput", 2, 3},
		{`{"predictor_type": "regressor"}`, "LinearRegressionOutput", 4, 1},
		{``, "SVMOutput", 1, 1},
	} {
		w := make([]float32, s.d*s.k)
		for i := range w {
			w[i] = float32(i) - 1.5
		}
		f.Add(sageMakerArtifact(t, s.ap, w, s.d, s.k, make([]float32, s.k), s.op))
	}
	hp := mustParse(t, map[string]any{"feature_dim": "2", "predictor_type": "multiclass_classifier", "num_classes": "3"})
	m := newModel(ParamsFrom(hp), compute.MatrixOf(2, 3, []float32{1, 2, 3, 4, 5, 6}), []float32{0, 1, 2}, 0, "algo-1")
	if b, err := m.artifact(); err == nil {
		f.Add(b)
	}
	f.Add([]byte("PK\x05\x06" + string(make([]byte, 18))))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseArtifact(b)
		if err != nil {
			if m != nil {
				t.Fatal("a model with an error")
			}
			return
		}
		algorithmstest.Answers(t, m, 2)
	})
}
