// Command knn is SageMaker's k-nearest-neighbors container entry point:
// `knn train` and `knn serve`.
package main

import (
	"github.com/sagebrush-ml/sagebrush/algorithms/knn"
	"github.com/sagebrush-ml/sagebrush/cli"
	_ "github.com/sagebrush-ml/sagebrush/compute/cpu"
)

func main() { cli.Main(knn.Algorithm{}) }
