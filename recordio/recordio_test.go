package recordio

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"

	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/sagebrush-ml/sagebrush/recordio/aialgs"
)

const sdkDir = "../testdata/sdk"

type expectedFile struct {
	Rows       [][]float64 `json:"rows"`
	SparseRows []struct {
		Keys   []uint64  `json:"keys"`
		Values []float64 `json:"values"`
	} `json:"sparse_rows"`
	Shape       []uint64  `json:"shape"`
	Labels      []float64 `json:"labels"`
	Tensor      string    `json:"tensor"`
	LabelTensor string    `json:"label_tensor"`
	NRows       int       `json:"n_rows"`
	FeatureDim  int       `json:"feature_dim"`
	FirstRowSum float64   `json:"first_row_sum"`
}

func loadExpected(t *testing.T) map[string]expectedFile {
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

// tensorValues returns a Value's values as float64 and its keys, and the
// name of the tensor type the SDK chose.
func tensorValues(v *aialgs.Value) (vals []float64, keys, shape []uint64, kind string) {
	switch {
	case v.GetFloat32Tensor() != nil:
		t := v.GetFloat32Tensor()
		for _, x := range t.Values {
			vals = append(vals, float64(x))
		}
		return vals, t.Keys, t.Shape, "float32_tensor"
	case v.GetFloat64Tensor() != nil:
		t := v.GetFloat64Tensor()
		return t.Values, t.Keys, t.Shape, "float64_tensor"
	case v.GetInt32Tensor() != nil:
		t := v.GetInt32Tensor()
		for _, x := range t.Values {
			vals = append(vals, float64(x))
		}
		return vals, t.Keys, t.Shape, "int32_tensor"
	}
	return nil, nil, nil, ""
}

func readRecords(t *testing.T, name string) []*aialgs.Record {
	t.Helper()
	f, err := os.Open(filepath.Join(sdkDir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	payloads, err := NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	recs := make([]*aialgs.Record, len(payloads))
	for i, p := range payloads {
		recs[i] = new(aialgs.Record)
		if err := proto.Unmarshal(p, recs[i]); err != nil {
			t.Fatalf("%s record %d: %v", name, i, err)
		}
	}
	return recs
}

// TestSDKFiles decodes every file the SageMaker Python SDK wrote exactly as
// expected.json says.
func TestSDKFiles(t *testing.T) {
	exp := loadExpected(t)
	for _, name := range []string{"dense_f32_labeled.rec", "dense_f64_unlabeled.rec", "dense_int_labeled.rec", "sparse_f32_labeled.rec"} {
		t.Run(name, func(t *testing.T) {
			want := exp[name]
			recs := readRecords(t, name)
			n := len(want.Rows) + len(want.SparseRows)
			if len(recs) != n {
				t.Fatalf("got %d records, want %d", len(recs), n)
			}
			for i, rec := range recs {
				vals, keys, shape, kind := tensorValues(rec.Features["values"])
				if kind != want.Tensor {
					t.Errorf("record %d: tensor %s, want %s", i, kind, want.Tensor)
				}
				var wantVals []float64
				var wantKeys []uint64
				if want.Rows != nil {
					wantVals = want.Rows[i]
				} else {
					wantVals, wantKeys = want.SparseRows[i].Values, want.SparseRows[i].Keys
					if !equalU64(shape, want.Shape) {
						t.Errorf("record %d: shape %v, want %v", i, shape, want.Shape)
					}
				}
				if !equalF64(vals, wantVals) || !equalU64(keys, wantKeys) {
					t.Errorf("record %d: got keys %v values %v, want keys %v values %v", i, keys, vals, wantKeys, wantVals)
				}
				lv, ok := rec.Label["values"]
				if want.Labels == nil {
					if ok {
						t.Errorf("record %d: unexpected label", i)
					}
					continue
				}
				got, _, _, lkind := tensorValues(lv)
				if len(got) != 1 || got[0] != want.Labels[i] {
					t.Errorf("record %d: label %v, want %v", i, got, want.Labels[i])
				}
				if want.LabelTensor != "" && lkind != want.LabelTensor {
					t.Errorf("record %d: label tensor %s, want %s", i, lkind, want.LabelTensor)
				}
			}
		})
	}
	t.Run("fashion_head50.rec", func(t *testing.T) {
		want := exp["fashion_head50.rec"]
		recs := readRecords(t, "fashion_head50.rec")
		if len(recs) != want.NRows {
			t.Fatalf("got %d records, want %d", len(recs), want.NRows)
		}
		vals, _, _, _ := tensorValues(recs[0].Features["values"])
		if len(vals) != want.FeatureDim {
			t.Fatalf("feature_dim %d, want %d", len(vals), want.FeatureDim)
		}
		sum := 0.0
		for _, v := range vals {
			sum += v
		}
		// float32 values summed in float64: the SDK's sum is of the same float32s.
		if d := sum - want.FirstRowSum; d > 1e-3 || d < -1e-3 {
			t.Errorf("first row sum %v, want %v", sum, want.FirstRowSum)
		}
		for i, r := range recs {
			l, _, _, _ := tensorValues(r.Label["values"])
			if l[0] != want.Labels[i] {
				t.Errorf("record %d: label %v, want %v", i, l[0], want.Labels[i])
			}
		}
	})
}

func equalF64(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		// The SDK's float32 values widen exactly; expected.json prints float64.
		if a[i] != b[i] && float32(a[i]) != float32(b[i]) {
			return false
		}
	}
	return true
}

func equalU64(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func magicBytes() []byte { return binary.LittleEndian.AppendUint32(nil, Magic) }

// TestSplitRecords checks that payloads holding the magic at aligned offsets
// are split on writing, as MXNet does, and reassembled on reading.
func TestSplitRecords(t *testing.T) {
	m := magicBytes()
	cases := []struct {
		name    string
		payload []byte
		parts   int
	}{
		{"empty", nil, 1},
		{"short", []byte{1, 2, 3}, 1},
		{"magic only", m, 2},
		{"magic at start", append(append([]byte{}, m...), 9, 9, 9, 9, 9), 2},
		{"magic at end", append([]byte{1, 2, 3, 4}, m...), 2},
		{"two magics", append(append(append([]byte{1, 2, 3, 4}, m...), m...), 7), 3},
		{"unaligned magic stays", append([]byte{1, 2}, append(m, 5, 6)...), 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := NewWriter(&buf)
			if err := w.Write(tc.payload); err != nil {
				t.Fatal(err)
			}
			if err := w.Write([]byte("next")); err != nil {
				t.Fatal(err)
			}
			if got := countParts(buf.Bytes()); got != tc.parts+1 {
				t.Errorf("got %d parts, want %d", got-1, tc.parts)
			}
			if buf.Len()%4 != 0 {
				t.Errorf("stream length %d not 4-byte aligned", buf.Len())
			}
			recs, err := NewReader(&buf).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 2 || !bytes.Equal(recs[0], tc.payload) || string(recs[1]) != "next" {
				t.Errorf("round trip: got %q, want [%q \"next\"]", recs, tc.payload)
			}
		})
	}
}

// countParts walks the framing and counts headers.
func countParts(b []byte) int {
	n := 0
	for len(b) >= 8 {
		l := int(binary.LittleEndian.Uint32(b[4:]) & lengthMask)
		b = b[8+(l+3)&^3:]
		n++
	}
	return n
}

func TestTruncatedEverywhere(t *testing.T) {
	valid, err := os.ReadFile(filepath.Join(sdkDir, "dense_f32_labeled.rec"))
	if err != nil {
		t.Fatal(err)
	}
	// Record boundaries: cutting there is a clean EOF with fewer records.
	bounds := map[int]bool{0: true}
	r := NewReader(bytes.NewReader(valid))
	for {
		if _, err := r.Read(); err != nil {
			break
		}
		bounds[int(r.Offset())] = true
	}
	for cut := 0; cut < len(valid); cut++ {
		_, err := NewReader(bytes.NewReader(valid[:cut])).ReadAll()
		if bounds[cut] {
			if err != nil {
				t.Errorf("cut at record boundary %d: %v", cut, err)
			}
			continue
		}
		var pe *ParseError
		if !errors.As(err, &pe) || !errors.Is(err, ErrTruncated) {
			t.Fatalf("cut at %d: got %v, want a truncation ParseError", cut, err)
		}
	}
}

func TestErrors(t *testing.T) {
	m := magicBytes()
	hdr := func(flag, n uint32) []byte {
		return binary.LittleEndian.AppendUint32(append([]byte{}, m...), flag<<29|n)
	}
	good := append(hdr(0, 4), 1, 2, 3, 4)
	cases := []struct {
		name       string
		in         []byte
		max        int
		want       error
		wantRecord int
		wantOffset int64
	}{
		{"bad magic first", []byte{1, 2, 3, 4, 0, 0, 0, 0}, 0, ErrBadMagic, 0, 0},
		{"bad magic second", append(append([]byte{}, good...), 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0), 0, ErrBadMagic, 1, 12},
		{"middle first", hdr(2, 0), 0, ErrContinuation, 0, 0},
		{"whole after first", append(hdr(1, 0), hdr(0, 0)...), 0, ErrContinuation, 0, 8},
		{"flag 5", hdr(5, 0), 0, ErrContinuation, 0, 0},
		{"too large", append(hdr(0, 16), make([]byte, 16)...), 8, ErrTooLarge, 0, 0},
		{"header cut", good[:6], 0, ErrTruncated, 0, 0},
		{"unterminated split", append(hdr(1, 4), 1, 2, 3, 4), 0, ErrTruncated, 0, 12},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(bytes.NewReader(tc.in))
			r.MaxRecordSize = tc.max
			_, err := r.ReadAll()
			var pe *ParseError
			if !errors.As(err, &pe) || !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if pe.Record != tc.wantRecord || pe.Offset != tc.wantOffset {
				t.Errorf("got record %d offset %d, want record %d offset %d (%v)", pe.Record, pe.Offset, tc.wantRecord, tc.wantOffset, err)
			}
			// Sticky.
			if _, err2 := r.Read(); err2 != err {
				t.Errorf("error not sticky: %v then %v", err, err2)
			}
		})
	}
}

func FuzzRecordIO(f *testing.F) {
	for _, name := range []string{"dense_f32_labeled.rec", "sparse_f32_labeled.rec", "dense_int_labeled.rec"} {
		b, err := os.ReadFile(filepath.Join(sdkDir, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(append(magicBytes(), 0, 0, 0, 0x20))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReader(bytes.NewReader(in))
		r.MaxRecordSize = 1 << 20
		recs, err := r.ReadAll()
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			return
		}
		// What parsed writes and rereads the same.
		var buf bytes.Buffer
		w := NewWriter(&buf)
		for _, p := range recs {
			if err := w.Write(p); err != nil {
				t.Fatal(err)
			}
		}
		again, err := NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatalf("reread: %v", err)
		}
		if len(again) != len(recs) {
			t.Fatalf("reread %d records, want %d", len(again), len(recs))
		}
		for i := range recs {
			if !bytes.Equal(again[i], recs[i]) {
				t.Fatalf("record %d differs after round trip", i)
			}
		}
	})
}
