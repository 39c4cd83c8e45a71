//go:build !race

package clitest

// Race is false: see race.go.
const Race = false
