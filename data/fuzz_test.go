package data

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"testing"
)

// maxFuzzInput caps fuzz bodies, as Prometheus's maxInputSize does.
const maxFuzzInput = 1 << 16

// checkDecodeErr fails unless err is one of the documented error types.
func checkDecodeErr(t *testing.T, err error) {
	t.Helper()
	var pe *ParseError
	var de *DimensionError
	var me *MediaTypeError
	if !errors.As(err, &pe) && !errors.As(err, &de) && !errors.As(err, &me) {
		t.Fatalf("undocumented error %T: %v", err, err)
	}
	if err.Error() == "" {
		t.Fatal("empty error message")
	}
}

func fuzzDim(d uint8) int { return int(d%16) + 1 }

func FuzzCSV(f *testing.F) {
	csv := readFile(f, "fashion_head50.csv")
	f.Add(csv[:bytes.IndexByte(csv, '\n')+1], uint8(0), uint8(1))
	f.Add([]byte("1.5,16.0,14,23.0\n-2,100.2,15.2,9.2\r\n\n"), uint8(3), uint8(0))
	f.Add([]byte("7,1.5,16.0,14,23.0"), uint8(3), uint8(1))
	f.Add([]byte(" 1 , nan,inf\n1e39,0x1p3,_1"), uint8(2), uint8(0))
	f.Fuzz(func(t *testing.T, body []byte, dim, labelSize uint8) {
		if len(body) > maxFuzzInput {
			return
		}
		d, ls := fuzzDim(dim), int(labelSize%3)
		ct := MediaType{Type: CSV, Params: map[string]string{"label_size": itoa(int64(ls))}}
		b, err := DecodeRequest(ct, body, d)
		if err != nil {
			checkDecodeErr(t, err)
		} else {
			checkBatch(t, b)
			if ls > 0 && len(b.Labels) != b.Rows*ls {
				t.Fatalf("%d labels for %d rows", len(b.Labels), b.Rows)
			}
		}
		// The streaming reader agrees with the request decoder.
		r := NewCSVReader(bytes.NewReader(body), d, ls)
		rows := 0
		for {
			rb, rerr := r.Read(3)
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				checkDecodeErr(t, rerr)
				if err == nil {
					t.Fatalf("reader failed (%v) where DecodeRequest succeeded", rerr)
				}
				return
			}
			checkBatch(t, rb)
			for i := 0; i < rb.Rows; i++ {
				if err == nil && !bytes.Equal(f32bytes(rb.RowTo(nil, i)), f32bytes(b.RowTo(nil, rows+i))) {
					t.Fatalf("row %d differs between reader and DecodeRequest", rows+i)
				}
			}
			rows += rb.Rows
		}
		if err != nil {
			t.Fatalf("reader succeeded where DecodeRequest failed: %v", err)
		}
		if rows != b.Rows {
			t.Fatalf("reader got %d rows, DecodeRequest %d", rows, b.Rows)
		}
	})
}

func f32bytes(v []float32) []byte {
	var b []byte
	for _, x := range v {
		b = append(b, AppendPythonFloat(nil, float64(x))...)
		b = append(b, ',')
	}
	return b
}

func fuzzRequest(f *testing.F, ct string, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, body []byte, dim uint8) {
		if len(body) > maxFuzzInput {
			return
		}
		b, err := DecodeRequest(MediaType{Type: ct}, body, fuzzDim(dim))
		if err != nil {
			checkDecodeErr(t, err)
			return
		}
		checkBatch(t, b)
	})
}

func FuzzJSON(f *testing.F) {
	fuzzRequest(f, JSON, specDense, specDenseData, specMulti, specSparse,
		`{"instances":[{"data":{"features":{"keys":[3,0],"shape":[4],"values":[1,2]}}},{"features":[1,2,3,4]}]}`,
		`{"instances":[{"f\u0065atures":[1e3,-0.5,0,4E-2]}],"x":[true,false,null,"\ud83d\ude00"]}`)
}

func FuzzJSONLines(f *testing.F) {
	fuzzRequest(f, JSONLines, specJSONLines, specJSONLinesBad, "{\"features\":[1,2,3,4]}\n\n{\"features\":[1,2,3,4]}")
}

func FuzzRecordIORequest(f *testing.F) {
	for _, name := range []string{"dense_f32_labeled.rec", "dense_f64_unlabeled.rec", "dense_int_labeled.rec", "sparse_f32_labeled.rec"} {
		f.Add(readFile(f, name), uint8(3))
	}
	f.Add(readFile(f, "fashion_head50.rec")[:6000], uint8(3))
	f.Fuzz(func(t *testing.T, body []byte, dim uint8) {
		if len(body) > maxFuzzInput {
			return
		}
		b, err := DecodeRequest(MediaType{Type: RecordIOProtobuf}, body, fuzzDim(dim))
		if err != nil {
			checkDecodeErr(t, err)
			return
		}
		checkBatch(t, b)
	})
}

func FuzzTrainingRecordIO(f *testing.F) {
	for _, name := range []string{"dense_f32_labeled.rec", "dense_f64_unlabeled.rec", "dense_int_labeled.rec", "sparse_f32_labeled.rec"} {
		f.Add(readFile(f, name), uint8(3), uint8(2))
	}
	f.Fuzz(func(t *testing.T, body []byte, dim, n uint8) {
		if len(body) > maxFuzzInput {
			return
		}
		r := NewRecordIOReader(bytes.NewReader(body), fuzzDim(dim))
		size := int(n%8) + 1
		for {
			b, err := r.Read(size)
			if err == io.EOF {
				return
			}
			if err != nil {
				checkDecodeErr(t, err)
				return
			}
			checkBatch(t, b)
			if b.Rows < 1 || b.Rows > size {
				t.Fatalf("batch of %d rows for Read(%d)", b.Rows, size)
			}
		}
	})
}

// FuzzJSONFloats checks that scanFloat32's fast path reads any array the
// way the general path does: the same values (bits), position and error.
func FuzzJSONFloats(f *testing.F) {
	for _, seed := range []string{
		`[0.0, 0.34117648005485535, 1, -0.5, 0.08627451]`,
		`[0,0,0,0.011764706,0.003921569,0,0.105882354,1]`,
		`[ -0 , 0.000000000000000000001, 12345678901234567890, 9007199254740993, 1e3, 1.]`,
		`[0123, 00, -, .5, 1.5.2, 0.1e, 3]`, `[]`, `[1,]`, `[1 2]`, `[0.4999999701976776]`,
		`[0.49999998509883886, 16777217, 3.4028235e38, 3.4028236e38, 1e-46]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > maxFuzzInput {
			return
		}
		fast := &jsonScanner{buf: body}
		slow := &jsonScanner{buf: body, slowFloats: true}
		errF, errS := fast.floats("features"), slow.floats("features")
		if fmt.Sprint(errF) != fmt.Sprint(errS) || fast.pos != slow.pos || len(fast.vals) != len(slow.vals) {
			t.Fatalf("%q: fast %v at %d (%d values), general %v at %d (%d values)",
				body, errF, fast.pos, len(fast.vals), errS, slow.pos, len(slow.vals))
		}
		for i, v := range fast.vals {
			if math.Float32bits(v) != math.Float32bits(slow.vals[i]) {
				t.Fatalf("%q: value %d: fast %v, general %v", body, i, v, slow.vals[i])
			}
		}
	})
}
