package linearlearner

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sagebrush-ml/sagebrush/compute"
)

// TestLogisticRows: the float32 logistic loop gives the loss sums and
// gradients of the general one (lossFn.eval in float64), over outputs from
// -100 to 100 and positive weights other than 1.
func TestLogisticRows(t *testing.T) {
	const rows, models = 700, 5
	rng := rand.New(rand.NewPCG(3, 3))
	z := compute.NewMatrix(rows, models)
	for i := range z.Data {
		z.Data[i] = float32(rng.NormFloat64() * 8)
		if i%50 == 0 {
			z.Data[i] = float32(200*rng.Float64() - 100)
		}
	}
	lf := lossFn{name: "logistic"}
	tr := &trainer{p: Params{PredictorType: Binary}, M: models, K: 1, cols: models, y: make([]float64, rows),
		posW: []float64{1, 2, 0.5, 9, 1}, trainLoss: lf, rawLoss: lf, yScale: 1}
	for i := range tr.y {
		tr.y[i] = float64(rng.IntN(2))
	}
	g := compute.NewMatrix(rows, models)
	loss := make([]float64, models)
	tr.logisticRows(z, g, 1.0/rows, loss, 0, rows)
	for m := range models {
		var want float64
		for i := range rows {
			l, gv := lf.eval(float64(z.Row(i)[m]), tr.y[i])
			want += l
			w := 1.0 / rows
			if tr.y[i] == 1 {
				w *= tr.posW[m]
			}
			if got := float64(g.Row(i)[m]); math.Abs(got-w*gv) > 1e-6*w {
				t.Fatalf("row %d model %d (z %v, y %v): gradient %v, want %v", i, m, z.Row(i)[m], tr.y[i], got, w*gv)
			}
		}
		if math.Abs(loss[m]-want) > 1e-5*want {
			t.Errorf("model %d: loss sum %v, want %v", m, loss[m], want)
		}
	}
}
