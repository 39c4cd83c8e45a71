//go:build race

package clitest

// Race is true in a test binary built with -race: BuildMain then builds
// the binary under test with -race too, so that the real binary's
// goroutines (serving, training, signals) run under the detector, and
// algorithmstest shrinks its grids.
const Race = true
