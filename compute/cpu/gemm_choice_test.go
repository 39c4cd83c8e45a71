package cpu

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"gonum.org/v1/gonum/blas"

	"github.com/sagebrush-ml/sagebrush/compute"
)

// BenchmarkGemmChoice records why Gemm is gonum's serial Sgemm on tiles
// split across our own workers: it compares that with gonum's Sgemm called
// on the whole product (its own 64×64 blocking and goroutines, dot
// products cut to 64 elements) and with a register-blocked pure-Go loop,
// on the k-means shape X·Cᵀ (5000×784 times 784×100).
func BenchmarkGemmChoice(b *testing.B) {
	const m, n, k = 5000, 100, 784
	rng := rand.New(rand.NewPCG(1, 1))
	x, y, c := compute.NewMatrix(m, k), compute.NewMatrix(n, k), compute.NewMatrix(m, n)
	for i := range x.Data {
		x.Data[i] = rng.Float32()
	}
	for i := range y.Data {
		y.Data[i] = rng.Float32()
	}
	flops := 2.0 * m * n * k
	report := func(b *testing.B) {
		b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	}
	b.Run("tiled-gonum", func(b *testing.B) {
		be := New()
		for range b.N {
			be.Gemm(false, true, 1, x, y, 0, c)
		}
		report(b)
	})
	b.Run("gonum-whole", func(b *testing.B) {
		for range b.N {
			impl.Sgemm(blas.NoTrans, blas.Trans, m, n, k, 1, x.Data, k, y.Data, k, 0, c.Data, n)
		}
		report(b)
	})
	b.Run("go-blocked", func(b *testing.B) {
		for range b.N {
			goBlocked(x, y, c)
		}
		report(b)
	})
}

// goBlocked computes c = x·yᵀ with a 4×4 register block in plain Go,
// parallel over blocks of 64 rows of x.
func goBlocked(x, y, c compute.Matrix) {
	var wg sync.WaitGroup
	procs := runtime.GOMAXPROCS(0)
	rowsPer := 64
	next := make(chan int, (x.Rows+rowsPer-1)/rowsPer)
	for i := 0; i < x.Rows; i += rowsPer {
		next <- i
	}
	close(next)
	for range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i0 := range next {
				i1 := min(i0+rowsPer, x.Rows)
				for i := i0; i < i1; i += 4 {
					for j := 0; j < y.Rows; j += 4 {
						if i+4 > i1 || j+4 > y.Rows {
							for ii := i; ii < min(i+4, i1); ii++ {
								for jj := j; jj < min(j+4, y.Rows); jj++ {
									var s float32
									xr, yr := x.Row(ii), y.Row(jj)
									for l := range xr {
										s += xr[l] * yr[l]
									}
									c.Data[ii*c.Stride+jj] = s
								}
							}
							continue
						}
						x0, x1, x2, x3 := x.Row(i), x.Row(i+1), x.Row(i+2), x.Row(i+3)
						y0, y1, y2, y3 := y.Row(j), y.Row(j+1), y.Row(j+2), y.Row(j+3)
						var s00, s01, s02, s03, s10, s11, s12, s13, s20, s21, s22, s23, s30, s31, s32, s33 float32
						for l := range x0 {
							a0, a1, a2, a3 := x0[l], x1[l], x2[l], x3[l]
							b0, b1, b2, b3 := y0[l], y1[l], y2[l], y3[l]
							s00 += a0 * b0
							s01 += a0 * b1
							s02 += a0 * b2
							s03 += a0 * b3
							s10 += a1 * b0
							s11 += a1 * b1
							s12 += a1 * b2
							s13 += a1 * b3
							s20 += a2 * b0
							s21 += a2 * b1
							s22 += a2 * b2
							s23 += a2 * b3
							s30 += a3 * b0
							s31 += a3 * b1
							s32 += a3 * b2
							s33 += a3 * b3
						}
						for r, row := range [4][4]float32{{s00, s01, s02, s03}, {s10, s11, s12, s13}, {s20, s21, s22, s23}, {s30, s31, s32, s33}} {
							copy(c.Data[(i+r)*c.Stride+j:], row[:])
						}
					}
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkGemmSkinny records why products with B (not Bᵀ) run as one row
// block per core with OpenBLAS (perCoreWide), on the linear learner's step
// (X·W then Xᵀ·G: 1000×784 by 784×60), and how far such a product scales
// on two cores: one single-threaded call alone, then two independent
// calls at once (the skinny shape and 1024³ for comparison). Run with
// -tags openblas for the figures in docs/algorithms/linear-learner.md.
func BenchmarkGemmSkinny(b *testing.B) {
	const rows, d, n = 1000, 784, 60
	rng := rand.New(rand.NewPCG(1, 1))
	mk := func(r, c int) compute.Matrix {
		m := compute.NewMatrix(r, c)
		for i := range m.Data {
			m.Data[i] = rng.Float32()
		}
		return m
	}
	x, w, z, dw := mk(rows, d), mk(d, n), mk(rows, n), mk(d, n)
	gflops := func(b *testing.B, flops float64) {
		b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	}
	be := New()
	saved := perCoreWide
	defer func() { perCoreWide = saved }()
	for _, pc := range []bool{false, true} {
		name := "step/wide-tiles"
		if pc {
			name = "step/per-core"
		}
		b.Run(name, func(b *testing.B) {
			perCoreWide = pc
			for range b.N {
				be.Gemm(false, false, 1, x, w, 0, z)
				be.Gemm(true, false, 1, x, z, 0, dw)
			}
			gflops(b, 4.0*rows*n*d)
		})
	}
	perCoreWide = saved

	big := mk(1024, 1024)
	bigOut := []compute.Matrix{mk(1024, 1024), mk(1024, 1024)}
	xs := []compute.Matrix{x, mk(rows, d)}
	zs := []compute.Matrix{z, mk(rows, n)}
	for _, shape := range []string{"skinny", "1024"} {
		for _, calls := range []int{1, 2} {
			b.Run(fmt.Sprintf("scaling/%s/calls=%d", shape, calls), func(b *testing.B) {
				flops := 2.0 * rows * n * d
				if shape == "1024" {
					flops = 2.0 * 1024 * 1024 * 1024
				}
				for range b.N {
					var wg sync.WaitGroup
					for c := range calls {
						wg.Add(1)
						go func() {
							defer wg.Done()
							if shape == "1024" {
								impl.Sgemm(blas.NoTrans, blas.NoTrans, 1024, 1024, 1024, 1, big.Data, 1024, big.Data, 1024, 0, bigOut[c].Data, 1024)
							} else {
								impl.Sgemm(blas.NoTrans, blas.NoTrans, rows, n, d, 1, xs[c].Data, d, w.Data, n, 0, zs[c].Data, n)
							}
						}()
					}
					wg.Wait()
				}
				gflops(b, float64(calls)*flops)
			})
		}
	}
}
