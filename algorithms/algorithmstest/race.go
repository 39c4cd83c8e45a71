//go:build race

package algorithmstest

// Race reports whether the tests run under the race detector.
const Race = true
