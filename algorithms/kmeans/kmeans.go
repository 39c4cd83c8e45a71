// Package kmeans is SageMaker's k-means: web-scale mini-batch k-means over
// k × extra_center_factor centers, then a local Lloyd reduction of those
// centers to k (weighted by the points each represents), best of
// local_lloyd_num_trials runs. The model is k centers, saved as an MXNet
// NDArray list holding one (k, feature_dim) float32 array, as SageMaker's own
// k-means writes it.
package kmeans

import (
	"slices"
	"strings"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/algorithms/hyper"
)

// What "auto" resolves to. SageMaker does not document it; the issue fixes
// extra_center_factor auto at 10, and ten Lloyd trials over K weighted
// centers cost milliseconds.
const (
	autoExtraCenterFactor = 10
	autoLloydTrials       = 10
)

// Algorithm is k-means. The zero value is ready to use.
type Algorithm struct{}

var _ algorithms.Algorithm = Algorithm{}

// Name is the image name.
func (Algorithm) Name() string { return "kmeans" }

var schema = &hyper.Schema{Params: []hyper.Param{
	{Name: "feature_dim", Kind: hyper.Int, Required: true, Min: hyper.Bound(1), Doc: "a positive integer"},
	{Name: "k", Kind: hyper.Int, Required: true, Min: hyper.Bound(1), Doc: "a positive integer"},
	{Name: "epochs", Kind: hyper.Int, Default: "1", Min: hyper.Bound(1), Doc: "a positive integer"},
	{Name: "eval_metrics", Kind: hyper.List, Default: `["msd"]`, Enum: []string{"msd", "ssd"}, Doc: `a JSON list of "msd" and "ssd"`},
	{Name: "extra_center_factor", Kind: hyper.Int, Default: "auto", Auto: true, Min: hyper.Bound(1), Doc: "a positive integer or auto"},
	{Name: "half_life_time_size", Kind: hyper.Int, Default: "0", Min: hyper.Bound(0), Doc: "a non-negative integer"},
	{Name: "init_method", Kind: hyper.String, Default: "random", Enum: []string{"random", "kmeans++"}, Doc: "random or kmeans++"},
	{Name: "local_lloyd_init_method", Kind: hyper.String, Default: "kmeans++", Enum: []string{"random", "kmeans++"}, Doc: "random or kmeans++"},
	{Name: "local_lloyd_max_iter", Kind: hyper.Int, Default: "300", Min: hyper.Bound(1), Doc: "a positive integer"},
	{Name: "local_lloyd_num_trials", Kind: hyper.Int, Default: "auto", Auto: true, Min: hyper.Bound(1), Doc: "a positive integer or auto"},
	{Name: "local_lloyd_tol", Kind: hyper.Float, Default: "0.0001", Min: hyper.Bound(0), Max: hyper.Bound(1), Doc: "a float in [0, 1]"},
	{Name: "mini_batch_size", Kind: hyper.Int, Default: "5000", Min: hyper.Bound(1), Doc: "a positive integer"},
}}

// Schema returns the 12 documented hyperparameters with their defaults.
func (Algorithm) Schema() *hyper.Schema { return schema }

// Channels: train (required) and test, CSV or RecordIO-protobuf, File or Pipe.
func (Algorithm) Channels() []algorithms.ChannelSpec { return algorithms.TrainChannels("test") }

// Params are the resolved hyperparameters.
type Params struct {
	FeatureDim        int
	K                 int
	Epochs            int
	EvalMetrics       []string
	ExtraCenterFactor int
	HalfLifeTimeSize  int
	InitMethod        string // "random" or "kmeans++"
	LloydInitMethod   string
	LloydMaxIter      int
	LloydNumTrials    int
	LloydTol          float64
	MiniBatchSize     int
}

// ParamsFrom resolves validated hyperparameters, "auto" included.
func ParamsFrom(v hyper.Values) Params {
	p := Params{
		FeatureDim:        v.Int("feature_dim"),
		K:                 v.Int("k"),
		Epochs:            v.Int("epochs"),
		EvalMetrics:       v.List("eval_metrics"),
		ExtraCenterFactor: v.Int("extra_center_factor"),
		HalfLifeTimeSize:  v.Int("half_life_time_size"),
		InitMethod:        v.String("init_method"),
		LloydInitMethod:   v.String("local_lloyd_init_method"),
		LloydMaxIter:      v.Int("local_lloyd_max_iter"),
		LloydNumTrials:    v.Int("local_lloyd_num_trials"),
		LloydTol:          v.Float("local_lloyd_tol"),
		MiniBatchSize:     v.Int("mini_batch_size"),
	}
	if v.IsAuto("extra_center_factor") {
		p.ExtraCenterFactor = autoExtraCenterFactor
	}
	if v.IsAuto("local_lloyd_num_trials") {
		p.LloydNumTrials = autoLloydTrials
	}
	// A tuning job's objective is reported even where eval_metrics leaves
	// it out: test:ssd with the default ["msd"] would leave every trial
	// without an objective value.
	if obj, ok := v.Injected("_tuning_objective_metric"); ok {
		if name, ok := strings.CutPrefix(obj, "test:"); ok && (name == "msd" || name == "ssd") && !slices.Contains(p.EvalMetrics, name) {
			p.EvalMetrics = append(slices.Clip(p.EvalMetrics), name)
		}
	}
	return p
}
