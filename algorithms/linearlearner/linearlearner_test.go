package linearlearner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/compute"
	_ "github.com/sagebrush-ml/sagebrush/compute/cpu"
	"github.com/sagebrush-ml/sagebrush/data"
)

// memChannel is an in-memory labelled channel over dense rows.
type memChannel struct {
	x      [][]float32
	y      []float32
	d      int
	sparse bool

	mu    sync.Mutex // hosts of a multi-host test share a channel
	opens []int
}

// clone is a channel over the same rows with its own record of opens.
func (c *memChannel) clone() *memChannel {
	return &memChannel{x: c.x, y: c.y, d: c.d, sparse: c.sparse}
}

func (c *memChannel) Name() string { return "mem" }
func (c *memChannel) Open(ctx context.Context, epoch int) (data.BatchReadCloser, error) {
	c.mu.Lock()
	c.opens = append(c.opens, epoch)
	c.mu.Unlock()
	return &memReader{c: c}, nil
}

type memReader struct {
	c   *memChannel
	pos int
	b   data.Batch
}

func (r *memReader) Read(n int) (*data.Batch, error) {
	if r.pos >= len(r.c.x) {
		return nil, io.EOF
	}
	end := min(r.pos+n, len(r.c.x))
	r.b = data.Batch{Rows: end - r.pos, Cols: r.c.d, LabelSize: 1}
	if r.c.sparse {
		r.b.Indptr = []int{0}
	}
	for i := r.pos; i < end; i++ {
		if r.c.sparse {
			for j, v := range r.c.x[i] {
				if v != 0 {
					r.b.Indices = append(r.b.Indices, int32(j))
					r.b.Values = append(r.b.Values, v)
				}
			}
			r.b.Indptr = append(r.b.Indptr, len(r.b.Values))
		} else {
			r.b.Dense = append(r.b.Dense, r.c.x[i]...)
		}
		r.b.Labels = append(r.b.Labels, r.c.y[i])
	}
	r.pos = end
	return &r.b, nil
}
func (r *memReader) Close() error { return nil }

type fakeMetrics struct {
	epochs int
	scores map[string]float64
	logs   []string
}

func (m *fakeMetrics) Logf(format string, args ...any) {
	m.logs = append(m.logs, fmt.Sprintf(format, args...))
}
func (m *fakeMetrics) Batch(int) {}
func (m *fakeMetrics) EpochEnd(int, map[string]float64) {
	m.epochs++
}
func (m *fakeMetrics) Score(channel, name string, v float64) {
	if m.scores == nil {
		m.scores = map[string]float64{}
	}
	m.scores[channel+":"+name] = v
}

// synth draws n rows of d features, each N(mean_j, sd_j) with feature j
// offset by 3j and scaled by j+1 (so normalisation matters), and labels
// from label(x, rng).
func synth(n, d int, seed uint64, label func(x []float32, rng *rand.Rand) float32) *memChannel {
	rng := rand.New(rand.NewPCG(seed, 7))
	c := &memChannel{d: d}
	for range n {
		x := make([]float32, d)
		for j := range x {
			x[j] = float32(3*float64(j) + float64(j+1)*rng.NormFloat64())
		}
		c.x = append(c.x, x)
		c.y = append(c.y, label(x, rng))
	}
	return c
}

// standardized returns feature j as a standard normal.
func standardized(x []float32, j int) float64 { return (float64(x[j]) - 3*float64(j)) / float64(j+1) }

func linearTarget(x []float32, rng *rand.Rand) float32 {
	return float32(5 + 2*standardized(x, 0) - 3*standardized(x, 1) + 0.5*standardized(x, 2) + 0.5*rng.NormFloat64())
}

func binaryTarget(x []float32, rng *rand.Rand) float32 {
	z := 3*standardized(x, 0) - 2*standardized(x, 1) + 0.5
	if rng.Float64() < sigmoid(z) {
		return 1
	}
	return 0
}

func multiTarget(x []float32, rng *rand.Rand) float32 {
	// class = argmax of three linear scores, 10% label noise.
	s := []float64{standardized(x, 0), standardized(x, 1), -standardized(x, 0) - standardized(x, 1)}
	best := 0
	for k := range s {
		if s[k] > s[best] {
			best = k
		}
	}
	if rng.Float64() < 0.1 {
		best = rng.IntN(3)
	}
	return float32(best)
}

func newJob(t *testing.T, hp map[string]any, channels map[string]algorithms.Channel) (*algorithms.Job, *fakeMetrics) {
	t.Helper()
	v, err := Algorithm{}.Schema().Parse(hp)
	if err != nil {
		t.Fatal(err)
	}
	m := &fakeMetrics{}
	return &algorithms.Job{Hyper: v, Channels: channels, Metrics: m, Compute: compute.Current(),
		Cluster: algorithms.Cluster{CurrentHost: "algo-1", Hosts: []string{"algo-1"}}}, m
}

func train(t *testing.T, hp map[string]any, channels map[string]algorithms.Channel) (*Model, *fakeMetrics) {
	t.Helper()
	job, m := newJob(t, hp, channels)
	model, err := Algorithm{}.Train(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	return model.(*Model), m
}

func TestRegression(t *testing.T) {
	tr := synth(3000, 4, 1, linearTarget)
	val := synth(500, 4, 2, linearTarget)
	test := synth(1000, 4, 3, linearTarget)
	for _, tc := range []struct {
		name    string
		hp      map[string]any
		maxRMSE float64
	}{
		// The noise sd is 0.5: the best possible rmse (OLS: 0.5·sqrt(1+4/3000)).
		// The robust losses' bias steps at bias_lr_mult 10 (auto) cost them
		// about 0.003 (huber 0.5097 at 1, 0.5128 at 10).
		{"squared adam", map[string]any{}, 0.51},
		{"squared sgd", map[string]any{"optimizer": "sgd"}, 0.52},
		{"squared rmsprop", map[string]any{"optimizer": "rmsprop"}, 0.52},
		{"absolute", map[string]any{"loss": "absolute_loss"}, 0.52},
		{"huber", map[string]any{"loss": "huber_loss", "huber_delta": "0.5"}, 0.52},
		{"eps squared", map[string]any{"loss": "eps_insensitive_squared_loss"}, 0.51},
		{"eps absolute", map[string]any{"loss": "eps_insensitive_absolute_loss"}, 0.52},
		{"quantile", map[string]any{"loss": "quantile_loss"}, 0.52},
		{"no normalization", map[string]any{"normalize_data": "false", "normalize_label": "false", "epochs": "30", "learning_rate": "0.1"}, 0.6},
		{"sparse input", map[string]any{"num_models": "4"}, 0.6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hp := map[string]any{"feature_dim": "4", "predictor_type": "regressor", "mini_batch_size": "100", "num_models": "8"}
			for k, v := range tc.hp {
				hp[k] = v
			}
			trc := tr
			if tc.name == "sparse input" {
				c := tr.clone()
				c.sparse = true
				trc = c
			}
			_, m := train(t, hp, map[string]algorithms.Channel{"train": trc, "validation": val, "test": test})
			if rmse := m.scores["test:rmse"]; !(rmse < tc.maxRMSE) {
				t.Errorf("test rmse = %v, want < %v (scores %v)", rmse, tc.maxRMSE, m.scores)
			}
			if mse, rmse := m.scores["test:mse"], m.scores["test:rmse"]; math.Abs(math.Sqrt(mse)-rmse) > 1e-12 {
				t.Errorf("test mse %v and rmse %v disagree", mse, rmse)
			}
			for _, k := range []string{"validation:objective_loss", "validation:rmse", "test:objective_loss", "test:absolute_loss"} {
				if _, ok := m.scores[k]; !ok {
					t.Errorf("no %s metric (scores %v)", k, m.scores)
				}
			}
		})
	}
}

// TestQuantile: with quantile q the prediction sits above about q of the
// labels.
func TestQuantile(t *testing.T) {
	noisy := func(x []float32, rng *rand.Rand) float32 {
		return float32(standardized(x, 0) + rng.NormFloat64())
	}
	tr := synth(4000, 2, 4, noisy)
	test := synth(2000, 2, 5, noisy)
	for _, q := range []float64{0.2, 0.8} {
		model, _ := train(t, map[string]any{"feature_dim": "2", "predictor_type": "regressor", "loss": "quantile_loss",
			"quantile": q, "mini_batch_size": "200", "num_models": "4"}, map[string]algorithms.Channel{"train": tr})
		b := batchOf(test)
		pred, err := model.Predict(context.Background(), b, algorithms.PredictOptions{})
		if err != nil {
			t.Fatal(err)
		}
		below := 0
		for i, v := range pred.Outputs[0].Values {
			if test.y[i] < v {
				below++
			}
		}
		// Tolerance: 3 binomial sd at n=2000 is about 0.03; plus fit error.
		if got := float64(below) / float64(len(test.y)); math.Abs(got-q) > 0.05 {
			t.Errorf("quantile %v: fraction of labels below the prediction = %v", q, got)
		}
	}
}

func batchOf(c *memChannel) *data.Batch {
	b, _ := (&memReader{c: c}).Read(len(c.x))
	return b
}

func TestBinary(t *testing.T) {
	tr := synth(4000, 3, 6, binaryTarget)
	val := synth(1000, 3, 7, binaryTarget)
	test := synth(2000, 3, 8, binaryTarget)
	for _, tc := range []struct {
		name   string
		hp     map[string]any
		minAcc float64
	}{
		// The Bayes accuracy of this problem is about 0.85.
		{"logistic", map[string]any{}, 0.82},
		{"hinge", map[string]any{"loss": "hinge_loss"}, 0.82},
		{"f1", map[string]any{"binary_classifier_model_selection_criteria": "f1"}, 0.80},
		{"balanced", map[string]any{"positive_example_weight_mult": "balanced"}, 0.80},
		{"auto weight", map[string]any{"positive_example_weight": "auto"}, 0.80},
		{"no bias", map[string]any{"use_bias": "false", "init_method": "normal"}, 0.78},
		{"l1 and wd", map[string]any{"l1": "0.001", "wd": "0.0001", "use_lr_scheduler": "false"}, 0.82},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hp := map[string]any{"feature_dim": "3", "predictor_type": "binary_classifier", "mini_batch_size": "100", "num_models": "8", "epochs": "8"}
			for k, v := range tc.hp {
				hp[k] = v
			}
			_, m := train(t, hp, map[string]algorithms.Channel{"train": tr, "validation": val, "test": test})
			if acc := m.scores["test:binary_classification_accuracy"]; !(acc > tc.minAcc) {
				t.Errorf("test accuracy = %v, want > %v (scores %v)", acc, tc.minAcc, m.scores)
			}
			for _, k := range []string{"test:objective_loss", "test:binary_f_beta", "test:precision", "test:recall", "validation:binary_classification_accuracy"} {
				if _, ok := m.scores[k]; !ok {
					t.Errorf("no %s metric (scores %v)", k, m.scores)
				}
			}
		})
	}
}

// TestThresholdTargets: the calibrated threshold meets target_recall
// (target_precision) on the validation channel it was calibrated on.
func TestThresholdTargets(t *testing.T) {
	tr := synth(4000, 3, 9, binaryTarget)
	val := synth(2000, 3, 10, binaryTarget)
	for _, tc := range []struct{ criterion, target, metric string }{
		{"precision_at_target_recall", "target_recall", "validation:recall"},
		{"recall_at_target_precision", "target_precision", "validation:precision"},
	} {
		for _, goal := range []float64{0.6, 0.95} {
			_, m := train(t, map[string]any{"feature_dim": "3", "predictor_type": "binary_classifier", "mini_batch_size": "200",
				"num_models": "4", "epochs": "5", "binary_classifier_model_selection_criteria": tc.criterion, tc.target: goal,
				"num_calibration_samples": "100000"},
				map[string]algorithms.Channel{"train": tr, "validation": val})
			if got := m.scores[tc.metric]; got < goal {
				t.Errorf("%s=%v: %s = %v, want >= %v", tc.target, goal, tc.metric, got, goal)
			}
		}
	}
}

func TestCalibrate(t *testing.T) {
	scores := []float32{0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2}
	labels := []float32{1, 1, 0, 1, 0, 1, 0, 0}
	for _, tc := range []struct {
		p         Params
		threshold float64
		value     float64
	}{
		// Top 2 positive: 6/8 correct; top 4: also 6/8; the first cut wins.
		{Params{Criterion: "accuracy"}, 0.75, 0.75},
		// Top 4: p=3/4, r=3/4, F1=0.75; top 6: p=4/6, r=1, F1=0.8.
		{Params{Criterion: "f_beta", CriterionBeta: 1}, 0.35, 0.8},
		// recall >= 0.75 first reached at top 4 (precision 0.75).
		{Params{Criterion: "precision_at_target_recall", TargetRecall: 0.75}, 0.55, 0.75},
		// precision >= 0.7: top 4 (0.75) gives recall 0.75.
		{Params{Criterion: "recall_at_target_precision", TargetPrecision: 0.7}, 0.55, 0.75},
	} {
		thr, v, ok := calibrate(scores, labels, tc.p, 0.5)
		if !ok || math.Abs(thr-tc.threshold) > 1e-6 || math.Abs(v-tc.value) > 1e-12 {
			t.Errorf("%s: got threshold %v value %v feasible %v, want %v %v", tc.p.Criterion, thr, v, ok, tc.threshold, tc.value)
		}
	}
	if _, _, ok := calibrate(scores, labels, Params{Criterion: "recall_at_target_precision", TargetPrecision: 1.01}, 0.5); ok {
		t.Errorf("an unreachable target precision was reported as met")
	}
}

// TestModelSelection: of models with very different learning rates, the
// one selected is the best on validation.
func TestModelSelection(t *testing.T) {
	tr := synth(2000, 4, 11, linearTarget)
	val := synth(500, 4, 12, linearTarget)
	hp := map[string]any{"feature_dim": "4", "predictor_type": "regressor", "mini_batch_size": "100", "num_models": "6",
		"epochs": "3", "learning_rate": "auto", "use_lr_scheduler": "false"}
	job, _ := newJob(t, hp, map[string]algorithms.Channel{"train": tr, "validation": val})
	model, err := Algorithm{}.Train(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	// Score each candidate's saved snapshot by refitting: the selected
	// model's validation loss must be the smallest of all models' best.
	m := model.(*Model)
	_ = m
	p := ParamsFrom(job.Hyper)
	tt := &trainer{p: p, be: compute.Current(), metrics: &fakeMetrics{}, rng: rand.New(rand.NewPCG(seed, 0))}
	r, _ := tr.Open(context.Background(), 0)
	if err := tt.readSample(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	tt.fitScaler(tt.stats())
	tt.initModels()
	for epoch := range 3 {
		var src data.BatchReader = &memReader{c: tr}
		if _, _, err := tt.epoch(context.Background(), src); err != nil {
			t.Fatal(err)
		}
		_ = epoch
		evals, err := tt.evaluate(context.Background(), &memReader{c: val}, "validation")
		if err != nil {
			t.Fatal(err)
		}
		tt.select_(evals)
	}
	final := tt.final("algo-1")
	for k := range tt.M {
		if tt.snapScore[k] < tt.snapScore[tt.chosen] {
			t.Errorf("model %d has validation loss %v, below the chosen model %d's %v", k, tt.snapScore[k], tt.chosen, tt.snapScore[tt.chosen])
		}
	}
	if spread := tt.lrM[1] / tt.lrM[0]; spread == 1 {
		t.Errorf("models 0 and 1 share the learning rate %v: the models are not nearby variants", tt.lrM[0])
	}
	// The run through Train made the same choice (deterministic).
	if got, want := m.w.Data, final.w.Data; !equalF32(got, want) {
		t.Errorf("Train selected weights %v, the replay %v", got, want)
	}
}

func equalF32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestMulticlass(t *testing.T) {
	tr := synth(3000, 3, 13, multiTarget)
	val := synth(500, 3, 14, multiTarget)
	test := synth(1500, 3, 15, multiTarget)
	for _, balance := range []string{"false", "true"} {
		model, m := train(t, map[string]any{"feature_dim": "3", "predictor_type": "multiclass_classifier", "num_classes": "3",
			"mini_batch_size": "100", "epochs": "8", "balance_multiclass_weights": balance, "accuracy_top_k": "2"},
			map[string]algorithms.Channel{"train": tr, "validation": val, "test": test})
		// 10% noise with a third relabelled right: the best accuracy is about 0.93.
		if acc := m.scores["test:multiclass_accuracy"]; !(acc > 0.88) {
			t.Errorf("balance=%s: test accuracy = %v, want > 0.88 (%v)", balance, acc, m.scores)
		}
		if top := m.scores["test:multiclass_top_k_accuracy"]; top < m.scores["test:multiclass_accuracy"] {
			t.Errorf("top-2 accuracy %v below accuracy %v", top, m.scores["test:multiclass_accuracy"])
		}
		for _, k := range []string{"test:macro_f_beta", "test:macro_precision", "test:macro_recall", "test:dcg", "validation:objective_loss"} {
			if _, ok := m.scores[k]; !ok {
				t.Errorf("no %s metric", k)
			}
		}
		pred, err := model.Predict(context.Background(), batchOf(test), algorithms.PredictOptions{})
		if err != nil {
			t.Fatal(err)
		}
		score, label := pred.Outputs[0], pred.Outputs[1]
		if score.Name != "score" || score.Width != 3 || label.Name != "predicted_label" || label.Kind != data.Int {
			t.Fatalf("outputs %+v", pred.Outputs)
		}
		for i := range 10 {
			row := score.Values[i*3 : i*3+3]
			s := float64(row[0] + row[1] + row[2])
			if math.Abs(s-1) > 1e-5 {
				t.Errorf("row %d scores %v sum to %v, want 1", i, row, s)
			}
			best := 0
			for k := range row {
				if row[k] > row[best] {
					best = k
				}
			}
			if label.Values[i] != float32(best) {
				t.Errorf("row %d predicted_label %v, argmax %d", i, label.Values[i], best)
			}
		}
	}
}

func TestEarlyStopping(t *testing.T) {
	tr := synth(2000, 4, 16, linearTarget)
	val := synth(300, 4, 17, linearTarget)
	_, m := train(t, map[string]any{"feature_dim": "4", "predictor_type": "regressor", "mini_batch_size": "100",
		"num_models": "2", "epochs": "100", "early_stopping_patience": "2", "early_stopping_tolerance": "0.5"},
		map[string]algorithms.Channel{"train": tr, "validation": val})
	if m.epochs >= 100 {
		t.Errorf("ran all %d epochs; a relative tolerance of 0.5 should stop early", m.epochs)
	}
}

// TestEarlyStoppingLog: every epoch logs what early stopping watched, in
// the real algorithm's names, and an epoch that improved on it says so.
func TestEarlyStoppingLog(t *testing.T) {
	bin := synth(1000, 3, 22, binaryTarget)
	binVal := synth(300, 3, 23, binaryTarget)
	for _, tc := range []struct {
		name     string
		hp       map[string]any
		val      bool
		criteria string
	}{
		{"regressor", map[string]any{"predictor_type": "regressor"}, true, "mse_objective"},
		{"binary, default criterion", map[string]any{"predictor_type": "binary_classifier"}, true, "binary_classification_cross_entropy_objective"},
		{"binary, f1 given", map[string]any{"predictor_type": "binary_classifier", "binary_classifier_model_selection_criteria": "f1"}, true, "sampled_f_beta"},
		{"binary, loss_function given", map[string]any{"predictor_type": "binary_classifier", "binary_classifier_model_selection_criteria": "loss_function"}, true, "binary_classification_cross_entropy_objective"},
		{"binary, f1 given, no validation", map[string]any{"predictor_type": "binary_classifier", "binary_classifier_model_selection_criteria": "f1"}, false, "binary_classification_cross_entropy_objective"},
		{"hinge", map[string]any{"predictor_type": "binary_classifier", "loss": "hinge_loss"}, true, "hinge_loss_objective"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hp := map[string]any{"feature_dim": "3", "mini_batch_size": "100", "num_models": "3", "epochs": "4"}
			for k, v := range tc.hp {
				hp[k] = v
			}
			tr, val := bin, binVal
			if tc.hp["predictor_type"] == "regressor" {
				tr, val = synth(1000, 3, 24, linearTarget), synth(300, 3, 25, linearTarget)
			}
			ch := map[string]algorithms.Channel{"train": tr}
			if tc.val {
				ch["validation"] = val
			}
			_, m := train(t, hp, ch)
			var stopLines, improved int
			for _, l := range m.logs {
				if rest, ok := strings.CutPrefix(l, "#early_stopping_criteria_metric: host=algo-1, epoch="); ok {
					epoch, rest, _ := strings.Cut(rest, ", ")
					if epoch != strconv.Itoa(stopLines) {
						t.Errorf("early stopping line %d is for epoch %s: %q", stopLines, epoch, l)
					}
					crit, v, _ := strings.Cut(strings.TrimPrefix(rest, "criteria="), ", value=")
					if crit != tc.criteria {
						t.Errorf("criteria=%s, want %s: %q", crit, tc.criteria, l)
					}
					if x, err := strconv.ParseFloat(v, 64); err != nil || !(x >= 0) || (strings.HasPrefix(crit, "sampled_") && x > 1) {
						t.Errorf("value %q (%v)", v, err)
					}
					stopLines++
				}
				if strings.HasSuffix(l, ": Loss improved. Updating best model") {
					improved++
				}
			}
			if stopLines != m.epochs {
				t.Errorf("%d early stopping lines for %d epochs", stopLines, m.epochs)
			}
			if !slices.Contains(m.logs, "Test data is not provided.") {
				t.Errorf("no test channel, and the log does not say so")
			}
			if improved < 1 || improved > stopLines || !slices.Contains(m.logs, "Epoch 0: Loss improved. Updating best model") {
				t.Errorf("%d Loss improved lines for %d epochs, epoch 0 among them: %v", improved, stopLines, slices.Contains(m.logs, "Epoch 0: Loss improved. Updating best model"))
			}
		})
	}
}

// TestNoValidation: without a validation channel, selection and
// calibration use the training sample.
func TestNoValidation(t *testing.T) {
	tr := synth(2000, 3, 18, binaryTarget)
	test := synth(1000, 3, 19, binaryTarget)
	_, m := train(t, map[string]any{"feature_dim": "3", "predictor_type": "binary_classifier", "epochs": "3", "mini_batch_size": "250"},
		map[string]algorithms.Channel{"train": tr, "test": test})
	// The passes after the first come from memory (the set fits the cache).
	if got := tr.opens; len(got) != 1 || got[0] != 0 {
		t.Errorf("train passes opened %v, want [0]", got)
	}
	if acc := m.scores["test:binary_classification_accuracy"]; !(acc > 0.8) {
		t.Errorf("test accuracy %v", acc)
	}
	if slices.Contains(m.logs, "Test data is not provided.") {
		t.Errorf("the log says there is no test channel when there is one")
	}
}

func TestTrainErrors(t *testing.T) {
	ok := synth(100, 3, 20, binaryTarget)
	bad := synth(100, 3, 20, func([]float32, *rand.Rand) float32 { return 2 })
	for _, tc := range []struct {
		name string
		hp   map[string]any
		ch   *memChannel
		want string
	}{
		{"binary label 2", map[string]any{"predictor_type": "binary_classifier"}, bad, "needs labels 0 or 1"},
		{"multiclass label 3", map[string]any{"predictor_type": "multiclass_classifier", "num_classes": "3", "accuracy_top_k": "1"},
			synth(10, 3, 1, func([]float32, *rand.Rand) float32 { return 3 }), "integer labels 0 to 2"},
		{"feature_dim", map[string]any{"predictor_type": "binary_classifier", "feature_dim": "4"}, ok, "feature_dim is 4"},
		{"empty", map[string]any{"predictor_type": "regressor"}, &memChannel{d: 3}, "holds no records"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hp := map[string]any{"feature_dim": "3"}
			for k, v := range tc.hp {
				hp[k] = v
			}
			job, _ := newJob(t, hp, map[string]algorithms.Channel{"train": tc.ch})
			_, err := Algorithm{}.Train(context.Background(), job)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !algorithms.ClientError(err) {
				t.Errorf("err = %v, want a client error containing %q", err, tc.want)
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	tr := synth(1000, 3, 21, binaryTarget)
	hp := map[string]any{"feature_dim": "3", "predictor_type": "binary_classifier", "epochs": "2"}
	a, _ := train(t, hp, map[string]algorithms.Channel{"train": tr})
	b, _ := train(t, hp, map[string]algorithms.Channel{"train": tr})
	ab, _ := a.artifact()
	bb, _ := b.artifact()
	if string(ab) != string(bb) {
		t.Errorf("two runs on the same data gave different artifacts")
	}
}

// cancelAfter cancels the run's context at the end of epoch n (SIGTERM
// mid-training, as the trainer delivers it).
type cancelAfter struct {
	*fakeMetrics
	n      int
	cancel context.CancelFunc
}

func (c cancelAfter) EpochEnd(epoch int, v map[string]float64) {
	c.fakeMetrics.EpochEnd(epoch, v)
	if epoch+1 == c.n {
		c.cancel()
	}
}

// TestInterruptedWithoutValidation: a run stopped mid-training without a
// validation channel returns a model chosen and calibrated on the training
// sample (selection otherwise happens after the last epoch), with the
// cancellation as its error, for the trainer to save.
func TestInterruptedWithoutValidation(t *testing.T) {
	tr := synth(2000, 3, 20, binaryTarget)
	job, m := newJob(t, map[string]any{"feature_dim": "3", "predictor_type": "binary_classifier", "epochs": "10",
		"mini_batch_size": "100", "num_models": "4", "binary_classifier_model_selection_criteria": "precision_at_target_recall",
		"target_recall": "0.95"}, map[string]algorithms.Channel{"train": tr})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	job.Metrics = cancelAfter{fakeMetrics: m, n: 2, cancel: cancel}
	model, err := Algorithm{}.Train(ctx, job)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if m.epochs != 2 {
		t.Errorf("%d epochs ran, want 2", m.epochs)
	}
	if model == nil {
		t.Fatal("no model after the cancellation")
	}
	// Recall 0.95 on this problem (Bayes accuracy about 0.85) needs a
	// threshold well below the default 0.5: calibration ran.
	if thr := model.(*Model).Threshold(); !(thr > 0 && thr < 0.45) {
		t.Errorf("threshold %v, want one calibrated for recall 0.95 (below 0.45)", thr)
	}
}
