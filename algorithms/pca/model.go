package pca

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"gonum.org/v1/gonum/mat"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/compute"
	"github.com/sagebrush-ml/sagebrush/data"
	"github.com/sagebrush-ml/sagebrush/mxnet"
)

// Model is a fitted PCA: mean (d), v (d×k) and s (k), components in
// SageMaker's order (ascending singular value: the largest is the last).
// It is read-only and safe for concurrent use.
type Model struct {
	d, k    int
	mean    []float32      // d; zeros when subtract_mean was false
	v       compute.Matrix // d×k
	s       []float32      // k
	host    string         // names the artifact: model_<host>
	scratch sync.Pool      // *[]float32 for Predict

	// For CSR rows, once: mean·v and ‖mean‖², in float64.
	sparseOnce sync.Once
	meanV      []float64
	meanSq     float64
}

var _ algorithms.Model = (*Model)(nil)

// newModel builds the model from the directions (d×k) and singular values
// in descending order, as the solvers return them: it normalises the
// signs and stores the components in ascending order.
func newModel(v *mat.Dense, s, mean []float64, center bool, host string) *Model {
	normalizeSigns(v)
	d, k := v.Dims()
	m := &Model{d: d, k: k, mean: make([]float32, d), v: compute.NewMatrix(d, k), s: make([]float32, k), host: host}
	if m.host == "" {
		m.host = "algo-1"
	}
	for c := 0; c < k; c++ {
		src := k - 1 - c
		m.s[c] = float32(s[src])
		for i := 0; i < d; i++ {
			m.v.Data[i*k+c] = float32(v.At(i, src))
		}
	}
	if center {
		for i, x := range mean {
			m.mean[i] = float32(x)
		}
	}
	return m
}

// FeatureDim is the number of features of a row.
func (m *Model) FeatureDim() int { return m.d }

// NumComponents is the length of a projection.
func (m *Model) NumComponents() int { return m.k }

// Mean returns the 1×d mean (shared, do not modify).
func (m *Model) Mean() []float32 { return m.mean }

// V returns the d×k components, one per column, ascending singular value
// (shared, do not modify).
func (m *Model) V() compute.Matrix { return m.v }

// S returns the k singular values, ascending (shared, do not modify).
func (m *Model) S() []float32 { return m.s }

// Save writes model_<host>: an MXNet NDArray dict of float32 arrays `s`
// (k), `v` (d, k) and `mean` (1, d), in the order SageMaker's PCA writes
// them.
func (m *Model) Save(dir string) error {
	f := &mxnet.File{
		Names: []string{"s", "v", "mean"},
		Arrays: []*mxnet.NDArray{
			mxnet.NewFloat32(m.s, m.k),
			mxnet.NewFloat32(m.v.Data, m.d, m.k),
			mxnet.NewFloat32(m.mean, 1, m.d),
		},
	}
	return mxnet.WriteFile(filepath.Join(dir, "model_"+m.host), f)
}

// Load reads the model SageMaker's PCA or ours wrote: model_algo-1, or
// else the first model_* file in dir. `v` and `mean` are required; `s` may
// be missing (it does not enter the projection). Any dtype MXNet saves is
// accepted and converted to float32.
func (Algorithm) Load(dir string) (algorithms.Model, error) {
	path, err := algorithms.ModelFile(dir, "")
	if err != nil {
		return nil, fmt.Errorf("pca: %w", err)
	}
	f, err := mxnet.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pca: reading %s: %w", path, err)
	}
	return fromFile(path, f)
}

// fromFile builds the model of the NDArray file read from path.
func fromFile(path string, f *mxnet.File) (*Model, error) {
	if f.Names == nil {
		return nil, fmt.Errorf("pca: %s holds a list of %d arrays, want a dict with v, mean and s", path, len(f.Arrays))
	}
	v, ok := f.Get("v")
	if !ok || len(v.Shape) != 2 || v.Shape[0] < 1 || v.Shape[1] < 1 {
		return nil, fmt.Errorf("pca: %s has no (feature_dim, num_components) array named v", path)
	}
	d, k := v.Shape[0], v.Shape[1]
	mean, ok := f.Get("mean")
	if !ok || mean.Size() != d {
		return nil, fmt.Errorf("pca: %s has no mean of %d values to go with v of shape %v", path, d, v.Shape)
	}
	m := &Model{d: d, k: k, host: strings.TrimPrefix(filepath.Base(path), "model_"),
		mean: append([]float32(nil), mean.AsFloat32()...),
		v:    compute.MatrixOf(d, k, append([]float32(nil), v.AsFloat32()...)),
		s:    make([]float32, k)}
	if s, ok := f.Get("s"); ok {
		if s.Size() != k {
			return nil, fmt.Errorf("pca: %s: s holds %d values, want %d (the columns of v)", path, s.Size(), k)
		}
		copy(m.s, s.AsFloat32())
	}
	return m, nil
}

// project returns the projections (x − mean)·v of the rows of b (Rows×k,
// row-major) and, when sq is not nil, writes each row's ‖x − mean‖² into
// it (len Rows). Dense rows are centred in scratch (grown as needed, and
// returned) and multiplied in one GEMM; CSR rows go over their stored
// entries, never made dense, as x·v − mean·v.
func (m *Model) project(b *data.Batch, scratch []float32, sq []float64) (proj, out []float32) {
	proj = make([]float32, b.Rows*m.k)
	if b.Sparse() {
		m.sparseOnce.Do(func() {
			m.meanV = make([]float64, m.k)
			for j, mu := range m.mean {
				for c, w := range m.v.Row(j) {
					m.meanV[c] += float64(mu) * float64(w)
				}
				m.meanSq += float64(mu) * float64(mu)
			}
		})
		acc := make([]float64, m.k)
		for i := 0; i < b.Rows; i++ {
			for c, mv := range m.meanV {
				acc[c] = -mv
			}
			s := m.meanSq
			for q := b.Indptr[i]; q < b.Indptr[i+1]; q++ {
				v, j := float64(b.Values[q]), int(b.Indices[q])
				for c, w := range m.v.Row(j) {
					acc[c] += v * float64(w)
				}
				mu := float64(m.mean[j])
				s += (v-mu)*(v-mu) - mu*mu
			}
			for c, a := range acc {
				proj[i*m.k+c] = float32(a)
			}
			if sq != nil {
				sq[i] = max(s, 0)
			}
		}
		return proj, scratch
	}
	x := b.DenseTo(scratch)
	for i := 0; i < b.Rows; i++ {
		row := x[i*m.d : (i+1)*m.d]
		var s float64
		for j, mu := range m.mean {
			row[j] -= mu
			s += float64(row[j]) * float64(row[j])
		}
		if sq != nil {
			sq[i] = s
		}
	}
	compute.Current().Gemm(false, false, 1, compute.MatrixOf(b.Rows, m.d, x), m.v, 0, compute.MatrixOf(b.Rows, m.k, proj))
	return proj, x
}

// Predict answers each row's projection (x − mean)·v: num_components
// values, in the order of the model's columns.
func (m *Model) Predict(ctx context.Context, b *data.Batch, _ algorithms.PredictOptions) (*data.Predictions, error) {
	if b.Cols != m.d {
		return nil, algorithms.Errorf("request rows have %d features; the model's feature_dim is %d", b.Cols, m.d)
	}
	sp, _ := m.scratch.Get().(*[]float32)
	if sp == nil {
		sp = new([]float32)
	}
	var proj []float32
	proj, *sp = m.project(b, *sp, nil)
	m.scratch.Put(sp)
	return &data.Predictions{Rows: b.Rows, Envelope: "projections", Outputs: []data.Output{
		{Name: "projection", Kind: data.Float, Width: m.k, Values: proj},
	}}, nil
}
