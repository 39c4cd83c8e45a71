package knn

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/compute"
	"github.com/sagebrush-ml/sagebrush/data"
)

// seed fixes the random stream (k-NN has no seed hyperparameter): the same
// data give the same model bytes.
const seed = 0x6b6e6e

// Train samples the train channel (its share of sample_size on this host),
// merges the hosts' samples into one in a multi-host job (mergeHosts),
// projects the sample if asked, builds the index over it and scores the
// test channel. A cancelled run returns no model: a partial sample is not
// a uniform sample of the channel.
func (Algorithm) Train(ctx context.Context, job *algorithms.Job) (algorithms.Model, error) {
	p := ParamsFrom(job.Hyper)
	// A few rows of scratch, float32. The sample grows with the rows the
	// channel holds (sample_size only bounds it), a mini-batch with the rows
	// there are: neither is known before reading.
	if err := algorithms.CheckMemory(16*int64(p.FeatureDim), fmt.Sprintf("feature_dim = %d", p.FeatureDim)); err != nil {
		return nil, err
	}
	be := job.Compute
	if be == nil {
		be = compute.Current()
	}
	host, hosts := 0, max(1, len(job.Cluster.Hosts))
	for i, h := range job.Cluster.Hosts {
		if h == job.Cluster.CurrentHost {
			host = i
		}
	}
	share := p.SampleSize / hosts
	if host < p.SampleSize%hosts {
		share++
	}
	share = max(share, 1)
	rng := rand.New(rand.NewPCG(seed, uint64(host)))

	meta, err := layout(p)
	if err != nil {
		return nil, err
	}
	res, err := sample(ctx, job, p, share, meta.DimensionReduction, be, rng)
	if err != nil {
		return nil, err // a stop too: a partial sample is not merged
	}
	// In a multi-host job a host without records takes part with none; the
	// leader fails the job when no host has any.
	multi := job.MultiHost()
	if res.Len() == 0 && !multi {
		return nil, algorithms.Errorf("the train channel holds no records: k-NN needs at least one labelled row")
	}
	job.Metrics.Logf("sampled %d of %d records (sample_size=%d, this host's share %d)", res.Len(), res.Seen, p.SampleSize, share)
	xs, labels := res.X, res.Labels
	if multi {
		if xs, labels, err = mergeHosts(ctx, job.Peers, res, p, job.Metrics); err != nil {
			return nil, err
		}
		// Every host builds the same index from the merged sample.
		rng = rand.New(rand.NewPCG(seed, mergedStream))
	}

	start := time.Now()
	m, err := build(be, p, meta, xs, labels, job.Cluster.CurrentHost, rng)
	if err != nil {
		return nil, err
	}
	mt := m.meta
	job.Metrics.Logf("built %s index (%s, %d rows of %d dims, nlists=%d, pq_m=%d) in %.3fs",
		mt.IndexType, mt.IndexMetric, mt.NTotal, mt.IndexDim, mt.NLists, mt.PQM, time.Since(start).Seconds())
	if test, ok := job.Channels["test"]; ok {
		if err := score(ctx, m, test, p, job.Metrics); err != nil {
			return m, err // saved only if the error is a stop
		}
	}
	return m, nil
}

// sample streams one pass of the train channel through a reservoir. With a
// projection (red), the reservoir keeps projected rows: the rows it places
// are projected as they are read (CSR ones from their stored entries), so
// the sample takes sample_size × the target's dimensions, not ×
// feature_dim (5,000 rows of 200,000 features were 4 GB, made dense).
func sample(ctx context.Context, job *algorithms.Job, p Params, size int, red *Reduction, be compute.Backend, rng *rand.Rand) (*Reservoir, error) {
	r, err := job.Channels["train"].Open(ctx, 0)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	width := p.FeatureDim
	if red != nil {
		width = red.TargetDim
	}
	res := NewReservoir(size, width, rng)
	var proj []float32
	err = data.Each(ctx, r, p.MiniBatchSize, func(b *data.Batch) error {
		if b.Cols != p.FeatureDim {
			return algorithms.Errorf("train rows have %d features; feature_dim is %d", b.Cols, p.FeatureDim)
		}
		if b.LabelSize < 1 {
			return algorithms.Errorf("train records from record %d on have no label: k-NN needs a label per training row (label[\"values\"] in RecordIO-protobuf, the first column of text/csv;label_size=1)", res.Seen)
		}
		if red == nil {
			res.Offer(b)
		} else {
			// Only the rows the sample keeps are projected: a channel far
			// larger than sample_size is not projected whole.
			places := res.Places(b.Rows)
			var keep []int
			for i, p := range places {
				if p >= 0 {
					keep = append(keep, i)
				}
			}
			if len(keep) > 0 {
				if cap(proj) < len(keep)*width {
					proj = make([]float32, len(keep)*width)
				}
				y := compute.MatrixOf(len(keep), width, proj[:len(keep)*width])
				red.ApplyBatch(be, y, subBatch(b, keep))
				for k, i := range keep { // in order: a later row placed on the same slot wins
					p := places[i]
					copy(res.X[p*width:(p+1)*width], y.Row(k))
					res.Labels[p] = b.Label(i)
				}
			}
		}
		job.Metrics.Batch(b.Rows)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := r.Close(); err != nil {
		return nil, err
	}
	job.Metrics.EpochEnd(0, nil)
	return res, nil
}

// layout is the metadata of the model p trains, before it sees data: the
// projection, the index's dimension and PQ's m.
func layout(p Params) (Metadata, error) {
	meta := Metadata{K: p.K, PredictorType: p.PredictorType, Normalize: p.Metric == "COSINE", Version: "1.0",
		Format: "sagebrush-knn", FormatVersion: FormatVersion, IndexType: p.IndexType, IndexMetric: p.Metric,
		FeatureDim: p.FeatureDim}
	dim := p.FeatureDim
	m := 0
	if p.IndexType == IndexIVFPQ {
		m = p.PQM
		if m == 0 {
			m = DefaultPQM(dim)
			if p.ReductionType != "" {
				m = DefaultPQM(p.ReductionDim)
			}
		}
		meta.PQM = m
	}
	if p.ReductionType != "" {
		target := p.ReductionDim
		if m > 0 {
			target = paddedDim(target, m) // the guide: the target is raised
		}
		if err := algorithms.CheckMemory(reductionBytes(p.ReductionType, p.FeatureDim, target),
			fmt.Sprintf("dimension_reduction_type %s from feature_dim = %d to %d", p.ReductionType, p.FeatureDim, target)); err != nil {
			return Metadata{}, err
		}
		meta.DimensionReduction = newReduction(p.ReductionType, reductionSeed, p.FeatureDim, target)
		dim = target
	} else if m > 0 {
		dim = paddedDim(dim, m) // the guide: zero padding
	}
	meta.IndexDim = dim
	return meta, nil
}

// build turns sampled rows (n × feature_dim, or n × the projection's target
// when meta has one: sample projects them) and their labels into a model
// of layout meta.
func build(be compute.Backend, p Params, meta Metadata, xs, labels []float32, host string, rng *rand.Rand) (*Model, error) {
	if host == "" {
		host = "algo-1"
	}
	n := len(labels)
	width := p.FeatureDim
	if r := meta.DimensionReduction; r != nil {
		width = r.TargetDim
	}
	dim, m := meta.IndexDim, meta.PQM
	model := &Model{meta: meta, labels: labels, host: host}
	x := model.finish(compute.MatrixOf(n, width, xs))
	ip := innerProduct(p.Metric)
	var ix Index
	switch p.IndexType {
	case IndexFlat:
		ix = NewFlat(dim, ip)
	case IndexIVFFlat, IndexIVFPQ:
		nl := p.NLists
		if nl == 0 {
			nl = AutoNLists(n)
		}
		nl = min(nl, n)
		if p.IndexType == IndexIVFFlat {
			ix = NewIVFFlat(dim, nl, ip)
		} else {
			ix = NewIVFPQ(dim, nl, m)
		}
		model.meta.NLists = nl
		model.meta.NProbe = min(DefaultNProbe, nl)
	default:
		return nil, fmt.Errorf("knn: unknown index_type %q", p.IndexType)
	}
	if err := ix.Train(be, x, rng); err != nil {
		return nil, err
	}
	if f, ok := ix.(*Flat); ok && x.Stride == x.Cols {
		f.adopt(be, x) // the sample is ours: index it without a second copy
	} else {
		ix.Add(be, x)
	}
	model.index = ix
	model.meta.NTotal = ix.Len()
	return model, nil
}

// score reports test:accuracy (classifier) or test:mse (regressor) of the
// model on the test channel: one log line per mini-batch, then the score,
// and the time spent searching and voting.
func score(ctx context.Context, m *Model, ch algorithms.Channel, p Params, metrics algorithms.Metrics) error {
	r, err := ch.Open(ctx, 0)
	if err != nil {
		return err
	}
	defer r.Close()
	var n int64
	var sum float64 // correct predictions, or squared errors
	var searching time.Duration
	batch := 0
	err = data.Each(ctx, r, p.MiniBatchSize, func(b *data.Batch) error {
		if b.Cols != p.FeatureDim {
			return algorithms.Errorf("test rows have %d features; feature_dim is %d", b.Cols, p.FeatureDim)
		}
		if b.LabelSize < 1 {
			return algorithms.Errorf("test records have no label: the test channel needs the true label of each row to score the model")
		}
		start := time.Now()
		pred, err := m.Predict(ctx, b, algorithms.PredictOptions{})
		searching += time.Since(start)
		if err != nil {
			return err
		}
		var s float64
		for i, v := range pred.Outputs[0].Values {
			if p.PredictorType == "classifier" {
				if v == b.Label(i) {
					s++
				}
			} else {
				e := float64(v) - float64(b.Label(i))
				s += e * e
			}
		}
		name := "accuracy"
		if p.PredictorType == "regressor" {
			name = "mse"
		}
		metrics.Logf("test mini-batch %d: %d records, %s %.6g", batch, b.Rows, name, s/float64(b.Rows))
		sum += s
		n += int64(b.Rows)
		batch++
		return nil
	})
	if err != nil {
		return err
	}
	if n == 0 {
		metrics.Logf("the test channel holds no records: no test metrics")
		return nil
	}
	metrics.Logf("test: searched and predicted %d records in %.3fs (%.1f records/second)", n, searching.Seconds(), float64(n)/searching.Seconds())
	if p.PredictorType == "classifier" {
		metrics.Score("test", "accuracy", sum/float64(n))
	} else {
		metrics.Score("test", "mse", sum/float64(n))
	}
	return nil
}
