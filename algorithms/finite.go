package algorithms

// Finite reports whether every value of every slice is a finite number.
// Training checks its model with it before returning: values that are
// finite as float32 can still overflow a product or a squared distance
// (1e20² is past float32's 3.4e38), and a model of NaNs must fail the job,
// not be saved.
func Finite[T float32 | float64](xs ...[]T) bool {
	for _, s := range xs {
		for _, v := range s {
			if v-v != 0 { // NaN or ±Inf
				return false
			}
		}
	}
	return true
}
