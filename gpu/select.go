package gpu

import (
	"fmt"
	"os"
	"strings"

	"github.com/sagebrush-ml/sagebrush/compute"
)

// EnvDevice names the environment variable that picks the compute device:
// "auto" (the default: the GPU when one is usable, else the CPU engine),
// "cpu" (never probe) or "gpu" (the GPU or fail).
const EnvDevice = "SAGEBRUSH_DEVICE"

// Mode is a value of SAGEBRUSH_DEVICE.
type Mode int

const (
	Auto Mode = iota
	CPU
	GPU
)

func (m Mode) String() string { return [...]string{"auto", "cpu", "gpu"}[m] }

// ParseMode reads a SAGEBRUSH_DEVICE value: "auto" or empty, "cpu", "gpu"
// (any case, surrounding spaces ignored; "cuda" is taken for "gpu").
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return Auto, nil
	case "cpu":
		return CPU, nil
	case "gpu", "cuda":
		return GPU, nil
	}
	return Auto, fmt.Errorf("%s=%q: want auto, cpu or gpu", EnvDevice, s)
}

// Install chooses the compute backend as SAGEBRUSH_DEVICE says, installs
// it with compute.Use when it is the GPU, records the choice with
// compute.SetSelection, and returns it. The CPU engine (installed by
// importing compute/cpu) stays in place otherwise, also when a forced
// "gpu" fails: then the Selection's Err says why, and the runtime fails.
func Install() compute.Selection {
	b, s := choose(os.Getenv(EnvDevice), Open)
	if b != nil {
		compute.Use(b)
	}
	compute.SetSelection(s)
	return s
}

// choose applies env to open, the probe: it returns the GPU backend to
// install (nil for the CPU engine) and the Selection to record.
func choose(env string, open func() (*Backend, error)) (*Backend, compute.Selection) {
	mode, err := ParseMode(env)
	if err != nil {
		return nil, compute.Selection{Message: "compute: " + err.Error(), Err: err}
	}
	if mode == CPU {
		return nil, compute.Selection{Message: "compute: " + EnvDevice + "=cpu; using the CPU engine"}
	}
	b, err := open()
	if err != nil {
		reason := oneLine(err.Error())
		if mode == GPU {
			err := fmt.Errorf("%s=gpu, but no GPU is usable: %s", EnvDevice, reason)
			return nil, compute.Selection{Message: "compute: " + err.Error(), Err: err}
		}
		return nil, compute.Selection{Message: "compute: no GPU (" + reason + "); using the CPU engine"}
	}
	return b, compute.Selection{Message: fmt.Sprintf("compute: using CUDA on %s (%s)", b.info.name, gib(b.info.totalMem))}
}

// oneLine keeps a reason to one log line: an NVRTC compile log is cut to
// its first line.
func oneLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " ..."
	}
	return s
}
