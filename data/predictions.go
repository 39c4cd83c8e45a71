package data

// Kind says how an output's numbers are written in JSON responses.
type Kind int

const (
	// Float is written as Python writes a float: the shortest text that
	// reads back to the same float64 (the float32 value widened), always with
	// a decimal point or exponent, e.g. 7.0 and 23.40593910217285. This is
	// what the built-in algorithms print (k-means closest_cluster: 7.0).
	Float Kind = iota
	// Int is written as an integer, e.g. 1 (linear learner predicted_label).
	Int
)

// Output is one named output of a prediction, for every row.
type Output struct {
	Name string
	Kind Kind
	// Width is 0 for a scalar per row, or the vector length per row (e.g. a
	// PCA projection); a vector is written as a JSON array.
	Width int
	// Values holds Rows values (scalar) or Rows*Width values (vector),
	// row-major.
	Values []float32
}

// Predictions is what Model.Predict returns and the response encoders write.
// One element per input row, in request order.
type Predictions struct {
	Rows int
	// Envelope is the top-level JSON key of application/json responses:
	// "predictions" when empty; PCA uses "projections".
	Envelope string
	// Outputs, in the order their keys are written in JSON objects.
	Outputs []Output
}
