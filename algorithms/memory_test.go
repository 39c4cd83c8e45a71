package algorithms

import (
	"strings"
	"testing"
)

// TestCheckMemory: more than the host has is a ClientError that says how
// much is needed and how much there is; a modest need passes.
func TestCheckMemory(t *testing.T) {
	if hostMemory() <= 0 {
		t.Skip("no /proc/meminfo")
	}
	if err := CheckMemory(1<<20, "a test"); err != nil {
		t.Errorf("1 MB: %v", err)
	}
	err := CheckMemory(1<<62, "feature_dim = 2000000000")
	if err == nil || !ClientError(err) || !strings.Contains(err.Error(), "feature_dim = 2000000000 needs at least 4294967296.0 GB of memory, more than this host's") {
		t.Errorf("4 EB: %v", err)
	}
}
