package kmeans

// sqDist64 is ‖x−c‖² in float64: sqDist64Go, or its AVX2 version (the same
// bits) when the build and the CPU have it.
var sqDist64 = sqDist64Go

// sqDist64Go sums over eight accumulators, one per column mod 8: with one,
// the loop is a single chain of dependent adds, which pprof put at 17% of
// a 100-row request's CPU under load. The eight are the lanes of the AVX2
// version's two vectors, and are added up in its order: lane by lane,
// then the columns left over, then across.
func sqDist64Go(x, c []float32) float64 {
	c = c[:len(x)]
	var s0, s1, s2, s3, s4, s5, s6, s7 float64
	f := 0
	for ; f+8 <= len(x); f += 8 {
		x, c := x[f:f+8], c[f:f+8]
		e0, e1 := float64(x[0])-float64(c[0]), float64(x[1])-float64(c[1])
		e2, e3 := float64(x[2])-float64(c[2]), float64(x[3])-float64(c[3])
		e4, e5 := float64(x[4])-float64(c[4]), float64(x[5])-float64(c[5])
		e6, e7 := float64(x[6])-float64(c[6]), float64(x[7])-float64(c[7])
		s0, s1, s2, s3 = s0+e0*e0, s1+e1*e1, s2+e2*e2, s3+e3*e3
		s4, s5, s6, s7 = s4+e4*e4, s5+e5*e5, s6+e6*e6, s7+e7*e7
	}
	t0, t1, t2, t3 := s0+s4, s1+s5, s2+s6, s3+s7
	for ; f < len(x); f++ {
		e := float64(x[f]) - float64(c[f])
		t0 += e * e
	}
	return (t0 + t1) + (t2 + t3)
}
