package data

import (
	"errors"
	"io"

	"google.golang.org/protobuf/proto"

	"github.com/sagebrush-ml/sagebrush/recordio"
	"github.com/sagebrush-ml/sagebrush/recordio/aialgs"
)

// protoDecoder turns aialgs.Record payloads into batch rows, reusing its
// scratch between records.
type protoDecoder struct {
	general  bool // no dense-row fast path (tests compare the two)
	fast     wireRecord
	rec      aialgs.Record
	scratch  []float32
	lscratch []float32
	keys     []uint64
	shape    []uint64
}

// tensor returns the values, keys and shape of v as float32 (converted from
// float64 or int32); the values may alias d.scratch or the message.
func (d *protoDecoder) tensor(v *aialgs.Value) (vals []float32, keys, shape []uint64, msg string) {
	switch t := v.GetValue().(type) {
	case *aialgs.Value_Float32Tensor:
		return t.Float32Tensor.GetValues(), t.Float32Tensor.GetKeys(), t.Float32Tensor.GetShape(), ""
	case *aialgs.Value_Float64Tensor:
		d.scratch = d.scratch[:0]
		for _, x := range t.Float64Tensor.GetValues() {
			d.scratch = append(d.scratch, float32(x))
		}
		return d.scratch, t.Float64Tensor.GetKeys(), t.Float64Tensor.GetShape(), ""
	case *aialgs.Value_Int32Tensor:
		d.scratch = d.scratch[:0]
		for _, x := range t.Int32Tensor.GetValues() {
			d.scratch = append(d.scratch, float32(x))
		}
		return d.scratch, t.Int32Tensor.GetKeys(), t.Int32Tensor.GetShape(), ""
	case nil:
		return nil, nil, nil, "holds no tensor"
	}
	return nil, nil, nil, "holds bytes, not a float32, float64 or int32 tensor"
}

// decode appends the record in payload (index idx) to bl. It reports the
// record's first label value when it has label["values"].
func (d *protoDecoder) decode(payload []byte, idx int, bl *builder) (label float32, hasLabel bool, err error) {
	perr := func(msg string, err error) error {
		return &ParseError{What: "record", Record: idx, Msg: msg, Err: err}
	}
	var vals []float32
	var keys, shape []uint64
	var lvals []float32
	var msg string
	hasFeatures, hasLabelField := false, false
	if f, l, ok := d.fast.parse(payload); ok {
		hasFeatures, hasLabelField = f.present, l.present
		if hasLabelField {
			lvals, _, _ = d.fast.convert(l, &d.lscratch, nil, nil)
		}
		if hasFeatures {
			// The common record, a dense float32 row of the right width
			// with a good label or none, goes straight into the batch:
			// one pass, no scratch copy. Anything else, a NaN or Inf
			// included, takes the general path, which names the problem.
			if !d.general && f.kind == valueFloat32 && len(f.keys) == 0 && !bl.sparse && bl.cols > 0 && len(f.values) == 4*bl.cols &&
				(!hasLabelField || len(lvals) > 0 && finite(lvals[0])) {
				if float32sFrom(bl.denseRow(), f.values) {
					if hasLabelField {
						return lvals[0], true, nil
					}
					return 0, false, nil
				}
				bl.unDenseRow()
			}
			vals, keys, shape = d.fast.convert(f, &d.scratch, &d.keys, &d.shape)
		}
	} else {
		if err := (proto.UnmarshalOptions{}).Unmarshal(payload, &d.rec); err != nil {
			return 0, false, perr("not a valid aialgs.data.Record protobuf message: "+err.Error(), err)
		}
		if lv := d.rec.Label["values"]; lv != nil {
			hasLabelField = true
			lvals, _, _, msg = d.tensor(lv)
			if msg != "" {
				return 0, false, perr(`label["values"] `+msg, nil)
			}
			lvals = append(d.lscratch[:0], lvals...)
			d.lscratch = lvals
		}
		if fv := d.rec.Features["values"]; fv != nil {
			hasFeatures = true
			vals, keys, shape, msg = d.tensor(fv)
			if msg != "" {
				return 0, false, perr(`features["values"] `+msg, nil)
			}
		}
	}
	if hasLabelField {
		if len(lvals) == 0 {
			return 0, false, perr(`label["values"] is empty`, nil)
		}
		if !finite(lvals[0]) {
			return 0, false, perr("label "+string(AppendPythonFloat(nil, float64(lvals[0])))+" is not a finite float32", nil)
		}
		label, hasLabel = lvals[0], true
	}
	if !hasFeatures {
		return 0, false, perr(`has no features["values"]`, nil)
	}
	for _, v := range vals {
		if !finite(v) {
			return 0, false, perr("feature value "+string(AppendPythonFloat(nil, float64(v)))+" is not a finite float32", nil)
		}
	}
	cols := bl.cols
	if len(keys) > 0 || (len(vals) == 0 && len(shape) > 0) {
		// Sparse: keys index the flattened tensor of the given shape.
		if dim, counts := checkSparse(idx, shape, keys, len(vals), cols); dim != nil {
			return 0, false, dim
		} else if counts != "" {
			return 0, false, perr("sparse tensor has "+counts, nil)
		}
		if msg := bl.addSparse(keys, vals); msg != "" {
			return 0, false, perr(msg, nil)
		}
		return label, hasLabel, nil
	}
	if len(vals) != cols {
		return 0, false, &DimensionError{Record: idx, Got: len(vals), Want: cols}
	}
	bl.addDense(vals)
	return label, hasLabel, nil
}

// decodeRecordIO decodes a whole application/x-recordio-protobuf request
// body. Labels in the records are ignored.
func decodeRecordIO(body []byte, featureDim int) (*Batch, error) {
	b := new(Batch)
	var bl builder
	bl.reset(b, featureDim)
	// Room for as many rows as the body holds at 4 bytes a value (a
	// Float32Tensor; float64 bodies get twice the room, Int32Tensor ones
	// grow the slice).
	bl.dense = pooledRows(len(body), featureDim, len(body), 4)
	var d protoDecoder
	rr := recordio.NewReader(bytesReader(body))
	rr.MaxRecordSize = len(body) + 8 // no record is longer than the body
	for i := 0; ; i++ {
		p, err := rr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, wrapRecordIO(i, err)
		}
		if _, _, err := d.decode(p, i, &bl); err != nil {
			return nil, err
		}
	}
	return bl.finish(0), nil
}

func wrapRecordIO(i int, err error) error {
	var pe *recordio.ParseError
	if errors.As(err, &pe) {
		return &ParseError{What: "record", Record: pe.Record, Msg: "bad RecordIO framing at byte offset " + itoa(pe.Offset) + ": " + pe.Err.Error(), Err: err}
	}
	return err
}

// NewRecordIOReader returns a training reader of application/x-recordio-protobuf
// data: RecordIO-framed aialgs.data.Record messages with the features in
// features["values"] (a Float32Tensor, Float64Tensor or Int32Tensor, dense
// with featureDim values or sparse with keys < featureDim) and, optionally,
// the label in label["values"] (its first value; LabelSize 1). Either every
// record has a label or none does (then Labels is nil).
//
// A batch is dense when all its rows are dense, CSR (keys sorted) otherwise;
// sparse data is never densified. The reader holds one mini-batch and reuses
// it (see BatchReader).
//
// Errors: bad framing or protobuf, a missing features["values"], repeated
// sparse keys, NaN/Inf, or labels in some records only are a *ParseError
// naming the record; a wrong width a *DimensionError. Errors are sticky.
func NewRecordIOReader(r io.Reader, featureDim int) BatchReader {
	return &recordIOReader{rr: recordio.NewReader(r), featureDim: featureDim}
}

type recordIOReader struct {
	rr         *recordio.Reader
	featureDim int
	d          protoDecoder
	b          Batch
	bl         builder
	record     int
	labeled    int // 0 unknown, 1 labeled, -1 unlabeled
	err        error
}

func (r *recordIOReader) Read(n int) (*Batch, error) {
	if r.err != nil {
		return nil, r.err
	}
	if n <= 0 {
		return nil, errors.New("data: Read needs a positive batch size")
	}
	r.bl.reset(&r.b, r.featureDim)
	r.bl.reserve(n)
	for r.b.Rows < n {
		p, err := r.rr.Read()
		if err == io.EOF {
			r.err = io.EOF
			if r.b.Rows > 0 {
				break
			}
			return nil, io.EOF
		}
		if err != nil {
			r.err = wrapRecordIO(r.record, err)
			return nil, r.err
		}
		label, has, err := r.d.decode(p, r.record, &r.bl)
		if err != nil {
			r.err = err
			return nil, err
		}
		switch {
		case r.labeled == 0 && has:
			r.labeled = 1
		case r.labeled == 0:
			r.labeled = -1
		case r.labeled == 1 && !has:
			r.err = &ParseError{What: "record", Record: r.record, Msg: `has no label["values"] but earlier records have labels`}
			return nil, r.err
		case r.labeled == -1 && has:
			r.err = &ParseError{What: "record", Record: r.record, Msg: `has a label["values"] but earlier records have none`}
			return nil, r.err
		}
		if has {
			r.bl.labels = append(r.bl.labels, label)
		}
		r.record++
	}
	ls := 0
	if r.labeled == 1 {
		ls = 1
	}
	return r.bl.finish(ls), nil
}
