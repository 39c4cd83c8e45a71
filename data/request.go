package data

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Rulings this package makes where the SageMaker documents leave room
// (see also DECISIONS.md):
//
//   - NaN and infinities are rejected in every input format (training and
//     requests) with a *ParseError: k-means and the other algorithms cannot
//     use them, and Python's float("nan") is the only way to write them.
//   - Numbers in CSV and JSON are read as strconv.ParseFloat(s, 32) reads
//     them; hexadecimal floats and underscores are rejected.
//   - A request without a Content-Type is a 415 (*UnsupportedMediaTypeError);
//     a training channel without one is RecordIO-protobuf.
//   - Labels in RecordIO requests are ignored; CSV requests keep label_size
//     columns as Labels.
//   - JSON responses are compact ({"a":1.0,"b":2.0}); SageMaker's Python
//     writes {"a": 1.0, "b": 2.0}. Both parse identically.
func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// checkCharset accepts a missing charset or UTF-8 (US-ASCII is a subset).
func checkCharset(ct MediaType, supported []string) error {
	cs, ok := ct.Params["charset"]
	if !ok {
		return nil
	}
	switch strings.ToLower(strings.TrimSpace(cs)) {
	case "utf-8", "utf8", "us-ascii":
		return nil
	}
	return &UnsupportedMediaTypeError{Type: ct.String(), Supported: supported}
}

// NewTrainingReader returns the training reader for a channel of content
// type ct: text/csv (label_size parameter, default 1) through NewCSVReader,
// application/x-recordio-protobuf (any parameters) or an empty ct (a channel
// without ContentType) through NewRecordIOReader. Any other type is an
// *UnsupportedMediaTypeError; a bad label_size a *MediaTypeError.
func NewTrainingReader(r io.Reader, ct MediaType, featureDim int) (BatchReader, error) {
	switch ct.Type {
	case CSV:
		if err := checkCharset(ct, trainingTypes); err != nil {
			return nil, err
		}
		ls, err := ct.LabelSize(1)
		if err != nil {
			return nil, err
		}
		return NewCSVReader(r, featureDim, ls), nil
	case RecordIOProtobuf, "":
		return NewRecordIOReader(r, featureDim), nil
	}
	return nil, &UnsupportedMediaTypeError{Type: ct.String(), Supported: trainingTypes}
}

// BOM is the UTF-8 byte order mark, which text bodies and files may start with.
var BOM = []byte{0xef, 0xbb, 0xbf}

// DecodeRequest decodes an inference request body of content type ct into
// a new Batch of featureDim-wide rows (the caller owns it):
//
//   - text/csv: one row per line (\n or \r\n, blank lines skipped), no label
//     column unless ct has label_size=N, then the first N columns are kept
//     as Labels (LabelSize N);
//   - application/json: {"instances": [...]}, each instance
//     {"features": [...]}, {"data": {"features": {"values": [...]}}} or the
//     sparse {"data": {"features": {"keys": [...], "shape": [d], "values":
//     [...]}}}; "configuration" and other keys are ignored;
//   - application/jsonlines: one such instance per line, blank lines skipped;
//   - application/x-recordio-protobuf: RecordIO-framed aialgs.data.Record
//     messages, features["values"] a Float32/Float64/Int32 tensor, dense or
//     sparse; labels are ignored.
//
// The batch is dense unless some row is sparse, then CSR for all rows. An
// empty body gives a batch of 0 rows.
//
// Errors: *UnsupportedMediaTypeError for another type (or charset), a
// *MediaTypeError for a bad label_size, a *ParseError naming line, column,
// instance or record for malformed input (NaN and Inf included), a
// *DimensionError for a row that is not featureDim wide. featureDim <= 0 is
// a plain error (the model's fault, not the caller's).
func DecodeRequest(ct MediaType, body []byte, featureDim int) (*Batch, error) {
	if featureDim <= 0 {
		return nil, fmt.Errorf("data: DecodeRequest needs feature_dim > 0, got %d", featureDim)
	}
	switch ct.Type {
	case CSV, JSON, JSONLines:
		if err := checkCharset(ct, requestTypes); err != nil {
			return nil, err
		}
		// Excel's "CSV UTF-8" and Windows editors start text with a
		// byte order mark; it is no part of the first value.
		body = bytes.TrimPrefix(body, BOM)
	}
	switch ct.Type {
	case CSV:
		ls, err := ct.LabelSize(0)
		if err != nil {
			return nil, err
		}
		return decodeCSV(body, featureDim, ls)
	case JSON:
		return decodeJSON(body, featureDim)
	case JSONLines:
		return decodeJSONLines(body, featureDim)
	case RecordIOProtobuf:
		return decodeRecordIO(body, featureDim)
	}
	return nil, &UnsupportedMediaTypeError{Type: ct.String(), Supported: requestTypes}
}

// densePool holds the dense buffers of request batches handed back with
// Recycle: a 100-row Fashion-MNIST CSV request is 313 KB of rows that the
// allocator would otherwise zero, and the collector sweep, on every
// request.
var densePool sync.Pool // of *[]float32

// pooledDense returns an empty slice with room for n values, recycled
// when one large enough is at hand. Its old contents are not cleared: the
// caller writes every value it appends.
func pooledDense(n int) []float32 {
	if p, _ := densePool.Get().(*[]float32); p != nil && cap(*p) >= n {
		return (*p)[:0]
	}
	return make([]float32, 0, n)
}

// pooledRows is pooledDense with room for rows dense rows of cols values,
// at most as many as a body of size bytes can hold at minBytes bytes a
// value: the row count is a hint from a quick scan, and this bound keeps a
// body that lies about it from reserving more than its own size allows.
func pooledRows(rows, cols, size, minBytes int) []float32 {
	return pooledDense(rowsBound(rows, cols, size, minBytes) * max(cols, 1))
}

// rowsBound is rows, at most as many rows of cols values as size bytes
// hold at minBytes bytes a value.
func rowsBound(rows, cols, size, minBytes int) int {
	return min(rows, size/(minBytes*max(cols, 1))+1)
}

// Recycle hands the buffers of a batch that DecodeRequest returned back
// for a later request to reuse. Neither b nor anything read from it (its
// slices, predictions that alias them) may be used afterwards.
func Recycle(b *Batch) {
	if b == nil || cap(b.Dense) == 0 {
		return
	}
	d := b.Dense[:0]
	*b = Batch{}
	densePool.Put(&d)
}
