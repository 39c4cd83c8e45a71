package linearlearner

import (
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/algorithms/algorithmstest"
	"github.com/sagebrush-ml/sagebrush/compute"
)

// BenchmarkExp32 is the softmax's exponential alone, over shifted outputs
// in [-30, 0].
func BenchmarkExp32(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	xs := make([]float32, 60000)
	for i := range xs {
		xs[i] = -30 * rng.Float32()
	}
	out := make([]float32, len(xs))
	for b.Loop() {
		for i, x := range xs {
			out[i] = exp32(x)
		}
	}
	reportPerValue(b, len(xs))
}

// BenchmarkSoftmaxRows is the softmax gradient of one Fashion-MNIST
// mini-batch on one core: 1,000 rows, 6 models of 10 classes.
func BenchmarkSoftmaxRows(b *testing.B) {
	const rows, models, classes = 1000, 6, 10
	rng, z, g := benchOutputs(rows, models*classes)
	t := &trainer{M: models, K: classes, cols: models * classes, y: make([]float64, rows), classWeights: make([]float64, classes)}
	for i := range t.y {
		t.y[i] = float64(rng.IntN(classes))
	}
	for k := range t.classWeights {
		t.classWeights[k] = 1
	}
	loss := make([]float64, models)
	for b.Loop() {
		t.softmaxRows(z, g, 1.0/rows, loss, 0, rows)
	}
	reportPerValue(b, len(z.Data))
}

// benchOutputs returns a seeded generator, a rows × cols matrix of outputs
// drawn from N(0, 9) and one for their gradient: the inputs of the
// output-gradient benchmarks.
func benchOutputs(rows, cols int) (*rand.Rand, compute.Matrix, compute.Matrix) {
	rng := rand.New(rand.NewPCG(1, 1))
	z := compute.NewMatrix(rows, cols)
	for i := range z.Data {
		z.Data[i] = float32(3 * rng.NormFloat64())
	}
	return rng, z, compute.NewMatrix(rows, cols)
}

// reportPerValue reports the time of one op per value of n.
func reportPerValue(b *testing.B, n int) {
	b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N)/float64(n), "ns/value")
}

// BenchmarkAdamRow is Adam's step over the weights of the Fashion-MNIST
// benchmark's step (784 rows × 60 columns): a call a row, and one call for
// all of them against repeated rates and wd, as update makes it.
func BenchmarkAdamRow(b *testing.B) {
	const rows, cols = 784, 60
	rng := rand.New(rand.NewPCG(1, 1))
	vec := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = rng.Float32()
		}
		return s
	}
	w, gr, s1, s2 := vec(rows*cols), vec(rows*cols), vec(rows*cols), vec(rows*cols)
	lr, wd := vec(cols), vec(cols)
	b.Run("per-row", func(b *testing.B) {
		for b.Loop() {
			for j := range rows {
				o := j * cols
				adamRow(w[o:o+cols], gr[o:o+cols], s1[o:o+cols], s2[o:o+cols], lr, wd, 0.9, 0.999, 0.3)
			}
		}
		b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N)/(rows*cols), "ns/weight")
	})
	var lrT, wdT []float32
	for range rows {
		lrT, wdT = append(lrT, lr...), append(wdT, wd...)
	}
	b.Run("one-call", func(b *testing.B) {
		for b.Loop() {
			adamRow(w, gr, s1, s2, lrT, wdT, 0.9, 0.999, 0.3)
		}
		b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N)/(rows*cols), "ns/weight")
	})
}

// BenchmarkOutputGrad is the logistic loss and gradient of one MNIST
// 0-vs-rest mini-batch on one core: 1,000 rows, 32 models.
func BenchmarkOutputGrad(b *testing.B) {
	const rows, models = 1000, 32
	rng, z, g := benchOutputs(rows, models)
	lf := lossFn{name: "logistic"}
	t := &trainer{p: Params{PredictorType: Binary}, M: models, K: 1, cols: models, y: make([]float64, rows),
		posW: make([]float64, models), trainLoss: lf, rawLoss: lf, yScale: 1}
	for i := range t.y {
		t.y[i] = float64(rng.IntN(2))
	}
	for m := range t.posW {
		t.posW[m] = 1
	}
	loss := make([]float64, models)
	for b.Loop() {
		t.outputGrad(z, g, 1.0/rows, loss, 0, rows)
	}
	reportPerValue(b, len(z.Data))
}

// BenchmarkTrainBinary trains a binary classifier with the defaults (32
// models, logistic loss) on 16,000 synthetic rows of 784 features, alone
// and with a validation channel as large, which every model is scored on
// after every epoch: where a binary job's time goes besides the GEMMs
// (the loss loop, evaluation, calibration). One op is a whole training.
func BenchmarkTrainBinary(b *testing.B) {
	const rows, d = 16_000, 784
	label := func(x []float32, rng *rand.Rand) float32 {
		if float64(x[3])-9+0.5*rng.NormFloat64() > 2 { // about a third positive
			return 1
		}
		return 0
	}
	tr, val := synth(rows, d, 51, label), synth(rows, d, 52, label)
	for _, withVal := range []bool{false, true} {
		name := "train"
		ch := map[string]algorithms.Channel{"train": tr}
		if withVal {
			name, ch["validation"] = "train+validation", val
		}
		b.Run(name, func(b *testing.B) {
			hp, err := Algorithm{}.Schema().Parse(map[string]any{"feature_dim": "784", "predictor_type": "binary_classifier", "epochs": "5"})
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				job := &algorithms.Job{Hyper: hp, Channels: ch, Metrics: &fakeMetrics{}, Compute: compute.Current(),
					Cluster: algorithms.Cluster{CurrentHost: "algo-1", Hosts: []string{"algo-1"}}}
				if _, err := (Algorithm{}).Train(context.Background(), job); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTrainSparseWide trains a binary classifier with the defaults (32
// models) on 20,000 CSR rows of 1,000,000 features with 20 stored entries
// each (half among 10,000 common features, half anywhere), for 3 epochs of
// 20 mini-batches: a click-log shape, where a step's batch holds about
// 12,000 of the million features. Reports the time a mini-batch.
func BenchmarkTrainSparseWide(b *testing.B) {
	const d, rows, epochs = 1_000_000, 20_000, 3
	rng := rand.New(rand.NewPCG(61, 61))
	w := make([]float64, d)
	for j := range w {
		w[j] = rng.NormFloat64()
	}
	c := &algorithmstest.CSRChannel{D: d}
	for range rows {
		var idx []int32
		for range 20 {
			j := rng.IntN(d)
			if rng.IntN(2) == 0 {
				j = rng.IntN(10_000)
			}
			idx = append(idx, int32(j))
		}
		slices.Sort(idx)
		idx = slices.Compact(idx)
		s := 0.0
		for _, j := range idx {
			s += w[j]
		}
		y := float32(0)
		if s > 0 {
			y = 1
		}
		c.Keys, c.Labels = append(c.Keys, idx), append(c.Labels, y)
	}
	hp, err := Algorithm{}.Schema().Parse(map[string]any{"feature_dim": strconv.Itoa(d), "predictor_type": "binary_classifier",
		"epochs": strconv.Itoa(epochs)})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		job := &algorithms.Job{Hyper: hp, Channels: map[string]algorithms.Channel{"train": c}, Metrics: &fakeMetrics{}, Compute: compute.Current(),
			Cluster: algorithms.Cluster{CurrentHost: "algo-1", Hosts: []string{"algo-1"}}}
		if _, err := (Algorithm{}).Train(context.Background(), job); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*epochs*rows/1000), "ms/batch")
}
