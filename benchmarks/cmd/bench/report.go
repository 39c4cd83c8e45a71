package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Side is one contender's figures in a row: ours or the peer's.
type Side struct {
	Name    string             `json:"name"`
	Quality map[string]float64 `json:"quality"`         // e.g. "test msd", "test NMI"
	TimeS   float64            `json:"time_s"`          // what Timed says
	Timed   string             `json:"timed"`           // what the time covers
	PeakMB  float64            `json:"peak_rss_mb"`     // peak resident set of the process
	Extra   map[string]any     `json:"extra,omitempty"` // anything else worth keeping
}

// Target is one goal of the issue, checked.
type Target struct {
	Name   string `json:"name"`
	Met    bool   `json:"met"`
	Detail string `json:"detail"`
}

// Row is one configuration of one algorithm on one data set.
type Row struct {
	Algorithm string            `json:"algorithm"`
	Dataset   string            `json:"dataset"`
	Config    string            `json:"config"`
	Headline  bool              `json:"headline"`
	Hyper     map[string]string `json:"hyperparameters"`
	Metrics   []string          `json:"quality_metrics"` // Quality keys, in table order; lower-is-better first
	Ours      Side              `json:"ours"`
	Peer      Side              `json:"peer"`
	Targets   []Target          `json:"targets"`
	// Run is set on a row kept from an earlier run of the same day
	// (mergeFrom): the report's own start and load are the latest run's.
	Run *RunInfo `json:"run,omitempty"`
}

// RunInfo is when a row was measured and how loaded the machine was.
type RunInfo struct {
	Started string `json:"started"`
	LoadAvg string `json:"loadavg_at_start,omitempty"`
	Repeat  int    `json:"repeat"`
}

// Machine describes where the figures were taken.
type Machine struct {
	CPU       string `json:"cpu_model"`
	Cores     int    `json:"cores"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	Kernel    string `json:"kernel,omitempty"`
	MemTotal  string `json:"mem_total,omitempty"`
	LoadAvg   string `json:"loadavg_at_start,omitempty"` // other work on the machine skews times
}

// Report is one run of the benchmarks.
type Report struct {
	Date    string  `json:"date"`
	Started string  `json:"started"`
	Machine Machine `json:"machine"`
	Repeat  int     `json:"repeat"`
	Rows    []Row   `json:"rows"`

	// The sections after the algorithm tables (extras.go).
	Serving        *ServingReport   `json:"serving,omitempty"`
	ColdStart      []ColdStart      `json:"cold_start,omitempty"`
	Kernels        *KernelsReport   `json:"kernels,omitempty"`
	LearningCurves []*LearningCurve `json:"learning_curves,omitempty"`
	Charts         []string         `json:"charts,omitempty"`
	SectionErrors  []string         `json:"section_errors,omitempty"`
}

func machineInfo() Machine {
	m := Machine{Cores: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	m.CPU = procField("/proc/cpuinfo", "model name")
	m.MemTotal = procField("/proc/meminfo", "MemTotal")
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAvg = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return m
}

// procField returns the value of the first "key : value" line of a /proc file.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// mergeFrom keeps old's rows for algorithms r did not run, and old's
// sections that r did not measure.
func (r *Report) mergeFrom(old *Report) {
	ran := map[string]bool{}
	for _, row := range r.Rows {
		ran[row.Algorithm] = true
	}
	var kept []Row
	for _, row := range old.Rows {
		if !ran[row.Algorithm] {
			if row.Run == nil {
				row.Run = &RunInfo{Started: old.Started, LoadAvg: old.Machine.LoadAvg, Repeat: old.Repeat}
			}
			kept = append(kept, row)
		}
	}
	r.Rows = append(kept, r.Rows...)
	if r.Serving == nil {
		r.Serving = old.Serving
	}
	if r.ColdStart == nil {
		r.ColdStart = old.ColdStart
	}
	if r.Kernels == nil {
		r.Kernels = old.Kernels
	}
	if r.LearningCurves == nil {
		r.LearningCurves = old.LearningCurves
	}
	if r.Charts == nil {
		r.Charts = old.Charts
	}
}

// Write writes dir/<date>.json and dir/<date>.md, merged with what a
// partial run of the same day wrote there before.
func (r *Report) Write(dir string) (jsonPath, mdPath string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", "", err
	}
	jsonPath, mdPath = filepath.Join(dir, r.Date+".json"), filepath.Join(dir, r.Date+".md")
	// A partial run (--only, --sections) keeps what the day's file already
	// holds for the algorithms and sections it did not run.
	if prev, err := os.ReadFile(jsonPath); err == nil {
		var old Report
		if json.Unmarshal(prev, &old) == nil {
			r.mergeFrom(&old)
			if b, err = json.MarshalIndent(r, "", "  "); err != nil {
				return "", "", err
			}
		}
	}
	if err := os.WriteFile(jsonPath, append(b, '\n'), 0o644); err != nil {
		return "", "", err
	}
	return jsonPath, mdPath, os.WriteFile(mdPath, []byte(r.Markdown()), 0o644)
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

// Markdown renders the report: machine, one table per algorithm and data
// set, the targets of every row.
func (r *Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmarks, %s\n\n", r.Date)
	m := r.Machine
	fmt.Fprintf(&b, "Machine: %s, %d cores, %s memory, %s, Linux %s, %s. Started %s, load average %s.\n", m.CPU, m.Cores, m.MemTotal, m.OS, m.Kernel, m.GoVersion, r.Started, m.LoadAvg)
	fmt.Fprintf(&b, "Times are medians over %d run(s) of each side; wall clock, they move with other load on the machine.\n", r.Repeat)
	for i, row := range r.Rows {
		if i == 0 || row.Algorithm != r.Rows[i-1].Algorithm || row.Dataset != r.Rows[i-1].Dataset {
			writeTableHead(&b, row)
		}
		cells := []string{row.Algorithm, row.Dataset, configCell(row)}
		for _, q := range row.Metrics {
			o, p := row.Ours.Quality[q], row.Peer.Quality[q]
			cells = append(cells, fmt.Sprintf("%.4f", o), fmt.Sprintf("%.4f", p), fmt.Sprintf("%.3f", o/p))
		}
		cells = append(cells,
			fmt.Sprintf("%.2f", row.Ours.TimeS), fmt.Sprintf("%.2f", row.Peer.TimeS), fmt.Sprintf("%.3f", row.Ours.TimeS/row.Peer.TimeS),
			fmt.Sprintf("%.0f", row.Ours.PeakMB), fmt.Sprintf("%.0f", row.Peer.PeakMB))
		for _, t := range row.Targets {
			cells = append(cells, met(t.Met))
		}
		fmt.Fprintf(&b, "| %s |\n", strings.Join(cells, " | "))
		if i == len(r.Rows)-1 || row.Algorithm != r.Rows[i+1].Algorithm || row.Dataset != r.Rows[i+1].Dataset {
			writeNotes(&b, r.Rows, row)
		}
	}
	b.WriteString(r.extrasMarkdown())
	return b.String()
}

func configCell(row Row) string {
	if row.Headline {
		return "**" + row.Config + "** (headline)"
	}
	return row.Config
}

func writeTableHead(b *strings.Builder, row Row) {
	head := []string{"algorithm", "dataset", "config"}
	for _, q := range row.Metrics {
		head = append(head, "ours "+q, row.Peer.Name+" "+q, "ratio")
	}
	head = append(head, "ours wall (s)", "peer fit (s)", "time ratio", "ours peak RSS (MB)", "peer peak RSS (MB)")
	for _, t := range row.Targets {
		head = append(head, t.Name)
	}
	fmt.Fprintf(b, "\n| %s |\n|%s\n", strings.Join(head, " | "), strings.Repeat("---|", len(head)))
}

func writeNotes(b *strings.Builder, rows []Row, last Row) {
	fmt.Fprintf(b, "\nOurs: %s. Peer: %s.\n\n", last.Ours.Timed, last.Peer.Timed)
	if run := last.Run; run != nil {
		fmt.Fprintf(b, "Measured in an earlier run: started %s, load average %s, medians over %d run(s).\n\n", run.Started, run.LoadAvg, run.Repeat)
	}
	for _, row := range rows {
		if row.Algorithm != last.Algorithm || row.Dataset != last.Dataset {
			continue
		}
		fmt.Fprintf(b, "- %s: hyperparameters %s\n", row.Config, hyperString(row.Hyper))
		for _, t := range row.Targets {
			fmt.Fprintf(b, "  - %s: %s (%s)\n", t.Name, met(t.Met), t.Detail)
		}
	}
	fmt.Fprintf(b, "- peer: %s\n", extraString(last.Peer.Extra))
}

func hyperString(h map[string]string) string {
	b, _ := json.Marshal(h) // sorted keys
	return "`" + string(b) + "`"
}

func extraString(x map[string]any) string {
	b, _ := json.Marshal(x)
	return "`" + string(b) + "`"
}
