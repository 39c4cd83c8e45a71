// Command pca is SageMaker's PCA container entry point: `pca train` and
// `pca serve`.
package main

import (
	"github.com/sagebrush-ml/sagebrush/algorithms/pca"
	"github.com/sagebrush-ml/sagebrush/cli"
	_ "github.com/sagebrush-ml/sagebrush/compute/cpu"
)

func main() { cli.Main(pca.Algorithm{}) }
