package linearlearner

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/internal/wire"
)

// TestRetire trains the same jobs with and without retiring lagging models.
// Multiclass, regression and binary classification selected by the loss
// retire some of their models, select the same model either way, and
// predict the same to float32 rounding; a binary classifier selected by
// another criterion (the default, accuracy), which the loss does not rank,
// retires none.
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
		{"binary by loss", map[string]any{"feature_dim": "3", "predictor_type": "binary_classifier", "num_models": "8", "mini_batch_size": "100",
			"binary_classifier_model_selection_criteria": "cross_entropy_loss"},
			map[string]algorithms.Channel{"train": bin}, true},
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

// TestRetireMultiHost: on two hosts the leader decides which models retire
// and both hosts carry it out: both log it, hold the leader's model, and
// select the model a run without retiring selects.
func TestRetireMultiHost(t *testing.T) {
	all := synth(3000, 3, 25, multiTarget)
	half := func(lo, hi int) *memChannel { return &memChannel{x: all.x[lo:hi], y: all.y[lo:hi], d: all.d} }
	hp := map[string]any{"feature_dim": "3", "predictor_type": "multiclass_classifier", "num_classes": "3", "num_models": "8", "mini_batch_size": "100"}
	run := func() ([]*Model, []*fakeMetrics) {
		models, metrics, errs := trainHosts(t, hp, map[string]algorithms.Channel{"train": half(0, 1500)}, map[string]algorithms.Channel{"train": half(1500, 3000)})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("host %d: %v", i+1, err)
			}
		}
		sameModels(t, models)
		return models, metrics
	}
	on, msOn := run()
	prev := retirePatience
	retirePatience = math.MaxInt
	off, msOff := run()
	retirePatience = prev

	if len(lines(msOn[0].logs, "retired model ")) == 0 {
		t.Fatalf("the leader retired no model: %q", msOn[0].logs)
	}
	if len(lines(msOn[1].logs, "training ")) == 0 {
		t.Fatalf("the other host does not say it follows the leader's retiring: %q", msOn[1].logs)
	}
	selOn, selOff := lines(msOn[0].logs, "selected model "), lines(msOff[0].logs, "selected model ")
	if len(selOn) != 1 || len(selOff) != 1 || selOn[0] != selOff[0] {
		t.Fatalf("selected %q with retiring, %q without", selOn, selOff)
	}
	for i := 0; i < 200; i++ {
		a, b := predict(t, on[0], all.x[i]).Outputs[0].Values, predict(t, off[0], all.x[i]).Outputs[0].Values
		for k := range a {
			if math.Abs(float64(a[k]-b[k])) > 1e-4*(1+math.Abs(float64(b[k]))) {
				t.Fatalf("row %d: score %v with retiring, %v without", i, a, b)
			}
		}
	}
}

// onePeer is a leader alone: Exchange merges its own part, or answers res
// when set (a corrupt leader's decision).
type onePeer struct{ res []byte }

func (onePeer) Size() int    { return 1 }
func (onePeer) Leader() bool { return true }
func (p onePeer) Exchange(_ context.Context, part []byte, merge func([][]byte) ([]byte, error)) ([]byte, error) {
	if p.res != nil {
		return p.res, nil
	}
	return merge([][]byte{part})
}

// TestShareDecision: the decision round trips, and a corrupt one is an
// error naming what is wrong, never a panic or a model out of range.
func TestShareDecision(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		stop bool
		keep []int
	}{{false, nil}, {true, nil}, {false, []int{0, 2, 5}}, {true, []int{3}}} {
		stop, keep, err := shareDecision(ctx, onePeer{}, tc.stop, tc.keep, 6)
		if err != nil || stop != tc.stop || !slices.Equal(keep, tc.keep) {
			t.Errorf("shareDecision(%v, %v) = %v, %v, %v", tc.stop, tc.keep, stop, keep, err)
		}
	}
	enc := func(vals ...uint64) []byte {
		var w wire.Writer
		w.B = []byte{0}
		for _, v := range vals {
			w.U64(v)
		}
		return w.B
	}
	for name, res := range map[string][]byte{
		"empty":        {},
		"no models":    enc(0),
		"too many":     enc(7, 0, 1, 2, 3, 4, 5, 6),
		"out of range": enc(2, 1, 6),
		"descending":   enc(2, 3, 1),
		"repeated":     enc(2, 1, 1),
		"short":        enc(3, 0, 1),
		"left over":    append(enc(1, 0), 9),
		"huge count":   enc(1 << 62),
	} {
		if _, keep, err := shareDecision(ctx, onePeer{res: res}, false, nil, 6); err == nil {
			t.Errorf("%s: accepted, keep %v", name, keep)
		}
	}
}
