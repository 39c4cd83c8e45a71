package kmeans

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/algorithms/algorithmstest"
	"github.com/sagebrush-ml/sagebrush/compute"
	"github.com/sagebrush-ml/sagebrush/data"
)

// sparseBlobs draws n rows around each of 5 centers of 40 features, a
// center 10 on its own 8 features and 0 elsewhere, with noise (sd 1) on
// those 8 only: rows of 8 nonzeros in 40.
func sparseBlobs(n int, seed uint64) [][]float32 {
	rng := rand.New(rand.NewPCG(seed, 5))
	var rows [][]float32
	for c := range 5 {
		for range n {
			row := make([]float32, 40)
			for j := 8 * c; j < 8*c+8; j++ {
				row[j] = 10 + float32(rng.NormFloat64())
			}
			rows = append(rows, row)
		}
	}
	rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	return rows
}

// TestSparseSameAsDense trains on the same rows given dense and as CSR
// batches: the CSR path's distances over the stored entries (nearestSparse,
// the init's sqDistTo, Model.assign's sqDistSparse64) give the dense path's
// centers, test metrics and predictions, to float32 rounding.
func TestSparseSameAsDense(t *testing.T) {
	rows, test := sparseBlobs(300, 1), sparseBlobs(50, 2)
	for _, tc := range []struct{ name, init, halfLife string }{
		{"random", "random", "0"},
		{"kmeans++", "kmeans++", "0"},
		// Counts decay 2⁻¹⁰ a batch: each step scales a CSR center's column
		// by about 10⁻³, so columns fold their scale in (minScale).
		{"short half life", "kmeans++", "20"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hp := map[string]any{"feature_dim": "40", "k": "5", "mini_batch_size": "200", "epochs": "3",
				"init_method": tc.init, "half_life_time_size": tc.halfLife}
			train := func(sparse bool) (*Model, *fakeMetrics) {
				j, m := job(t, hp, map[string]algorithms.Channel{
					"train": &memChannel{rows: rows, d: 40, sparse: sparse}, "test": &memChannel{rows: test, d: 40, sparse: sparse}})
				model, err := Algorithm{}.Train(context.Background(), j)
				if err != nil {
					t.Fatal(err)
				}
				return model.(*Model), m
			}
			md, metd := train(false)
			ms, mets := train(true)
			for i, v := range md.centers.Data {
				if w := ms.centers.Data[i]; math.Abs(float64(v-w)) > 1e-3 {
					t.Fatalf("center value %d: %v from dense rows, %v from CSR rows", i, v, w)
				}
			}
			// Dense and CSR batches in turn: each switch moves the centers
			// between their rows and the CSR step's scaled columns. Starting
			// with CSR, the centers begin as columns and the first dense
			// batch makes their rows from nothing (settle).
			for _, csrFirst := range []bool{false, true} {
				j, _ := job(t, hp, map[string]algorithms.Channel{"train": &memChannel{rows: rows, d: 40, mixed: true, csrFirst: csrFirst}})
				mm, err := Algorithm{}.Train(context.Background(), j)
				if err != nil {
					t.Fatal(err)
				}
				for i, v := range md.centers.Data {
					if w := mm.(*Model).centers.Data[i]; math.Abs(float64(v-w)) > 1e-3 {
						t.Fatalf("center value %d: %v from dense rows, %v from dense and CSR batches in turn (CSR first %v)", i, v, w, csrFirst)
					}
				}
			}
			if a, b := metd.scores["test:msd"], mets.scores["test:msd"]; math.Abs(a-b) > 1e-5*a {
				t.Errorf("test msd %v from dense rows, %v from CSR rows", a, b)
			}
			dense := &data.Batch{Rows: len(test), Cols: 40}
			for _, r := range test {
				dense.Dense = append(dense.Dense, r...)
			}
			pd, err := ms.Predict(context.Background(), dense, algorithms.PredictOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ps, err := ms.Predict(context.Background(), algorithmstest.CSR(40, test), algorithms.PredictOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for i := range test {
				cd, cs := pd.Outputs[0].Values[i], ps.Outputs[0].Values[i]
				dd, ds := pd.Outputs[1].Values[i], ps.Outputs[1].Values[i]
				if cd != cs || math.Abs(float64(dd-ds)) > 1e-5*float64(dd) {
					t.Fatalf("row %d: cluster %v at %v from a dense request, %v at %v from a CSR one", i, cd, dd, cs, ds)
				}
			}
		})
	}
}

// TestSparseWide clusters CSR rows of 200,000 features (five topics of
// ten features each, three of them stored a row, and two noise features
// anywhere): each topic's rows share a cluster, and training allocates
// about one copy of the 50 centers of 200,000 features (the transposed
// columns CSR steps update, 38 MiB; 44 measured), not dense mini-batches
// (2,725 MiB and 27 s before CSR batches were kept as they are), float64
// sums for every center (478 MiB before CSR steps updated the stored
// features alone), a copy for the local Lloyd step when every candidate
// has mass (126 MiB before) nor their rows beside the columns (84 MiB
// before the local Lloyd step read the columns).
func TestSparseWide(t *testing.T) {
	c := algorithmstest.Topics(3000, 200_000)
	j, _ := job(t, map[string]any{"feature_dim": "200000", "k": "5", "mini_batch_size": "1000", "init_method": "kmeans++"},
		map[string]algorithms.Channel{"train": c})
	var model algorithms.Model
	var err error
	mb := algorithmstest.AllocatedMiB(func() { model, err = Algorithm{}.Train(context.Background(), j) })
	if err != nil {
		t.Fatal(err)
	}
	if mb > 60 {
		t.Errorf("training allocated %d MiB; one copy of the centers takes 38", mb)
	}
	r, _ := c.Open(context.Background(), 0)
	all, _ := r.Read(len(c.Keys))
	p, err := model.Predict(context.Background(), all, algorithms.PredictOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cluster := map[float32]float32{}
	for i, cl := range p.Outputs[0].Values {
		topic := c.Labels[i]
		if want, ok := cluster[topic]; ok && cl != want {
			t.Fatalf("row %d of topic %v in cluster %v, the topic's first row in %v", i, topic, cl, want)
		}
		cluster[topic] = cl
	}
}

// TestSparsePredictConcurrent sends CSR rows to a fresh model from several
// goroutines at once: the first makes the transposed centers, the others
// wait for them (run under -race in make race).
func TestSparsePredictConcurrent(t *testing.T) {
	rows := sparseBlobs(50, 3)
	centers := compute.NewMatrix(5, 40)
	for k := range 5 {
		copy(centers.Row(k), rows[k*7])
	}
	want, err := newModel(centers, 40, "").Predict(context.Background(), algorithmstest.CSR(40, rows), algorithms.PredictOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := newModel(centers, 40, "")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := m.Predict(context.Background(), algorithmstest.CSR(40, rows), algorithms.PredictOptions{})
			if err == nil && !reflect.DeepEqual(got, want) {
				err = fmt.Errorf("predictions differ from a lone request's")
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestSortEntries: the radix sort orders entries by key and, among equal
// keys, by seq, as a stable sort by key of entries in seq order does;
// across the pdqsort threshold and keys of one to three passes.
func TestSortEntries(t *testing.T) {
	src := rand.New(rand.NewPCG(7, 7))
	var tmp []entry
	for _, tc := range []struct{ n, keys int }{{10, 5}, {1023, 100}, {1024, 100}, {5000, 2000}, {60000, 10_000_000}, {3000, 1 << 40}} {
		es := make([]entry, tc.n)
		for i := range es {
			es[i] = entry{key: src.IntN(tc.keys), seq: int32(i), v: float32(i)}
		}
		want := slices.Clone(es)
		slices.SortStableFunc(want, func(a, b entry) int { return cmp.Compare(a.key, b.key) })
		var got []entry
		got, tmp = sortEntries(es, tmp)
		if !slices.Equal(got, want) {
			t.Fatalf("%d entries of keys below %d: not in (key, seq) order", tc.n, tc.keys)
		}
	}
}
