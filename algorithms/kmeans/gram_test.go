package kmeans

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sagebrush-ml/sagebrush/compute"
)

// TestGramLloydSameAsDirect runs the local Lloyd step both ways on the same
// weighted candidates from the same generator: the Gram path must find the
// same clusters, so the same centers and loss up to float32 rounding.
func TestGramLloydSameAsDirect(t *testing.T) {
	be := compute.Current()
	for _, tc := range []struct {
		n, d, k int
		init    string
		dups    int // rows repeat the first dups rows: seeds coincide, clusters empty; -m: every m-th feature zero
	}{
		{60, 40, 6, "random", 5},
		{60, 40, 6, "kmeans++", 5},
		{100, 784, 10, "kmeans++", 0},
		{100, 784, 10, "random", 0},
		{50, 3000, 7, "kmeans++", 0},
		{300, 20, 30, "kmeans++", 0},  // d < n: not what useGram picks, still exact
		{12, 5, 12, "kmeans++", 0},    // as many centers as candidates
		{80, 2000, 8, "kmeans++", -3}, // every third feature zero: not live
	} {
		src := rand.New(rand.NewPCG(uint64(tc.n), uint64(tc.d)))
		x := compute.NewMatrix(tc.n, tc.d)
		// Candidates around k/2 true centers, so some clusters empty and restart.
		for i := 0; i < tc.n; i++ {
			base := float32(i%max(tc.k/2, 1)) * 3
			for f := range x.Row(i) {
				x.Row(i)[f] = base + float32(src.NormFloat64())
			}
		}
		for i := tc.dups; tc.dups > 0 && i < tc.n; i++ {
			copy(x.Row(i), x.Row(i%tc.dups))
		}
		for f := 0; tc.dups < 0 && f < tc.d; f += -tc.dups {
			for i := 0; i < tc.n; i++ {
				x.Row(i)[f] = 0
			}
		}
		w := make([]float64, tc.n)
		for i := range w {
			w[i] = 0.5 + src.Float64()*10
		}
		p := Params{K: tc.k, LloydInitMethod: tc.init, LloydMaxIter: 300, LloydTol: 1e-4, LloydNumTrials: 1}
		want, wantLoss := lloyd(be, x, w, p, rand.New(rand.NewPCG(1, 2)))
		cs, loss := lloydGram(gram(rowCandidates(x)), tc.n, w, p, rand.New(rand.NewPCG(1, 2)))
		got := centersOf(cs, rowCandidates(x))
		if math.Abs(loss-wantLoss) > 1e-4*wantLoss {
			t.Errorf("n=%d d=%d k=%d %s: loss %v, direct %v", tc.n, tc.d, tc.k, tc.init, loss, wantLoss)
		}
		for i, v := range got.Data {
			if math.Abs(float64(v-want.Data[i])) > 1e-4*(1+math.Abs(float64(v))) {
				t.Fatalf("n=%d d=%d k=%d %s: center value %d is %v, direct %v", tc.n, tc.d, tc.k, tc.init, i, v, want.Data[i])
			}
		}
	}
}

// TestGramExact checks gram against float64 dot products, across the column
// blocks and partial sums.
func TestGramExact(t *testing.T) {
	src := rand.New(rand.NewPCG(3, 4))
	for _, d := range []int{1, 511, 512, 513, 4*512 + 7, 9000} {
		x := compute.NewMatrix(9, d)
		for i := range x.Data {
			if i%x.Cols%5 != 3 { // every fifth feature zero: not live
				x.Data[i] = float32(src.NormFloat64())
			}
		}
		g := gram(rowCandidates(x))
		for i := 0; i < x.Rows; i++ {
			for j := 0; j < x.Rows; j++ {
				var want float64
				for f := 0; f < d; f++ {
					want += float64(x.Row(i)[f]) * float64(x.Row(j)[f])
				}
				if math.Abs(g[i*x.Rows+j]-want) > 1e-9*float64(d) {
					t.Fatalf("d=%d: G[%d,%d] = %v, want %v", d, i, j, g[i*x.Rows+j], want)
				}
			}
		}
	}
}

// TestReduceFromColumns: reduce reading the CSR step's scaled columns gives
// the centers it gives from the rows settle would write, bit for bit: with
// every candidate reached, with some never reached (a subset in use), with
// as many in use as k, and past useGram (the direct Lloyd step on a copy).
func TestReduceFromColumns(t *testing.T) {
	be := compute.Current()
	for _, tc := range []struct {
		K, d, k, unreached int
	}{
		{60, 700, 6, 0},
		{60, 700, 6, 9},
		{12, 1500, 5, 7},     // 5 reached: as many as k
		{2100, 8, 4, 100},    // not useGram: the direct step
		{40, 3, 40 - 10, 10}, // keeps all: too few reached
	} {
		src := rand.New(rand.NewPCG(uint64(tc.K), uint64(tc.d)))
		ct := make([]float32, tc.d*tc.K)
		for i := range ct {
			if src.IntN(3) == 0 {
				ct[i] = float32(src.NormFloat64()) + float32(i%tc.K%5)
			}
		}
		scale := make([]float64, tc.K)
		counts := make([]float64, tc.K)
		for j := range scale {
			scale[j] = 0.01 + src.Float64()
			counts[j] = 1 + 10*src.Float64()
		}
		for _, j := range src.Perm(tc.K)[:tc.unreached] {
			counts[j] = 0
		}
		rows := compute.NewMatrix(tc.K, tc.d) // what settle writes
		for j := 0; j < tc.K; j++ {
			for f := 0; f < tc.d; f++ {
				rows.Row(j)[f] = float32(scale[j] * float64(ct[f*tc.K+j]))
			}
		}
		p := Params{K: tc.k, LloydInitMethod: "kmeans++", LloydMaxIter: 300, LloydTol: 1e-4, LloydNumTrials: 2}
		want, _ := reduce(be, rowCandidates(rows), counts, p, rand.New(rand.NewPCG(1, 2)))
		got, _ := reduce(be, columnCandidates(ct, scale, tc.K, tc.d), counts, p, rand.New(rand.NewPCG(1, 2)))
		if got.Rows != want.Rows || got.Cols != want.Cols {
			t.Fatalf("%+v: %d×%d centers from columns, %d×%d from rows", tc, got.Rows, got.Cols, want.Rows, want.Cols)
		}
		for i, v := range want.Data {
			if got.Data[i] != v {
				t.Fatalf("%+v: center value %d is %v from columns, %v from rows", tc, i, got.Data[i], v)
			}
		}
	}
}
