package linearlearner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/compute"
	"github.com/sagebrush-ml/sagebrush/data"
	"github.com/sagebrush-ml/sagebrush/mxnet"
)

// Model is one linear model on raw features: outputs = x·W + b, W of shape
// (feature_dim, k) with k = 1, or num_classes for a multiclass classifier.
// It is read-only and safe for concurrent use.
type Model struct {
	predictorType string
	loss          string
	d, k          int
	w             compute.Matrix // d × k
	b             []float32      // k
	threshold     float64        // binary: predicted_label = score > threshold
	metricsParams map[string]any
	biasLRMult    float64 // written as fc0_bias's __lr_mult__; 0 (a loaded model): not written
	host          string
	scratch       sync.Pool // *[]float32
}

var _ algorithms.Model = (*Model)(nil)

// finite reports whether the weights, biases and threshold are finite.
func (m *Model) finite() bool {
	return algorithms.Finite(m.w.Data, m.b) && m.threshold-m.threshold == 0
}

func newModel(p Params, w compute.Matrix, b []float32, threshold float64, host string) *Model {
	if host == "" {
		host = "algo-1"
	}
	return &Model{predictorType: p.PredictorType, loss: p.Loss, d: w.Rows, k: w.Cols, w: w, b: b,
		threshold: threshold, metricsParams: metricsParams(p, artifactThreshold(p.PredictorType, threshold)),
		biasLRMult: p.BiasLRMult, host: host}
}

// metricsParams is additional-params.json's metrics_params as a real
// artifact holds it (a 2020 regressor's): these ten keys, null where they do
// not apply. positive_example_weight_mult is the hyperparameter's number
// (1 for "balanced" and "auto"; final sets the selected model's weight), and
// eps_insensitive_loss_type "squared" or "absolute" for those losses: the
// values the artifact did not show are ours.
func metricsParams(p Params, threshold float64) map[string]any {
	mp := map[string]any{
		"eps_insensitive_loss_type": nil, "class_weights": nil, "huber_delta": nil, "quantile": nil,
		"loss_insensitivity": nil, "positive_example_weight_mult": 1.0, "accuracy_top_k": p.TopK,
		"threshold": threshold, "f_beta": nil, "margin": nil,
	}
	if p.PosWeightKind == "" && p.PosWeight > 0 {
		mp["positive_example_weight_mult"] = p.PosWeight
	}
	if p.PredictorType != Regressor {
		mp["f_beta"] = p.FBeta
	}
	switch p.Loss {
	case "hinge_loss":
		mp["margin"] = p.Margin
	case "quantile_loss":
		mp["quantile"] = p.Quantile
	case "eps_insensitive_squared_loss", "eps_insensitive_absolute_loss":
		mp["loss_insensitivity"] = p.Insensitivity
		mp["eps_insensitive_loss_type"] = strings.TrimSuffix(strings.TrimPrefix(p.Loss, "eps_insensitive_"), "_loss")
	case "huber_loss":
		mp["huber_delta"] = p.HuberDelta
	}
	return mp
}

// artifactThreshold is the threshold additional-params.json records: the
// calibrated one of a binary classifier, 0.5 for the others, as the real
// regressor's artifact has it.
func artifactThreshold(predictorType string, threshold float64) float64 {
	if predictorType == Binary {
		return threshold
	}
	return 0.5
}

// FeatureDim is the number of features of a row.
func (m *Model) FeatureDim() int { return m.d }

// Weights returns W (feature_dim × outputs) and the bias (shared, do not
// modify).
func (m *Model) Weights() (compute.Matrix, []float32) { return m.w, m.b }

// Threshold is the binary classifier's calibrated threshold on the score.
func (m *Model) Threshold() float64 { return m.threshold }

// PredictorType is binary_classifier, multiclass_classifier or regressor.
func (m *Model) PredictorType() string { return m.predictorType }

// outputs computes the raw outputs x·W + b of b's rows into z (rows × k),
// reusing z and scratch when large enough.
func (m *Model) outputs(b *data.Batch, z, scratch []float32) ([]float32, []float32) {
	n := b.Rows
	z = grow(z, n*m.k)
	zm := compute.MatrixOf(n, m.k, z)
	if b.Sparse() {
		clear(z)
		for i := 0; i < n; i++ {
			row := zm.Row(i)
			for q := b.Indptr[i]; q < b.Indptr[i+1]; q++ {
				v := b.Values[q]
				wr := m.w.Row(int(b.Indices[q]))
				for k := range row {
					row[k] += v * wr[k]
				}
			}
		}
	} else {
		x := compute.MatrixOf(n, m.d, b.Dense)
		compute.Current().Gemm(false, false, 1, x, m.w, 0, zm)
	}
	for i := 0; i < n; i++ {
		row := zm.Row(i)
		for k := range row {
			row[k] += m.b[k]
		}
	}
	return z, scratch
}

// Predict answers score (binary: σ(x·w+b) for the logistic loss, the
// margin for hinge_loss; multiclass: the softmax vector; regression: the
// prediction) and, for classifiers, predicted_label (binary: score >
// threshold; multiclass: the highest score).
func (m *Model) Predict(ctx context.Context, b *data.Batch, _ algorithms.PredictOptions) (*data.Predictions, error) {
	if b.Cols != m.d {
		return nil, algorithms.Errorf("request rows have %d features; the model's feature_dim is %d", b.Cols, m.d)
	}
	sp, _ := m.scratch.Get().(*[]float32)
	if sp == nil {
		sp = new([]float32)
	}
	z, _ := m.outputs(b, *sp, nil)
	*sp = z
	defer m.scratch.Put(sp)
	n := b.Rows
	switch m.predictorType {
	case Regressor:
		return &data.Predictions{Rows: n, Outputs: []data.Output{
			{Name: "score", Kind: data.Float, Values: append([]float32(nil), z[:n]...)},
		}}, nil
	case Binary:
		score := make([]float32, n)
		label := make([]float32, n)
		for i := range n {
			score[i] = scoreOf(m.loss, float64(z[i]))
			if float64(score[i]) > m.threshold {
				label[i] = 1
			}
		}
		return &data.Predictions{Rows: n, Outputs: []data.Output{
			{Name: "score", Kind: data.Float, Values: score},
			{Name: "predicted_label", Kind: data.Int, Values: label},
		}}, nil
	default:
		score := make([]float32, n*m.k)
		label := make([]float32, n)
		prob := make([]float64, m.k)
		for i := range n {
			softmax(prob, z[i*m.k:(i+1)*m.k])
			best := 0
			for k, v := range prob {
				score[i*m.k+k] = float32(v)
				if v > prob[best] {
					best = k
				}
			}
			label[i] = float32(best)
		}
		return &data.Predictions{Rows: n, Outputs: []data.Output{
			{Name: "score", Kind: data.Float, Width: m.k, Values: score},
			{Name: "predicted_label", Kind: data.Int, Values: label},
		}}, nil
	}
}

// Artifact member names (SageMaker's layout).
const (
	manifestName = "manifest.json"
	paramsJSON   = "additional-params.json"
	symbolName   = "mx-mod-symbol.json"
	paramsName   = "mx-mod-0000.params"
	weightName   = "fc0_weight"
	biasName     = "fc0_bias"
)

// additionalParams is additional-params.json.
type additionalParams struct {
	Threshold     *float64       `json:"threshold,omitempty"`
	LossType      string         `json:"loss_type,omitempty"`
	PredictorType string         `json:"predictor_type,omitempty"`
	MetricsParams map[string]any `json:"metrics_params,omitempty"`
}

// outputOp is the MXNet output operator of the graph for a loss: what
// the module's forward pass applies at inference.
func outputOp(predictorType, loss string) (string, map[string]string) {
	switch {
	case predictorType == Multiclass:
		return "SoftmaxOutput", nil
	case loss == "logistic":
		return "LogisticRegressionOutput", nil
	case loss == "hinge_loss":
		return "SVMOutput", map[string]string{"use_linear": "True"}
	case loss == "absolute_loss":
		return "MAERegressionOutput", nil
	}
	return "LinearRegressionOutput", nil
}

// symbol builds the graph data·fc0_weight + fc0_bias → output op.
func (m *Model) symbol() *mxnet.Symbol {
	s := mxnet.NewSymbol()
	in := s.Add("null", "data", nil)
	w := s.Add("null", weightName, map[string]string{"__shape__": fmt.Sprintf("(%d, %d)", m.d, m.k)})
	dot := s.Add("dot", "dot0", nil, in, w)
	battrs := map[string]string{"__shape__": fmt.Sprintf("(1, %d)", m.k)}
	if m.biasLRMult > 0 {
		// MXNet reads a variable's learning-rate multiplier from its
		// attributes, as a real artifact's fc0_bias carries it.
		battrs["__lr_mult__"] = pyFloat(m.biasLRMult)
	}
	b := s.Add("null", biasName, battrs)
	add := s.Add("broadcast_add", "broadcast_add0", nil, dot, b)
	label := s.Add("null", "out_label", nil)
	op, attrs := outputOp(m.predictorType, m.loss)
	s.Add(op, "out", attrs, add, label)
	return s
}

// Save writes model_<host>: a ZIP archive (stored members) holding
// manifest.json, additional-params.json, mx-mod-symbol.json and
// mx-mod-0000.params, as SageMaker's linear learner writes it.
func (m *Model) Save(dir string) error {
	b, err := m.artifact()
	if err != nil {
		return err
	}
	path := filepath.Join(dir, "model_"+m.host)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// artifact returns the bytes of the model archive.
func (m *Model) artifact() ([]byte, error) {
	manifest := []byte(`{"mx-mod": "mxnet_module", "additional-params.json": "json", "version": 1}`)
	thr := artifactThreshold(m.predictorType, m.threshold)
	ap := additionalParams{Threshold: &thr, LossType: m.loss, PredictorType: m.predictorType, MetricsParams: m.metricsParams}
	apb, err := json.Marshal(ap)
	if err != nil {
		return nil, err
	}
	var params bytes.Buffer
	f := &mxnet.File{
		Arrays: []*mxnet.NDArray{mxnet.NewFloat32(m.w.Data, m.d, m.k), mxnet.NewFloat32(m.b, 1, m.k)},
		Names:  []string{"arg:" + weightName, "arg:" + biasName},
	}
	if err := mxnet.Write(&params, f); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	err = mxnet.WriteZip(&out, []mxnet.ZipEntry{
		{Name: manifestName, Data: manifest},
		{Name: paramsJSON, Data: apb},
		{Name: symbolName, Data: m.symbol().JSON()},
		{Name: paramsName, Data: params.Bytes()},
	})
	return out.Bytes(), err
}

// Load reads the model SageMaker's linear learner or ours wrote:
// model_algo-1, or else the first model_* file in dir.
func (Algorithm) Load(dir string) (algorithms.Model, error) {
	path, err := algorithms.ModelFile(dir, "")
	if err != nil {
		return nil, fmt.Errorf("linear-learner: %w", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := parseArtifact(b)
	if err != nil {
		return nil, fmt.Errorf("linear-learner: %s: %w", path, err)
	}
	m.host = strings.TrimPrefix(filepath.Base(path), "model_")
	return m, nil
}

// parseArtifact reads the archive. The predictor type comes from
// additional-params.json, or else from the graph's output operator; the
// params file may name its arrays with or without the "arg:" prefix, and
// may hold extra arrays (optimizer state), which are ignored.
func parseArtifact(b []byte) (*Model, error) {
	files, err := mxnet.ReadZip(b)
	if err != nil {
		return nil, err
	}
	var ap additionalParams
	if raw, ok := files[paramsJSON]; ok {
		if err := json.Unmarshal(raw, &ap); err != nil {
			return nil, fmt.Errorf("%s: %w", paramsJSON, err)
		}
	}
	var sym *mxnet.Symbol
	if raw, ok := files[symbolName]; ok {
		if sym, err = mxnet.ParseSymbol(raw); err != nil {
			return nil, err
		}
	}
	pname := paramsName
	if _, ok := files[pname]; !ok {
		for name := range files {
			if strings.HasSuffix(name, ".params") {
				pname = name
			}
		}
	}
	raw, ok := files[pname]
	if !ok {
		return nil, fmt.Errorf("the archive has no %s", paramsName)
	}
	f, err := mxnet.Read(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	get := func(name string) *mxnet.NDArray {
		for _, n := range []string{"arg:" + name, name} {
			if a, ok := f.Get(n); ok {
				return a
			}
		}
		return nil
	}
	wa, ba := get(weightName), get(biasName)
	if wa == nil {
		return nil, fmt.Errorf("%s has no arg:%s array (names: %q)", pname, weightName, f.Names)
	}
	if len(wa.Shape) != 2 || wa.Shape[0] < 1 || wa.Shape[1] < 1 {
		return nil, fmt.Errorf("arg:%s has shape %v, want (feature_dim, outputs)", weightName, wa.Shape)
	}
	d, k := wa.Shape[0], wa.Shape[1]
	bias := make([]float32, k)
	if ba != nil {
		if ba.Size() != k {
			return nil, fmt.Errorf("arg:%s has shape %v, want (1, %d)", biasName, ba.Shape, k)
		}
		copy(bias, ba.AsFloat32())
	}
	pt := ap.PredictorType
	if pt == "" {
		pt = Regressor
		if op := outOp(sym); op != "" {
			switch op {
			case "SoftmaxOutput":
				pt = Multiclass
			case "LogisticRegressionOutput", "SVMOutput":
				pt = Binary
			}
		} else if k > 1 {
			pt = Multiclass
		}
	}
	switch pt {
	case Binary, Regressor:
		if k != 1 {
			return nil, fmt.Errorf("a %s needs one output, but arg:%s has shape %v", pt, weightName, wa.Shape)
		}
	case Multiclass:
		if k < 2 {
			return nil, fmt.Errorf("a multiclass_classifier needs num_classes outputs, but arg:%s has shape %v", weightName, wa.Shape)
		}
	default:
		return nil, fmt.Errorf("%s: unknown predictor_type %q", paramsJSON, pt)
	}
	loss := ap.LossType
	if loss == "" {
		loss = map[string]string{Binary: "logistic", Multiclass: "softmax_loss", Regressor: "squared_loss"}[pt]
		if pt == Binary && outOp(sym) == "SVMOutput" {
			loss = "hinge_loss"
		}
	}
	thr := defaultThreshold(loss)
	if ap.Threshold != nil && pt == Binary { // the others' (0.5 in a real regressor's) means nothing
		thr = *ap.Threshold
	}
	if math.IsNaN(thr) {
		return nil, fmt.Errorf("%s: threshold is NaN", paramsJSON)
	}
	w := compute.MatrixOf(d, k, append([]float32(nil), wa.AsFloat32()...))
	m := &Model{predictorType: pt, loss: loss, d: d, k: k, w: w, b: bias, threshold: thr, metricsParams: ap.MetricsParams}
	if sym != nil {
		// Kept so that the model writes out as it came (a multi-host job's
		// hosts receive the leader's model this way).
		if i := sym.Node(biasName); i >= 0 {
			if v, err := strconv.ParseFloat(sym.Nodes[i].Attrs["__lr_mult__"], 64); err == nil && v > 0 {
				m.biasLRMult = v
			}
		}
	}
	return m, nil
}

// outOp is the operator of the graph's output node, or "".
func outOp(s *mxnet.Symbol) string {
	if s == nil {
		return ""
	}
	if out := s.Output(); out != nil {
		return out.Op
	}
	return ""
}
