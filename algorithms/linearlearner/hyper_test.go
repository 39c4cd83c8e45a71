package linearlearner

import (
	"math"
	"strings"
	"testing"

	"github.com/sagebrush-ml/sagebrush/algorithms/hyper"
	"github.com/sagebrush-ml/sagebrush/data"
)

type hyperValues = hyper.Values

func TestSchemaNames(t *testing.T) {
	// The 44 documented names, plus the guide's spelling of the positive weight.
	want := strings.Fields(`feature_dim num_classes predictor_type accuracy_top_k balance_multiclass_weights beta_1 beta_2
	bias_lr_mult bias_wd_mult binary_classifier_model_selection_criteria early_stopping_patience early_stopping_tolerance
	epochs f_beta huber_delta init_bias init_method init_scale init_sigma l1 learning_rate loss loss_insensitivity
	lr_scheduler_factor lr_scheduler_minimum_lr lr_scheduler_step margin mini_batch_size momentum normalize_data
	normalize_label num_calibration_samples num_models num_point_for_scaler optimizer positive_example_weight_mult
	quantile target_precision target_recall unbias_data unbias_label use_bias use_lr_scheduler wd`)
	if len(want) != 44 {
		t.Fatalf("test lists %d names", len(want))
	}
	have := map[string]bool{}
	for _, p := range schema.Params {
		have[p.Name] = true
	}
	for _, n := range want {
		if !have[n] {
			t.Errorf("schema lacks %s", n)
		}
	}
	if len(schema.Params) != 45 || !have["positive_example_weight"] {
		t.Errorf("schema has %d params, want 44 + positive_example_weight", len(schema.Params))
	}
}

func TestAutomaticModelTuning(t *testing.T) {
	// A job launched by automatic model tuning trains one model, whatever
	// num_models says; without the injected name num_models holds.
	for _, tc := range []struct {
		raw    map[string]any
		models int
		obj    string
	}{
		{map[string]any{"num_models": "8"}, 8, ""},
		{map[string]any{"num_models": "8", "_tuning_objective_metric": "validation:objective_loss"}, 1, "validation:objective_loss"},
		{map[string]any{"_tuning_objective_metric": "test:binary_f_beta"}, 1, "test:binary_f_beta"},
	} {
		tc.raw["feature_dim"], tc.raw["predictor_type"] = "10", "binary_classifier"
		v, err := schema.Parse(tc.raw)
		if err != nil {
			t.Fatal(err)
		}
		if p := ParamsFrom(v); p.NumModels != tc.models || p.TuningObjective != tc.obj {
			t.Errorf("%v: num_models %d, tuning objective %q; want %d, %q", tc.raw, p.NumModels, p.TuningObjective, tc.models, tc.obj)
		}
	}
}

func TestDefaults(t *testing.T) {
	v, err := schema.Parse(map[string]any{"feature_dim": "10", "predictor_type": "binary_classifier"})
	if err != nil {
		t.Fatal(err)
	}
	p := ParamsFrom(v)
	if p.Epochs != 15 || p.MiniBatchSize != 1000 || p.Patience != 3 || p.Tolerance != 0.001 || p.FBeta != 1 ||
		p.InitScale != 0.07 || p.InitSigma != 0.01 || p.InitMethod != "uniform" || p.Margin != 1 || p.Quantile != 0.5 ||
		p.Insensitivity != 0.01 || p.HuberDelta != 1 || p.TargetRecall != 0.8 || p.TargetPrecision != 0.8 ||
		p.NumPointForScaler != 10000 || !p.UseBias || !p.UseLRScheduler || p.TopK != 3 || p.PosWeight != 1 {
		t.Errorf("documented defaults not applied: %+v", p)
	}
	if p.Optimizer != "adam" || p.Loss != "logistic" || p.Criterion != "accuracy" || p.CriterionGiven || !p.NormalizeData || p.NormalizeLabel {
		t.Errorf("auto resolution: %+v", p)
	}
	for pt, loss := range map[string]string{"regressor": "squared_loss", "multiclass_classifier": "softmax_loss"} {
		v, err := schema.Parse(map[string]any{"feature_dim": "10", "predictor_type": pt, "num_classes": "5"})
		if err != nil {
			t.Fatal(err)
		}
		if got := ParamsFrom(v).Loss; got != loss {
			t.Errorf("%s: auto loss %s, want %s", pt, got, loss)
		}
	}
	v, _ = schema.Parse(map[string]any{"feature_dim": "1", "predictor_type": "binary_classifier",
		"binary_classifier_model_selection_criteria": "f1", "f_beta": "2", "positive_example_weight": "balanced"})
	// f1 selects by F1; the reported binary_f_beta keeps f_beta = 2.
	if p := ParamsFrom(v); p.Criterion != "f_beta" || p.CriterionBeta != 1 || p.FBeta != 2 || p.PosWeightKind != "balanced" || !p.CriterionGiven {
		t.Errorf("f1 / balanced: %+v", p)
	}
}

// TestIgnoredHyperparameters: what the guide calls ignored in a
// configuration is accepted there, not a ClientError.
func TestIgnoredHyperparameters(t *testing.T) {
	for _, hp := range []map[string]any{
		{"predictor_type": "binary_classifier", "num_classes": "2"}, // num_classes: "Ignored otherwise"
		{"predictor_type": "regressor", "num_classes": "1"},         //
		{"use_lr_scheduler": "false", "lr_scheduler_minimum_lr": "1"},
		{"lr_scheduler_minimum_lr": "0.1", "learning_rate": "0.01"},                            // no such rule: lr stays 0.01                          // "Only when use_lr_scheduler = true"
		{"predictor_type": "regressor", "unbias_label": "true", "use_bias": "false"},           // "only ... if use_bias is true"
		{"predictor_type": "multiclass_classifier", "num_classes": "3", "accuracy_top_k": "5"}, // any positive integer
	} {
		hp["feature_dim"] = "4"
		if hp["predictor_type"] == nil {
			hp["predictor_type"] = "binary_classifier"
		}
		if _, err := schema.Parse(hp); err != nil {
			t.Errorf("%v: %v", hp, err)
		}
	}
	v, err := schema.Parse(map[string]any{"feature_dim": "4", "predictor_type": "regressor", "unbias_label": "true", "use_bias": "false"})
	if err != nil {
		t.Fatal(err)
	}
	tr := &trainer{p: ParamsFrom(v)}
	tr.sample = []*data.Batch{{Rows: 2, Cols: 4, Dense: make([]float32, 8), Labels: []float32{10, 20}}}
	tr.sampleRows = 2
	tr.fitScaler(tr.stats())
	if tr.yShift != 0 {
		t.Errorf("label shifted by %v without a bias term", tr.yShift)
	}
}

func TestHyperparameterErrors(t *testing.T) {
	base := func(extra map[string]any) map[string]any {
		hp := map[string]any{"feature_dim": "10", "predictor_type": "binary_classifier"}
		for k, v := range extra {
			if v == nil {
				delete(hp, k)
			} else {
				hp[k] = v
			}
		}
		return hp
	}
	for _, tc := range []struct {
		name string
		hp   map[string]any
		want string
	}{
		{"missing feature_dim", base(map[string]any{"feature_dim": nil}), `"feature_dim" is required`},
		{"missing predictor_type", base(map[string]any{"predictor_type": nil}), `"predictor_type" is required`},
		{"bad feature_dim", base(map[string]any{"feature_dim": "abc"}), `"feature_dim" = "abc"`},
		{"zero feature_dim", base(map[string]any{"feature_dim": "0"}), "out of range"},
		{"bad predictor", base(map[string]any{"predictor_type": "ranker"}), `"ranker"`},
		{"multiclass without num_classes", base(map[string]any{"predictor_type": "multiclass_classifier"}), `"num_classes" is required`},
		{"num_classes 2", base(map[string]any{"predictor_type": "multiclass_classifier", "num_classes": "2"}), "out of range"},
		{"num_classes huge", base(map[string]any{"predictor_type": "multiclass_classifier", "num_classes": "1000001"}), "out of range"},
		{"num_classes not an integer", base(map[string]any{"num_classes": "two"}), `"num_classes" = "two"`},
		{"loss for type", base(map[string]any{"loss": "squared_loss"}), "invalid for predictor_type"},
		{"softmax for regressor", base(map[string]any{"predictor_type": "regressor", "loss": "softmax_loss"}), "invalid for predictor_type"},
		{"unknown loss", base(map[string]any{"loss": "cosh"}), `"loss" = "cosh"`},
		{"beta_1", base(map[string]any{"beta_1": "1.5"}), "out of range"},
		{"beta_2", base(map[string]any{"beta_2": "-0.1"}), "out of range"},
		{"bias_lr_mult", base(map[string]any{"bias_lr_mult": "0"}), "out of range"},
		{"bias_wd_mult", base(map[string]any{"bias_wd_mult": "-1"}), "out of range"},
		{"criterion", base(map[string]any{"binary_classifier_model_selection_criteria": "auc"}), "auc"},
		{"patience", base(map[string]any{"early_stopping_patience": "0"}), "out of range"},
		{"tolerance", base(map[string]any{"early_stopping_tolerance": "0"}), "out of range"},
		{"epochs", base(map[string]any{"epochs": "1.5"}), "epochs"},
		{"f_beta", base(map[string]any{"f_beta": "-1"}), "out of range"},
		{"huber_delta", base(map[string]any{"huber_delta": "0"}), "out of range"},
		{"init_bias", base(map[string]any{"init_bias": "x"}), "init_bias"},
		{"init_method", base(map[string]any{"init_method": "xavier"}), "xavier"},
		{"init_scale", base(map[string]any{"init_scale": "0"}), "out of range"},
		{"init_sigma", base(map[string]any{"init_sigma": "-2"}), "out of range"},
		{"l1", base(map[string]any{"l1": "-1"}), "out of range"},
		{"learning_rate", base(map[string]any{"learning_rate": "0"}), "out of range"},
		{"loss_insensitivity", base(map[string]any{"loss_insensitivity": "0"}), "out of range"},
		{"lr_scheduler_factor", base(map[string]any{"lr_scheduler_factor": "1.5"}), "out of range"},
		{"lr_scheduler_minimum_lr", base(map[string]any{"lr_scheduler_minimum_lr": "0"}), "out of range"},
		{"lr_scheduler_step", base(map[string]any{"lr_scheduler_step": "0"}), "out of range"},
		{"margin", base(map[string]any{"margin": "0"}), "out of range"},
		{"mini_batch_size", base(map[string]any{"mini_batch_size": "0"}), "out of range"},
		{"momentum", base(map[string]any{"momentum": "2"}), "out of range"},
		{"normalize_data", base(map[string]any{"normalize_data": "yes"}), "normalize_data"},
		{"normalize_label", base(map[string]any{"normalize_label": "1"}), "normalize_label"},
		{"num_calibration_samples", base(map[string]any{"num_calibration_samples": "0"}), "out of range"},
		{"num_models", base(map[string]any{"num_models": "0"}), "out of range"},
		{"num_point_for_scaler", base(map[string]any{"num_point_for_scaler": "-5"}), "out of range"},
		{"optimizer", base(map[string]any{"optimizer": "adagrad"}), "adagrad"},
		{"positive weight", base(map[string]any{"positive_example_weight_mult": "-2"}), "positive_example_weight_mult"},
		{"positive weight guide", base(map[string]any{"positive_example_weight": "heavy"}), "positive_example_weight"},
		{"quantile", base(map[string]any{"quantile": "1.1"}), "out of range"},
		{"target_precision", base(map[string]any{"target_precision": "2"}), "out of range"},
		{"target_recall", base(map[string]any{"target_recall": "-0.5"}), "out of range"},
		{"unbias_data without bias", base(map[string]any{"unbias_data": "true", "use_bias": "false"}), "needs use_bias"},
		{"unbias_label", base(map[string]any{"unbias_label": "maybe"}), "unbias_label"},
		{"use_bias", base(map[string]any{"use_bias": "auto"}), "use_bias"},
		{"use_lr_scheduler", base(map[string]any{"use_lr_scheduler": "0"}), "use_lr_scheduler"},
		{"wd", base(map[string]any{"wd": "-0.1"}), "out of range"},
		{"accuracy_top_k", base(map[string]any{"accuracy_top_k": "0"}), "out of range"},
		{"balance_multiclass_weights", base(map[string]any{"balance_multiclass_weights": "auto"}), "balance_multiclass_weights"},
		{"unknown", base(map[string]any{"mini_batch_siz": "10"}), `did you mean "mini_batch_size"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := schema.Parse(tc.hp)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
			if _, ok := err.(*hyper.Error); !ok {
				t.Errorf("err is %T, want *hyper.Error", err)
			}
		})
	}
}

func TestAcceptedSpellings(t *testing.T) {
	for _, hp := range []map[string]any{
		{"normalize_data": "auto", "normalize_label": "True", "unbias_data": "False", "use_bias": true},
		{"binary_classifier_model_selection_criteria": "cross_entropy_loss", "positive_example_weight_mult": "auto"},
		{"learning_rate": 0.5, "num_models": 4, "_tuning_objective_metric": "validation:objective_loss", "force_dense": "true"},
		{"lr_scheduler_step": "auto", "num_calibration_samples": "AUTO", "positive_example_weight": "2.5"},
	} {
		hp["feature_dim"], hp["predictor_type"] = "3", "binary_classifier"
		if _, err := schema.Parse(hp); err != nil {
			t.Errorf("%v: %v", hp, err)
		}
	}
}

// TestFBetaUnderCriterionF1: criterion f1 selects and calibrates by F1,
// while the reported binary_f_beta is the user's F2 (it was F1).
func TestFBetaUnderCriterionF1(t *testing.T) {
	v, err := schema.Parse(map[string]any{"feature_dim": "1", "predictor_type": "binary_classifier",
		"binary_classifier_model_selection_criteria": "f1", "f_beta": "2"})
	if err != nil {
		t.Fatal(err)
	}
	e := newEvaluator(ParamsFrom(v), 0.5)
	// Logits of 4 positives and 2 negatives: tp 2, fn 2, fp 0, so precision
	// 1 and recall 1/2, where F1 (2/3) and F2 (5/9) differ.
	for _, r := range []struct{ z, y float32 }{{2, 1}, {2, 1}, {-2, 1}, {-2, 1}, {-2, 0}, {-2, 0}} {
		e.add([]float32{r.z}, float64(r.y))
	}
	got := map[string]float64{}
	for _, m := range e.metrics() {
		got[m.name] = m.value
	}
	if want := 5.0 / 9; math.Abs(got["binary_f_beta"]-want) > 1e-12 {
		t.Errorf("binary_f_beta %v, want F2 %v", got["binary_f_beta"], want)
	}
	if got["binary_classifier_accuracy"] != got["binary_classification_accuracy"] || math.Abs(got["binary_classifier_accuracy"]-4.0/6) > 1e-12 {
		t.Errorf("accuracy under the two names: %v, %v; want 4/6", got["binary_classifier_accuracy"], got["binary_classification_accuracy"])
	}
}
