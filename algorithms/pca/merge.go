package pca

import (
	"context"
	"fmt"

	"gonum.org/v1/gonum/mat"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/internal/wire"
)

// MergesHosts: in a multi-host job every host streams its own shard into
// its summary and the leader adds the summaries up and solves once, so the
// job's components are those of all hosts' data together (exactly so in
// regular mode; randomized mode shares the shift and Q₀ found from every
// host's first rows, so that the sketches add up).
func (Algorithm) MergesHosts() bool { return true }

// solution is what the leader sends back: the model's numbers and the
// records behind them.
type solution struct {
	v     *mat.Dense // d×k
	s     []float64
	mean  []float64
	total float64
	n     int64
}

// mergeHosts sends this host's summary to the leader, which adds up every
// host's and solves for k components; every host gets the solution.
func mergeHosts(ctx context.Context, peers algorithms.Peers, sum summary, p Params, metrics algorithms.Metrics) (*solution, error) {
	if sk, ok := sum.(*sketch); ok && !sk.ready {
		// A host whose shard ended before its first rows filled: it still
		// takes part in finding the shared Q₀.
		if err := sk.start(); err != nil {
			return nil, err
		}
	}
	res, err := peers.Exchange(ctx, sum.part(), func(parts [][]byte) (_ []byte, err error) {
		defer catchOverflow(&err)
		all, err := sum.merged(parts)
		if err != nil {
			return nil, err
		}
		if all.rows() == 0 {
			return nil, noRecords(len(parts))
		}
		v, s, mean, total, err := solve(all, p.NumComponents)
		if err != nil {
			return nil, err
		}
		return encodeSolution(&solution{v: v, s: s, mean: mean, total: total, n: all.rows()}), nil
	})
	if err != nil {
		return nil, err
	}
	sol, err := decodeSolution(res, p.FeatureDim, p.NumComponents)
	if err != nil {
		return nil, fmt.Errorf("pca: the leader's solution: %w", err)
	}
	if !peers.Leader() {
		metrics.Logf("received the components the leading host solved for from every host's summary (%d records in all, %d on this host)", sol.n, sum.rows())
	}
	return sol, nil
}

func noRecords(hosts int) error {
	return algorithms.Errorf("the train channels of all %d hosts hold no records: PCA needs at least one row", hosts)
}

// ---- regular mode ----

// part lays out n, d, the shift (float32), Σ (x − shift) and the upper
// triangle of the scatter matrix (float64).
func (s *scatter) part() []byte {
	d := s.d
	w := wire.Writer{B: make([]byte, 0, 16+4*d+8*d+8*d*(d+1)/2)}
	w.U64(uint64(s.n))
	w.U64(uint64(d))
	if s.shift == nil {
		w.F32s(make([]float32, d))
	} else {
		w.F32s(s.shift)
	}
	w.F64s(s.sum)
	for i := 0; i < d; i++ {
		w.F64s(s.scatter[i*d+i : (i+1)*d])
	}
	return w.B
}

// merged adds every host's scatter up around one shift, the mean of all
// rows (zero when not centring): for a host with shift c and δ = shift − c,
// Σ (x−shift)(x−shift)ᵀ = S − s δᵀ − δ sᵀ + n δδᵀ and Σ (x−shift) = s − n δ,
// with S and s its scatter and sum. Exact up to float64 rounding.
func (s *scatter) merged(parts [][]byte) (summary, error) {
	d := s.d
	type host struct {
		n       int64
		shift   []float32
		sum     []float64
		scatter []float64 // packed upper triangle, row by row
	}
	hosts := make([]host, len(parts))
	var n int64
	mean := make([]float64, d) // Σ x, then its mean
	for h, p := range parts {
		r := wire.NewReader(p)
		hn, hd := r.Count(), r.U64()
		if r.Err() == nil && hd != uint64(d) {
			return nil, fmt.Errorf("pca: the summary of host %d has feature_dim %d, not %d", h+1, hd, d)
		}
		x := host{n: hn, shift: r.F32s(d), sum: r.F64s(d), scatter: r.F64s(d * (d + 1) / 2)}
		if err := r.Done(); err != nil {
			return nil, fmt.Errorf("pca: the summary of host %d: %w", h+1, err)
		}
		hosts[h] = x
		n += x.n
		for j := range mean {
			mean[j] += float64(x.n)*float64(x.shift[j]) + x.sum[j]
		}
	}
	all := &scatter{be: s.be, d: d, center: s.center, rng: s.rng, n: n,
		shift: make([]float32, d), sum: make([]float64, d), scatter: make([]float64, d*d)}
	if s.center && n > 0 {
		for j := range mean {
			all.shift[j] = float32(mean[j] / float64(n))
		}
	}
	delta := make([]float64, d)
	for _, x := range hosts {
		if x.n == 0 {
			continue
		}
		hn := float64(x.n)
		for j := range delta {
			delta[j] = float64(all.shift[j]) - float64(x.shift[j])
			all.sum[j] += x.sum[j] - hn*delta[j]
		}
		k := 0
		for i := 0; i < d; i++ {
			row := all.scatter[i*d : (i+1)*d]
			si, di := x.sum[i], delta[i]
			for j := i; j < d; j++ {
				row[j] += x.scatter[k] - si*delta[j] - di*x.sum[j] + hn*di*delta[j]
				k++
			}
		}
	}
	return all, nil
}

// ---- randomized mode ----

// mergeWarm sends this host's first rows (m of them, row-major) to the
// leader, which finds the shift and Q₀ from all hosts' rows together as
// one host does from its own; every host gets them.
func mergeWarm(ctx context.Context, peers algorithms.Peers, s *sketch, rows []float32, m int, metrics algorithms.Metrics) ([]float32, *mat.Dense, error) {
	d, l := s.d, s.l
	w := wire.Writer{B: make([]byte, 0, 16+4*m*d)}
	w.U64(uint64(m))
	w.U64(uint64(d))
	w.F32s(rows[:m*d])
	res, err := peers.Exchange(ctx, w.B, func(parts [][]byte) (_ []byte, err error) {
		defer catchOverflow(&err)
		var all []float32
		total := 0
		for h, p := range parts {
			x, hm, err := decodeWarm(p, d)
			if err != nil {
				return nil, fmt.Errorf("pca: the first rows of host %d: %w", h+1, err)
			}
			all = append(all, x...)
			total += hm
		}
		if total == 0 {
			return nil, noRecords(len(parts))
		}
		metrics.Logf("randomized mode on %d hosts: Q₀ from the first %d rows of all hosts, shared by every host's sketch", len(parts), total)
		shift, q := s.warmStart(all, total)
		var out wire.Writer
		out.F32s(shift)
		out.F64s(rowMajor(q))
		return out.B, nil
	})
	if err != nil {
		return nil, nil, err
	}
	r := wire.NewReader(res)
	shift := r.F32s(d)
	q := r.F64s(d * l)
	if err := r.Done(); err != nil {
		return nil, nil, fmt.Errorf("pca: the leader's Q₀: %w", err)
	}
	return shift, mat.NewDense(d, l, q), nil
}

// decodeWarm reads mergeWarm's part: m rows of d features.
func decodeWarm(p []byte, d int) ([]float32, int, error) {
	r := wire.NewReader(p)
	m, hd := r.U64(), r.U64()
	if r.Err() == nil && (hd != uint64(d) || m > uint64(len(p))/4) {
		return nil, 0, fmt.Errorf("%d rows of %d features in %d bytes, for feature_dim %d", m, hd, len(p), d)
	}
	x := r.F32s(int(m) * d)
	if err := r.Done(); err != nil {
		return nil, 0, err
	}
	return x, int(m), nil
}

// catchOverflow turns the panic of a decomposition handed NaNs or
// infinities into errOverflow, so that the leader's merge fails the round
// on every host rather than unwinding through it.
func catchOverflow(err *error) {
	if r := recover(); r != nil {
		if _, ok := r.(overflowed); !ok {
			panic(r)
		}
		*err = errOverflow
	}
}

// part lays out n, d, ℓ, Σ (x − shift), Σ ‖x − shift‖² and Zᵀ (ℓ×d),
// float64: with the shift and Q₀ shared, every term adds up across hosts.
func (s *sketch) part() []byte {
	w := wire.Writer{B: make([]byte, 0, 32+8*s.d+8*len(s.zt))}
	w.U64(uint64(s.n))
	w.U64(uint64(s.d))
	w.U64(uint64(s.l))
	w.F64s(s.sum)
	w.F64s([]float64{s.sumsq})
	w.F64s(s.zt)
	return w.B
}

// merged adds every host's sketch up; s (the leader's) lends the shared
// shift and Q₀.
func (s *sketch) merged(parts [][]byte) (summary, error) {
	d, l := s.d, s.l
	all := &sketch{be: s.be, d: d, l: l, center: s.center, rng: s.rng, ready: true,
		shift: s.shift, q: s.q, qt: s.qt, sum: make([]float64, d), zt: make([]float64, l*d)}
	for h, p := range parts {
		r := wire.NewReader(p)
		hn, hd, hl := r.Count(), r.U64(), r.U64()
		if r.Err() == nil && (hd != uint64(d) || hl != uint64(l)) {
			return nil, fmt.Errorf("pca: the sketch of host %d is %d×%d, not %d×%d", h+1, hl, hd, l, d)
		}
		sum, sumsq, zt := r.F64s(d), r.F64s(1), r.F64s(l*d)
		if err := r.Done(); err != nil {
			return nil, fmt.Errorf("pca: the sketch of host %d: %w", h+1, err)
		}
		all.n += hn
		all.sumsq += sumsq[0]
		for j, v := range sum {
			all.sum[j] += v
		}
		for j, v := range zt {
			all.zt[j] += v
		}
	}
	return all, nil
}

// ---- the solution ----

func encodeSolution(s *solution) []byte {
	d, k := s.v.Dims()
	w := wire.Writer{B: make([]byte, 0, 32+8*(d*k+k+d+1))}
	w.U64(uint64(s.n))
	w.U64(uint64(d))
	w.U64(uint64(k))
	w.F64s(rowMajor(s.v))
	w.F64s(s.s)
	w.F64s(s.mean)
	w.F64s([]float64{s.total})
	return w.B
}

// decodeSolution reads encodeSolution's layout for d features and k
// components.
func decodeSolution(b []byte, d, k int) (*solution, error) {
	r := wire.NewReader(b)
	n, hd, hk := r.Count(), r.U64(), r.U64()
	if r.Err() == nil && (hd != uint64(d) || hk != uint64(k)) {
		return nil, fmt.Errorf("%d×%d components, expected %d×%d", hd, hk, d, k)
	}
	v, s, mean, total := r.F64s(d*k), r.F64s(k), r.F64s(d), r.F64s(1)
	if err := r.Done(); err != nil {
		return nil, err
	}
	return &solution{v: mat.NewDense(d, k, v), s: s, mean: mean, total: total[0], n: n}, nil
}

// rowMajor returns m's elements row by row, without the stride's gaps.
func rowMajor(m *mat.Dense) []float64 {
	raw := m.RawMatrix()
	if raw.Stride == raw.Cols {
		return raw.Data[:raw.Rows*raw.Cols]
	}
	out := make([]float64, 0, raw.Rows*raw.Cols)
	for i := 0; i < raw.Rows; i++ {
		out = append(out, raw.Data[i*raw.Stride:i*raw.Stride+raw.Cols]...)
	}
	return out
}
