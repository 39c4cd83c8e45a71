//go:build cuda

package main

// Built with -tags cuda (make build-cuda), the binary probes for an NVIDIA
// GPU at start and uses it when found (SAGEBRUSH_DEVICE=auto|cpu|gpu).
import _ "github.com/sagebrush-ml/sagebrush/gpu/auto"
