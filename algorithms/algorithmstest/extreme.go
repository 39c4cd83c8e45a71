package algorithmstest

import "math/rand/v2"

// ExtremeValues are float32 values a channel may hold that strain the
// arithmetic: float32's largest, magnitudes whose squares overflow, a
// subnormal, and ordinary ones.
var ExtremeValues = []float32{0, 1, -1, 1e-40, 1e19, -1e19, 1e30, 3.4e38, -3.4e38}

// ExtremeRows returns n rows of d values, one in eight drawn from
// ExtremeValues, the others ordinary (so that some jobs meet only the
// milder ones).
func ExtremeRows(rng *rand.Rand, n, d int) [][]float32 {
	rows := make([][]float32, n)
	for i := range rows {
		rows[i] = make([]float32, d)
		for j := range rows[i] {
			if rng.IntN(8) > 0 {
				rows[i][j] = float32(rng.NormFloat64())
			} else {
				rows[i][j] = ExtremeValues[rng.IntN(len(ExtremeValues))]
			}
		}
	}
	return rows
}
