package kmeans

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/algorithms/algorithmstest"
)

// TestHyperparameterGrid trains small jobs over k against the row count,
// both init methods, extra_center_factor, half_life_time_size, epochs and
// mini-batch sizes, on rows with duplicates (fewer distinct points than
// centers), every other job's as CSR batches: each either trains a model that answers and loads back, or
// fails with a ClientError, never a panic.
func TestHyperparameterGrid(t *testing.T) {
	algorithmstest.SkipUnderRace(t)
	rng := rand.New(rand.NewPCG(5, 5))
	jobs, refused := 0, 0
	for _, d := range []int{1, 3, 8} {
		for _, n := range []int{1, 4, 30} {
			rows := make([][]float32, n)
			for i := range rows {
				rows[i] = make([]float32, d)
				if i%3 == 2 {
					copy(rows[i], rows[i-1]) // a duplicate point
					continue
				}
				for j := range rows[i] {
					rows[i][j] = float32(rng.NormFloat64())
				}
			}
			base := map[string]any{"feature_dim": fmt.Sprint(d), "epochs": "2", "eval_metrics": `["msd","ssd"]`}
			algorithmstest.Combinations(base, map[string][]string{
				"k":                       {"1", "2", fmt.Sprint(n), fmt.Sprint(n + 1)},
				"init_method":             {"random", "kmeans++"},
				"local_lloyd_init_method": {"random", "kmeans++"},
				"extra_center_factor":     {"auto", "7"},
				"mini_batch_size":         {"1", "5000"},
				"half_life_time_size":     {"0", "3"},
			}, func(hp map[string]any) {
				jobs++
				ch := &memChannel{rows: rows, d: d, sparse: jobs%2 == 1}
				if !algorithmstest.TrainOrRefuse(t, Algorithm{}, hp, map[string]algorithms.Channel{"train": ch, "test": ch}) {
					refused++
				}
			})
		}
	}
	t.Logf("%d jobs, %d refused", jobs, refused)
}

// TestDrawnMultiHostJobs draws two-host jobs (seeded): shards of 0 to
// 30 rows each (a third zeros; dense or CSR, host by host), k against
// their sum, both init methods, batch sizes and epochs. Every host trains
// and the leader's model answers and loads back, or every host fails with
// a ClientError.
func TestDrawnMultiHostJobs(t *testing.T) {
	// 500 once (2026-11-22, 70 s): every one trained or was refused on both
	// hosts. 300 once with CSR hosts among them (53 s), with 2,000 of
	// TestExtremeValues': the same.
	algorithmstest.DrawHostJobs(t, 15, 30, Algorithm{}, func(rng *rand.Rand) (map[string]any, []map[string]algorithms.Channel) {
		pick := func(vs ...string) string { return algorithmstest.Pick(rng, vs...) }
		d := 1 + rng.IntN(5)
		channels := make([]map[string]algorithms.Channel, 2)
		for h := range channels {
			rows := make([][]float32, algorithmstest.Pick(rng, 0, 1, 3, 30))
			for i := range rows {
				rows[i] = make([]float32, d)
				for j := range rows[i] {
					if rng.IntN(3) > 0 {
						rows[i][j] = float32(rng.NormFloat64())
					}
				}
			}
			ch := &memChannel{rows: rows, d: d, sparse: rng.IntN(2) == 0}
			channels[h] = map[string]algorithms.Channel{"train": ch}
			if rng.IntN(2) == 0 {
				channels[h]["test"] = ch
			}
		}
		return map[string]any{"feature_dim": fmt.Sprint(d), "k": pick("1", "2", "5"), "init_method": pick("random", "kmeans++"),
			"local_lloyd_init_method": pick("random", "kmeans++"), "extra_center_factor": pick("auto", "1", "4"),
			"mini_batch_size": pick("1", "7", "5000"), "epochs": pick("1", "2"), "half_life_time_size": pick("0", "2")}, channels
	})
}

// TestExtremeValues trains on rows holding float32's largest values and
// magnitudes whose squares overflow: a model that answers, or a
// ClientError that says why, never a panic or an internal error.
func TestExtremeValues(t *testing.T) {
	algorithmstest.DrawJobs(t, 21, 60, Algorithm{}, func(rng *rand.Rand) (map[string]any, map[string]algorithms.Channel) {
		d := 1 + rng.IntN(4)
		mode := rng.IntN(3) // dense, CSR, or both in turn
		ch := &memChannel{rows: algorithmstest.ExtremeRows(rng, 3+rng.IntN(20), d), d: d, sparse: mode == 1, mixed: mode == 2}
		return map[string]any{"feature_dim": fmt.Sprint(d), "k": fmt.Sprint(1 + rng.IntN(3)), "init_method": algorithmstest.Pick(rng, "random", "kmeans++"),
				"mini_batch_size": algorithmstest.Pick(rng, "2", "5000"), "half_life_time_size": algorithmstest.Pick(rng, "0", "2")},
			map[string]algorithms.Channel{"train": ch, "test": ch}
	})
}
