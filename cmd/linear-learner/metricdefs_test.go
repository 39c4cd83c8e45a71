package main_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"testing"

	"github.com/sagebrush-ml/sagebrush/trainer/trainertest"
)

// builtinMetricDefinitions are the metric definitions SageMaker attaches to
// its own linear-learner image (AlgorithmSpecification.MetricDefinitions of
// DescribeTrainingJob for linear-learner:1, as public notebook outputs of
// 2020 jobs print them). SageMaker applies them to the job's log, keeps the
// last match of each, and hyperparameter tuning reads its objective
// (validation:objective_loss, test:binary_f_beta, ...) from them: a user who
// copies them onto a job with this image must find every metric the job
// has.
var builtinMetricDefinitions = map[string]string{
	"test:dcg":                                  `#quality_metric: host=\S+, test dcg <score>=(\S+)`,
	"train:progress":                            `#progress_metric: host=\S+, completed (\S+) %`,
	"test:binary_f_beta":                        `#quality_metric: host=\S+, test binary_f_\S+ <score>=(\S+)`,
	"train:objective_loss":                      `#quality_metric: host=\S+, epoch=\S+, train \S+_objective <loss>=(\S+)`,
	"validation:macro_precision":                `#quality_metric: host=\S+, validation macro_precision <score>=(\S+)`,
	"validation:dcg":                            `#quality_metric: host=\S+, validation dcg <score>=(\S+)`,
	"test:mse":                                  `#quality_metric: host=\S+, test mse <loss>=(\S+)`,
	"validation:binary_f_beta":                  `#quality_metric: host=\S+, validation binary_f_\S+ <score>=(\S+)`,
	"validation:objective_loss":                 `#quality_metric: host=\S+, epoch=\S+, validation \S+_objective <loss>=(\S+)`,
	"validation:objective_loss:final":           `#quality_metric: host=\S+, validation \S+_objective <loss>=(\S+)`,
	"test:macro_recall":                         `#quality_metric: host=\S+, test macro_recall <score>=(\S+)`,
	"test:absolute_loss":                        `#quality_metric: host=\S+, test absolute_loss <loss>=(\S+)`,
	"train:recall":                              `#quality_metric: host=\S+, train recall <score>=(\S+)`,
	"train:mse":                                 `#quality_metric: host=\S+, train mse <loss>=(\S+)`,
	"train:precision":                           `#quality_metric: host=\S+, train precision <score>=(\S+)`,
	"train:objective_loss:final":                `#quality_metric: host=\S+, train \S+_objective <loss>=(\S+)`,
	"validation:recall":                         `#quality_metric: host=\S+, validation recall <score>=(\S+)`,
	"test:multiclass_accuracy":                  `#quality_metric: host=\S+, test multiclass_accuracy <score>=(\S+)`,
	"validation:precision":                      `#quality_metric: host=\S+, validation precision <score>=(\S+)`,
	"validation:multiclass_accuracy":            `#quality_metric: host=\S+, validation multiclass_accuracy <score>=(\S+)`,
	"train:binary_f_beta":                       `#quality_metric: host=\S+, train binary_f_\S+ <score>=(\S+)`,
	"test:recall":                               `#quality_metric: host=\S+, test recall <score>=(\S+)`,
	"test:macro_precision":                      `#quality_metric: host=\S+, test macro_precision <score>=(\S+)`,
	"test:macro_f_beta":                         `#quality_metric: host=\S+, test macro_f_\S+ <score>=(\S+)`,
	"test:objective_loss":                       `#quality_metric: host=\S+, test \S+_objective <loss>=(\S+)`,
	"test:precision":                            `#quality_metric: host=\S+, test precision <score>=(\S+)`,
	"validation:multiclass_top_k_accuracy":      `#quality_metric: host=\S+, validation multiclass_top_k_accuracy_\S+ <score>=(\S+)`,
	"train:binary_classification_accuracy":      `#quality_metric: host=\S+, train binary_classification_accuracy <score>=(\S+)`,
	"validation:mse":                            `#quality_metric: host=\S+, validation mse <loss>=(\S+)`,
	"test:multiclass_top_k_accuracy":            `#quality_metric: host=\S+, test multiclass_top_k_accuracy_\S+ <score>=(\S+)`,
	"validation:binary_classification_accuracy": `#quality_metric: host=\S+, validation binary_classification_accuracy <score>=(\S+)`,
	"train:absolute_loss":                       `#quality_metric: host=\S+, train absolute_loss <loss>=(\S+)`,
	"validation:macro_recall":                   `#quality_metric: host=\S+, validation macro_recall <score>=(\S+)`,
	"train:throughput":                          `#throughput_metric: host=\S+, train throughput=(\S+) records/second`,
	"test:binary_classification_accuracy":       `#quality_metric: host=\S+, test binary_classification_accuracy <score>=(\S+)`,
	"validation:absolute_loss":                  `#quality_metric: host=\S+, validation absolute_loss <loss>=(\S+)`,
	"validation:macro_f_beta":                   `#quality_metric: host=\S+, validation macro_f_\S+ <score>=(\S+)`,
}

// metricValues applies the definitions to a log as SageMaker does: the
// last match of each, as a number.
func metricValues(t *testing.T, log string) map[string]float64 {
	t.Helper()
	got := map[string]float64{}
	for name, expr := range builtinMetricDefinitions {
		ms := regexp.MustCompile(expr).FindAllStringSubmatch(log, -1)
		if len(ms) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(ms[len(ms)-1][1], 64)
		if err != nil {
			t.Errorf("%s matched %q, not a number", name, ms[len(ms)-1][0])
			continue
		}
		got[name] = v
	}
	return got
}

// labelledCSV draws n rows of three N(0,1) features with the label
// label(x) first.
func labelledCSV(n int, seed uint64, label func(x []float64, rng *rand.Rand) float64) []byte {
	rng := rand.New(rand.NewPCG(seed, 3))
	var b bytes.Buffer
	for range n {
		x := []float64{rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()}
		fmt.Fprintf(&b, "%g,%g,%g,%g\n", label(x, rng), x[0], x[1], x[2])
	}
	return b.Bytes()
}

// TestBuiltinMetricDefinitions: the built-in image's metric definitions
// find, in our log, every metric that applies to the job (the objective
// loss whatever the loss, the train metrics of the selected model when
// there is no validation channel), with the values of the project's own
// metric names.
func TestBuiltinMetricDefinitions(t *testing.T) {
	regression := func(x []float64, rng *rand.Rand) float64 { return 2*x[0] - x[1] + 0.3*rng.NormFloat64() }
	multiclass := func(x []float64, _ *rand.Rand) float64 {
		switch {
		case x[0] < -0.5:
			return 0
		case x[0] < 0.5:
			return 1
		}
		return 2
	}
	binaryRows := func(n int, seed uint64) []byte { return csvData(n, seed) }
	progress := []string{"train:progress", "train:throughput", "train:objective_loss"}
	binaryMetrics := func(ch string) []string {
		return []string{ch + ":binary_f_beta", ch + ":precision", ch + ":recall", ch + ":binary_classification_accuracy"}
	}
	for _, tc := range []struct {
		name  string
		hp    map[string]string
		data  func(n int, seed uint64) []byte
		val   bool
		want  []string
		equal map[string]string // metric: the project's line whose value it must have
	}{
		{
			name: "binary with validation", data: binaryRows, val: true,
			hp: map[string]string{"predictor_type": "binary_classifier"},
			want: slices.Concat(progress, binaryMetrics("validation"), binaryMetrics("test"),
				[]string{"validation:objective_loss", "validation:objective_loss:final", "test:objective_loss"}),
			equal: map[string]string{
				"test:objective_loss":             "test objective_loss <loss>=",
				"validation:objective_loss:final": "validation objective_loss <loss>=",
				"test:binary_f_beta":              "test binary_f_beta <score>=",
			},
		},
		{
			name: "binary without validation", data: binaryRows,
			hp: map[string]string{"predictor_type": "binary_classifier"},
			want: slices.Concat(progress, binaryMetrics("train"), binaryMetrics("test"),
				[]string{"train:objective_loss:final", "test:objective_loss"}),
			equal: map[string]string{
				"train:objective_loss:final": "train objective_loss <loss>=",
				"train:binary_f_beta":        "train binary_f_beta <score>=",
			},
		},
		{
			name: "hinge loss with validation", data: binaryRows, val: true,
			hp: map[string]string{"predictor_type": "binary_classifier", "loss": "hinge_loss"},
			want: slices.Concat(progress, binaryMetrics("validation"), binaryMetrics("test"),
				[]string{"validation:objective_loss", "validation:objective_loss:final", "test:objective_loss"}),
			equal: map[string]string{"test:objective_loss": "test objective_loss <loss>="},
		},
		{
			name: "regression without validation", data: func(n int, seed uint64) []byte { return labelledCSV(n, seed, regression) },
			hp: map[string]string{"predictor_type": "regressor"},
			want: slices.Concat(progress, []string{"train:mse", "train:absolute_loss", "train:objective_loss:final",
				"test:mse", "test:absolute_loss", "test:objective_loss"}),
			equal: map[string]string{"train:objective_loss:final": "train mse <loss>=", "test:objective_loss": "test mse <loss>="},
		},
		{
			name: "absolute loss with validation", data: func(n int, seed uint64) []byte { return labelledCSV(n, seed, regression) }, val: true,
			hp: map[string]string{"predictor_type": "regressor", "loss": "absolute_loss"},
			want: slices.Concat(progress, []string{"validation:mse", "validation:absolute_loss", "validation:objective_loss",
				"validation:objective_loss:final", "test:mse", "test:absolute_loss", "test:objective_loss"}),
			equal: map[string]string{"test:objective_loss": "test absolute_loss <loss>="},
		},
		{
			name: "multiclass with validation", data: func(n int, seed uint64) []byte { return labelledCSV(n, seed, multiclass) }, val: true,
			hp: map[string]string{"predictor_type": "multiclass_classifier", "num_classes": "3", "accuracy_top_k": "2"},
			want: slices.Concat(progress, []string{"validation:objective_loss", "validation:objective_loss:final",
				"validation:multiclass_accuracy", "validation:multiclass_top_k_accuracy", "validation:dcg",
				"validation:macro_precision", "validation:macro_recall", "validation:macro_f_beta",
				"test:objective_loss", "test:multiclass_accuracy", "test:multiclass_top_k_accuracy", "test:dcg",
				"test:macro_precision", "test:macro_recall", "test:macro_f_beta"}),
			equal: map[string]string{"test:multiclass_top_k_accuracy": "test multiclass_top_k_accuracy <score>="},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hp := map[string]string{"feature_dim": "3", "mini_batch_size": "100", "epochs": "3", "num_models": "4"}
			for k, v := range tc.hp {
				hp[k] = v
			}
			channels := map[string]trainertest.Channel{"train": csvChannel(tc.data(1500, 31)), "test": csvChannel(tc.data(400, 33))}
			if tc.val {
				channels["validation"] = csvChannel(tc.data(400, 32))
			}
			log := trainOK(t, trainertest.NewOptML(t, hp, channels)).Log()
			got := metricValues(t, log)
			for _, name := range tc.want {
				if _, ok := got[name]; !ok {
					t.Errorf("the definition of %s finds nothing in the log", name)
				}
			}
			for name := range got {
				if !slices.Contains(tc.want, name) {
					t.Errorf("the definition of %s finds %v, in a job it does not apply to", name, got[name])
				}
			}
			for name, line := range tc.equal {
				m := regexp.MustCompile(`#quality_metric: host=algo-1, `+regexp.QuoteMeta(line)+`(\S+)`).FindAllStringSubmatch(log, -1)
				if len(m) == 0 {
					t.Errorf("the log lacks %q", line)
					continue
				}
				if want, _ := strconv.ParseFloat(m[len(m)-1][1], 64); got[name] != want {
					t.Errorf("%s = %v, the log's %q %v", name, got[name], line, want)
				}
			}
		})
	}
}
