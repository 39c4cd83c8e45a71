package gpu

import (
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/sagebrush-ml/sagebrush/compute"
)

// These tests need no GPU: they check the binding's error paths, the
// selection logic, the row-major to column-major SGEMM mapping and the
// kernel sources' entry points, on any machine.

func TestOpenMissingLibraryNamesIt(t *testing.T) {
	_, err := OpenWith(Options{Driver: []string{"libsagebrush-missing-cuda.so.1", "libsagebrush-missing-cuda.so"}})
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("OpenWith(missing driver) = %v, want a *LoadError", err)
	}
	msg := err.Error()
	for _, want := range []string{"CUDA driver", "dlopen", "libsagebrush-missing-cuda.so.1", "libsagebrush-missing-cuda.so"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
}

func TestOpenLibraryTriesEveryName(t *testing.T) {
	for _, c := range []struct{ what, name string }{{"cuBLAS", "libsagebrush-missing-cublas.so.12"}, {"NVRTC", "libsagebrush-missing-nvrtc.so.12"}} {
		_, err := openLibrary(c.what, []string{c.name, c.name + ".0"})
		if err == nil || !strings.HasPrefix(err.Error(), c.what+": dlopen "+c.name+", "+c.name+".0: ") {
			t.Errorf("openLibrary(%s) = %v, want an error naming the library and both files", c.what, err)
		}
	}
	if _, err := loadCublas([]string{"libsagebrush-missing-cublas.so"}); err == nil || !strings.Contains(err.Error(), "cuBLAS") {
		t.Errorf("loadCublas(missing) = %v, want an error naming cuBLAS", err)
	}
	if _, err := loadNVRTC([]string{"libsagebrush-missing-nvrtc.so"}); err == nil || !strings.Contains(err.Error(), "NVRTC") {
		t.Errorf("loadNVRTC(missing) = %v, want an error naming NVRTC", err)
	}
}

// TestBindWithCgoOff binds a real C function (strlen from the C library)
// and a missing one through the same path as the CUDA libraries: purego
// works here whether cgo is on or off.
func TestBindWithCgoOff(t *testing.T) {
	lib, err := openLibrary("C library", []string{"libc.so.6"})
	if err != nil {
		t.Skipf("no libc.so.6 to bind against: %v", err)
	}
	var strlen func(s string) uint64
	if err := lib.bind([]fn{{"strlen", &strlen}}); err != nil {
		t.Fatalf("bind strlen: %v", err)
	}
	if got := strlen("sagebrush"); got != 9 {
		t.Errorf("strlen(\"sagebrush\") = %d, want 9", got)
	}
	var missing func() int32
	err = lib.bind([]fn{{"strlen", &strlen}, {"sagebrush_no_such_function", &missing}})
	var le *LoadError
	if !errors.As(err, &le) || le.Symbol != "sagebrush_no_such_function" || !strings.Contains(err.Error(), "C library (libc.so.6): no function sagebrush_no_such_function") {
		t.Errorf("bind(missing) = %v, want a LoadError naming the library and the function", err)
	}
}

func TestErrorsNameLibraryCallAndCode(t *testing.T) {
	drv := &driver{lib: &library{what: "CUDA driver", file: "libcuda.so.1"}}
	blas := &cublas{lib: &library{what: "cuBLAS", file: "libcublas.so.12"}}
	rtc := &nvrtc{lib: &library{what: "NVRTC", file: "libnvrtc.so.12"}}
	cases := []struct {
		err  error
		want string
	}{
		{drv.check("cuMemAlloc_v2", 2), "libcuda.so.1: cuMemAlloc_v2: CUDA_ERROR_OUT_OF_MEMORY (2)"},
		{drv.check("cuInit", 100), "libcuda.so.1: cuInit: CUDA_ERROR_NO_DEVICE (100)"},
		{drv.check("cuInit", 12345), "libcuda.so.1: cuInit: unknown CUresult (12345)"},
		{blas.check("cublasSgemm_v2", 7), "libcublas.so.12: cublasSgemm_v2: CUBLAS_STATUS_INVALID_VALUE (7)"},
		{rtc.check("nvrtcCompileProgram", 6), "libnvrtc.so.12: nvrtcCompileProgram: NVRTC_ERROR_COMPILATION (6)"},
		{&Error{Lib: "libnvrtc.so.12", Call: "nvrtcCompileProgram", Code: 6, Name: "NVRTC_ERROR_COMPILATION", Log: "k.cu(3): error: x\n"},
			"libnvrtc.so.12: nvrtcCompileProgram: NVRTC_ERROR_COMPILATION (6):\nk.cu(3): error: x"},
	}
	for _, c := range cases {
		if c.err == nil || c.err.Error() != c.want {
			t.Errorf("got %v, want %q", c.err, c.want)
		}
	}
	if err := drv.check("cuInit", 0); err != nil {
		t.Errorf("check(CUDA_SUCCESS) = %v, want nil", err)
	}
}

func TestParseMode(t *testing.T) {
	cases := []struct {
		in      string
		want    Mode
		wantErr bool
	}{
		{"", Auto, false}, {"auto", Auto, false}, {" AUTO ", Auto, false},
		{"cpu", CPU, false}, {"CPU", CPU, false},
		{"gpu", GPU, false}, {"cuda", GPU, false}, {"Gpu\n", GPU, false},
		{"tpu", Auto, true}, {"gpu0", Auto, true}, {"1", Auto, true},
	}
	for _, c := range cases {
		got, err := ParseMode(c.in)
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("ParseMode(%q) = %v, %v; want %v, error %t", c.in, got, err, c.want, c.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), "SAGEBRUSH_DEVICE=") {
			t.Errorf("ParseMode(%q) error %q does not name the variable", c.in, err)
		}
	}
}

func TestChoose(t *testing.T) {
	noGPU := func() (*Backend, error) {
		return nil, &LoadError{Lib: "CUDA driver", Tried: []string{"libcuda.so.1"}, Err: errors.New("libcuda.so.1: cannot open shared object file")}
	}
	gpu := func() (*Backend, error) {
		return &Backend{info: deviceInfo{name: "NVIDIA H100 80GB HBM3", totalMem: 85 << 30}}, nil
	}
	cases := []struct {
		name, env   string
		open        func() (*Backend, error)
		wantBackend bool
		wantMsg     string
		wantErr     string
	}{
		{"auto, no GPU", "", noGPU, false, "compute: no GPU (CUDA driver: dlopen libcuda.so.1: libcuda.so.1: cannot open shared object file); using the CPU engine", ""},
		{"auto, GPU", "auto", gpu, true, "compute: using CUDA on NVIDIA H100 80GB HBM3 (85.0 GiB)", ""},
		{"cpu forced", "cpu", nil, false, "compute: SAGEBRUSH_DEVICE=cpu; using the CPU engine", ""},
		{"gpu forced, no GPU", "gpu", noGPU, false, "", "SAGEBRUSH_DEVICE=gpu, but no GPU is usable: CUDA driver: dlopen libcuda.so.1"},
		{"gpu forced, GPU", "gpu", gpu, true, "compute: using CUDA on", ""},
		{"bad value", "tpu", nil, false, "", `SAGEBRUSH_DEVICE="tpu": want auto, cpu or gpu`},
	}
	for _, c := range cases {
		open := c.open
		if open == nil {
			open = func() (*Backend, error) { t.Fatalf("%s: probed the GPU", c.name); return nil, nil }
		}
		b, s := choose(c.env, open)
		if (b != nil) != c.wantBackend {
			t.Errorf("%s: backend %v, want one: %t", c.name, b, c.wantBackend)
		}
		if c.wantErr != "" {
			if s.Err == nil || !strings.Contains(s.Err.Error(), c.wantErr) || !strings.Contains(s.Message, c.wantErr) {
				t.Errorf("%s: selection %+v, want an error and message containing %q", c.name, s, c.wantErr)
			}
			continue
		}
		if s.Err != nil || !strings.HasPrefix(s.Message, c.wantMsg) {
			t.Errorf("%s: selection %+v, want message %q and no error", c.name, s, c.wantMsg)
		}
	}
	// A compile log spanning lines is cut to one log line.
	_, s := choose("auto", func() (*Backend, error) {
		return nil, &Error{Lib: "libnvrtc.so.12", Call: "nvrtcCompileProgram", Code: 6, Name: "NVRTC_ERROR_COMPILATION", Log: "line one\nline two"}
	})
	if strings.Contains(s.Message, "\n") || !strings.Contains(s.Message, "NVRTC_ERROR_COMPILATION") {
		t.Errorf("selection message %q: want one line naming the NVRTC error", s.Message)
	}
}

// TestInstallWithoutGPU runs the real selection on this machine: where
// there is no usable GPU, auto keeps the CPU engine and says why, and a
// forced gpu fails with a message naming the variable.
func TestInstallWithoutGPU(t *testing.T) {
	if b, err := Open(); err == nil {
		b.Close()
		t.Skip("a GPU is usable here; the no-GPU paths are covered by TestChoose")
	} else if !strings.Contains(err.Error(), "libcuda.so") && !strings.Contains(err.Error(), "CUDA_ERROR") {
		t.Errorf("Open() = %v: want the reason to name the driver library or a CUDA error", err)
	}
	before := compute.Current()
	t.Cleanup(func() { compute.Use(before); compute.SetSelection(compute.Selection{}) })

	t.Setenv(EnvDevice, "")
	s := Install()
	if s.Err != nil || !strings.HasPrefix(s.Message, "compute: no GPU (") || !strings.HasSuffix(s.Message, "); using the CPU engine") {
		t.Errorf("Install() with %s unset = %+v, want the no-GPU line", EnvDevice, s)
	}
	if compute.Current() != before {
		t.Errorf("Install() replaced the CPU engine with %s", compute.Current().Name())
	}
	if got := compute.Selected(); got.Message != s.Message {
		t.Errorf("compute.Selected() = %+v, want %+v", got, s)
	}

	t.Setenv(EnvDevice, "gpu")
	s = Install()
	if s.Err == nil || !strings.HasPrefix(s.Err.Error(), "SAGEBRUSH_DEVICE=gpu, but no GPU is usable: ") {
		t.Errorf("Install() with %s=gpu = %+v, want an error", EnvDevice, s)
	}
	if compute.Current() != before {
		t.Errorf("a failed forced gpu replaced the CPU engine with %s", compute.Current().Name())
	}
}

// sgemmColMajor is the reference column-major SGEMM (the BLAS contract
// cuBLAS implements): C = alpha*op(A)*op(B) + beta*C, C m×n with leading
// dimension ldc, element (i, j) of a column-major X at X[i + j*ld].
func sgemmColMajor(transa, transb int32, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	opA := func(i, l int) float64 {
		if transa == cublasOpT {
			return float64(a[l+i*lda])
		}
		return float64(a[i+l*lda])
	}
	opB := func(l, j int) float64 {
		if transb == cublasOpT {
			return float64(b[j+l*ldb])
		}
		return float64(b[l+j*ldb])
	}
	for i := range m {
		for j := range n {
			var s float64
			for l := range k {
				s += opA(i, l) * opB(l, j)
			}
			c[i+j*ldc] = float32(float64(alpha)*s + float64(beta)*float64(c[i+j*ldc]))
		}
	}
}

// TestColMajorMapping checks colMajor for the four transpose cases: the
// cuBLAS call it describes, run by the reference column-major SGEMM on the
// row-major buffers (strides wider than the rows), gives the row-major
// product.
func TestColMajorMapping(t *testing.T) {
	const m, n, k = 5, 3, 4
	for _, tA := range []bool{false, true} {
		for _, tB := range []bool{false, true} {
			ar, ac := m, k
			if tA {
				ar, ac = k, m
			}
			br, bc := k, n
			if tB {
				br, bc = n, k
			}
			sa, sb, sc := ac+2, bc+1, n+3
			a := make([]float32, ar*sa)
			bm := make([]float32, br*sb)
			c := make([]float32, m*sc)
			for i := range a {
				a[i] = float32(i%7) - 3
			}
			for i := range bm {
				bm[i] = float32(i%5) - 2
			}
			for i := range c {
				c[i] = float32(i % 3)
			}
			want := append([]float32(nil), c...)
			const alpha, beta = 2, -1
			for i := range m {
				for j := range n {
					var s float32
					for l := range k {
						var av, bv float32
						if tA {
							av = a[l*sa+i]
						} else {
							av = a[i*sa+l]
						}
						if tB {
							bv = bm[j*sb+l]
						} else {
							bv = bm[l*sb+j]
						}
						s += av * bv
					}
					want[i*sc+j] = alpha*s + beta*c[i*sc+j]
				}
			}
			call := colMajor(tA, tB, m, n, k, sa, sb, sc)
			ops := map[byte][]float32{'a': a, 'b': bm}
			if call.first != 'b' || call.second != 'a' {
				t.Fatalf("tA=%t tB=%t: cuBLAS reads %c then %c, want b then a", tA, tB, call.first, call.second)
			}
			sgemmColMajor(call.transa, call.transb, int(call.m), int(call.n), int(call.k), alpha, ops[call.first], int(call.lda), ops[call.second], int(call.ldb), beta, c, int(call.ldc))
			for i := range c {
				if c[i] != want[i] {
					t.Fatalf("tA=%t tB=%t (%+v): C[%d,%d] = %v, want %v", tA, tB, call, i/sc, i%sc, c[i], want[i])
				}
			}
		}
	}
}

// TestKernelEntryPoints checks that every entry point the Go side names is
// an extern "C" __global__ function of the source, and that each launch in
// this package passes as many arguments as that kernel takes.
func TestKernelEntryPoints(t *testing.T) {
	params := map[string]int{}
	sig := regexp.MustCompile(`extern "C" __global__ void (\w+)\(([^)]*)\)`)
	for _, m := range sig.FindAllStringSubmatch(kernelSource, -1) {
		params[m[1]] = strings.Count(m[2], ",") + 1
	}
	for _, name := range kernelNames {
		if _, ok := params[name]; !ok {
			t.Errorf("kernel %s is not an extern \"C\" __global__ function of kernelSource", name)
		}
	}
	if len(params) != len(kernelNames) {
		t.Errorf("kernelSource defines %d kernels, kernelNames lists %d", len(params), len(kernelNames))
	}
	for _, pair := range [][2]string{{"{", "}"}, {"(", ")"}, {"[", "]"}} {
		if o, c := strings.Count(kernelSource, pair[0]), strings.Count(kernelSource, pair[1]); o != c {
			t.Errorf("kernelSource has %d %q and %d %q", o, pair[0], c, pair[1])
		}
	}
	if strings.Contains(kernelSource, "size_t") || strings.Contains(kernelSource, "#include") {
		t.Error("kernelSource uses size_t or #include: NVRTC compiles it without headers")
	}
	call := regexp.MustCompile(`b\.launch\("(\w+)", (.*)\); err != nil`)
	files, _ := os.ReadDir(".")
	launches := 0
	for _, f := range files {
		if !strings.HasSuffix(f.Name(), ".go") || strings.HasSuffix(f.Name(), "_test.go") {
			continue
		}
		src, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range call.FindAllStringSubmatch(string(src), -1) {
			launches++
			want, ok := params[m[1]]
			if !ok {
				t.Errorf("%s launches unknown kernel %s", f.Name(), m[1])
				continue
			}
			// gx, gy, block, shared, then the kernel's arguments.
			if got := topLevelArgs(m[2]) - 4; got != want {
				t.Errorf("%s launches %s with %d arguments, the kernel takes %d", f.Name(), m[1], got, want)
			}
		}
	}
	if launches < len(kernelNames) {
		t.Errorf("found %d launches, want at least one per kernel (%d)", launches, len(kernelNames))
	}
}

func TestLaunchGeometry(t *testing.T) {
	for k := 1; k <= topKMax; k++ {
		th := topKThreads(k)
		if th&(th-1) != 0 || th < 32 {
			t.Errorf("topKThreads(%d) = %d: want a power of two >= 32", k, th)
		}
		if s := topKShared(th, k); s > 24<<10 {
			t.Errorf("k=%d: %d bytes of shared memory, over 24 KiB", k, s)
		}
	}
	for _, c := range []struct{ n, ny, d int }{{1, 1, 1}, {10000, 60000, 784}, {5000, 100, 784}, {100, 10, 3}, {70000, 1, 784}} {
		r := blockRows(c.n, c.ny, c.d)
		if r < 1 || r > c.n || (r < c.n && r < 64) || (r > 64 && 4*r*c.ny > blockBudget) {
			t.Errorf("blockRows(%d, %d, %d) = %d", c.n, c.ny, c.d, r)
		}
	}
	if got := archCandidates(90); got[0] != 90 || got[1] != 89 {
		t.Errorf("archCandidates(90) = %v, want 90 first then older", got)
	}
}

func TestSizeClass(t *testing.T) {
	prev := uint64(0)
	for _, n := range []uint64{1, 255, 256, 257, 4096, 1 << 20, 1<<20 + 1, 3 << 20, 188160000, 1 << 33} {
		c := sizeClass(n)
		if c < n || c < prev || (n > 1<<20 && float64(c) > 1.125*float64(n)+1) {
			t.Errorf("sizeClass(%d) = %d", n, c)
		}
		if sizeClass(c) != c {
			t.Errorf("sizeClass(%d) = %d is not a fixed point", c, sizeClass(c))
		}
		prev = c
	}
}

// topLevelArgs counts the comma-separated arguments of s, ignoring commas
// inside parentheses.
func topLevelArgs(s string) int {
	n, depth := 1, 0
	for _, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				n++
			}
		}
	}
	return n
}
