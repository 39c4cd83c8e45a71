// Command kmeans is SageMaker's k-means container entry point:
// `kmeans train` and `kmeans serve`.
package main

import (
	"github.com/sagebrush-ml/sagebrush/algorithms/kmeans"
	"github.com/sagebrush-ml/sagebrush/cli"
	_ "github.com/sagebrush-ml/sagebrush/compute/cpu"
)

func main() { cli.Main(kmeans.Algorithm{}) }
