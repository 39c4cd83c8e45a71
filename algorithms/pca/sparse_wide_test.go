package pca

import (
	"testing"

	"github.com/sagebrush-ml/sagebrush/algorithms/algorithmstest"
)

// TestSparseWide: randomized PCA on 2,000 CSR rows of 200,000 features
// (algorithmstest.Topics: five topics of ten features, three stored a row,
// and two noise features anywhere). The centred topic indicators span four
// directions, so the top four components put nearly all their weight on
// the 50 topic features; and training allocates 339 MiB (measured): the
// sketch, Q₀ both ways and the warm start's d × ℓ matrices. It was 956
// MiB with the warm rows dense and orthonormalize by gonum's SVD, 691 with
// Cholesky QR, the warm rows still dense.
func TestSparseWide(t *testing.T) {
	algorithmstest.SkipUnderRace(t)
	c := algorithmstest.Topics(2000, 200_000)
	var m *Model
	mb := algorithmstest.AllocatedMiB(func() {
		m = train(t, map[string]any{"feature_dim": "200000", "num_components": "4",
			"algorithm_mode": "randomized", "mini_batch_size": "500"}, c)
	})
	v := m.V()
	for k := range 4 {
		var topic, all float64
		for j := range v.Rows {
			x := float64(v.Data[j*v.Stride+k])
			all += x * x
			if j < 50 {
				topic += x * x
			}
		}
		if topic < 0.95*all {
			t.Errorf("component %d: %.3f of its squared weight on the 50 topic features, want ≥ 0.95", k, topic/all)
		}
	}
	if mb > 500 {
		t.Errorf("training allocated %d MiB, want about 340", mb)
	}
}
