package kmeans

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/compute"
)

// MergesHosts: in a multi-host job every host runs the mini-batch phase on
// its own shard, and the leader reduces all hosts' centers, weighted by
// the points each represents, to k (the reduction a single host does to
// its own), which every host then uses.
func (Algorithm) MergesHosts() bool { return true }

// mergeHosts sends this host's K weighted centers to the leader and
// returns the k centers the leader reduced every host's to.
func (t *trainer) mergeHosts(ctx context.Context, peers algorithms.Peers, rng *rand.Rand) (compute.Matrix, error) {
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
		t.metrics.Logf("mini-batch phase done on %d hosts: %d centers from %d records; reducing to k=%d with local Lloyd (%s init, %d trials)",
			len(parts), all.Rows, seen, t.p.K, t.p.LloydInitMethod, t.p.LloydNumTrials)
		centers := reduce(t.be, all, counts, t.p, rng)
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

// encodeCenters lays out rows, cols, seen, whether counts follow, the
// float32 centers and the float64 counts, little-endian.
func encodeCenters(c compute.Matrix, counts []float64, seen int64) []byte {
	b := make([]byte, 0, 32+4*len(c.Data)+8*len(counts))
	b = binary.LittleEndian.AppendUint64(b, uint64(c.Rows))
	b = binary.LittleEndian.AppendUint64(b, uint64(c.Cols))
	b = binary.LittleEndian.AppendUint64(b, uint64(seen))
	b = binary.LittleEndian.AppendUint64(b, uint64(len(counts)))
	for _, v := range c.Data[:c.Rows*c.Cols] {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	for _, v := range counts {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	}
	return b
}

// decodeCenters reads encodeCenters' layout, checking that the centers
// have d columns (an empty host sends none).
func decodeCenters(b []byte, d int) (compute.Matrix, []float64, int64, error) {
	if len(b) < 32 {
		return compute.Matrix{}, nil, 0, fmt.Errorf("%d bytes, shorter than the 32-byte header", len(b))
	}
	rows, cols := binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:])
	seen, nc := int64(binary.LittleEndian.Uint64(b[16:])), binary.LittleEndian.Uint64(b[24:])
	b = b[32:]
	if rows > 0 && cols != uint64(d) || nc != 0 && nc != rows || rows > uint64(len(b)) ||
		uint64(len(b)) != 4*rows*cols+8*nc {
		return compute.Matrix{}, nil, 0, fmt.Errorf("%d×%d centers with %d counts in %d bytes, for feature_dim %d", rows, cols, nc, len(b), d)
	}
	c := compute.NewMatrix(int(rows), d)
	for i := range c.Data {
		c.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	b = b[4*len(c.Data):]
	counts := make([]float64, nc)
	for i := range counts {
		counts[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return c, counts, seen, nil
}
