//go:build goexperiment.simd && amd64

package kmeans

import "simd/archsimd"

func init() {
	if archsimd.X86.AVX2() {
		axpy32 = axpy32AVX2
	}
}

// axpy32AVX2 is axpy32Go eight values at a time: a multiply then an add,
// no fused multiply-add, so the same bits. It ends with VZEROUPPER (see
// sqDist64AVX2).
func axpy32AVX2(a float32, x, y []float32) {
	y = y[:len(x)]
	va := archsimd.BroadcastFloat32x8(a)
	i := 0
	for ; i+8 <= len(x); i += 8 {
		yv := archsimd.LoadFloat32x8((*[8]float32)(y[i:]))
		xv := archsimd.LoadFloat32x8((*[8]float32)(x[i:]))
		yv.Add(va.Mul(xv)).Store((*[8]float32)(y[i:]))
	}
	archsimd.ClearAVXUpperBits()
	for ; i < len(x); i++ {
		y[i] += a * x[i]
	}
}
