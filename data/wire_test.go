package data

import (
	"bytes"
	"fmt"
	"math"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/sagebrush-ml/sagebrush/recordio"
	"github.com/sagebrush-ml/sagebrush/recordio/aialgs"
)

// sdkRecords returns the record payloads of the SDK-written files.
func sdkRecords(t testing.TB, names ...string) [][]byte {
	t.Helper()
	var recs [][]byte
	for _, name := range names {
		rs, err := recordio.NewReader(bytes.NewReader(readFile(t, name))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rs...)
	}
	return recs
}

// FuzzWireRecord checks the hand-written Record decoder against
// proto.Unmarshal: whenever the fast path accepts a payload, it must find
// exactly the tensors the generated code finds.
func FuzzWireRecord(f *testing.F) {
	for _, r := range sdkRecords(f, "dense_f32_labeled.rec", "dense_f64_unlabeled.rec", "dense_int_labeled.rec", "sparse_f32_labeled.rec") {
		f.Add(r)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		var w wireRecord
		feat, label, ok := w.parse(payload)
		if !ok {
			return
		}
		var rec aialgs.Record
		if err := proto.Unmarshal(payload, &rec); err != nil {
			t.Fatalf("fast path accepted what proto rejects: %v", err)
		}
		var d protoDecoder
		check := func(name string, wt wireTensor, v *aialgs.Value) {
			if wt.present != (v != nil) {
				t.Fatalf("%s: fast present=%v, proto present=%v", name, wt.present, v != nil)
			}
			if v == nil {
				return
			}
			var vals []float32
			var keys, shape []uint64
			gotVals, gotKeys, gotShape := w.convert(wt, &vals, &keys, &shape)
			wantVals, wantKeys, wantShape, msg := d.tensor(v)
			if msg != "" {
				t.Fatalf("%s: proto sees %s, fast path accepted it", name, msg)
			}
			if len(gotVals) != len(wantVals) || len(gotKeys) != len(wantKeys) || len(gotShape) != len(wantShape) {
				t.Fatalf("%s: fast %d/%d/%d values/keys/shape, proto %d/%d/%d", name, len(gotVals), len(gotKeys), len(gotShape), len(wantVals), len(wantKeys), len(wantShape))
			}
			for i := range gotVals {
				if gotVals[i] != wantVals[i] && !(gotVals[i] != gotVals[i] && wantVals[i] != wantVals[i]) {
					t.Fatalf("%s: value %d: fast %v, proto %v", name, i, gotVals[i], wantVals[i])
				}
			}
			for i := range gotKeys {
				if gotKeys[i] != wantKeys[i] {
					t.Fatalf("%s: key %d: fast %v, proto %v", name, i, gotKeys[i], wantKeys[i])
				}
			}
			for i := range gotShape {
				if gotShape[i] != wantShape[i] {
					t.Fatalf("%s: shape %d: fast %v, proto %v", name, i, gotShape[i], wantShape[i])
				}
			}
		}
		check("features", feat, rec.Features["values"])
		check("label", label, rec.Label["values"])
	})
}

// FuzzDenseRowFastPath checks decode's dense float32 fast path (straight
// into the batch) against the general path on any payload and width: the
// same label, error and row bits.
func FuzzDenseRowFastPath(f *testing.F) {
	for _, r := range sdkRecords(f, "dense_f32_labeled.rec", "dense_f64_unlabeled.rec", "sparse_f32_labeled.rec") {
		f.Add(r, uint8(0))
	}
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, r := range []*aialgs.Record{
		rec(f32([]float32{1, 2, 3}, nil, nil), f32([]float32{1}, nil, nil)),
		rec(f32([]float32{1, nan, 3}, nil, nil), f32([]float32{0}, nil, nil)),
		rec(f32([]float32{1, 2, inf}, nil, nil), nil),
		rec(f32([]float32{1, 2, 3}, nil, nil), f32([]float32{nan}, nil, nil)),
		rec(f32([]float32{1, 2, 3}, nil, nil), f32(nil, nil, nil)),
		rec(f32([]float32{1, 2, 3}, nil, []uint64{3}), nil),
		rec(f32([]float32{-0.0, 3.4e38, 1e-45}, nil, nil), nil),
	} {
		p, _ := proto.Marshal(r)
		f.Add(p, uint8(3))
	}
	f.Fuzz(func(t *testing.T, payload []byte, cols uint8) {
		width := int(cols%8) + 1
		if cols == 0 {
			width = 3
		}
		decode := func(general bool) (string, []float32, int) {
			var bl builder
			var b Batch
			bl.reset(&b, width)
			d := protoDecoder{general: general}
			label, has, err := d.decode(payload, 0, &bl)
			return fmt.Sprint(label, has, err), bl.dense, b.Rows
		}
		gotRes, gotRow, gotRows := decode(false)
		wantRes, wantRow, wantRows := decode(true)
		if gotRes != wantRes || gotRows != wantRows || len(gotRow) != len(wantRow) {
			t.Fatalf("fast %s (%d rows, %v), general %s (%d rows, %v)", gotRes, gotRows, gotRow, wantRes, wantRows, wantRow)
		}
		for i := range gotRow {
			if math.Float32bits(gotRow[i]) != math.Float32bits(wantRow[i]) {
				t.Fatalf("value %d: fast %v, general %v", i, gotRow[i], wantRow[i])
			}
		}
	})
}
