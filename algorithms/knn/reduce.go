package knn

import (
	"math"
	"math/bits"
	"math/rand/v2"

	"github.com/sagebrush-ml/sagebrush/compute"
	"github.com/sagebrush-ml/sagebrush/data"
)

// reductionSeed seeds the projection. The guide has no seed
// hyperparameter; a fixed one makes the same data give the same model, and
// it is stored in the metadata so that serving rebuilds the same projection.
const reductionSeed = 3

// Reduction is a random projection from InputDim to TargetDim dimensions
// that preserves L2 distances and inner products in expectation (the
// Johnson-Lindenstrauss lemma). It is rebuilt exactly from its four fields.
type Reduction struct {
	Type      string `json:"type"` // "sign" or "fjlt"
	Seed      uint64 `json:"seed"`
	TargetDim int    `json:"target_dim"`
	InputDim  int    `json:"input_dim"`

	// sign: the InputDim × TargetDim matrix of ±1/√TargetDim.
	r compute.Matrix
	// fjlt: the random signs D (InputDim), the sampled coordinates of the
	// Walsh-Hadamard transform (TargetDim of pad, fjltPad).
	signs  []float32
	coords []int
	pad    int
}

// newReduction builds the projection of the given type and size from seed.
func newReduction(typ string, seed uint64, input, target int) *Reduction {
	r := &Reduction{Type: typ, Seed: seed, InputDim: input, TargetDim: target}
	r.build()
	return r
}

// reductionBytes is what a projection of the given type and size holds.
func reductionBytes(typ string, input, target int) int64 {
	if typ == "fjlt" {
		return 4*int64(input) + 8*int64(fjltPad(input, target)) // signs and a permutation
	}
	return 4 * int64(input) * int64(target) // sign: the matrix
}

// fjltPad is the length of the fjlt's transform: the least power of two
// holding the input and the target. The target can pass the input: IVFPQ
// raises it to a multiple of faiss_index_pq_m (feature_dim 16, target 15,
// m 12: 24 of a 16-point transform, which panicked before the target
// counted here). For any target within the input's power of two, the pad
// is what it always was, so saved models rebuild the same projection.
func fjltPad(input, target int) int {
	return 1 << bits.Len(uint(max(input, target)-1))
}

func (r *Reduction) build() {
	rng := rand.New(rand.NewPCG(r.Seed, 0x6a4c))
	scale := float32(1 / math.Sqrt(float64(r.TargetDim)))
	switch r.Type {
	case "sign":
		r.r = compute.NewMatrix(r.InputDim, r.TargetDim)
		for i := range r.r.Data {
			if rng.Uint64()&1 == 0 {
				r.r.Data[i] = scale
			} else {
				r.r.Data[i] = -scale
			}
		}
	case "fjlt":
		r.pad = fjltPad(r.InputDim, r.TargetDim)
		r.signs = make([]float32, r.InputDim)
		for i := range r.signs {
			if rng.Uint64()&1 == 0 {
				r.signs[i] = scale
			} else {
				r.signs[i] = -scale
			}
		}
		r.coords = rng.Perm(r.pad)[:r.TargetDim]
	}
}

// Apply projects the rows of x (n × InputDim) into dst (n × TargetDim).
// sign is one matrix product; fjlt is per row D, then the fast
// Walsh-Hadamard transform (O(d log d)), then the sampled coordinates.
func (r *Reduction) Apply(be compute.Backend, dst, x compute.Matrix) {
	switch r.Type {
	case "sign":
		be.Gemm(false, false, 1, x, r.r, 0, dst)
	case "fjlt":
		buf := make([]float32, r.pad)
		for i := 0; i < x.Rows; i++ {
			clear(buf)
			for j, v := range x.Row(i) {
				buf[j] = v * r.signs[j]
			}
			fwht(buf)
			out := dst.Row(i)
			for j, c := range r.coords {
				out[j] = buf[c]
			}
		}
	}
}

// ApplyBatch projects the rows of b (dense or CSR, InputDim columns) into
// dst (b.Rows × TargetDim). A CSR row is projected from its stored entries,
// never made dense: sign sums the rows of the matrix its features pick;
// fjlt sums, for each sampled coordinate c, the signed entries' ±1 of the
// Walsh-Hadamard matrix ((-1)^popcount(c&j)) when that is cheaper than the
// whole transform (nnz × target < pad·log₂pad: 5 entries at 200,000
// features are 160 terms against 4.7 million), else fills the transform's
// input from them (the same bits as Apply).
func (r *Reduction) ApplyBatch(be compute.Backend, dst compute.Matrix, b *data.Batch) {
	if !b.Sparse() {
		r.Apply(be, dst, compute.MatrixOf(b.Rows, b.Cols, b.Dense[:b.Rows*b.Cols]))
		return
	}
	var buf []float32
	logPad := bits.Len(uint(r.pad)) - 1
	for i := 0; i < b.Rows; i++ {
		out := dst.Row(i)
		switch r.Type {
		case "sign":
			clear(out)
			for q := b.Indptr[i]; q < b.Indptr[i+1]; q++ {
				v := b.Values[q]
				for c, w := range r.r.Row(int(b.Indices[q])) {
					out[c] += v * w
				}
			}
		case "fjlt":
			lo, hi := b.Indptr[i], b.Indptr[i+1]
			if (hi-lo)*len(r.coords) < r.pad*logPad {
				for t, c := range r.coords {
					var s float64
					for q := lo; q < hi; q++ {
						j := b.Indices[q]
						v := float64(b.Values[q] * r.signs[j])
						if bits.OnesCount(uint(c)&uint(j))&1 == 1 {
							v = -v
						}
						s += v
					}
					out[t] = float32(s)
				}
				continue
			}
			if buf == nil {
				buf = make([]float32, r.pad)
			}
			clear(buf)
			for q := b.Indptr[i]; q < b.Indptr[i+1]; q++ {
				j := b.Indices[q]
				buf[j] += b.Values[q] * r.signs[j]
			}
			fwht(buf)
			for j, c := range r.coords {
				out[j] = buf[c]
			}
		}
	}
}

// fwht is the unnormalised Walsh-Hadamard transform, in place; len(a) is a
// power of two.
func fwht(a []float32) {
	for h := 1; h < len(a); h *= 2 {
		for i := 0; i < len(a); i += 2 * h {
			lo, hi := a[i:i+h], a[i+h:i+2*h]
			for j := range lo {
				x, y := lo[j], hi[j]
				lo[j], hi[j] = x+y, x-y
			}
		}
	}
}
