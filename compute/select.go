package compute

import "sync/atomic"

// Selection records how the installed backend was chosen, for the
// runtimes to log (and to fail on) once their logging exists: a backend
// that probes hardware (package gpu's auto-selection) chooses at program
// start, before the trainer or the server has a log.
type Selection struct {
	// Message is one line for the log, e.g. "compute: using CUDA on
	// NVIDIA H100 80GB HBM3 (79.2 GiB)" or "compute: no GPU (...); using
	// the CPU engine". Empty when nothing was probed.
	Message string
	// Err is non-nil when the choice the user forced could not be made
	// (SAGEBRUSH_DEVICE=gpu without a usable GPU, or a value that is not
	// a device): the runtime should fail before doing any work.
	Err error
}

var selection atomic.Pointer[Selection]

// SetSelection records s; the backend that selects calls it next to Use.
func SetSelection(s Selection) { selection.Store(&s) }

// Selected returns the recorded Selection, or the zero Selection when no
// backend selection ran (the CPU default, nothing to say).
func Selected() Selection {
	if p := selection.Load(); p != nil {
		return *p
	}
	return Selection{}
}
