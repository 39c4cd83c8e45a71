package linearlearner

import "math"

// The elementwise loops of a training step: Adam's update of rows of
// weights, l1's soft threshold after it, and the softmax's exponentials.
// kernels_simd.go replaces them with AVX2 versions that give the same
// bits, when built with GOEXPERIMENT=simd (as make build does) on a CPU
// with AVX2: Go does not vectorise these loops, and a float32 square root
// and division one lane at a time cost 7.4-12 ns a weight
// (BenchmarkAdamRow/per-row; 2.5-3.5 with AVX2, 2.0-2.2 in one call).
var (
	adamRow    = adamRowGo
	expInPlace = expInPlaceGo
	l1Step     = l1StepGo
)

// adamRowGo is Adam's step for one row of parameters w with gradients gr,
// moments s1 and s2, per-column learning rate and wd, bias correction corr.
// No fused multiply-adds: the AVX2 version rounds the same way.
func adamRowGo(w, gr, s1, s2, lr, wd []float32, b1, b2, corr float32) {
	const eps = 1e-8
	gr, s1, s2, lr, wd = gr[:len(w)], s1[:len(w)], s2[:len(w)], lr[:len(w)], wd[:len(w)]
	for c := range w {
		gv := gr[c] + wd[c]*w[c]
		s1[c] = b1*s1[c] + (1-b1)*gv
		s2[c] = b2*s2[c] + (1-b2)*gv*gv
		w[c] -= lr[c] * corr * s1[c] / (float32(math.Sqrt(float64(s2[c]))) + eps)
	}
}

// expInPlaceGo sets each x to exp32(x).
func expInPlaceGo(x []float32) {
	for i, v := range x {
		x[i] = exp32(v)
	}
}

// l1StepGo applies l1 as a proximal soft threshold of lr·l1 to weights w,
// after the optimizer's step; a weight whose l1 is 0 is left as it is.
func l1StepGo(w, lr, l1 []float32) {
	lr, l1 = lr[:len(w)], l1[:len(w)]
	for c := range w {
		if l1[c] == 0 {
			continue
		}
		thr := lr[c] * l1[c]
		switch {
		case w[c] > thr:
			w[c] -= thr
		case w[c] < -thr:
			w[c] += thr
		default:
			w[c] = 0
		}
	}
}
