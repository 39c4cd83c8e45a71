// Package auto selects the compute backend when a program starts: a cmd
// main imports it for its side effect, after compute/cpu,
//
//	import _ "github.com/sagebrush-ml/sagebrush/gpu/auto"
//
// and its init calls gpu.Install: the GPU when SAGEBRUSH_DEVICE (default
// "auto") allows it and one is usable, else the CPU engine. The choice
// and its reason are in compute.Selected() for the runtime's log; a forced
// "gpu" that cannot be met leaves an Err there for the runtime to fail on.
package auto

import (
	_ "github.com/sagebrush-ml/sagebrush/compute/cpu"
	"github.com/sagebrush-ml/sagebrush/gpu"
)

func init() { gpu.Install() }
