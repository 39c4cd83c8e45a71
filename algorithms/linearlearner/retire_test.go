package linearlearner

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sagebrush-ml/sagebrush/algorithms"
)

// TestRetire trains the same jobs with and without retiring lagging models.
// Multiclass and regression retire some of their models, select the same
// model either way, and predict the same to float32 rounding; a binary
// classifier, whose criterion the loss does not rank, retires none.
func TestRetire(t *testing.T) {
	multi := synth(3000, 3, 21, multiTarget)
	multiVal := synth(500, 3, 22, multiTarget)
	reg := synth(3000, 4, 23, linearTarget)
	bin := synth(3000, 3, 24, func(x []float32, rng *rand.Rand) float32 {
		if standardized(x, 0) > 0.5 {
			return 1
		}
		return 0
	})
	for _, tc := range []struct {
		name    string
		hp      map[string]any
		ch      map[string]algorithms.Channel
		retires bool
	}{
		{"multiclass", map[string]any{"feature_dim": "3", "predictor_type": "multiclass_classifier", "num_classes": "3", "num_models": "8", "mini_batch_size": "100"},
			map[string]algorithms.Channel{"train": multi}, true},
		{"multiclass with validation", map[string]any{"feature_dim": "3", "predictor_type": "multiclass_classifier", "num_classes": "3", "num_models": "8", "mini_batch_size": "100"},
			map[string]algorithms.Channel{"train": multi, "validation": multiVal}, true},
		{"regression", map[string]any{"feature_dim": "4", "predictor_type": "regressor", "num_models": "8", "mini_batch_size": "100"},
			map[string]algorithms.Channel{"train": reg}, true},
		{"binary", map[string]any{"feature_dim": "3", "predictor_type": "binary_classifier", "num_models": "8", "mini_batch_size": "100"},
			map[string]algorithms.Channel{"train": bin}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			on, msOn := train(t, tc.hp, tc.ch)
			prev := retirePatience
			retirePatience = math.MaxInt
			off, msOff := train(t, tc.hp, tc.ch)
			retirePatience = prev

			retired := lines(msOn.logs, "retired model ")
			if tc.retires != (len(retired) > 0) {
				t.Fatalf("retired %d models, want some: %v (log %q)", len(retired), tc.retires, msOn.logs)
			}
			if n := len(lines(msOff.logs, "retired model ")); n > 0 {
				t.Fatalf("retired %d models with retiring off", n)
			}
			selOn, selOff := lines(msOn.logs, "selected model "), lines(msOff.logs, "selected model ")
			if len(selOn) != 1 || len(selOff) != 1 || selOn[0] != selOff[0] {
				t.Fatalf("selected %q with retiring, %q without", selOn, selOff)
			}
			for _, r := range retired {
				model := strings.Fields(r)[2] // "retired model N of M after ..."
				if strings.Fields(selOn[0])[2] == model {
					t.Fatalf("the selected model was retired: %q", r)
				}
			}
			x := tc.ch["train"].(*memChannel).x
			for i := 0; i < 200; i++ {
				a, b := predict(t, on, x[i]).Outputs[0].Values, predict(t, off, x[i]).Outputs[0].Values
				for k := range a {
					if math.Abs(float64(a[k]-b[k])) > 1e-4*(1+math.Abs(float64(b[k]))) {
						t.Fatalf("row %d: score %v with retiring, %v without", i, a, b)
					}
				}
			}
		})
	}
}

// lines returns the log lines that start with prefix.
func lines(logs []string, prefix string) []string {
	var out []string
	for _, l := range logs {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}
