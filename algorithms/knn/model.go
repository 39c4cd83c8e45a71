package knn

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/compute"
	"github.com/sagebrush-ml/sagebrush/data"
	"github.com/sagebrush-ml/sagebrush/mxnet"
)

// FormatVersion is the version of the artifact layout this package writes
// (model_<host>.json "format_version"); Load refuses newer ones.
const FormatVersion = 1

// DefaultNProbe is the number of inverted lists an IVF query scans unless
// the metadata says otherwise ("faiss_nprobe"). Chosen on Fashion-MNIST
// (nlist = 245): see docs/algorithms/knn.md.
const DefaultNProbe = 8

// Metadata is model_<host>.json. The first five fields are SageMaker's
// documented ones (k and predictor_type may be edited to change
// inference); the rest describe our index.
type Metadata struct {
	K                  int        `json:"k"`
	PredictorType      string     `json:"predictor_type"`
	DimensionReduction *Reduction `json:"dimension_reduction"`
	Normalize          bool       `json:"normalize"`
	Version            string     `json:"version"`

	Format        string `json:"format"`
	FormatVersion int    `json:"format_version"`
	IndexType     string `json:"index_type"`
	IndexMetric   string `json:"index_metric"`
	FeatureDim    int    `json:"feature_dim"`
	IndexDim      int    `json:"index_dim"`
	NTotal        int    `json:"ntotal"`
	NLists        int    `json:"faiss_index_ivf_nlists,omitempty"`
	PQM           int    `json:"faiss_index_pq_m,omitempty"`
	NProbe        int    `json:"faiss_nprobe,omitempty"`
}

// Model is an index over the sampled rows and their labels. It is
// read-only and safe for concurrent use.
type Model struct {
	meta   Metadata
	index  Index
	labels []float32
	host   string
}

var _ algorithms.Model = (*Model)(nil)

// FeatureDim is the number of features of a request row.
func (m *Model) FeatureDim() int { return m.meta.FeatureDim }

// Metadata returns a copy of the model's metadata.
func (m *Model) Metadata() Metadata { return m.meta }

// Index returns the model's index (read-only).
func (m *Model) Index() Index { return m.index }

// prepare turns request rows (dense or CSR, feature_dim columns) into
// index queries: the projection (from a CSR row's stored entries: it is
// never made dense), then finish.
func (m *Model) prepare(be compute.Backend, b *data.Batch) compute.Matrix {
	r := m.meta.DimensionReduction
	if r == nil {
		return m.finish(compute.MatrixOf(b.Rows, b.Cols, b.DenseTo(nil))) // a copy: finish may normalise it
	}
	y := compute.NewMatrix(b.Rows, r.TargetDim)
	r.ApplyBatch(be, y, b)
	return m.finish(y)
}

// finish turns projected rows (or rows of feature_dim when there is no
// projection), which it may modify, into index queries: zero padding to
// the index dimension, and unit norm for COSINE.
func (m *Model) finish(x compute.Matrix) compute.Matrix {
	if x.Cols < m.meta.IndexDim {
		y := compute.NewMatrix(x.Rows, m.meta.IndexDim)
		for i := range x.Rows {
			copy(y.Row(i), x.Row(i))
		}
		x = y
	}
	if m.meta.Normalize {
		normalize(x)
	}
	return x
}

// normalize scales every row of x to unit L2 norm (zero rows stay zero).
func normalize(x compute.Matrix) {
	for i := range x.Rows {
		r := x.Row(i)
		var s float64
		for _, v := range r {
			s += float64(v) * float64(v)
		}
		if s == 0 {
			continue
		}
		inv := float32(1 / math.Sqrt(s))
		for j := range r {
			r[j] *= inv
		}
	}
}

// Neighbors searches the index for the rows of b: k' = min(k, rows
// indexed) ids and distances per row, nearest first. Distances are
// squared L2 (L2), -x·y (INNER_PRODUCT) or 1 - cos (COSINE).
func (m *Model) Neighbors(b *data.Batch) (k int, dist []float32, ids []int32) {
	be := compute.Current()
	x := m.prepare(be, b)
	k = min(m.meta.K, m.index.Len())
	dist, ids = make([]float32, b.Rows*k), make([]int32, b.Rows*k)
	m.index.Search(be, x, k, dist, ids, SearchParams{NProbe: m.nprobe()})
	if m.meta.IndexMetric == "COSINE" {
		for i := range dist {
			dist[i] += 1
		}
	}
	return k, dist, ids
}

func (m *Model) nprobe() int {
	if m.meta.NProbe > 0 {
		return m.meta.NProbe
	}
	return DefaultNProbe
}

// vote returns the prediction from neighbours' labels (nearest first):
// for a classifier the most frequent label, ties to the smallest label (as
// scikit-learn's KNeighborsClassifier breaks them); for a regressor their
// mean.
func vote(predictor string, labels []float32) float32 {
	if len(labels) == 0 {
		return 0
	}
	if predictor == "regressor" {
		var s float64
		for _, l := range labels {
			s += float64(l)
		}
		return float32(s / float64(len(labels)))
	}
	best, bestN := labels[0], 0
	for i, l := range labels {
		n := 0
		for _, o := range labels {
			if o == l {
				n++
			}
		}
		if n > bestN || (n == bestN && l < best) {
			best, bestN = labels[i], n
		}
	}
	return best
}

// Predict answers predicted_label for each row and, when the Accept type
// says verbose=true, the neighbours' distances and labels (k' each,
// nearest first).
func (m *Model) Predict(ctx context.Context, b *data.Batch, opts algorithms.PredictOptions) (*data.Predictions, error) {
	if b.Cols != m.FeatureDim() {
		return nil, algorithms.Errorf("request rows have %d features; the model's feature_dim is %d", b.Cols, m.FeatureDim())
	}
	k, dist, ids := m.Neighbors(b)
	pred := make([]float32, b.Rows)
	nl := make([]float32, b.Rows*k)
	for i := range b.Rows {
		row := nl[i*k : i*k : (i+1)*k]
		for _, id := range ids[i*k : (i+1)*k] {
			if id >= 0 {
				row = append(row, m.labels[id])
			}
		}
		pred[i] = vote(m.meta.PredictorType, row)
	}
	p := &data.Predictions{Rows: b.Rows, Outputs: []data.Output{{Name: "predicted_label", Kind: data.Float, Values: pred}}}
	if opts.Accept.Verbose() {
		p.Outputs = append(p.Outputs,
			data.Output{Name: "distances", Kind: data.Float, Width: k, Values: dist},
			data.Output{Name: "labels", Kind: data.Float, Width: k, Values: nl})
	}
	return p, nil
}

// Save writes model_<host> (the index), model_<host>.labels and
// model_<host>.json.
func (m *Model) Save(dir string) error {
	base := filepath.Join(dir, "model_"+m.host)
	f, err := indexFile(m.index)
	if err != nil {
		return err
	}
	if err := mxnet.WriteFile(base, f); err != nil {
		return err
	}
	var lb bytes.Buffer
	binary.Write(&lb, binary.LittleEndian, m.labels)
	if err := os.WriteFile(base+".labels", lb.Bytes(), 0o644); err != nil {
		return err
	}
	js, err := json.MarshalIndent(m.meta, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(base+".json", append(js, '\n'), 0o644)
}

// indexFile lays an index out as an MXNet NDArray dict.
func indexFile(ix Index) (*mxnet.File, error) {
	f := &mxnet.File{}
	put := func(name string, a *mxnet.NDArray) {
		f.Names = append(f.Names, name)
		f.Arrays = append(f.Arrays, a)
	}
	ints := func(dt mxnet.DType, vals []int64, shape ...int) *mxnet.NDArray {
		return &mxnet.NDArray{Shape: shape, DType: dt, Int64: vals}
	}
	switch x := ix.(type) {
	case *Flat:
		put("vectors", mxnet.NewFloat32(x.x, x.Len(), x.d))
	case *IVF:
		put("centroids", mxnet.NewFloat32(x.quant.x, x.nlist, x.d))
		offsets := make([]int64, x.nlist+1)
		ids := make([]int64, 0, x.n)
		vecs := x.vecs // the lists back to back already, when built in one Add or loaded
		if x.pq == nil && len(vecs) != x.n*x.d {
			vecs = make([]float32, 0, x.n*x.d)
			for _, L := range x.lists {
				vecs = append(vecs, L.x...)
			}
		}
		var codes []int64
		if x.pq != nil {
			codes = make([]int64, 0, x.n*x.pq.M)
		}
		for l, L := range x.lists {
			offsets[l+1] = offsets[l] + int64(len(L.ids))
			for _, id := range L.ids {
				ids = append(ids, int64(id))
			}
			for _, c := range L.codes {
				codes = append(codes, int64(c))
			}
		}
		put("list_offsets", ints(mxnet.Int64, offsets, x.nlist+1))
		put("ids", ints(mxnet.Int64, ids, x.n))
		if x.pq == nil {
			put("vectors", mxnet.NewFloat32(vecs, x.n, x.d))
		} else {
			put("pq_codebooks", mxnet.NewFloat32(x.pq.Codebooks, x.pq.M, x.pq.KSub, x.pq.DSub))
			put("codes", ints(mxnet.Uint8, codes, x.n, x.pq.M))
		}
	default:
		return nil, errorf("cannot save index %T", ix)
	}
	return f, nil
}

// Load reads the three files Save wrote: model_algo-1*, or else the first
// model_<host> in dir.
func (Algorithm) Load(dir string) (algorithms.Model, error) {
	jsPath, err := algorithms.ModelFile(dir, ".json")
	if err != nil {
		return nil, errorf("%w", err)
	}
	base := strings.TrimSuffix(jsPath, ".json")
	js, err := os.ReadFile(jsPath)
	if err != nil {
		return nil, err
	}
	meta, err := parseMetadata(base, js)
	if err != nil {
		return nil, err // before reading an index that may be large
	}
	f, err := mxnet.ReadFile(base)
	if err != nil {
		return nil, errorf("reading %s: %w", base, err)
	}
	lb, err := os.ReadFile(base + ".labels")
	if err != nil {
		return nil, err
	}
	return assemble(base, meta, f, lb)
}

// parseMetadata reads and checks base.json.
func parseMetadata(base string, js []byte) (Metadata, error) {
	var meta Metadata
	if err := json.Unmarshal(pythonLiterals(js), &meta); err != nil {
		return meta, errorf("%s.json: %v", base, err)
	}
	if meta.Format != "sagebrush-knn" || meta.FormatVersion < 1 || meta.FormatVersion > FormatVersion {
		return meta, errorf("%s.json: format %q version %d is not one this build reads (sagebrush-knn 1..%d)", base, meta.Format, meta.FormatVersion, FormatVersion)
	}
	if meta.K < 1 || (meta.PredictorType != "classifier" && meta.PredictorType != "regressor") {
		return meta, errorf("%s.json: k must be positive and predictor_type classifier or regressor, found k=%d predictor_type=%q", base, meta.K, meta.PredictorType)
	}
	if err := meta.check(); err != nil {
		return meta, errorf("%s.json: %v", base, err)
	}
	return meta, nil
}

// assemble builds the model of base from its checked metadata, its index
// file and the bytes of its labels file.
func assemble(base string, meta Metadata, f *mxnet.File, lb []byte) (*Model, error) {
	ix, err := loadIndex(f, meta)
	if err != nil {
		return nil, errorf("%s: %v", base, err)
	}
	if ix.Len() == 0 {
		return nil, errorf("%s: the index holds no rows (training never writes one)", base)
	}
	if len(lb) != 4*ix.Len() {
		return nil, errorf("%s.labels holds %d bytes; %d rows need %d", base, len(lb), ix.Len(), 4*ix.Len())
	}
	if r := meta.DimensionReduction; r != nil {
		r.build()
	}
	labels := make([]float32, ix.Len())
	binary.Read(bytes.NewReader(lb), binary.LittleEndian, labels)
	meta.NTotal = ix.Len()
	host := strings.TrimPrefix(filepath.Base(base), "model_")
	return &Model{meta: meta, index: ix, labels: labels, host: host}, nil
}

// check holds the dimensions of the metadata to what Save writes, so that
// a model that loads can answer: feature_dim rows are projected to
// target_dim (or padded) and end index_dim wide.
func (meta *Metadata) check() error {
	if meta.FeatureDim < 1 || meta.IndexDim < 1 {
		return fmt.Errorf("feature_dim %d and index_dim %d must be positive", meta.FeatureDim, meta.IndexDim)
	}
	in := meta.FeatureDim
	if r := meta.DimensionReduction; r != nil {
		if r.Type != "sign" && r.Type != "fjlt" {
			return fmt.Errorf("dimension_reduction type %q is not sign or fjlt", r.Type)
		}
		if r.InputDim != meta.FeatureDim || r.TargetDim < 1 {
			return fmt.Errorf("dimension_reduction input_dim %d and target_dim %d do not fit feature_dim %d and index_dim %d",
				r.InputDim, r.TargetDim, meta.FeatureDim, meta.IndexDim)
		}
		if err := algorithms.CheckMemory(reductionBytes(r.Type, r.InputDim, r.TargetDim), "dimension_reduction "+r.Type); err != nil {
			return err
		}
		in = r.TargetDim
	}
	// index_dim is what training made of them: the projection's target
	// (already a multiple of m for IVFPQ), or feature_dim padded to a
	// multiple of m for IVFPQ, or feature_dim. Anything else would let a
	// model with an empty index ask each request for rows of any width.
	want := in
	if meta.DimensionReduction == nil && meta.IndexType == IndexIVFPQ && meta.PQM >= 1 {
		want = paddedDim(in, meta.PQM)
	}
	if meta.IndexDim != want {
		return fmt.Errorf("index_dim %d does not follow from rows of %d values (want %d)", meta.IndexDim, in, want)
	}
	return nil
}

// pythonLiterals turns the bare True/False/None that SageMaker's metadata
// may hold (its documented example has "normalize": False) into JSON.
func pythonLiterals(b []byte) []byte {
	var out []byte
	inStr, esc := false, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inStr {
			out = append(out, c)
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		if c == '"' {
			inStr = true
		}
		replaced := false
		for _, w := range [][2]string{{"True", "true"}, {"False", "false"}, {"None", "null"}} {
			if bytes.HasPrefix(b[i:], []byte(w[0])) {
				out = append(out, w[1]...)
				i += len(w[0]) - 1
				replaced = true
				break
			}
		}
		if !replaced {
			out = append(out, c)
		}
	}
	return out
}

func loadIndex(f *mxnet.File, meta Metadata) (Index, error) {
	get := func(name string, dims int) (*mxnet.NDArray, error) {
		a, ok := f.Get(name)
		if !ok || len(a.Shape) != dims {
			return nil, fmt.Errorf("no %d-d array %q", dims, name)
		}
		return a, nil
	}
	getInt := func(name string, dims int) (*mxnet.NDArray, error) {
		a, err := get(name, dims)
		if err == nil && a.Int64 == nil && a.Size() > 0 {
			err = fmt.Errorf("array %q holds %v values; want integers", name, a.DType)
		}
		return a, err
	}
	d := meta.IndexDim
	ip := innerProduct(meta.IndexMetric)
	switch meta.IndexType {
	case IndexFlat:
		v, err := get("vectors", 2)
		if err != nil {
			return nil, err
		}
		if v.Shape[1] != d {
			return nil, fmt.Errorf("vectors are %d-d, index_dim is %d", v.Shape[1], d)
		}
		fl := NewFlat(d, ip)
		fl.adopt(compute.Current(), compute.MatrixOf(v.Shape[0], d, v.AsFloat32())) // the file's array is ours: no copy
		return fl, nil
	case IndexIVFFlat, IndexIVFPQ:
		c, err := get("centroids", 2)
		if err != nil {
			return nil, err
		}
		off, err := getInt("list_offsets", 1)
		if err != nil {
			return nil, err
		}
		ids, err := getInt("ids", 1)
		if err != nil {
			return nil, err
		}
		nlist := c.Shape[0]
		if nlist < 1 || c.Shape[1] != d || off.Shape[0] != nlist+1 || off.Int64[0] != 0 || off.Int64[nlist] != int64(ids.Shape[0]) {
			return nil, fmt.Errorf("inconsistent centroids %v, list_offsets %v and ids %v", c.Shape, off.Shape, ids.Shape)
		}
		v := &IVF{d: d, ip: ip, nlist: nlist, quant: NewFlat(d, ip), lists: make([]ivfList, nlist), n: ids.Shape[0]}
		v.quant.Add(compute.Current(), compute.MatrixOf(nlist, d, c.AsFloat32()))
		var vecs []float32
		var codes *mxnet.NDArray
		if meta.IndexType == IndexIVFPQ {
			cb, err := get("pq_codebooks", 3)
			if err != nil {
				return nil, err
			}
			if codes, err = getInt("codes", 2); err != nil {
				return nil, err
			}
			m, ks, ds := cb.Shape[0], cb.Shape[1], cb.Shape[2]
			if m*ds != d || codes.Shape[1] != m || codes.Shape[0] != v.n || ks < 1 || ks > 256 {
				return nil, fmt.Errorf("inconsistent pq_codebooks %v and codes %v", cb.Shape, codes.Shape)
			}
			v.pq = &PQ{D: d, M: m, DSub: ds, KSub: ks, Codebooks: cb.AsFloat32()}
		} else {
			va, err := get("vectors", 2)
			if err != nil {
				return nil, err
			}
			if va.Shape[0] != v.n || va.Shape[1] != d {
				return nil, fmt.Errorf("vectors %v, want (%d, %d)", va.Shape, v.n, d)
			}
			vecs = va.AsFloat32()
		}
		for l := range nlist {
			lo, hi := int(off.Int64[l]), int(off.Int64[l+1])
			if lo > hi || hi > v.n {
				return nil, fmt.Errorf("list_offsets not ascending at %d", l)
			}
			L := &v.lists[l]
			for _, id := range ids.Int64[lo:hi] {
				if id < 0 || id >= int64(v.n) {
					return nil, fmt.Errorf("id %d out of range", id)
				}
				L.ids = append(L.ids, int32(id))
			}
			if v.pq != nil {
				for _, c := range codes.Int64[lo*v.pq.M : hi*v.pq.M] {
					if c < 0 || c >= int64(v.pq.KSub) {
						return nil, fmt.Errorf("code %d out of range", c)
					}
					L.codes = append(L.codes, uint8(c))
				}
				continue
			}
			L.x = vecs[lo*d : hi*d : hi*d] // no list may grow into the next
			if !ip {
				L.norms = make([]float32, hi-lo)
				compute.Current().RowSquaredNorms(L.norms, compute.MatrixOf(hi-lo, d, L.x))
			}
		}
		if v.pq == nil {
			v.vecs = vecs // the lists tile it in order (offsets checked above)
		}
		return v, nil
	}
	return nil, fmt.Errorf("unknown index_type %q", meta.IndexType)
}
