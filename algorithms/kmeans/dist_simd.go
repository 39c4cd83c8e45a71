//go:build goexperiment.simd && amd64

package kmeans

import "simd/archsimd"

func init() {
	if archsimd.X86.AVX2() {
		sqDist64 = sqDist64AVX2
	}
}

// sqDist64AVX2 is sqDist64Go with its eight accumulators as the lanes of
// two vectors (two chains of adds, so one does not wait on the other): the
// same operations in the same order (a multiply then an add, no fused
// multiply-add), so the same bits. It ends with VZEROUPPER: SSE code after
// dirty upper halves runs far slower on this project's CPUs (see
// linearlearner's kernels).
func sqDist64AVX2(x, c []float32) float64 {
	c = c[:len(x)]
	var a, b archsimd.Float64x4
	f := 0
	for ; f+8 <= len(x); f += 8 {
		e := archsimd.LoadFloat32x4((*[4]float32)(x[f:])).ConvertToFloat64().Sub(archsimd.LoadFloat32x4((*[4]float32)(c[f:])).ConvertToFloat64())
		g := archsimd.LoadFloat32x4((*[4]float32)(x[f+4:])).ConvertToFloat64().Sub(archsimd.LoadFloat32x4((*[4]float32)(c[f+4:])).ConvertToFloat64())
		a = a.Add(e.Mul(e))
		b = b.Add(g.Mul(g))
	}
	var t [4]float64
	a.Add(b).Store(&t)
	archsimd.ClearAVXUpperBits()
	for ; f < len(x); f++ {
		e := float64(x[f]) - float64(c[f])
		t[0] += e * e
	}
	return (t[0] + t[1]) + (t[2] + t[3])
}
