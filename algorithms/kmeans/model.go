package kmeans

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"sync"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/compute"
	"github.com/sagebrush-ml/sagebrush/data"
	"github.com/sagebrush-ml/sagebrush/mxnet"
)

// Model is k cluster centers. It is read-only and safe for concurrent use.
type Model struct {
	centers compute.Matrix // k × d
	norms   []float32      // squared norms of the centers
	host    string         // names the artifact: model_<host>
	scratch sync.Pool      // *[]float32 distance scratch for Predict

	// For CSR rows, made at the first: a model that only ever answers
	// dense rows does not hold its centers twice.
	sparseOnce sync.Once
	ct         []float32 // the centers transposed (d × k)
	cc         []float64 // squared norms of the centers in float64
}

var _ algorithms.Model = (*Model)(nil)

func newModel(centers compute.Matrix, featureDim int, host string) *Model {
	if host == "" {
		host = "algo-1"
	}
	m := &Model{centers: centers, host: host, norms: make([]float32, centers.Rows)}
	compute.Current().RowSquaredNorms(m.norms, centers)
	return m
}

// sparse makes what CSR rows need, once.
func (m *Model) sparse() {
	m.sparseOnce.Do(func() {
		m.ct = transpose(m.centers, nil)
		m.cc = make([]float64, m.centers.Rows)
		for k := range m.cc {
			m.cc[k] = sqNorm64(m.centers.Row(k))
		}
	})
}

// Centers returns the k × feature_dim centers (shared, do not modify).
func (m *Model) Centers() compute.Matrix { return m.centers }

// FeatureDim is the number of features of a row.
func (m *Model) FeatureDim() int { return m.centers.Cols }

// Save writes model_<host>: an MXNet NDArray list holding the (k, d) float32
// centers, the layout SageMaker's k-means writes (mx.nd.load gives a list of
// one array).
func (m *Model) Save(dir string) error {
	a := mxnet.NewFloat32(m.centers.Data, m.centers.Rows, m.centers.Cols)
	return mxnet.WriteFile(filepath.Join(dir, "model_"+m.host), &mxnet.File{Arrays: []*mxnet.NDArray{a}})
}

// Load reads the model SageMaker's k-means or ours wrote: model_algo-1, or
// else the first model_* file in dir.
func (Algorithm) Load(dir string) (algorithms.Model, error) {
	path, err := algorithms.ModelFile(dir, "")
	if err != nil {
		return nil, fmt.Errorf("kmeans: %w", err)
	}
	f, err := mxnet.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("kmeans: reading %s: %w", path, err)
	}
	return fromFile(path, f)
}

// fromFile builds the model of the NDArray file read from path.
func fromFile(path string, f *mxnet.File) (*Model, error) {
	if len(f.Arrays) != 1 || len(f.Arrays[0].Shape) != 2 {
		return nil, fmt.Errorf("kmeans: %s must hold one (k, feature_dim) array, found %d arrays", path, len(f.Arrays))
	}
	a := f.Arrays[0]
	k, d := a.Shape[0], a.Shape[1]
	if k < 1 || d < 1 {
		return nil, fmt.Errorf("kmeans: %s holds an empty (%d, %d) centers array", path, k, d)
	}
	host := strings.TrimPrefix(filepath.Base(path), "model_")
	return newModel(compute.MatrixOf(k, d, append([]float32(nil), a.AsFloat32()...)), d, host), nil
}

// Predict answers closest_cluster and distance_to_cluster (the Euclidean
// distance to that center) for each row.
func (m *Model) Predict(ctx context.Context, b *data.Batch, _ algorithms.PredictOptions) (*data.Predictions, error) {
	if b.Cols != m.FeatureDim() {
		return nil, algorithms.Errorf("request rows have %d features; the model's feature_dim is %d", b.Cols, m.FeatureDim())
	}
	idx := make([]int32, b.Rows)
	dist := make([]float64, b.Rows)
	sp, _ := m.scratch.Get().(*[]float32)
	if sp == nil {
		sp = new([]float32)
	}
	*sp = m.assign(idx, dist, b, *sp)
	m.scratch.Put(sp)
	cluster := make([]float32, b.Rows)
	distance := make([]float32, b.Rows)
	for i := range idx {
		cluster[i] = float32(idx[i])
		distance[i] = float32(math.Sqrt(dist[i]))
	}
	return &data.Predictions{Rows: b.Rows, Outputs: []data.Output{
		{Name: "closest_cluster", Kind: data.Float, Values: cluster},
		{Name: "distance_to_cluster", Kind: data.Float, Values: distance},
	}}, nil
}

// assign writes each row's nearest center and its exact squared distance
// (recomputed in float64, free of the GEMM form's cancellation). scratch is
// reused when large enough and returned.
func (m *Model) assign(idx []int32, dist []float64, b *data.Batch, scratch []float32) []float32 {
	n, d, k := b.Rows, m.centers.Cols, m.centers.Rows
	if b.Sparse() {
		// Over the stored entries, never a dense copy (see sparse.go).
		m.sparse()
		scratch = grow(scratch, n)
		nearestSparse(idx, scratch, b, m.ct, m.norms, nil)
		for i := 0; i < n; i++ {
			c := int(idx[i])
			dist[i] = sqDistSparse64(b, i, m.centers.Row(c), m.cc[c])
		}
		return scratch
	}
	need := n + n*k
	if cap(scratch) < need {
		scratch = make([]float32, need)
	}
	scratch = scratch[:need]
	x := compute.MatrixOf(n, d, b.Dense[:n*d])
	approx := scratch[:n]
	compute.NearestL2(compute.Current(), idx, approx, x, m.centers, m.norms, scratch[n:])
	for i := 0; i < n; i++ {
		dist[i] = sqDist64(x.Row(i), m.centers.Row(int(idx[i])))
	}
	return scratch
}
