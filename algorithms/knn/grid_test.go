package knn

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/algorithms/algorithmstest"
)

// TestHyperparameterGrid trains on a few rows with every index type,
// metric, reduction and faiss_index_pq_m at small and awkward widths
// (1, powers of two and their neighbours): each job either trains a model
// that answers and loads back, or fails with a ClientError, never a panic.
// The fjlt whose target IVFPQ raised past its transform was one such panic.
func TestHyperparameterGrid(t *testing.T) {
	algorithmstest.SkipUnderRace(t)
	type red struct{ typ, target string }
	jobs := 0
	for _, d := range []int{1, 2, 3, 7, 8, 16, 17} {
		xs, ls := blobs(40, d, 3, uint64(d))
		reds := []red{{}}
		for _, target := range []int{1, d - 1} {
			if target >= 1 && target < d {
				reds = append(reds, red{"sign", fmt.Sprint(target)}, red{"fjlt", fmt.Sprint(target)})
			}
		}
		for _, r := range reds {
			for _, ix := range []string{IndexFlat, IndexIVFFlat, IndexIVFPQ} {
				for _, metric := range []string{"L2", "INNER_PRODUCT", "COSINE"} {
					ms := []int{0}
					if ix == IndexIVFPQ {
						ms = []int{1, 3, 12, 96}
					}
					for _, m := range ms {
						hp := map[string]any{"feature_dim": fmt.Sprint(d), "k": "5", "predictor_type": "classifier",
							"sample_size": "30", "index_type": ix, "index_metric": metric}
						if r.typ != "" {
							hp["dimension_reduction_type"], hp["dimension_reduction_target"] = r.typ, r.target
						}
						if m > 0 {
							hp["faiss_index_pq_m"] = fmt.Sprint(m)
						}
						jobs++
						algorithmstest.TrainOrRefuse(t, Algorithm{}, hp, map[string]algorithms.Channel{"train": &memChannel{x: xs, labels: ls, d: d}})
					}
				}
			}
		}
	}
	t.Logf("%d jobs trained or refused", jobs)
}

// drawHyper draws a job's hyperparameters for feature_dim d: k against the
// sample, sample_size against the rows, every index type, metric,
// faiss_index_ivf_nlists, faiss_index_pq_m and reduction, mini_batch_size,
// and the regressor.
func drawHyper(rng *rand.Rand, d int) map[string]any {
	pick := func(vs ...string) string { return algorithmstest.Pick(rng, vs...) }
	hp := map[string]any{"feature_dim": fmt.Sprint(d), "k": pick("1", "3", "50"),
		"predictor_type": pick("classifier", "regressor"), "sample_size": pick("1", "5", "1000"),
		"index_type": pick(IndexFlat, IndexIVFFlat, IndexIVFPQ), "index_metric": pick("L2", "L2", "INNER_PRODUCT", "COSINE"),
		"mini_batch_size": pick("1", "7", "5000")}
	if rng.IntN(2) == 0 {
		hp["faiss_index_ivf_nlists"] = pick("auto", "1", "3", "1000")
	}
	if hp["index_type"] == IndexIVFPQ && rng.IntN(2) == 0 {
		hp["faiss_index_pq_m"] = pick("1", "2", "8", "96")
	}
	if d > 1 && rng.IntN(3) == 0 {
		hp["dimension_reduction_type"], hp["dimension_reduction_target"] = pick("sign", "fjlt"), fmt.Sprint(1+rng.IntN(d-1))
	}
	return hp
}

// TestDrawnJobs draws jobs (seeded) over what TestHyperparameterGrid holds
// fixed (drawHyper), with identical rows now and then (ties in every
// distance), CSR rows with a third of their values zero half the time, and
// a test channel; the same rule: a model that answers and
// loads back, or a ClientError.
func TestDrawnJobs(t *testing.T) {
	algorithmstest.DrawJobs(t, 8, 600, Algorithm{}, func(rng *rand.Rand) (map[string]any, map[string]algorithms.Channel) {
		d := algorithmstest.Pick(rng, 1, 2, 5, 8, 16)
		xs, ls := blobs(algorithmstest.Pick(rng, 1, 3, 40), d, 3, rng.Uint64())
		if rng.IntN(3) == 0 {
			for i := d; i < len(xs); i++ {
				xs[i] = xs[i%d]
			}
		}
		ch := &memChannel{x: xs, labels: ls, d: d, sparse: rng.IntN(2) == 0}
		if ch.sparse {
			thin(rng, xs)
		}
		channels := map[string]algorithms.Channel{"train": ch}
		if rng.IntN(2) == 0 {
			channels["test"] = ch
		}
		return drawHyper(rng, d), channels
	})
}

// TestDrawnMultiHostJobs draws two-host jobs (seeded, drawHyper): shards
// of 0 to 30 rows each, dense or CSR host by host. Every host trains and the leader's model answers
// and loads back, or every host fails with a ClientError.
func TestDrawnMultiHostJobs(t *testing.T) {
	// 300 once (2026-11-22, 40 s): every one trained or was refused on both
	// hosts. 300 once with CSR hosts among them (13 s), with 6,000 of
	// TestDrawnJobs' and 600 of TestExtremeValues': the same.
	algorithmstest.DrawHostJobs(t, 17, 30, Algorithm{}, func(rng *rand.Rand) (map[string]any, []map[string]algorithms.Channel) {
		d := algorithmstest.Pick(rng, 1, 2, 5, 8, 16)
		channels := make([]map[string]algorithms.Channel, 2)
		for h := range channels {
			xs, ls := blobs(algorithmstest.Pick(rng, 0, 1, 3, 30), d, 3, rng.Uint64())
			ch := &memChannel{x: xs, labels: ls, d: d, sparse: rng.IntN(2) == 0}
			if ch.sparse {
				thin(rng, xs)
			}
			channels[h] = map[string]algorithms.Channel{"train": ch}
			if rng.IntN(2) == 0 {
				channels[h]["test"] = ch
			}
		}
		return drawHyper(rng, d), channels
	})
}

// TestExtremeValues trains on rows holding float32's largest values and
// magnitudes whose squares overflow: a model that answers, or a
// ClientError that says why, never a panic or an internal error.
func TestExtremeValues(t *testing.T) {
	algorithmstest.DrawJobs(t, 23, 60, Algorithm{}, func(rng *rand.Rand) (map[string]any, map[string]algorithms.Channel) {
		d := 1 + rng.IntN(6)
		rows := algorithmstest.ExtremeRows(rng, 3+rng.IntN(30), d)
		xs, ls := make([]float32, 0, len(rows)*d), make([]float32, len(rows))
		for i, r := range rows {
			xs = append(xs, r...)
			ls[i] = float32(i % 3)
		}
		ch := &memChannel{x: xs, labels: ls, d: d, sparse: rng.IntN(2) == 0}
		hp := drawHyper(rng, d)
		hp["sample_size"] = "100"
		return hp, map[string]algorithms.Channel{"train": ch, "test": ch}
	})
}

// thin zeroes about a third of xs.
func thin(rng *rand.Rand, xs []float32) {
	for i := range xs {
		if rng.IntN(3) == 0 {
			xs[i] = 0
		}
	}
}
