package cpu

import (
	"fmt"

	"github.com/sagebrush-ml/sagebrush/compute"
)

// checkMatrix panics unless m is a well-formed view: non-negative
// dimensions, Stride >= Cols, and Data long enough to hold every row.
func checkMatrix(op, name string, m compute.Matrix) {
	if m.Rows < 0 || m.Cols < 0 {
		panicf("compute: %s %s is %d×%d: negative dimension", op, name, m.Rows, m.Cols)
	}
	if m.Rows == 0 || m.Cols == 0 {
		return
	}
	if m.Stride < m.Cols {
		panicf("compute: %s %s has stride %d, less than its %d columns", op, name, m.Stride, m.Cols)
	}
	if need := (m.Rows-1)*m.Stride + m.Cols; len(m.Data) < need {
		panicf("compute: %s %s is %d×%d with stride %d and needs %d elements, has %d", op, name, m.Rows, m.Cols, m.Stride, need, len(m.Data))
	}
}

func panicf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

func ceilDiv(a, b int) int { return (a + b - 1) / b }
