package pca

import (
	"context"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/algorithms/algorithmstest"
	"github.com/sagebrush-ml/sagebrush/compute"
	_ "github.com/sagebrush-ml/sagebrush/compute/cpu"
	"github.com/sagebrush-ml/sagebrush/data"
	"github.com/sagebrush-ml/sagebrush/mxnet"
)

// memChannel is an in-memory channel over dense rows; sparse makes it
// yield CSR batches (zeros dropped) of the same rows.
type memChannel struct {
	rows   [][]float32
	d      int
	sparse bool
	mixed  bool // every other batch CSR, the first CSR
}

func (c *memChannel) Name() string { return "mem" }
func (c *memChannel) Open(ctx context.Context, epoch int) (data.BatchReadCloser, error) {
	return &memReader{c: c}, nil
}

type memReader struct {
	c   *memChannel
	pos int
	n   int // batches read
	b   data.Batch
}

func (r *memReader) Read(n int) (*data.Batch, error) {
	if r.pos >= len(r.c.rows) {
		return nil, io.EOF
	}
	end := min(r.pos+n, len(r.c.rows))
	r.b = data.Batch{Rows: end - r.pos, Cols: r.c.d}
	r.n++
	if r.c.sparse || r.c.mixed && r.n%2 == 1 {
		r.b.Indptr = []int{0}
		for _, row := range r.c.rows[r.pos:end] {
			for j, v := range row {
				if v != 0 {
					r.b.Indices = append(r.b.Indices, int32(j))
					r.b.Values = append(r.b.Values, v)
				}
			}
			r.b.Indptr = append(r.b.Indptr, len(r.b.Values))
		}
	} else {
		for _, row := range r.c.rows[r.pos:end] {
			r.b.Dense = append(r.b.Dense, row...)
		}
	}
	r.pos = end
	return &r.b, nil
}
func (r *memReader) Close() error { return nil }

type fakeMetrics struct{ logs []string }

func (m *fakeMetrics) Logf(format string, args ...any)       { m.logs = append(m.logs, format) }
func (m *fakeMetrics) Batch(rows int)                        {}
func (m *fakeMetrics) EpochEnd(int, map[string]float64)      {}
func (m *fakeMetrics) Score(channel, name string, v float64) {}

func train(t *testing.T, hp map[string]any, ch algorithms.Channel) *Model {
	t.Helper()
	v, err := Algorithm{}.Schema().Parse(hp)
	if err != nil {
		t.Fatal(err)
	}
	job := &algorithms.Job{Hyper: v, Channels: map[string]algorithms.Channel{"train": ch}, Metrics: &fakeMetrics{},
		Compute: compute.Current(), Cluster: algorithms.Cluster{CurrentHost: "algo-1", Hosts: []string{"algo-1"}}}
	m, err := Algorithm{}.Train(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	return m.(*Model)
}

// knownSpectrum returns n rows X = U·diag(sigma)·Rᵀ + mean, where U (n×d)
// has orthonormal columns orthogonal to the all-ones vector and R (d×d)
// is orthogonal: the centred data's singular values are exactly sigma and
// its right singular vectors the columns of R.
func knownSpectrum(n int, sigma []float64, mean []float64, seed uint64) ([][]float32, *mat.Dense) {
	d := len(sigma)
	rng := rand.New(rand.NewPCG(seed, 7))
	u := mat.NewDense(n, d, nil)
	for j := 0; j < d; j++ {
		var s float64
		for i := 0; i < n; i++ {
			v := rng.NormFloat64()
			u.Set(i, j, v)
			s += v
		}
		for i := 0; i < n; i++ {
			u.Set(i, j, u.At(i, j)-s/float64(n))
		}
	}
	u = orthonormalize(u)
	r := mat.NewDense(d, d, nil)
	for i := range d * d {
		r.RawMatrix().Data[i] = rng.NormFloat64()
	}
	r = orthonormalize(r)
	var x mat.Dense
	x.Mul(u, mat.NewDiagDense(d, sigma))
	var a mat.Dense
	a.Mul(&x, r.T())
	rows := make([][]float32, n)
	for i := range rows {
		rows[i] = make([]float32, d)
		for j := range rows[i] {
			rows[i][j] = float32(a.At(i, j) + mean[j])
		}
	}
	return rows, r
}

// checkComponents compares the model (ascending order) with the top k of
// the known spectrum: singular values to relative tol, directions by
// |cos| ≥ 1 − tol, and the sign rule.
func checkComponents(t *testing.T, m *Model, sigma []float64, r *mat.Dense, tol float64) {
	t.Helper()
	k, d := m.k, m.d
	for c := 0; c < k; c++ {
		top := k - 1 - c // model column c holds the (top)-th largest
		if got, want := float64(m.s[c]), sigma[top]; math.Abs(got-want) > tol*want {
			t.Errorf("s[%d] = %v, want %v (tol %g)", c, got, want, tol)
		}
		var dotp float64
		best, at := -1.0, 0
		for i := 0; i < d; i++ {
			v := float64(m.v.Data[i*k+c])
			dotp += v * r.At(i, top)
			if math.Abs(v) > best {
				best, at = math.Abs(v), i
			}
		}
		if math.Abs(dotp) < 1-tol {
			t.Errorf("component %d: |cos| with the true direction %v, want ≥ %v", c, math.Abs(dotp), 1-tol)
		}
		if m.v.Data[at*k+c] < 0 {
			t.Errorf("component %d: largest-magnitude entry %v is negative; signs must be normalised", c, m.v.Data[at*k+c])
		}
	}
}

func TestRegularKnownSpectrum(t *testing.T) {
	sigma := []float64{50, 30, 20, 10, 5, 2, 1, 0.5}
	mean := []float64{3, -2, 100, 0, 1, 1, 7, -50}
	rows, r := knownSpectrum(1000, sigma, mean, 1)
	m := train(t, map[string]any{"feature_dim": "8", "num_components": "4", "mini_batch_size": "64"}, &memChannel{rows: rows, d: 8})
	// Float32 data (values up to ~100): 1e-4 relative.
	checkComponents(t, m, sigma, r, 1e-4)
	for j, want := range mean {
		if math.Abs(float64(m.mean[j])-want) > 1e-4*math.Max(1, math.Abs(want)) {
			t.Errorf("mean[%d] = %v, want %v", j, m.mean[j], want)
		}
	}
}

// decaying is knownSpectrum's 2000 rows of d features with singular values
// 100·0.6^i and means i mod 7.
func decaying(d int) ([][]float32, []float64, *mat.Dense) {
	sigma := make([]float64, d)
	mean := make([]float64, d)
	for i := range sigma {
		sigma[i] = 100 * math.Pow(0.6, float64(i))
		mean[i] = float64(i % 7)
	}
	rows, r := knownSpectrum(2000, sigma, mean, 2)
	return rows, sigma, r
}

func TestRandomizedKnownSpectrum(t *testing.T) {
	// d=60, a decaying spectrum, k=4 with ℓ = 4 + 10 < d.
	d := 60
	rows, sigma, r := decaying(d)
	m := train(t, map[string]any{"feature_dim": "60", "num_components": "4", "extra_components": "10",
		"algorithm_mode": "randomized", "mini_batch_size": "100"}, &memChannel{rows: rows, d: d})
	checkComponents(t, m, sigma, r, 1e-3)
}

func TestSparseEqualsDense(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	d := 30
	rows := make([][]float32, 500)
	for i := range rows {
		rows[i] = make([]float32, d)
		for j := range rows[i] {
			if rng.Float64() < 0.1 {
				rows[i][j] = float32(rng.NormFloat64() + float64(j%3))
			}
		}
	}
	for _, mode := range []string{"regular", "randomized"} {
		for _, center := range []string{"true", "false"} {
			hp := map[string]any{"feature_dim": "30", "num_components": "5", "extra_components": "2", "algorithm_mode": mode, "subtract_mean": center, "mini_batch_size": "50"}
			dense := train(t, hp, &memChannel{rows: rows, d: d})
			sparse := train(t, hp, &memChannel{rows: rows, d: d, sparse: true})
			for i := range dense.s {
				if math.Abs(float64(dense.s[i]-sparse.s[i])) > 1e-4*float64(dense.s[len(dense.s)-1]) {
					t.Errorf("%s subtract_mean=%s: s[%d] dense %v, sparse %v", mode, center, i, dense.s[i], sparse.s[i])
				}
			}
			for i := range dense.v.Data {
				if math.Abs(float64(dense.v.Data[i]-sparse.v.Data[i])) > 1e-3 {
					t.Fatalf("%s subtract_mean=%s: v[%d] dense %v, sparse %v", mode, center, i, dense.v.Data[i], sparse.v.Data[i])
				}
			}
			for i := range dense.mean {
				if math.Abs(float64(dense.mean[i]-sparse.mean[i])) > 1e-5 {
					t.Errorf("%s subtract_mean=%s: mean[%d] dense %v, sparse %v", mode, center, i, dense.mean[i], sparse.mean[i])
				}
			}
		}
	}
}

// TestSparseSketchEqualsDense: randomized mode on rows of 1% stored values
// (400 features, rank about 5), given dense and as CSR batches: the CSR
// path (sketch.addSparse: the products over the stored entries, the shift
// as rank-one corrections) gives the dense path's components, singular
// values and mean, with and without centring. At TestSparseEqualsDense's
// 10% the batches go the dense way.
func TestSparseSketchEqualsDense(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	const d = 400
	rows := make([][]float32, 3000)
	for i := range rows {
		rows[i] = make([]float32, d)
		tp := rng.IntN(5)
		for range 4 {
			rows[i][20*tp+rng.IntN(20)] = float32(3 + rng.NormFloat64())
		}
	}
	for _, center := range []string{"true", "false"} {
		hp := map[string]any{"feature_dim": "400", "num_components": "5", "algorithm_mode": "randomized", "subtract_mean": center, "mini_batch_size": "500"}
		dense := train(t, hp, &memChannel{rows: rows, d: d})
		sparse := train(t, hp, &memChannel{rows: rows, d: d, sparse: true})
		// In batches of 40, CSR and dense in turn: the first rows, which
		// seed Q₀, come both ways, so the CSR ones buffered first are made
		// dense when the first dense batch arrives (densifyWarm).
		hp40 := maps.Clone(hp)
		hp40["mini_batch_size"] = "40"
		dense40 := train(t, hp40, &memChannel{rows: rows, d: d})
		mixed40 := train(t, hp40, &memChannel{rows: rows, d: d, mixed: true})
		for i := range dense40.v.Data {
			if math.Abs(float64(dense40.v.Data[i]-mixed40.v.Data[i])) > 1e-3 {
				t.Fatalf("subtract_mean=%s: v[%d] dense %v, dense and CSR batches in turn %v", center, i, dense40.v.Data[i], mixed40.v.Data[i])
			}
		}
		for i := range dense.s {
			if math.Abs(float64(dense.s[i]-sparse.s[i])) > 1e-4*float64(dense.s[len(dense.s)-1]) {
				t.Errorf("subtract_mean=%s: s[%d] dense %v, sparse %v", center, i, dense.s[i], sparse.s[i])
			}
		}
		for i := range dense.v.Data {
			if math.Abs(float64(dense.v.Data[i]-sparse.v.Data[i])) > 1e-3 {
				t.Fatalf("subtract_mean=%s: v[%d] dense %v, sparse %v", center, i, dense.v.Data[i], sparse.v.Data[i])
			}
		}
		for i := range dense.mean {
			if math.Abs(float64(dense.mean[i]-sparse.mean[i])) > 1e-5 {
				t.Errorf("subtract_mean=%s: mean[%d] dense %v, sparse %v", center, i, dense.mean[i], sparse.mean[i])
			}
		}
		// The total variance (the explained variance ratio's denominator,
		// in the log) too.
		v, err := Algorithm{}.Schema().Parse(hp)
		if err != nil {
			t.Fatal(err)
		}
		totals := make([]float64, 2)
		for k, sp := range []bool{false, true} {
			sk := newSketch(compute.Current(), ParamsFrom(v), rand.New(rand.NewPCG(1, 1)))
			for lo := 0; lo < len(rows); lo += 500 {
				b := &data.Batch{Rows: 500, Cols: d}
				for _, r := range rows[lo : lo+500] {
					b.Dense = append(b.Dense, r...)
				}
				if sp {
					b = algorithmstest.CSR(d, rows[lo:lo+500])
				}
				if sp {
					if ok, err := sk.addSparse(b); err != nil || !ok {
						t.Fatalf("addSparse did not take a batch of 1%% stored values: %v", err)
					}
				} else if err := sk.add(b.Dense, b.Rows); err != nil {
					t.Fatal(err)
				}
			}
			if _, _, _, totals[k], err = sk.solve(5); err != nil {
				t.Fatal(err)
			}
		}
		if math.Abs(totals[0]-totals[1]) > 1e-6*totals[0] {
			t.Errorf("subtract_mean=%s: total variance %v from dense rows, %v from CSR rows", center, totals[0], totals[1])
		}
		// Requests and test scoring: projections and ‖x − mean‖² of CSR
		// rows over their stored entries, as of dense rows.
		db := &data.Batch{Rows: 200, Cols: d}
		for _, r := range rows[:200] {
			db.Dense = append(db.Dense, r...)
		}
		sqd, sqs := make([]float64, 200), make([]float64, 200)
		pd, _ := sparse.project(db, nil, sqd)
		ps, _ := sparse.project(algorithmstest.CSR(d, rows[:200]), nil, sqs)
		for i, v := range pd {
			if math.Abs(float64(v-ps[i])) > 1e-4*(1+math.Abs(float64(v))) {
				t.Fatalf("subtract_mean=%s: projection value %d %v from a dense row, %v from a CSR row", center, i, v, ps[i])
			}
		}
		for i, v := range sqd {
			if math.Abs(v-sqs[i]) > 1e-5*(1+v) {
				t.Fatalf("subtract_mean=%s: row %d's ‖x − mean‖² %v dense, %v CSR", center, i, v, sqs[i])
			}
		}
	}
}

// TestUncentred: subtract_mean=false decomposes XᵀX itself (its singular
// values are those of X, not of X − mean) and stores a zero mean.
func TestUncentred(t *testing.T) {
	sigma := []float64{40, 20, 10, 5, 1}
	mean := []float64{10, 10, 0, 0, 5}
	rows, _ := knownSpectrum(400, sigma, mean, 4)
	m := train(t, map[string]any{"feature_dim": "5", "num_components": "3", "subtract_mean": "false"}, &memChannel{rows: rows, d: 5})
	// Expected: eigen of XᵀX in float64 (gonum EigenSym).
	x := mat.NewDense(len(rows), 5, nil)
	for i, r := range rows {
		for j, v := range r {
			x.Set(i, j, float64(v))
		}
	}
	var xtx mat.SymDense
	xtx.SymOuterK(1, x.T())
	var e mat.EigenSym
	e.Factorize(&xtx, true)
	vals := e.Values(nil) // ascending
	for c := 0; c < 3; c++ {
		want := math.Sqrt(vals[5-3+c])
		if got := float64(m.s[c]); math.Abs(got-want) > 1e-4*want {
			t.Errorf("s[%d] = %v, want %v (√eigenvalue of XᵀX)", c, got, want)
		}
	}
	for j, v := range m.mean {
		if v != 0 {
			t.Errorf("mean[%d] = %v, want 0 with subtract_mean=false", j, v)
		}
	}
	if m.s[2] < 40.5 { // the uncentred top value exceeds the centred one
		t.Errorf("top singular value %v: looks centred", m.s[2])
	}
}

// TestTridiagonalEigen: the inverse-iteration path agrees with the full
// EigenSym at d=300.
func TestTridiagonalEigen(t *testing.T) {
	d, k := 300, 20
	rng := rand.New(rand.NewPCG(5, 5))
	a := mat.NewDense(2*d, d, nil)
	for i := range a.RawMatrix().Data {
		a.RawMatrix().Data[i] = rng.NormFloat64() * float64(1+i%7)
	}
	var s mat.Dense
	s.Mul(a.T(), a)
	c := s.RawMatrix().Data
	vf, vecf := topEigenFull(c, d, k)
	vt, vect, ok := topEigenTridiagonal(c, d, k, rand.New(rand.NewPCG(1, 1)))
	if !ok {
		t.Fatal("tridiagonal path refused a well-conditioned matrix")
	}
	for j := 0; j < k; j++ {
		if math.Abs(vf[j]-vt[j]) > 1e-9*vf[0] {
			t.Errorf("eigenvalue %d: full %v, tridiagonal %v", j, vf[j], vt[j])
		}
		var dp float64
		for i := 0; i < d; i++ {
			dp += vecf.At(i, j) * vect.At(i, j)
		}
		if math.Abs(math.Abs(dp)-1) > 1e-8 {
			t.Errorf("eigenvector %d: |cos| %v, want 1", j, math.Abs(dp))
		}
	}
}

// TestTridiagonalEigenClusters: the inverse-iteration path at k = d on a
// spectrum of clusters (40 zeros, 50 ones, 50 values within 1e-9 of 2,
// then spread) gives eigenvalues equal to EigenSym's and vectors that are
// orthonormal and eigenvectors of c, where repeated values leave them no
// unique direction to compare.
func TestTridiagonalEigenClusters(t *testing.T) {
	d := 300
	rng := rand.New(rand.NewPCG(6, 6))
	lam := make([]float64, d)
	for i := range lam {
		switch {
		case i < 40:
			lam[i] = 0
		case i < 90:
			lam[i] = 1
		case i < 140:
			lam[i] = 2 + 1e-9*rng.Float64()
		default:
			lam[i] = 3 + 100*rng.Float64()
		}
	}
	g := mat.NewDense(d, d, nil)
	for i := range g.RawMatrix().Data {
		g.RawMatrix().Data[i] = rng.NormFloat64()
	}
	var qr mat.QR
	qr.Factorize(g)
	var r mat.Dense
	qr.QTo(&r)
	var rl, cm mat.Dense
	rl.Apply(func(_, j int, v float64) float64 { return v * lam[j] }, &r)
	cm.Mul(&rl, r.T())
	c := cm.RawMatrix().Data
	for i := 0; i < d; i++ { // exactly symmetric
		for j := i + 1; j < d; j++ {
			c[j*d+i] = c[i*d+j]
		}
	}
	vf, _ := topEigenFull(c, d, d)
	vt, v, ok := topEigenTridiagonal(c, d, d, rand.New(rand.NewPCG(1, 1)))
	if !ok {
		t.Fatal("tridiagonal path refused the matrix")
	}
	for j := range vf {
		if math.Abs(vf[j]-vt[j]) > 1e-9*vf[0] {
			t.Errorf("eigenvalue %d: full %v, tridiagonal %v", j, vf[j], vt[j])
		}
	}
	var vtv mat.Dense
	vtv.Mul(v.T(), v)
	for i := 0; i < d; i++ {
		for j := 0; j < d; j++ {
			want := 0.0
			if i == j {
				want = 1
			}
			if math.Abs(vtv.At(i, j)-want) > 1e-10 {
				t.Fatalf("VᵀV[%d,%d] = %v, want %v", i, j, vtv.At(i, j), want)
			}
		}
	}
}

func TestArtifactAndPredict(t *testing.T) {
	sigma := []float64{9, 4, 1, 0.5}
	rows, _ := knownSpectrum(200, sigma, []float64{1, 2, 3, 4}, 6)
	m := train(t, map[string]any{"feature_dim": "4", "num_components": "2"}, &memChannel{rows: rows, d: 4})
	dir := t.TempDir()
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	f, err := mxnet.ReadFile(filepath.Join(dir, "model_algo-1"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(f.Names, ",") != "s,v,mean" {
		t.Fatalf("names %q, want s, v, mean", f.Names)
	}
	for i, want := range [][]int{{2}, {4, 2}, {1, 4}} {
		a := f.Arrays[i]
		if a.DType != mxnet.Float32 || len(a.Shape) != len(want) || a.Shape[0] != want[0] || a.Shape[len(want)-1] != want[len(want)-1] {
			t.Errorf("%s: %v %v, want float32 %v", f.Names[i], a.DType, a.Shape, want)
		}
	}
	if s := f.Arrays[0].Float32; !(s[0] < s[1]) {
		t.Errorf("s = %v, want ascending (SageMaker's order: the largest last)", s)
	}
	loaded, err := Algorithm{}.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	b := &data.Batch{Rows: 2, Cols: 4, Dense: append(append([]float32{}, rows[0]...), rows[1]...)}
	for _, model := range []algorithms.Model{m, loaded} {
		p, err := model.Predict(context.Background(), b, algorithms.PredictOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Envelope != "projections" || len(p.Outputs) != 1 || p.Outputs[0].Name != "projection" || p.Outputs[0].Width != 2 || p.Outputs[0].Kind != data.Float {
			t.Fatalf("predictions %+v, want envelope projections with one projection output of width 2", p)
		}
		for i := 0; i < 2; i++ {
			for c := 0; c < 2; c++ {
				var want float64
				for j := 0; j < 4; j++ {
					want += (float64(rows[i][j]) - float64(m.mean[j])) * float64(m.v.Data[j*2+c])
				}
				if got := float64(p.Outputs[0].Values[i*2+c]); math.Abs(got-want) > 1e-4 {
					t.Errorf("row %d projection[%d] = %v, want %v", i, c, got, want)
				}
			}
		}
	}
	if _, err := loaded.Predict(context.Background(), &data.Batch{Rows: 1, Cols: 3, Dense: []float32{1, 2, 3}}, algorithms.PredictOptions{}); !algorithms.ClientError(err) {
		t.Errorf("3 features for a 4-feature model: %v, want a client error", err)
	}
	os.Remove(filepath.Join(dir, "model_algo-1"))
	if _, err := (Algorithm{}).Load(dir); err == nil {
		t.Error("Load of an empty dir succeeded")
	}
}

func TestHyperparameters(t *testing.T) {
	v, err := Algorithm{}.Schema().Parse(map[string]any{"feature_dim": "100", "num_components": "20"})
	if err != nil {
		t.Fatal(err)
	}
	p := ParamsFrom(v)
	if p.MiniBatchSize != 500 || p.Mode != "regular" || !p.SubtractMean || p.ExtraComponents != 20 || p.SketchWidth() != 40 {
		t.Errorf("defaults resolved to %+v, want mini_batch_size 500, regular, subtract_mean, extra 20 (= max(10, 20))", p)
	}
	v, _ = Algorithm{}.Schema().Parse(map[string]any{"feature_dim": "100", "num_components": "3"})
	if p := ParamsFrom(v); p.ExtraComponents != 10 {
		t.Errorf("extra_components -1 with num_components 3 resolved to %d, want 10", p.ExtraComponents)
	}
	v, _ = Algorithm{}.Schema().Parse(map[string]any{"feature_dim": "12", "num_components": "10", "extra_components": "5"})
	if p := ParamsFrom(v); p.SketchWidth() != 12 {
		t.Errorf("sketch width %d, want feature_dim 12", p.SketchWidth())
	}
	bad := []struct {
		name string
		hp   map[string]any
		want string
	}{
		{"num_components above feature_dim", map[string]any{"feature_dim": "5", "num_components": "6"}, "num_components"},
		{"num_components zero", map[string]any{"feature_dim": "5", "num_components": "0"}, "num_components"},
		{"extra_components -2", map[string]any{"feature_dim": "5", "num_components": "2", "extra_components": "-2"}, "extra_components"},
		{"bad mode", map[string]any{"feature_dim": "5", "num_components": "2", "algorithm_mode": "fast"}, "algorithm_mode"},
		{"bad bool", map[string]any{"feature_dim": "5", "num_components": "2", "subtract_mean": "yes"}, "subtract_mean"},
		{"missing feature_dim", map[string]any{"num_components": "2"}, "feature_dim"},
		{"unknown name", map[string]any{"feature_dim": "5", "num_components": "2", "num_component": "2"}, "num_component"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Algorithm{}.Schema().Parse(tc.hp)
			if err == nil || !algorithms.ClientError(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want a client error naming %q", err, tc.want)
			}
		})
	}
}

func TestEmptyTrain(t *testing.T) {
	v, _ := Algorithm{}.Schema().Parse(map[string]any{"feature_dim": "3", "num_components": "1"})
	for _, mode := range []string{"regular", "randomized"} {
		job := &algorithms.Job{Hyper: v.With("algorithm_mode", mode), Channels: map[string]algorithms.Channel{"train": &memChannel{d: 3}}, Metrics: &fakeMetrics{}}
		if _, err := (Algorithm{}).Train(context.Background(), job); !algorithms.ClientError(err) {
			t.Errorf("%s: empty train channel: %v, want a client error", mode, err)
		}
	}
}

// TestFewRows: fewer rows than components still gives num_components
// orthonormal directions (zero singular values for the missing rank).
func TestFewRows(t *testing.T) {
	// 20 features, so that a sketch of 4 + 1 columns is kept (Sketches).
	const d = 20
	rows := [][]float32{make([]float32, d), make([]float32, d)}
	for j := 0; j < d; j++ {
		rows[0][j], rows[1][j] = float32(j%5+1), float32(j%3)
	}
	for _, mode := range []string{"regular", "randomized"} {
		m := train(t, map[string]any{"feature_dim": "20", "num_components": "4", "extra_components": "1", "algorithm_mode": mode}, &memChannel{rows: rows, d: d})
		var vm mat.Dense
		vm.Mul(mat.NewDense(d, 4, toF64(m.v.Data)).T(), mat.NewDense(d, 4, toF64(m.v.Data)))
		for i := 0; i < 4; i++ {
			for j := 0; j < 4; j++ {
				want := 0.0
				if i == j {
					want = 1
				}
				if math.Abs(vm.At(i, j)-want) > 1e-5 {
					t.Fatalf("%s: VᵀV[%d,%d] = %v, want %v", mode, i, j, vm.At(i, j), want)
				}
			}
		}
		if m.s[3] <= 0 || float64(m.s[0]) > 1e-3*float64(m.s[3]) {
			t.Errorf("%s: s = %v, want one positive value (2 centred rows have rank 1) and zeros", mode, m.s)
		}
	}
}

func toF64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// TestRandomizedWideSketch: randomized mode whose sketch would hold more
// than a quarter of feature_dim takes the exact regular computation (the
// same model, bit for bit) and says so in the log; a quarter exactly and it
// sketches.
func TestRandomizedWideSketch(t *testing.T) {
	d := 40
	rows, _, _ := decaying(d)
	run := func(hp map[string]any) (*Model, []string) {
		v, err := Algorithm{}.Schema().Parse(hp)
		if err != nil {
			t.Fatal(err)
		}
		metrics := &fakeMetrics{}
		job := &algorithms.Job{Hyper: v, Channels: map[string]algorithms.Channel{"train": &memChannel{rows: rows, d: d}}, Metrics: metrics,
			Compute: compute.Current(), Cluster: algorithms.Cluster{CurrentHost: "algo-1", Hosts: []string{"algo-1"}}}
		m, err := Algorithm{}.Train(context.Background(), job)
		if err != nil {
			t.Fatal(err)
		}
		return m.(*Model), metrics.logs
	}
	logged := func(logs []string, prefix string) bool {
		return slices.ContainsFunc(logs, func(l string) bool { return strings.HasPrefix(l, prefix) })
	}
	regular, _ := run(map[string]any{"feature_dim": "40", "num_components": "4", "algorithm_mode": "regular"})
	wide, logs := run(map[string]any{"feature_dim": "40", "num_components": "4", "extra_components": "7", "algorithm_mode": "randomized"})
	if !logged(logs, "randomized mode: a sketch of %d columns") {
		t.Errorf("ℓ = 11 of 40 features: the log does not say the exact computation is used: %q", logs)
	}
	if !slices.Equal(wide.s, regular.s) || !slices.Equal(wide.v.Data, regular.v.Data) || !slices.Equal(wide.mean, regular.mean) {
		t.Errorf("ℓ = 11 of 40 features: the model differs from regular mode's")
	}
	_, logs = run(map[string]any{"feature_dim": "40", "num_components": "4", "extra_components": "6", "algorithm_mode": "randomized"})
	if !logged(logs, "randomized mode: sketch of %d columns") {
		t.Errorf("ℓ = 10 of 40 features: no sketch in the log: %q", logs)
	}
}

// addLog is a summary that records what stream hands it, in order: the
// rows of each dense add (first value of its first row too), and -rows
// for each CSR batch it takes.
type addLog struct {
	adds  []int
	first []float32
}

func (s *addLog) add(x []float32, rows int) error {
	s.adds, s.first = append(s.adds, rows), append(s.first, x[0])
	return nil
}
func (s *addLog) addSparse(b *data.Batch) (bool, error) {
	s.adds, s.first = append(s.adds, -b.Rows), append(s.first, 0)
	return true, nil
}
func (s *addLog) rows() int64 { return 0 }
func (s *addLog) solve(int) (*mat.Dense, []float64, []float64, float64, error) {
	return nil, nil, nil, 0, nil
}
func (s *addLog) part() []byte                     { return nil }
func (s *addLog) merged([][]byte) (summary, error) { return s, nil }

// TestSmallBatchesGathered: dense mini-batches smaller than minAddRows are
// gathered before the summary takes them (each add ends in a pass over
// its d×d accumulators), in the order they came, with CSR batches kept in
// their place; larger ones go through as they are. The model is the one
// larger batches give, up to rounding.
func TestSmallBatchesGathered(t *testing.T) {
	const d = 60
	least := minAddRows(d)
	rows, sigma, r := decaying(d)
	for i := range rows {
		rows[i][0] = float32(i) // which row an add starts with
	}
	v, err := Algorithm{}.Schema().Parse(map[string]any{"feature_dim": "60", "num_components": "4"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mb    int
		mixed bool
		want  []int // rows of each add; negative: a CSR batch
	}{
		{7, false, []int{259, 259, 259, 259, 259, 259, 259, 187}},
		{300, false, []int{300, 300, 300, 300, 300, 300, 200}},
		{100, true, []int{-100, 100, -100, 100, -100, 100, -100, 100, -100, 100, -100, 100, -100, 100, -100, 100, -100, 100, -100, 100}},
	} {
		p := ParamsFrom(v)
		p.MiniBatchSize = tc.mb
		var log addLog
		if err := stream(context.Background(), &memChannel{rows: rows, d: d, mixed: tc.mixed}, p, &log, &fakeMetrics{}); err != nil {
			t.Fatal(err)
		}
		if least != 256 {
			t.Fatalf("minAddRows(%d) = %d; the cases assume 256", d, least)
		}
		if !slices.Equal(log.adds, tc.want) {
			t.Errorf("mini_batch_size %d (mixed %v): adds of %v rows, want %v", tc.mb, tc.mixed, log.adds, tc.want)
		}
		next := 0 // the row each dense add must start with
		for i, n := range log.adds {
			if n > 0 && log.first[i] != float32(next) {
				t.Errorf("mini_batch_size %d: add %d starts at row %v, want %d", tc.mb, i, log.first[i], next)
			}
			next += max(n, -n)
		}
	}
	rows, sigma, r = decaying(d)
	for _, mode := range []string{"regular", "randomized"} {
		for _, mb := range []string{"1", "7", "1000"} {
			m := train(t, map[string]any{"feature_dim": "60", "num_components": "4", "extra_components": "10",
				"algorithm_mode": mode, "mini_batch_size": mb}, &memChannel{rows: rows, d: d})
			checkComponents(t, m, sigma, r, 1e-3)
		}
	}
}
