// Package knn is SageMaker's k-nearest-neighbors: a uniform sample of the
// training stream (reservoir sampling, bounded memory), an optional random
// projection (sign or fjlt), and a faiss-style index over the sample
// (faiss.Flat, faiss.IVFFlat, faiss.IVFPQ, implemented here in Go on the
// compute kernels). Prediction looks up the k nearest sampled rows and votes
// (classifier) or averages (regressor) their labels.
//
// The model is three files, documented in docs/algorithms/knn.md:
// model_<host> (the index, an MXNet NDArray dict), model_<host>.labels (raw
// little-endian float32) and model_<host>.json (metadata; k and
// predictor_type there may be edited to change inference).
package knn

import (
	"fmt"
	"math"
	"slices"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/algorithms/hyper"
)

// Algorithm is k-NN. The zero value is ready to use.
type Algorithm struct{}

var _ algorithms.Algorithm = Algorithm{}

// Name is the image name.
func (Algorithm) Name() string { return "knn" }

// Index types and metrics, as SageMaker names them.
const (
	IndexFlat    = "faiss.Flat"
	IndexIVFFlat = "faiss.IVFFlat"
	IndexIVFPQ   = "faiss.IVFPQ"
)

// pqMValues are the documented values of faiss_index_pq_m.
var pqMValues = []int{1, 2, 3, 4, 8, 12, 16, 20, 24, 28, 32, 40, 48, 56, 64, 96}

var schema = &hyper.Schema{
	Params: []hyper.Param{
		{Name: "feature_dim", Kind: hyper.Int, Required: true, Min: hyper.Bound(1), Doc: "a positive integer"},
		{Name: "k", Kind: hyper.Int, Required: true, Min: hyper.Bound(1), Doc: "a positive integer"},
		{Name: "predictor_type", Kind: hyper.String, Required: true, Enum: []string{"classifier", "regressor"}, Doc: "classifier or regressor"},
		{Name: "sample_size", Kind: hyper.Int, Required: true, Min: hyper.Bound(1), Doc: "a positive integer"},
		{Name: "dimension_reduction_target", Kind: hyper.Int, Min: hyper.Bound(1), Doc: "a positive integer less than feature_dim"},
		{Name: "dimension_reduction_type", Kind: hyper.String, Enum: []string{"sign", "fjlt"}, Doc: "sign or fjlt"},
		{Name: "faiss_index_ivf_nlists", Kind: hyper.Int, Default: "auto", Auto: true, Min: hyper.Bound(1), Doc: "a positive integer or auto"},
		{Name: "faiss_index_pq_m", Kind: hyper.Int, Min: hyper.Bound(1), Doc: "one of 1, 2, 3, 4, 8, 12, 16, 20, 24, 28, 32, 40, 48, 56, 64, 96"},
		{Name: "index_metric", Kind: hyper.String, Default: "L2", Enum: []string{"L2", "INNER_PRODUCT", "COSINE"}, Doc: "L2, INNER_PRODUCT or COSINE"},
		{Name: "index_type", Kind: hyper.String, Default: IndexFlat, Enum: []string{IndexFlat, IndexIVFFlat, IndexIVFPQ}, Doc: "faiss.Flat, faiss.IVFFlat or faiss.IVFPQ"},
		{Name: "mini_batch_size", Kind: hyper.Int, Default: "5000", Min: hyper.Bound(1), Doc: "a positive integer"},
	},
	Check: check,
}

// check applies the rules across hyperparameters the guide states.
func check(v hyper.Values) error {
	fd := v.Int("feature_dim")
	if v.Has("dimension_reduction_type") && !v.Has("dimension_reduction_target") {
		return hyper.Errorf("dimension_reduction_target", "",
			"hyperparameter \"dimension_reduction_target\" is required when dimension_reduction_type is %q: expected a positive integer less than feature_dim (%d)",
			v.String("dimension_reduction_type"), fd)
	}
	// Without a type the target is ignored: the guide requires it only
	// "when type is specified" (the SDK checks no more).
	if v.Has("dimension_reduction_type") {
		if t := v.Int("dimension_reduction_target"); t >= fd {
			return hyper.Errorf("dimension_reduction_target", v.Raw("dimension_reduction_target"),
				"hyperparameter \"dimension_reduction_target\" = %q is out of range: expected a positive integer less than feature_dim (%d)", v.Raw("dimension_reduction_target"), fd)
		}
	}
	if v.Has("faiss_index_pq_m") && !slices.Contains(pqMValues, v.Int("faiss_index_pq_m")) {
		return hyper.Errorf("faiss_index_pq_m", v.Raw("faiss_index_pq_m"),
			"hyperparameter \"faiss_index_pq_m\" = %q is not allowed: expected one of 1, 2, 3, 4, 8, 12, 16, 20, 24, 28, 32, 40, 48, 56, 64, 96", v.Raw("faiss_index_pq_m"))
	}
	if v.String("index_type") == IndexIVFPQ && v.String("index_metric") != "L2" {
		return hyper.Errorf("index_metric", v.String("index_metric"),
			"hyperparameter \"index_metric\" = %q is not supported with index_type faiss.IVFPQ: expected L2", v.String("index_metric"))
	}
	return nil
}

// Schema returns the 11 documented hyperparameters with their defaults.
func (Algorithm) Schema() *hyper.Schema { return schema }

// Channels: train (required) and test, CSV or RecordIO-protobuf, File or Pipe.
func (Algorithm) Channels() []algorithms.ChannelSpec { return algorithms.TrainChannels("test") }

// Params are the resolved hyperparameters.
type Params struct {
	FeatureDim    int
	K             int
	PredictorType string // "classifier" or "regressor"
	SampleSize    int
	ReductionType string // "", "sign" or "fjlt"
	ReductionDim  int    // 0 without reduction
	NLists        int    // 0: auto, sqrt of the rows sampled
	PQM           int    // 0: chosen from the dimension (see DefaultPQM)
	Metric        string // "L2", "INNER_PRODUCT" or "COSINE"
	IndexType     string
	MiniBatchSize int
}

// ParamsFrom resolves validated hyperparameters.
func ParamsFrom(v hyper.Values) Params {
	p := Params{
		FeatureDim:    v.Int("feature_dim"),
		K:             v.Int("k"),
		PredictorType: v.String("predictor_type"),
		SampleSize:    v.Int("sample_size"),
		NLists:        v.Int("faiss_index_ivf_nlists"),
		Metric:        v.String("index_metric"),
		IndexType:     v.String("index_type"),
		MiniBatchSize: v.Int("mini_batch_size"),
	}
	if v.Has("dimension_reduction_type") {
		p.ReductionType = v.String("dimension_reduction_type")
		p.ReductionDim = v.Int("dimension_reduction_target")
	}
	if v.Has("faiss_index_pq_m") {
		p.PQM = v.Int("faiss_index_pq_m")
	}
	if v.IsAuto("faiss_index_ivf_nlists") {
		p.NLists = 0
	}
	return p
}

// AutoNLists is what faiss_index_ivf_nlists=auto resolves to: the square
// root of the number of rows sampled, rounded, at least 1.
func AutoNLists(rows int) int { return max(1, int(math.Round(math.Sqrt(float64(rows))))) }

// DefaultPQM is faiss_index_pq_m when IVFPQ is asked for without it (the
// guide gives no default): the largest documented value that divides dim
// and leaves sub-vectors of at least 4 dimensions, else 1.
func DefaultPQM(dim int) int {
	best := 1
	for _, m := range pqMValues {
		if dim%m == 0 && dim/m >= 4 {
			best = m
		}
	}
	return best
}

// paddedDim is the index dimension for IVFPQ with m sub-quantizers: dim
// raised to the next multiple of m (SageMaker pads with zeros, or raises
// dimension_reduction_target).
func paddedDim(dim, m int) int { return (dim + m - 1) / m * m }

func errorf(format string, args ...any) error { return fmt.Errorf("knn: "+format, args...) }
