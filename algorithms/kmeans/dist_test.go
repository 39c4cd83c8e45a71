package kmeans

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sagebrush-ml/sagebrush/compute"
)

// wideValues returns n normal values scaled by powers of ten from 1e-6 to
// 1e6, for the same-bits tests of the kernels.
func wideValues(rng *rand.Rand, n int) []float32 {
	xs := make([]float32, n)
	for i := range xs {
		xs[i] = float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(13)-6)))
	}
	return xs
}

// TestSqDist64SameBits checks the kernel in use (AVX2 in a GOEXPERIMENT=simd
// build on a CPU with it) against the scalar one, bit for bit, over lengths
// with every remainder mod 4 and values of very different magnitudes.
func TestSqDist64SameBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 2, 3, 4, 5, 7, 8, 31, 784, 785, 1001} {
		for trial := range 20 {
			x, c := wideValues(rng, n), wideValues(rng, n+trial%3) // c may be longer
			got, want := sqDist64(x, c), sqDist64Go(x, c)
			if math.Float64bits(got) != math.Float64bits(want) {
				t.Fatalf("n=%d trial %d: %v, scalar %v", n, trial, got, want)
			}
		}
	}
	if got := sqDist64([]float32{1, 2, 3, 4, 5}, []float32{0, 0, 0, 0, 0}); got != 55 {
		t.Errorf("‖(1..5)‖² = %v, want 55", got)
	}
}

func BenchmarkSqDist64(b *testing.B) {
	x, c := make([]float32, 784), make([]float32, 784)
	for i := range x {
		x[i], c[i] = float32(i%255), float32((i*7)%255)
	}
	b.SetBytes(int64(8 * len(x)))
	var s float64
	for b.Loop() {
		s += sqDist64(x, c)
	}
	_ = s
}

// FuzzDecodeCenters feeds arbitrary bytes to the decoder of another host's
// centers: an error or a well-formed result, never a panic, and what
// decodes encodes back to the same bytes.
func FuzzDecodeCenters(f *testing.F) {
	c := compute.MatrixOf(2, 3, []float32{1, 2, 3, 4, 5, 6})
	f.Add(encodeCenters(c, []float64{7, 8}, 15), 3)
	f.Add(encodeCenters(c, nil, 0), 3)
	f.Add(encodeCenters(compute.Matrix{}, nil, 0), 3)
	f.Add([]byte{1, 2, 3}, 3)
	huge := encodeCenters(c, nil, 0)
	huge[23] = 0x80 // seen = 2^63: beyond int64, an error rather than a negative count
	f.Add(huge, 3)
	f.Fuzz(func(t *testing.T, b []byte, d int) {
		if d < 1 || d > 1<<12 {
			return
		}
		m, counts, seen, err := decodeCenters(b, d)
		if err != nil {
			return
		}
		if seen < 0 {
			t.Fatalf("decoded a negative count of records, %d", seen)
		}
		if m.Cols != d || len(m.Data) != m.Rows*d || len(counts) != 0 && len(counts) != m.Rows {
			t.Fatalf("decoded %d×%d (%d values) with %d counts", m.Rows, m.Cols, len(m.Data), len(counts))
		}
		if m.Rows == 0 {
			return // an empty host's part: its width is not checked
		}
		if got := encodeCenters(m, counts, seen); !bytes.Equal(got, b) {
			t.Fatalf("re-encoded %x, want %x", got, b)
		}
	})
}

// TestAxpy32SameBits checks the axpy in use (AVX2 in a GOEXPERIMENT=simd
// build on a CPU with it) against the scalar one, bit for bit.
func TestAxpy32SameBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 7, 8, 9, 16, 100, 1001} {
		for trial := range 20 {
			x, y := wideValues(rng, n), wideValues(rng, n+trial%3) // y may be longer
			a := float32(rng.NormFloat64())
			want := append([]float32(nil), y...)
			axpy32Go(a, x, want)
			axpy32(a, x, y)
			for i := range y {
				if math.Float32bits(y[i]) != math.Float32bits(want[i]) {
					t.Fatalf("n=%d trial %d: y[%d] = %v, scalar %v", n, trial, i, y[i], want[i])
				}
			}
		}
	}
}

// TestCandidateKernelsSameBits checks nonzero32 and scaledTo64 in use (AVX2
// in a GOEXPERIMENT=simd build on a CPU with it) against the scalar ones:
// the same answers, bit for bit, on every length around the vector width,
// with ±0, subnormals, infinities, NaN and products that round to zero or
// overflow float32.
func TestCandidateKernelsSameBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	special := []float32{0, float32(math.Copysign(0, -1)), math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32,
		math.MaxFloat32, float32(math.Inf(1)), float32(math.NaN()), 1e-30}
	for _, n := range []int{0, 1, 3, 4, 5, 7, 8, 9, 16, 100, 1001} {
		for trial := range 40 {
			x, s := make([]float32, n), make([]float64, n)
			for i := range x {
				switch rng.IntN(4) {
				case 0:
					x[i] = special[rng.IntN(len(special))]
				case 1: // ±0 mostly, as ct's columns are
				default:
					x[i] = float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(13)-6)))
				}
				s[i] = []float64{1, 1e-6, 1e-20, 1e20, rng.Float64()}[rng.IntN(5)]
			}
			if trial%5 == 0 { // only zeros of either sign
				for i := range x {
					x[i] = float32(math.Copysign(0, float64(rng.IntN(2)*2-1)))
				}
			}
			if got, want := nonzero32(x), nonzero32Go(x); got != want {
				t.Fatalf("n=%d trial %d: nonzero32 = %v, scalar %v", n, trial, got, want)
			}
			got, want := make([]float64, n+1), make([]float64, n+1) // dst may be longer
			scaledTo64(got, x, s)
			scaledTo64Go(want, x, s)
			for i := range got {
				if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
					t.Fatalf("n=%d trial %d: scaledTo64 [%d] = %v, scalar %v (x %v, s %v)", n, trial, i, got[i], want[i], x[min(i, n-1)], s[min(i, n-1)])
				}
			}
		}
	}
}
