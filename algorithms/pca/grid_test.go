package pca

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/algorithms/algorithmstest"
)

// TestHyperparameterGrid trains small jobs over both modes, centring,
// extra_components, mini-batch sizes, dense and sparse rows, at awkward
// widths and row counts (fewer rows than components, components up to
// feature_dim): each either trains a finite model that answers and loads
// back, or fails with a ClientError, never a panic.
func TestHyperparameterGrid(t *testing.T) {
	algorithmstest.SkipUnderRace(t)
	rng := rand.New(rand.NewPCG(4, 4))
	jobs, refused := 0, 0
	for _, d := range []int{1, 2, 3, 7, 8, 17, 44} { // 44: a sketch of 1 + 10 columns
		for _, n := range []int{1, 2, 5, 40} {
			rows := make([][]float32, n)
			for i := range rows {
				rows[i] = make([]float32, d)
				for j := range rows[i] {
					if rng.IntN(3) > 0 { // a third zeros, for the sparse rows
						rows[i][j] = float32(rng.NormFloat64())
					}
				}
			}
			var ks []string
			for _, k := range []int{1, d - 1, d, d + 1} {
				if k >= 1 {
					ks = append(ks, fmt.Sprint(k))
				}
			}
			algorithmstest.Combinations(map[string]any{"feature_dim": fmt.Sprint(d)}, map[string][]string{
				"num_components":   ks,
				"algorithm_mode":   {"regular", "randomized"},
				"extra_components": {"-1", "100"},
				"subtract_mean":    {"true", "false"},
				"mini_batch_size":  {"1", "1000"},
			}, func(hp map[string]any) {
				for _, sparse := range []bool{false, true} {
					jobs++
					if !algorithmstest.TrainOrRefuse(t, Algorithm{}, hp, map[string]algorithms.Channel{"train": &memChannel{rows: rows, d: d, sparse: sparse}}) {
						refused++
					}
				}
			})
		}
	}
	t.Logf("%d jobs, %d refused", jobs, refused)
}

// TestDrawnMultiHostJobs draws two-host jobs (seeded): shards of 0 to 30
// rows each, dense or sparse (a third of them almost empty, 1 value in 30
// stored, as randomized mode's sketch takes CSR rows below 5%), both modes,
// centring, components up to feature_dim and beyond. Every host trains
// and the leader's model answers and loads back, or every host fails with
// a ClientError.
func TestDrawnMultiHostJobs(t *testing.T) {
	// 300 once (2026-11-22, 18 s): every one trained or was refused on both
	// hosts. 400 once with almost-empty rows among them (65 s): the same.
	algorithmstest.DrawHostJobs(t, 16, 40, Algorithm{}, func(rng *rand.Rand) (map[string]any, []map[string]algorithms.Channel) {
		pick := func(vs ...string) string { return algorithmstest.Pick(rng, vs...) }
		d := 1 + rng.IntN(8)
		k := 1 + rng.IntN(d+1)
		if rng.IntN(3) == 0 {
			// Wide enough for randomized mode to sketch (Sketches).
			d, k = 44+rng.IntN(20), 1+rng.IntN(3)
		}
		sparse := rng.IntN(2) == 0
		stored := algorithmstest.Pick(rng, 2, 2, 1) // of 3; 1: 1 in 30
		channels := make([]map[string]algorithms.Channel, 2)
		for h := range channels {
			rows := make([][]float32, algorithmstest.Pick(rng, 0, 1, 3, 30))
			for i := range rows {
				rows[i] = make([]float32, d)
				for j := range rows[i] {
					if stored == 2 && rng.IntN(3) > 0 || stored == 1 && rng.IntN(30) == 0 {
						rows[i][j] = float32(rng.NormFloat64())
					}
				}
			}
			channels[h] = map[string]algorithms.Channel{"train": &memChannel{rows: rows, d: d, sparse: sparse}}
		}
		return map[string]any{"feature_dim": fmt.Sprint(d), "num_components": fmt.Sprint(k),
			"algorithm_mode": pick("regular", "randomized"), "subtract_mean": pick("true", "false"),
			"extra_components": pick("-1", "0", "5"), "mini_batch_size": pick("1", "7", "1000")}, channels
	})
}

// TestExtremeValues trains on rows holding float32's largest values and
// magnitudes whose squares overflow: a model that answers, or a
// ClientError that says why, never a panic or an internal error. A
// quarter of the jobs are 300 features wide, where regular mode goes
// through the tridiagonal eigensolver, and the batches come dense, as CSR,
// or both in turn.
func TestExtremeValues(t *testing.T) {
	algorithmstest.DrawJobs(t, 22, 80, Algorithm{}, func(rng *rand.Rand) (map[string]any, map[string]algorithms.Channel) {
		d := 1 + rng.IntN(5)
		k := 1 + rng.IntN(d)
		if rng.IntN(4) == 0 {
			d = fullEigenBelow + 44
			k = 1 + rng.IntN(algorithmstest.Pick(rng, d, 30)) // 30: randomized mode sketches
		}
		mode := rng.IntN(3)
		ch := &memChannel{rows: algorithmstest.ExtremeRows(rng, 2+rng.IntN(20), d), d: d, sparse: mode == 1, mixed: mode == 2}
		return map[string]any{"feature_dim": fmt.Sprint(d), "num_components": fmt.Sprint(k),
				"algorithm_mode": algorithmstest.Pick(rng, "regular", "randomized"), "subtract_mean": algorithmstest.Pick(rng, "true", "false")},
			map[string]algorithms.Channel{"train": ch}
	})
}
