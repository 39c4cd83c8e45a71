package knn

import (
	"fmt"
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
