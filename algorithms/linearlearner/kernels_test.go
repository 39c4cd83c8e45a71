package linearlearner

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestKernelsSameBits: the kernels in use (AVX2 ones in a GOEXPERIMENT=simd
// build on an AVX2 CPU) give the scalar kernels' bits, on lengths that are
// and are not multiples of eight, exponents below the -87 floor included:
// a model trains to the same bytes whichever is built.
func TestKernelsSameBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	vec := func(n int, f func() float32) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = f()
		}
		return s
	}
	for _, n := range []int{1, 7, 8, 9, 60, 61, 1000} {
		xs := vec(n, func() float32 { return -100 * rng.Float32() * rng.Float32() })
		xs[0] = 0
		got, want := slices.Clone(xs), slices.Clone(xs)
		expInPlace(got)
		expInPlaceGo(want)
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("n=%d: exp(%v) = %v, scalar %v", n, xs[i], got[i], want[i])
			}
		}

		w, gr := vec(n, func() float32 { return float32(rng.NormFloat64()) }), vec(n, func() float32 { return float32(rng.NormFloat64() * 1e-3) })
		s1, s2 := vec(n, func() float32 { return float32(rng.NormFloat64() * 1e-3) }), vec(n, func() float32 { return rng.Float32() * 1e-5 })
		lr, wd := vec(n, func() float32 { return 0.01 * rng.Float32() }), vec(n, func() float32 { return 1e-3 * rng.Float32() })
		w2, s12, s22 := slices.Clone(w), slices.Clone(s1), slices.Clone(s2)
		for range 3 {
			adamRow(w, gr, s1, s2, lr, wd, 0.9, 0.999, 0.3)
			adamRowGo(w2, gr, s12, s22, lr, wd, 0.9, 0.999, 0.3)
		}
		for i := range w {
			if math.Float32bits(w[i]) != math.Float32bits(w2[i]) || s1[i] != s12[i] || s2[i] != s22[i] {
				t.Fatalf("n=%d: column %d: w %v s1 %v s2 %v, scalar %v %v %v", n, i, w[i], s1[i], s2[i], w2[i], s12[i], s22[i])
			}
		}

		// l1: weights on both sides of the threshold, exactly on it, ±0,
		// and columns without l1.
		l1 := vec(n, func() float32 {
			if rng.IntN(3) == 0 {
				return 0
			}
			return rng.Float32()
		})
		ws := vec(n, func() float32 { return float32(rng.NormFloat64() * 0.01) })
		for i := range ws {
			switch i % 5 {
			case 1:
				ws[i] = lr[i] * l1[i]
			case 2:
				ws[i] = float32(math.Copysign(0, -1))
			}
		}
		w, w2 = slices.Clone(ws), slices.Clone(ws)
		l1Step(w, lr, l1)
		l1StepGo(w2, lr, l1)
		for i := range w {
			if math.Float32bits(w[i]) != math.Float32bits(w2[i]) {
				t.Fatalf("n=%d: l1 step of %v (lr %v, l1 %v) = %v, scalar %v", n, ws[i], lr[i], l1[i], w[i], w2[i])
			}
		}
	}
}
