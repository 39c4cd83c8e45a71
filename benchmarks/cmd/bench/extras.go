package main

// The sections that follow the algorithm benchmarks (--sections): serving,
// cold start, kernels and charts. Each failure is reported and the others
// still run.

import (
	"fmt"
	"os"
	"strings"
)

// runExtras fills the extra sections of rep; it reports whether any failed.
func runExtras(e *env, rep *Report, resultsDir string) (failed bool) {
	want := map[string]bool{}
	for _, s := range strings.Split(*sections, ",") {
		want[strings.TrimSpace(s)] = true
	}
	fail := func(section string, err error) {
		fmt.Fprintf(os.Stderr, "bench: %s: %v\n", section, err)
		rep.SectionErrors = append(rep.SectionErrors, section+": "+err.Error())
		failed = true
	}
	if want["serving"] {
		fmt.Println("== serving")
		s, err := runServing(e)
		rep.Serving = s
		if err != nil {
			fail("serving", err)
		}
	}
	if want["coldstart"] {
		fmt.Println("== cold start")
		rep.ColdStart = runColdStart(e)
	}
	if want["kernels"] {
		fmt.Println("== kernels")
		k, err := loadKernels(e.WorkDir)
		rep.Kernels = k
		if err != nil {
			fail("kernels", err)
		}
	}
	if want["charts"] {
		fmt.Println("== charts")
		lcs, err := learningCurves(e, rep.Rows)
		rep.LearningCurves = lcs
		if err != nil {
			fail("learning curves", err)
		}
		if err := os.MkdirAll(resultsDir, 0o755); err != nil {
			fail("charts", err)
		} else {
			paths, err := writeCharts(rep, resultsDir)
			rep.Charts = paths
			if err != nil {
				fail("charts", err)
			}
			for _, p := range paths {
				fmt.Println("   wrote", p)
			}
		}
	}
	return failed
}

// hasExtras reports whether any extra section has something to show.
func (r *Report) hasExtras() bool {
	return r.Serving != nil || len(r.ColdStart) > 0 || r.Kernels != nil || len(r.Charts) > 0
}

// extrasMarkdown renders the extra sections (empty when none ran).
func (r *Report) extrasMarkdown() string {
	var b strings.Builder
	if r.Serving != nil {
		r.Serving.markdown(&b)
	}
	if len(r.ColdStart) > 0 {
		coldStartMarkdown(&b, r.ColdStart)
	}
	if r.Kernels != nil {
		r.Kernels.markdown(&b)
	}
	for _, lc := range r.LearningCurves {
		if len(lc.Points) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n## %s learning curve\n\n%s; %s: %s %.4f.\n\n| epochs | %s | wall (s) |\n|---|---|---|\n",
			lc.Algorithm, lc.How, lc.PeerLabel, lc.Metric, lc.Peer, lc.Metric)
		for _, p := range lc.Points {
			fmt.Fprintf(&b, "| %d | %.4f | %.2f |\n", p.Epochs, p.Value, p.WallS)
		}
	}
	if len(r.Charts) > 0 {
		b.WriteString("\n## Charts\n\n")
		for _, p := range r.Charts {
			name := p[strings.LastIndex(p, "/")+1:]
			fmt.Fprintf(&b, "![%s](%s)\n", name, name)
		}
	}
	if len(r.SectionErrors) > 0 {
		b.WriteString("\n## Section errors\n\n")
		for _, e := range r.SectionErrors {
			fmt.Fprintf(&b, "- %s\n", e)
		}
	}
	return b.String()
}
