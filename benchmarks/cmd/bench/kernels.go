package main

// Kernel throughput against the machine's measured peak, from the JSON
// files benchmarks/cmd/kernels writes (make bench runs it once per engine:
// benchmarks/work/kernels-openblas.json and kernels-gonum.json).

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KernelRun is one engine's output of benchmarks/cmd/kernels.
type KernelRun struct {
	Engine            string  `json:"engine"`
	CPU               string  `json:"cpu"`
	Cores             int     `json:"cores"`
	TheoreticalGFLOPs float64 `json:"theoretical_gflops"`
	TheoreticalBasis  string  `json:"theoretical_basis"`
	Peak              struct {
		BLAS    string  `json:"blas"`
		Size    int     `json:"size"`
		Threads int     `json:"threads"`
		GFLOPs  float64 `json:"gflops"`
	} `json:"peak"`
	Peak1 struct {
		GFLOPs float64 `json:"gflops"`
	} `json:"peak_one_thread"`
	Kernels []struct {
		Name   string  `json:"name"`
		Shape  string  `json:"shape"`
		Use    string  `json:"use"`
		USCall float64 `json:"us_per_call"`
		GFLOPs float64 `json:"gflops"`
	} `json:"kernels"`
}

// KernelsReport is the kernels section: every engine's run, and the peak
// the percentages are of.
type KernelsReport struct {
	Runs        []*KernelRun `json:"runs"`
	PeakGFLOPs  float64      `json:"reference_peak_gflops"`
	PeakBasis   string       `json:"reference_peak"`
	Theoretical float64      `json:"theoretical_peak_gflops,omitempty"`
	TheoBasis   string       `json:"theoretical_peak,omitempty"`
}

func loadKernels(dir string) (*KernelsReport, error) {
	rep := &KernelsReport{}
	for _, engine := range []string{"openblas", "gonum"} {
		b, err := os.ReadFile(filepath.Join(dir, "kernels-"+engine+".json"))
		if err != nil {
			continue
		}
		var r KernelRun
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("kernels-%s.json: %w", engine, err)
		}
		rep.Runs = append(rep.Runs, &r)
	}
	if len(rep.Runs) == 0 {
		return nil, fmt.Errorf("no %s/kernels-{openblas,gonum}.json: run `make bench-kernels` (make bench does)", dir)
	}
	ref := rep.Runs[0] // openblas when there
	// The best sgemm figure measured: with other load on a small machine
	// the one-thread run can beat the all-cores one.
	rep.PeakGFLOPs = max(ref.Peak.GFLOPs, ref.Peak1.GFLOPs)
	rep.PeakBasis = fmt.Sprintf("the better of %s sgemm %d³ with %d threads (%.1f GFLOP/s) and with one thread (%.1f GFLOP/s), best of 5 runs each", ref.Peak.BLAS, ref.Peak.Size, ref.Peak.Threads, ref.Peak.GFLOPs, ref.Peak1.GFLOPs)
	rep.Theoretical, rep.TheoBasis = ref.TheoreticalGFLOPs, ref.TheoreticalBasis
	for _, r := range rep.Runs {
		fmt.Printf("   engine %s: %d kernels, its own sgemm peak %.1f GFLOP/s\n", r.Engine, len(r.Kernels), r.Peak.GFLOPs)
	}
	return rep, nil
}

func (k *KernelsReport) markdown(b *strings.Builder) {
	fmt.Fprintf(b, "\n## Kernels: GFLOP/s against the machine's peak\n\n")
	fmt.Fprintf(b, "Measured peak: **%.1f GFLOP/s**, %s.", k.PeakGFLOPs, k.PeakBasis)
	if k.Theoretical > 0 {
		fmt.Fprintf(b, " Theoretical: %.1f GFLOP/s (%s).", k.Theoretical, k.TheoBasis)
	}
	fmt.Fprintf(b, " Percentages are of the measured peak. Kernels through `compute.Current()` (compute/cpu) with GOMAXPROCS = cores; FLOPs counted as 2·m·n·k of the product that dominates.\n\n")
	head := []string{"kernel", "shape", "use"}
	for _, r := range k.Runs {
		head = append(head, r.Engine+" GFLOP/s", r.Engine+" % peak", r.Engine+" µs/call")
	}
	fmt.Fprintf(b, "| %s |\n|%s\n", strings.Join(head, " | "), strings.Repeat("---|", len(head)))
	for i, kr := range k.Runs[0].Kernels {
		cells := []string{kr.Name, kr.Shape, kr.Use}
		for _, r := range k.Runs {
			if i < len(r.Kernels) && r.Kernels[i].Shape == kr.Shape && r.Kernels[i].Name == kr.Name {
				x := r.Kernels[i]
				cells = append(cells, fmt.Sprintf("%.1f", x.GFLOPs), fmt.Sprintf("%.0f%%", 100*x.GFLOPs/k.PeakGFLOPs), fmt.Sprintf("%.1f", x.USCall))
			} else {
				cells = append(cells, "", "", "")
			}
		}
		fmt.Fprintf(b, "| %s |\n", strings.Join(cells, " | "))
	}
	for _, r := range k.Runs {
		fmt.Fprintf(b, "\n- engine %s: its BLAS's own sgemm %d³ reaches %.1f GFLOP/s with %d threads, %.1f with one.", r.Engine, r.Peak.Size, r.Peak.GFLOPs, r.Peak.Threads, r.Peak1.GFLOPs)
	}
	b.WriteString("\n")
}
