// Package linearlearner is SageMaker's linear learner: binary classification,
// multiclass classification and regression with linear models.
//
// Training follows SageMaker's design: the features (and, for regression,
// the label) are normalised from a sample of the first num_point_for_scaler
// training rows; then num_models models are trained in parallel over the
// same mini-batches, with nearby learning rates, weight decay and L1, as one
// matrix product X·W per mini-batch (W holds every model's weights side by
// side); each epoch every model is scored on the validation channel (or the
// training sample), early stopping watches the best model, and at the end
// the best model is selected, its decision threshold calibrated (binary),
// its normalisation folded into the weights and saved in SageMaker's
// artifact layout (a zip holding an MXNet module).
package linearlearner

import (
	"math"
	"strconv"
	"strings"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/algorithms/hyper"
)

// Predictor types.
const (
	Binary     = "binary_classifier"
	Multiclass = "multiclass_classifier"
	Regressor  = "regressor"
)

// Algorithm is the linear learner. The zero value is ready to use.
type Algorithm struct{}

var _ algorithms.Algorithm = Algorithm{}

// Name is the image name.
func (Algorithm) Name() string { return "linear-learner" }

var (
	regressionLosses = []string{"auto", "squared_loss", "absolute_loss", "eps_insensitive_squared_loss",
		"eps_insensitive_absolute_loss", "quantile_loss", "huber_loss"}
	binaryLosses     = []string{"auto", "logistic", "hinge_loss"}
	multiclassLosses = []string{"auto", "softmax_loss"}
	allLosses        = []string{"auto", "logistic", "squared_loss", "absolute_loss", "hinge_loss",
		"eps_insensitive_squared_loss", "eps_insensitive_absolute_loss", "quantile_loss", "huber_loss", "softmax_loss"}
	// Criteria: the Developer Guide's five and the SDK's two extra names.
	criteria = []string{"accuracy", "f_beta", "precision_at_target_recall", "recall_at_target_precision",
		"loss_function", "f1", "cross_entropy_loss"}
)

var (
	zero = hyper.Bound(0)
	one  = hyper.Bound(1)
)

func posInt(name, def string) hyper.Param {
	return hyper.Param{Name: name, Kind: hyper.Int, Default: def, Min: one, Doc: "a positive integer"}
}

func posFloat(name, def string) hyper.Param {
	return hyper.Param{Name: name, Kind: hyper.Float, Default: def, Min: zero, MinOpen: true, Doc: "a positive float"}
}

func unit(name, def string, auto bool) hyper.Param {
	doc := "a float between 0 and 1"
	if auto {
		doc += ` or "auto"`
	}
	return hyper.Param{Name: name, Kind: hyper.Float, Default: def, Auto: auto, Min: zero, Max: one, Doc: doc}
}

func autoBool(name string) hyper.Param {
	return hyper.Param{Name: name, Kind: hyper.Bool, Default: "auto", Auto: true, Doc: `"auto", "true" or "false"`}
}

var schema = &hyper.Schema{Params: []hyper.Param{
	{Name: "feature_dim", Kind: hyper.Int, Required: true, Min: one, Doc: "a positive integer"},
	{Name: "predictor_type", Kind: hyper.String, Required: true, Enum: []string{Binary, Multiclass, Regressor}},
	// num_classes is ignored unless multiclass (as the guide says); check
	// holds its range there.
	{Name: "num_classes", Kind: hyper.Int, Doc: "an integer from 3 to 1000000"},
	posInt("accuracy_top_k", "3"),
	{Name: "balance_multiclass_weights", Kind: hyper.Bool, Default: "false"},
	{Name: "beta_1", Kind: hyper.Float, Default: "auto", Auto: true, Min: zero, Max: one, MaxOpen: true, Doc: `a float in [0, 1) or "auto"`},
	{Name: "beta_2", Kind: hyper.Float, Default: "auto", Auto: true, Min: zero, Max: one, MaxOpen: true, Doc: `a float in [0, 1) or "auto"`},
	{Name: "bias_lr_mult", Kind: hyper.Float, Default: "auto", Auto: true, Min: zero, MinOpen: true, Doc: `a positive float or "auto"`},
	{Name: "bias_wd_mult", Kind: hyper.Float, Default: "auto", Auto: true, Min: zero, Doc: `a non-negative float or "auto"`},
	{Name: "binary_classifier_model_selection_criteria", Kind: hyper.String, Enum: criteria, Doc: "one of \"accuracy\", \"f_beta\", \"precision_at_target_recall\", \"recall_at_target_precision\", \"loss_function\" (or the SDK's \"f1\", \"cross_entropy_loss\"); default \"accuracy\""},
	posInt("early_stopping_patience", "3"),
	posFloat("early_stopping_tolerance", "0.001"),
	posInt("epochs", "15"),
	posFloat("f_beta", "1.0"),
	posFloat("huber_delta", "1.0"),
	{Name: "init_bias", Kind: hyper.Float, Default: "0"},
	{Name: "init_method", Kind: hyper.String, Default: "uniform", Enum: []string{"uniform", "normal"}},
	posFloat("init_scale", "0.07"),
	posFloat("init_sigma", "0.01"),
	{Name: "l1", Kind: hyper.Float, Default: "auto", Auto: true, Min: zero, Doc: `a non-negative float or "auto"`},
	{Name: "learning_rate", Kind: hyper.Float, Default: "auto", Auto: true, Min: zero, MinOpen: true, Doc: `a positive float or "auto"`},
	{Name: "loss", Kind: hyper.String, Default: "auto", Enum: allLosses},
	posFloat("loss_insensitivity", "0.01"),
	{Name: "lr_scheduler_factor", Kind: hyper.Float, Default: "auto", Auto: true, Min: zero, MinOpen: true, Max: one, Doc: `a float in (0, 1] or "auto"`},
	{Name: "lr_scheduler_minimum_lr", Kind: hyper.Float, Default: "auto", Auto: true, Min: zero, MinOpen: true, Doc: `a positive float or "auto"`},
	{Name: "lr_scheduler_step", Kind: hyper.Int, Default: "auto", Auto: true, Min: one, Doc: `a positive integer or "auto"`},
	posFloat("margin", "1.0"),
	posInt("mini_batch_size", "1000"),
	unit("momentum", "auto", true),
	{Name: "normalize_data", Kind: hyper.Bool, Default: "true", Auto: true, Doc: `"auto", "true" or "false"`},
	autoBool("normalize_label"),
	{Name: "num_calibration_samples", Kind: hyper.Int, Default: "auto", Auto: true, Min: one, Doc: `a positive integer or "auto"`},
	{Name: "num_models", Kind: hyper.Int, Default: "auto", Auto: true, Min: one, Doc: `a positive integer or "auto"`},
	posInt("num_point_for_scaler", "10000"),
	{Name: "optimizer", Kind: hyper.String, Default: "auto", Enum: []string{"auto", "sgd", "adam", "rmsprop"}},
	{Name: "positive_example_weight_mult", Kind: hyper.String, Default: "1.0", Doc: `"balanced", "auto" or a positive float`},
	{Name: "positive_example_weight", Kind: hyper.String, Doc: `"balanced", "auto" or a positive float`},
	unit("quantile", "0.5", false),
	unit("target_precision", "0.8", false),
	unit("target_recall", "0.8", false),
	autoBool("unbias_data"),
	autoBool("unbias_label"),
	{Name: "use_bias", Kind: hyper.Bool, Default: "true"},
	{Name: "use_lr_scheduler", Kind: hyper.Bool, Default: "true"},
	{Name: "wd", Kind: hyper.Float, Default: "auto", Auto: true, Min: zero, Doc: `a non-negative float or "auto"`},
}, Check: check}

// Schema returns the 44 documented hyperparameters (plus the guide's
// spelling positive_example_weight) with their defaults.
func (Algorithm) Schema() *hyper.Schema { return schema }

// Channels: train (required), validation and test; CSV or RecordIO-protobuf,
// File or Pipe.
func (Algorithm) Channels() []algorithms.ChannelSpec {
	return algorithms.TrainChannels("validation", "test")
}

// parseWeightMult reads positive_example_weight_mult: "balanced", "auto" or
// a positive float.
func parseWeightMult(s string) (kind string, f float64, ok bool) {
	t := strings.TrimSpace(s)
	switch strings.ToLower(t) {
	case "balanced":
		return "balanced", 0, true
	case "auto":
		return "auto", 0, true
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f <= 0 {
		return "", 0, false
	}
	return "", f, true
}

// check holds the rules across hyperparameters.
func check(v hyper.Values) error {
	pt := v.String("predictor_type")
	if pt == Multiclass {
		if !v.Has("num_classes") {
			return hyper.Errorf("num_classes", "", "hyperparameter \"num_classes\" is required when predictor_type is %q: expected an integer from 3 to 1000000", Multiclass)
		}
		if n := v.Int("num_classes"); n < 3 || n > 1_000_000 {
			return hyper.Errorf("num_classes", v.Raw("num_classes"),
				"hyperparameter \"num_classes\" = %q is out of range: expected an integer from 3 to 1000000", v.Raw("num_classes"))
		}
	}
	loss := v.String("loss")
	allowed := map[string][]string{Binary: binaryLosses, Multiclass: multiclassLosses, Regressor: regressionLosses}[pt]
	ok := false
	for _, l := range allowed {
		ok = ok || l == loss
	}
	if !ok {
		return hyper.Errorf("loss", loss, "hyperparameter \"loss\" = %q is invalid for predictor_type %q: expected one of %s",
			loss, pt, `"`+strings.Join(allowed, `", "`)+`"`)
	}
	for _, name := range []string{"positive_example_weight_mult", "positive_example_weight"} {
		if !v.Has(name) {
			continue
		}
		if _, _, ok := parseWeightMult(v.String(name)); !ok {
			return hyper.Errorf(name, v.String(name), "hyperparameter %q = %q is invalid: expected \"balanced\", \"auto\" or a positive float", name, v.String(name))
		}
	}
	// unbias_label without a bias is ignored: the guide says the label is
	// shifted "only for regression if use_bias is true".
	if !v.Bool("use_bias") && !v.IsAuto("unbias_data") && v.Bool("unbias_data") {
		return hyper.Errorf("unbias_data", "true", "hyperparameter \"unbias_data\" = \"true\" needs use_bias = \"true\": a shift of the data is only undone by a bias term")
	}
	// lr_scheduler_minimum_lr above learning_rate is no error (the guide
	// knows no such rule, and a tuning job over learning_rate with a fixed
	// minimum would lose trials to it): the step keeps learning_rate, never
	// raising it to the minimum (update).
	return nil
}

// What "auto" resolves to. SageMaker does not document these values; see
// docs/algorithms/linear-learner.md.
const (
	autoNumModels          = 32 // binary and regression
	autoMulticlassOutputs  = 64 // multiclass: num_models = max(1, 64 / num_classes), at most 32
	autoCalibrationSamples = 10_000
	autoBeta1              = 0.9
	autoBeta2              = 0.999
	autoMomentum           = 0.9
	autoBiasLRMult         = 10 // a real artifact's fc0_bias carries __lr_mult__ "10.0" (docs/DECISIONS.md)
	autoBiasWDMult         = 0
	autoLRFactor           = 0.9 // per lr_scheduler_step updates
	autoMinLR              = 1e-5
)

// autoLearningRate is the base learning rate per optimizer (on normalised
// data).
func autoLearningRate(opt string) float64 {
	switch opt {
	case "sgd":
		return 0.1
	case "rmsprop":
		return 0.01
	}
	return 0.01 // adam
}

// Params are the resolved hyperparameters.
type Params struct {
	FeatureDim    int
	PredictorType string
	NumClasses    int // 2 for binary, 1 for regression
	TopK          int
	BalanceClass  bool

	Optimizer          string
	LearningRate       float64
	LRAuto             bool
	Beta1, Beta2       float64
	Momentum           float64
	BiasLRMult         float64
	BiasWDMult         float64
	WD, L1             float64
	WDAuto, L1Auto     bool
	UseLRScheduler     bool
	LRSchedulerStep    int // 0: auto (the updates of one epoch)
	LRSchedulerFactor  float64
	LRSchedulerMinimum float64

	Loss          string
	Margin        float64
	Quantile      float64
	Insensitivity float64
	HuberDelta    float64

	Criterion         string // canonical: f1 -> f_beta, cross_entropy_loss -> loss_function
	CriterionGiven    bool
	TargetRecall      float64
	TargetPrecision   float64
	FBeta             float64
	CriterionBeta     float64 // the beta that criterion f_beta selects by: 1 for "f1", else f_beta
	PosWeightKind     string  // "", "balanced" or "auto"
	PosWeight         float64
	NumModels         int
	NumCalibration    int
	Epochs            int
	MiniBatchSize     int
	Patience          int
	Tolerance         float64
	InitMethod        string
	InitScale         float64
	InitSigma         float64
	InitBias          float64
	UseBias           bool
	NormalizeData     bool
	NormalizeLabel    bool
	UnbiasData        string // "auto", "true", "false"
	UnbiasLabel       string
	NumPointForScaler int

	// TuningObjective is the objective metric of the automatic model
	// tuning job that launched this one (_tuning_objective_metric), "" when
	// none did.
	TuningObjective string
}

// outputs is how many outputs a model has: num_classes for multiclass,
// else 1.
func (p Params) outputs() int {
	if p.PredictorType == Multiclass {
		return p.NumClasses
	}
	return 1
}

func boolOrAuto(v hyper.Values, name string) string {
	if v.IsAuto(name) {
		return "auto"
	}
	return strconv.FormatBool(v.Bool(name))
}

// ParamsFrom resolves validated hyperparameters, "auto" included.
func ParamsFrom(v hyper.Values) Params {
	p := Params{
		FeatureDim:        v.Int("feature_dim"),
		PredictorType:     v.String("predictor_type"),
		TopK:              v.Int("accuracy_top_k"),
		BalanceClass:      v.Bool("balance_multiclass_weights"),
		Optimizer:         v.String("optimizer"),
		LearningRate:      v.Float("learning_rate"),
		LRAuto:            v.IsAuto("learning_rate"),
		Beta1:             v.Float("beta_1"),
		Beta2:             v.Float("beta_2"),
		Momentum:          v.Float("momentum"),
		BiasLRMult:        v.Float("bias_lr_mult"),
		BiasWDMult:        v.Float("bias_wd_mult"),
		WD:                v.Float("wd"),
		L1:                v.Float("l1"),
		WDAuto:            v.IsAuto("wd"),
		L1Auto:            v.IsAuto("l1"),
		UseLRScheduler:    v.Bool("use_lr_scheduler"),
		LRSchedulerStep:   v.Int("lr_scheduler_step"),
		LRSchedulerFactor: v.Float("lr_scheduler_factor"),
		Loss:              v.String("loss"),
		Margin:            v.Float("margin"),
		Quantile:          v.Float("quantile"),
		Insensitivity:     v.Float("loss_insensitivity"),
		HuberDelta:        v.Float("huber_delta"),
		Criterion:         v.String("binary_classifier_model_selection_criteria"),
		TargetRecall:      v.Float("target_recall"),
		TargetPrecision:   v.Float("target_precision"),
		FBeta:             v.Float("f_beta"),
		CriterionBeta:     v.Float("f_beta"),
		NumModels:         v.Int("num_models"),
		NumCalibration:    v.Int("num_calibration_samples"),
		Epochs:            v.Int("epochs"),
		MiniBatchSize:     v.Int("mini_batch_size"),
		Patience:          v.Int("early_stopping_patience"),
		Tolerance:         v.Float("early_stopping_tolerance"),
		InitMethod:        v.String("init_method"),
		InitScale:         v.Float("init_scale"),
		InitSigma:         v.Float("init_sigma"),
		InitBias:          v.Float("init_bias"),
		UseBias:           v.Bool("use_bias"),
		UnbiasData:        boolOrAuto(v, "unbias_data"),
		UnbiasLabel:       boolOrAuto(v, "unbias_label"),
		NumPointForScaler: v.Int("num_point_for_scaler"),
	}
	// The criterion has no schema default so that an explicit choice can be
	// told apart: early stopping watches it only when given.
	p.CriterionGiven = v.Has("binary_classifier_model_selection_criteria")
	if !p.CriterionGiven {
		p.Criterion = "accuracy"
	}
	switch p.PredictorType {
	case Multiclass:
		p.NumClasses = v.Int("num_classes")
	case Binary:
		p.NumClasses = 2
	default:
		p.NumClasses = 1
	}
	if p.Optimizer == "auto" {
		p.Optimizer = "adam"
	}
	if p.LRAuto {
		p.LearningRate = autoLearningRate(p.Optimizer)
	}
	if v.IsAuto("beta_1") {
		p.Beta1 = autoBeta1
	}
	if v.IsAuto("beta_2") {
		p.Beta2 = autoBeta2
	}
	if v.IsAuto("momentum") {
		p.Momentum = autoMomentum
		if p.Optimizer != "sgd" {
			p.Momentum = 0
		}
	}
	if v.IsAuto("bias_lr_mult") {
		p.BiasLRMult = autoBiasLRMult
	}
	if v.IsAuto("bias_wd_mult") {
		p.BiasWDMult = autoBiasWDMult
	}
	if v.IsAuto("lr_scheduler_factor") {
		p.LRSchedulerFactor = autoLRFactor
	}
	if v.IsAuto("lr_scheduler_minimum_lr") {
		p.LRSchedulerMinimum = math.Min(autoMinLR, p.LearningRate)
	} else {
		p.LRSchedulerMinimum = v.Float("lr_scheduler_minimum_lr")
	}
	if p.Loss == "auto" {
		p.Loss = map[string]string{Binary: "logistic", Multiclass: "softmax_loss", Regressor: "squared_loss"}[p.PredictorType]
	}
	switch p.Criterion {
	case "f1":
		// F1 for selection and calibration; the reported binary_f_beta
		// keeps the user's f_beta.
		p.Criterion, p.CriterionBeta = "f_beta", 1
	case "cross_entropy_loss":
		p.Criterion = "loss_function"
	}
	if v.IsAuto("num_models") {
		p.NumModels = autoNumModels
		if p.PredictorType == Multiclass {
			p.NumModels = max(1, min(autoNumModels, autoMulticlassOutputs/p.NumClasses))
		}
	}
	// Under automatic model tuning the internal tuning is turned off, as
	// the guide says: one model, whatever num_models says.
	if obj, ok := v.Injected("_tuning_objective_metric"); ok {
		p.TuningObjective, p.NumModels = obj, 1
	}
	if v.IsAuto("num_calibration_samples") {
		p.NumCalibration = autoCalibrationSamples
	}
	// The guide's spelling wins when both are given: it is the rarer one,
	// so its presence is deliberate.
	w := v.String("positive_example_weight_mult")
	if v.Has("positive_example_weight") {
		w = v.String("positive_example_weight")
	}
	p.PosWeightKind, p.PosWeight, _ = parseWeightMult(w)
	// normalize_data: auto and true both normalise.
	p.NormalizeData = v.IsAuto("normalize_data") || v.Bool("normalize_data")
	// normalize_label: auto normalises for regression only; true is ignored
	// for classification, as the guide says.
	p.NormalizeLabel = p.PredictorType == Regressor && (v.IsAuto("normalize_label") || v.Bool("normalize_label"))
	return p
}
