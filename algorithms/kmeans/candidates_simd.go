//go:build goexperiment.simd && amd64

package kmeans

import (
	"math"
	"simd/archsimd"
)

func init() {
	if archsimd.X86.AVX2() {
		nonzero32 = nonzero32AVX2
		scaledTo64 = scaledTo64AVX2
	}
}

// nonzero32AVX2 is nonzero32Go eight values at a time. It ends with
// VZEROUPPER (see sqDist64AVX2).
func nonzero32AVX2(xs []float32) bool {
	var acc archsimd.Uint32x8
	i := 0
	for ; i+8 <= len(xs); i += 8 {
		acc = acc.Or(archsimd.LoadFloat32x8((*[8]float32)(xs[i:])).AsUint32x8())
	}
	var t [8]uint32
	acc.Store(&t)
	archsimd.ClearAVXUpperBits()
	or := t[0] | t[1] | t[2] | t[3] | t[4] | t[5] | t[6] | t[7]
	for ; i < len(xs); i++ {
		or |= math.Float32bits(xs[i])
	}
	return or&^(1<<31) != 0
}

// scaledTo64AVX2 is scaledTo64Go four values at a time: the float64
// product rounded to float32 and widened again, as the scalar conversions
// do, so the same bits. It ends with VZEROUPPER.
func scaledTo64AVX2(dst []float64, x []float32, s []float64) {
	dst, s = dst[:len(x)], s[:len(x)]
	i := 0
	for ; i+4 <= len(x); i += 4 {
		xv := archsimd.LoadFloat32x4((*[4]float32)(x[i:])).ConvertToFloat64()
		p := archsimd.LoadFloat64x4((*[4]float64)(s[i:])).Mul(xv)
		p.ConvertToFloat32().ConvertToFloat64().Store((*[4]float64)(dst[i:]))
	}
	archsimd.ClearAVXUpperBits()
	for ; i < len(x); i++ {
		dst[i] = float64(scaled(s[i], x[i]))
	}
}
