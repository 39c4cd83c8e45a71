// Command linear-learner is SageMaker's linear learner container entry
// point: `linear-learner train` and `linear-learner serve`.
package main

import (
	"github.com/sagebrush-ml/sagebrush/algorithms/linearlearner"
	"github.com/sagebrush-ml/sagebrush/cli"
	_ "github.com/sagebrush-ml/sagebrush/compute/cpu"
)

func main() { cli.Main(linearlearner.Algorithm{}) }
