package main

import (
	"os"
	"testing"
	"time"
)

// TestMachineCPU: /proc/stat's idle and steal times are read, and do not
// go backwards.
func TestMachineCPU(t *testing.T) {
	if _, err := os.Stat("/proc/stat"); err != nil {
		t.Skip("no /proc/stat")
	}
	i0, s0 := machineCPU()
	time.Sleep(50 * time.Millisecond)
	i1, s1 := machineCPU()
	if i0 <= 0 || i1 < i0 || s0 < 0 || s1 < s0 {
		t.Errorf("idle %v → %v, steal %v → %v", i0, i1, s0, s1)
	}
}
