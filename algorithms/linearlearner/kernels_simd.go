//go:build goexperiment.simd && amd64

package linearlearner

import (
	"math"
	"simd/archsimd"
)

// Each kernel ends with VZEROUPPER (ClearAVXUpperBits): Go's scalar float
// code and math's assembly use SSE encodings, which on this project's CPUs
// ran up to 10× slower after AVX left the upper halves dirty (TestBinary:
// 5 s instead of 0.4, nearly all of it in math.Exp).
func init() {
	if archsimd.X86.AVX2() {
		adamRow, expInPlace, l1Step = adamRowAVX2, expInPlaceAVX2, l1StepAVX2
	}
}

// adamRowAVX2 is adamRowGo eight columns at a time, with the same
// operations in the same order (VSQRTPS and VDIVPS round as the scalar
// float32 square root and division do): the same bits. The last, partial
// vector is loaded and stored in part (the scalar loop after AVX
// instructions cost more than the whole row).
func adamRowAVX2(w, gr, s1, s2, lr, wd []float32, b1, b2, corr float32) {
	const eps = 1e-8
	vb1, vb2 := archsimd.BroadcastFloat32x8(b1), archsimd.BroadcastFloat32x8(b2)
	vc1, vc2 := archsimd.BroadcastFloat32x8(1-b1), archsimd.BroadcastFloat32x8(1-b2)
	vcorr, veps := archsimd.BroadcastFloat32x8(corr), archsimd.BroadcastFloat32x8(eps)
	n := len(w)
	gr, s1, s2, lr, wd = gr[:n], s1[:n], s2[:n], lr[:n], wd[:n]
	for c := 0; c < n; c += 8 {
		wv := archsimd.LoadFloat32x8SlicePart(w[c:])
		gv := archsimd.LoadFloat32x8SlicePart(gr[c:]).Add(archsimd.LoadFloat32x8SlicePart(wd[c:]).Mul(wv))
		m1 := vb1.Mul(archsimd.LoadFloat32x8SlicePart(s1[c:])).Add(vc1.Mul(gv))
		m2 := vb2.Mul(archsimd.LoadFloat32x8SlicePart(s2[c:])).Add(vc2.Mul(gv).Mul(gv))
		m1.StoreSlicePart(s1[c:])
		m2.StoreSlicePart(s2[c:])
		step := archsimd.LoadFloat32x8SlicePart(lr[c:]).Mul(vcorr).Mul(m1).Div(m2.Sqrt().Add(veps))
		wv.Sub(step).StoreSlicePart(w[c:])
	}
	archsimd.ClearAVXUpperBits()
}

// expInPlaceAVX2 is exp32 eight values at a time, with the same operations
// in the same order; the 16-entry table of 2^(j/16) is two registers, read
// by VPERMPS and merged on bit 3 of j.
func expInPlaceAVX2(x []float32) {
	tlo := archsimd.LoadUint32x8Slice(exp2Sixteenths[:8]).AsFloat32x8()
	thi := archsimd.LoadUint32x8Slice(exp2Sixteenths[8:]).AsFloat32x8()
	floor := archsimd.BroadcastFloat32x8(-87)
	scale := archsimd.BroadcastFloat32x8(16 / math.Ln2)
	half := archsimd.BroadcastFloat32x8(0.5)
	vhi, vlo := archsimd.BroadcastFloat32x8(ln2By16Hi), archsimd.BroadcastFloat32x8(ln2By16Lo)
	one := archsimd.BroadcastFloat32x8(1)
	sixth := archsimd.BroadcastFloat32x8(1.0 / 6)
	fifteen := archsimd.BroadcastFloat32x8(math.Float32frombits(15)).AsInt32x8()
	eight := archsimd.BroadcastFloat32x8(math.Float32frombits(8)).AsInt32x8()
	zero := fifteen.Xor(fifteen)
	for i := 0; i < len(x); i += 8 {
		v := archsimd.LoadFloat32x8SlicePart(x[i:]).Max(floor)
		n := v.Mul(scale).Sub(half).ConvertToInt32()
		nf := n.ConvertToFloat32()
		r := v.Sub(nf.Mul(vhi)).Sub(nf.Mul(vlo))
		p := one.Add(r.Mul(one.Add(r.Mul(half.Add(r.Mul(sixth))))))
		j := n.And(fifteen)
		ju := j.AsUint32x8()
		t := tlo.Permute(ju).Merge(thi.Permute(ju), j.And(eight).Equal(zero))
		bits := t.AsInt32x8().Add(n.ShiftAllRight(4).ShiftAllLeft(23))
		p.Mul(bits.AsFloat32x8()).StoreSlicePart(x[i:])
	}
	archsimd.ClearAVXUpperBits()
}

// l1StepAVX2 is l1StepGo eight weights at a time: both branches computed,
// the right one kept by mask, and the weight itself where l1 is 0.
func l1StepAVX2(w, lr, l1 []float32) {
	n := len(w)
	lr, l1 = lr[:n], l1[:n]
	zero := archsimd.BroadcastFloat32x8(0)
	for c := 0; c < n; c += 8 {
		wv := archsimd.LoadFloat32x8SlicePart(w[c:])
		l1v := archsimd.LoadFloat32x8SlicePart(l1[c:])
		thr := archsimd.LoadFloat32x8SlicePart(lr[c:]).Mul(l1v)
		down := wv.Sub(thr).Merge(zero, wv.Greater(thr))
		up := wv.Add(thr).Merge(down, wv.Less(zero.Sub(thr)))
		up.Merge(wv, l1v.NotEqual(zero)).StoreSlicePart(w[c:])
	}
	archsimd.ClearAVXUpperBits()
}
