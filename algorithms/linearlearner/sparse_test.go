package linearlearner

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/algorithms/algorithmstest"
)

// TestSparseSameAsDense trains on the same rows given dense and as CSR
// (70% zeros), with unbias_data given (auto centres dense data only): the
// sparse path's products over the stored entries (forwardSparse,
// backwardSparse; the centring in the folded offsets) give the dense
// path's model, to float32 rounding, for every predictor type, with and
// without validation.
func TestSparseSameAsDense(t *testing.T) {
	mostlyZero := func(c *memChannel, seed uint64) *memChannel {
		rng := rand.New(rand.NewPCG(seed, 7))
		out := &memChannel{d: c.d, y: c.y}
		for _, row := range c.x {
			r := append([]float32(nil), row...)
			for j := range r {
				if rng.Float64() < 0.7 {
					r[j] = 0
				}
			}
			out.x = append(out.x, r)
		}
		return out
	}
	sparseOf := func(c *memChannel) *memChannel { s := c.clone(); s.sparse = true; return s }
	for _, tc := range []struct {
		name string
		hp   map[string]any
		tr   *memChannel
		val  *memChannel
	}{
		{"binary", map[string]any{"predictor_type": "binary_classifier"}, synth(2000, 8, 31, binaryTarget), synth(500, 8, 32, binaryTarget)},
		{"multiclass", map[string]any{"predictor_type": "multiclass_classifier", "num_classes": "3"}, synth(2000, 8, 33, multiTarget), nil},
		{"regression", map[string]any{"predictor_type": "regressor"}, synth(2000, 8, 34, linearTarget), synth(500, 8, 35, linearTarget)},
	} {
		for _, unbias := range []string{"false", "true"} {
			t.Run(tc.name+"/unbias_data="+unbias, func(t *testing.T) {
				hp := map[string]any{"feature_dim": "8", "unbias_data": unbias, "mini_batch_size": "100", "num_models": "4", "epochs": "6"}
				for k, v := range tc.hp {
					hp[k] = v
				}
				tr := mostlyZero(tc.tr, 1)
				dense := map[string]algorithms.Channel{"train": tr}
				sparse := map[string]algorithms.Channel{"train": sparseOf(tr)}
				if tc.val != nil {
					val := mostlyZero(tc.val, 2)
					dense["validation"], sparse["validation"] = val, sparseOf(val)
				}
				md, _ := train(t, hp, dense)
				ms, _ := train(t, hp, sparse)
				for i, x := range tr.x[:300] {
					a, b := predict(t, ms, x).Outputs[0].Values, predict(t, md, x).Outputs[0].Values
					for k := range a {
						if math.Abs(float64(a[k]-b[k])) > 1e-4*(1+math.Abs(float64(b[k]))) {
							t.Fatalf("row %d: score %v from CSR rows, %v from dense ones", i, a, b)
						}
					}
				}
			})
		}
	}
}

// TestSparseHighDimension trains on CSR rows of 2,000,000 features with 6
// stored entries each: the products run over the stored entries, so the
// run allocates what the weights, their state and the model take (122 MiB),
// not a dense mini-batch of mini_batch_size × feature_dim as well (800 MB
// here: the dense path allocated 908 MiB and took ten times as long).
func TestSparseHighDimension(t *testing.T) {
	const d, rows = 2_000_000, 300
	rng := rand.New(rand.NewPCG(41, 41))
	c := &algorithmstest.CSRChannel{D: d}
	for range rows {
		y := float32(rng.IntN(2))
		idx := []int32{int32(y)} // feature 0 or 1 gives the label away
		for range 5 {
			idx = append(idx, int32(2+rng.IntN(d-2)))
		}
		slices.Sort(idx)
		idx = slices.Compact(idx)
		c.Keys, c.Labels = append(c.Keys, idx), append(c.Labels, y)
	}
	hp := map[string]any{"feature_dim": "2000000", "predictor_type": "binary_classifier", "mini_batch_size": "100",
		"num_models": "1", "epochs": "3"}
	var ms *fakeMetrics
	mb := algorithmstest.AllocatedMiB(func() { _, ms = train(t, hp, map[string]algorithms.Channel{"train": c}) })
	t.Logf("training allocated %d MiB", mb)
	if mb > 500 {
		t.Errorf("training allocated %d MiB; the weights, their state and the model take about 150", mb)
	}
	if len(lines(ms.logs, "selected model ")) != 1 {
		t.Errorf("no model selected: %q", ms.logs)
	}
}

// TestSparseLazyUpdate: a sparse step moves only the weights of the
// features its batch holds (MXNet's lazy_update for a row_sparse
// gradient). Features 40-49 are in no record, so their weights keep their
// initial values whatever wd and l1 (a dense step decays them every
// mini-batch); the others learn, and wd and l1 change them.
func TestSparseLazyUpdate(t *testing.T) {
	const d = 50
	rng := rand.New(rand.NewPCG(43, 43))
	c := &algorithmstest.CSRChannel{D: d}
	for range 2000 {
		var idx []int32
		for range 4 {
			idx = append(idx, int32(rng.IntN(40)))
		}
		slices.Sort(idx)
		idx = slices.Compact(idx)
		y := float32(0)
		if idx[0] < 5 {
			y = 1
		}
		c.Keys, c.Labels = append(c.Keys, idx), append(c.Labels, y)
	}
	hp := func(wd, l1 string) map[string]any {
		return map[string]any{"feature_dim": "50", "predictor_type": "binary_classifier", "mini_batch_size": "100",
			"num_models": "1", "epochs": "4", "wd": wd, "l1": l1}
	}
	plain, _ := train(t, hp("0", "0"), map[string]algorithms.Channel{"train": c})
	decayed, _ := train(t, hp("0.05", "0.001"), map[string]algorithms.Channel{"train": c})
	for j := range d {
		a, b := plain.w.Row(j)[0], decayed.w.Row(j)[0]
		if j >= 40 && a != b {
			t.Errorf("feature %d is in no record: weight %v without wd and l1, %v with them; want its initial weight in both", j, a, b)
		}
		if j < 40 && a == b {
			t.Errorf("feature %d: weight %v with and without wd and l1", j, a)
		}
	}
	if acc := accuracy(t, plain, c); acc < 0.95 {
		t.Errorf("training accuracy %v, want ≥ 0.95 (the label is whether one of features 0-4 is held)", acc)
	}
}

// accuracy is m's binary accuracy on c's rows (predicted_label against the
// label).
func accuracy(t *testing.T, m *Model, c *algorithmstest.CSRChannel) float64 {
	t.Helper()
	rows := make([][]float32, len(c.Keys))
	for i, idx := range c.Keys {
		rows[i] = make([]float32, c.D)
		for _, j := range idx {
			rows[i][j] = 1
		}
	}
	labels := predict(t, m, rows...).Outputs[1].Values
	right := 0
	for i, y := range c.Labels {
		if float32(labels[i]) == y {
			right++
		}
	}
	return float64(right) / float64(len(c.Labels))
}
