package data

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"math"
	"mime"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/sagebrush-ml/sagebrush/recordio"
	"github.com/sagebrush-ml/sagebrush/recordio/aialgs"
	"github.com/sagebrush-ml/sagebrush/recordio/recordiotest"
)

var update = flag.Bool("update", false, "rewrite golden files in ../testdata/data")

const sdkDir = "../testdata/sdk"

type expectedFile struct {
	Rows       [][]float64 `json:"rows"`
	SparseRows []struct {
		Keys   []int32   `json:"keys"`
		Values []float32 `json:"values"`
	} `json:"sparse_rows"`
	Shape      []int     `json:"shape"`
	Labels     []float32 `json:"labels"`
	NRows      int       `json:"n_rows"`
	FeatureDim int       `json:"feature_dim"`
	FirstSum   float64   `json:"first_row_sum"`
}

func loadExpected(t testing.TB) map[string]expectedFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(sdkDir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]expectedFile
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(sdkDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readAll reads every row with batches of n, returning copies.
func readAll(t testing.TB, r BatchReader, n int) (rows [][]float32, labels []float32, sizes []int, sparse []bool) {
	t.Helper()
	for {
		b, err := r.Read(n)
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		checkBatch(t, b)
		sizes = append(sizes, b.Rows)
		sparse = append(sparse, b.Sparse())
		for i := 0; i < b.Rows; i++ {
			rows = append(rows, b.RowTo(nil, i))
		}
		if b.Labels != nil {
			labels = append(labels, b.Labels...)
		}
	}
}

// checkBatch checks the Batch invariants.
func checkBatch(t testing.TB, b *Batch) {
	t.Helper()
	if b.Rows < 0 || b.Cols <= 0 {
		t.Fatalf("batch has %d rows of %d cols", b.Rows, b.Cols)
	}
	if b.Sparse() {
		if len(b.Indptr) != b.Rows+1 || b.Indptr[0] != 0 || b.Indptr[b.Rows] != len(b.Indices) || len(b.Indices) != len(b.Values) {
			t.Fatalf("bad CSR: rows %d indptr %v, %d indices, %d values", b.Rows, b.Indptr, len(b.Indices), len(b.Values))
		}
		for i := 0; i < b.Rows; i++ {
			if b.Indptr[i] > b.Indptr[i+1] {
				t.Fatalf("indptr not ascending at row %d", i)
			}
			for p := b.Indptr[i]; p < b.Indptr[i+1]; p++ {
				if b.Indices[p] < 0 || int(b.Indices[p]) >= b.Cols || (p > b.Indptr[i] && b.Indices[p] <= b.Indices[p-1]) {
					t.Fatalf("row %d: bad indices %v", i, b.Indices[b.Indptr[i]:b.Indptr[i+1]])
				}
			}
		}
	} else if len(b.Dense) != b.Rows*b.Cols || b.Dense == nil {
		t.Fatalf("dense batch: len(Dense) = %d, want %d×%d", len(b.Dense), b.Rows, b.Cols)
	}
	if b.LabelSize > 0 && len(b.Labels) != b.Rows*b.LabelSize {
		t.Fatalf("%d labels for %d rows of label size %d", len(b.Labels), b.Rows, b.LabelSize)
	}
	for _, v := range append(append([]float32(nil), b.Dense...), b.Values...) {
		if !finite(v) {
			t.Fatalf("non-finite value %v", v)
		}
	}
}

func batchRows(b *Batch) [][]float32 {
	var rows [][]float32
	for i := 0; i < b.Rows; i++ {
		rows = append(rows, b.RowTo(nil, i))
	}
	return rows
}

// wantRows converts expected.json rows to float32 rows.
func (e expectedFile) wantRows() [][]float32 {
	var rows [][]float32
	for _, r := range e.Rows {
		row := make([]float32, len(r))
		for j, v := range r {
			row[j] = float32(v)
		}
		rows = append(rows, row)
	}
	for _, r := range e.SparseRows {
		row := make([]float32, e.Shape[0])
		for j, k := range r.Keys {
			row[k] = r.Values[j]
		}
		rows = append(rows, row)
	}
	return rows
}

func TestSDKFiles(t *testing.T) {
	exp := loadExpected(t)
	for _, name := range []string{"dense_f32_labeled.rec", "dense_f64_unlabeled.rec", "dense_int_labeled.rec", "sparse_f32_labeled.rec"} {
		e := exp[name]
		want := e.wantRows()
		dim := len(want[0])
		body := readFile(t, name)
		t.Run(name+"/reader", func(t *testing.T) {
			rows, labels, _, sparse := readAll(t, NewRecordIOReader(bytes.NewReader(body), dim), 4)
			if !reflect.DeepEqual(rows, want) {
				t.Errorf("got rows %v, want %v", rows, want)
			}
			if !reflect.DeepEqual(labels, e.Labels) {
				t.Errorf("got labels %v, want %v", labels, e.Labels)
			}
			if got := sparse[0]; got != (e.SparseRows != nil) {
				t.Errorf("got sparse %v, want %v", got, e.SparseRows != nil)
			}
		})
		t.Run(name+"/request", func(t *testing.T) {
			b, err := DecodeRequest(MediaType{Type: RecordIOProtobuf}, body, dim)
			if err != nil {
				t.Fatal(err)
			}
			checkBatch(t, b)
			if got := batchRows(b); !reflect.DeepEqual(got, want) {
				t.Errorf("got rows %v, want %v", got, want)
			}
		})
	}
}

func TestFashion(t *testing.T) {
	exp := loadExpected(t)["fashion_head50.rec"]
	rec := readFile(t, "fashion_head50.rec")
	wantRows, wantLabels, _, _ := readAll(t, NewRecordIOReader(bytes.NewReader(rec), 784), 50)
	if len(wantRows) != exp.NRows || !reflect.DeepEqual(wantLabels, exp.Labels) {
		t.Fatalf("rec: got %d rows, labels %v; want %d rows, labels %v", len(wantRows), wantLabels, exp.NRows, exp.Labels)
	}
	var sum float64
	for _, v := range wantRows[0] {
		sum += float64(v)
	}
	if math.Abs(sum-exp.FirstSum) > 1e-3 {
		t.Errorf("first row sums to %v, want %v", sum, exp.FirstSum)
	}
	gz, err := gzip.NewReader(bytes.NewReader(readFile(t, "fashion_head50.rec.gz")))
	if err != nil {
		t.Fatal(err)
	}
	csvBody := readFile(t, "fashion_head50.csv")
	for _, tc := range []struct {
		name string
		r    BatchReader
	}{
		{"gzip", NewRecordIOReader(gz, 784)},
		{"csv", NewCSVReader(bytes.NewReader(csvBody), 784, 1)},
		{"csv/learned-dim", NewCSVReader(bytes.NewReader(csvBody), 0, 1)},
		{"csv/training-ct", mustTraining(t, CSV, csvBody)},
		{"csv/crlf", NewCSVReader(bytes.NewReader(bytes.ReplaceAll(csvBody, []byte("\n"), []byte("\r\n"))), 784, 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, labels, sizes, _ := readAll(t, tc.r, 7)
			if !reflect.DeepEqual(rows, wantRows) {
				t.Errorf("rows differ from fashion_head50.rec")
			}
			if !reflect.DeepEqual(labels, wantLabels) {
				t.Errorf("got labels %v, want %v", labels, wantLabels)
			}
			if want := []int{7, 7, 7, 7, 7, 7, 7, 1}; !reflect.DeepEqual(sizes, want) {
				t.Errorf("got batch sizes %v, want %v", sizes, want)
			}
			if _, err := tc.r.Read(7); err != io.EOF {
				t.Errorf("Read after the end: got %v, want io.EOF", err)
			}
		})
	}
}

func mustTraining(t *testing.T, ct string, body []byte) BatchReader {
	mt, err := ParseMediaType(ct)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewTrainingReader(bytes.NewReader(body), mt, 784)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestTrainingReaderContentTypes(t *testing.T) {
	for _, tc := range []struct {
		name, ct  string
		body      string
		wantLabel int
		wantErr   any
	}{
		{"csv default label", "text/csv", "1,2,3\n", 1, nil},
		{"csv label_size=0", "text/csv;label_size=0", "1,2\n", 0, nil},
		{"csv label_size spaced", "text/csv; label_size=0", "1,2\n", 0, nil},
		{"csv charset", "text/csv; charset=utf-8", "1,2,3\n", 1, nil},
		{"csv bad charset", "text/csv; charset=latin1", "1,2,3\n", 0, new(*UnsupportedMediaTypeError)},
		{"csv bad label_size", "text/csv;label_size=x", "1,2,3\n", 0, new(*MediaTypeError)},
		{"plain", "text/plain", "", 0, new(*UnsupportedMediaTypeError)},
		{"json", "application/json", "", 0, new(*UnsupportedMediaTypeError)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mt, err := ParseMediaType(tc.ct)
			if err != nil {
				t.Fatal(err)
			}
			r, err := NewTrainingReader(strings.NewReader(tc.body), mt, 2)
			if tc.wantErr != nil {
				if !errors.As(err, tc.wantErr) {
					t.Fatalf("got error %v, want %T", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, err := r.Read(10)
			if err != nil {
				t.Fatal(err)
			}
			if b.LabelSize != tc.wantLabel || b.Rows != 1 {
				t.Errorf("got %d rows, label size %d; want 1, %d", b.Rows, b.LabelSize, tc.wantLabel)
			}
		})
	}
	// Empty and parameterised RecordIO types read RecordIO.
	rec := readFile(t, "dense_f32_labeled.rec")
	for _, ct := range []string{"", "application/x-recordio-protobuf", "application/x-recordio-protobuf; charset=binary"} {
		mt, _ := ParseMediaType(ct)
		r, err := NewTrainingReader(bytes.NewReader(rec), mt, 4)
		if err != nil {
			t.Fatalf("%q: %v", ct, err)
		}
		if b, err := r.Read(10); err != nil || b.Rows != 5 {
			t.Errorf("%q: got %v, %v; want 5 rows", ct, b, err)
		}
	}
}

func TestCSVReaderErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		dim, ls    int
		wantRows   int
		wantErr    string
	}{
		{"ok with spaces, blank lines, no final newline", " 1 , 2.5,3\n\n\r\n4,5,6", 2, 1, 2, ""},
		{"column count", "1,2,3\n1,2,3\n1,2,3\n1,2\n", 2, 1, 0, "line 4 has 2 columns; expected 3 (1 label + 2 features)"},
		{"column count no label", "1,2\n1,2,3\n", 2, 0, 0, "line 2 has 3 columns; expected 2"},
		{"one column", "1,2\n7\n", 2, 0, 0, "line 2 has 1 column; expected 2"},
		{"not a number", "1,2,3\n\n1,abc,3\n", 2, 1, 0, `line 3, column 2: "abc" is not a number`},
		{"empty field", "1,,3\n", 2, 1, 0, `line 1, column 2: empty field is not a number`},
		{"nan", "1,nan,3\n", 2, 1, 0, `line 1, column 2: "nan" is not a finite number`},
		{"inf label", "inf,1,3\n", 2, 1, 0, `line 1, column 1: "inf" is not a finite number`},
		{"overflow", "1,1e39,3\n", 2, 1, 0, `line 1, column 2: "1e39" is out of range for float32`},
		{"hex", "1,0x1p-2,3\n", 2, 1, 0, `line 1, column 2: "0x1p-2" is not a number`},
		{"header", "label,a,b\n", 2, 1, 0, `line 1, column 1: "label" is not a number`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewCSVReader(strings.NewReader(tc.body), tc.dim, tc.ls)
			n := 0
			var err error
			for {
				var b *Batch
				b, err = r.Read(100)
				if err != nil {
					break
				}
				n += b.Rows
			}
			if tc.wantErr == "" {
				if err != io.EOF || n != tc.wantRows {
					t.Errorf("got %d rows, %v; want %d rows, EOF", n, err, tc.wantRows)
				}
				return
			}
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("got error %v, want %q", err, tc.wantErr)
			}
			var ce interface{ ClientError() bool }
			if !errors.As(err, &ce) || !ce.ClientError() {
				t.Errorf("error %T is not a ClientError", err)
			}
		})
	}
}

// recordBytes frames records as the SDK does; f32 is a Float32Tensor
// value (sparse with keys and shape).
var (
	recordBytes = recordiotest.Records
	f32         = recordiotest.Float32
)

func rec(features, label *aialgs.Value) *aialgs.Record {
	r := &aialgs.Record{Features: map[string]*aialgs.Value{}}
	if features != nil {
		r.Features["values"] = features
	}
	if label != nil {
		r.Label = map[string]*aialgs.Value{"values": label}
	}
	return r
}

func TestRecordIOReader(t *testing.T) {
	lab := f32([]float32{1}, nil, nil)
	for _, tc := range []struct {
		name     string
		recs     []*aialgs.Record
		wantRows [][]float32
		wantCSR  []bool
		wantErr  string
	}{
		{"mixed dense and sparse is CSR", []*aialgs.Record{
			rec(f32([]float32{1, 0, 2}, nil, nil), nil),
			rec(f32([]float32{5, 4}, []uint64{2, 0}, []uint64{3}), nil), // unsorted keys
			rec(f32([]float32{0, 0, 3}, nil, nil), nil),
		}, [][]float32{{1, 0, 2}, {4, 0, 5}, {0, 0, 3}}, []bool{true}, ""},
		{"empty sparse row", []*aialgs.Record{rec(f32(nil, nil, []uint64{3}), nil)}, [][]float32{{0, 0, 0}}, []bool{true}, ""},
		// The SDK writes a scipy matrix's own width, which may leave out
		// trailing columns no row uses.
		{"sparse shape below feature_dim", []*aialgs.Record{rec(f32([]float32{7}, []uint64{1}, []uint64{2}), nil)}, [][]float32{{0, 7, 0}}, []bool{true}, ""},
		{"float64 and int32", []*aialgs.Record{
			rec(&aialgs.Value{Value: &aialgs.Value_Float64Tensor{Float64Tensor: &aialgs.Float64Tensor{Values: []float64{0.1, 2, 3}}}}, nil),
			rec(&aialgs.Value{Value: &aialgs.Value_Int32Tensor{Int32Tensor: &aialgs.Int32Tensor{Values: []int32{-1, 2, 3}}}}, nil),
		}, [][]float32{{0.1, 2, 3}, {-1, 2, 3}}, []bool{false}, ""},
		{"no features", []*aialgs.Record{rec(f32([]float32{1, 2, 3}, nil, nil), nil), rec(nil, nil)}, nil, nil, `record 1: has no features["values"]`},
		{"dense width", []*aialgs.Record{rec(f32([]float32{1, 2}, nil, nil), nil)}, nil, nil, "record 0 has 2 features; feature_dim is 3"},
		{"sparse key", []*aialgs.Record{rec(f32([]float32{1}, []uint64{3}, []uint64{3}), nil)}, nil, nil, "record 0: sparse key 3 is out of range for feature_dim 3"},
		{"sparse shape", []*aialgs.Record{rec(f32([]float32{1}, []uint64{1}, []uint64{4}), nil)}, nil, nil, "record 0: sparse tensor shape has 4 elements; feature_dim is 3"},
		{"duplicate key", []*aialgs.Record{rec(f32([]float32{1, 2}, []uint64{1, 1}, []uint64{3}), nil)}, nil, nil, "record 0: sparse key 1 is repeated"},
		{"keys and values differ", []*aialgs.Record{rec(f32([]float32{1, 2}, []uint64{1}, []uint64{3}), nil)}, nil, nil, "record 0: sparse tensor has 1 keys and 2 values"},
		{"nan", []*aialgs.Record{rec(f32([]float32{1, float32(math.NaN()), 2}, nil, nil), nil)}, nil, nil, "record 0: feature value nan is not a finite float32"},
		{"labels then none", []*aialgs.Record{rec(f32([]float32{1, 2, 3}, nil, nil), lab), rec(f32([]float32{1, 2, 3}, nil, nil), nil)}, nil, nil, `record 1: has no label["values"] but earlier records have labels`},
		{"none then labels", []*aialgs.Record{rec(f32([]float32{1, 2, 3}, nil, nil), nil), rec(f32([]float32{1, 2, 3}, nil, nil), lab)}, nil, nil, `record 1: has a label["values"] but earlier records have none`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRecordIOReader(bytes.NewReader(recordBytes(t, tc.recs...)), 3)
			var rows [][]float32
			var csr []bool
			var err error
			for {
				var b *Batch
				if b, err = r.Read(10); err != nil {
					break
				}
				checkBatch(t, b)
				rows = append(rows, batchRows(b)...)
				csr = append(csr, b.Sparse())
			}
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("got error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != io.EOF {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(rows, tc.wantRows) || !reflect.DeepEqual(csr, tc.wantCSR) {
				t.Errorf("got rows %v (sparse %v), want %v (sparse %v)", rows, csr, tc.wantRows, tc.wantCSR)
			}
		})
	}
	t.Run("bad framing", func(t *testing.T) {
		_, err := NewRecordIOReader(strings.NewReader("not recordio at all"), 3).Read(1)
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Record != 0 {
			t.Errorf("got %v, want a *ParseError for record 0", err)
		}
	})
}

// Request bodies from data-formats.md §3.
const (
	specDense        = `{"instances": [{"features": [1.5, 16.0, 14.0, 23.0]}]}`
	specDenseData    = `{"instances": [{"data": {"features": {"values": [ 1.5, 16.0, 14.0, 23.0]}}}]}`
	specMulti        = `{"instances": [{"features": [ 1.5, 16.0, 14.0, 23.0 ]}, {"configuration": {"k": [1, {"x": null}]}, "features": [ -2.0, 100.2, 15.2, 9.2 ]}]}`
	specSparse       = `{"instances": [{"data": {"features": {"keys": [26, 182, 232, 243, 431], "shape": [2000], "values": [1, 1, 1, 4, 1]}}}, {"data": {"features": {"keys": [0, 182, 232, 243, 431], "shape": [2000], "values": [13, 1, 1, 4, 1]}}}]}`
	specJSONLines    = "{\"data\": {\"features\": { \"keys\": [0, 1, 3], \"shape\": [4], \"values\": [1, 4, 1] } } }\n{ \"data\": { \"features\": { \"values\": [ 1.5, 16.0, 14.0, 23.0] } } }\n{ \"features\": [1.5, 16.0, 14.0, 23.0] }\n"
	specJSONLinesBad = "{\"data\": {\"features\": { \"keys\": [0, 1, 3], \"shape\": [4], \"values\": [1, 4, 1] } } }\n{ \"data\": { \"features\": { \"values\": [ 1.5, 16.0, 14.0, 23.0] } }\n{ \"features\": [1.5, 16.0, 14.0, 23.0] }\n"
)

func sparseRow(dim int, kv ...float32) []float32 {
	r := make([]float32, dim)
	for i := 0; i < len(kv); i += 2 {
		r[int(kv[i])] = kv[i+1]
	}
	return r
}

func TestDecodeRequest(t *testing.T) {
	row := []float32{1.5, 16, 14, 23}
	for _, tc := range []struct {
		name, ct, body string
		dim            int
		want           [][]float32
		wantSparse     bool
		wantLabels     []float32
	}{
		{"csv one row", "text/csv", "1.5,16.0,14,23.0", 4, [][]float32{row}, false, nil},
		{"csv label_size=0", "text/csv;label_size=0", "1.5,16.0,14,23.0\n", 4, [][]float32{row}, false, nil},
		{"csv rows crlf blank", "text/csv; charset=utf-8", "1.5,16.0,14,23.0\r\n\r\n-2,100.2,15.2,9.2\r\n", 4, [][]float32{row, {-2, 100.2, 15.2, 9.2}}, false, nil},
		{"csv label_size=1", "text/csv;label_size=1", "7,1.5,16.0,14,23.0\n8,1.5,16.0,14,23.0", 4, [][]float32{row, row}, false, []float32{7, 8}},
		{"csv label_size spaced", "text/csv; label_size=1", "7,1.5,16.0,14,23.0", 4, [][]float32{row}, false, []float32{7}},
		{"csv empty", "text/csv", "", 4, nil, false, nil},
		// Excel's "CSV UTF-8" and Windows editors start with a byte order mark.
		{"csv byte order mark", "text/csv", "\xef\xbb\xbf1.5,16.0,14,23.0", 4, [][]float32{row}, false, nil},
		// Files joined into one body (a batch transform input made by cat) keep theirs.
		{"csv byte order marks of joined files", "text/csv", "\xef\xbb\xbf1.5,16.0,14,23.0\n\xef\xbb\xbf1.5,16.0,14,23.0\n\xef\xbb\xbf\n", 4, [][]float32{row, row}, false, nil},
		{"json byte order mark", "application/json", "\xef\xbb\xbf" + specDense, 4, [][]float32{row}, false, nil},
		{"jsonlines byte order mark", "application/jsonlines", "\xef\xbb\xbf{\"features\":[1.5,16,14,23]}", 4, [][]float32{row}, false, nil},
		{"json dense", "application/json", specDense, 4, [][]float32{row}, false, nil},
		{"json data.features.values", "application/json", specDenseData, 4, [][]float32{row}, false, nil},
		{"json multi with configuration", "application/json", specMulti, 4, [][]float32{row, {-2, 100.2, 15.2, 9.2}}, false, nil},
		{"json sparse", "application/json", specSparse, 2000, [][]float32{
			sparseRow(2000, 26, 1, 182, 1, 232, 1, 243, 4, 431, 1),
			sparseRow(2000, 0, 13, 182, 1, 232, 1, 243, 4, 431, 1)}, true, nil},
		// The guide's dataElement example: empty keys are dense.
		{"json sparse shape below feature_dim", "application/json", `{"instances":[{"data":{"features":{"keys":[1],"values":[7],"shape":[2]}}}]}`, 4, [][]float32{{0, 7, 0, 0}}, true, nil},
		{"json empty keys dense", "application/json", `{"instances":[{"data":{"features":{"keys":[],"values":[1.5,16,14,23],"shape":[4]}}}]}`, 4, [][]float32{row}, false, nil},
		{"json empty keys and values", "application/json", `{"instances":[{"data":{"features":{"keys":[],"values":[],"shape":[4]}}}]}`, 4, [][]float32{{0, 0, 0, 0}}, true, nil},
		{"json data.features array", "application/json", `{"instances":[{"data":{"features":[1.5,16,14,23]}}]}`, 4, [][]float32{row}, false, nil},
		{"json escaped key", "application/json", `{"inst\u0061nces":[{"f\u0065atures":[1.5,16,14,23]}], "other": "x\"y"}`, 4, [][]float32{row}, false, nil},
		{"json empty instances", "application/json", `{"instances": []}`, 4, nil, false, nil},
		{"json empty body", "application/json", "  ", 4, nil, false, nil},
		{"jsonlines mixed", "application/jsonlines", specJSONLines, 4, [][]float32{{1, 4, 0, 1}, row, row}, true, nil},
		{"jsonlines blank lines", "application/jsonlines", "\n{\"features\":[1.5,16,14,23]}\n\n  \n{\"features\":[1.5,16,14,23]}", 4, [][]float32{row, row}, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mt, err := ParseMediaType(tc.ct)
			if err != nil {
				t.Fatal(err)
			}
			b, err := DecodeRequest(mt, []byte(tc.body), tc.dim)
			if err != nil {
				t.Fatal(err)
			}
			checkBatch(t, b)
			if got := batchRows(b); !reflect.DeepEqual(got, tc.want) || b.Sparse() != tc.wantSparse {
				t.Errorf("got %v (sparse %v), want %v (sparse %v)", got, b.Sparse(), tc.want, tc.wantSparse)
			}
			if !reflect.DeepEqual(b.Labels, tc.wantLabels) {
				t.Errorf("got labels %v, want %v", b.Labels, tc.wantLabels)
			}
		})
	}
}

func TestDecodeRequestErrors(t *testing.T) {
	for _, tc := range []struct {
		name, ct, body string
		wantErr        any
		wantMsg        string
	}{
		{"jsonlines missing brace", "application/jsonlines", specJSONLinesBad, new(*ParseError), "line 2, column 65: unexpected end of JSON input, expected ',' or '}'"},
		{"csv columns", "text/csv", "1,2,3,4\n1,2,3", new(*DimensionError), "line 2 has 3 columns; expected 4"},
		{"csv text", "text/csv", "1,2,x,4", new(*ParseError), `line 1, column 3: "x" is not a number`},
		{"json width", "application/json", `{"instances":[{"features":[1,2,3,4]},{"features":[1,2,3]}]}`, new(*DimensionError), "record 1 has 3 features; feature_dim is 4"},
		{"json features not numbers", "application/json", `{"instances":[{"features":[1,2,3,4]},{"features":[1,2,3,4]},{"features":"abc"}]}`, new(*ParseError), `instance 2, line 1, column 73: "features" must be an array of numbers or an object with "values"`},
		{"json string in array", "application/json", `{"instances":[{"features":[1,"2",3,4]}]}`, new(*ParseError), `instance 0, line 1, column 30: "features" must be an array of numbers`},
		{"json no features", "application/json", `{"instances":[{"configuration":{}}]}`, new(*ParseError), `instance 0: has no "features" (expected {"features": [...]} or {"data": {"features": {"values": [...]}}})`},
		{"json no instances", "application/json", `{"features":[1,2,3,4]}`, new(*ParseError), `the request has no "instances" array`},
		{"json trailing", "application/json", `{"instances":[]} x`, new(*ParseError), `line 1, column 18: invalid character 'x' after the top-level object`},
		{"json array top", "application/json", `[1,2,3,4]`, new(*ParseError), `line 1, column 1: invalid character '[', expected {"instances": [...]}`},
		{"json sparse key", "application/json", `{"instances":[{"data":{"features":{"keys":[4],"values":[1]}}}]}`, new(*DimensionError), "record 0: sparse key 4 is out of range for feature_dim 4"},
		{"json sparse counts", "application/json", `{"instances":[{"data":{"features":{"keys":[0,1],"values":[1]}}}]}`, new(*ParseError), "instance 0: sparse features have 2 keys and 1 values"},
		{"json sparse shape", "application/json", `{"instances":[{"data":{"features":{"shape":[5],"keys":[0],"values":[1]}}}]}`, new(*DimensionError), "record 0: sparse tensor shape has 5 elements; feature_dim is 4"},
		{"json sparse repeated key", "application/json", `{"instances":[{"data":{"features":{"keys":[2,0,2],"values":[1,2,3]}}}]}`, new(*ParseError), "instance 0: sparse key 2 is repeated"},
		{"json negative key", "application/json", `{"instances":[{"data":{"features":{"keys":[-1],"values":[1]}}}]}`, new(*ParseError), `instance 0, line 1, column 44: "keys" must hold non-negative integers, not -1`},
		{"json bad number", "application/json", `{"instances":[{"features":[1,2,3,01]}]}`, new(*ParseError), `instance 0, line 1, column 35: invalid character '1', expected ',' or ']'`},
		{"json overflow", "application/json", `{"instances":[{"features":[1,2,3,1e40]}]}`, new(*ParseError), `instance 0, line 1, column 34: "1e40" is out of range for float32`},
		{"text/plain", "text/plain", "1,2", new(*UnsupportedMediaTypeError), `content type "text/plain" is not supported: expected one of text/csv, application/json, application/jsonlines, application/x-recordio-protobuf`},
		{"missing", "", "1,2", new(*UnsupportedMediaTypeError), `content type is missing: expected one of text/csv, application/json, application/jsonlines, application/x-recordio-protobuf`},
		{"bad label_size", "text/csv;label_size=-1", "1,2", new(*MediaTypeError), `media type "text/csv; label_size=-1" is malformed: label_size "-1" is not a non-negative integer`},
		{"recordio garbage", "application/x-recordio-protobuf", "garbage!", new(*ParseError), "record 0: bad RecordIO framing at byte offset 0: bad magic number (want 0xced7230a): found 0x62726167"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mt, err := ParseMediaType(tc.ct)
			if err != nil {
				t.Fatal(err)
			}
			_, err = DecodeRequest(mt, []byte(tc.body), 4)
			if !errors.As(err, tc.wantErr) {
				t.Fatalf("got error %T %v, want %T", err, err, tc.wantErr)
			}
			if err.Error() != tc.wantMsg {
				t.Errorf("got message %q, want %q", err.Error(), tc.wantMsg)
			}
		})
	}
}

func TestNegotiateAccept(t *testing.T) {
	for _, tc := range []struct {
		name, accept string
		want         string // MediaType.String()
		wantErr      bool
	}{
		{"empty", "", "application/json", false},
		{"star", "*/*", "application/json", false},
		{"application star", "application/*", "application/json", false},
		{"json", "application/json", "application/json", false},
		{"jsonlines", "application/jsonlines", "application/jsonlines", false},
		{"recordio", "application/x-recordio-protobuf", "application/x-recordio-protobuf", false},
		{"verbose kept", "application/json;verbose=true", "application/json; verbose=true", false},
		{"q values", "application/json;q=0.5, application/jsonlines;q=0.9, */*;q=0.1", "application/jsonlines", false},
		{"q zero", "application/jsonlines;q=0, application/json;q=0.2", "application/json", false},
		{"unsupported first", "text/html, application/x-recordio-protobuf", "application/x-recordio-protobuf", false},
		{"specific beats wildcard on tie", "*/*, application/jsonlines", "application/jsonlines", false},
		{"browser", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "application/json", false},
		{"text/html", "text/html", "", true},
		{"text/csv", "text/csv", "", true},
		{"garbage", ";;;", "", true},
		{"parameter without a value", "application/json; verbose", "", true},
		{"parameter without a value, then a good type", "application/json; verbose, application/jsonlines", "application/jsonlines", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NegotiateAccept(tc.accept)
			if tc.wantErr {
				var na *NotAcceptableError
				if !errors.As(err, &na) {
					t.Fatalf("got %v, %v; want *NotAcceptableError", got, err)
				}
				return
			}
			if err != nil || got.String() != tc.want {
				t.Errorf("got %q, %v; want %q", got.String(), err, tc.want)
			}
			if ResponseContentType(got) != strings.SplitN(tc.want, ";", 2)[0] {
				t.Errorf("ResponseContentType = %q", ResponseContentType(got))
			}
		})
	}
}

func TestAppendPythonFloat(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string // Python 3: repr(v)
	}{
		{7.0, "7.0"},
		{float64(float32(23.405939)), "23.40593910217285"},
		{float64(float32(27.250282)), "27.250282287597656"},
		{0.1, "0.1"},
		{1e-05, "1e-05"},
		{1e16, "1e+16"},
		{1.5e16, "1.5e+16"},
		{123456789012345.0, "123456789012345.0"},
		{1e15, "1000000000000000.0"},
		{1234567890123456789.0, "1.2345678901234568e+18"},
		{-0.0, "0.0"},
		{math.Copysign(0, -1), "-0.0"},
		{1.5e-07, "1.5e-07"},
		{0.0001, "0.0001"},
		{0.00012345, "0.00012345"},
		{-2.5, "-2.5"},
		{1e300, "1e+300"},
		{5e-324, "5e-324"},
		{float64(float32(0.9899773597717285)), "0.9899773597717285"},
		{math.NaN(), "nan"},
		{math.Inf(-1), "-inf"},
	} {
		if got := string(AppendPythonFloat([]byte("x"), tc.v)); got != "x"+tc.want {
			t.Errorf("AppendPythonFloat(%v): got %q, want %q", tc.v, got[1:], tc.want)
		}
	}
}

func kmeansPredictions() *Predictions {
	return &Predictions{Rows: 2, Outputs: []Output{
		{Name: "closest_cluster", Kind: Float, Values: []float32{7, 0}},
		{Name: "distance_to_cluster", Kind: Float, Values: []float32{float32(23.405939), 3.5}},
	}}
}

func TestEncodeResponse(t *testing.T) {
	for _, tc := range []struct {
		name, accept string
		p            *Predictions
		golden       string
	}{
		{"kmeans json", "application/json", kmeansPredictions(), "kmeans.json"},
		{"kmeans jsonlines", "application/jsonlines", kmeansPredictions(), "kmeans.jsonl"},
		{"kmeans recordio", "application/x-recordio-protobuf", kmeansPredictions(), "kmeans.rec"},
		{"pca json", "application/json", &Predictions{Rows: 2, Envelope: "projections", Outputs: []Output{
			{Name: "projection", Width: 3, Values: []float32{1, 0.5, -2, 1e-5, 0, 3}}}}, "pca.json"},
		{"pca recordio", "application/x-recordio-protobuf", &Predictions{Rows: 2, Envelope: "projections", Outputs: []Output{
			{Name: "projection", Width: 3, Values: []float32{1, 0.5, -2, 1e-5, 0, 3}}}}, "pca.rec"},
		{"linear learner json", "application/json;verbose=true", &Predictions{Rows: 1, Outputs: []Output{
			{Name: "score", Values: []float32{0.9899773597717285}},
			{Name: "predicted_label", Kind: Int, Values: []float32{1}}}}, "linear.json"},
		{"empty json", "application/json", &Predictions{Outputs: []Output{{Name: "score"}}}, "empty.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mt, err := NegotiateAccept(tc.accept)
			if err != nil {
				t.Fatal(err)
			}
			got, err := EncodeResponse([]byte("prefix"), mt, tc.p)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(got, []byte("prefix")) {
				t.Fatalf("dst not kept")
			}
			got = got[len("prefix"):]
			path := filepath.Join("..", "testdata", "data", tc.golden)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("got %q, want %q (golden %s)", got, want, path)
			}
			if mt.Type == RecordIOProtobuf {
				checkRecordIOResponse(t, got, tc.p)
			} else if mt.Type == JSON {
				var v map[string][]map[string]any
				if err := json.Unmarshal(got, &v); err != nil || len(v[tc.p.envelope()]) != tc.p.Rows {
					t.Errorf("response does not parse as %d predictions: %v", tc.p.Rows, err)
				}
			}
		})
	}
}

func (p *Predictions) envelope() string {
	if p.Envelope == "" {
		return "predictions"
	}
	return p.Envelope
}

// checkRecordIOResponse decodes the body with the recordio and protobuf
// packages: one Record per row, empty features, each output a float32 tensor.
func checkRecordIOResponse(t *testing.T, body []byte, p *Predictions) {
	t.Helper()
	recs, err := recordio.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil || len(recs) != p.Rows {
		t.Fatalf("got %d records, %v; want %d", len(recs), err, p.Rows)
	}
	for i, b := range recs {
		var r aialgs.Record
		if err := proto.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		if len(r.Features) != 0 || len(r.Label) != len(p.Outputs) {
			t.Errorf("record %d: %d features, %d labels", i, len(r.Features), len(r.Label))
		}
		for _, o := range p.Outputs {
			want := o.Values[i : i+1]
			if o.Width > 0 {
				want = o.Values[i*o.Width : (i+1)*o.Width]
			}
			if got := r.Label[o.Name].GetFloat32Tensor().GetValues(); !reflect.DeepEqual(got, want) {
				t.Errorf("record %d: label[%q] = %v, want %v", i, o.Name, got, want)
			}
		}
	}
	if p.Outputs[0].Name == "closest_cluster" {
		var r aialgs.Record
		proto.Unmarshal(recs[0], &r)
		if got := r.Label["closest_cluster"].GetFloat32Tensor().GetValues(); !reflect.DeepEqual(got, []float32{7}) {
			t.Errorf("closest_cluster = %v, want [7]", got)
		}
	}
}

// TestEncodeNonFinite: non-finite floats are written as Python's json.dumps
// writes them, in JSON and JSON Lines alike.
func TestEncodeNonFinite(t *testing.T) {
	p := &Predictions{Rows: 3, Outputs: []Output{{Name: "s", Values: []float32{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}}}}
	for accept, want := range map[string]string{
		"application/json":      `{"predictions":[{"s":Infinity},{"s":-Infinity},{"s":NaN}]}`,
		"application/jsonlines": "{\"s\":Infinity}\n{\"s\":-Infinity}\n{\"s\":NaN}\n",
	} {
		mt, _ := NegotiateAccept(accept)
		got, err := EncodeResponse(nil, mt, p)
		if err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want %q", accept, got, err, want)
		}
	}
}

func TestEncodeResponseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, accept string
		p            *Predictions
	}{
		{"nan Int", "application/json", &Predictions{Rows: 1, Outputs: []Output{{Name: "s", Kind: Int, Values: []float32{float32(math.NaN())}}}}},
		{"non-integer Int", "application/json", &Predictions{Rows: 1, Outputs: []Output{{Name: "s", Kind: Int, Values: []float32{1.5}}}}},
		{"short values", "application/json", &Predictions{Rows: 2, Outputs: []Output{{Name: "s", Values: []float32{1}}}}},
		{"short vector", "application/x-recordio-protobuf", &Predictions{Rows: 2, Outputs: []Output{{Name: "s", Width: 2, Values: []float32{1, 2, 3}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mt, _ := NegotiateAccept(tc.accept)
			if _, err := EncodeResponse(nil, mt, tc.p); err == nil {
				t.Errorf("got no error")
			}
		})
	}
	_, err := EncodeResponse(nil, MediaType{Type: "text/csv"}, kmeansPredictions())
	var na *NotAcceptableError
	if !errors.As(err, &na) {
		t.Errorf("text/csv: got %v, want *NotAcceptableError", err)
	}
}

// TestRecycleReusesWithoutStaleValues: a batch handed back with Recycle
// lends its buffer to the next CSV request, which must see only its own
// values (the buffer is not cleared; every value is written).
func TestRecycleReusesWithoutStaleValues(t *testing.T) {
	ct := MediaType{Type: CSV}
	first, err := DecodeRequest(ct, []byte("1,2,3\n4,5,6\n7,8,9\n"), 3)
	if err != nil {
		t.Fatal(err)
	}
	Recycle(first)
	second, err := DecodeRequest(ct, []byte("0,0.5,0\n-1,0,2e3\n"), 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{0, 0.5, 0, -1, 0, 2000}
	if second.Rows != 2 || !slices.Equal(second.Dense[:6], want) {
		t.Errorf("after Recycle: %d rows %v, want 2 rows %v", second.Rows, second.Dense, want)
	}
	if _, err := DecodeRequest(ct, []byte("1,2\n"), 3); err == nil {
		t.Error("a short row after Recycle decoded without error")
	}
	Recycle(nil) // no-op
}

// TestRecycleAcrossContentTypes: JSON, JSON Lines and RecordIO requests
// reserve their rows from the same pool (sized from a scan of the body),
// so each must see only its own values after another type's batch was
// recycled, sparse rows included.
func TestRecycleAcrossContentTypes(t *testing.T) {
	var rio bytes.Buffer
	w := recordio.NewWriter(&rio)
	for _, r := range []*aialgs.Record{
		rec(f32([]float32{0, 0.5, 0}, nil, nil), f32([]float32{1}, nil, nil)),
		rec(f32([]float32{-1, 0, 2000}, nil, nil), nil),
	} {
		p, err := proto.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(p)
	}
	want := []float32{0, 0.5, 0, -1, 0, 2000}
	for _, tc := range []struct {
		ct   string
		body []byte
	}{
		{JSON, []byte(`{"instances": [{"features": [0, 0.5, 0]}, {"features": [-1, 0, 2e3]}]}`)},
		{JSONLines, []byte("{\"features\": [0, 0.5, 0]}\n{\"features\": [-1, 0, 2000.0]}\n")},
		{RecordIOProtobuf, rio.Bytes()},
	} {
		prev, err := DecodeRequest(MediaType{Type: CSV}, []byte("7,8,9\n7,8,9\n7,8,9\n"), 3)
		if err != nil {
			t.Fatal(err)
		}
		Recycle(prev)
		b, err := DecodeRequest(MediaType{Type: tc.ct}, tc.body, 3)
		if err != nil {
			t.Fatalf("%s: %v", tc.ct, err)
		}
		if b.Rows != 2 || !slices.Equal(b.Dense, want) {
			t.Errorf("%s after Recycle: %d rows %v, want 2 rows %v", tc.ct, b.Rows, b.Dense, want)
		}
		Recycle(b)
	}
	// A sparse JSON request on a recycled dense buffer.
	b, err := DecodeRequest(MediaType{Type: JSON}, []byte(`{"instances": [{"data": {"features": {"keys": [2], "shape": [3], "values": [5]}}}]}`), 3)
	if err != nil {
		t.Fatal(err)
	}
	if !b.Sparse() || b.Rows != 1 || !slices.Equal(b.Indices, []int32{2}) || !slices.Equal(b.Values, []float32{5}) {
		t.Errorf("sparse JSON after Recycle: %+v", b)
	}
}

// TestBatchClone: a clone shares no storage, and nil slices stay nil (a
// dense clone is not mistaken for CSR).
func TestBatchClone(t *testing.T) {
	dense := &Batch{Rows: 2, Cols: 2, Dense: []float32{1, 2, 3, 4}, Labels: []float32{0, 1}, LabelSize: 1}
	c := dense.Clone()
	dense.Dense[0], dense.Labels[1] = 9, 9
	if c.Dense[0] != 1 || c.Labels[1] != 1 || c.Rows != 2 || c.Cols != 2 || c.LabelSize != 1 {
		t.Errorf("dense clone %+v shares storage or lost a field", c)
	}
	if c.Sparse() || c.Indptr != nil {
		t.Errorf("dense clone reads as sparse: %+v", c)
	}
	csr := &Batch{Rows: 1, Cols: 3, Indptr: []int{0, 1}, Indices: []int32{2}, Values: []float32{5}}
	s := csr.Clone()
	csr.Values[0], csr.Indices[0] = 0, 0
	if !s.Sparse() || s.Values[0] != 5 || s.Indices[0] != 2 || s.Labels != nil {
		t.Errorf("sparse clone %+v", s)
	}
}

// TestBatchAppendRows: rows picked from a dense and from a CSR batch, over
// two calls, come out stored the same way, in order, without labels.
func TestBatchAppendRows(t *testing.T) {
	dense := &Batch{Rows: 3, Cols: 2, Dense: []float32{1, 2, 3, 4, 5, 6}, Labels: []float32{0, 1, 2}, LabelSize: 1}
	var d Batch
	d.Cols = 2
	d.AppendRows(dense, []int{2})
	d.AppendRows(dense, []int{0})
	if d.Rows != 2 || d.Sparse() || !slices.Equal(d.Dense, []float32{5, 6, 1, 2}) || d.Labels != nil {
		t.Errorf("dense rows [2 0]: %+v", d)
	}
	csr := &Batch{Rows: 3, Cols: 4, Indptr: []int{0, 1, 1, 3}, Indices: []int32{3, 0, 2}, Values: []float32{7, 8, 9}}
	c := Batch{Cols: 4}
	c.AppendRows(csr, []int{0, 1})
	c.AppendRows(csr, []int{2})
	if c.Rows != 3 || !c.Sparse() || !slices.Equal(c.Indptr, []int{0, 1, 1, 3}) || !slices.Equal(c.Indices, []int32{3, 0, 2}) || !slices.Equal(c.Values, []float32{7, 8, 9}) {
		t.Errorf("CSR rows [0 1] then [2]: %+v", c)
	}
	var none Batch
	none.AppendRows(csr, nil)
	if !none.Sparse() || none.Rows != 0 || !slices.Equal(none.Indptr, []int{0}) {
		t.Errorf("no CSR rows: %+v", none)
	}
}

// TestMediaTypeErrorMessage: a media type that does not parse is named
// with what was expected of it.
func TestMediaTypeErrorMessage(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"text/csv; label_size", `media type "text/csv; label_size" is malformed: each parameter after the type must be name=value, as in text/csv;label_size=1`},
		{"Application/JSON; verbose", `media type "Application/JSON; verbose" is malformed: each parameter after the type must be name=value, as in application/json;verbose=true`},
		{"text/plain; x", `media type "text/plain; x" is malformed: each parameter after the type must be name=value, as in text/csv;label_size=1`},
		{"text/csv; a=1; a=2", `media type "text/csv; a=1; a=2" is malformed: duplicate parameter name`},
		{"; label_size=1", `media type "; label_size=1" is malformed: no media type`},
	} {
		_, err := ParseMediaType(tc.in)
		var mt *MediaTypeError
		if !errors.As(err, &mt) || err.Error() != tc.want {
			t.Errorf("%q: got %v, want %s", tc.in, err, tc.want)
		}
	}
}

// TestParseMediaTypeAsMime checks that ParseMediaType's shortcut for a bare
// type answers what mime.ParseMediaType would.
func TestParseMediaTypeAsMime(t *testing.T) {
	for _, s := range []string{
		"text/csv", "application/json", "application/x-recordio-protobuf", "application/vnd.a+json",
		"x_y/z-1.0", "Text/CSV", "text/csv;label_size=1", "text/csv; charset=utf-8", " text/csv",
		"text/csv ", "a/b/c", "/csv", "text/", "text", "text/csv;", "text/c\"sv",
	} {
		got, err := ParseMediaType(s)
		typ, params, merr := mime.ParseMediaType(s)
		if (err != nil) != (merr != nil) {
			t.Errorf("%q: error %v, mime's %v", s, err, merr)
			continue
		}
		if err != nil {
			continue
		}
		if got.Type != typ || len(got.Params) != len(params) {
			t.Errorf("%q: got %q %v, mime's %q %v", s, got.Type, got.Params, typ, params)
		}
		for k, v := range params {
			if got.Params[k] != v {
				t.Errorf("%q: param %s = %q, mime's %q", s, k, got.Params[k], v)
			}
		}
	}
}

// TestRecordIOSparseWideAllocates reads 1,000 sparse records of 200,000
// features with five stored entries each: a reader allocates about what
// the rows hold and no dense reservation (made only when a dense row
// comes), not room for 1,000 dense rows (800 MB, zeroed for every reader opened: a linear
// learner job on such a channel spent 8 of its 9 s there).
func TestRecordIOSparseWideAllocates(t *testing.T) {
	const d, n = 200_000, 1000
	recs := make([]*aialgs.Record, n)
	for i := range recs {
		keys := []uint64{uint64(i), uint64(1000 + i), uint64(2000 + i), uint64(3000 + i), uint64(d - 1 - i)}
		recs[i] = rec(f32([]float32{1, 2, 3, 4, 5}, keys, []uint64{d}), f32([]float32{1}, nil, nil))
	}
	body := recordBytes(t, recs...)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := NewRecordIOReader(bytes.NewReader(body), d)
	b, err := r.Read(n)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if !b.Sparse() || b.Rows != n || len(b.Values) != 5*n {
		t.Fatalf("read %d rows, sparse %v, %d values; want %d sparse rows of 5 values", b.Rows, b.Sparse(), len(b.Values), n)
	}
	// The dense reservation (16 MiB here) is made only for dense rows.
	if kb := (after.TotalAlloc - before.TotalAlloc) >> 10; kb > 2048 {
		t.Errorf("reading %d sparse rows allocated %d KiB; want at most 2 MiB, the rows and the decoder's scratch", n, kb)
	}
}
