package gpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/sagebrush-ml/sagebrush/compute"
	"github.com/sagebrush-ml/sagebrush/compute/computetest"
	"github.com/sagebrush-ml/sagebrush/compute/cpu"
)

// These tests run the kernels on a GPU. Where none is usable (no driver,
// no device, no cuBLAS or NVRTC, or the kernels fail to compile), each
// skips and says why, so CI without a GPU stays green.

var (
	openOnce sync.Once
	shared   *Backend
	openErr  error
)

// device returns the package's one Backend with MinWork 0 (every call on
// the GPU), or skips the test with the reason there is none.
func device(t testing.TB) *Backend {
	t.Helper()
	openOnce.Do(func() { shared, openErr = Open() })
	if openErr != nil {
		t.Skipf("no GPU: %v", openErr)
	}
	shared.MinWork = 0
	return shared
}

func TestConformance(t *testing.T) {
	b := device(t)
	t.Logf("device: %s", b.Device())
	computetest.TestBackend(t, b)
}

func TestConformanceTopK(t *testing.T) { computetest.TestTopK(t, device(t)) }

// TestConformanceMixed runs the suite with the default MinWork, so small
// calls take the CPU engine and large ones the GPU within one run.
func TestConformanceMixed(t *testing.T) {
	b := device(t)
	b.MinWork = DefaultMinWork
	defer func() { b.MinWork = 0 }()
	computetest.TestBackend(t, b)
}

func randMatrix(rng *rand.Rand, rows, cols, pad int) compute.Matrix {
	m := compute.Matrix{Rows: rows, Cols: cols, Stride: cols + pad, Data: make([]float32, rows*(cols+pad))}
	for i := range m.Data {
		m.Data[i] = rng.Float32()*2 - 1
	}
	return m
}

// The kernel-vs-CPU comparisons. Tolerance: float32 products summed in a
// different order (cuBLAS's blocking against gonum's or OpenBLAS's) differ
// by a few ulps of the sum of the absolute terms; we allow 1e-4 of
// ‖x_i‖²+‖y_j‖² for distances (the computetest convention).
const tol = 1e-4

// TestKernelsAgainstCPU compares PairwiseL2, NearestL2 and TopKL2/TopKIP
// on the GPU with the CPU engine on random inputs in shapes that cross the
// block boundaries (x split into several blocks, y wider than a block of
// threads), MNIST's d=784 among them.
func TestKernelsAgainstCPU(t *testing.T) {
	g := device(t)
	c := cpu.New()
	rng := rand.New(rand.NewPCG(7, 7))
	for _, sh := range []struct{ n, ny, d, k int }{{1, 1, 1, 1}, {300, 100, 784, 10}, {3000, 1000, 784, 10}, {5000, 10, 33, 3}, {129, 4097, 50, 64}, {64, 300, 20, 100}} {
		name := fmt.Sprintf("n=%d,ny=%d,d=%d,k=%d", sh.n, sh.ny, sh.d, sh.k)
		x, y := randMatrix(rng, sh.n, sh.d, 1), randMatrix(rng, sh.ny, sh.d, 0)
		xn, yn := make([]float32, sh.n), make([]float32, sh.ny)
		c.RowSquaredNorms(xn, x)
		c.RowSquaredNorms(yn, y)
		scale := func(i, j int) float64 { return tol * float64(xn[i]+yn[j]+1) }

		gn := make([]float32, sh.n)
		g.RowSquaredNorms(gn, x)
		for i := range gn {
			if math.Abs(float64(gn[i]-xn[i])) > tol*float64(xn[i]) {
				t.Fatalf("%s: norm %d: gpu %v, cpu %v", name, i, gn[i], xn[i])
			}
		}

		want, got := compute.NewMatrix(sh.n, sh.ny), compute.NewMatrix(sh.n, sh.ny)
		c.PairwiseL2(want, x, y, yn)
		g.PairwiseL2(got, x, y, nil)
		for i := range sh.n {
			for j := range sh.ny {
				if d := math.Abs(float64(got.Data[i*sh.ny+j] - want.Data[i*sh.ny+j])); d > scale(i, j) || got.Data[i*sh.ny+j] < 0 {
					t.Fatalf("%s: distance (%d,%d): gpu %v, cpu %v", name, i, j, got.Data[i*sh.ny+j], want.Data[i*sh.ny+j])
				}
			}
		}

		gi, gd := make([]int32, sh.n), make([]float32, sh.n)
		g.NearestL2(gi, gd, x, y, yn)
		for i := range sh.n {
			// The GPU's nearest must be as near as the CPU's, within tolerance.
			best := want.Data[i*sh.ny]
			for _, v := range want.Row(i) {
				best = min(best, v)
			}
			if math.Abs(float64(gd[i]-best)) > scale(i, int(gi[i])) || math.Abs(float64(want.Data[i*sh.ny+int(gi[i])]-best)) > scale(i, int(gi[i])) {
				t.Fatalf("%s: nearest of row %d: gpu %d at %v, best %v", name, i, gi[i], gd[i], best)
			}
		}

		for _, ip := range []bool{false, true} {
			wd, wi := make([]float32, sh.n*sh.k), make([]int32, sh.n*sh.k)
			hd, hi := make([]float32, sh.n*sh.k), make([]int32, sh.n*sh.k)
			if ip {
				c.TopKIP(wd, wi, sh.k, x, y)
				g.TopKIP(hd, hi, sh.k, x, y)
			} else {
				c.TopKL2(wd, wi, sh.k, x, y, yn)
				g.TopKL2(hd, hi, sh.k, x, y, nil)
			}
			for p := range wd {
				if wi[p] < 0 || hi[p] < 0 {
					if wi[p] != hi[p] {
						t.Fatalf("%s ip=%t: slot %d: gpu index %d, cpu %d", name, ip, p, hi[p], wi[p])
					}
					continue
				}
				// Ranks may swap between near-equal distances; the
				// distance in each rank must agree.
				if d := math.Abs(float64(hd[p] - wd[p])); d > scale(p/sh.k, int(wi[p])) {
					t.Fatalf("%s ip=%t: rank %d of row %d: gpu %v (index %d), cpu %v (index %d)", name, ip, p%sh.k, p/sh.k, hd[p], hi[p], wd[p], wi[p])
				}
			}
		}
	}
}

// TestSegmentSums compares the mini-batch center update with a float64
// sum in row order: tolerance 1e-5 of the sum of |terms| (the kernel sums
// in double and rounds once).
func TestSegmentSums(t *testing.T) {
	g := device(t)
	rng := rand.New(rand.NewPCG(3, 3))
	for _, sh := range []struct{ n, d, k int }{{1, 1, 1}, {5000, 784, 100}, {1000, 300, 7}, {10, 3, 20}} {
		x := randMatrix(rng, sh.n, sh.d, 2)
		assign := make([]int32, sh.n)
		for i := range assign {
			assign[i] = int32(rng.IntN(sh.k+1)) - 1 // -1: skipped
		}
		sums, counts := compute.NewMatrix(sh.k, sh.d), make([]float32, sh.k)
		g.SegmentSums(sums, counts, x, assign)
		for c := range sh.k {
			var cnt float32
			for j := range sh.d {
				var s, abs float64
				for i := range sh.n {
					if int(assign[i]) == c {
						v := float64(x.Data[i*x.Stride+j])
						s += v
						abs += math.Abs(v)
					}
				}
				if got := float64(sums.Data[c*sh.d+j]); math.Abs(got-s) > 1e-5*abs+1e-6 {
					t.Fatalf("n=%d,d=%d,k=%d: sum[%d,%d] = %v, want %v", sh.n, sh.d, sh.k, c, j, got, s)
				}
			}
			for i := range sh.n {
				if int(assign[i]) == c {
					cnt++
				}
			}
			if counts[c] != cnt {
				t.Fatalf("n=%d,d=%d,k=%d: count[%d] = %v, want %v", sh.n, sh.d, sh.k, c, counts[c], cnt)
			}
		}
	}
}

// TestConcurrentCalls checks that concurrent callers (a server's
// requests) get their own results.
func TestConcurrentCalls(t *testing.T) {
	g := device(t)
	c := cpu.New()
	rng := rand.New(rand.NewPCG(5, 5))
	y := randMatrix(rng, 500, 64, 0)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for w := range 8 {
		x := randMatrix(rng, 200+w, 64, 0)
		wg.Add(1)
		go func() {
			defer wg.Done()
			gi, gd := make([]int32, x.Rows), make([]float32, x.Rows)
			ci, cd := make([]int32, x.Rows), make([]float32, x.Rows)
			for range 20 {
				g.NearestL2(gi, gd, x, y, nil)
				c.NearestL2(ci, cd, x, y, nil)
				for i := range gi {
					if math.Abs(float64(gd[i]-cd[i])) > 1e-3 {
						errs <- fmt.Sprintf("worker %d row %d: gpu %d at %v, cpu %d at %v", w, i, gi[i], gd[i], ci[i], cd[i])
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func BenchmarkGPU(b *testing.B) { computetest.BenchmarkBackend(b, device(b)) }
