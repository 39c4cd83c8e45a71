package knn

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/cluster"
	"github.com/sagebrush-ml/sagebrush/internal/wire"
)

// MergesHosts: in a multi-host job every host samples its share of
// sample_size from the data it was given, and the leader concatenates the
// hosts' samples, in host order, into the one sample that every host then
// indexes (SageMaker: "each worker samples 50 points and a total of 100 is
// collected").
func (Algorithm) MergesHosts() bool { return true }

// mergedStream is the stream of the random source that builds the index
// from the merged sample: the same on every host (it does not depend on
// the host index), so every host builds the same index.
const mergedStream = 0x6d65726765

// mergeHosts sends this host's sample to the leader and returns the sample
// the leader merged from every host's: n rows of res.Dim (feature_dim, or
// the projection's target when there is one: rows are projected as they
// are sampled) and their labels.
func mergeHosts(ctx context.Context, peers algorithms.Peers, res *Reservoir, p Params, metrics algorithms.Metrics) (xs, labels []float32, err error) {
	part := encodeSample(res.X[:res.Len()*res.Dim], res.Labels, res.Seen, res.Dim)
	if len(part) > maxMessage {
		return nil, nil, tooLarge("this host's sample", res.Len(), res.Dim, len(part), p)
	}
	out, err := peers.Exchange(ctx, part, func(parts [][]byte) ([]byte, error) {
		return mergeSamples(parts, res.Dim, p, metrics)
	})
	if err != nil {
		return nil, nil, err
	}
	xs, labels, seen, err := decodeSample(out, res.Dim)
	if err != nil {
		return nil, nil, fmt.Errorf("knn: the leader's merged sample: %w", err)
	}
	if !peers.Leader() {
		metrics.Logf("received the sample the leading host merged from %d hosts: %d rows of %d records seen (this host's: %d rows of %d records)",
			peers.Size(), len(labels), seen, res.Len(), res.Seen)
	}
	return xs, labels, nil
}

// mergeSamples is the leader's merge: every host's rows, then every host's
// labels, in host order, in encodeSample's layout, rows of d values. The
// parts' bytes are copied as they are (the layout is the same), not
// decoded.
func mergeSamples(parts [][]byte, d int, p Params, metrics algorithms.Metrics) ([]byte, error) {
	bodies := make([][]byte, len(parts))
	ns := make([]int, len(parts))
	counts := make([]string, len(parts))
	var rows int
	var seen int64
	for i, b := range parts {
		n, s, body, err := sampleHeader(b, d)
		if err != nil {
			return nil, fmt.Errorf("knn: the sample of host %d: %w", i+1, err)
		}
		bodies[i], ns[i], counts[i] = body, n, strconv.Itoa(n)
		rows += n
		seen += s
	}
	if rows == 0 {
		return nil, algorithms.Errorf("the train channels of all %d hosts hold no records: k-NN needs at least one labelled row", len(parts))
	}
	if size := headerBytes + 4*rows*(d+1); size > maxMessage {
		return nil, tooLarge(fmt.Sprintf("the merged sample of %d hosts", len(parts)), rows, d, size, p)
	}
	out := make([]byte, 0, headerBytes+4*rows*(d+1))
	out = appendHeader(out, rows, d, seen)
	for i, body := range bodies {
		out = append(out, body[:4*ns[i]*d]...) // the rows
	}
	for i, body := range bodies {
		out = append(out, body[4*ns[i]*d:]...) // the labels
	}
	metrics.Logf("merged the samples of %d hosts: %d rows of %d records seen (rows per host: %s; sample_size=%d)",
		len(parts), rows, seen, strings.Join(counts, ", "), p.SampleSize)
	return out, nil
}

// maxMessage is the most bytes a sample may take between hosts
// (cluster.MaxMessage; a variable for the tests).
var maxMessage = cluster.MaxMessage

// tooLarge is the client error of a sample too large to send between
// hosts: sample_size is the user's to lower.
func tooLarge(what string, rows, d, size int, p Params) error {
	return algorithms.Errorf("sample_size = %d: %s (%d rows of %d dimensions) takes %d bytes, above the %d bytes one message between hosts can carry; lower sample_size",
		p.SampleSize, what, rows, d, size, maxMessage)
}

// headerBytes is the length of encodeSample's header.
const headerBytes = 24

func appendHeader(b []byte, rows, d int, seen int64) []byte {
	w := wire.Writer{B: b}
	w.U64(uint64(rows))
	w.U64(uint64(d))
	w.U64(uint64(seen))
	return w.B
}

// encodeSample lays out a host's sample with internal/wire: the number of
// rows n, their width d and the records seen (uint64 each), then the n × d
// float32 rows, then the n float32 labels.
func encodeSample(xs, labels []float32, seen int64, d int) []byte {
	n := len(labels)
	w := wire.Writer{B: appendHeader(make([]byte, 0, headerBytes+4*n*(d+1)), n, d, seen)}
	w.F32s(xs[:n*d])
	w.F32s(labels)
	return w.B
}

// sampleHeader checks encodeSample's layout against the width d and
// returns the rows, the records seen and the body (rows, then labels).
func sampleHeader(b []byte, d int) (rows int, seen int64, body []byte, err error) {
	if d < 1 {
		return 0, 0, nil, fmt.Errorf("a row width of %d is not positive", d)
	}
	if len(b) < headerBytes {
		return 0, 0, nil, fmt.Errorf("%d bytes, shorter than the %d-byte header", len(b), headerBytes)
	}
	r := wire.NewReader(b[:headerBytes])
	n, cols, s := r.U64(), r.U64(), r.Count()
	if err := r.Err(); err != nil {
		return 0, 0, nil, err
	}
	body = b[headerBytes:]
	if cols != uint64(d) {
		return 0, 0, nil, fmt.Errorf("rows of %d dimensions, where this job's have %d", cols, d)
	}
	// n is checked against the body before it is multiplied: no overflow.
	if n > uint64(len(body))/4/(uint64(d)+1) || uint64(len(body)) != 4*n*(uint64(d)+1) {
		return 0, 0, nil, fmt.Errorf("%d rows of %d dimensions and their labels in %d bytes, want %d bytes per row", n, d, len(body), 4*(d+1))
	}
	if uint64(s) < n {
		return 0, 0, nil, fmt.Errorf("%d rows sampled from %d records", n, s)
	}
	return int(n), s, body, nil
}

// decodeSample reads encodeSample's layout, checking it against the width
// d: an error, never a panic, for bytes of any other shape.
func decodeSample(b []byte, d int) (xs, labels []float32, seen int64, err error) {
	n, seen, body, err := sampleHeader(b, d)
	if err != nil {
		return nil, nil, 0, err
	}
	r := wire.NewReader(body) // its length is checked: the reads cannot fail
	xs, labels = r.F32s(n*d), r.F32s(n)
	return xs, labels, seen, r.Done()
}
