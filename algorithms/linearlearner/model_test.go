package linearlearner

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/compute"
	"github.com/sagebrush-ml/sagebrush/data"
	"github.com/sagebrush-ml/sagebrush/mxnet"
)

// sageMakerArtifact builds an archive the way SageMaker's linear learner
// lays it out (DECISIONS.md: a stored ZIP of manifest.json,
// additional-params.json, mx-mod-symbol.json and mx-mod-0000.params), with
// the node attributes spelled "attr" as older MXNet writes them, the
// members in another order, and an extra array in the params file.
func sageMakerArtifact(t *testing.T, ap string, w []float32, d, k int, bias []float32, outOp string) []byte {
	t.Helper()
	sym := `{"nodes": [
	{"op": "null", "name": "data", "inputs": []},
	{"op": "null", "name": "fc0_weight", "attr": {"__shape__": "(` + itoa(d) + `, ` + itoa(k) + `)"}, "inputs": []},
	{"op": "dot", "name": "dot0", "inputs": [[0, 0, 0], [1, 0, 0]]},
	{"op": "null", "name": "fc0_bias", "inputs": []},
	{"op": "broadcast_add", "name": "broadcast_add0", "inputs": [[2, 0, 0], [3, 0, 0]]},
	{"op": "null", "name": "out_label", "inputs": []},
	{"op": "` + outOp + `", "name": "out", "inputs": [[4, 0, 0], [5, 0, 0]]}],
	"arg_nodes": [0, 1, 3, 5], "node_row_ptr": [0, 1, 2, 3, 4, 5, 6, 7], "heads": [[6, 0, 0]],
	"attrs": {"mxnet_version": ["int", 10100]}}`
	var params bytes.Buffer
	f := &mxnet.File{
		Arrays: []*mxnet.NDArray{mxnet.NewFloat32([]float32{0}, 1), mxnet.NewFloat32(bias, 1, k), mxnet.NewFloat32(w, d, k)},
		Names:  []string{"aux:unused", "arg:fc0_bias", "arg:fc0_weight"},
	}
	if err := mxnet.Write(&params, f); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := mxnet.WriteZip(&out, []mxnet.ZipEntry{
		{Name: "mx-mod-symbol.json", Data: []byte(sym)},
		{Name: "mx-mod-0000.params", Data: params.Bytes()},
		{Name: "additional-params.json", Data: []byte(ap)},
		{Name: "manifest.json", Data: []byte(`{"mx-mod": "mxnet_module", "additional-params.json": "json", "version": 1}`)},
	}); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func loadBytes(t *testing.T, b []byte) *Model {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "model_algo-1"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Algorithm{}.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return m.(*Model)
}

func predict(t *testing.T, m algorithms.Model, rows ...[]float32) *data.Predictions {
	t.Helper()
	b := &data.Batch{Rows: len(rows), Cols: len(rows[0])}
	for _, r := range rows {
		b.Dense = append(b.Dense, r...)
	}
	p, err := m.Predict(context.Background(), b, algorithms.PredictOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLoadSageMakerArtifact: a model in SageMaker's layout serves the
// documented outputs.
func TestLoadSageMakerArtifact(t *testing.T) {
	// binary: score = σ(x·w + b) = σ(1·2 + 2·(-1) + 0.5) = σ(0.5) = 0.6224593;
	// threshold 0.7 gives label 0, the second row σ(2.5) = 0.9241418 gives 1.
	b := sageMakerArtifact(t, `{"threshold": 0.7, "loss_type": "logistic", "predictor_type": "binary_classifier", "metrics_params": {}}`,
		[]float32{2, -1}, 2, 1, []float32{0.5}, "LogisticRegressionOutput")
	m := loadBytes(t, b)
	p := predict(t, m, []float32{1, 2}, []float32{1, 0})
	score, label := p.Outputs[0].Values, p.Outputs[1].Values
	if math.Abs(float64(score[0])-0.6224593) > 1e-6 || math.Abs(float64(score[1])-0.9241418) > 1e-6 {
		t.Errorf("scores %v, want [0.6224593 0.9241418]", score)
	}
	if label[0] != 0 || label[1] != 1 || p.Outputs[1].Kind != data.Int {
		t.Errorf("labels %v, want [0 1] as integers", label)
	}
	// No additional-params predictor_type: taken from the output op.
	b = sageMakerArtifact(t, `{}`, []float32{1, 0, 0, 0, 1, 0}, 2, 3, []float32{0, 0, 1}, "SoftmaxOutput")
	m = loadBytes(t, b)
	if m.PredictorType() != Multiclass {
		t.Fatalf("predictor type %s, want multiclass from SoftmaxOutput", m.PredictorType())
	}
	p = predict(t, m, []float32{5, 0})
	if p.Outputs[0].Width != 3 || p.Outputs[1].Values[0] != 0 {
		t.Errorf("multiclass outputs %+v", p.Outputs)
	}
	b = sageMakerArtifact(t, `{"predictor_type": "regressor", "loss_type": "squared_loss"}`, []float32{3}, 1, 1, []float32{1}, "LinearRegressionOutput")
	p = predict(t, loadBytes(t, b), []float32{2})
	if len(p.Outputs) != 1 || p.Outputs[0].Name != "score" || p.Outputs[0].Values[0] != 7 {
		t.Errorf("regression outputs %+v, want score 7", p.Outputs)
	}
}

// TestLoadRealRegressorLayout: the layout of a real artifact (a 2020
// default regressor's, docs/DECISIONS.md): numbered node names, "attrs"
// with the bias's __lr_mult__, MXNet 1.3.1, a threshold and the ten
// metrics_params keys in additional-params.json. It serves, and writes out
// again as it came.
func TestLoadRealRegressorLayout(t *testing.T) {
	sym := `{"nodes": [
	{"op": "null", "name": "data", "inputs": []},
	{"op": "null", "name": "fc0_weight", "attrs": {"__shape__": "(2, 1)"}, "inputs": []},
	{"op": "dot", "name": "dot7", "inputs": [[0, 0, 0], [1, 0, 0]]},
	{"op": "null", "name": "fc0_bias", "attrs": {"__lr_mult__": "10.0", "__shape__": "(1, 1)"}, "inputs": []},
	{"op": "broadcast_add", "name": "broadcast_plus7", "inputs": [[2, 0, 0], [3, 0, 0]]},
	{"op": "null", "name": "out_label", "inputs": []},
	{"op": "LinearRegressionOutput", "name": "linearregressionoutput7", "inputs": [[4, 0, 0], [5, 0, 0]]}],
	"arg_nodes": [0, 1, 3, 5], "node_row_ptr": [0, 1, 2, 3, 4, 5, 6, 7], "heads": [[6, 0, 0]],
	"attrs": {"mxnet_version": ["int", 10301]}}`
	ap := `{"threshold": 0.5, "loss_type": "squared_loss", "metrics_params": {"eps_insensitive_loss_type": null, ` +
		`"class_weights": null, "huber_delta": null, "quantile": null, "loss_insensitivity": null, ` +
		`"positive_example_weight_mult": 1.0, "accuracy_top_k": 3, "threshold": 0.5, "f_beta": null, "margin": null}, ` +
		`"predictor_type": "regressor"}`
	var params bytes.Buffer
	f := &mxnet.File{
		Arrays: []*mxnet.NDArray{mxnet.NewFloat32([]float32{1.5, -2}, 2, 1), mxnet.NewFloat32([]float32{0.25}, 1, 1)},
		Names:  []string{"arg:fc0_weight", "arg:fc0_bias"},
	}
	if err := mxnet.Write(&params, f); err != nil {
		t.Fatal(err)
	}
	var zip bytes.Buffer
	if err := mxnet.WriteZip(&zip, []mxnet.ZipEntry{
		{Name: "manifest.json", Data: []byte(`{"additional-params.json": "json", "mx-mod": "mxnet_module", "version": 1}`)},
		{Name: "additional-params.json", Data: []byte(ap)},
		{Name: "mx-mod-symbol.json", Data: []byte(sym)},
		{Name: "mx-mod-0000.params", Data: params.Bytes()},
	}); err != nil {
		t.Fatal(err)
	}
	m := loadBytes(t, zip.Bytes())
	// 1.5·2 − 2·1 + 0.25
	if p := predict(t, m, []float32{2, 1}); m.PredictorType() != Regressor || p.Outputs[0].Values[0] != 1.25 {
		t.Fatalf("%s, score %v, want a regressor's 1.25", m.PredictorType(), p.Outputs[0].Values)
	}
	out, err := m.artifact()
	if err != nil {
		t.Fatal(err)
	}
	files, err := mxnet.ReadZip(out)
	if err != nil {
		t.Fatal(err)
	}
	var in, again map[string]any
	json.Unmarshal([]byte(ap), &in)
	if err := json.Unmarshal(files["additional-params.json"], &again); err != nil || !reflect.DeepEqual(in, again) {
		t.Errorf("additional-params.json written again as %s (%v)", files["additional-params.json"], err)
	}
	s, err := mxnet.ParseSymbol(files["mx-mod-symbol.json"])
	if err != nil {
		t.Fatal(err)
	}
	if i := s.Node("fc0_bias"); i < 0 || s.Nodes[i].Attrs["__lr_mult__"] != "10.0" {
		t.Errorf("the bias's __lr_mult__ was not kept: %s", files["mx-mod-symbol.json"])
	}
}

// TestArtifactLayout: what Save writes is SageMaker's layout, and it reads
// back to the same predictions.
func TestArtifactLayout(t *testing.T) {
	p := ParamsFrom(mustParse(t, map[string]any{"feature_dim": "2", "predictor_type": "binary_classifier"}))
	m := newModel(p, compute.MatrixOf(2, 1, []float32{0.25, -1.5}), []float32{0.125}, 0.375, "algo-1")
	dir := t.TempDir()
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "model_algo-1"))
	if err != nil {
		t.Fatal(err)
	}
	files, err := mxnet.ReadZip(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 4 {
		t.Errorf("archive members %d, want 4", len(files))
	}
	var manifest map[string]any
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil || manifest["mx-mod"] != "mxnet_module" || manifest["version"] != 1.0 {
		t.Errorf("manifest.json = %s (%v)", files["manifest.json"], err)
	}
	var ap map[string]any
	if err := json.Unmarshal(files["additional-params.json"], &ap); err != nil || ap["threshold"] != 0.375 ||
		ap["predictor_type"] != "binary_classifier" || ap["loss_type"] != "logistic" {
		t.Errorf("additional-params.json = %s (%v)", files["additional-params.json"], err)
	}
	// metrics_params: the ten keys of a real artifact's, null where they
	// do not apply.
	mp, _ := ap["metrics_params"].(map[string]any)
	var keys []string
	for k := range mp {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if got := strings.Join(keys, " "); got != "accuracy_top_k class_weights eps_insensitive_loss_type f_beta huber_delta loss_insensitivity margin positive_example_weight_mult quantile threshold" {
		t.Errorf("metrics_params keys %q", got)
	}
	if mp["threshold"] != 0.375 || mp["f_beta"] != 1.0 || mp["positive_example_weight_mult"] != 1.0 || mp["accuracy_top_k"] != 3.0 || mp["margin"] != nil {
		t.Errorf("metrics_params %v", mp)
	}
	sym, err := mxnet.ParseSymbol(files["mx-mod-symbol.json"])
	if err != nil {
		t.Fatal(err)
	}
	// The bias's learning-rate multiplier (auto: 10), as MXNet and a real
	// artifact record it.
	if i := sym.Node("fc0_bias"); i < 0 || sym.Nodes[i].Attrs["__lr_mult__"] != "10.0" {
		t.Errorf("fc0_bias node %v, want __lr_mult__ 10.0", sym.Nodes[max(i, 0)])
	}
	var ops []string
	for _, n := range sym.Nodes {
		ops = append(ops, n.Op+":"+n.Name)
	}
	want := "null:data null:fc0_weight dot:dot0 null:fc0_bias broadcast_add:broadcast_add0 null:out_label LogisticRegressionOutput:out"
	if got := strings.Join(ops, " "); got != want {
		t.Errorf("symbol nodes %q, want %q", got, want)
	}
	f, err := mxnet.Read(bytes.NewReader(files["mx-mod-0000.params"]))
	if err != nil {
		t.Fatal(err)
	}
	wa, ok1 := f.Get("arg:fc0_weight")
	ba, ok2 := f.Get("arg:fc0_bias")
	if !ok1 || !ok2 || !equalInts(wa.Shape, []int{2, 1}) || !equalInts(ba.Shape, []int{1, 1}) || wa.DType != mxnet.Float32 {
		t.Fatalf("params %q shapes %v %v", f.Names, wa, ba)
	}
	back := loadBytes(t, raw)
	x := []float32{1, 0.5}
	a, b := predict(t, m, x), predict(t, back, x)
	if a.Outputs[0].Values[0] != b.Outputs[0].Values[0] || back.Threshold() != 0.375 {
		t.Errorf("round trip: score %v -> %v, threshold %v", a.Outputs[0].Values, b.Outputs[0].Values, back.Threshold())
	}
	// The same model gives the same bytes (zero modification times).
	again, _ := m.artifact()
	if !bytes.Equal(again, raw) {
		t.Errorf("artifact bytes differ between two writes")
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func mustParse(t *testing.T, hp map[string]any) hyperValues {
	t.Helper()
	v, err := schema.Parse(hp)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestNormalizationFolded: a model trained on normalised data predicts on
// raw features exactly what the normalised network does.
func TestNormalizationFolded(t *testing.T) {
	tr := synth(2000, 4, 30, linearTarget)
	hp := map[string]any{"feature_dim": "4", "predictor_type": "regressor", "num_models": "1", "epochs": "10", "mini_batch_size": "50", "learning_rate": "0.05"}
	model, _ := train(t, hp, map[string]algorithms.Channel{"train": tr})
	// Features have means 3j and sds j+1, the label mean 5: the raw-feature
	// model must still give y ≈ 5 + 2 z0 − 3 z1 + 0.5 z2 (noise sd 0.5).
	for i := range 20 {
		x := tr.x[i]
		got := float64(predict(t, model, x).Outputs[0].Values[0])
		want := 5 + 2*standardized(x, 0) - 3*standardized(x, 1) + 0.5*standardized(x, 2)
		if math.Abs(got-want) > 0.25 {
			t.Errorf("row %d: prediction on raw features %v, want about %v", i, got, want)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"not a zip", []byte("hello"), "not a ZIP"},
		{"binary with 2 outputs", sageMakerArtifact(t, `{"predictor_type": "binary_classifier"}`, []float32{1, 2}, 1, 2, []float32{0, 0}, "LogisticRegressionOutput"), "needs one output"},
		{"unknown type", sageMakerArtifact(t, `{"predictor_type": "ranker"}`, []float32{1}, 1, 1, []float32{0}, "LinearRegressionOutput"), "unknown predictor_type"},
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "model_algo-1"), tc.b, 0o644)
		if _, err := (Algorithm{}).Load(dir); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestArtifactTrainedWeights: additional-params.json records the weights a
// model trained with where the data made them: balanced positive weight,
// balanced class weights.
func TestArtifactTrainedWeights(t *testing.T) {
	tr := synth(1000, 3, 40, binaryTarget)
	var pos float64
	for _, y := range tr.y {
		pos += float64(y)
	}
	m, _ := train(t, map[string]any{"feature_dim": "3", "predictor_type": "binary_classifier", "epochs": "2",
		"positive_example_weight_mult": "balanced"}, map[string]algorithms.Channel{"train": tr})
	if got, want := m.metricsParams["positive_example_weight_mult"].(float64), (1000-pos)/pos; math.Abs(got-want) > 1e-12 {
		t.Errorf("positive_example_weight_mult %v, want balanced (%v)", got, want)
	}

	mc := synth(1000, 3, 41, func(x []float32, _ *rand.Rand) float32 { return float32(min(2, int(max(0, standardized(x, 0)+1)))) })
	counts := make([]float64, 3)
	for _, y := range mc.y {
		counts[int(y)]++
	}
	m, _ = train(t, map[string]any{"feature_dim": "3", "predictor_type": "multiclass_classifier", "num_classes": "3", "epochs": "2",
		"balance_multiclass_weights": "true"}, map[string]algorithms.Channel{"train": mc})
	cw, _ := m.metricsParams["class_weights"].([]float64)
	if len(cw) != 3 {
		t.Fatalf("class_weights %v", m.metricsParams["class_weights"])
	}
	for c := range cw {
		if want := 1000 / (3 * counts[c]); math.Abs(cw[c]-want) > 1e-12 {
			t.Errorf("class_weights %v, want n/(K·n_c) from counts %v", cw, counts)
		}
	}
}

// TestMetricsParamsPerLoss: each loss fills its own parameter in
// metrics_params and leaves the others null.
func TestMetricsParamsPerLoss(t *testing.T) {
	for _, tc := range []struct {
		hp   map[string]any
		want map[string]any // the keys that are not null, beside accuracy_top_k, threshold and positive_example_weight_mult
	}{
		{map[string]any{"predictor_type": "regressor"}, map[string]any{}},
		{map[string]any{"predictor_type": "binary_classifier", "f_beta": "0.5"}, map[string]any{"f_beta": 0.5}},
		{map[string]any{"predictor_type": "binary_classifier", "loss": "hinge_loss", "margin": "2"}, map[string]any{"f_beta": 1.0, "margin": 2.0}},
		{map[string]any{"predictor_type": "regressor", "loss": "quantile_loss", "quantile": "0.9"}, map[string]any{"quantile": 0.9}},
		{map[string]any{"predictor_type": "regressor", "loss": "huber_loss", "huber_delta": "3"}, map[string]any{"huber_delta": 3.0}},
		{map[string]any{"predictor_type": "regressor", "loss": "eps_insensitive_squared_loss", "loss_insensitivity": "0.2"},
			map[string]any{"loss_insensitivity": 0.2, "eps_insensitive_loss_type": "squared"}},
		{map[string]any{"predictor_type": "regressor", "loss": "eps_insensitive_absolute_loss"},
			map[string]any{"loss_insensitivity": 0.01, "eps_insensitive_loss_type": "absolute"}},
		{map[string]any{"predictor_type": "multiclass_classifier", "num_classes": "3"}, map[string]any{"f_beta": 1.0}},
	} {
		hp := map[string]any{"feature_dim": "2"}
		for k, v := range tc.hp {
			hp[k] = v
		}
		k := 1
		if tc.hp["predictor_type"] == "multiclass_classifier" {
			k = 3
		}
		m := newModel(ParamsFrom(mustParse(t, hp)), compute.NewMatrix(2, k), make([]float32, k), 0.25, "algo-1")
		raw, err := m.artifact()
		if err != nil {
			t.Fatal(err)
		}
		files, _ := mxnet.ReadZip(raw)
		var ap struct {
			Threshold     float64        `json:"threshold"`
			MetricsParams map[string]any `json:"metrics_params"`
		}
		if err := json.Unmarshal(files["additional-params.json"], &ap); err != nil {
			t.Fatal(err)
		}
		wantThr := 0.5
		if tc.hp["predictor_type"] == "binary_classifier" {
			wantThr = 0.25
		}
		if ap.Threshold != wantThr || ap.MetricsParams["threshold"] != wantThr {
			t.Errorf("%v: threshold %v, metrics_params threshold %v, want %v", tc.hp, ap.Threshold, ap.MetricsParams["threshold"], wantThr)
		}
		for key, v := range ap.MetricsParams {
			switch key {
			case "accuracy_top_k", "threshold", "positive_example_weight_mult":
				continue
			}
			if want, ok := tc.want[key]; ok && v != want || !ok && v != nil {
				t.Errorf("%v: metrics_params %s = %v, want %v", tc.hp, key, v, tc.want[key])
			}
		}
	}
}
