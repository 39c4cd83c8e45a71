package data

import (
	"bytes"
	"io"
	"math/rand/v2"
	"strconv"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/sagebrush-ml/sagebrush/recordio"
	"github.com/sagebrush-ml/sagebrush/recordio/aialgs"
)

// fashionLike returns n rows of 784 pixel values in 0..1 (about 80% zeros,
// like Fashion-MNIST) with a label in 0..9.
func fashionLike(n int) (rows [][]float32, labels []float32) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < n; i++ {
		row := make([]float32, 784)
		for j := range row {
			if rng.IntN(5) == 0 {
				row[j] = float32(rng.IntN(256)) / 255
			}
		}
		rows = append(rows, row)
		labels = append(labels, float32(rng.IntN(10)))
	}
	return rows, labels
}

// fashionCSV formats rows as numpy.savetxt(fmt='%g') would.
func fashionCSV(rows [][]float32, labels []float32) []byte {
	var b []byte
	for i, row := range rows {
		if labels != nil {
			b = strconv.AppendFloat(b, float64(labels[i]), 'g', 6, 32)
			b = append(b, ',')
		}
		for j, v := range row {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendFloat(b, float64(v), 'g', 6, 32)
		}
		b = append(b, '\n')
	}
	return b
}

func BenchmarkDecodeCSV(b *testing.B) {
	for _, n := range []int{1, 100} {
		rows, _ := fashionLike(n)
		body := fashionCSV(rows, nil)
		ct := MediaType{Type: CSV}
		b.Run("rows="+strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := DecodeRequest(ct, body, 784); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeJSON decodes {"instances": [{"features": [...]}, ...]}
// with the numbers written two ways: %g with six digits and no spaces, and
// as the SageMaker Python SDK's JSONSerializer sends a float32 array
// (json.dumps of tolist(): repr of each value as a float64, ", " between).
func BenchmarkDecodeJSON(b *testing.B) {
	formats := []struct {
		name string
		sep  string
		num  func([]byte, float32) []byte
	}{
		{"g6", ",", func(d []byte, v float32) []byte { return strconv.AppendFloat(d, float64(v), 'g', 6, 32) }},
		{"sdk", ", ", func(d []byte, v float32) []byte {
			if v == float32(int(v)) {
				return append(strconv.AppendInt(d, int64(v), 10), ".0"...)
			}
			return strconv.AppendFloat(d, float64(v), 'g', -1, 64)
		}},
	}
	for _, n := range []int{1, 100} {
		rows, _ := fashionLike(n)
		for _, f := range formats {
			var body []byte
			body = append(body, `{"instances": [`...)
			for i, row := range rows {
				if i > 0 {
					body = append(body, ", "...)
				}
				body = append(body, `{"features": [`...)
				for j, v := range row {
					if j > 0 {
						body = append(body, f.sep...)
					}
					body = f.num(body, v)
				}
				body = append(body, "]}"...)
			}
			body = append(body, "]}"...)
			b.Run(f.name+"/rows="+strconv.Itoa(n), func(b *testing.B) {
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := DecodeRequest(MediaType{Type: JSON}, body, 784); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkEncodeJSON(b *testing.B) {
	p := &Predictions{Rows: 100, Outputs: []Output{
		{Name: "closest_cluster", Values: make([]float32, 100)},
		{Name: "distance_to_cluster", Values: make([]float32, 100)},
	}}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 100; i++ {
		p.Outputs[0].Values[i] = float32(rng.IntN(10))
		p.Outputs[1].Values[i] = rng.Float32() * 50
	}
	b.Run("rows=100", func(b *testing.B) {
		b.ReportAllocs()
		var dst []byte
		for b.Loop() {
			var err error
			if dst, err = EncodeResponse(dst[:0], MediaType{Type: JSON}, p); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(len(dst)))
	})
}

func BenchmarkCSVReader(b *testing.B) {
	rows, labels := fashionLike(2000)
	body := fashionCSV(rows, labels)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		r := NewCSVReader(bytes.NewReader(body), 784, 1)
		for {
			if _, err := r.Read(1000); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkRecordIOReader(b *testing.B) {
	rows, labels := fashionLike(2000)
	var buf bytes.Buffer
	w := recordio.NewWriter(&buf)
	for i, row := range rows {
		p, _ := proto.Marshal(rec(f32(row, nil, nil), f32(labels[i:i+1], nil, nil)))
		w.Write(p)
	}
	body := buf.Bytes()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		r := NewRecordIOReader(bytes.NewReader(body), 784)
		for {
			if _, err := r.Read(1000); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}

var _ = aialgs.Record{}

// BenchmarkDecodeRecordIO decodes application/x-recordio-protobuf request
// bodies (Float32Tensor features, as the SDK's RecordSerializer writes
// them), recycling each batch as the server does.
func BenchmarkDecodeRecordIO(b *testing.B) {
	for _, n := range []int{1, 100} {
		rows, _ := fashionLike(n)
		var buf bytes.Buffer
		w := recordio.NewWriter(&buf)
		for _, row := range rows {
			p, _ := proto.Marshal(rec(f32(row, nil, nil), nil))
			w.Write(p)
		}
		body := buf.Bytes()
		b.Run("rows="+strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				batch, err := DecodeRequest(MediaType{Type: RecordIOProtobuf}, body, 784)
				if err != nil || batch.Rows != n {
					b.Fatal(batch, err)
				}
				Recycle(batch)
			}
		})
	}
}
