package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func TestMarkdown(t *testing.T) {
	side := func(name string, msd, s float64) Side {
		return Side{Name: name, Quality: map[string]float64{"test msd": msd}, TimeS: s, PeakMB: 100}
	}
	r := &Report{Date: "2026-01-02", Rows: []Row{{
		Algorithm: "k-means", Dataset: "toy", Config: "defaults", Headline: true,
		Hyper: map[string]string{"k": "2"}, Metrics: []string{"test msd"},
		Ours: side("ours", 1.5, 1), Peer: side("peer", 1, 2),
		Targets: []Target{{Name: "msd", Met: false}, {Name: "time", Met: true}},
	}}}
	md := r.Markdown()
	for _, want := range []string{"| ours test msd | peer test msd | ratio |", "| 1.5000 | 1.0000 | 1.500 |", "| 1.00 | 2.00 | 0.500 |", "**not met** | met |", `{"k":"2"}`} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

// TestWriteMerges: a run of one algorithm keeps the rows and sections a
// previous run of the same day wrote for others.
func TestWriteMerges(t *testing.T) {
	dir := t.TempDir()
	first := &Report{Date: "2026-11-21", Rows: []Row{{Algorithm: "kmeans", Config: "a"}, {Algorithm: "pca", Config: "b"}},
		ColdStart: []ColdStart{{}}}
	if _, _, err := first.Write(dir); err != nil {
		t.Fatal(err)
	}
	second := &Report{Date: "2026-11-21", Rows: []Row{{Algorithm: "pca", Config: "c"}}}
	jsonPath, _, err := second.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var got Report
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Rows) != 2 || got.Rows[0].Algorithm != "kmeans" || got.Rows[1].Config != "c" || len(got.ColdStart) != 1 {
		t.Errorf("merged report: %+v", got)
	}
}
