package cpu_test

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/sagebrush-ml/sagebrush/compute"
	"github.com/sagebrush-ml/sagebrush/compute/cpu"
)

// TestTopKMatchesPairwise checks that TopKL2 returns exactly the first k of
// PairwiseL2's row sorted by (distance, index), bit for bit, at every
// GOMAXPROCS (shapes take the sequential, parallel and split-y paths).
func TestTopKMatchesPairwise(t *testing.T) {
	b := cpu.New()
	rng := rand.New(rand.NewPCG(2, 2))
	for _, sh := range []struct{ n, m, d, k int }{{7, 5, 3, 3}, {400, 700, 784, 10}, {3, 5000, 64, 20}} {
		x, y := randMatrix(rng, sh.n, sh.d), randMatrix(rng, sh.m, sh.d)
		full := compute.NewMatrix(sh.n, sh.m)
		b.PairwiseL2(full, x, y, nil)
		for _, procs := range []int{1, 2, 3} {
			prev := runtime.GOMAXPROCS(procs)
			dist, idx := make([]float32, sh.n*sh.k), make([]int32, sh.n*sh.k)
			b.TopKL2(dist, idx, sh.k, x, y, nil)
			runtime.GOMAXPROCS(prev)
			for i := range sh.n {
				row := full.Row(i)
				order := make([]int32, sh.m)
				for j := range order {
					order[j] = int32(j)
				}
				slices.SortStableFunc(order, func(a, c int32) int { return cmp.Compare(row[a], row[c]) })
				for p := range min(sh.k, sh.m) {
					if idx[i*sh.k+p] != order[p] || dist[i*sh.k+p] != row[order[p]] {
						t.Fatalf("%v GOMAXPROCS=%d row %d slot %d: (%d, %v), want (%d, %v)", sh, procs, i, p,
							idx[i*sh.k+p], dist[i*sh.k+p], order[p], row[order[p]])
					}
				}
			}
		}
	}
}

// TestTopKNoAllocs: steady-state calls allocate nothing (see TestNoAllocs).
// On one P (every task on the calling goroutine) that is exact. With
// helpers, the shared batch pool of parallel.go is released on whichever P
// finishes last, so its per-P chains still grow now and then: up to one
// allocation every other call is tolerated there (the kernel's own scratch
// comes from pooled jobs and a channel free list of tiles).
func TestTopKNoAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	b := cpu.New()
	rng := rand.New(rand.NewPCG(1, 1))
	x, y, q := randMatrix(rng, 200, 784), randMatrix(rng, 300, 784), randMatrix(rng, 2, 784)
	dist, idx := make([]float32, 200*10), make([]int32, 200*10)
	yn := make([]float32, 300)
	b.RowSquaredNorms(yn, y)
	kernels := map[string]func(){
		"TopKL2":       func() { b.TopKL2(dist, idx, 10, x, y, yn) },
		"TopKIP":       func() { b.TopKIP(dist, idx, 10, x, y) },
		"TopKL2/split": func() { b.TopKL2(dist[:20], idx[:20], 10, q, x, nil) },
	}
	for _, procs := range []int{1, max(2, runtime.NumCPU())} {
		prev := runtime.GOMAXPROCS(procs)
		for name, f := range kernels {
			for range 20 {
				f()
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			const runs = 20
			for range runs {
				f()
			}
			runtime.ReadMemStats(&after)
			allowed := uint64(0)
			if procs > 1 {
				allowed = runs / 2
			}
			if n := after.Mallocs - before.Mallocs; n > allowed {
				t.Errorf("%s GOMAXPROCS=%d: %d allocations in %d runs, want at most %d", name, procs, n, runs, allowed)
			}
		}
		runtime.GOMAXPROCS(prev)
	}
}

// BenchmarkTopKL2 runs the kNN search shape: n queries against m rows.
func BenchmarkTopKL2(b *testing.B) {
	be := cpu.New()
	rng := rand.New(rand.NewPCG(1, 1))
	for _, sh := range []struct{ n, m, d, k int }{{1000, 60000, 784, 10}, {5000, 60000, 784, 10}, {1, 60000, 784, 10}} {
		x, y := randMatrix(rng, sh.n, sh.d), randMatrix(rng, sh.m, sh.d)
		yn := make([]float32, sh.m)
		be.RowSquaredNorms(yn, y)
		dist, idx := make([]float32, sh.n*sh.k), make([]int32, sh.n*sh.k)
		b.Run(fmt.Sprintf("n=%d,m=%d,d=%d,k=%d", sh.n, sh.m, sh.d, sh.k), func(b *testing.B) {
			for b.Loop() {
				be.TopKL2(dist, idx, sh.k, x, y, yn)
			}
			b.ReportMetric(2*float64(sh.n)*float64(sh.m)*float64(sh.d)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
