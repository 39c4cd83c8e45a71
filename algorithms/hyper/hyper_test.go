package hyper

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
)

// kmeansSchema mirrors spec/algorithms/kmeans.md section 3, plus a Bool and
// a few extra kinds for coverage.
func kmeansSchema() *Schema {
	return &Schema{Params: []Param{
		{Name: "k", Kind: Int, Required: true, Min: Bound(1), Doc: "a positive integer"},
		{Name: "feature_dim", Kind: Int, Required: true, Min: Bound(1), Doc: "a positive integer"},
		{Name: "mini_batch_size", Kind: Int, Default: "5000", Min: Bound(1), Doc: "a positive integer"},
		{Name: "epochs", Kind: Int, Default: "1", Min: Bound(1), Doc: "a positive integer"},
		{Name: "extra_center_factor", Kind: Int, Default: "auto", Auto: true, Min: Bound(1),
			Doc: `a positive integer or "auto"`},
		{Name: "half_life_time_size", Kind: Int, Default: "0", Min: Bound(0), Doc: "a non-negative integer"},
		{Name: "init_method", Kind: String, Default: "random", Enum: []string{"random", "kmeans++"}},
		{Name: "local_lloyd_tol", Kind: Float, Default: "0.0001", Min: Bound(0), Max: Bound(1),
			Doc: "a number in [0, 1]"},
		{Name: "eval_metrics", Kind: List, Default: `["msd"]`, Enum: []string{"msd", "ssd"}},
		{Name: "verbose", Kind: Bool, Default: "false"},
		{Name: "learning_rate", Kind: Float, Min: Bound(0), MinOpen: true, Max: Bound(1), MaxOpen: true},
		{Name: "beta", Kind: Float, Max: Bound(10), MaxOpen: true},
		{Name: "gamma", Kind: Float, Min: Bound(0), MinOpen: true, Max: Bound(1)},
		{Name: "tag", Kind: String},
		{Name: "labels", Kind: List},
	}}
}

func TestParseJSONKMeans(t *testing.T) {
	v, err := kmeansSchema().ParseJSON([]byte(`{"k":"10","feature_dim":"784","mini_batch_size":"500"}`))
	if err != nil {
		t.Fatalf("ParseJSON: %v", err)
	}
	if got := v.Int("k"); got != 10 {
		t.Errorf("k = %d, want 10", got)
	}
	if got := v.Int("feature_dim"); got != 784 {
		t.Errorf("feature_dim = %d, want 784", got)
	}
	if got := v.Int("mini_batch_size"); got != 500 {
		t.Errorf("mini_batch_size = %d, want 500", got)
	}
	if got := v.Int("epochs"); got != 1 {
		t.Errorf("epochs = %d, want 1", got)
	}
	if !v.IsAuto("extra_center_factor") || v.Int("extra_center_factor") != 0 {
		t.Errorf("extra_center_factor: IsAuto = %v, Int = %d; want true, 0",
			v.IsAuto("extra_center_factor"), v.Int("extra_center_factor"))
	}
	if got := v.String("init_method"); got != "random" {
		t.Errorf("init_method = %q, want random", got)
	}
	if got := v.Float("local_lloyd_tol"); got != 0.0001 {
		t.Errorf("local_lloyd_tol = %v, want 0.0001", got)
	}
	if got := v.List("eval_metrics"); !slices.Equal(got, []string{"msd"}) {
		t.Errorf("eval_metrics = %q, want [msd]", got)
	}
	if v.Bool("verbose") || !v.Has("verbose") {
		t.Errorf("verbose: Bool = %v, Has = %v; want false, true", v.Bool("verbose"), v.Has("verbose"))
	}
	if v.Has("learning_rate") || v.Float("learning_rate") != 0 || v.Raw("learning_rate") != "" {
		t.Errorf("learning_rate should be absent")
	}
	if v.Has("tag") || v.String("tag") != "" || v.List("labels") != nil {
		t.Errorf("tag/labels should be absent")
	}
	want := map[string]string{
		"k": "10", "feature_dim": "784", "mini_batch_size": "500", "epochs": "1",
		"extra_center_factor": "auto", "half_life_time_size": "0", "init_method": "random",
		"local_lloyd_tol": "0.0001", "eval_metrics": `["msd"]`, "verbose": "false",
	}
	if got := v.Map(); !maps.Equal(got, want) {
		t.Errorf("Map() = %v, want %v", got, want)
	}

	w := v.With("extra_center_factor", "4")
	if w.IsAuto("extra_center_factor") || w.Int("extra_center_factor") != 4 {
		t.Errorf("With: extra_center_factor = %d (auto %v), want 4", w.Int("extra_center_factor"), w.IsAuto("extra_center_factor"))
	}
	if !v.IsAuto("extra_center_factor") {
		t.Errorf("With modified the original Values")
	}
}

func TestParseValues(t *testing.T) {
	base := func(kv ...any) map[string]any {
		m := map[string]any{"k": "10", "feature_dim": "784"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name  string
		raw   map[string]any
		check func(t *testing.T, v Values)
	}{
		{"int with spaces", base("k", " 10 "), func(t *testing.T, v Values) {
			if v.Int("k") != 10 || v.Raw("k") != " 10 " {
				t.Errorf("got %d %q, want 10 \" 10 \"", v.Int("k"), v.Raw("k"))
			}
		}},
		{"int as JSON number", base("k", json.Number("7")), func(t *testing.T, v Values) {
			if v.Int("k") != 7 {
				t.Errorf("got %d, want 7", v.Int("k"))
			}
		}},
		{"int as float64", base("k", float64(3)), func(t *testing.T, v Values) {
			if v.Int("k") != 3 || v.Raw("k") != "3" {
				t.Errorf("got %d %q, want 3 \"3\"", v.Int("k"), v.Raw("k"))
			}
		}},
		{"int as integral JSON number 1e3", base("k", json.Number("1e3")), func(t *testing.T, v Values) {
			if v.Int("k") != 1000 || v.Raw("k") != "1000" {
				t.Errorf("got %d %q, want 1000 \"1000\"", v.Int("k"), v.Raw("k"))
			}
		}},
		{"auto any case", base("extra_center_factor", "AUTO"), func(t *testing.T, v Values) {
			if !v.IsAuto("extra_center_factor") || v.Raw("extra_center_factor") != "AUTO" {
				t.Errorf("not auto")
			}
		}},
		{"auto replaced by number", base("extra_center_factor", "3"), func(t *testing.T, v Values) {
			if v.IsAuto("extra_center_factor") || v.Int("extra_center_factor") != 3 {
				t.Errorf("got %d, want 3", v.Int("extra_center_factor"))
			}
		}},
		{"float closed bounds inclusive", base("local_lloyd_tol", "1"), func(t *testing.T, v Values) {
			if v.Float("local_lloyd_tol") != 1 {
				t.Errorf("got %v, want 1", v.Float("local_lloyd_tol"))
			}
		}},
		{"float as JSON number", base("local_lloyd_tol", 0.5), func(t *testing.T, v Values) {
			if v.Float("local_lloyd_tol") != 0.5 || v.Raw("local_lloyd_tol") != "0.5" {
				t.Errorf("got %v %q", v.Float("local_lloyd_tol"), v.Raw("local_lloyd_tol"))
			}
		}},
		{"float exponent", base("local_lloyd_tol", "1e-5"), func(t *testing.T, v Values) {
			if v.Float("local_lloyd_tol") != 1e-5 {
				t.Errorf("got %v", v.Float("local_lloyd_tol"))
			}
		}},
		{"enum", base("init_method", "kmeans++"), func(t *testing.T, v Values) {
			if v.String("init_method") != "kmeans++" {
				t.Errorf("got %q", v.String("init_method"))
			}
		}},
		{"free string", base("tag", "anything goes"), func(t *testing.T, v Values) {
			if v.String("tag") != "anything goes" {
				t.Errorf("got %q", v.String("tag"))
			}
		}},
		{"bool True", base("verbose", "True"), func(t *testing.T, v Values) {
			if !v.Bool("verbose") {
				t.Errorf("got false")
			}
		}},
		{"bool False", base("verbose", "False"), func(t *testing.T, v Values) {
			if v.Bool("verbose") {
				t.Errorf("got true")
			}
		}},
		{"bool JSON true", base("verbose", true), func(t *testing.T, v Values) {
			if !v.Bool("verbose") || v.Raw("verbose") != "true" {
				t.Errorf("got %v %q", v.Bool("verbose"), v.Raw("verbose"))
			}
		}},
		{"list JSON", base("eval_metrics", `["msd", "ssd"]`), func(t *testing.T, v Values) {
			if got := v.List("eval_metrics"); !slices.Equal(got, []string{"msd", "ssd"}) {
				t.Errorf("got %q", got)
			}
		}},
		{"list bare word", base("eval_metrics", "ssd"), func(t *testing.T, v Values) {
			if got := v.List("eval_metrics"); !slices.Equal(got, []string{"ssd"}) {
				t.Errorf("got %q", got)
			}
		}},
		{"list Python str(list)", base("eval_metrics", "['ssd', 'msd']"), func(t *testing.T, v Values) {
			if got := v.List("eval_metrics"); !slices.Equal(got, []string{"ssd", "msd"}) {
				t.Errorf("got %q", got)
			}
		}},
		{"list Python 2 unicode", base("eval_metrics", "[u'msd']"), func(t *testing.T, v Values) {
			if got := v.List("eval_metrics"); !slices.Equal(got, []string{"msd"}) {
				t.Errorf("got %q", got)
			}
		}},
		{"list unquoted", base("eval_metrics", "[msd, ssd]"), func(t *testing.T, v Values) {
			if got := v.List("eval_metrics"); !slices.Equal(got, []string{"msd", "ssd"}) {
				t.Errorf("got %q", got)
			}
		}},
		{"list duplicates dropped", base("eval_metrics", `["ssd","msd","ssd"]`), func(t *testing.T, v Values) {
			if got := v.List("eval_metrics"); !slices.Equal(got, []string{"ssd", "msd"}) {
				t.Errorf("got %q", got)
			}
		}},
		{"list as JSON array", base("eval_metrics", []any{"ssd"}), func(t *testing.T, v Values) {
			if got := v.List("eval_metrics"); !slices.Equal(got, []string{"ssd"}) || v.Raw("eval_metrics") != `["ssd"]` {
				t.Errorf("got %q %q", got, v.Raw("eval_metrics"))
			}
		}},
		{"ignored names", base("_tuning_objective_metric", "test:msd", "_kvstore", "dist_sync",
			"_num_gpus", "auto", "force_dense", "True"), func(t *testing.T, v Values) {
			if _, ok := v.Map()["force_dense"]; ok {
				t.Errorf("force_dense in Map")
			}
			if got, ok := v.Injected("_tuning_objective_metric"); !ok || got != "test:msd" {
				t.Errorf("Injected(_tuning_objective_metric) = %q, %v; want test:msd, true", got, ok)
			}
			if got, ok := v.Injected("force_dense"); !ok || got != "True" {
				t.Errorf("Injected(force_dense) = %q, %v; want True, true", got, ok)
			}
			if got, ok := v.Injected("_missing"); ok {
				t.Errorf("Injected(_missing) = %q, true; want false", got)
			}
		}},
		{"injected JSON number", base("_num_gpus", 1), func(t *testing.T, v Values) {
			if got, _ := v.Injected("_num_gpus"); got != "1" {
				t.Errorf("Injected(_num_gpus) = %q, want 1", got)
			}
		}},
		{"value of exactly 256 characters", base("tag", strings.Repeat("x", 256)), func(t *testing.T, v Values) {
			if len(v.String("tag")) != 256 {
				t.Errorf("got %d characters", len(v.String("tag")))
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := kmeansSchema().Parse(tc.raw)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			tc.check(t, v)
		})
	}
}

func TestParseErrors(t *testing.T) {
	long := strings.Repeat("1", 300)
	tests := []struct {
		name      string
		json      string
		wantName  string
		wantValue string
		wantMsg   string
	}{
		{"unknown name close", `{"k":"1","feature_dim":"2","mini_batch_siz":"5"}`, "mini_batch_siz", "",
			`hyperparameter "mini_batch_siz" is not recognized; did you mean "mini_batch_size"?`},
		{"unknown name wrong case", `{"K":"1","feature_dim":"2"}`, "K", "",
			`hyperparameter "K" is not recognized; did you mean "k"?`},
		{"unknown name far", `{"k":"1","feature_dim":"2","foo":"5"}`, "foo", "",
			`hyperparameter "foo" is not recognized; valid names are beta, epochs, eval_metrics, extra_center_factor, ` +
				`feature_dim, gamma, half_life_time_size, init_method, k, labels, learning_rate, local_lloyd_tol, ` +
				`mini_batch_size, tag, verbose`},
		{"unknown checked before required", `{"zzz_sagemaker_estimator_class_name":"x","aaa":"1"}`, "aaa", "",
			`hyperparameter "aaa" is not recognized; valid names are beta, epochs, eval_metrics, extra_center_factor, ` +
				`feature_dim, gamma, half_life_time_size, init_method, k, labels, learning_rate, local_lloyd_tol, ` +
				`mini_batch_size, tag, verbose`},
		{"sdk names not ignored", `{"k":"1","feature_dim":"2","sagemaker_estimator_module":"x"}`, "sagemaker_estimator_module", "",
			`hyperparameter "sagemaker_estimator_module" is not recognized; valid names are beta, epochs, eval_metrics, ` +
				`extra_center_factor, feature_dim, gamma, half_life_time_size, init_method, k, labels, learning_rate, ` +
				`local_lloyd_tol, mini_batch_size, tag, verbose`},
		{"missing required", `{"feature_dim":"2"}`, "k", "",
			`hyperparameter "k" is required: expected a positive integer`},
		{"missing required before bad value", `{"k":"abc"}`, "feature_dim", "",
			`hyperparameter "feature_dim" is required: expected a positive integer`},
		{"empty file, required missing", ``, "k", "",
			`hyperparameter "k" is required: expected a positive integer`},
		{"int not a number", `{"k":"1","feature_dim":"abc"}`, "feature_dim", "abc",
			`hyperparameter "feature_dim" = "abc" is invalid: expected a positive integer`},
		{"int fraction", `{"k":"10.5","feature_dim":"2"}`, "k", "10.5",
			`hyperparameter "k" = "10.5" is invalid: expected a positive integer`},
		{"int exponent string", `{"k":"1e3","feature_dim":"2"}`, "k", "1e3",
			`hyperparameter "k" = "1e3" is invalid: expected a positive integer`},
		{"int empty", `{"k":"","feature_dim":"2"}`, "k", "",
			`hyperparameter "k" = "" is invalid: expected a positive integer`},
		{"int JSON fraction", `{"k":10.5,"feature_dim":"2"}`, "k", "10.5",
			`hyperparameter "k" = "10.5" is invalid: expected a positive integer`},
		{"int JSON bool", `{"k":true,"feature_dim":"2"}`, "k", "true",
			`hyperparameter "k" = "true" is invalid: expected a positive integer`},
		{"int null", `{"k":null,"feature_dim":"2"}`, "k", "null",
			`hyperparameter "k" = "null" is invalid: expected a positive integer`},
		{"int object", `{"k":{"a":1},"feature_dim":"2"}`, "k", `{"a":1}`,
			`hyperparameter "k" = "{\"a\":1}" is invalid: expected a positive integer`},
		{"int overflow", `{"k":"99999999999999999999","feature_dim":"2"}`, "k", "99999999999999999999",
			`hyperparameter "k" = "99999999999999999999" is invalid: expected a positive integer`},
		{"int below min", `{"k":"0","feature_dim":"2"}`, "k", "0",
			`hyperparameter "k" = "0" is out of range: expected a positive integer (>= 1)`},
		{"int JSON below min", `{"k":-3,"feature_dim":"2"}`, "k", "-3",
			`hyperparameter "k" = "-3" is out of range: expected a positive integer (>= 1)`},
		{"auto not allowed", `{"k":"auto","feature_dim":"2"}`, "k", "auto",
			`hyperparameter "k" = "auto" is invalid: expected a positive integer`},
		{"auto param bad value", `{"k":"1","feature_dim":"2","extra_center_factor":"automatic"}`, "extra_center_factor", "automatic",
			`hyperparameter "extra_center_factor" = "automatic" is invalid: expected a positive integer or "auto"`},
		{"auto param out of range", `{"k":"1","feature_dim":"2","extra_center_factor":"0"}`, "extra_center_factor", "0",
			`hyperparameter "extra_center_factor" = "0" is out of range: expected a positive integer or "auto" (>= 1)`},
		{"float not a number", `{"k":"1","feature_dim":"2","local_lloyd_tol":"small"}`, "local_lloyd_tol", "small",
			`hyperparameter "local_lloyd_tol" = "small" is invalid: expected a number in [0, 1]`},
		{"float NaN", `{"k":"1","feature_dim":"2","local_lloyd_tol":"NaN"}`, "local_lloyd_tol", "NaN",
			`hyperparameter "local_lloyd_tol" = "NaN" is invalid: expected a number in [0, 1]`},
		{"float Inf", `{"k":"1","feature_dim":"2","beta":"-Inf"}`, "beta", "-Inf",
			`hyperparameter "beta" = "-Inf" is invalid: expected a number < 10`},
		{"float overflow", `{"k":"1","feature_dim":"2","beta":"1e999"}`, "beta", "1e999",
			`hyperparameter "beta" = "1e999" is invalid: expected a number < 10`},
		{"float above closed max", `{"k":"1","feature_dim":"2","local_lloyd_tol":"1.5"}`, "local_lloyd_tol", "1.5",
			`hyperparameter "local_lloyd_tol" = "1.5" is out of range: expected a number in [0, 1] (in [0, 1])`},
		{"float at open min", `{"k":"1","feature_dim":"2","learning_rate":"0"}`, "learning_rate", "0",
			`hyperparameter "learning_rate" = "0" is out of range: expected a number in (0, 1)`},
		{"float at open max", `{"k":"1","feature_dim":"2","learning_rate":1}`, "learning_rate", "1",
			`hyperparameter "learning_rate" = "1" is out of range: expected a number in (0, 1)`},
		{"float half-open", `{"k":"1","feature_dim":"2","gamma":"0"}`, "gamma", "0",
			`hyperparameter "gamma" = "0" is out of range: expected a number in (0, 1]`},
		{"float open max only", `{"k":"1","feature_dim":"2","beta":"10"}`, "beta", "10",
			`hyperparameter "beta" = "10" is out of range: expected a number < 10`},
		{"enum close", `{"k":"1","feature_dim":"2","init_method":"kmeans+"}`, "init_method", "kmeans+",
			`hyperparameter "init_method" = "kmeans+" is invalid: expected one of "random", "kmeans++"; did you mean "kmeans++"?`},
		{"enum is case-sensitive", `{"k":"1","feature_dim":"2","init_method":"Random"}`, "init_method", "Random",
			`hyperparameter "init_method" = "Random" is invalid: expected one of "random", "kmeans++"; did you mean "random"?`},
		{"enum far", `{"k":"1","feature_dim":"2","init_method":"pca"}`, "init_method", "pca",
			`hyperparameter "init_method" = "pca" is invalid: expected one of "random", "kmeans++"`},
		{"bool invalid", `{"k":"1","feature_dim":"2","verbose":"yes"}`, "verbose", "yes",
			`hyperparameter "verbose" = "yes" is invalid: expected true or false`},
		{"bool number", `{"k":"1","feature_dim":"2","verbose":1}`, "verbose", "1",
			`hyperparameter "verbose" = "1" is invalid: expected true or false`},
		{"list element not in enum", `{"k":"1","feature_dim":"2","eval_metrics":"[\"mse\"]"}`, "eval_metrics", `["mse"]`,
			`hyperparameter "eval_metrics" = "[\"mse\"]" is invalid: element "mse" is not one of "msd", "ssd"; did you mean "msd"?`},
		{"list bare word not in enum", `{"k":"1","feature_dim":"2","eval_metrics":"rmse"}`, "eval_metrics", "rmse",
			`hyperparameter "eval_metrics" = "rmse" is invalid: element "rmse" is not one of "msd", "ssd"; did you mean "msd"?`},
		{"list empty", `{"k":"1","feature_dim":"2","eval_metrics":"[]"}`, "eval_metrics", "[]",
			`hyperparameter "eval_metrics" = "[]" is invalid: the list is empty; expected a JSON list of one or more of "msd", "ssd"`},
		{"list malformed", `{"k":"1","feature_dim":"2","eval_metrics":"[\"msd\""}`, "eval_metrics", `["msd"`,
			`hyperparameter "eval_metrics" = "[\"msd\"" is invalid: expected a JSON list of one or more of "msd", "ssd"`},
		{"list comma separated", `{"k":"1","feature_dim":"2","eval_metrics":"msd,ssd"}`, "eval_metrics", "msd,ssd",
			`hyperparameter "eval_metrics" = "msd,ssd" is invalid: expected a JSON list of one or more of "msd", "ssd"`},
		{"list of numbers", `{"k":"1","feature_dim":"2","eval_metrics":[1]}`, "eval_metrics", "[1]",
			`hyperparameter "eval_metrics" = "[1]" is invalid: expected a JSON list of one or more of "msd", "ssd"`},
		{"free list empty element", `{"k":"1","feature_dim":"2","labels":"['a', '']"}`, "labels", "['a', '']",
			`hyperparameter "labels" = "['a', '']" is invalid: expected a JSON list of strings`},
		{"free string given a list", `{"k":"1","feature_dim":"2","tag":["a"]}`, "tag", `["a"]`,
			`hyperparameter "tag" = "[\"a\"]" is invalid: expected a string`},
		{"value too long", `{"k":"` + long + `","feature_dim":"2"}`, "k", long,
			`hyperparameter "k" = "` + strings.Repeat("1", 64) + `..." is invalid: the value is 300 characters long; at most 256 are allowed`},
		{"first bad value in schema order", `{"k":"1","feature_dim":"2","verbose":"x","init_method":"x","mini_batch_size":"x"}`,
			"mini_batch_size", "x", `hyperparameter "mini_batch_size" = "x" is invalid: expected a positive integer`},
		{"malformed JSON", `{"k":`, "", "",
			`hyperparameters.json is not valid JSON: unexpected EOF`},
		{"trailing data", `{"k":"1"} {}`, "", "",
			`hyperparameters.json is not valid JSON: unexpected data after the top-level object`},
		{"not an object", `["k"]`, "", "",
			`hyperparameters.json is not a JSON object of hyperparameter names to values`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for range 3 { // the same input gives the same first error
				_, err := kmeansSchema().ParseJSON([]byte(tc.json))
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("ParseJSON error = %v (%T), want *Error", err, err)
				}
				if e.Msg != tc.wantMsg || e.Error() != tc.wantMsg {
					t.Errorf("Msg:\n got  %s\n want %s", e.Msg, tc.wantMsg)
				}
				if e.Name != tc.wantName || e.Value != tc.wantValue {
					t.Errorf("Name, Value = %q, %q; want %q, %q", e.Name, e.Value, tc.wantName, tc.wantValue)
				}
				if !e.ClientError() {
					t.Errorf("ClientError() = false")
				}
			}
		})
	}
}

func TestParseJSONEmpty(t *testing.T) {
	s := &Schema{Params: []Param{{Name: "epochs", Kind: Int, Default: "3", Min: Bound(1)}}}
	for _, in := range []string{"", "  \n", "{}", "null"} {
		v, err := s.ParseJSON([]byte(in))
		if err != nil {
			t.Errorf("ParseJSON(%q): %v", in, err)
			continue
		}
		if v.Int("epochs") != 3 {
			t.Errorf("ParseJSON(%q): epochs = %d, want 3", in, v.Int("epochs"))
		}
	}
}

func TestDerivedDoc(t *testing.T) {
	tests := []struct {
		name string
		p    Param
		val  string
		want string
	}{
		{"int min", Param{Name: "n", Kind: Int, Min: Bound(1)}, "0",
			`hyperparameter "n" = "0" is out of range: expected an integer >= 1`},
		{"int max open", Param{Name: "n", Kind: Int, Max: Bound(5), MaxOpen: true}, "5",
			`hyperparameter "n" = "5" is out of range: expected an integer < 5`},
		{"int max closed", Param{Name: "n", Kind: Int, Max: Bound(5)}, "x",
			`hyperparameter "n" = "x" is invalid: expected an integer <= 5`},
		{"float min open auto", Param{Name: "n", Kind: Float, Min: Bound(0), MinOpen: true, Auto: true}, "-1",
			`hyperparameter "n" = "-1" is out of range: expected a number > 0 or "auto"`},
		{"free list", Param{Name: "n", Kind: List}, "[]",
			`hyperparameter "n" = "[]" is invalid: the list is empty; expected a JSON list of strings`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &Schema{Params: []Param{tc.p}}
			_, err := s.Parse(map[string]any{tc.p.Name: tc.val})
			if err == nil || err.Error() != tc.want {
				t.Errorf("got  %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	s := &Schema{
		Params: []Param{
			{Name: "predictor_type", Kind: String, Required: true, Enum: []string{"binary_classifier", "multiclass_classifier"}},
			{Name: "num_classes", Kind: Int, Min: Bound(3)},
		},
		Check: func(v Values) error {
			if v.String("predictor_type") == "multiclass_classifier" && !v.Has("num_classes") {
				return Errorf("num_classes", "", "hyperparameter %q is required when predictor_type is %q",
					"num_classes", "multiclass_classifier")
			}
			return nil
		},
	}
	if _, err := s.Parse(map[string]any{"predictor_type": "binary_classifier"}); err != nil {
		t.Errorf("binary: %v", err)
	}
	_, err := s.Parse(map[string]any{"predictor_type": "multiclass_classifier"})
	var e *Error
	if !errors.As(err, &e) || e.Name != "num_classes" ||
		e.Msg != `hyperparameter "num_classes" is required when predictor_type is "multiclass_classifier"` {
		t.Errorf("multiclass: got %#v", err)
	}
	// Check does not run before single values are valid.
	_, err = s.Parse(map[string]any{"predictor_type": "multiclass_classifier", "num_classes": "2"})
	if err == nil || err.Error() != `hyperparameter "num_classes" = "2" is out of range: expected an integer >= 3` {
		t.Errorf("range before Check: got %v", err)
	}

	// A typed nil *Error is no error; a plain error becomes an *Error.
	s.Check = func(Values) error { var e *Error; return e }
	if _, err := s.Parse(map[string]any{"predictor_type": "binary_classifier"}); err != nil {
		t.Errorf("typed nil: %v", err)
	}
	s.Check = func(Values) error { return errors.New("boom") }
	if _, err := s.Parse(map[string]any{"predictor_type": "binary_classifier"}); !errors.As(err, &e) || e.Msg != "boom" {
		t.Errorf("plain error: got %#v", err)
	}
}

func TestPanics(t *testing.T) {
	v, err := kmeansSchema().Parse(map[string]any{"k": "1", "feature_dim": "1"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		f    func()
	}{
		{"unknown name", func() { v.Int("nope") }},
		{"Has unknown name", func() { v.Has("nope") }},
		{"wrong kind", func() { v.Float("k") }},
		{"String on List", func() { v.String("eval_metrics") }},
		{"With invalid", func() { v.With("k", "0") }},
		{"zero Values", func() { Values{}.Int("k") }},
		{"bad default", func() {
			(&Schema{Params: []Param{{Name: "a", Kind: Int, Default: "x"}}}).Parse(nil)
		}},
		{"auto default without Auto", func() {
			(&Schema{Params: []Param{{Name: "a", Kind: Int, Default: "auto"}}}).Parse(nil)
		}},
		{"duplicate name", func() {
			(&Schema{Params: []Param{{Name: "a", Kind: Int}, {Name: "a", Kind: Float}}}).Parse(nil)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("did not panic")
				}
			}()
			tc.f()
		})
	}
}

func TestListCopy(t *testing.T) {
	v, err := kmeansSchema().Parse(map[string]any{"k": "1", "feature_dim": "1", "eval_metrics": `["msd","ssd"]`})
	if err != nil {
		t.Fatal(err)
	}
	l := v.List("eval_metrics")
	l[0] = "changed"
	if got := v.List("eval_metrics"); got[0] != "msd" {
		t.Errorf("List returned shared storage: %q", got)
	}
}

func FuzzHyperparameters(f *testing.F) {
	for _, seed := range []string{
		`{"k":"10","feature_dim":"784","mini_batch_size":"500"}`,
		`{"k":"10","feature_dim":"784","eval_metrics":"[\"msd\", \"ssd\"]","extra_center_factor":"auto"}`,
		`{"k":10,"feature_dim":784,"local_lloyd_tol":0.5,"verbose":true,"_kvstore":"dist_sync"}`,
		`{"k":"3","feature_dim":"2","eval_metrics":"['ssd']","init_method":"kmeans++","force_dense":"True"}`,
		`{"k":"0","feature_dim":"abc"}`,
		`{"mini_batch_siz":"5"}`,
		`{"k":"1e3","feature_dim":"1","labels":"[a, u'b']"}`,
		``,
		`{}`,
		`[1,2]`,
		`{"k":`,
	} {
		f.Add([]byte(seed))
	}
	// With nothing required, more inputs reach the value parsers.
	optional := kmeansSchema()
	for i := range optional.Params {
		optional.Params[i].Required = false
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1<<16 {
			return
		}
		fuzzSchema(t, kmeansSchema(), b)
		fuzzSchema(t, optional, b)
	})
}

func fuzzSchema(t *testing.T, s *Schema, b []byte) {
	t.Helper()
	v, err := s.ParseJSON(b)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("error %v is %T, not *Error", err, err)
		}
		if e.Msg == "" {
			t.Fatalf("empty message")
		}
		return
	}
	// Every getter works and the textual values parse back to the same values.
	back := make(map[string]any)
	for _, p := range s.Params {
		switch p.Kind {
		case Int:
			v.Int(p.Name)
		case Float:
			v.Float(p.Name)
		case String:
			v.String(p.Name)
		case Bool:
			v.Bool(p.Name)
		case List:
			v.List(p.Name)
		}
		if v.Has(p.Name) {
			back[p.Name] = v.Raw(p.Name)
			v.With(p.Name, v.Raw(p.Name))
		}
	}
	w, err := s.Parse(back)
	if err != nil {
		t.Fatalf("reparsing %v: %v", back, err)
	}
	if !maps.Equal(v.Map(), w.Map()) {
		t.Fatalf("round trip: %v != %v", v.Map(), w.Map())
	}
}
