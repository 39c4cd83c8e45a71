package linearlearner

import (
	"math"
	"testing"
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
