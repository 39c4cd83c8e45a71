package linearlearner

import (
	"math"
	"slices"
	"testing"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/data"
)

// TestRocAUC holds roc_auc_score to known answers: the separations, a
// hand-counted ranking (as scikit-learn's roc_auc_score gives it), ties
// counting half, and no answer with one class.
func TestRocAUC(t *testing.T) {
	for _, tc := range []struct {
		scores []float32
		labels []bool
		want   float64
		ok     bool
	}{
		{[]float32{0.1, 0.2, 0.8, 0.9}, []bool{false, false, true, true}, 1, true},
		{[]float32{0.1, 0.2, 0.8, 0.9}, []bool{true, true, false, false}, 0, true},
		{[]float32{0.1, 0.4, 0.35, 0.8}, []bool{false, false, true, true}, 0.75, true},
		// positives 0.5 and 0.9 against negatives 0.5 and 0.5: ½ + ½ + 1 + 1 of 4 pairs.
		{[]float32{0.5, 0.5, 0.5, 0.9}, []bool{false, true, false, true}, 0.75, true},
		{[]float32{0.3, 0.3, 0.3}, []bool{true, false, true}, 0.5, true},
		{[]float32{0.1, 0.2}, []bool{true, true}, 0, false},
		{nil, nil, 0, false},
	} {
		got, ok := rocAUC(tc.scores, tc.labels)
		if ok != tc.ok || math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("rocAUC(%v, %v) = %v, %v; want %v, %v", tc.scores, tc.labels, got, ok, tc.want, tc.ok)
		}
	}
}

// TestRealLogNames: the metrics under the names of the algorithm's own log
// carry the values of their counterparts, for every predictor type, and
// the loss-specific objective name only for the losses real logs show.
func TestRealLogNames(t *testing.T) {
	metricsOf := func(hp map[string]any, keep bool, rows [][]float32, labels []float64) map[string]float64 {
		t.Helper()
		v, err := schema.Parse(hp)
		if err != nil {
			t.Fatal(err)
		}
		e := newEvaluator(ParamsFrom(v), 0.5)
		e.keepScores = keep
		for i, z := range rows {
			e.add(z, labels[i])
		}
		got := map[string]float64{}
		for _, m := range e.metrics() {
			got[m.name] = m.value
		}
		return got
	}
	same := func(got map[string]float64, real, ours string) {
		t.Helper()
		r, ok1 := got[real]
		o, ok2 := got[ours]
		if !ok1 || !ok2 || r != o {
			t.Errorf("%s = %v (%v), %s = %v (%v): want both, equal; all %v", real, r, ok1, ours, o, ok2, got)
		}
	}
	absent := func(got map[string]float64, name string) {
		t.Helper()
		if _, ok := got[name]; ok {
			t.Errorf("%s logged: %v", name, got)
		}
	}

	multi := metricsOf(map[string]any{"feature_dim": "1", "predictor_type": "multiclass_classifier", "num_classes": "3", "accuracy_top_k": "2", "f_beta": "0.5"},
		false, [][]float32{{2, 0, 0}, {0, 2, 0}, {0, 0, 2}, {2, 0, 0}, {0, 1, 2}}, []float64{0, 1, 2, 1, 1})
	same(multi, "multiclass_top_k_accuracy_2", "multiclass_top_k_accuracy")
	same(multi, "macro_f_0.500", "macro_f_beta")
	same(multi, "multiclass_balanced_accuracy", "macro_recall")
	same(multi, "multiclass_cross_entropy_objective", "objective_loss")

	reg := metricsOf(map[string]any{"feature_dim": "1", "predictor_type": "regressor"}, false,
		[][]float32{{1}, {2}, {4}}, []float64{1.5, 2, 3})
	same(reg, "mse_objective", "objective_loss")
	absent(metricsOf(map[string]any{"feature_dim": "1", "predictor_type": "regressor", "loss": "absolute_loss"}, false,
		[][]float32{{1}, {2}}, []float64{1.5, 2}), "mse_objective")

	bin := metricsOf(map[string]any{"feature_dim": "1", "predictor_type": "binary_classifier", "f_beta": "2"}, true,
		[][]float32{{2}, {-1}, {0.5}, {-2}}, []float64{1, 0, 0, 0})
	same(bin, "binary_f_2.000", "binary_f_beta")
	same(bin, "binary_classification_cross_entropy_objective", "objective_loss")
	if got := bin["roc_auc_score"]; got != 1 {
		t.Errorf("roc_auc_score %v, want 1 (the positive scores highest)", got)
	}
	hinge := metricsOf(map[string]any{"feature_dim": "1", "predictor_type": "binary_classifier", "loss": "hinge_loss"}, false,
		[][]float32{{2}, {-1}}, []float64{1, 0})
	absent(hinge, "binary_classification_cross_entropy_objective")
	absent(hinge, "roc_auc_score") // the per-epoch evaluations keep no scores
}

// TestRocAUCCapped: past maxAUCRows a final pass keeps no more (score,
// label) pairs: roc_auc_score is over the first rows, the log says so, and
// every other metric still counts every row.
func TestRocAUCCapped(t *testing.T) {
	saved := maxAUCRows
	maxAUCRows = 50
	defer func() { maxAUCRows = saved }()
	tr, test := synth(1000, 3, 26, binaryTarget), synth(300, 3, 27, binaryTarget)
	model, m := train(t, map[string]any{"feature_dim": "3", "predictor_type": "binary_classifier", "epochs": "3", "num_models": "2", "mini_batch_size": "100"},
		map[string]algorithms.Channel{"train": tr, "test": test})
	want := "test roc_auc_score is over the first 50 records; the other 250 are in every other test metric"
	if !slices.Contains(m.logs, want) {
		t.Errorf("the log lacks %q", want)
	}
	// Score every test row with the model itself: the AUC from the first
	// 50, the accuracy from all 300.
	var b data.Batch
	b.Cols, b.Rows = 3, len(test.x)
	for i := range test.x {
		b.Dense = append(b.Dense, test.x[i]...)
	}
	z, _ := model.outputs(&b, nil, nil)
	positive := make([]bool, len(z))
	correct := 0
	for i, y := range test.y {
		positive[i] = y == 1
		if (sigmoid(float64(z[i])) > model.threshold) == positive[i] {
			correct++
		}
	}
	auc, ok := rocAUC(z[:50], positive[:50]) // raw outputs rank as their sigmoids do
	if got := m.scores["test:roc_auc_score"]; !ok || math.Abs(got-auc) > 1e-12 {
		t.Errorf("test roc_auc_score %v, the first 50 rows' %v", got, auc)
	}
	if got, want := m.scores["test:binary_classification_accuracy"], float64(correct)/300; math.Abs(got-want) > 1e-12 {
		t.Errorf("test accuracy %v, want %v over all 300 rows", got, want)
	}
}
