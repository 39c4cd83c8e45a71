//go:build !linux

package prefault

func populateWrite[T any](s []T) {}
