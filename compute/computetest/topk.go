package computetest

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/sagebrush-ml/sagebrush/compute"
)

// TestTopK checks compute.TopKL2 and compute.TopKIP on b (its own TopK
// kernel when it has one) and on the fallback path (b with TopK hidden):
// neighbours distinct and nearest first, padding with -1/+Inf past y.Rows,
// each distance within tol of the float64 reference, and no row left out
// that is nearer than the k-th kept beyond that tolerance. On small-integer
// inputs, where float32 is exact, indices and distances must equal the
// reference's exactly, ties going to the lower index.
func TestTopK(t *testing.T, b compute.Backend) {
	backends := []struct {
		name string
		b    compute.Backend
	}{{"native", b}, {"fallback", hideTopK{b}}}
	rng := newRand()
	for _, c := range distCases {
		x, y := c.inputs(rng)
		l2, l2Scale := refMatrix(x, y, true)
		ip, ipScale := refMatrix(x, y, false)
		for _, k := range []int{1, 3, 10, c.k + 2} {
			for _, be := range backends {
				for _, metric := range []string{"L2", "IP"} {
					name := fmt.Sprintf("%s/%v/k=%d/%s", be.name, c, k, metric)
					dist := make([]float32, c.n*k)
					idx := make([]int32, c.n*k)
					for i := range dist {
						dist[i], idx[i] = -7, -7
					}
					ref, scale := l2, l2Scale
					if metric == "L2" {
						compute.TopKL2(be.b, dist, idx, k, x, y, nil)
					} else {
						compute.TopKIP(be.b, dist, idx, k, x, y)
						ref, scale = ip, ipScale
					}
					checkTopK(t, name, dist, idx, k, c, ref, scale)
				}
			}
		}
	}
}

// hideTopK is a backend without the optional TopK kernel.
type hideTopK struct{ compute.Backend }

// refMatrix returns the float64 distances (squared L2, or -x·y) between
// every row of x and of y, row-major, and the scale of each one's float32
// error.
func refMatrix(x, y compute.Matrix, l2 bool) (ref, scale []float64) {
	ref, scale = make([]float64, x.Rows*y.Rows), make([]float64, x.Rows*y.Rows)
	for i := range x.Rows {
		for j := range y.Rows {
			var d, s float64
			for l := range x.Cols {
				xv, yv := at(x, i, l), at(y, j, l)
				if l2 {
					d += (xv - yv) * (xv - yv)
					s += xv*xv + yv*yv
				} else {
					d -= xv * yv
					s += math.Abs(xv * yv)
				}
			}
			ref[i*y.Rows+j], scale[i*y.Rows+j] = d, s
		}
	}
	return ref, scale
}

func checkTopK(t *testing.T, name string, dist []float32, idx []int32, k int, c distCase, ref, scale []float64) {
	t.Helper()
	m := c.k
	for i := range c.n {
		gi, gd := idx[i*k:(i+1)*k], dist[i*k:(i+1)*k]
		// The exact reference order: ascending distance, then index.
		order := make([]int, m)
		for j := range order {
			order[j] = j
		}
		row := ref[i*m : (i+1)*m]
		slices.SortStableFunc(order, func(a, b int) int {
			if row[a] != row[b] {
				if row[a] < row[b] {
					return -1
				}
				return 1
			}
			return a - b
		})
		seen := map[int32]bool{}
		for p := range k {
			if p >= m {
				if gi[p] != -1 || !math.IsInf(float64(gd[p]), 1) {
					t.Fatalf("%s: row %d slot %d = (%d, %v), want padding (-1, +Inf)", name, i, p, gi[p], gd[p])
				}
				continue
			}
			j := gi[p]
			if j < 0 || int(j) >= m || seen[j] {
				t.Fatalf("%s: row %d slot %d index %d is out of range or repeated", name, i, p, j)
			}
			seen[j] = true
			if p > 0 && gd[p] < gd[p-1] {
				t.Fatalf("%s: row %d distances not ascending at slot %d: %v", name, i, p, gd)
			}
			want := row[j]
			if c.exact {
				if int(j) != order[p] || float64(gd[p]) != row[order[p]] {
					t.Fatalf("%s: row %d slot %d = (%d, %v), want (%d, %v)", name, i, p, j, gd[p], order[p], row[order[p]])
				}
				continue
			}
			if bound := tol * scale[i*m+int(j)]; !(math.Abs(float64(gd[p])-want) <= bound) {
				t.Fatalf("%s: row %d slot %d distance %v to %d, want %v (tolerance %.3g)", name, i, p, gd[p], j, want, bound)
			}
		}
		if k >= m || c.exact {
			continue
		}
		// Nothing left out is nearer than the k-th kept, beyond tolerance.
		kth := row[gi[k-1]]
		for j := range m {
			if !seen[int32(j)] && row[j] < kth-tol*(scale[i*m+j]+scale[i*m+int(gi[k-1])]) {
				t.Fatalf("%s: row %d left out %d at %v, nearer than the k-th kept %d at %v", name, i, j, row[j], gi[k-1], kth)
			}
		}
	}
}
