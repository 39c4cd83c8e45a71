package prefault

import (
	"testing"
)

// Write must leave what the buffer holds as it was, on pages already
// written and fresh ones alike, whatever the alignment of its ends.
func TestWriteKeepsContents(t *testing.T) {
	for _, n := range []int{0, 1, 1000, 1 << 20, 3<<20 + 7} {
		s := make([]float32, n)
		for i := 0; i < n; i += 997 {
			s[i] = float32(i) + 0.5
		}
		Write(s)
		if n > 1 {
			Write(s[1 : n-1]) // unaligned ends
		}
		for i, v := range s {
			want := float32(0)
			if i%997 == 0 {
				want = float32(i) + 0.5
			}
			if v != want {
				t.Fatalf("n=%d: s[%d] = %v after Write, want %v", n, i, v, want)
			}
		}
	}
}
