package knn

import (
	"context"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"testing"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/compute"
	"github.com/sagebrush-ml/sagebrush/data"
)

// csrOf is the rows of x (n × d) as one CSR batch of their nonzeros.
func csrOf(x compute.Matrix) *data.Batch {
	b := &data.Batch{Rows: x.Rows, Cols: x.Cols, Indptr: []int{0}}
	for i := range x.Rows {
		for j, v := range x.Row(i) {
			if v != 0 {
				b.Indices = append(b.Indices, int32(j))
				b.Values = append(b.Values, v)
			}
		}
		b.Indptr = append(b.Indptr, len(b.Values))
	}
	return b
}

// TestReductionSparseRows: a CSR row's projection from its stored entries
// (ApplyBatch) is its dense row's (Apply): the same bits for fjlt, whose
// transform input is the same; to float32 rounding for sign, a sum over
// the stored entries instead of a GEMM.
func TestReductionSparseRows(t *testing.T) {
	be := compute.Current()
	rng := rand.New(rand.NewPCG(5, 5))
	x := randMatrix(rng, 40, 300)
	for i := range x.Data {
		if rng.Float64() < 0.9 {
			x.Data[i] = 0
		}
	}
	for _, typ := range []string{"sign", "fjlt"} {
		r := newReduction(typ, reductionSeed, 300, 24)
		want, got := compute.NewMatrix(40, 24), compute.NewMatrix(40, 24)
		r.Apply(be, want, x)
		r.ApplyBatch(be, got, csrOf(x))
		for i, v := range want.Data {
			if typ == "fjlt" && got.Data[i] != v || math.Abs(float64(got.Data[i]-v)) > 1e-5*(1+math.Abs(float64(v))) {
				t.Fatalf("%s: value %d projected from CSR rows %v, from dense rows %v", typ, i, got.Data[i], v)
			}
		}
	}
}

// TestSparseWideReduction trains classifiers on CSR rows of many features
// (five topics of ten features each, three stored a row, and two noise
// features anywhere) with each projection: the sample holds projected
// rows, so training allocates about the projection and a sample of target
// dimensions (the sample alone was 2.4 GB of dense rows at 200,000
// features before), and every row's topic is predicted, from CSR and from
// dense requests alike. fjlt transforms every row densely (its pad's
// O(pad log pad)), so it runs on 16,384 features.
func TestSparseWideReduction(t *testing.T) {
	for _, tc := range []struct {
		typ string
		d   int
	}{{"sign", 200_000}, {"fjlt", 16_384}} {
		t.Run(tc.typ, func(t *testing.T) {
			c := topics(3000, tc.d)
			d := tc.d
			j, _ := job(t, map[string]any{"feature_dim": strconv.Itoa(d), "k": "5", "predictor_type": "classifier", "sample_size": "3000",
				"dimension_reduction_type": tc.typ, "dimension_reduction_target": "32"}, map[string]algorithms.Channel{"train": c})
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			model, err := Algorithm{}.Train(context.Background(), j)
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatal(err)
			}
			// sign's matrix is 200,000 × 32 float32: 24 MiB.
			if mb := (after.TotalAlloc - before.TotalAlloc) >> 20; mb > 150 {
				t.Errorf("training allocated %d MiB; the projection and the sample take at most about 30", mb)
			}
			r, _ := c.Open(context.Background(), 0)
			all, _ := r.Read(200)
			p, err := model.Predict(context.Background(), all, algorithms.PredictOptions{})
			if err != nil {
				t.Fatal(err)
			}
			dense := &data.Batch{Rows: all.Rows, Cols: d, Dense: all.DenseTo(nil)}
			pd, err := model.Predict(context.Background(), dense, algorithms.PredictOptions{})
			if err != nil {
				t.Fatal(err)
			}
			wrong := 0
			for i, l := range p.Outputs[0].Values {
				if l != c.labels[i] {
					wrong++
				}
				if pd.Outputs[0].Values[i] != l {
					t.Fatalf("row %d: label %v from a CSR request, %v from a dense one", i, l, pd.Outputs[0].Values[i])
				}
			}
			if wrong > 4 {
				t.Errorf("%d of 200 rows predicted another topic than their own", wrong)
			}
		})
	}
}

// topics is n labelled CSR rows of d features: one of five topics (the
// label) of ten features each, three of them stored a row, and two noise
// features anywhere.
func topics(n, d int) *csrChannel {
	rng := rand.New(rand.NewPCG(9, 9))
	c := &csrChannel{d: d}
	for i := range n {
		tp := i % 5
		var keys []int32
		for range 3 {
			keys = append(keys, int32(10*tp+rng.IntN(10)))
		}
		for range 2 {
			keys = append(keys, int32(50+rng.IntN(d-50)))
		}
		slices.Sort(keys)
		c.keys, c.labels = append(c.keys, slices.Compact(keys)), append(c.labels, float32(tp))
	}
	return c
}

// csrChannel is an in-memory channel of labelled CSR rows whose stored
// values are all 1.
type csrChannel struct {
	d      int
	keys   [][]int32
	labels []float32
}

func (c *csrChannel) Name() string { return "csr" }
func (c *csrChannel) Open(context.Context, int) (data.BatchReadCloser, error) {
	return &csrReader{c: c}, nil
}

type csrReader struct {
	c   *csrChannel
	pos int
}

func (r *csrReader) Read(n int) (*data.Batch, error) {
	if r.pos >= len(r.c.keys) {
		return nil, io.EOF
	}
	end := min(r.pos+n, len(r.c.keys))
	b := &data.Batch{Rows: end - r.pos, Cols: r.c.d, Indptr: []int{0}, LabelSize: 1, Labels: r.c.labels[r.pos:end]}
	for _, keys := range r.c.keys[r.pos:end] {
		for _, j := range keys {
			b.Indices = append(b.Indices, j)
			b.Values = append(b.Values, 1)
		}
		b.Indptr = append(b.Indptr, len(b.Values))
	}
	r.pos = end
	return b, nil
}

func (r *csrReader) Close() error { return nil }
