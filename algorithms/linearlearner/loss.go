package linearlearner

import "math"

// lossFn holds one loss and its parameters. For scalar losses z is the
// model's raw output and y the label; value returns the loss and grad its
// derivative with respect to z. Parameters with units (huber_delta,
// loss_insensitivity) are in the label's units: training on a normalised
// label uses a copy scaled by 1/σ(label).
type lossFn struct {
	name     string
	margin   float64 // hinge_loss
	quantile float64 // quantile_loss
	eps      float64 // eps_insensitive_*
	delta    float64 // huber_loss
}

func newLoss(p Params) lossFn {
	return lossFn{name: p.Loss, margin: p.Margin, quantile: p.Quantile, eps: p.Insensitivity, delta: p.HuberDelta}
}

// scaled returns the loss for labels divided by s.
func (l lossFn) scaled(s float64) lossFn {
	l.eps /= s
	l.delta /= s
	return l
}

// logistic returns the logistic loss of output z for a label y in {0, 1},
// -y log σ(z) - (1-y) log(1-σ(z)), and σ(z), both from one exponential
// e = e^-|z|: the loss is max(z, 0) + log1p(e) - y·z (written so that it
// does not cancel for y = 1), σ(z) is 1/(1+e) for z ≥ 0 and e/(1+e) below
// (sigmoid's operations, so its bits).
func logistic(z, y float64) (loss, sig float64) {
	e := math.Exp(-math.Abs(z))
	sp := math.Log1p(e)
	if z >= 0 {
		return (1-y)*z + sp, 1 / (1 + e)
	}
	return sp - y*z, e / (1 + e)
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

func sign(x float64) float64 {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}

// eval returns the loss of a scalar output z for label y, and dloss/dz.
func (l lossFn) eval(z, y float64) (loss, grad float64) {
	switch l.name {
	case "logistic":
		l, s := logistic(z, y)
		return l, s - y
	case "hinge_loss": // y in {0, 1} mapped to ±1
		s := 2*y - 1
		if m := l.margin - s*z; m > 0 {
			return m, -s
		}
		return 0, 0
	case "squared_loss":
		r := z - y
		return r * r, 2 * r
	case "absolute_loss":
		r := z - y
		return math.Abs(r), sign(r)
	case "eps_insensitive_squared_loss":
		r := z - y
		if e := math.Abs(r) - l.eps; e > 0 {
			return e * e, 2 * e * sign(r)
		}
		return 0, 0
	case "eps_insensitive_absolute_loss":
		r := z - y
		if e := math.Abs(r) - l.eps; e > 0 {
			return e, sign(r)
		}
		return 0, 0
	case "quantile_loss": // pinball: the prediction is the q-quantile of y
		r := y - z
		if r >= 0 {
			return l.quantile * r, -l.quantile
		}
		return (l.quantile - 1) * r, 1 - l.quantile
	case "huber_loss":
		r := z - y
		if a := math.Abs(r); a > l.delta {
			return l.delta * (a - 0.5*l.delta), l.delta * sign(r)
		}
		return 0.5 * r * r, r
	}
	panic("linearlearner: unknown loss " + l.name)
}

// softmax writes the softmax of z into p (len(z)) and returns
// log(sum(exp(z))).
func softmax(p []float64, z []float32) float64 {
	mx := math.Inf(-1)
	for _, v := range z {
		mx = math.Max(mx, float64(v))
	}
	var s float64
	for k, v := range z {
		p[k] = math.Exp(float64(v) - mx)
		s += p[k]
	}
	for k := range p {
		p[k] /= s
	}
	return mx + math.Log(s)
}
