package auto_test

import (
	"strings"
	"testing"

	"github.com/sagebrush-ml/sagebrush/compute"
	"github.com/sagebrush-ml/sagebrush/compute/cpu"
	_ "github.com/sagebrush-ml/sagebrush/gpu/auto"
)

// TestSelectedAtInit checks what importing the package did in this test
// binary: on a machine with a usable GPU the CUDA backend is installed and
// says so; elsewhere the CPU engine stays and the message says why.
func TestSelectedAtInit(t *testing.T) {
	s := compute.Selected()
	if s.Err != nil {
		t.Fatalf("selection failed: %v (is SAGEBRUSH_DEVICE set?)", s.Err)
	}
	name := compute.Current().Name()
	switch {
	case strings.HasPrefix(s.Message, "compute: using CUDA on "):
		if !strings.HasPrefix(name, "cuda (") {
			t.Errorf("message %q but the backend is %s", s.Message, name)
		}
	case strings.HasPrefix(s.Message, "compute: no GPU (") || s.Message == "compute: SAGEBRUSH_DEVICE=cpu; using the CPU engine":
		if _, ok := compute.Current().(*cpu.Backend); !ok {
			t.Errorf("message %q but the backend is %s", s.Message, name)
		}
		t.Logf("%s", s.Message)
	default:
		t.Errorf("unexpected selection message %q", s.Message)
	}
}
