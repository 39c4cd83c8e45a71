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

// TestRepeatedAndInterleaved: repeats merge to the median time and the
// largest peak, keep every time, and interleaving alternates the sides
// after one untimed run of ours.
func TestRepeatedAndInterleaved(t *testing.T) {
	e := &env{Repeat: 3}
	var order []string
	times := []float64{3, 1, 2}
	n := 0
	side := func(name string) func(*env) (*Side, error) {
		return func(e *env) (*Side, error) {
			if e.Repeat != 1 {
				t.Errorf("%s run with Repeat %d, want 1", name, e.Repeat)
			}
			order = append(order, name)
			n++
			return &Side{Name: name, TimeS: times[n%3], PeakMB: float64(n)}, nil
		}
	}
	ours, peer, err := interleaved(e, side("ours"), side("peer"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(order, ","); got != "ours,ours,peer,ours,peer,ours,peer" {
		t.Errorf("order %s", got)
	}
	if ours.TimeS != 2 || peer.TimeS != 2 || ours.PeakMB != 6 || peer.PeakMB != 7 {
		t.Errorf("ours %v/%v, peer %v/%v: want the median 2 and the largest peaks 6 and 7", ours.TimeS, ours.PeakMB, peer.TimeS, peer.PeakMB)
	}
	if got := ours.Extra["wall_seconds_each"].([]float64); len(got) != 3 || ours.Extra["interleaved"] != true {
		t.Errorf("ours extra %v", ours.Extra)
	}
	order = nil
	s, err := repeated(e, func() (*Side, error) { return side("peer")(&env{Repeat: 1}) }, "fit_seconds_each")
	if err != nil || len(order) != 3 || len(s.Extra["fit_seconds_each"].([]float64)) != 3 || s.Extra["interleaved"] != nil {
		t.Errorf("repeated: %v %v %v", err, order, s.Extra)
	}
}
