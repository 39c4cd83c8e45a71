// Command kernels measures the compute kernels' float32 throughput against
// the machine's measured peak and prints one JSON object (make bench writes
// it to benchmarks/work/kernels-<engine>.json for the report).
//
// The reference peak is the BLAS's own sgemm on a large square product
// (2048³ by default) with every core; with the openblas build that is
// OpenBLAS. A theoretical peak is computed too when /proc/cpuinfo gives
// the clock: cores × GHz × FLOP/cycle (32 for AVX2+FMA, i.e. two 8-lane
// FMA units; 64 for AVX-512 on Intel; AMD's AVX-512 is counted at 32).
// The kernels run through compute.Current() (package compute/cpu) at the
// shapes k-means and kNN use. Build it the way make build builds the
// binaries to measure the OpenBLAS engine (see mk/bench.mk), or with
// CGO_ENABLED=0 for the pure-Go gonum engine.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/sagebrush-ml/sagebrush/compute"
	"github.com/sagebrush-ml/sagebrush/compute/cpu"
)

type Kernel struct {
	Name    string  `json:"name"`
	Shape   string  `json:"shape"`
	Use     string  `json:"use"`
	Flops   float64 `json:"flops_per_call"` // 2·m·n·k of the dominant product
	Calls   int     `json:"calls"`
	USCall  float64 `json:"us_per_call"`
	GFLOPs  float64 `json:"gflops"`
	Threads int     `json:"threads"`
}

type Peak struct {
	BLAS    string  `json:"blas"`
	Size    int     `json:"size"`
	Threads int     `json:"threads"`
	GFLOPs  float64 `json:"gflops"`
}

type Output struct {
	Engine            string   `json:"engine"`
	CPU               string   `json:"cpu"`
	Cores             int      `json:"cores"`
	MHz               float64  `json:"mhz,omitempty"`
	Flags             []string `json:"simd_flags"`
	TheoreticalGFLOPs float64  `json:"theoretical_gflops,omitempty"`
	TheoreticalBasis  string   `json:"theoretical_basis"`
	Peak              Peak     `json:"peak"`
	Peak1             Peak     `json:"peak_one_thread"`
	Kernels           []Kernel `json:"kernels"`
}

func main() {
	size := flag.Int("peak-size", 2048, "side of the square sgemm that measures the peak")
	minTime := flag.Duration("min-time", 400*time.Millisecond, "run each kernel at least this long")
	flag.Parse()

	out := Output{Engine: cpu.Engine(), Cores: runtime.NumCPU()}
	out.CPU, out.MHz, out.Flags = cpuInfo()
	out.TheoreticalGFLOPs, out.TheoreticalBasis = theoretical(out)

	blasName, _ := peakBLAS(1)
	for _, threads := range []int{out.Cores, 1} {
		_, sgemm := peakBLAS(threads)
		n := *size
		rng := rand.New(rand.NewPCG(1, 2))
		a, b, c := randSlice(rng, n*n), randSlice(rng, n*n), make([]float32, n*n)
		prev := runtime.GOMAXPROCS(threads)
		sgemm(n, n, n, a, b, c) // warm
		best := 0.0
		for range 5 {
			t := time.Now()
			sgemm(n, n, n, a, b, c)
			best = max(best, 2*float64(n)*float64(n)*float64(n)/time.Since(t).Seconds()/1e9)
		}
		runtime.GOMAXPROCS(prev)
		p := Peak{BLAS: blasName, Size: n, Threads: threads, GFLOPs: best}
		if threads == 1 {
			out.Peak1 = p
		} else {
			out.Peak = p
		}
		fmt.Fprintf(os.Stderr, "kernels: %s sgemm %d³, %d thread(s): %.1f GFLOP/s\n", blasName, n, threads, best)
	}

	be := compute.Current()
	rng := rand.New(rand.NewPCG(3, 4))
	mat := func(r, c int) compute.Matrix { return compute.MatrixOf(r, c, randSlice(rng, r*c)) }
	add := func(name, shape, use string, flops float64, f func()) {
		f()
		calls := 0
		t := time.Now()
		for time.Since(t) < *minTime {
			f()
			calls++
		}
		el := time.Since(t).Seconds()
		k := Kernel{Name: name, Shape: shape, Use: use, Flops: flops, Calls: calls,
			USCall: el / float64(calls) * 1e6, GFLOPs: flops * float64(calls) / el / 1e9, Threads: runtime.GOMAXPROCS(0)}
		out.Kernels = append(out.Kernels, k)
		fmt.Fprintf(os.Stderr, "kernels: %-10s %-28s %8.1f GFLOP/s  %10.1f µs/call\n", name, shape, k.GFLOPs, k.USCall)
	}

	// k-means training: a mini-batch of 5000 MNIST rows against k centers;
	// serving: 1 and 100 rows against 10 centers.
	for _, s := range []struct {
		n, k int
		use  string
	}{{5000, 10, "k-means training step, k=10"}, {5000, 100, "k-means training step, k=100"}, {100, 10, "k-means serving, 100 rows"}, {1, 10, "k-means serving, 1 row"}} {
		x, y := mat(s.n, 784), mat(s.k, 784)
		yn := make([]float32, s.k)
		be.RowSquaredNorms(yn, y)
		fl := 2 * float64(s.n) * float64(s.k) * 784
		shape := fmt.Sprintf("%d×784 · (%d×784)ᵀ", s.n, s.k)
		if s.n == 5000 {
			c := compute.NewMatrix(s.n, s.k)
			add("Gemm", shape, s.use, fl, func() { be.Gemm(false, true, 1, x, y, 0, c) })
			d := compute.NewMatrix(s.n, s.k)
			add("PairwiseL2", shape, s.use, fl, func() { be.PairwiseL2(d, x, y, yn) })
		}
		idx, dist := make([]int32, s.n), make([]float32, s.n)
		scratch := make([]float32, s.n*s.k)
		add("NearestL2", shape, s.use, fl, func() { compute.NearestL2(be, idx, dist, x, y, yn, scratch) })
	}
	// kNN: 1000 queries against 10000 samples (flat index).
	{
		x, y := mat(1000, 784), mat(10000, 784)
		yn := make([]float32, 10000)
		be.RowSquaredNorms(yn, y)
		fl := 2 * 1000 * 10000 * 784.0
		shape := "1000×784 · (10000×784)ᵀ"
		c := compute.NewMatrix(1000, 10000)
		add("Gemm", shape, "kNN flat search, 1000 queries", fl, func() { be.Gemm(false, true, 1, x, y, 0, c) })
		idx, dist := make([]int32, 1000), make([]float32, 1000)
		add("NearestL2", shape, "kNN flat search, k=1", fl, func() { compute.NearestL2(be, idx, dist, x, y, yn, c.Data) })
		tidx, tdist := make([]int32, 1000*10), make([]float32, 1000*10)
		add("TopKL2", shape+", k=10", "kNN flat search, k=10", fl, func() { compute.TopKL2(be, tdist, tidx, 10, x, y, yn) })
	}
	// A large square product through our Gemm (tiles + our parallel split).
	{
		n := *size
		x, y := mat(n, n), mat(n, n)
		c := compute.NewMatrix(n, n)
		add("Gemm", fmt.Sprintf("%d×%d · (%d×%d)ᵀ", n, n, n, n), "same product as the peak", 2*float64(n)*float64(n)*float64(n), func() { be.Gemm(false, true, 1, x, y, 0, c) })
	}

	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	enc.Encode(out)
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = rng.Float32()
	}
	return s
}

func cpuInfo() (model string, mhz float64, flags []string) {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "", 0, nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "model name":
			if model == "" {
				model = v
			}
		case "cpu MHz":
			if mhz == 0 {
				mhz, _ = strconv.ParseFloat(v, 64)
			}
		case "flags":
			if flags == nil {
				for _, fl := range strings.Fields(v) {
					switch fl {
					case "avx", "avx2", "fma", "avx512f":
						flags = append(flags, fl)
					}
				}
			}
		}
	}
	return model, mhz, flags
}

func theoretical(o Output) (float64, string) {
	has := func(f string) bool {
		for _, x := range o.Flags {
			if x == f {
				return true
			}
		}
		return false
	}
	per := 0.0
	basis := ""
	switch {
	case has("avx512f") && !strings.Contains(o.CPU, "AMD"):
		per, basis = 64, "AVX-512 with 2 FMA units: 2×16 lanes×2 FLOP = 64 FLOP/cycle"
	case has("fma") && has("avx2"):
		per, basis = 32, "AVX2 FMA, 2 units: 2×8 lanes×2 FLOP = 32 FLOP/cycle (AMD's AVX-512 runs at the same width)"
	default:
		return 0, "no FMA flags: not computed"
	}
	if o.MHz == 0 {
		return 0, basis + "; /proc/cpuinfo gives no clock: not computed"
	}
	return float64(o.Cores) * o.MHz / 1000 * per, fmt.Sprintf("%d cores (vCPUs) × %.2f GHz (cpuinfo's cpu MHz, not the boost clock) × %.0f FLOP/cycle; %s", o.Cores, o.MHz/1000, per, basis)
}
