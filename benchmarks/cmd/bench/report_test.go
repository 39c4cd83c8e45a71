package main

import (
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
