package algorithmstest

import (
	"fmt"
	"slices"
	"testing"
)

// TestCombinations: every combination once, base kept, the last name
// varying fastest; an empty list of values gives none.
func TestCombinations(t *testing.T) {
	var got []string
	Combinations(map[string]any{"d": "3"}, map[string][]string{"b": {"x", "y", "z"}, "a": {"1", "2"}}, func(hp map[string]any) {
		got = append(got, fmt.Sprintf("%v %v %v", hp["d"], hp["a"], hp["b"]))
	})
	want := []string{"3 1 x", "3 1 y", "3 1 z", "3 2 x", "3 2 y", "3 2 z"}
	if !slices.Equal(got, want) {
		t.Errorf("combinations %q, want %q", got, want)
	}
	n := 0
	Combinations(nil, map[string][]string{"a": {"1"}, "b": nil}, func(map[string]any) { n++ })
	if n != 0 {
		t.Errorf("%d combinations with a name of no values, want 0", n)
	}
}
