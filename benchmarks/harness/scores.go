package harness

import (
	"math"
	"sort"
)

// contingency counts co-occurrences of a[i] and b[i].
func contingency(a, b []int) (joint map[[2]int]int, ca, cb map[int]int) {
	joint, ca, cb = map[[2]int]int{}, map[int]int{}, map[int]int{}
	for i := range a {
		joint[[2]int{a[i], b[i]}]++
		ca[a[i]]++
		cb[b[i]]++
	}
	return joint, ca, cb
}

func entropy(counts map[int]int, n float64) float64 {
	h := 0.0
	for _, c := range counts {
		p := float64(c) / n
		h -= p * math.Log(p)
	}
	return h
}

// NMI is the normalized mutual information of two labelings with the
// arithmetic-mean normalisation, MI / ((H(a)+H(b))/2), as scikit-learn's
// normalized_mutual_info_score computes by default (including its edge
// cases: 1 when both labelings have a single class, 0 when MI is 0).
// It panics if the lengths differ.
func NMI(a, b []int) float64 {
	if len(a) != len(b) {
		panic("harness.NMI: labelings of different lengths")
	}
	joint, ca, cb := contingency(a, b)
	if len(ca) == len(cb) && len(ca) <= 1 {
		return 1
	}
	n := float64(len(a))
	mi := 0.0
	for k, c := range joint {
		pij := float64(c) / n
		mi += pij * math.Log(pij*n*n/(float64(ca[k[0]])*float64(cb[k[1]])))
	}
	if mi <= 0 {
		return 0
	}
	norm := (entropy(ca, n) + entropy(cb, n)) / 2
	return mi / math.Max(norm, math.SmallestNonzeroFloat64)
}

// ClusterRow is one cluster in a purity table.
type ClusterRow struct {
	Cluster  int
	Size     int
	Majority int // the most frequent true label (smallest on ties)
	Hits     int // rows with the majority label
}

// Purity returns the cluster purity of assignments against labels, the
// share of rows whose cluster's majority label is their own label, and
// the per-cluster table sorted by cluster.
func Purity(clusters, labels []int) (float64, []ClusterRow) {
	if len(clusters) != len(labels) {
		panic("harness.Purity: inputs of different lengths")
	}
	joint, cc, _ := contingency(clusters, labels)
	rows := make([]ClusterRow, 0, len(cc))
	for c, size := range cc {
		rows = append(rows, ClusterRow{Cluster: c, Size: size, Majority: -1})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Cluster < rows[j].Cluster })
	hits := 0
	for i := range rows {
		r := &rows[i]
		for k, n := range joint {
			if k[0] == r.Cluster && (n > r.Hits || (n == r.Hits && k[1] < r.Majority)) {
				r.Majority, r.Hits = k[1], n
			}
		}
		hits += r.Hits
	}
	if len(clusters) == 0 {
		return 0, rows
	}
	return float64(hits) / float64(len(clusters)), rows
}
