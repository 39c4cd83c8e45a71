package algorithms

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// ModelFile returns the path of the model file in dir that Load reads:
// model_algo-1 followed by suffix (what training writes on the first
// host, "model_algo-1" with SageMaker's own algorithms too), or else the
// first model_*suffix in lexical order (a model saved by another host).
func ModelFile(dir, suffix string) (string, error) {
	path := filepath.Join(dir, "model_algo-1"+suffix)
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "model_*"+suffix))
	sort.Strings(matches)
	if len(matches) == 0 {
		return "", fmt.Errorf("no model_algo-1%s (or other model_*%s) file in %s", suffix, suffix, dir)
	}
	return matches[0], nil
}
