package kmeans

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/compute"
	"github.com/sagebrush-ml/sagebrush/internal/wire"
)

// MergesHosts: in a multi-host job every host runs the mini-batch phase on
// its own shard, and the leader reduces all hosts' centers, weighted by
// the points each represents, to k (the reduction a single host does to
// its own), which every host then uses.
func (Algorithm) MergesHosts() bool { return true }

// mergeHosts sends this host's K weighted centers to the leader and
// returns the k centers the leader reduced every host's to.
func (t *trainer) mergeHosts(ctx context.Context, peers algorithms.Peers, rng *rand.Rand) (compute.Matrix, error) {
	t.settle()
	part := encodeCenters(t.centers, t.counts, t.seen)
	res, err := peers.Exchange(ctx, part, func(parts [][]byte) ([]byte, error) {
		all := compute.NewMatrix(0, t.p.FeatureDim)
		var counts []float64
		var seen int64
		for i, p := range parts {
			c, w, n, err := decodeCenters(p, t.p.FeatureDim)
			if err != nil {
				return nil, fmt.Errorf("kmeans: the centers of host %d: %w", i+1, err)
			}
			all.Data = append(all.Data, c.Data...)
			all.Rows += c.Rows
			counts = append(counts, w...)
			seen += n
		}
		if all.Rows == 0 {
			return nil, algorithms.Errorf("the train channels of all %d hosts hold no records: k-means needs at least k=%d rows", len(parts), t.p.K)
		}
		if seen < int64(t.p.K) {
			return nil, algorithms.Errorf("the train channels of all %d hosts hold %d records but k is %d: k-means needs at least k records", len(parts), seen, t.p.K)
		}
		t.metrics.Logf("mini-batch phase done on %d hosts: %d centers from %d records; reducing to k=%d with local Lloyd (%s init, %d trials)",
			len(parts), all.Rows, seen, t.p.K, t.p.LloydInitMethod, t.p.LloydNumTrials)
		centers, msds := reduce(t.be, rowCandidates(all), counts, t.p, rng)
		logShrink(t.metrics, all.Rows, t.p.K, msds)
		return encodeCenters(centers, nil, seen), nil
	})
	if err != nil {
		return compute.Matrix{}, err
	}
	centers, _, _, err := decodeCenters(res, t.p.FeatureDim)
	if err != nil {
		return compute.Matrix{}, fmt.Errorf("kmeans: the leader's centers: %w", err)
	}
	if !peers.Leader() {
		t.metrics.Logf("received the %d centers the leading host reduced every host's to (this host's mini-batch phase: %d centers from %d records)",
			centers.Rows, t.centers.Rows, t.seen)
	}
	return centers, nil
}

// encodeCenters lays out rows, cols, seen, the number of counts (0 or
// rows), the float32 centers and the float64 counts (internal/wire).
func encodeCenters(c compute.Matrix, counts []float64, seen int64) []byte {
	w := wire.Writer{B: make([]byte, 0, 32+4*c.Rows*c.Cols+8*len(counts))}
	w.U64(uint64(c.Rows))
	w.U64(uint64(c.Cols))
	w.U64(uint64(seen))
	w.U64(uint64(len(counts)))
	w.F32s(c.Data[:c.Rows*c.Cols])
	w.F64s(counts)
	return w.B
}

// decodeCenters reads encodeCenters' layout, checking that the centers
// have d columns (an empty host sends none).
func decodeCenters(b []byte, d int) (compute.Matrix, []float64, int64, error) {
	r := wire.NewReader(b)
	rows, cols, seen, nc := r.U64(), r.U64(), r.Count(), r.U64()
	if err := r.Err(); err != nil {
		return compute.Matrix{}, nil, 0, err
	}
	if rows > 0 && cols != uint64(d) || nc != 0 && nc != rows || rows > uint64(r.Len())/4 {
		return compute.Matrix{}, nil, 0, fmt.Errorf("%d×%d centers with %d counts in %d bytes, for feature_dim %d", rows, cols, nc, len(b), d)
	}
	data := r.F32s(int(rows) * d)
	counts := r.F64s(int(nc))
	if err := r.Done(); err != nil {
		return compute.Matrix{}, nil, 0, fmt.Errorf("%d×%d centers with %d counts in %d bytes: %w", rows, cols, nc, len(b), err)
	}
	return compute.MatrixOf(int(rows), d, data), counts, seen, nil
}
