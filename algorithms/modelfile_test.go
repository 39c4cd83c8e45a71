package algorithms_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sagebrush-ml/sagebrush/algorithms"
)

func TestModelFile(t *testing.T) {
	touch := func(dir, name string) {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	if _, err := algorithms.ModelFile(dir, ""); err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("empty dir: %v, want an error naming the folder", err)
	}
	touch(dir, "model_algo-3")
	touch(dir, "model_algo-2")
	if p, err := algorithms.ModelFile(dir, ""); err != nil || filepath.Base(p) != "model_algo-2" {
		t.Fatalf("no model_algo-1: %q, %v, want the first model_* (model_algo-2)", p, err)
	}
	touch(dir, "model_algo-1")
	if p, err := algorithms.ModelFile(dir, ""); err != nil || filepath.Base(p) != "model_algo-1" {
		t.Fatalf("%q, %v, want model_algo-1", p, err)
	}
	touch(dir, "model_algo-0.json")
	if p, err := algorithms.ModelFile(dir, ".json"); err != nil || filepath.Base(p) != "model_algo-0.json" {
		t.Fatalf("suffix .json: %q, %v, want model_algo-0.json", p, err)
	}
}
