// Package pca is SageMaker's principal component analysis: a streaming pass
// over the train channel that keeps a summary whose size does not depend on
// the number of rows, then a small dense eigenproblem.
//
//   - regular mode accumulates the d×d scatter matrix Σ xᵢᵀxᵢ (float64) and
//     the column sums, then takes an exact symmetric eigendecomposition of
//     the (centred) covariance;
//   - randomized mode keeps a d×ℓ sketch Z = C·Q₀ of the covariance C, with
//     ℓ = num_components + extra_components and Q₀ an orthonormal basis
//     found by subspace iteration on the first rows of the stream, and takes
//     the eigendecomposition of the Nyström approximation Z (Q₀ᵀZ)⁺ Zᵀ
//     (a small SVD of a d×ℓ matrix).
//
// The model is SageMaker's MXNet NDArray dict: `s` (num_components) the
// singular values of the (centred) data matrix, `v` (feature_dim,
// num_components) the principal directions as columns, and `mean`
// (1, feature_dim), all float32, components in ascending order of singular
// value as SageMaker writes them (the largest is the last). A row's
// projection is (x − mean)·v.
package pca

import (
	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/algorithms/hyper"
)

// Algorithm is PCA. The zero value is ready to use.
type Algorithm struct{}

var _ algorithms.Algorithm = Algorithm{}

// Name is the image name.
func (Algorithm) Name() string { return "pca" }

// defaultMiniBatchSize is the SDK's PCA.DEFAULT_MINI_BATCH_SIZE; the guide
// calls mini_batch_size required but the SDK always supplies it.
const defaultMiniBatchSize = "500"

var schema = &hyper.Schema{
	Params: []hyper.Param{
		{Name: "feature_dim", Kind: hyper.Int, Required: true, Min: hyper.Bound(1), Doc: "a positive integer"},
		{Name: "num_components", Kind: hyper.Int, Required: true, Min: hyper.Bound(1), Doc: "a positive integer"},
		{Name: "mini_batch_size", Kind: hyper.Int, Default: defaultMiniBatchSize, Min: hyper.Bound(1), Doc: "a positive integer"},
		{Name: "algorithm_mode", Kind: hyper.String, Default: "regular", Enum: []string{"regular", "randomized"}, Doc: "regular or randomized"},
		{Name: "extra_components", Kind: hyper.Int, Default: "-1", Min: hyper.Bound(-1), Doc: "a non-negative integer or -1"},
		{Name: "subtract_mean", Kind: hyper.Bool, Default: "true", Doc: "true or false"},
	},
	Check: func(v hyper.Values) error {
		k, d := v.Int("num_components"), v.Int("feature_dim")
		if k > d {
			return hyper.Errorf("num_components", v.Raw("num_components"),
				"hyperparameter \"num_components\" = %q is out of range: expected at most feature_dim (%d)", v.Raw("num_components"), d)
		}
		return nil
	},
}

// Schema returns the six documented hyperparameters with their defaults.
func (Algorithm) Schema() *hyper.Schema { return schema }

// Channels: train (required) and test (scored by the final model), CSV or
// RecordIO-protobuf, File or Pipe.
func (Algorithm) Channels() []algorithms.ChannelSpec { return algorithms.TrainChannels("test") }

// Params are the resolved hyperparameters.
type Params struct {
	FeatureDim    int
	NumComponents int
	MiniBatchSize int
	Mode          string // "regular" or "randomized"
	// ExtraComponents is resolved: -1 became max(10, NumComponents).
	ExtraComponents int
	SubtractMean    bool
}

// ParamsFrom resolves validated hyperparameters.
func ParamsFrom(v hyper.Values) Params {
	p := Params{
		FeatureDim:      v.Int("feature_dim"),
		NumComponents:   v.Int("num_components"),
		MiniBatchSize:   v.Int("mini_batch_size"),
		Mode:            v.String("algorithm_mode"),
		ExtraComponents: v.Int("extra_components"),
		SubtractMean:    v.Bool("subtract_mean"),
	}
	if p.ExtraComponents == -1 {
		p.ExtraComponents = max(10, p.NumComponents)
	}
	return p
}

// SketchWidth is ℓ = num_components + extra_components, at most
// feature_dim: the number of columns randomized mode keeps.
func (p Params) SketchWidth() int { return min(p.NumComponents+p.ExtraComponents, p.FeatureDim) }

// Sketches reports whether training keeps randomized mode's sketch: at
// most feature_dim/4 columns. A wider sketch costs per row (4·ℓ·d flops)
// more than the d×d scatter matrix (d²), and its orthonormalisations become
// SVDs of near-square matrices (BenchmarkTrainManyComponents, d=1,000:
// k=1,000 took 28.5 s as a sketch against 1.7 s as the scatter,
// docs/algorithms/pca.md), so randomized mode then takes regular mode's
// exact computation instead.
func (p Params) Sketches() bool { return p.Mode == "randomized" && 4*p.SketchWidth() <= p.FeatureDim }
