package linearlearner

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/sagebrush-ml/sagebrush/data"
)

// scoreOf maps a binary model's raw output to its score: the probability
// σ(z) for the logistic loss, the raw margin for hinge_loss.
func scoreOf(loss string, z float64) float32 {
	if loss == "logistic" {
		return float32(sigmoid(z))
	}
	return float32(z)
}

// defaultThreshold is the threshold of an uncalibrated binary model: 0.5
// on probabilities, 0 on hinge margins.
func defaultThreshold(loss string) float64 {
	if loss == "logistic" {
		return 0.5
	}
	return 0
}

// confusion counts binary outcomes.
type confusion struct{ tp, fp, tn, fn float64 }

func (c confusion) n() float64        { return c.tp + c.fp + c.tn + c.fn }
func (c confusion) accuracy() float64 { return ratio(c.tp+c.tn, c.n()) }
func (c confusion) precision() float64 {
	return ratio(c.tp, c.tp+c.fp)
}
func (c confusion) recall() float64 { return ratio(c.tp, c.tp+c.fn) }
func (c confusion) fbeta(beta float64) float64 {
	return fbeta(c.precision(), c.recall(), beta)
}

func fbeta(p, r, beta float64) float64 {
	b2 := beta * beta
	if p == 0 && r == 0 {
		return 0
	}
	return (1 + b2) * p * r / (b2*p + r)
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// calibrate picks the threshold on scores (predicted_label = score >
// threshold) that is best for criterion on the sample (scores and 0/1
// labels), and returns it with the criterion's value there. feasible is
// false when the criterion's target (target_recall or target_precision)
// cannot be met; then the threshold is the one coming closest (highest
// precision, resp. the largest positive set). For loss_function the
// threshold is def, the uncalibrated default.
func calibrate(scores, labels []float32, p Params, def float64) (threshold, value float64, feasible bool) {
	n := len(scores)
	if n == 0 {
		return def, 0, false
	}
	if p.Criterion == "loss_function" {
		return def, 0, true
	}
	// Rows by descending score (NaN last, cmp.Compare's order). Rows of
	// equal score are never split by a cut (below), so their order does
	// not matter and an unstable sort of the pairs themselves does: a
	// stable sort of indices was a tenth of a binary run's CPU with a
	// 64,000-row validation channel (32 models, every epoch).
	rows := make([]scoredRow, n)
	for i := range rows {
		rows[i] = scoredRow{scores[i], labels[i]}
	}
	slices.SortFunc(rows, func(a, b scoredRow) int { return cmp.Compare(b.s, a.s) })
	var pos float64
	for _, y := range labels {
		if y == 1 {
			pos++
		}
	}
	neg := float64(n) - pos
	// cut i: the top i rows are predicted positive.
	thresholdAt := func(i int) float64 {
		switch {
		case i == 0:
			return float64(rows[0].s)
		case i == n:
			return math.Nextafter(float64(rows[n-1].s), math.Inf(-1))
		}
		return (float64(rows[i-1].s) + float64(rows[i].s)) / 2
	}
	bestI, bestV, bestFeasible := -1, math.Inf(-1), false
	fallbackI, fallbackV := 0, math.Inf(-1)
	var tp, fp float64
	for i := 0; i <= n; i++ {
		if i > 0 {
			if rows[i-1].y == 1 {
				tp++
			} else {
				fp++
			}
		}
		if i > 0 && i < n && rows[i-1].s == rows[i].s {
			continue // not a cut: equal scores get the same label
		}
		c := confusion{tp: tp, fp: fp, fn: pos - tp, tn: neg - fp}
		var v float64
		ok := true
		switch p.Criterion {
		case "accuracy":
			v = c.accuracy()
		case "f_beta":
			v = c.fbeta(p.CriterionBeta)
		case "precision_at_target_recall":
			v = c.precision()
			ok = pos > 0 && c.recall() >= p.TargetRecall
			if fb := c.recall(); fb > fallbackV {
				fallbackI, fallbackV = i, fb
			}
		case "recall_at_target_precision":
			v = c.recall()
			ok = i > 0 && c.precision() >= p.TargetPrecision
			if fb := c.precision(); i > 0 && fb > fallbackV {
				fallbackI, fallbackV = i, fb
			}
		}
		if ok && v > bestV {
			bestI, bestV, bestFeasible = i, v, true
		}
	}
	if bestI < 0 {
		return thresholdAt(fallbackI), 0, false
	}
	return thresholdAt(bestI), bestV, bestFeasible
}

// scoredRow is a calibration row: its score and label.
type scoredRow struct{ s, y float32 }

// evaluator accumulates one model's quality on labelled rows: the
// objective loss and the metrics of its predictor type.
type evaluator struct {
	p         Params
	loss      lossFn // in the label's units
	threshold float64

	n       float64
	lossSum float64
	c       confusion // binary

	correct, topK, dcg float64   // multiclass
	tpc, predc, actc   []float64 // multiclass, per class
	prob               []float64

	se, ae float64 // regression

	// The final passes (score) keep each row's score and label, up to
	// maxAUCRows, for roc_auc_score; the per-epoch evaluations do not.
	keepScores bool
	scores     []float32
	positive   []bool
	dropped    int64 // rows past maxAUCRows
}

// maxAUCRows bounds the (score, label) pairs a final pass keeps for
// roc_auc_score: 50 MB by arithmetic (a float32 and a bool a row), and
// 40 MB more for the order rocAUC sorts. The rows past it are left out of
// that one metric, and the log says so.
var maxAUCRows = 10_000_000 // a variable so that a test can lower it

func newEvaluator(p Params, threshold float64) *evaluator {
	e := &evaluator{p: p, loss: newLoss(p), threshold: threshold}
	if p.PredictorType == Multiclass {
		e.tpc = make([]float64, p.NumClasses)
		e.predc = make([]float64, p.NumClasses)
		e.actc = make([]float64, p.NumClasses)
		e.prob = make([]float64, p.NumClasses)
	}
	return e
}

// add adds one row: z are its raw outputs (1, or num_classes), in the
// label's units; y its label. For a binary classifier it returns the row's
// score (scoreOf), for the calibration sample.
func (e *evaluator) add(z []float32, y float64) (score float32) {
	e.n++
	switch e.p.PredictorType {
	case Binary:
		zv := float64(z[0])
		var l float64
		if e.p.Loss == "logistic" { // the loss and the score from one exponential
			var sig float64
			l, sig = logistic(zv, y)
			score = float32(sig)
		} else {
			l, _ = e.loss.eval(zv, y)
			score = scoreOf(e.p.Loss, zv)
		}
		e.lossSum += l
		if e.keepScores {
			if len(e.scores) < maxAUCRows {
				e.scores, e.positive = append(e.scores, score), append(e.positive, y == 1)
			} else {
				e.dropped++
			}
		}
		pred := float64(score) > e.threshold
		switch {
		case pred && y == 1:
			e.c.tp++
		case pred:
			e.c.fp++
		case y == 1:
			e.c.fn++
		default:
			e.c.tn++
		}
	case Regressor:
		l, _ := e.loss.eval(float64(z[0]), y)
		e.lossSum += l
		r := float64(z[0]) - y
		e.se += r * r
		e.ae += math.Abs(r)
	case Multiclass:
		lse := softmax(e.prob, z)
		c := int(y)
		e.lossSum += lse - float64(z[c])
		best := 0
		rank := 0 // classes scoring strictly above the true one
		for k, v := range z {
			if v > z[best] {
				best = k
			}
			if v > z[c] {
				rank++
			}
		}
		e.predc[best]++
		e.actc[c]++
		if best == c {
			e.tpc[c]++
			e.correct++
		}
		if rank < e.p.TopK {
			e.topK++
		}
		e.dcg += 1 / math.Log2(float64(rank)+2)
	}
	return score
}

// meanLoss is the mean objective loss.
func (e *evaluator) meanLoss() float64 { return ratio(e.lossSum, e.n) }

// metric is one named metric value.
type metric struct {
	name  string
	value float64
}

// metrics lists the metrics of the predictor type, objective_loss first.
func (e *evaluator) metrics() []metric {
	out := []metric{{"objective_loss", e.meanLoss()}}
	switch e.p.PredictorType {
	case Binary:
		out = append(out,
			// The guide's metric table names it binary_classifier_accuracy;
			// the algorithm's log has binary_classification_accuracy (as
			// factorization machines'). Both, so a metric definition or
			// tuning objective of either name finds it.
			metric{"binary_classification_accuracy", e.c.accuracy()},
			metric{"binary_classifier_accuracy", e.c.accuracy()},
			metric{"binary_f_beta", e.c.fbeta(e.p.FBeta)},
			metric{"precision", e.c.precision()},
			metric{"recall", e.c.recall()},
			// The algorithm's own log names F_beta with its beta.
			metric{fmt.Sprintf("binary_f_%.3f", e.p.FBeta), e.c.fbeta(e.p.FBeta)})
		if auc, ok := rocAUC(e.scores, e.positive); ok {
			out = append(out, metric{"roc_auc_score", auc})
		}
	case Regressor:
		out = append(out,
			metric{"mse", ratio(e.se, e.n)},
			metric{"rmse", math.Sqrt(ratio(e.se, e.n))},
			metric{"absolute_loss", ratio(e.ae, e.n)})
	case Multiclass:
		var mp, mr, mf float64
		k := float64(len(e.tpc))
		for c := range e.tpc {
			pc, rc := ratio(e.tpc[c], e.predc[c]), ratio(e.tpc[c], e.actc[c])
			mp += pc
			mr += rc
			mf += fbeta(pc, rc, e.p.FBeta)
		}
		out = append(out,
			metric{"multiclass_accuracy", ratio(e.correct, e.n)},
			metric{"multiclass_top_k_accuracy", ratio(e.topK, e.n)},
			metric{"dcg", ratio(e.dcg, e.n)},
			metric{"macro_precision", mp / k},
			metric{"macro_recall", mr / k},
			metric{"macro_f_beta", mf / k},
			// As the algorithm's own log names them: top-k with its k,
			// F_beta with its beta, and the balanced accuracy (the mean
			// recall over the classes, the same value as macro_recall).
			metric{fmt.Sprintf("multiclass_top_k_accuracy_%d", e.p.TopK), ratio(e.topK, e.n)},
			metric{fmt.Sprintf("macro_f_%.3f", e.p.FBeta), mf / k},
			metric{"multiclass_balanced_accuracy", mr / k})
	}
	return append(out, metric{objectiveName(e.p), e.meanLoss()})
}

// pyFloat spells v as the algorithm's Python log and json.dumps do (1.0,
// 0.0583, 1e-05): the spelling of every number this package logs by hand.
func pyFloat(v float64) string { return string(data.AppendPythonFloat(nil, v)) }

// objectiveName is the name the algorithm's own log gives the objective
// loss: the names real training logs show (2020 and 2024 jobs) for the
// logistic loss of a binary classifier with positive_example_weight_mult
// 1, the softmax loss and the squared loss of a regressor; for every other
// loss its own name and "_objective" (hinge_loss_objective, ...), ours, so
// that the built-in metric definitions, which read "\S+_objective",
// find it whatever the loss (docs/DECISIONS.md).
func objectiveName(p Params) string {
	switch {
	case p.PredictorType == Binary && p.Loss == "logistic" && p.PosWeightKind == "" && p.PosWeight == 1:
		return "binary_classification_cross_entropy_objective"
	case p.PredictorType == Multiclass:
		return "multiclass_cross_entropy_objective"
	case p.PredictorType == Regressor && p.Loss == "squared_loss":
		return "mse_objective"
	}
	return p.Loss + "_objective"
}

// rocAUC is the area under the ROC curve of the scores against the labels
// (positive true): the probability that a positive row scores above a
// negative one, ties counting half, from the positives' mean rank. ok is
// false when either class is missing.
func rocAUC(scores []float32, positive []bool) (auc float64, ok bool) {
	var np, nn float64
	for _, y := range positive {
		if y {
			np++
		} else {
			nn++
		}
	}
	if np == 0 || nn == 0 {
		return 0, false
	}
	idx := make([]int32, len(scores))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(a, b int32) int { return cmp.Compare(scores[a], scores[b]) })
	var rankSum float64 // of the positives, 1-based, ties at their mean rank
	for lo := 0; lo < len(idx); {
		hi := lo + 1
		for hi < len(idx) && scores[idx[hi]] == scores[idx[lo]] {
			hi++
		}
		mid := float64(lo+hi+1) / 2
		for _, i := range idx[lo:hi] {
			if positive[i] {
				rankSum += mid
			}
		}
		lo = hi
	}
	return (rankSum - np*(np+1)/2) / (np * nn), true
}
