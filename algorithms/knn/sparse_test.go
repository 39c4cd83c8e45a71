package knn

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/algorithms/algorithmstest"
	"github.com/sagebrush-ml/sagebrush/compute"
	"github.com/sagebrush-ml/sagebrush/data"
)

// csrOf is the rows of x as one CSR batch of their nonzeros.
func csrOf(x compute.Matrix) *data.Batch {
	rows := make([][]float32, x.Rows)
	for i := range rows {
		rows[i] = x.Row(i)
	}
	return algorithmstest.CSR(x.Cols, rows)
}

// TestReductionSparseRows: a CSR row's projection from its stored entries
// (ApplyBatch) is its dense row's (Apply), to float32 rounding: sign sums
// over the stored entries instead of a GEMM; fjlt sums the Walsh-Hadamard
// signs of the stored entries directly for rows of few entries (here those
// of 10% stored), and runs the transform on the others (the rows made
// nearly full below), the same bits as Apply.
func TestReductionSparseRows(t *testing.T) {
	be := compute.Current()
	rng := rand.New(rand.NewPCG(5, 5))
	x := randMatrix(rng, 40, 300)
	for i := range x.Data {
		if i < 20*300 && rng.Float64() < 0.9 { // the first 20 rows 10% stored, the others full
			x.Data[i] = 0
		}
	}
	for _, typ := range []string{"sign", "fjlt"} {
		r := newReduction(typ, reductionSeed, 300, 24)
		want, got := compute.NewMatrix(40, 24), compute.NewMatrix(40, 24)
		r.Apply(be, want, x)
		r.ApplyBatch(be, got, csrOf(x))
		for i, v := range want.Data {
			if typ == "fjlt" && i >= 20*24 && got.Data[i] != v || math.Abs(float64(got.Data[i]-v)) > 1e-5*(1+math.Abs(float64(v))) {
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
// dense requests alike (fjlt's dense rows go through the whole transform
// of 262,144 points, so the dense request is 20 rows).
func TestSparseWideReduction(t *testing.T) {
	for _, tc := range []struct {
		typ string
		d   int
	}{{"sign", 200_000}, {"fjlt", 200_000}} {
		t.Run(tc.typ, func(t *testing.T) {
			c := algorithmstest.Topics(3000, tc.d)
			d := tc.d
			j, _ := job(t, map[string]any{"feature_dim": strconv.Itoa(d), "k": "5", "predictor_type": "classifier", "sample_size": "3000",
				"dimension_reduction_type": tc.typ, "dimension_reduction_target": "32"}, map[string]algorithms.Channel{"train": c})
			var model algorithms.Model
			var err error
			mb := algorithmstest.AllocatedMiB(func() { model, err = Algorithm{}.Train(context.Background(), j) })
			if err != nil {
				t.Fatal(err)
			}
			// sign's matrix is 200,000 × 32 float32: 24 MiB.
			if mb > 150 {
				t.Errorf("training allocated %d MiB; the projection and the sample take at most about 30", mb)
			}
			r, _ := c.Open(context.Background(), 0)
			all, _ := r.Read(200)
			p, err := model.Predict(context.Background(), all, algorithms.PredictOptions{})
			if err != nil {
				t.Fatal(err)
			}
			first := subBatch(all, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19})
			dense := &data.Batch{Rows: first.Rows, Cols: d, Dense: first.DenseTo(nil)}
			pd, err := model.Predict(context.Background(), dense, algorithms.PredictOptions{})
			if err != nil {
				t.Fatal(err)
			}
			wrong := 0
			for i, l := range p.Outputs[0].Values {
				if l != c.Labels[i] {
					wrong++
				}
				if i < first.Rows && pd.Outputs[0].Values[i] != l {
					t.Fatalf("row %d: label %v from a CSR request, %v from a dense one", i, l, pd.Outputs[0].Values[i])
				}
			}
			if wrong > 4 {
				t.Errorf("%d of 200 rows predicted another topic than their own", wrong)
			}
		})
	}
}

// TestSampleProjectsPlacedRows: with a projection, sample projects only
// the rows the reservoir places, as they stream (replacements included);
// the sample is the projection of the sample the reservoir draws from the
// raw rows with the same random stream, from dense and CSR rows alike.
func TestSampleProjectsPlacedRows(t *testing.T) {
	const n, d, size = 5000, 40, 300
	xs, ls := blobs(n, d, 3, 21)
	for i := range xs {
		if i%3 == 0 {
			xs[i] = 0
		}
	}
	for _, typ := range []string{"sign", "fjlt"} {
		for _, sparse := range []bool{false, true} {
			hp := map[string]any{"feature_dim": "40", "k": "3", "predictor_type": "classifier", "sample_size": "300",
				"mini_batch_size": "700", "dimension_reduction_type": typ, "dimension_reduction_target": "8"}
			j, _ := job(t, hp, map[string]algorithms.Channel{"train": &memChannel{x: xs, labels: ls, d: d, sparse: sparse}})
			p := ParamsFrom(j.Hyper)
			meta, err := layout(p)
			if err != nil {
				t.Fatal(err)
			}
			red := meta.DimensionReduction
			got, err := sample(context.Background(), j, p, size, red, compute.Current(), rand.New(rand.NewPCG(5, 6)))
			if err != nil {
				t.Fatal(err)
			}
			raw := NewReservoir(size, d, rand.New(rand.NewPCG(5, 6)))
			for lo := 0; lo < n; lo += 700 {
				hi := min(lo+700, n)
				raw.Offer(&data.Batch{Rows: hi - lo, Cols: d, Dense: xs[lo*d : hi*d], LabelSize: 1, Labels: ls[lo:hi]})
			}
			want := compute.NewMatrix(size, 8)
			red.Apply(compute.Current(), want, compute.MatrixOf(size, d, raw.X))
			if got.Len() != size || !slices.Equal(got.Labels, raw.Labels) || got.Seen != n {
				t.Fatalf("%s sparse=%v: %d rows of %d seen, labels equal %v; want %d of %d, equal", typ, sparse, got.Len(), got.Seen,
					slices.Equal(got.Labels, raw.Labels), size, n)
			}
			for i, v := range want.Data {
				if math.Abs(float64(got.X[i]-v)) > 1e-4*(1+math.Abs(float64(v))) {
					t.Fatalf("%s sparse=%v: sample value %d is %v, the projected raw sample's %v", typ, sparse, i, got.X[i], v)
				}
			}
		}
	}
}

// TestTrainRefusesProjectionBeyondMemory: a sign projection larger than
// the host's memory is a ClientError naming it, before it is built or any
// row is read (100,000,000 features to 1,000: 400 GB).
func TestTrainRefusesProjectionBeyondMemory(t *testing.T) {
	j, _ := job(t, map[string]any{"feature_dim": "100000000", "k": "3", "predictor_type": "classifier", "sample_size": "10",
		"dimension_reduction_type": "sign", "dimension_reduction_target": "1000"}, map[string]algorithms.Channel{"train": &memChannel{d: 100_000_000}})
	_, err := Algorithm{}.Train(context.Background(), j)
	if err == nil || !algorithms.ClientError(err) ||
		!strings.Contains(err.Error(), "dimension_reduction_type sign from feature_dim = 100000000 to 1000 needs at least") {
		t.Fatalf("error %v, want the ClientError of a projection beyond memory", err)
	}
}
